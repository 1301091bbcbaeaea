/*
 * Exit decoding (SDM Vol. 3C 27.2.1 exit qualifications, 27.2.5 instruction
 * information) and the tables of names used in diagnostics.
 */
#include "vmx/vmx_decode.h"
#include "vmx/vmx_arch.h"
#include "core/util.h"

uint32_t vmx_attr_to_ar(uint16_t attr)
{
    /* Access byte in bits 7:0 in both; AVL/L/DB/G move from 11:8 to 15:12;
       unusable from bit 12 to bit 16. */
    uint32_t ar = attr & 0xffu;
    ar |= (uint32_t)(attr & 0x0f00u) << 4;
    if (attr & HV_SEG_UNUSABLE)
        ar |= VMX_AR_UNUSABLE;
    return ar;
}

/* I/O exit qualification (SDM 28.2.1, table 28-5; accessors in vmx_decode.h). */
static void decode_io(const struct vmx_exit_raw *raw, struct hv_vexit *ex)
{
    uint64_t q = raw->qual;
    ex->kind = HV_VX_IO;
    ex->io.size = vmx_io_size(q);
    ex->io.write = vmx_io_write(q);
    ex->io.string = vmx_io_string(q);
    ex->io.rep = (q & VMX_IO_REP) ? 1 : 0;
    ex->io.port = vmx_io_port(q);
    ex->io.addr_size = raw->cpu_mode_addr_size;
    ex->io.seg = ex->io.write ? HV_SEG_DS : HV_SEG_ES;
    if (ex->io.string && raw->insn_info_valid) {
        /* SDM 27.2.5, table 27-8: address size in bits 9:7, segment in
           17:15 (OUTS only; INS always writes through ES). */
        uint32_t as = (raw->insn_info >> 7) & 7u;
        ex->io.addr_size = as == 0 ? 2 : as == 1 ? 4 : 8;
        if (ex->io.write)
            ex->io.seg = (uint8_t)((raw->insn_info >> 15) & 7u);
    }
}

/* EPT violation qualification (SDM 28.2.3.2, table 27-7). */
static void decode_ept_violation(const struct vmx_exit_raw *raw, struct hv_vexit *ex)
{
    uint64_t q = raw->qual;
    ex->kind = HV_VX_NPF;
    ex->npf.gpa = raw->gpa;
    ex->npf.insn_count = 0; /* VMX provides no instruction bytes */
    ex->npf.access = ((q & 1u) ? HV_ACCESS_READ : 0) | ((q & 2u) ? HV_ACCESS_WRITE : 0) |
                     ((q & 4u) ? HV_ACCESS_EXEC : 0);
    /* Bits 5:3: the entry allowed read / write / execute. */
    ex->npf.present = (q & (7u << 3)) ? 1 : 0;
    /* Bit 7: guest-linear address valid; bit 8 (if bit 7): 1 = the access
       to the final translation, 0 = to a guest paging-structure entry. */
    ex->npf.gva_valid = (q >> 7) & 1u;
    ex->npf.gva = ex->npf.gva_valid ? raw->gla : 0;
    ex->npf.during_walk = ((q >> 7) & 1u) && !((q >> 8) & 1u);
}

void vmx_decode_exit(const struct vmx_exit_raw *raw, struct hv_vexit *ex)
{
    uint32_t basic = VMX_EXIT_REASON_BASIC(raw->reason);
    bool insn = false;

    /* The header only: the decoders below fill the union member their
       kind uses (a byte-wise hv_memset of the whole record cost ~480
       instructions per exit). */
    ex->kind = HV_VX_NONE;
    ex->insn_len = 0;
    ex->next_rip = 0;
    ex->raw_code = raw->reason;
    ex->raw_info1 = raw->qual;
    /* The guest-physical address field is defined for EPT violations and
       misconfigurations only (SDM 28.2.1): 0 for the rest, so that an
       exit's record does not carry a stale address (and the fast path,
       which does not read the field, reports the same, vmx_fast.c). */
    ex->raw_info2 = vmx_exit_has_gpa(basic) ? raw->gpa : 0;
    ex->rip = raw->rip;
    ex->rflags = raw->rflags;

    switch (basic) {
    case VMX_EXIT_CPUID:
        ex->kind = HV_VX_CPUID;
        insn = true;
        break;
    case VMX_EXIT_XSETBV: /* unconditional (SDM Vol. 3C 25.1.2); core/xsave.h */
        ex->kind = HV_VX_XSETBV;
        insn = true;
        break;
    case VMX_EXIT_RDMSR:
        ex->kind = HV_VX_RDMSR;
        insn = true;
        break;
    case VMX_EXIT_WRMSR:
        ex->kind = HV_VX_WRMSR;
        insn = true;
        break;
    case VMX_EXIT_HLT:
        ex->kind = HV_VX_HLT;
        insn = true;
        break;
    case VMX_EXIT_VMCALL:
        ex->kind = HV_VX_HYPERCALL;
        insn = true;
        break;
    case VMX_EXIT_IO:
        decode_io(raw, ex);
        insn = true;
        break;
    case VMX_EXIT_EPT_VIOLATION:
        decode_ept_violation(raw, ex);
        break;
    case VMX_EXIT_TRIPLE_FAULT:
        ex->kind = HV_VX_SHUTDOWN;
        break;
    case VMX_EXIT_EXTINT:
    case VMX_EXIT_EXC_NMI: /* only host NMIs exit: the exception bitmap is 0 */
        ex->kind = HV_VX_EXTINT;
        break;
    case VMX_EXIT_INTR_WINDOW:
        ex->kind = HV_VX_IRQ_WINDOW;
        break;
    case VMX_EXIT_NMI_WINDOW:
        ex->kind = HV_VX_NMI_WINDOW;
        break;
    case VMX_EXIT_PREEMPT_TIMER:
        ex->kind = HV_VX_PREEMPT;
        break;
    default:
        ex->kind = HV_VX_UNHANDLED;
        break;
    }
    /* The instruction length is defined for exits caused by an instruction
       (SDM 27.2.4); VMX always reports it, so the next RIP is known. */
    if (insn && vmx_insn_len(raw->insn_len)) {
        ex->insn_len = raw->insn_len;
        ex->next_rip = raw->rip + raw->insn_len;
    }
}

const char *vmx_insn_error_name(uint32_t error)
{
    /* SDM Vol. 3C 30.4, table 30-1. */
    static const char *const names[] = {
        [1] = "VMCALL executed in VMX root operation",
        [2] = "VMCLEAR with invalid physical address",
        [3] = "VMCLEAR with VMXON pointer",
        [4] = "VMLAUNCH with non-clear VMCS",
        [5] = "VMRESUME with non-launched VMCS",
        [6] = "VMRESUME after VMXOFF",
        [7] = "VM entry with invalid control field(s)",
        [8] = "VM entry with invalid host-state field(s)",
        [9] = "VMPTRLD with invalid physical address",
        [10] = "VMPTRLD with VMXON pointer",
        [11] = "VMPTRLD with incorrect VMCS revision identifier",
        [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
        [13] = "VMWRITE to read-only VMCS component",
        [15] = "VMXON executed in VMX root operation",
        [16] = "VM entry with invalid executive-VMCS pointer",
        [17] = "VM entry with non-launched executive VMCS",
        [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
        [19] = "VMCALL with non-clear VMCS",
        [20] = "VMCALL with invalid VM-exit control fields",
        [22] = "VMCALL with incorrect MSEG revision identifier",
        [23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
        [24] = "VMCALL with invalid SMM-monitor features",
        [25] = "VM entry with invalid VM-execution control fields in executive VMCS",
        [26] = "VM entry with events blocked by MOV SS",
        [28] = "invalid operand to INVEPT/INVVPID",
    };
    if (error < HV_ARRAY_SIZE(names) && names[error])
        return names[error];
    return "unknown VM-instruction error";
}

const char *vmx_exit_reason_name(uint32_t r)
{
    /* SDM Vol. 3C Appendix C, table C-1. */
    static const char *const names[] = {
        [0] = "exception or NMI",
        [1] = "external interrupt",
        [2] = "triple fault",
        [3] = "INIT signal",
        [4] = "SIPI",
        [5] = "I/O SMI",
        [6] = "other SMI",
        [7] = "interrupt window",
        [8] = "NMI window",
        [9] = "task switch",
        [10] = "CPUID",
        [11] = "GETSEC",
        [12] = "HLT",
        [13] = "INVD",
        [14] = "INVLPG",
        [15] = "RDPMC",
        [16] = "RDTSC",
        [17] = "RSM",
        [18] = "VMCALL",
        [19] = "VMCLEAR",
        [20] = "VMLAUNCH",
        [21] = "VMPTRLD",
        [22] = "VMPTRST",
        [23] = "VMREAD",
        [24] = "VMRESUME",
        [25] = "VMWRITE",
        [26] = "VMXOFF",
        [27] = "VMXON",
        [28] = "control-register access",
        [29] = "MOV DR",
        [30] = "I/O instruction",
        [31] = "RDMSR",
        [32] = "WRMSR",
        [33] = "VM-entry failure: invalid guest state",
        [34] = "VM-entry failure: MSR loading",
        [36] = "MWAIT",
        [37] = "monitor trap flag",
        [39] = "MONITOR",
        [40] = "PAUSE",
        [41] = "VM-entry failure: machine-check event",
        [43] = "TPR below threshold",
        [44] = "APIC access",
        [45] = "virtualized EOI",
        [46] = "GDTR/IDTR access",
        [47] = "LDTR/TR access",
        [48] = "EPT violation",
        [49] = "EPT misconfiguration",
        [50] = "INVEPT",
        [51] = "RDTSCP",
        [52] = "VMX-preemption timer expired",
        [53] = "INVVPID",
        [54] = "WBINVD",
        [55] = "XSETBV",
        [56] = "APIC write",
        [57] = "RDRAND",
        [58] = "INVPCID",
        [59] = "VMFUNC",
        [60] = "ENCLS",
        [61] = "RDSEED",
        [62] = "page-modification log full",
        [63] = "XSAVES",
        [64] = "XRSTORS",
    };
    if (r < HV_ARRAY_SIZE(names) && names[r])
        return names[r];
    return "unknown exit reason";
}
