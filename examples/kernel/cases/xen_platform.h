/*
 * The platform a Xen PVH domain U finds that libhv does not provide, in
 * the smallest form that lets Linux use Xen's timer: Linux (6.1,
 * native_smp_prepare_cpus) sets up its per-CPU clock event device, which
 * on Xen is the VCPUOP_set_singleshot_timer one, only in an APIC mode
 * chosen from a multiprocessor configuration (an MP table or ACPI's MADT)
 * with a local APIC; with `nolapic` or without tables it runs without any
 * timer interrupt. Xen gives PVH domains ACPI tables and an emulated
 * local APIC; this kernel gives:
 *
 *   - an Intel MultiProcessor Specification 1.4 table (floating pointer
 *     structure and a configuration table with one processor entry, the
 *     boot CPU, local APIC 0 at 0xfee00000; no buses, no I/O APIC) in the
 *     BIOS area at 0xf0000, where Linux's scan finds it (ch. 4: the last
 *     KiB of base memory or 0xf0000-0xfffff);
 *   - a local APIC register page (Intel SDM Vol. 3A 11.4.1, table 11-1)
 *     that only stores: ID 0, version 0x14 with 6 LVT entries, every
 *     other register as last written (ISR, IRR and the timer's current
 *     count read 0). It delivers nothing: no APIC timer, no IPIs. Events
 *     reach the guest through libhv's Xen upcall vector, which needs none.
 */
#ifndef KERNEL_CASES_XEN_PLATFORM_H
#define KERNEL_CASES_XEN_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <hv/status.h>

struct hv_vm;

#define XPLAT_MP_GPA    0xf0000u    /* the MP floating pointer, then its table */
#define XPLAT_MP_BYTES  96u         /* what xplat_mp_table() writes */
#define XPLAT_LAPIC_GPA 0xfee00000u /* the default local APIC base */

struct xplat_lapic {
    uint32_t reg[256]; /* one per 16-byte register slot of the 4 KiB page */
};

/* Write the MP table for one CPU at @p at (guest RAM at XPLAT_MP_GPA). */
void xplat_mp_table(uint8_t *at);

/* Reset @p lapic and register it as the local APIC page of @p vm. */
int xplat_lapic_attach(struct hv_vm *vm, struct xplat_lapic *lapic);

/* The two halves of xplat_lapic_attach(), for the self-test: the reset
   state, and the page's MMIO handler (hv_mmio_handler). */
void xplat_lapic_reset(struct xplat_lapic *lapic);
hv_status_t xplat_lapic_access(void *opaque, uint64_t gpa, unsigned size, bool write,
                               uint64_t *value);

#endif /* KERNEL_CASES_XEN_PLATFORM_H */
