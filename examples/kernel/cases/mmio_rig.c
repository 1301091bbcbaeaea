/* The MMIO test rig (mmio_rig.h). */
#include "mmio_rig.h"

#include <stdarg.h>

#include "core/util.h"

/* Emulation is slow in the emulators: a REP STOS of 16K elements is tens of
   millions of instructions, which Bochs spreads over many emulated seconds. */
#define MMIO_WATCHDOG_TICKS (60 * TIMER_HZ)
/* A guest run makes a few thousand exits; far more means it went astray. */
#define MMIO_MAX_EXITS 1000000u

enum { REGION_REG, REGION_EMB };

struct mmio_access {
    uint32_t off;
    uint8_t region, size, write;
};

struct rig {
    struct vmt t;
    struct kcase_ctx *kc;
    const struct mmio_mode *mode;
    uint8_t regfile[MMIO_REG_LEN];
    uint8_t emb[HV_PAGE_SIZE];

    /* The open bracket (0: none), its announced and observed accesses. */
    uint8_t bracket;
    unsigned nexp, nacc;
    uint32_t exp[MMIO_EXP_MAX];
    struct mmio_access acc[MMIO_ACC_MAX];
    bool acc_overflow;
    unsigned closed;

    unsigned nvals;
    uint32_t rep_rip;
    unsigned nsio_out, nsio_in;
    unsigned pio_calls; /* sio_port's: every string element with mmio_mode::pio */
    struct {
        uint8_t size;
        uint32_t value;
    } sio_out[MMIO_SIO_MAX];

    /* The sink: writes seen, whether each was where and what it should be. */
    uint64_t sink_writes;
    bool sink_bad, kick_requested;
    unsigned kicks;

    bool failed;
    char reason[sizeof(((struct kcase_ctx *)0)->reason)];
};

static struct rig the_rig; /* cases run one at a time */

/* Keep the first failure; the run stops at the next exit. */
__attribute__((format(printf, 2, 3))) static void rig_fail(struct rig *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    va_list ap;
    va_start(ap, fmt);
    hv_vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

static void log_access(struct rig *r, unsigned region, uint32_t off, unsigned size, bool write)
{
    if (!r->bracket)
        return;
    if (r->nacc == MMIO_ACC_MAX) {
        r->acc_overflow = true;
        return;
    }
    struct mmio_access *a = &r->acc[r->nacc++];
    a->region = (uint8_t)region;
    a->off = off;
    a->size = (uint8_t)size;
    a->write = write;
}

static bool size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Memory-like storage: little-endian loads and stores of 1-8 bytes. */
static void mem_access(uint8_t *mem, size_t off, unsigned size, bool write, uint64_t *value)
{
    if (write) {
        for (unsigned i = 0; i < size; i++)
            mem[off + i] = (uint8_t)(*value >> (8 * i));
    } else {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= (uint64_t)mem[off + i] << (8 * i);
        *value = v;
    }
}

/* The register file's handler (called inside hv_vcpu_run). */
static hv_status_t regfile_mmio(void *opaque, uint64_t gpa, unsigned size, bool write,
                                uint64_t *value)
{
    struct rig *r = opaque;
    uint64_t off = gpa - MMIO_REG_GPA;
    if (gpa < MMIO_REG_GPA || !size_ok(size) || off + size > MMIO_REG_LEN) {
        rig_fail(r, "register file: access of %u bytes at gpa 0x%llx", size,
                 (unsigned long long)gpa);
        return HV_ERR_RANGE;
    }
    mem_access(r->regfile, off, size, write, value);
    log_access(r, REGION_REG, (uint32_t)off, size, write);
    return HV_OK;
}

/* The sink takes the REP STOS: element n at linear start + n * size, each
   the guest's pattern; at MMIO_SINK_KICK it kicks the vCPU. */
static hv_status_t sink_mmio(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct rig *r = opaque;
    const struct mmio_sink_plan *p = r->mode->sink;
    uint64_t pattern = 0xabcd0123abcd0123ull;
    if (!p || !write || size != p->size) {
        r->sink_bad = true;
        return HV_OK;
    }
    if (gpa != MMIO_SINK_GPA + r->sink_writes * size ||
        *value != (size == 8 ? pattern : (uint32_t)pattern))
        r->sink_bad = true;
    if (++r->sink_writes == MMIO_SINK_KICK) {
        r->kick_requested = true;
        hv_vcpu_kick(r->t.vcpu);
    }
    return HV_OK;
}

static const char *region_name(unsigned region)
{
    return region == REGION_EMB ? "embedder page" : "register file";
}

/*
 * The accesses of the bracket just closed against the announced ones:
 * the same order, direction and offsets; an announced access that does not
 * straddle a page is one access of its size, one that does may come in
 * naturally sized pieces that each stay inside a page.
 */
static void check_bracket(struct rig *r)
{
    unsigned region = (r->bracket & MMIO_EMB_IDS) ? REGION_EMB : REGION_REG;
    unsigned i = 0;

    if (r->acc_overflow) {
        rig_fail(r, "test 0x%x: more than %u device accesses", r->bracket, MMIO_ACC_MAX);
        return;
    }
    for (unsigned e = 0; e < r->nexp; e++) {
        uint32_t off = r->exp[e] & 0xffff;
        unsigned size = (r->exp[e] >> 16) & 0xf;
        bool write = (r->exp[e] / MMIO_X_W) & 1;
        bool straddles = (off & (HV_PAGE_SIZE - 1)) + size > HV_PAGE_SIZE;
        unsigned covered = 0, pieces = 0;
        while (covered < size) {
            if (i == r->nacc) {
                rig_fail(r, "test 0x%x: no %s of %u bytes at %s+0x%x", r->bracket,
                         write ? "write" : "read", size, region_name(region), off + covered);
                return;
            }
            const struct mmio_access *a = &r->acc[i++];
            bool piece_straddles = (a->off & (HV_PAGE_SIZE - 1)) + a->size > HV_PAGE_SIZE;
            if (a->region != region || a->write != write || a->off != off + covered ||
                covered + a->size > size || piece_straddles) {
                rig_fail(r, "test 0x%x: %s of %u bytes at %s+0x%x, expected %s of %u at +0x%x",
                         r->bracket, a->write ? "write" : "read", a->size, region_name(a->region),
                         a->off, write ? "write" : "read", size - covered, off + covered);
                return;
            }
            covered += a->size;
            pieces++;
        }
        if (pieces > 1 && !straddles) {
            rig_fail(r, "test 0x%x: access of %u bytes at +0x%x split in %u", r->bracket, size, off,
                     pieces);
            return;
        }
    }
    if (i < r->nacc)
        rig_fail(r, "test 0x%x: unexpected %s of %u bytes at %s+0x%x", r->bracket,
                 r->acc[i].write ? "write" : "read", r->acc[i].size, region_name(r->acc[i].region),
                 r->acc[i].off);
}

static void on_mark(struct rig *r, uint8_t id)
{
    if (id) {
        if (r->bracket)
            rig_fail(r, "test 0x%x opened inside test 0x%x", id, r->bracket);
        r->bracket = id;
        r->nacc = 0;
        r->acc_overflow = false;
        return;
    }
    if (!r->bracket) {
        rig_fail(r, "a test closed that was not open");
        return;
    }
    check_bracket(r);
    if (r->bracket != MMIO_REPLAY_ID) /* the guest counts only the tests it always runs */
        r->closed++;
    r->bracket = 0;
    r->nexp = 0;
}

static void on_val(struct rig *r, uint32_t v)
{
    const struct mmio_mode *m = r->mode;
    unsigned n = r->nvals++;
    if (n >= m->nvals) {
        rig_fail(r, "unexpected value #%u from the guest: 0x%x", n, v);
        return;
    }
    const struct mmio_val *e = &m->vals[n];
    switch (e->kind) {
    case MV_REP_RIP:
        r->rep_rip = v;
        return;
    case MV_BRACKETS:
        if (v != r->closed)
            rig_fail(r, "the guest ran %u tests, the rig saw %u", v, r->closed);
        return;
    default:
        if (v != e->v)
            rig_fail(r, "value #%u from the guest: 0x%x, expected 0x%x", n, v, e->v);
        return;
    }
}

/* A triple (test << 8 | field, RAM, device) on PORT_FAIL; exceptions come
   as (0xee00 | vector, ...). */
static void on_guest_fail(struct rig *r, unsigned idx, uint32_t v)
{
    static uint32_t first[3];
    if (idx < 3)
        first[idx] = v;
    if (idx != 2)
        return;
    if ((first[0] & 0xff00) == 0xee00)
        rig_fail(r, "guest took exception %u (0x%x 0x%x)", first[0] & 0xff, first[1], first[2]);
    else
        rig_fail(r, "test 0x%x: RAM and device differ in snapshot dword %u: 0x%x vs 0x%x",
                 first[0] >> 8, first[0] & 0xff, first[1], first[2]);
}

/* An element of the string OUT test (REP OUTSB/OUTSW to PORT_SIO_OUT). */
static void sio_out(struct rig *r, uint8_t size, uint32_t v)
{
    if (!r->bracket)
        rig_fail(r, "string OUT outside a test");
    if (r->nsio_out < MMIO_SIO_MAX) {
        r->sio_out[r->nsio_out].size = size;
        r->sio_out[r->nsio_out].value = v;
    }
    r->nsio_out++;
}

static void on_out(struct rig *r, unsigned *fail_idx)
{
    const struct hv_exit *x = &r->t.exit;
    uint32_t v = (uint32_t)x->io.data;
    if (x->io.port != PORT_FAIL)
        *fail_idx = 0;
    switch (x->io.port) {
    case PORT_MARK:
        on_mark(r, (uint8_t)v);
        break;
    case PORT_VAL:
        on_val(r, v);
        break;
    case PORT_EXPECT:
        if (r->bracket || r->nexp == MMIO_EXP_MAX)
            rig_fail(r, "announcement 0x%x inside a test or past %u", v, MMIO_EXP_MAX);
        else
            r->exp[r->nexp++] = v;
        break;
    case PORT_FAIL:
        on_guest_fail(r, (*fail_idx)++ % 3, v);
        break;
    case PORT_SIO_OUT:
        sio_out(r, x->io.size, v);
        break;
    default:
        rig_fail(r, "OUT to port 0x%x", x->io.port);
        break;
    }
}

/* INs of the string I/O test (two dwords, then two words), and the
   question on PORT_ARG whether to run X_REPLAY. */
static uint32_t sio_in(struct rig *r, uint16_t port, unsigned size)
{
    static const uint32_t answers[] = {0x11223344, 0x55667788, 0x9abc, 0xdef0};
    static const uint8_t sizes[] = {4, 4, 2, 2};
    if (port == PORT_ARG && size == 4)
        return r->mode->replay;
    unsigned n = r->nsio_in++;
    if (port != PORT_SIO_IN || n >= HV_ARRAY_SIZE(answers) || size != sizes[n] || !r->bracket) {
        rig_fail(r, "IN #%u: port 0x%x, %u bytes", n, port, size);
        return 0;
    }
    return answers[n];
}

static uint32_t on_in(struct rig *r)
{
    return sio_in(r, r->t.exit.io.port, r->t.exit.io.size);
}

/* The string ports as a device of hv_vm_pio_register (mmio_mode::pio):
   the same answers and records, from inside hv_vcpu_run. */
static hv_status_t sio_port(void *opaque, uint16_t port, unsigned size, bool write, uint32_t *value)
{
    struct rig *r = opaque;
    r->pio_calls++;
    if (write)
        sio_out(r, (uint8_t)size, *value);
    else
        *value = sio_in(r, port, size);
    return HV_OK;
}

/* The embedder's page, completed here (HV_EXIT_MMIO). */
static void on_mmio(struct rig *r)
{
    struct hv_exit *x = &r->t.exit;
    uint64_t off = x->mmio.gpa - MMIO_EMB_GPA;
    if (x->mmio.gpa < MMIO_EMB_GPA || !size_ok(x->mmio.size) || off + x->mmio.size > HV_PAGE_SIZE) {
        rig_fail(r, "MMIO exit: %u bytes at gpa 0x%llx", x->mmio.size,
                 (unsigned long long)x->mmio.gpa);
        return;
    }
    mem_access(r->emb, off, x->mmio.size, x->mmio.write, &x->mmio.data);
    log_access(r, REGION_EMB, (uint32_t)off, x->mmio.size, x->mmio.write);
}

/* hv_vcpu_run returned in the middle of the REP STOS into the sink: RIP
   is still on it and RCX/RDI hold exactly the progress the sink saw. */
static void on_sink_kick(struct rig *r)
{
    const struct mmio_sink_plan *p = r->mode->sink;
    struct hv_vcpu_state st;
    r->kicks++;
    r->kick_requested = false;
    if (hv_vcpu_get_state(r->t.vcpu, HV_STATE_GPR, &st) != HV_OK) {
        rig_fail(r, "get_state after the kick failed");
        return;
    }
    uint64_t done = r->sink_writes;
    uint64_t rcx = st.gpr[HV_GPR_RCX] & p->count_mask;
    uint64_t rdi = st.gpr[HV_GPR_RDI] & p->count_mask;
    if (done < MMIO_SINK_KICK || done >= p->writes)
        rig_fail(r, "kicked after %llu sink writes", (unsigned long long)done);
    else if (st.rip != r->rep_rip || rcx != ((p->count - done) & p->count_mask) ||
             rdi != ((p->linear + done * p->size) & p->count_mask))
        rig_fail(r,
                 "kicked REP STOS: rip 0x%llx rcx 0x%llx rdi 0x%llx after %llu writes "
                 "(REP at 0x%x)",
                 (unsigned long long)st.rip, (unsigned long long)rcx, (unsigned long long)rdi,
                 (unsigned long long)done, r->rep_rip);
}

static int setup(struct rig *r, struct hv_ctx *ctx)
{
    struct kcase_ctx *kc = r->kc;
    hv_status_t st;
    if (vmt_create(kc, ctx, &r->t, r->mode->image))
        return -1;
    if ((st = hv_vm_unmap(r->t.vm, MMIO_HOLE_GPA, MMIO_HOLE_LEN)) != HV_OK)
        return kcase_fail(kc, "hv_vm_unmap of the hole: %s", hv_status_str(st));
    if ((st = hv_vm_mmio_register(r->t.vm, MMIO_REG_GPA, MMIO_REG_LEN, regfile_mmio, r)) != HV_OK ||
        (st = hv_vm_mmio_register(r->t.vm, MMIO_EMB_GPA, HV_PAGE_SIZE, NULL, NULL)) != HV_OK ||
        (st = hv_vm_mmio_register(r->t.vm, MMIO_SINK_GPA, MMIO_SINK_LEN, sink_mmio, r)) != HV_OK)
        return kcase_fail(kc, "hv_vm_mmio_register: %s", hv_status_str(st));
    if (r->mode->pio &&
        ((st = hv_vm_pio_register(r->t.vm, PORT_SIO_OUT, 4, sio_port, r)) != HV_OK ||
         (st = hv_vm_pio_register(r->t.vm, PORT_SIO_IN, 4, sio_port, r)) != HV_OK))
        return kcase_fail(kc, "hv_vm_pio_register: %s", hv_status_str(st));
    return 0;
}

static int run(struct rig *r)
{
    struct vmt *t = &r->t;
    unsigned fail_idx = 0;
    for (unsigned n = 0; !r->failed; n++) {
        if (n == MMIO_MAX_EXITS)
            return kcase_fail(r->kc, "more than %u exits (rip 0x%llx)", MMIO_MAX_EXITS,
                              (unsigned long long)t->exit.rip);
        t->deadline = timer_ticks() + MMIO_WATCHDOG_TICKS;
        hv_status_t st = hv_vcpu_run(t->vcpu, &t->exit);
        t->deadline = UINT64_MAX;
        if (st != HV_OK)
            return kcase_fail(r->kc, "hv_vcpu_run: %s", hv_status_str(st));
        if (t->watchdog_fired)
            return kcase_fail(r->kc, "guest made no progress (rip 0x%llx, exit %s)",
                              (unsigned long long)t->exit.rip, vmt_exit_name(t->exit.reason));
        switch (t->exit.reason) {
        case HV_EXIT_IO:
            if (t->exit.io.write)
                on_out(r, &fail_idx);
            else
                t->exit.io.data = on_in(r);
            break;
        case HV_EXIT_MMIO:
            on_mmio(r);
            break;
        case HV_EXIT_KICK:
            if (!r->kick_requested || !r->mode->sink)
                return kcase_fail(r->kc, "unexpected kick at rip 0x%llx",
                                  (unsigned long long)t->exit.rip);
            on_sink_kick(r);
            break;
        case HV_EXIT_HLT:
            return 0;
        default:
            return kcase_fail(r->kc, "exit %s (raw 0x%llx, 0x%llx/0x%llx) at rip 0x%llx",
                              vmt_exit_name(t->exit.reason), (unsigned long long)t->exit.raw_code,
                              (unsigned long long)t->exit.raw_info1,
                              (unsigned long long)t->exit.raw_info2,
                              (unsigned long long)t->exit.rip);
        }
    }
    return 0; /* r->failed: reported by the caller */
}

/* After the HLT: everything announced happened, and only that. */
static void final_checks(struct rig *r)
{
    /* REP OUTSB of the string buffer's first bytes, REP OUTSW of the two
       words INSW read; with X_REPLAY, REP OUTSW of the INSD's first dword. */
    static const struct {
        uint8_t size;
        uint32_t value;
    } sio[] = {{1, 0xa4}, {1, 0xa3}, {1, 0xa2}, {2, 0x9abc}, {2, 0xdef0}, {2, 0x3344}, {2, 0x1122}};
    const struct mmio_mode *m = r->mode;
    unsigned nsio = m->replay ? 7 : 5;

    if (r->bracket)
        rig_fail(r, "test 0x%x never closed", r->bracket);
    if (r->nvals != m->nvals)
        rig_fail(r, "the guest reported %u values, expected %u", r->nvals, m->nvals);
    if (r->nsio_in != 4)
        rig_fail(r, "%u string INs, expected 4", r->nsio_in);
    if (r->nsio_out != nsio)
        rig_fail(r, "%u string OUTs, expected %u", r->nsio_out, nsio);
    /* With the ports' handler, every element went through it: none
       reached the rig as an HV_EXIT_IO (on_out and on_in count those too,
       so the totals alone would not tell). */
    if (m->pio && r->pio_calls != nsio + 4)
        rig_fail(r, "%u string elements through the port handler, expected %u", r->pio_calls,
                 nsio + 4);
    for (unsigned i = 0; i < nsio && i < r->nsio_out; i++)
        if (r->sio_out[i].size != sio[i].size || r->sio_out[i].value != sio[i].value)
            rig_fail(r, "string OUT #%u: %u bytes 0x%x, expected %u bytes 0x%x", i,
                     r->sio_out[i].size, r->sio_out[i].value, sio[i].size, sio[i].value);
    if (m->sink) {
        if (r->sink_bad || r->sink_writes != m->sink->writes)
            rig_fail(r, "sink: %llu writes%s, expected %llu in order",
                     (unsigned long long)r->sink_writes, r->sink_bad ? " (some misplaced)" : "",
                     (unsigned long long)m->sink->writes);
        if (r->kicks != 1)
            rig_fail(r, "%u kicks during the REP STOS into the sink, expected 1", r->kicks);
    } else if (r->sink_writes || r->kicks) {
        rig_fail(r, "sink used without a sink test");
    }
}

/*
 * A known trap, named when a run fails: QEMU's TCG sets the accessed bit
 * (5) of PAE PDPTEs when it walks them, a bit the SDM (Vol. 3A table 4-8)
 * and the APM reserve; libhv's walker then raises #PF(RSVD) on every
 * access it emulates for the guest.
 */
static void pdpte_hint(struct rig *r)
{
    struct hv_vcpu_state st;
    if (hv_vcpu_get_state(r->t.vcpu, HV_STATE_CR, &st) != HV_OK || !(st.cr0 & 0x80000000u) ||
        !(st.cr4 & 0x20) || (st.efer & 0x400))
        return;
    uint32_t pdpt = (uint32_t)st.cr3 & ~0x1fu;
    if (pdpt > VMT_RAM_SIZE - 32)
        return;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t e;
        hv_memcpy(&e, r->t.ram + pdpt + 8 * i, sizeof(e));
        if ((e & 1) && (e & 0x1e6)) {
            size_t n = hv_strlen(r->kc->reason);
            hv_snprintf(r->kc->reason + n, sizeof(r->kc->reason) - n,
                        " (PDPTE%u = 0x%llx: reserved bits set, by QEMU's walk if bit 5)", i,
                        (unsigned long long)e);
            return;
        }
    }
}

int mmio_run_mode(struct kcase_ctx *kc, const struct mmio_mode *mode)
{
    struct rig *r = &the_rig;
    struct hv_ctx *ctx;
    int rc;

    hv_memset(r, 0, sizeof(*r));
    r->kc = kc;
    r->mode = mode;
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = setup(r, ctx);
    if (!rc)
        rc = run(r);
    if (!rc) {
        if (!r->failed)
            final_checks(r);
        if (r->failed)
            rc = kcase_fail(kc, "%s", r->reason);
    }
    if (rc && r->t.vcpu)
        pdpte_hint(r);
    vmt_destroy(&r->t);
    hv_ctx_destroy(ctx);
    return rc;
}
