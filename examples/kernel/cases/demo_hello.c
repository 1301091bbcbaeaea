/*
 * demo.hello: the smallest complete use of libhv, and what ./examples/demo.sh
 * shows first. It creates a context and a VM with 1 MiB of RAM, loads a
 * guest that starts in real mode and switches itself to 64-bit mode
 * (tests/system/guests/demo/hello.S), runs it, and prints what the host
 * saw: the bytes the guest wrote to I/O port 0xe9, as lines, then the
 * exits by kind, the time spent in the guest and the mode it ended in.
 *
 * Every call here is the public API (include/hv); the kernel provides the
 * host services (kc->host_ops, see host_ops.c) and the guest RAM.
 */
#include <hv/hv.h>

#include "kcase.h"

#define DEMO_PORT     0xe9 /* the guest's console: one byte per OUT */
#define DEMO_RAM_SIZE (1u << 20)
#define DEMO_LOAD_GPA 0x1000u /* where the guest image goes and starts */

/* The image, built by tests/system/guests/demo (weak: a kernel configured
   without tests/ has none, and the case says so). */
extern const uint8_t guest_demo_hello_start[] __attribute__((weak));
extern const uint8_t guest_demo_hello_end[] __attribute__((weak));

/* What the host saw. */
struct demo_seen {
    unsigned runs;      /* hv_vcpu_run() calls, one per exit to the host */
    unsigned outs;      /* OUTs to DEMO_PORT */
    unsigned lines;     /* lines of text printed */
    uint64_t ns_in_run; /* time inside hv_vcpu_run() */
    char line[96];      /* the guest's current line */
    unsigned len;
};

/* A byte from the guest: print complete lines, prefixed with "guest> ". */
static void guest_byte(struct demo_seen *s, char c)
{
    if (c != '\n' && s->len < sizeof(s->line) - 1) {
        s->line[s->len++] = c;
        return;
    }
    s->line[s->len] = 0;
    kprintf("demo.hello: guest> %s\n", s->line);
    s->len = 0;
    s->lines++;
}

/* The run loop: enter the guest until it halts, handling its port I/O. */
static int run_guest(struct kcase_ctx *kc, struct hv_vcpu *vcpu, struct demo_seen *s)
{
    struct hv_exit exit;
    uint64_t deadline = ktime_ns() + 10000000000ull; /* a runaway guest ends the demo */

    for (;;) {
        uint64_t t0 = ktime_ns();
        hv_status_t st = hv_vcpu_run(vcpu, &exit);
        s->ns_in_run += ktime_ns() - t0;
        s->runs++;
        if (st != HV_OK)
            return kcase_fail(kc, "hv_vcpu_run: %s", hv_status_str(st));
        switch (exit.reason) {
        case HV_EXIT_IO:
            /* OUT to our port: the byte is in exit.io.data; the guest
               resumes after the instruction at the next hv_vcpu_run(). */
            if (exit.io.write && exit.io.port == DEMO_PORT && exit.io.size == 1) {
                s->outs++;
                guest_byte(s, (char)exit.io.data);
                break;
            }
            return kcase_fail(kc, "unexpected %s of port 0x%x at rip 0x%llx",
                              exit.io.write ? "OUT" : "IN", exit.io.port,
                              (unsigned long long)exit.rip);
        case HV_EXIT_HLT:
            return 0;
        default:
            return kcase_fail(kc, "unexpected exit %u at rip 0x%llx", exit.reason,
                              (unsigned long long)exit.rip);
        }
        if (ktime_ns() > deadline)
            return kcase_fail(kc, "the guest did not halt within 10 s");
    }
}

static int demo_hello(struct kcase_ctx *kc)
{
    const uint8_t *image = guest_demo_hello_start;
    size_t image_len = (size_t)(guest_demo_hello_end - guest_demo_hello_start);
    struct hv_ctx *ctx = NULL;
    struct hv_vm *vm = NULL;
    struct hv_vcpu *vcpu = NULL;
    struct hv_caps caps = {.size = sizeof(caps)};
    struct hv_vcpu_state state;
    struct demo_seen seen = {0};
    uint8_t *ram = NULL;
    hv_status_t st;
    int rc = 0;

    if (!image || image_len == 0 || image_len > DEMO_RAM_SIZE - DEMO_LOAD_GPA)
        return kcase_fail(kc, "no demo guest image in this kernel (configure with tests)");

    /* 1. A context: probes the CPU, selects the backend (VMX or SVM) and
          enables virtualization on every host CPU. */
    if ((st = hv_ctx_create(&kc->host_ops, NULL, &ctx)) != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    hv_ctx_caps(ctx, &caps);
    kprintf("demo.hello: libhv backend %s, %u-bit guest-physical addresses, %u ASIDs/VPIDs\n",
            caps.backend_name, caps.gpa_bits, caps.asid_count);

    /* 2. A VM, and RAM for it: the embedder allocates guest memory and maps
          it at a guest-physical address (here 0, 1 MiB, read/write/exec). */
    ram = pmm_alloc(DEMO_RAM_SIZE / PAGE_SIZE);
    if (!ram)
        rc = kcase_fail(kc, "out of memory for the guest's RAM");
    if (!rc && (st = hv_vm_create(ctx, NULL, &vm)) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if (!rc && (st = hv_vm_map(vm, 0, (uintptr_t)ram, DEMO_RAM_SIZE, HV_MEM_RWX)) != HV_OK)
        rc = kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    if (!rc)
        memcpy(ram + DEMO_LOAD_GPA, image, image_len);

    /* 3. A vCPU. It is created in the reset state (real mode at
          f000:fff0); start it at 0000:1000 instead, where the image is. */
    if (!rc && (st = hv_vcpu_create(vm, 0, &vcpu)) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));
    if (!rc && (st = hv_vcpu_get_state(vcpu, HV_STATE_GPR | HV_STATE_SEG, &state)) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_get_state: %s", hv_status_str(st));
    if (!rc) {
        state.rip = DEMO_LOAD_GPA;
        state.seg[HV_SEG_CS].selector = 0;
        state.seg[HV_SEG_CS].base = 0;
        if ((st = hv_vcpu_set_state(vcpu, HV_STATE_GPR | HV_STATE_SEG, &state)) != HV_OK)
            rc = kcase_fail(kc, "hv_vcpu_set_state: %s", hv_status_str(st));
    }
    if (!rc)
        kprintf("demo.hello: guest image hello.bin (%u bytes) at 0x%x, starting in real mode\n",
                (unsigned)image_len, DEMO_LOAD_GPA);

    /* 4. Run it until it halts. The loop handles its exits right here
          without sleeping, so the vCPU stays bound to this CPU for it
          (hv_vcpu_load): each run then skips what it would otherwise redo
          for the host, such as the x87/SSE switch (this kernel uses no
          FPU register, as HV_LOAD_GUEST_FPU requires). */
    if (!rc && (st = hv_vcpu_load(vcpu, HV_LOAD_GUEST_FPU)) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_load: %s", hv_status_str(st));
    if (!rc) {
        rc = run_guest(kc, vcpu, &seen);
        if ((st = hv_vcpu_put(vcpu)) != HV_OK && !rc)
            rc = kcase_fail(kc, "hv_vcpu_put: %s", hv_status_str(st));
    }

    /* 5. What the host saw, and where the guest ended. */
    if (!rc && (st = hv_vcpu_get_state(vcpu, HV_STATE_CR | HV_STATE_SEG, &state)) != HV_OK)
        rc = kcase_fail(kc, "hv_vcpu_get_state: %s", hv_status_str(st));
    if (!rc) {
        bool long_mode = (state.efer & 0x400) && (state.seg[HV_SEG_CS].attr & HV_SEG_L);
        kprintf("demo.hello: the host saw %u OUTs of one byte to port 0x%x, then HLT: %u exits\n",
                seen.outs, DEMO_PORT, seen.runs);
        kprintf("demo.hello: %llu us in hv_vcpu_run(), %llu us per exit\n",
                (unsigned long long)(seen.ns_in_run / 1000),
                (unsigned long long)(seen.ns_in_run / 1000 / (seen.runs ? seen.runs : 1)));
        kprintf("demo.hello: the guest ended in %s (CR0 0x%llx, EFER 0x%llx)\n",
                long_mode ? "64-bit mode" : "a mode other than 64-bit",
                (unsigned long long)state.cr0, (unsigned long long)state.efer);
        if (seen.lines != 1 || !long_mode)
            rc = kcase_fail(kc, "expected one line of text and 64-bit mode at the end");
    }

    /* 6. Tear down: vCPU, VM, RAM, context. */
    if (vcpu)
        hv_vcpu_destroy(vcpu);
    if (vm)
        hv_vm_destroy(vm);
    if (ram)
        pmm_free(ram, DEMO_RAM_SIZE / PAGE_SIZE);
    hv_ctx_destroy(ctx);
    return rc;
}

static const struct kcase demo_cases[] KCASE_TABLE = {
    {"demo.hello", demo_hello, KCASE_EXPLICIT},
};
