/*
 * Pure decoding of VMX exit information into the backend-neutral exit
 * record, and conversions between VMX encodings and libhv's. No hardware
 * access: unit-tested with hand-built field values.
 */
#ifndef HV_VMX_DECODE_H
#define HV_VMX_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include "backend.h"
#include "vmx/vmx_arch.h"

/* The VMCS fields an exit is decoded from (read once by vmx_run.c). */
struct vmx_exit_raw {
    uint32_t reason;            /* VM-exit reason (full field) */
    uint64_t qual;              /* exit qualification */
    uint64_t gpa;               /* guest-physical address */
    uint64_t gla;               /* guest-linear address */
    uint32_t insn_len;          /* VM-exit instruction length */
    uint32_t insn_info;         /* VM-exit instruction information */
    bool insn_info_valid;       /* IA32_VMX_BASIC[54]: INS/OUTS info is reported */
    uint64_t rip;               /* guest RIP */
    uint64_t rflags;            /* guest RFLAGS */
    uint8_t cpu_mode_addr_size; /* 2, 4 or 8: default address size of the guest code */
};

/*
 * The I/O-instruction exit qualification (SDM Vol. 3C 28.2.1, Table 28-5),
 * read by vmx_decode_exit() and by the exit fast path (vmx_fast.c): size in
 * bits 2:0 (0, 1, 3: 1, 2, 4 bytes), direction bit 3 (1 = IN), string
 * instruction bit 4, REP prefix bit 5, port in bits 31:16.
 */
#define VMX_IO_IN     (1u << 3)
#define VMX_IO_STRING (1u << 4)
#define VMX_IO_REP    (1u << 5)

static inline uint8_t vmx_io_size(uint64_t qual)
{
    return (uint8_t)((qual & 7u) + 1);
}

static inline bool vmx_io_write(uint64_t qual)
{
    return !(qual & VMX_IO_IN);
}

static inline bool vmx_io_string(uint64_t qual)
{
    return (qual & VMX_IO_STRING) != 0;
}

static inline uint16_t vmx_io_port(uint64_t qual)
{
    return (uint16_t)(qual >> 16);
}

/* The VM-exit instruction length (SDM 28.2.5) as both paths use it: 1-15
   bytes, anything else 0 (no length: the next RIP is unknown). */
static inline uint32_t vmx_insn_len(uint32_t len)
{
    return (len >= 1 && len <= 15) ? len : 0;
}

/* Exits whose guest-physical address field is defined (SDM 28.2.1). */
static inline bool vmx_exit_has_gpa(uint32_t basic)
{
    return basic == VMX_EXIT_EPT_VIOLATION || basic == VMX_EXIT_EPT_MISCONFIG;
}

/* Segment access rights: VMX format (SDM 24.4.1) <-> hv_segment::attr.
   The VMX to hv direction inline: the exit fast path reads CS's. */
uint32_t vmx_attr_to_ar(uint16_t attr);
static inline uint16_t vmx_ar_to_attr(uint32_t ar)
{
    uint16_t attr = (uint16_t)(ar & 0xffu);
    attr |= (uint16_t)((ar >> 4) & 0x0f00u);
    if (ar & VMX_AR_UNUSABLE)
        attr |= HV_SEG_UNUSABLE;
    return attr;
}

/* Fill *ex from an exit the backend did not finish itself. Sets kind,
   raw fields, insn_len/next_rip (for instruction exits), io/npf payloads.
   Reasons with no generic meaning become HV_VX_UNHANDLED. */
void vmx_decode_exit(const struct vmx_exit_raw *raw, struct hv_vexit *ex);

/* SDM 30.4 / Appendix C names, for log lines and entry_failed reasons. */
const char *vmx_insn_error_name(uint32_t error);
const char *vmx_exit_reason_name(uint32_t basic_reason);

#endif /* HV_VMX_DECODE_H */
