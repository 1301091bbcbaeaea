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
    uint8_t cpu_mode_addr_size; /* 2, 4 or 8: default address size of the guest code */
};

/* Segment access rights: VMX format (SDM 24.4.1) <-> hv_segment::attr. */
uint32_t vmx_attr_to_ar(uint16_t attr);
uint16_t vmx_ar_to_attr(uint32_t ar);

/* Fill *ex from an exit the backend did not finish itself. Sets kind,
   raw fields, insn_len/next_rip (for instruction exits), io/npf payloads.
   Reasons with no generic meaning become HV_VX_UNHANDLED. */
void vmx_decode_exit(const struct vmx_exit_raw *raw, struct hv_vexit *ex);

/* SDM 30.4 / Appendix C names, for log lines and entry_failed reasons. */
const char *vmx_insn_error_name(uint32_t error);
const char *vmx_exit_reason_name(uint32_t basic_reason);

#endif /* HV_VMX_DECODE_H */
