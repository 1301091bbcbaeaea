/*
 * Shared harness of the VM system-test cases (cases/vm_*.c). Backend
 * agnostic: only the public libhv API, so the same cases run on SVM (QEMU,
 * Bochs ryzen) and VMX (Bochs).
 *
 * A test VM has 1 MiB of RAM at gpa 0 from the kernel's page allocator, a
 * guest image from tests/system/guests/ loaded at gpa 0x1000, and a page at
 * gpa 0xfffff000 whose reset vector (0xfffffff0) jumps to 0000:1000, so the
 * guest starts from the architectural reset state of a new vCPU.
 *
 * vmt_run() runs the guest, recording every OUT (port, size, value) and
 * answering INs through t->on_in, until another exit; a watchdog kicks a
 * guest that stops exiting for VMT_WATCHDOG_TICKS.
 */
#ifndef KERNEL_CASES_VM_HARNESS_H
#define KERNEL_CASES_VM_HARNESS_H

#include <hv/hv.h>

#include "kcase.h"

/* Ports of tests/system/guests/guest.inc. */
#define PORT_MARK 0x80
#define PORT_VAL  0xe0
#define PORT_ARG  0xe4

#define VMT_RAM_SIZE       (1u << 20)
#define VMT_LOAD_GPA       0x1000u
#define VMT_RESET_GPA      0xfffff000ull
#define VMT_MAX_OUTS       64
#define VMT_WATCHDOG_TICKS (3 * TIMER_HZ)

/* A guest image embedded by tests/system/guests/CMakeLists.txt. */
struct vmt_image {
    const char *name;
    const uint8_t *start, *end;
};

#define VMT_GUEST(n)                                                                               \
    extern const uint8_t guest_##n##_start[], guest_##n##_end[];                                   \
    static const struct vmt_image guest_##n = {#n, guest_##n##_start, guest_##n##_end}

struct vmt_out {
    uint16_t port;
    uint8_t size;
    uint32_t value;
};

struct vmt {
    struct kcase_ctx *kc;
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    uint8_t *ram;
    uint8_t *reset_page;
    struct hv_exit exit;
    /* OUTs recorded by vmt_run (the oldest first). */
    unsigned nouts;
    struct vmt_out outs[VMT_MAX_OUTS];
    /* IN handler: the value the guest reads; NULL makes vmt_run return. */
    uint32_t (*on_in)(struct vmt *t, uint16_t port, uint8_t size);
    void *arg;
    /* Watchdog (timer tick callback). */
    volatile uint64_t deadline;
    volatile bool watchdog_fired;
    bool watchdog_armed;
};

/* Create a context with the kernel's host services. */
int vmt_ctx_create(struct kcase_ctx *kc, struct hv_ctx **ctx);

/* Guest RAM (zeroed, @p img loaded at VMT_LOAD_GPA), the reset page
   jumping there, and a VM of at most @p max_vcpus vCPUs mapping both,
   none created yet: for cases that set the VM up further first (as
   vmt_create does with one vCPU). What it allocated is in *ram,
   *reset_page and *vm even on failure, for the caller to free. */
int vmt_vm_create(struct kcase_ctx *kc, struct hv_ctx *ctx, const struct vmt_image *img,
                  uint32_t max_vcpus, uint8_t **ram, uint8_t **reset_page, struct hv_vm **vm);

/* Create a VM with RAM, the reset page and one vCPU; load @p img. */
int vmt_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct vmt *t,
               const struct vmt_image *img);

/* Destroy vCPU and VM, free RAM. Safe on a partly created or zeroed vmt. */
void vmt_destroy(struct vmt *t);

/*
 * Run until an exit other than a recorded OUT or an answered IN. Returns 0
 * with t->exit filled, or fails the case (non-zero) on a libhv error, a
 * watchdog kick, or a full OUT record.
 */
int vmt_run(struct vmt *t);

/* Run and require the exit to be of @p reason. */
int vmt_run_until(struct vmt *t, uint32_t reason);

/* The IN answers of the io guest (tests/system/guests/io.S), with junk in
   the bytes beyond the access size: only the accessed bytes may reach the
   guest. */
uint32_t vmt_io_guest_in(struct vmt *t, uint16_t port, uint8_t size);

/* Compare the recorded OUTs with @p exp; reports the first difference. */
int vmt_expect(struct vmt *t, const struct vmt_out *exp, unsigned n);

/* Shorthands for expected records. */
#define OUT_MARK(v)                                                                                \
    {                                                                                              \
        PORT_MARK, 1, (v)                                                                          \
    }
#define OUT_VAL(v)                                                                                 \
    {                                                                                              \
        PORT_VAL, 4, (v)                                                                           \
    }

/* Name of an exit reason, for messages. */
const char *vmt_exit_name(uint32_t reason);

#endif /* KERNEL_CASES_VM_HARNESS_H */
