/*
 * vm.breakpoint: a guest's own hardware breakpoint fires, before and
 * after an exit to the host (core/debugreg.h). The guest, in flat 32-bit
 * protected mode with a #DB handler,
 *   - sets DR0 to an instruction and DR7.L0 (an execute breakpoint, SDM
 *     Vol. 3B 18.2.4) and runs the instruction: its MOV to DR0 is the
 *     first access, which loads its DR0-3;
 *   - sets DR0 to a second instruction and DR7.L0 again, exits to the
 *     host with an OUT (hv_vcpu_run returns and puts the host's DR0-3
 *     back) and then, touching no debug register, runs that instruction:
 *     the next run must have loaded its DR0 again, or the breakpoint sits
 *     at the host's address;
 * and reports DR6 as its handler saw it each time (B0 set: breakpoint 0
 * matched). The handler clears DR7 so that the faulting instruction runs
 * on return. Where the CPU model has no hardware breakpoints (the first
 * one does not fire) the case says so and checks only that the host's
 * DR0-3 are its own afterwards.
 */
#include "core/cpu.h"
#include "core/util.h"
#include "guest32.h"
#include "vm_harness.h"

#define BP_ADDR(l) G32_ADDR(bp, l)

/* clang-format off */
__asm__(".pushsection .rodata.vm_breakpoint, \"a\"\n"
        ".balign 16\n"
        "bp_start:\n"
        G32_ENTER(bp)
        /* IDT[1]: the #DB handler (a 32-bit interrupt gate) */
        "    movl $" BP_ADDR(db) ", %eax\n"
        "    movw %ax, " BP_ADDR(idt) " + 8\n"
        "    movw $0x08, " BP_ADDR(idt) " + 10\n"
        "    movw $0x8e00, " BP_ADDR(idt) " + 12\n"
        "    movw $0, " BP_ADDR(idt) " + 14\n"
        /* 1: the first access, then the breakpoint at once */
        "    movl $0, " BP_ADDR(seen) "\n"
        "    movl $" BP_ADDR(at1) ", %eax\n"
        "    movl %eax, %dr0\n"
        "    movl $1, %eax\n"
        "    movl %eax, %dr7\n"
        "bp_at1:\n"
        "    nop\n"
        "    movl " BP_ADDR(seen) ", %eax\n"
        "    outl %eax, $0xe0\n"
        /* 2: armed, an exit to the host, then the breakpoint */
        "    movl $0, " BP_ADDR(seen) "\n"
        "    movl $" BP_ADDR(at2) ", %eax\n"
        "    movl %eax, %dr0\n"
        "    movl $1, %eax\n"
        "    movl %eax, %dr7\n"
        "    movb $1, %al\n"
        "    outb %al, $0x80\n"
        "bp_at2:\n"
        "    nop\n"
        "    movl " BP_ADDR(seen) ", %eax\n"
        "    outl %eax, $0xe0\n"
        "    movb $0xff, %al\n"
        "    outb %al, $0x80\n"
        "1:  hlt\n"
        "    jmp 1b\n"
        /* #DB: DR6 (B0-B3 tell which breakpoint) saved, DR7 cleared */
        "bp_db:\n"
        "    pushl %eax\n"
        "    movl %dr6, %eax\n"
        "    movl %eax, " BP_ADDR(seen) "\n"
        "    xorl %eax, %eax\n"
        "    movl %eax, %dr7\n"
        "    popl %eax\n"
        "    iret\n"
        ".balign 4\n"
        "bp_seen: .long 0\n"
        G32_FAULTS(bp)
        "bp_end:\n"
        ".code64\n"
        ".popsection\n");
/* clang-format on */

extern const uint8_t bp_start[], bp_end[];
static const struct vmt_image bp_guest = {"vm_breakpoint", bp_start, bp_end};

#define DR6_B0 1u

static int case_breakpoint(struct kcase_ctx *kc)
{
    /* The host's DR0 points elsewhere in the guest's space: a breakpoint
       left there would never match the guest's instruction. */
    static const uint64_t host[4] = {0x7000, 0x7100, 0x7200, 0x7300};
    struct hv_ctx *ctx;
    struct vmt t;
    uint64_t saved[4];
    int rc;

    hv_read_dr0_3(saved);
    hv_write_dr0_3(host);
    hv_memset(&t, 0, sizeof(t));
    rc = vmt_ctx_create(kc, &ctx);
    if (rc)
        goto restore;
    rc = vmt_create(kc, ctx, &t, &bp_guest);
    if (!rc)
        rc = vmt_run_until(&t, HV_EXIT_HLT);
    if (!rc && (t.nouts != 4 || t.outs[0].port != PORT_VAL || t.outs[2].port != PORT_VAL ||
                t.outs[3].port != PORT_MARK || t.outs[3].value != 0xff))
        rc = kcase_fail(kc, "the guest reported %u values, expected 2, a mark and its end mark",
                        t.nouts);
    if (!rc) {
        uint32_t first = t.outs[0].value, second = t.outs[2].value;
        if (!(first & DR6_B0)) {
            kprintf("vm.breakpoint: this CPU model raised no #DB for an execute breakpoint "
                    "(DR6 0x%x): nothing more to check here\n",
                    first);
        } else if (!(second & DR6_B0)) {
            rc = kcase_fail(kc,
                            "the breakpoint armed before an exit to the host did not fire "
                            "after it (DR6 0x%x)",
                            second);
        } else {
            kprintf("vm.breakpoint: the guest's breakpoint fired at its first access and after "
                    "an exit to the host (DR6 0x%x, 0x%x)\n",
                    first, second);
        }
    }
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    uint64_t now[4];
    hv_read_dr0_3(now);
    for (unsigned i = 0; i < 4 && !rc; i++)
        if (now[i] != host[i])
            rc = kcase_fail(kc, "the host's DR%u is 0x%lx after the guest, was 0x%lx", i,
                            (unsigned long)now[i], (unsigned long)host[i]);
restore:
    hv_write_dr0_3(saved);
    return rc;
}

static const struct kcase vm_breakpoint_cases[] KCASE_TABLE = {
    {"vm.breakpoint", case_breakpoint, 0},
};
