/*
 * The instruction assist inside the run loop: emulate an access to a
 * registered MMIO region or a string I/O instruction (libhv/emu does the
 * decoding; this file connects it to the VM, its regions and the
 * embedder).
 */
#ifndef HV_CORE_ASSIST_H
#define HV_CORE_ASSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hv/assist.h>
#include <hv/status.h>

struct hv_vcpu;
struct hv_vm;
struct hv_vexit;
struct hv_exit;

/* A registered MMIO region: [gpa, gpa + len), its handler (NULL: the
   embedder's) and the handler's opaque. */
struct mmio_region {
    uint64_t gpa, len;
    hv_mmio_handler handler;
    void *opaque;
};

/* gpa lies in region r (false for an empty one, len 0). One compare:
   below r->gpa the difference wraps past any length a region can have
   (a region never wraps itself: hv_range_valid). */
static inline bool hv_mmio_region_holds(const struct mmio_region *r, uint64_t gpa)
{
    return gpa - r->gpa < r->len;
}

/* A VM's regions (vm->assist, allocated at the first registration). */
struct hv_assist_vm {
    struct mmio_region regions[HV_MMIO_REGIONS_MAX];
    uint32_t count;
    /* The per-vCPU region (hv_assist_register_vcpu; len 0: none): its
       handler gets the accessing vCPU. Outside regions[], so that the
       exit fast path (hv_fast_npf) never finds it: the full path
       carries it out and its event delivery follows. */
    struct mmio_region vcpu_region;
    /* Its handler for the exit fast path (NULL: none; the full path
       takes every access): called with the accessing vCPU, it carries out
       what needs neither the embedder nor another CPU and declines the
       rest (HV_ERR_AGAIN, nothing changed), which the full path then
       takes. */
    hv_mmio_handler vcpu_fast;
};

/* The region holding gpa, every one of regions[] tried (the vCPU's hint
   updated), then the per-vCPU region if it has a fast-path handler; NULL
   if none: core/fast.h hv_fast_mmio_region's miss. */
const struct mmio_region *hv_assist_region_scan(struct hv_vcpu *vcpu, uint64_t gpa);

/* The registered MMIO region holding gpa, or NULL (NPF dispatch); the
   region vcpu found last is tried first. */
const struct mmio_region *hv_assist_region(struct hv_vcpu *vcpu, uint64_t gpa);

/* hv_vm_mmio_register() for a device of each vCPU (the local APIC; one
   such region per VM, not counted in HV_MMIO_REGIONS_MAX): the handlers
   get the accessing vCPU as their opaque. The exit fast path
   (hv_fast_npf) gives a plain MOV to `fast` (may be NULL), which may
   decline it with HV_ERR_AGAIN; the backend runs the event delivery
   after what it carried out. Everything else takes the full exit path,
   where a plain MOV goes through hv_assist_fast to `handler` as in any
   region. */
hv_status_t hv_assist_register_vcpu(struct hv_vm *vm, uint64_t gpa, uint64_t len,
                                    hv_mmio_handler handler, hv_mmio_handler fast);

/*
 * Emulate the instruction at the guest's RIP (after an NPF in a region or a
 * string I/O exit; vx may be NULL when retrying after the embedder
 * completed an access). Returns true when the embedder must see `exit`.
 */
bool hv_assist_emulate(struct hv_vcpu *vcpu, const struct hv_vexit *vx, struct hv_exit *exit);

/* Record the embedder's result of the pending access (from `exit`). */
void hv_assist_complete(struct hv_vcpu *vcpu, const struct hv_exit *exit);

/*
 * Copy up to @p max instruction bytes at the guest's CS:RIP into @p buf, as
 * the CPU fetches them: through the guest's page tables with execute access
 * at the current privilege level (emu/walk.h), within the CS limit outside
 * 64-bit mode. Stops at the first byte that cannot be fetched (page fault,
 * CS limit, non-canonical address, memory that is not RAM) without raising
 * anything in the guest. Returns the number of bytes copied. For backends
 * that must measure an instruction the CPU reported no length for.
 */
size_t hv_assist_fetch_insn(struct hv_vcpu *vcpu, uint8_t *buf, size_t max);

/* What an instruction fetch depends on: a backend reads these straight
   from its control block instead of the whole state. */
struct hv_fetch_regs {
    uint64_t rip;
    uint64_t rflags;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t cs_base;
    uint32_t cs_limit;
    uint16_t cs_attr; /* HV_SEG_* */
    uint8_t cpl;
};

/*
 * hv_assist_fetch_insn() with the registers given: the same bytes and the
 * same stops, through the vCPU's memoized code-page translation
 * (core/insn_fetch.c) when it still holds.
 */
size_t hv_fetch_insn(struct hv_vcpu *vcpu, const struct hv_fetch_regs *fr, uint8_t *buf,
                     size_t max);

struct hv_emu_env;
struct hv_emu_regs;
struct hv_walk_result;

/*
 * hv_walk() for the instruction assist's and the Xen layer's data
 * accesses, through the vCPU's memo of its last data walk when that is
 * still exact (core/insn_fetch.c). The walk is in the VM's paging view
 * (core/policy.h hv_vm_paging_view), not env's.
 */
hv_status_t hv_walk_memoized(struct hv_vcpu *vcpu, const struct hv_emu_env *env,
                             const struct hv_emu_regs *regs, uint64_t la, unsigned access,
                             struct hv_walk_result *res);

/*
 * The MMIO fast path (NPF in a registered region): a plain 32/64-bit
 * `mov reg, [mem]` or `mov [mem], reg` in 64-bit mode, decoded and carried
 * out on the registers alone; rg is hv_assist_region() of the fault's gpa,
 * fr the guest's registers (read by the caller: the exit fast paths from
 * their control block at hand). Returns HV_FAST_NONE when the instruction
 * or the situation is anything else (the caller takes hv_assist_emulate(),
 * nothing was done); HV_FAST_DONE when the handler carried the access out:
 * the guest resumes at *resume, where the caller moves RIP (ending an STI
 * / MOV SS shadow, with the single-step trap if RFLAGS.TF); HV_FAST_EXIT
 * when the embedder must see `exit`, whose header and union member are
 * then written whole (it is not cleared before: core/run.c).
 */
enum { HV_FAST_NONE, HV_FAST_DONE, HV_FAST_EXIT, HV_FAST_DONE_EVENTS };
int hv_assist_fast(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                   const struct hv_fetch_regs *fr, struct hv_exit *exit, uint64_t *resume);

/* The dispatcher's access to region rg (hv_assist_region of the fault's
   gpa): hv_assist_fast, else hv_assist_emulate; true when the embedder
   must see `exit`. The per-vCPU region's handler gets the vCPU. */
bool hv_assist_mmio(struct hv_vcpu *vcpu, const struct hv_vexit *vx, const struct mmio_region *rg,
                    struct hv_exit *exit);

/* Free the VM's region table (VM destroy). */
void hv_assist_vm_fini(struct hv_vm *vm);

#endif /* HV_CORE_ASSIST_H */
