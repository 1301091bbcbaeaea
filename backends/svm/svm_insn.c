/*
 * Instruction lengths for exits that report no next RIP. With NRIP save
 * (APM Vol. 2 15.7.1) the CPU gives it; without (always under QEMU) the
 * backend fetches the bytes at CS:RIP the way the CPU did (the core's
 * hv_assist_fetch_insn: the guest's page tables, execute access, CS limit)
 * and measures the instruction: legacy and REX prefixes (a guest may put
 * redundant ones in front) followed by the opcode the exit implies.
 */
#include "svm/svm.h"
#include "core/assist.h"
#include "core/util.h"
#include "svm/svm_insn_fast.h"

#define MAX_INSN 15u

/* Legacy prefixes (APM Vol. 3 1.2). */
static bool is_legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x26:
    case 0x2e:
    case 0x36:
    case 0x3e:
    case 0x64:
    case 0x65:
    case 0x66:
    case 0x67:
    case 0xf0:
    case 0xf2:
    case 0xf3:
        return true;
    default:
        return false;
    }
}

/*
 * Length of the instruction in buf[0..n) if it is prefixes followed by the
 * opcode bytes op[0..oplen); 0 if the bytes are something else or the
 * instruction would pass the 15-byte limit.
 */
unsigned svm_insn_length(const uint8_t *buf, unsigned n, int mode_bits, const uint8_t *op,
                         unsigned oplen)
{
    unsigned i = 0;
    while (i < n && i < MAX_INSN) {
        if (is_legacy_prefix(buf[i]) || (mode_bits == 64 && (buf[i] & 0xf0) == 0x40))
            i++;
        else
            break;
    }
    if (i + oplen > n || i + oplen > MAX_INSN)
        return 0;
    if (hv_memcmp(buf + i, op, oplen) != 0)
        return 0;
    return i + oplen;
}

/* 16, 32 or 64: the default operand size of the code the guest runs. */
int svm_code_bits(const struct vmcb *v)
{
    if ((v->save.efer & EFER_LMA) && (v->save.cs.attrib & HV_SEG_L))
        return 64;
    return (v->save.cs.attrib & HV_SEG_DB) ? 32 : 16;
}

void svm_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr)
{
    svm_vmcb_fetch_regs(svm_vmcb(vcpu), fr);
}

/* Length of the exiting instruction, the opcode (SVM_OP_*) after
   prefixes; 0 if unknown. */
unsigned svm_guest_insn_len(struct hv_vcpu *vcpu, uint32_t opcode)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    unsigned oplen = opcode >> 24;
    uint8_t buf[MAX_INSN], op[3];
    uint64_t next;

    unsigned len = svm_insn_len_fast(vcpu, v, opcode & 0xffffff, oplen, &next);
    if (len)
        return len;
    for (unsigned i = 0; i < 3; i++)
        op[i] = (uint8_t)(opcode >> (8 * i));
    /* The exit names the instruction: if its first byte is the opcode's
       first byte, which is never a prefix, there are no prefixes and the
       length is the opcode's. One byte then suffices (copying and scanning
       fifteen cost ~300 instructions per exit). */
    struct hv_fetch_regs fr;
    svm_fetch_regs(vcpu, &fr);
    if (hv_fetch_insn(vcpu, &fr, buf, 1) == 1 && buf[0] == op[0] && !is_legacy_prefix(op[0]))
        return oplen;
    unsigned n = (unsigned)hv_fetch_insn(vcpu, &fr, buf, sizeof(buf));
    return svm_insn_length(buf, n, svm_code_bits(v), op, oplen);
}

bool svm_parse_mov_to_cr(const uint8_t *b, unsigned n, bool l64, unsigned *cr, unsigned *gpr,
                         unsigned *len)
{
    unsigned i = 0, rex = 0;
    bool lock = false;
    /* A REX prefix counts only right before the opcode (APM Vol. 3 1.2.7). */
    for (; i < n && i < MAX_INSN; i++) {
        if (is_legacy_prefix(b[i])) {
            lock |= b[i] == 0xf0;
            rex = 0;
        } else if (l64 && (b[i] & 0xf0) == 0x40) {
            rex = b[i];
        } else {
            break;
        }
    }
    if (i + 3 > n || i + 3 > MAX_INSN || b[i] != 0x0f || b[i + 1] != 0x22)
        return false;
    /* The ModRM byte names registers whatever its mod field (APM Vol. 3
       MOV CRn); LOCK is AMD's alternative encoding of CR8 (CR0 + 8). */
    uint8_t modrm = b[i + 2];
    *cr = ((modrm >> 3) & 7u) | ((rex & 4) || lock ? 8u : 0u);
    *gpr = (modrm & 7u) | (rex & 1 ? 8u : 0u);
    *len = i + 3;
    return true;
}

bool svm_insn_mov_to_cr(struct hv_vcpu *vcpu, unsigned *cr, unsigned *gpr, unsigned *len)
{
    struct hv_fetch_regs fr;
    uint8_t b[MAX_INSN];
    svm_fetch_regs(vcpu, &fr);
    unsigned n = (unsigned)hv_fetch_insn(vcpu, &fr, b, sizeof(b));
    return svm_parse_mov_to_cr(b, n, svm_code_bits(svm_vmcb(vcpu)) == 64, cr, gpr, len);
}

/* RIP after an instruction of @p len bytes, wrapped to the code size. */
uint64_t svm_next_rip(struct hv_vcpu *vcpu, unsigned len)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    uint64_t next = v->save.rip + len;
    switch (svm_code_bits(v)) {
    case 16:
        return next & 0xffff;
    case 32:
        return next & 0xffffffffull;
    default:
        return next;
    }
}
