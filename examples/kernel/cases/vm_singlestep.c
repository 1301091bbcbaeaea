/*
 * vm.singlestep: a guest single-stepping (RFLAGS.TF) over instructions that
 * never run on the CPU because libhv or the embedder finishes them (CPUID,
 * OUT, IN, VMMCALL/VMCALL, an MMIO store, HLT; INVD and, on SVM, RDMSR of
 * EFER, which the backend finishes on its own) gets one #DB after each,
 * with DR6.BS, at the next instruction (SDM Vol. 3B 18.3.1.4, APM Vol. 2
 * 13.1.3), before that instruction runs; one after an instruction the CPU
 * runs itself (the JMP after HLT), for comparison; none after an OUT run
 * with TF clear.
 */
#include "vm_harness.h"

#include "core/util.h"

#define DR6_BS    (1u << 14)
#define STEP_MMIO 0x9000u /* an embedder MMIO page inside the 1 MiB of RAM */
#define IN_VALUE  0x5au
#define OFF_HCALL 0x28u /* the byte that tells VMMCALL (D9) from VMCALL (C1) */
#define RIP(off)  (VMT_LOAD_GPA + (off))

/*
 * Real mode at 0000:1000 (hand-assembled). The #DB handler (IVT entry 1,
 * at 0000:1100) reports the return IP and DR6 as two 32-bit OUTs to
 * PORT_VAL, then resets DR6 (software clears DR6, SDM Vol. 3B 18.2.3);
 * it runs with TF clear (interrupt delivery clears it) and its IRET
 * restores it.
 */
/* clang-format off */
static const uint8_t step_code[0x120] = {
    0x31, 0xc0,                         /* 00: xor %ax, %ax */
    0x8e, 0xd8,                         /* 02: mov %ax, %ds */
    0x8e, 0xd0,                         /* 04: mov %ax, %ss */
    0xbc, 0x00, 0x80,                   /* 06: mov $0x8000, %sp */
    0xc7, 0x06, 0x04, 0x00, 0x00, 0x11, /* 09: movw $0x1100, 0x4 (IVT[1] IP) */
    0xc7, 0x06, 0x06, 0x00, 0x00, 0x00, /* 0f: movw $0, 0x6 (IVT[1] CS) */
    0xe6, PORT_MARK,                    /* 15: out %al, $0x80     TF clear: no #DB */
    0x9c,                               /* 17: pushf */
    0x58,                               /* 18: pop %ax */
    0x0d, 0x00, 0x01,                   /* 19: or $0x100, %ax (TF) */
    0x50,                               /* 1c: push %ax */
    0x31, 0xc0,                         /* 1d: xor %ax, %ax */
    0x9d,                               /* 1f: popf: TF on, no trap after it */
    0x0f, 0xa2,                         /* 20: cpuid              #DB at 22 */
    0xe6, PORT_MARK,                    /* 22: out %al, $0x80     #DB at 24 */
    0xe4, PORT_ARG,                     /* 24: in $0xe4, %al      #DB at 26 */
    0x0f, 0x01, 0xd9,                   /* 26: vmmcall (vmcall)   #DB at 29 */
    0xa2, 0x00, 0x90,                   /* 29: mov %al, 0x9000    #DB at 2c */
    0x0f, 0x08,                         /* 2c: invd (the backend) #DB at 2e */
    0x66, 0xb9, 0x80, 0x00, 0x00, 0xc0, /* 2e: mov $EFER, %ecx    #DB at 34 */
    0x0f, 0x32,                         /* 34: rdmsr (SVM: the backend) #DB at 36 */
    0xf4,                               /* 36: hlt                #DB at 37 */
    0xeb, 0xfd,                         /* 37: jmp 36             #DB at 36 */
    [0x100] = 0x55,                     /* 100: push %bp */
    0x89, 0xe5,                         /* 101: mov %sp, %bp */
    0x66, 0x50,                         /* 103: push %eax */
    0x66, 0x0f, 0xb7, 0x46, 0x02,       /* 105: movzwl 2(%bp), %eax (return IP) */
    0x66, 0xe7, PORT_VAL,               /* 10a: out %eax, $PORT_VAL */
    0x0f, 0x21, 0xf0,                   /* 10d: mov %dr6, %eax */
    0x66, 0xe7, PORT_VAL,               /* 110: out %eax, $PORT_VAL */
    0x66, 0xb8, 0xf0, 0x0f, 0xff, 0xff, /* 113: mov $0xffff0ff0, %eax (DR6 at reset) */
    0x0f, 0x23, 0xf0,                   /* 119: mov %eax, %dr6 */
    0x66, 0x58,                         /* 11c: pop %eax */
    0x5d,                               /* 11e: pop %bp */
    0xcf,                               /* 11f: iret */
};
/* clang-format on */
static const struct vmt_image step_guest = {"singlestep", step_code, step_code + sizeof(step_code)};

static uint32_t step_in(struct vmt *t, uint16_t port, uint8_t size)
{
    (void)t;
    (void)port;
    (void)size;
    return IN_VALUE;
}

/* The handler's report at t->outs[*i]: one #DB, return IP @p ip, DR6.BS. */
static int expect_db(struct vmt *t, unsigned *i, uint32_t ip, const char *after)
{
    if (*i + 2 > t->nouts)
        return kcase_fail(t->kc, "no #DB after %s (expected at IP 0x%x; %u OUTs)", after, ip,
                          t->nouts);
    const struct vmt_out *o = &t->outs[*i];
    if (o[0].port != PORT_VAL || o[0].size != 4 || o[1].port != PORT_VAL || o[1].size != 4)
        return kcase_fail(t->kc, "after %s: OUT to 0x%x/%u, expected the #DB handler's report",
                          after, o[0].port, o[0].size);
    if (o[0].value != ip)
        return kcase_fail(t->kc, "#DB after %s at IP 0x%x, expected 0x%x", after, o[0].value, ip);
    if (!(o[1].value & DR6_BS))
        return kcase_fail(t->kc, "#DB after %s: DR6 0x%x without BS", after, o[1].value);
    *i += 2;
    return 0;
}

/* All of t->outs consumed: nothing more than expected (a second #DB). */
static int expect_end(struct vmt *t, unsigned i, const char *what)
{
    if (i != t->nouts)
        return kcase_fail(t->kc, "%s: %u OUTs, expected %u (first extra: port 0x%x value 0x%x)",
                          what, t->nouts, i, t->outs[i].port, t->outs[i].value);
    t->nouts = 0;
    return 0;
}

/* Run to an exit of @p reason at @p rip (the guest's IP). */
static int run_to(struct vmt *t, uint32_t reason, uint32_t ip)
{
    if (vmt_run_until(t, reason))
        return -1;
    if ((t->exit.rip & 0xffff) != ip)
        return kcase_fail(t->kc, "%s exit at 0x%llx, expected 0x%x", vmt_exit_name(reason),
                          (unsigned long long)t->exit.rip, ip);
    return 0;
}

/* The OUT to PORT_MARK at t->outs[*i]. */
static int expect_mark(struct vmt *t, unsigned *i, const char *what)
{
    if (*i >= t->nouts || t->outs[*i].port != PORT_MARK)
        return kcase_fail(t->kc, "%s: no OUT to 0x%x where expected", what, PORT_MARK);
    (*i)++;
    return 0;
}

static int steps(struct vmt *t)
{
    unsigned i = 0;
    int rc = run_to(t, HV_EXIT_HYPERCALL, RIP(0x26));
    /* An OUT with TF clear: no #DB, the CPUID's comes next. */
    if (!rc)
        rc = expect_mark(t, &i, "the OUT before TF");
    /* CPUID (libhv), OUT (the embedder, completed at the next run), IN. */
    if (!rc)
        rc = expect_db(t, &i, RIP(0x22), "CPUID");
    if (!rc)
        rc = expect_mark(t, &i, "the OUT after CPUID");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x24), "OUT");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x26), "IN");
    if (!rc)
        rc = expect_end(t, i, "up to the hypercall");
    /* The hypercall, answered by the embedder; then the MMIO store. */
    i = 0;
    if (!rc)
        rc = run_to(t, HV_EXIT_MMIO, RIP(0x29));
    if (!rc &&
        (t->exit.mmio.gpa != STEP_MMIO || !t->exit.mmio.write || t->exit.mmio.data != IN_VALUE))
        rc = kcase_fail(t->kc, "MMIO exit: gpa 0x%llx write %u data 0x%llx",
                        (unsigned long long)t->exit.mmio.gpa, t->exit.mmio.write,
                        (unsigned long long)t->exit.mmio.data);
    if (!rc)
        rc = expect_db(t, &i, RIP(0x29), "the hypercall");
    if (!rc)
        rc = expect_end(t, i, "hypercall");
    /* The MMIO store's completion, INVD (finished inside the backend), the
       MOV (the CPU), RDMSR of EFER (inside SVM's backend, on the CPU with
       VMX), then HLT. */
    i = 0;
    if (!rc)
        rc = run_to(t, HV_EXIT_HLT, RIP(0x36));
    if (!rc)
        rc = expect_db(t, &i, RIP(0x2c), "the MMIO store");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x2e), "INVD");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x34), "the MOV to ECX");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x36), "RDMSR of EFER");
    if (!rc)
        rc = expect_end(t, i, "MMIO store, INVD and RDMSR");
    /* HLT's #DB at the next run; the JMP runs on the CPU and traps there. */
    i = 0;
    if (!rc)
        rc = run_to(t, HV_EXIT_HLT, RIP(0x36));
    if (!rc)
        rc = expect_db(t, &i, RIP(0x37), "HLT");
    if (!rc)
        rc = expect_db(t, &i, RIP(0x36), "the JMP");
    if (!rc)
        rc = expect_end(t, i, "HLT and JMP");
    return rc;
}

static int case_singlestep(struct kcase_ctx *kc)
{
    struct hv_ctx *ctx;
    struct hv_caps caps;
    struct vmt t;
    hv_status_t s;
    int rc;

    hv_memset(&t, 0, sizeof(t));
    hv_memset(&caps, 0, sizeof(caps));
    caps.size = sizeof(caps);
    if (vmt_ctx_create(kc, &ctx))
        return -1;
    rc = vmt_create(kc, ctx, &t, &step_guest);
    t.on_in = step_in;
    if (!rc && (s = hv_ctx_caps(ctx, &caps)) != HV_OK)
        rc = kcase_fail(kc, "hv_ctx_caps: %s", hv_status_str(s));
    if (!rc && caps.backend == HV_BACKEND_VMX)
        t.ram[RIP(OFF_HCALL)] = 0xc1; /* VMCALL: VMMCALL is #UD on Intel */
    if (!rc && (s = hv_vm_unmap(t.vm, STEP_MMIO, PAGE_SIZE)) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_unmap: %s", hv_status_str(s));
    if (!rc && (s = hv_vm_mmio_register(t.vm, STEP_MMIO, PAGE_SIZE, NULL, NULL)) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_mmio_register: %s", hv_status_str(s));
    if (!rc)
        rc = steps(&t);
    if (!rc)
        kprintf("vm.singlestep: one #DB with DR6.BS after CPUID, OUT, IN, %s, MMIO, INVD, RDMSR, HLT, JMP\n",
                caps.backend == HV_BACKEND_VMX ? "VMCALL" : "VMMCALL");
    vmt_destroy(&t);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase vm_singlestep_cases[] KCASE_TABLE = {
    {"vm.singlestep", case_singlestep, 0},
};
