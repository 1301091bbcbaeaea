/*
 * Instruction fetch at the guest's CS:RIP, as the CPU fetches: through the
 * guest's page tables with execute access at the current privilege level
 * (emu/walk.h), within the CS limit outside 64-bit mode; and the
 * instruction assist's data translations.
 *
 * SVM without NRIP save (QEMU) reports no instruction length, so every
 * CPUID, VMMCALL, IN/OUT, RDMSR/WRMSR and HLT exit needs the instruction's
 * bytes, and every emulated MMIO access translates its operand. A full
 * walk is four dependent guest-PTE reads through the SLAT; the vCPU
 * therefore memoizes the last walk of each kind (struct hv_walk_memo:
 * the code page, the data page). A memo is used only while everything the
 * walk depended on is unchanged:
 * - the linear page, the access kind, the CPL, RFLAGS.AC (SMAP), and the
 *   bits of CR0/CR4/EFER that select the paging mode and the access rules
 *   (SDM Vol. 3A 4.1, 4.6), CR3;
 * - the SLAT generation (every map/unmap/protect of the VM bumps it): the
 *   host pointers to the entries (and the code page) are still the VM's;
 * - the guest's physical-address width and 1 GiB pages: every walk uses
 *   the VM's paging view (core/policy.h hv_vm_paging_view), read after
 *   the generation, and its every change (hv_vm_set_cpuid) bumps the SLAT
 *   generation too;
 * - every paging-structure entry of the walk, re-read and compared with
 *   the value it held after the walk (accessed and, for a write, dirty
 *   flags set): a guest may rewrite its page tables at any time without
 *   telling us. The compare is of the aligned 8-byte word that holds the
 *   entry, whole: one load and one compare per entry.
 * Under these conditions the walk would read the same entries, reach the
 * same page and set no flag, so the memo is exact; the host pointer of the
 * page it keeps (the code page; the data page, with the SLAT permission of
 * its access) is the VM's as long as the SLAT generation is unchanged. Protection keys and
 * PDPTE registers are not memoized (walks with them always run in full).
 */
#include "core/assist.h"
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/util.h"
#include "core/walk_memo.h"

/*
 * Record a successful walk; false (memo left empty) when an entry is not
 * RAM the guest may read. gen: the SLAT generation read before the walk,
 * so that a SLAT change during it leaves the memo stale, never wrong.
 */
static bool memo_fill(struct hv_walk_memo *m, struct hv_vm *vm, uint64_t key, uint64_t cr3,
                      uint64_t la, uint64_t gen, const struct hv_walk_result *w,
                      const struct hv_walk_trace *t)
{
    for (unsigned i = 0; i < t->n; i++) {
        const uint8_t *p = hv_gpa_ptr(vm, t->gpa[i], HV_MEM_READ);
        if (!p)
            return false;
        /* Entries are aligned to their size, guest pages to 4 KiB: a
           4-byte entry is one half of an aligned 8-byte word. The memo
           keeps the whole word (a change to the other half, another
           entry, only empties the memo early), read now: the entry must
           still hold what the walk left in it. */
        unsigned shift = (unsigned)(t->gpa[i] & 4) * 8;
        uint64_t mask = t->size[i] == 8 ? ~0ull : 0xffffffffull << shift;
        const uint64_t *word = (const uint64_t *)(const void *)(p - (t->gpa[i] & 7));
        uint64_t now = __atomic_load_n(word, __ATOMIC_RELAXED);
        if ((now & mask) != ((t->val[i] << shift) & mask))
            return false;
        m->pte[i] = word;
        m->val[i] = now;
    }
    m->n = t->n;
    m->la_page = la >> 12;
    m->cr3 = cr3;
    m->gpa_page = w->gpa & ~(uint64_t)(HV_PAGE_SIZE - 1);
    m->page_size = w->page_size;
    m->slat_gen = gen;
    m->key = key;
    return true;
}

/* --- data translations of the instruction assist ------------------------ */

hv_status_t hv_walk_memoized(struct hv_vcpu *vcpu, const struct hv_emu_env *env,
                             const struct hv_emu_regs *regs, uint64_t la, unsigned access,
                             struct hv_walk_result *res)
{
    struct hv_vm *vm = vcpu->vm;
    struct hv_walk_memo *m = &vcpu->data;
    bool ac = (regs->rflags & HV_EMU_RFLAGS_AC) != 0;

    uint64_t key = hv_memo_key(regs->cr0, regs->cr4, regs->efer, regs->cpl, access, ac);
    bool memoizable =
        !regs->pdpte_valid && !regs->pkru && !regs->pkrs && (regs->cr0 & HV_EMU_CR0_PG);
    if (memoizable && hv_memo_valid(m, vm, key, regs->cr3, la >> 12)) {
        res->outcome = HV_WALK_OK;
        res->gpa = m->gpa_page | (la & (HV_PAGE_SIZE - 1));
        res->page_size = m->page_size;
        res->error_code = 0;
        res->table_gpa = 0;
        return HV_OK;
    }
    /* The walk in the VM's view as of this generation, whatever the
       caller's env read earlier. */
    uint64_t gen = hv_slat_gen(&vm->slat);
    struct hv_emu_env e = *env;
    hv_vm_paging_view(vm, &e.maxphyaddr, &e.gbpages);
    if (!memoizable)
        return hv_walk(&e, regs, la, access, res);
    struct hv_walk_trace t;
    m->key = 0;
    m->host = NULL;
    m->walks++;
    hv_status_t st = hv_walk_traced(&e, regs, la, access, res, &t);
    if (st == HV_OK && res->outcome == HV_WALK_OK &&
        memo_fill(m, vm, key, regs->cr3, la, gen, res, &t)) {
        /* The page itself, for copies through hv_data_memo(): with the
           access's SLAT permission, else none (MMIO, read-only RAM). */
        m->host = hv_gpa_ptr(vm, m->gpa_page, access == HV_WALK_WRITE ? HV_MEM_WRITE : HV_MEM_READ);
    }
    return st;
}

/* --- instruction fetch --------------------------------------------------- */

static hv_status_t fetch_gpa_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return hv_gpa_read(opaque, gpa, buf, len);
}

static hv_status_t fetch_gpa_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return hv_gpa_write(opaque, gpa, buf, len);
}

static const struct hv_emu_ops fetch_ops = {
    .gpa_read = fetch_gpa_read,
    .gpa_write = fetch_gpa_write,
};

/*
 * Walk for an execute access to la and memoize the result when every
 * entry and the code page are RAM the guest may read. Returns the host
 * pointer to the code page, NULL if the byte cannot be fetched.
 */
static const uint8_t *walk_code_page(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr,
                                     uint64_t key, uint64_t la)
{
    struct hv_vm *vm = vcpu->vm;
    struct hv_walk_memo *m = &vcpu->fetch;
    struct hv_emu_env env = {.ops = &fetch_ops, .opaque = vm};
    struct hv_emu_regs regs;
    struct hv_walk_result w;
    struct hv_walk_trace t;

    uint64_t gen = hv_slat_gen(&vm->slat);
    m->key = 0;
    m->walks++;
    hv_vm_paging_view(vm, &env.maxphyaddr, &env.gbpages);
    regs.cr0 = fr->cr0;
    regs.cr3 = fr->cr3;
    regs.cr4 = fr->cr4;
    regs.efer = fr->efer;
    regs.rflags = 0; /* AC: SMAP exemption of data accesses only */
    regs.cpl = fr->cpl;
    regs.pdpte_valid = false;
    regs.pkru = 0;
    regs.pkrs = 0;
    if (hv_walk_traced(&env, &regs, la, HV_WALK_EXEC, &w, &t) != HV_OK || w.outcome != HV_WALK_OK)
        return NULL;
    uint8_t *code = hv_gpa_ptr(vm, w.gpa & ~(uint64_t)(HV_PAGE_SIZE - 1), HV_MEM_READ);
    if (code) {
        m->host = code; /* before the key: a filled code memo has its page */
        memo_fill(m, vm, key, fr->cr3, la, gen, &w, &t);
    }
    return code;
}

size_t hv_fetch_insn(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, uint8_t *buf, size_t max)
{
    bool long64 = (fr->efer & HV_EMU_EFER_LMA) && (fr->cs_attr & HV_SEG_L);
    uint64_t key = hv_memo_key(fr->cr0, fr->cr4, fr->efer, fr->cpl, HV_WALK_EXEC, false);
    size_t got = 0;

    while (got < max) {
        uint64_t off = fr->rip + got, la;
        size_t room = max - got;

        if (long64) {
            la = off;
            if (!hv_emu_canonical(la, fr->cr4))
                break;
        } else {
            /* The CS limit bounds every fetched byte (SDM Vol. 3A 5.3). */
            off &= 0xffffffffu;
            if (off > fr->cs_limit)
                break;
            room = HV_MIN(room, (size_t)(fr->cs_limit - off + 1));
            la = (fr->cs_base + off) & 0xffffffffu;
        }
        size_t in_page = la & (HV_PAGE_SIZE - 1);
        room = HV_MIN(room, HV_PAGE_SIZE - in_page);
        const uint8_t *code =
            hv_code_memo(vcpu, fr->cr0, fr->cr3, fr->cr4, fr->efer, fr->cpl, la >> 12);
        if (!code)
            code = walk_code_page(vcpu, fr, key, la);
        if (!code)
            break;
        if (room == 1) {
            buf[got] = code[in_page];
        } else if (room == 8) {
            /* One unaligned word (the MOV fast path's request). */
            typedef uint64_t __attribute__((may_alias, aligned(1))) word_t;
            *(word_t *)(void *)(buf + got) = *(const word_t *)(const void *)(code + in_page);
        } else {
            hv_memcpy(buf + got, code + in_page, room);
        }
        got += room;
    }
    return got;
}
