/*
 * Guests that go for the debug registers of the host and of each other
 * (core/debugreg.h).
 *
 * DR0-DR3 are in neither the VMCB nor the VMCS, and on VMX neither is
 * DR6: unswitched, a guest would read the breakpoint addresses the host
 * or another guest left in the CPU and set the host's. The host puts a
 * pattern in DR0-3 (and a bit in DR6) with its DR7 breakpoints off; then
 * on one CPU
 *   - guest A reads DR0-3 and DR6 (it must see its own reset values: 0 and
 *     no B0-B3 bits), writes its own (a seed the host hands it through an
 *     IN) and DR6.B0|B2, exits to the host with an OUT and reads them all
 *     back (loaded again after the host's run call returned), then HLT;
 *   - guest B, in another VM, does the same with its own seed and DR6.B1:
 *     it must not see A's values;
 *   - the embedder reads guest A's values with hv_vcpu_get_state(), has
 *     non-canonical ones refused and sets new ones, which guest A, run
 *     again, must read;
 * and after each run the host's DR0-3 (and on VMX DR6) must be its own.
 *
 *   hostile.debugregs
 */
#include "core/cpu.h"
#include "core/util.h"
#include "guest32.h"
#include "hostile.h"

/* The guest reports DR0-3 and DR6 on PORT_VAL (five values) at reset,
   mark 1, the five again after setting its own, mark 2, HLT; then the
   five once more, mark 3, HLT. Its two INs (PORT_ARG) give the DR0 seed
   and the DR6 B0-B3 bits it sets. */
/* clang-format off */
#define HD_READ_ALL                                                                                \
    "    movl %dr0, %eax\n"                                                                        \
    "    outl %eax, $0xe0\n"                                                                       \
    "    movl %dr1, %eax\n"                                                                        \
    "    outl %eax, $0xe0\n"                                                                       \
    "    movl %dr2, %eax\n"                                                                        \
    "    outl %eax, $0xe0\n"                                                                       \
    "    movl %dr3, %eax\n"                                                                        \
    "    outl %eax, $0xe0\n"                                                                       \
    "    movl %dr6, %eax\n"                                                                        \
    "    outl %eax, $0xe0\n"

__asm__(".pushsection .rodata.hostile_debugregs, \"a\"\n"
        ".balign 16\n"
        "hd_start:\n"
        G32_ENTER(hd)
        /* round 1: what the vCPU starts with */
        HD_READ_ALL
        /* its own values: DR0 = seed, DR1-3 = seed + 0x100 * n */
        "    inl $0xe4, %eax\n"
        "    movl %eax, %dr0\n"
        "    addl $0x100, %eax\n"
        "    movl %eax, %dr1\n"
        "    addl $0x100, %eax\n"
        "    movl %eax, %dr2\n"
        "    addl $0x100, %eax\n"
        "    movl %eax, %dr3\n"
        /* DR6's B0-B3 (bits 3:0) from a second IN */
        "    inl $0xe4, %eax\n"
        "    movl %dr6, %ebx\n"
        "    andl $0xfffffff0, %ebx\n"
        "    orl %eax, %ebx\n"
        "    movl %ebx, %dr6\n"
        /* back to the host, then read back */
        "    movb $1, %al\n"
        "    outb %al, $0x80\n"
        HD_READ_ALL
        "    movb $2, %al\n"
        "    outb %al, $0x80\n"
        "    hlt\n"
        /* round 2, after the other VM ran */
        HD_READ_ALL
        "    movb $3, %al\n"
        "    outb %al, $0x80\n"
        "1:  hlt\n"
        "    jmp 1b\n"
        G32_FAULTS(hd)
        "hd_end:\n"
        ".code64\n"
        ".popsection\n");
/* clang-format on */

extern const uint8_t hd_start[], hd_end[];
static const struct vmt_image hd_guest = {"hostile_debugregs", hd_start, hd_end};

#define DR6_B0_3   0xfull
#define HOST_DR6_B 0x8ull /* B3: the host's own DR6 bit */

/* What a guest answers on its two INs: the DR0 seed, then DR6's B bits. */
struct hd_guest_arg {
    uint32_t seed, b_bits;
    unsigned ins;
};

static uint32_t answer(struct vmt *t, uint16_t port, uint8_t size)
{
    struct hd_guest_arg *a = t->arg;
    (void)port;
    (void)size;
    return a->ins++ == 0 ? a->seed : a->b_bits;
}

/* The host's registers are still its own. */
static int host_kept(struct kcase_ctx *kc, const uint64_t host[4], bool vmx, const char *after)
{
    uint64_t now[4];
    hv_read_dr0_3(now);
    for (unsigned i = 0; i < 4; i++)
        if (now[i] != host[i])
            return kcase_fail(kc, "after %s the host's DR%u is 0x%lx, was 0x%lx", after, i,
                              (unsigned long)now[i], (unsigned long)host[i]);
    uint64_t dr6 = hv_read_dr6();
    if (vmx && (dr6 & DR6_B0_3) != HOST_DR6_B)
        return kcase_fail(kc, "after %s the host's DR6 is 0x%lx", after, (unsigned long)dr6);
    return 0;
}

/* The five values of the round at outs[first], against DR0 = seed (DR1-3
   following) or 0 when seed is 0, and DR6's B bits. */
static int check_round(struct kcase_ctx *kc, const struct vmt *t, unsigned first, uint32_t seed,
                       uint32_t b_bits, const char *what)
{
    for (unsigned i = 0; i < 4; i++) {
        uint32_t want = seed ? seed + 0x100 * i : 0;
        if (t->outs[first + i].value != want)
            return kcase_fail(kc, "%s: DR%u reads 0x%x, expected 0x%x", what, i,
                              t->outs[first + i].value, want);
    }
    uint32_t dr6 = t->outs[first + 4].value;
    if ((dr6 & DR6_B0_3) != b_bits)
        return kcase_fail(kc, "%s: DR6 reads 0x%x, expected B0-B3 = 0x%x", what, dr6, b_bits);
    return 0;
}

/* Run until the guest's HLT; it must have reported n values and the mark. */
static int run_round(struct kcase_ctx *kc, struct vmt *t, unsigned n, uint32_t mark)
{
    t->nouts = 0;
    int rc = vmt_run_until(t, HV_EXIT_HLT);
    if (!rc && (t->nouts != n || t->outs[n - 1].port != PORT_MARK || t->outs[n - 1].value != mark))
        rc = kcase_fail(kc, "the guest reported %u values, expected %u ending in mark %u", t->nouts,
                        n, mark);
    return rc;
}

#define SEED_SET 0x33330000u /* DR0-3 the embedder sets for guest A's last round */
#define B_SET    0x3u

/* hv_vcpu_get_state(HV_STATE_DEBUG) shows the guest's values. */
static int state_of(struct kcase_ctx *kc, struct vmt *t, uint32_t seed, uint32_t b_bits)
{
    struct hv_vcpu_state st;
    hv_status_t s = hv_vcpu_get_state(t->vcpu, HV_STATE_DEBUG, &st);
    if (s != HV_OK)
        return kcase_fail(kc, "hv_vcpu_get_state(DEBUG): %s", hv_status_str(s));
    for (unsigned i = 0; i < 4; i++)
        if (st.dr[i] != seed + 0x100 * i)
            return kcase_fail(kc, "state: DR%u 0x%lx, expected 0x%x", i, (unsigned long)st.dr[i],
                              seed + 0x100 * i);
    if ((st.dr6 & DR6_B0_3) != b_bits)
        return kcase_fail(kc, "state: DR6 0x%lx, expected B0-B3 = 0x%x", (unsigned long)st.dr6,
                          b_bits);
    return 0;
}

/* A non-canonical DR0-3 and DR6[63:32] are refused. */
static int state_refused(struct kcase_ctx *kc, struct vmt *t)
{
    struct hv_vcpu_state st;
    if (hv_vcpu_get_state(t->vcpu, HV_STATE_DEBUG, &st) != HV_OK)
        return kcase_fail(kc, "hv_vcpu_get_state(DEBUG) failed");
    struct hv_vcpu_state bad = st;
    bad.dr[2] = 0x0000800000000000ull;
    hv_status_t s1 = hv_vcpu_set_state(t->vcpu, HV_STATE_DEBUG, &bad);
    bad = st;
    bad.dr6 |= 1ull << 32;
    hv_status_t s2 = hv_vcpu_set_state(t->vcpu, HV_STATE_DEBUG, &bad);
    if (s1 != HV_ERR_INVALID_ARG || s2 != HV_ERR_INVALID_ARG)
        return kcase_fail(kc, "non-canonical DR2 / DR6[32] set: %s / %s, expected invalid",
                          hv_status_str(s1), hv_status_str(s2));
    return 0;
}

static int state_set(struct kcase_ctx *kc, struct vmt *t, uint32_t seed, uint32_t b_bits)
{
    struct hv_vcpu_state st;
    if (hv_vcpu_get_state(t->vcpu, HV_STATE_DEBUG, &st) != HV_OK)
        return kcase_fail(kc, "hv_vcpu_get_state(DEBUG) failed");
    for (unsigned i = 0; i < 4; i++)
        st.dr[i] = seed + 0x100 * i;
    st.dr6 = (st.dr6 & ~DR6_B0_3) | b_bits;
    hv_status_t s = hv_vcpu_set_state(t->vcpu, HV_STATE_DEBUG, &st);
    if (s != HV_OK)
        return kcase_fail(kc, "hv_vcpu_set_state(DEBUG): %s", hv_status_str(s));
    return 0;
}

static int case_debugregs(struct kcase_ctx *kc)
{
    static const uint64_t host[4] = {0x7e570000, 0x7e570040, 0x7e570080, 0x7e5700c0};
    struct hd_guest_arg arg_a = {0x11110000u, 0x5, 0}, arg_b = {0x22220000u, 0x2, 0};
    struct hv_ctx *ctx;
    struct vmt a, b;
    struct hv_caps caps;
    uint64_t saved[4], saved_dr6 = hv_read_dr6();
    bool vmx = false;
    int rc;

    hv_read_dr0_3(saved);
    hv_write_dr0_3(host);
    hv_write_dr6((saved_dr6 & ~DR6_B0_3) | HOST_DR6_B);
    hv_memset(&a, 0, sizeof(a));
    hv_memset(&b, 0, sizeof(b));
    rc = vmt_ctx_create(kc, &ctx);
    if (rc)
        goto restore;
    caps.size = sizeof(caps);
    if (hv_ctx_caps(ctx, &caps) != HV_OK)
        rc = kcase_fail(kc, "hv_ctx_caps failed");
    vmx = caps.backend == HV_BACKEND_VMX;
    if (!rc)
        rc = vmt_create(kc, ctx, &a, &hd_guest);
    if (!rc)
        rc = vmt_create(kc, ctx, &b, &hd_guest);
    a.on_in = b.on_in = answer;
    a.arg = &arg_a;
    b.arg = &arg_b;
    /* A: reset values, its own set, back after an exit to the host. */
    if (!rc)
        rc = run_round(kc, &a, 12, 2);
    if (!rc)
        rc = check_round(kc, &a, 0, 0, 0, "guest A at reset");
    if (!rc)
        rc = check_round(kc, &a, 6, arg_a.seed, arg_a.b_bits, "guest A after its exit");
    if (!rc)
        rc = host_kept(kc, host, vmx, "guest A's run");
    /* B: none of A's. */
    if (!rc)
        rc = run_round(kc, &b, 12, 2);
    if (!rc)
        rc = check_round(kc, &b, 0, 0, 0, "guest B at reset, after guest A");
    if (!rc)
        rc = check_round(kc, &b, 6, arg_b.seed, arg_b.b_bits, "guest B after its exit");
    if (!rc)
        rc = host_kept(kc, host, vmx, "guest B's run");
    /* A's state as the embedder sees it: its own values, not B's. A new
       set through hv_vcpu_set_state() is what A reads next; values the
       CPU would refuse (#GP in the host) are refused. */
    if (!rc)
        rc = state_of(kc, &a, arg_a.seed, arg_a.b_bits);
    if (!rc)
        rc = state_refused(kc, &a);
    if (!rc)
        rc = state_set(kc, &a, SEED_SET, B_SET);
    if (!rc)
        rc = run_round(kc, &a, 6, 3);
    if (!rc)
        rc = check_round(kc, &a, 0, SEED_SET, B_SET, "guest A after guest B and a set_state");
    if (!rc)
        rc = host_kept(kc, host, vmx, "guest A's second run");
    vmt_destroy(&b);
    vmt_destroy(&a);
    hv_ctx_destroy(ctx);
    if (!rc)
        kprintf("hostile.debugregs: each guest saw only its own DR0-3 and DR6 B0-B3, the host kept "
                "its DR0-3%s\n",
                vmx ? " and DR6" : "");
restore:
    hv_write_dr0_3(saved);
    hv_write_dr6(saved_dr6);
    return rc;
}

static const struct kcase hostile_debugregs_cases[] KCASE_TABLE = {
    {"hostile.debugregs", case_debugregs, 0},
};
