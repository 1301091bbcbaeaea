/*
 * test=smp: a second vCPU brought up through VCPUOP_initialise (a 64-bit
 * context from the ELF64 guest, a 32-bit one from the ELF32 guest) and
 * VCPUOP_up. vCPU 1 checks its CPUID vCPU id, runs a single-shot timer of
 * its own (VIRQ_TIMER bound to it), writes a value and sends an IPI event
 * to vCPU 0, which takes the upcall. vCPU 0 then takes vCPU 1 down (it
 * must not run, even with an event pending for it), up again (it resumes
 * where it was and answers), and checks every invalid argument of
 * initialise/up/down with Xen's error. The host (xen.smp) creates both
 * vCPUs and runs them round-robin.
 *
 * vCPU 1 runs with interrupts off and never prints: it only writes the
 * ap_* variables, which vCPU 0 checks.
 */
#include "xg.h"

#define MS        1000000ull
#define HOLE      ((void *)(ureg)XG_HOLE_GPA)
#define AP_MAGIC  0x5eed0001u
#define VCPU_DOWN 2 /* VCPUOP_down */

/* struct vcpu_hvm_context (hvm/hvm_vcpu.h). */
#define VCPU_HVM_MODE_32B 0
#define VCPU_HVM_MODE_64B 1
struct vcpu_hvm_x86_32 {
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t eip, eflags;
    uint32_t cr0, cr3, cr4;
    uint32_t pad1;
    uint64_t efer;
    uint32_t cs_base, ds_base, ss_base, es_base, tr_base;
    uint32_t cs_limit, ds_limit, ss_limit, es_limit, tr_limit;
    uint16_t cs_ar, ds_ar, ss_ar, es_ar, tr_ar;
    uint16_t pad2[3];
};
struct vcpu_hvm_x86_64 {
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    uint64_t rip, rflags;
    uint64_t cr0, cr3, cr4, efer;
};
struct vcpu_hvm_context {
    uint32_t mode;
    uint32_t pad;
    union {
        struct vcpu_hvm_x86_32 x86_32;
        struct vcpu_hvm_x86_64 x86_64;
    } cpu_regs;
} __attribute__((aligned(8)));
_Static_assert(sizeof(struct vcpu_hvm_context) == 128, "vcpu_hvm_context");

struct __attribute__((packed)) dtr {
    uint16_t limit;
    ureg base;
};

static struct dtr ap_gdt, ap_idt;
static evtchn_port_t port0, port1, tport;
static volatile uint32_t ap_stage, ap_value, ap_vcpu_id, ap_timer_ok, ap_pongs;
static uint8_t ap_stack[4096] __attribute__((aligned(16)));
static uint8_t vi1_page[4096] __attribute__((aligned(4096)));

void xg_ap_entry(void);
void xg_ap_main(void);

/* vCPU 1 starts here with the stack of its context. */
__asm__(".text\n"
        ".globl xg_ap_entry\n"
        "xg_ap_entry:\n"
        "    call xg_ap_main\n"
        "1:  hlt\n"
        "    jmp 1b\n");

static long vcpuop(unsigned cmd, unsigned vcpu, void *arg)
{
    return HC3(HC_vcpu_op, cmd, vcpu, arg);
}

static bool take(evtchn_port_t p)
{
    if (!xg_test_bit(xg_shinfo->evtchn_pending, p))
        return false;
    xg_clear_bit(xg_shinfo->evtchn_pending, p);
    return true;
}

void xg_ap_main(void)
{
    __asm__ volatile("lgdt %0\n\tlidt %1" : : "m"(ap_gdt), "m"(ap_idt) : "memory");
    uint32_t r[4];
    xg_cpuid(xg_cpuid_base() + 4, 0, r);
    ap_vcpu_id = r[1];
    /* A timer of its own: VIRQ_TIMER of vCPU 1 fires into tport. */
    struct vcpu_set_singleshot_timer ss = {.timeout_abs_ns = xg_now() + 2 * MS};
    if (vcpuop(VCPUOP_set_singleshot_timer, 1, &ss) == 0) {
        for (int i = 0; i < 1000 && !take(tport); i++)
            xg_poll(&tport, 1, 0);
        ap_timer_ok = 1;
    }
    ap_value = AP_MAGIC;
    ap_stage = 1;
    xg_send(port0);
    /* Answer every ping on port1 (VCPUOP_down may stop it anywhere here). */
    for (;;) {
        if (take(port1)) {
            ap_pongs++;
            xg_send(port0);
        }
        xg_poll(&port1, 1, 0);
    }
}

static void read_cr(ureg *cr0, ureg *cr3, ureg *cr4)
{
    __asm__ volatile("mov %%cr0, %0" : "=r"(*cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(*cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(*cr4));
}

/* vCPU 1's start: this guest's own mode, flat, IF = 0. */
static struct vcpu_hvm_context good_context(void)
{
    struct vcpu_hvm_context c;
    memset(&c, 0, sizeof(c));
    ureg cr0, cr3, cr4;
    read_cr(&cr0, &cr3, &cr4);
#ifdef __x86_64__
    c.mode = VCPU_HVM_MODE_64B;
    struct vcpu_hvm_x86_64 *r = &c.cpu_regs.x86_64;
    r->rip = (ureg)xg_ap_entry;
    r->rsp = (ureg)(ap_stack + sizeof(ap_stack));
    r->rflags = 0x2;
    r->cr0 = cr0;
    r->cr3 = cr3;
    r->cr4 = cr4;
    r->efer = xg_rdmsr(0xc0000080u);
#else
    c.mode = VCPU_HVM_MODE_32B;
    struct vcpu_hvm_x86_32 *r = &c.cpu_regs.x86_32;
    r->eip = (ureg)xg_ap_entry;
    r->esp = (ureg)(ap_stack + sizeof(ap_stack));
    r->eflags = 0x2;
    r->cr0 = cr0;
    r->cr3 = cr3;
    r->cr4 = cr4;
    r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = 0xfffff;
    r->cs_ar = 0xc9b; /* G D P S, code exec/read */
    r->ds_ar = r->ss_ar = r->es_ar = 0xc93;
    r->tr_limit = 0x67;
    r->tr_ar = 0x8b;
#endif
    return c;
}

/* Contexts arch_set_info_hvm_guest refuses with -EINVAL. */
static void bad_contexts(const struct vcpu_hvm_context *good)
{
    struct vcpu_hvm_context c = *good;
    c.mode = 2;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &c), -EINVAL);
    c = *good;
    c.pad = 1;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &c), -EINVAL);
    /* 64-bit mode without paging, PAE or LME; a non-canonical RIP. */
    struct vcpu_hvm_context b;
    memset(&b, 0, sizeof(b));
    b.mode = VCPU_HVM_MODE_64B;
    b.cpu_regs.x86_64.cr0 = 0x11;
    b.cpu_regs.x86_64.cr4 = 0x20;
    b.cpu_regs.x86_64.efer = 0x100;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &b), -EINVAL);
    b.cpu_regs.x86_64.cr0 = 0x80000011u;
    b.cpu_regs.x86_64.cr4 = 0;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &b), -EINVAL);
    b.cpu_regs.x86_64.cr4 = 0x20;
    b.cpu_regs.x86_64.efer = 0;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &b), -EINVAL);
    b.cpu_regs.x86_64.efer = 0x100;
    b.cpu_regs.x86_64.rip = 0x0000800000000000ull;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &b), -EINVAL);
    b.cpu_regs.x86_64.rip = 0x1000;
    b.cpu_regs.x86_64.cr3 = XG_HOLE_GPA; /* page tables outside RAM */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &b), -EINVAL);
    /* 32-bit mode: segments, EIP against CS, DPLs, EFER. */
    struct vcpu_hvm_context g;
    memset(&g, 0, sizeof(g));
    g.mode = VCPU_HVM_MODE_32B;
    struct vcpu_hvm_x86_32 *r = &g.cpu_regs.x86_32;
    r->cr0 = 0x11;
    r->eip = 0x2000;
    r->cs_limit = r->ss_limit = 0xfffff;
    r->cs_ar = 0xc9b;
    r->ss_ar = 0xc93;
    r->tr_limit = 0x67;
    r->tr_ar = 0x8b;
    struct vcpu_hvm_context t = g;
    t.cpu_regs.x86_32.cs_ar = 0; /* null CS */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.ss_ar = 0xc91; /* read-only SS */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.tr_ar = 0x83; /* not a 32-bit TSS */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.cs_ar = 0x49b;    /* byte granular: */
    t.cpu_regs.x86_32.cs_limit = 0xfff; /* EIP beyond the limit */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.ss_ar = 0xcf3; /* SS.DPL 3 != CS.DPL 0 */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.efer = 0x400; /* LMA without LME */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
    t = g;
    t.cpu_regs.x86_32.pad1 = 1;
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &t), -EINVAL);
}

/* Block with events on until @p v reaches @p want (or 5 s pass). */
static bool wait_for(volatile uint32_t *v, uint32_t want)
{
    uint64_t end = xg_now() + 5000 * MS;
    while (*v < want && xg_now() < end) {
        xg_sti();
        xg_sched(SCHEDOP_block, NULL);
        xg_cli();
    }
    return *v >= want;
}

void xg_test_smp(void)
{
    struct vcpu_hvm_context good = good_context();
    __asm__ volatile("sgdt %0\n\tsidt %1" : "=m"(ap_gdt), "=m"(ap_idt));

    /* Before bring-up. */
    CHECK_EQ(vcpuop(VCPUOP_is_up, 0, NULL), 1);
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPUOP_up, 1, NULL), -EINVAL); /* never initialised */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 0, &good), -EEXIST);
    CHECK_EQ(vcpuop(VCPUOP_initialise, 2, &good), -ENOENT); /* 2 vCPU slots */
    CHECK_EQ(vcpuop(VCPUOP_up, 2, NULL), -ENOENT);
    CHECK_EQ(vcpuop(VCPU_DOWN, 2, NULL), -ENOENT);
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, HOLE), -EFAULT);
    bad_contexts(&good);
    CHECK_EQ(vcpuop(VCPUOP_up, 1, NULL), -EINVAL); /* still uninitialised */

    /* vCPU 1's vcpu_info (allowed while it is down), its ports, our upcall. */
    struct vcpu_register_vcpu_info ri = {.mfn = (ureg)vi1_page >> 12, .offset = 128};
    CHECK_EQ(vcpuop(VCPUOP_register_vcpu_info, 1, &ri), 0);
    struct vcpu_info *vi1 = (struct vcpu_info *)(vi1_page + 128);
    CHECK_EQ(xg_bind_ipi(0, &port0), 0);
    CHECK_EQ(xg_bind_ipi(1, &port1), 0);
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 1, &tport), 0);
    CHECK_EQ(xg_set_param(HVM_PARAM_CALLBACK_IRQ,
                          (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | XG_VEC_CALLBACK),
             0);

    /* Bring-up: initialise once, then up. */
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &good), 0);
    CHECK_EQ(vcpuop(VCPUOP_initialise, 1, &good), -EEXIST);
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 0);
    unsigned up0 = xg_upcalls;
    CHECK_EQ(vcpuop(VCPUOP_up, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPUOP_up, 1, NULL), 0); /* already up */
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 1);
    CHECK(wait_for(&ap_stage, 1));
    CHECK(wait_for(&xg_fired[port0], 1)); /* the IPI, through our upcall */
    CHECK(xg_upcalls > up0);
    CHECK_EQ(ap_value, AP_MAGIC);
    CHECK_EQ(ap_vcpu_id, 1);
    CHECK_EQ(ap_timer_ok, 1);
    CHECK_EQ(vi1->time.version & 1, 0); /* its pvclock, in its own vcpu_info */
    CHECK(vi1->time.version != 0);
    CHECK_EQ(vi1->time.tsc_to_system_mul, xg_vi->time.tsc_to_system_mul);

    /* Down: it does not run, even with an event for it. */
    CHECK_EQ(vcpuop(VCPU_DOWN, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPU_DOWN, 1, NULL), 0); /* again: nothing changes */
    uint32_t pongs = ap_pongs;
    CHECK_EQ(xg_send(port1), 0);
    for (int i = 0; i < 5; i++)
        xg_sched(SCHEDOP_yield, NULL);
    xg_spin_ns(5 * MS);
    CHECK_EQ(ap_pongs, pongs);
    /* Up again: it resumes and answers the pending ping. */
    unsigned fired = xg_fired[port0];
    CHECK_EQ(vcpuop(VCPUOP_up, 1, NULL), 0);
    CHECK(wait_for(&ap_pongs, pongs + 1));
    CHECK(wait_for(&xg_fired[port0], fired + 1));
    CHECK_EQ(ap_pongs, pongs + 1);
    /* Down for good; the domain powers off from vCPU 0. */
    CHECK_EQ(vcpuop(VCPU_DOWN, 1, NULL), 0);
    CHECK_EQ(vcpuop(VCPUOP_is_up, 1, NULL), 0);
}
