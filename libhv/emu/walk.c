/*
 * Guest page-table walker (see walk.h). Section references are to the
 * Intel SDM Vol. 3A, chapter 4 ("Paging").
 */
#include "emu/walk.h"

#include "core/util.h"

/* Paging-structure entry bits common to all modes (4.3, 4.4.2, 4.5.4). */
#define PTE_P    HV_BIT(0)
#define PTE_RW   HV_BIT(1)
#define PTE_US   HV_BIT(2)
#define PTE_A    HV_BIT(5)
#define PTE_D    HV_BIT(6)
#define PTE_PS   HV_BIT(7)
#define PTE_XD   HV_BIT(63)
#define PK_SHIFT 59 /* protection key: bits 62:59 of a leaf (4.6.2) */

/* Bits m..n inclusive (m >= n). */
#define BITS(m, n) ((~0ull >> (63 - (m))) & ~(HV_BIT(n) - 1))

/* Tries before giving up when accessed/dirty updates keep racing. */
#define WALK_RETRIES 4

enum walk_mode { MODE_32, MODE_PAE, MODE_4LVL, MODE_5LVL };

/* One paging-structure entry used by the walk. */
struct walk_entry {
    uint64_t gpa;
    uint64_t val;
    uint8_t size; /* 4 or 8 bytes */
    bool has_a;   /* has an accessed flag (not a PAE PDPTE) */
};

struct walk {
    const struct hv_emu_env *env;
    const struct hv_emu_regs *regs;
    enum walk_mode mode;
    struct walk_entry e[HV_WALK_MAX_ENTRIES];
    unsigned n;
    bool user_page; /* U/S = 1 at every level */
    bool writable;  /* R/W = 1 at every level */
    bool xd;        /* XD = 1 at some level (NXE only) */
    uint64_t leaf;
    uint64_t gpa;
    uint64_t page_size;
    uint64_t not_ram_gpa; /* entry address whose read hit non-RAM */
};

/* Outcomes of reading one entry. */
enum { ENT_OK, ENT_NOT_PRESENT, ENT_RSVD, ENT_NOT_RAM, ENT_ERROR };

static int read_entry(struct walk *w, uint64_t gpa, unsigned size, bool has_a, hv_status_t *st,
                      uint64_t *val)
{
    const struct hv_emu_ops *ops = w->env->ops;
    uint64_t v = 0;
    if (w->n >= HV_ARRAY_SIZE(w->e)) {
        *st = HV_ERR_INVALID_ARG;
        return ENT_ERROR;
    }
    *st = ops->gpa_read(w->env->opaque, gpa, &v, size);
    if (*st == HV_ERR_GUEST_FAULT) {
        w->not_ram_gpa = gpa;
        return ENT_NOT_RAM;
    }
    if (*st != HV_OK)
        return ENT_ERROR;
    w->e[w->n].gpa = gpa;
    w->e[w->n].val = v;
    w->e[w->n].size = (uint8_t)size;
    w->e[w->n].has_a = has_a;
    w->n++;
    *val = v;
    return (v & PTE_P) ? ENT_OK : ENT_NOT_PRESENT;
}

/* Fold one level's permissions into the walk (4.6). */
static void accumulate(struct walk *w, uint64_t e, bool has_us_rw, bool nxe)
{
    if (has_us_rw) {
        w->user_page = w->user_page && (e & PTE_US);
        w->writable = w->writable && (e & PTE_RW);
    }
    if (nxe && (e & PTE_XD))
        w->xd = true;
}

/*
 * 32-bit paging (4.3): a page directory at CR3[31:12]; 4 MiB pages when
 * CR4.PSE and PDE.PS, whose bits (M-20):13 hold physical bits (M-1):32
 * with M = min(MAXPHYADDR, 40) (PSE-36) and bits 21:(M-19) reserved.
 */
static int walk_32(struct walk *w, uint32_t la, hv_status_t *st)
{
    uint64_t pde, pte;
    int r;

    r = read_entry(w, (w->regs->cr3 & BITS(31, 12)) + ((la >> 22) << 2), 4, true, st, &pde);
    if (r != ENT_OK)
        return r;
    accumulate(w, pde, true, false);
    if ((pde & PTE_PS) && (w->regs->cr4 & HV_EMU_CR4_PSE)) {
        unsigned m = HV_MIN(w->env->maxphyaddr, 40u);
        if (pde & BITS(21, m - 19))
            return ENT_RSVD;
        w->leaf = pde;
        w->gpa = (pde & BITS(31, 22)) | (la & BITS(21, 0));
        if (m > 32)
            w->gpa |= ((pde >> 13) & BITS(m - 33, 0)) << 32;
        w->page_size = HV_BIT(22);
        return ENT_OK;
    }
    r = read_entry(w, (pde & BITS(31, 12)) + (((la >> 12) & 0x3ff) << 2), 4, true, st, &pte);
    if (r != ENT_OK)
        return r;
    accumulate(w, pte, true, false);
    w->leaf = pte;
    w->gpa = (pte & BITS(31, 12)) | (la & 0xfff);
    w->page_size = HV_BIT(12);
    return ENT_OK;
}

/*
 * PAE and 4/5-level paging share the 8-byte entry format (4.4, 4.5).
 * Reserved bits: the address bits at or above MAXPHYADDR (51:M; in PAE
 * paging 62:M as bits 62:52 do not exist there), XD without NXE, PS where
 * no page can be mapped, and the low address bits of a large page except
 * PAT (bit 12).
 */
static hv_status_t walk_long(struct walk *w, uint64_t la, int *res)
{
    const struct hv_emu_regs *r = w->regs;
    unsigned m = w->env->maxphyaddr;
    bool nxe = (r->efer & HV_EMU_EFER_NXE) != 0;
    uint64_t rsvd = (w->mode == MODE_PAE) ? BITS(62, m) : BITS(51, m);
    uint64_t table;
    int level, rc;
    hv_status_t st = HV_OK;

    if (!nxe)
        rsvd |= PTE_XD;

    if (w->mode == MODE_PAE) {
        /* PDPTEs (4.4.1): no A, R/W, U/S or XD; bits 2:1, 8:5 and 63:M reserved. */
        unsigned idx = (unsigned)((la >> 30) & 3);
        uint64_t pdpte;
        if (r->pdpte_valid) {
            pdpte = r->pdpte[idx];
        } else {
            rc = read_entry(w, (r->cr3 & BITS(31, 5)) + idx * 8u, 8, false, &st, &pdpte);
            if (rc != ENT_OK) {
                *res = rc;
                return st;
            }
        }
        if (!(pdpte & PTE_P)) {
            *res = ENT_NOT_PRESENT;
            return HV_OK;
        }
        /*
         * A PDPTE read from memory (no PDPTE registers: AMD, and VMX without
         * them) may carry bit 5 (accessed) set by the CPU's own walk: QEMU's
         * TCG sets it. The CPU just walked this entry for the very access
         * being emulated, so it was accepted there; accept it here too.
         */
        uint64_t pdpte_rsvd = BITS(63, m) | BITS(2, 1) | BITS(8, 5);
        if (!r->pdpte_valid)
            pdpte_rsvd &= ~BITS(5, 5);
        if (pdpte & pdpte_rsvd) {
            *res = ENT_RSVD;
            return HV_OK;
        }
        table = pdpte & BITS(m - 1, 12);
        level = 2;
    } else {
        table = r->cr3 & BITS(m - 1, 12);
        level = (w->mode == MODE_5LVL) ? 5 : 4;
    }

    for (; level >= 1; level--) {
        unsigned shift = 12u + 9u * (unsigned)(level - 1);
        uint64_t e;
        rc = read_entry(w, table + ((la >> shift) & 0x1ff) * 8u, 8, true, &st, &e);
        if (rc != ENT_OK) {
            *res = rc;
            return st;
        }
        if (e & rsvd) {
            *res = ENT_RSVD;
            return HV_OK;
        }
        accumulate(w, e, true, nxe);
        if (level > 1 && (e & PTE_PS)) {
            /* PS is reserved in PML5E/PML4E, and in PDPTEs without 1 GiB pages. */
            if (level > 3 || (level == 3 && !w->env->gbpages)) {
                *res = ENT_RSVD;
                return HV_OK;
            }
            if (e & BITS(shift - 1, 13)) {
                *res = ENT_RSVD;
                return HV_OK;
            }
            w->leaf = e;
            w->page_size = HV_BIT(shift);
            w->gpa = (e & BITS(m - 1, shift)) | (la & (w->page_size - 1));
            *res = ENT_OK;
            return HV_OK;
        }
        table = e & BITS(m - 1, 12);
    }
    w->leaf = w->e[w->n - 1].val;
    w->page_size = HV_BIT(12);
    w->gpa = table | (la & 0xfff);
    *res = ENT_OK;
    return HV_OK;
}

/*
 * Protection-key check (4.6.2): data accesses to user-mode addresses
 * under PKRU (CR4.PKE), to supervisor-mode addresses under IA32_PKRS
 * (CR4.PKS); 4/5-level paging only. Write-disable applies to user-mode
 * accesses, and to supervisor-mode accesses only with CR0.WP.
 */
static bool pk_denies(const struct walk *w, bool write, bool user_access)
{
    const struct hv_emu_regs *r = w->regs;
    uint32_t rights;
    unsigned key;

    if (w->mode != MODE_4LVL && w->mode != MODE_5LVL)
        return false;
    if (w->user_page && (r->cr4 & HV_EMU_CR4_PKE))
        rights = r->pkru;
    else if (!w->user_page && (r->cr4 & HV_EMU_CR4_PKS))
        rights = r->pkrs;
    else
        return false;
    key = (unsigned)((w->leaf >> PK_SHIFT) & 0xf);
    if (rights & (1u << (2 * key)))
        return true; /* access-disable */
    return write && (rights & (2u << (2 * key))) && (user_access || (r->cr0 & HV_EMU_CR0_WP));
}

/* Access rights of a completed translation (4.6.1); true when allowed. */
static bool rights_allow(const struct walk *w, unsigned kind, bool implicit, bool user_access)
{
    const struct hv_emu_regs *r = w->regs;
    bool wp = (r->cr0 & HV_EMU_CR0_WP) != 0;

    if (user_access) {
        if (!w->user_page)
            return false;
        if (kind == HV_WALK_WRITE && !w->writable)
            return false;
        return !(kind == HV_WALK_EXEC && w->xd);
    }
    if (kind == HV_WALK_EXEC) {
        if (w->user_page && (r->cr4 & HV_EMU_CR4_SMEP))
            return false;
        return !w->xd;
    }
    /* SMAP: explicit accesses are exempt while RFLAGS.AC = 1. */
    if (w->user_page && (r->cr4 & HV_EMU_CR4_SMAP) && (implicit || !(r->rflags & HV_EMU_RFLAGS_AC)))
        return false;
    return !(kind == HV_WALK_WRITE && wp && !w->writable);
}

/* Set A on every entry used and D on the leaf of a write (4.8). */
static hv_status_t update_ad(struct walk *w, bool write)
{
    const struct hv_emu_ops *ops = w->env->ops;

    for (unsigned i = 0; i < w->n; i++) {
        struct walk_entry *e = &w->e[i];
        uint64_t nv = e->val;
        hv_status_t st;
        if (!e->has_a)
            continue;
        nv |= PTE_A;
        if (write && i == w->n - 1)
            nv |= PTE_D;
        if (nv == e->val)
            continue;
        if (ops->gpa_cmpxchg) {
            st = ops->gpa_cmpxchg(w->env->opaque, e->gpa, e->size, e->val, nv);
        } else {
            uint64_t v = nv;
            st = ops->gpa_write(w->env->opaque, e->gpa, &v, e->size);
        }
        if (st != HV_OK)
            return st;
        e->val = nv; /* what the entry holds now (the walk's trace) */
        /* A table that maps itself uses one entry at several levels: the
           later uses were read before this update, so they now expect
           what was just written (else the cmpxchg fails on our own write
           and the walk is retried, seeing different entries). */
        for (unsigned j = i + 1; j < w->n; j++)
            if (w->e[j].gpa == e->gpa && w->e[j].size == e->size)
                w->e[j].val = nv;
    }
    return HV_OK;
}

static hv_status_t walk_once(struct walk *w, uint64_t la, unsigned access,
                             struct hv_walk_result *res)
{
    const struct hv_emu_regs *r = w->regs;
    unsigned kind = access & 3u;
    bool implicit = (access & HV_WALK_IMPLICIT) != 0;
    bool user_access = r->cpl == 3 && !implicit;
    bool pae = (r->cr4 & HV_EMU_CR4_PAE) != 0;
    uint32_t ec = 0;
    hv_status_t st = HV_OK;
    int rc;

    w->n = 0;
    w->user_page = true;
    w->writable = true;
    w->xd = false;

    if (kind == HV_WALK_WRITE)
        ec |= HV_PF_W;
    if (user_access)
        ec |= HV_PF_U;
    if (kind == HV_WALK_EXEC &&
        ((r->cr4 & HV_EMU_CR4_SMEP) || (pae && (r->efer & HV_EMU_EFER_NXE))))
        ec |= HV_PF_I;

    if (w->mode == MODE_32)
        rc = walk_32(w, (uint32_t)la, &st);
    else
        st = walk_long(w, w->mode == MODE_PAE ? (uint32_t)la : la, &rc);

    switch (rc) {
    case ENT_OK:
        break;
    case ENT_NOT_PRESENT:
        res->outcome = HV_WALK_PAGE_FAULT;
        res->error_code = ec;
        return HV_OK;
    case ENT_RSVD:
        res->outcome = HV_WALK_PAGE_FAULT;
        res->error_code = ec | HV_PF_P | HV_PF_RSVD;
        return HV_OK;
    case ENT_NOT_RAM:
        res->outcome = HV_WALK_TABLE_NOT_RAM;
        res->table_gpa = w->not_ram_gpa;
        return HV_OK;
    default:
        return st == HV_OK ? HV_ERR_INVALID_ARG : st;
    }

    {
        bool pk = kind != HV_WALK_EXEC && pk_denies(w, kind == HV_WALK_WRITE, user_access);
        if (pk || !rights_allow(w, kind, implicit, user_access)) {
            res->outcome = HV_WALK_PAGE_FAULT;
            res->error_code = ec | HV_PF_P | (pk ? HV_PF_PK : 0);
            return HV_OK;
        }
    }
    st = update_ad(w, kind == HV_WALK_WRITE);
    if (st != HV_OK)
        return st;
    res->outcome = HV_WALK_OK;
    res->gpa = w->gpa;
    res->page_size = w->page_size;
    return HV_OK;
}

hv_status_t hv_walk(const struct hv_emu_env *env, const struct hv_emu_regs *regs, uint64_t la,
                    unsigned access, struct hv_walk_result *res)
{
    return hv_walk_traced(env, regs, la, access, res, NULL);
}

hv_status_t hv_walk_traced(const struct hv_emu_env *env, const struct hv_emu_regs *regs,
                           uint64_t la, unsigned access, struct hv_walk_result *res,
                           struct hv_walk_trace *trace)
{
    struct walk w;
    hv_status_t st = HV_ERR_AGAIN;

    if (!env || !env->ops || !env->ops->gpa_read || !env->ops->gpa_write || !regs || !res)
        return HV_ERR_INVALID_ARG;
    if ((access & ~7u) || (access & 3u) == 3u)
        return HV_ERR_INVALID_ARG;
    if (env->maxphyaddr < 32 || env->maxphyaddr > 52)
        return HV_ERR_INVALID_ARG;
    hv_memset(res, 0, sizeof(*res));
    if (trace)
        trace->n = 0;

    if (!(regs->cr0 & HV_EMU_CR0_PG)) {
        /* Paging off: linear addresses are physical, 32 bits wide (2.5). */
        res->outcome = HV_WALK_OK;
        res->gpa = (uint32_t)la;
        res->page_size = HV_BIT(12);
        return HV_OK;
    }

    hv_memset(&w, 0, sizeof(w));
    w.env = env;
    w.regs = regs;
    if (!(regs->cr4 & HV_EMU_CR4_PAE))
        w.mode = MODE_32;
    else if (!(regs->efer & HV_EMU_EFER_LMA))
        w.mode = MODE_PAE;
    else
        w.mode = (regs->cr4 & HV_EMU_CR4_LA57) ? MODE_5LVL : MODE_4LVL;

    /* HV_ERR_AGAIN: a concurrent write beat our accessed/dirty update; walk again. */
    for (int i = 0; i < WALK_RETRIES && st == HV_ERR_AGAIN; i++)
        st = walk_once(&w, la, access, res);
    if (trace && st == HV_OK && res->outcome == HV_WALK_OK) {
        for (unsigned i = 0; i < w.n; i++) {
            trace->gpa[i] = w.e[i].gpa;
            trace->val[i] = w.e[i].val;
            trace->size[i] = w.e[i].size;
        }
        trace->n = w.n;
    }
    return st;
}
