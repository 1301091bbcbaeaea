/*
 * Instruction lengths for exits that report no next RIP. With NRIP save
 * (APM Vol. 2 15.7.1) the CPU gives it; without (always under QEMU) the
 * backend fetches the bytes at CS:RIP through the guest's own page tables
 * and measures the instruction: legacy and REX prefixes (a guest may put
 * redundant ones in front) followed by the opcode the exit implies.
 */
#include "svm/svm.h"
#include "core/guest_mem.h"
#include "core/util.h"

#define PTE_P    (1ull << 0)
#define PTE_PS   (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define CR4_PSE  (1ull << 4)
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

static bool read_entry(struct hv_vm *vm, uint64_t gpa, unsigned size, uint64_t *e)
{
    uint64_t v = 0;
    if (hv_gpa_read(vm, gpa, &v, size) != HV_OK)
        return false;
    *e = v;
    return (v & PTE_P) != 0;
}

/* Linear -> guest-physical through the guest's paging structures (APM
   Vol. 2 5.3 legacy, 5.4 PAE/long mode). Only reads; sets no A/D bits. */
static bool guest_translate(struct hv_vcpu *vcpu, uint64_t la, uint64_t *gpa)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    struct hv_vm *vm = vcpu->vm;
    uint64_t e, base;

    if (!(v->save.cr0 & CR0_PG)) {
        *gpa = la & 0xffffffffull;
        return true;
    }
    if (v->save.efer & EFER_LMA) {
        if (v->save.cr4 & CR4_LA57)
            return false;
        base = v->save.cr3 & PTE_ADDR;
        for (int level = 3; level >= 0; level--) {
            unsigned idx = (la >> (12 + 9 * level)) & 0x1ff;
            if (!read_entry(vm, base + idx * 8ull, 8, &e))
                return false;
            if (level > 0 && level < 3 && (e & PTE_PS)) {
                uint64_t size = 1ull << (12 + 9 * level);
                *gpa = (e & PTE_ADDR & ~(size - 1)) | (la & (size - 1));
                return true;
            }
            base = e & PTE_ADDR;
        }
        *gpa = base | (la & 0xfff);
        return true;
    }
    if (v->save.cr4 & CR4_PAE) {
        if (!read_entry(vm, (v->save.cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8, 8, &e))
            return false;
        base = e & PTE_ADDR;
        if (!read_entry(vm, base + ((la >> 21) & 0x1ff) * 8, 8, &e))
            return false;
        if (e & PTE_PS) {
            *gpa = (e & PTE_ADDR & ~0x1fffffull) | (la & 0x1fffff);
            return true;
        }
        base = e & PTE_ADDR;
        if (!read_entry(vm, base + ((la >> 12) & 0x1ff) * 8, 8, &e))
            return false;
        *gpa = (e & PTE_ADDR) | (la & 0xfff);
        return true;
    }
    if (!read_entry(vm, (v->save.cr3 & 0xfffff000ull) + ((la >> 22) & 0x3ff) * 4, 4, &e))
        return false;
    if ((e & PTE_PS) && (v->save.cr4 & CR4_PSE)) {
        *gpa = (e & 0xffc00000ull) | (la & 0x3fffff);
        return true;
    }
    if (!read_entry(vm, (e & 0xfffff000ull) + ((la >> 12) & 0x3ff) * 4, 4, &e))
        return false;
    *gpa = (e & 0xfffff000ull) | (la & 0xfff);
    return true;
}

/* Up to 15 bytes at CS:RIP; returns how many could be read. */
static unsigned fetch_code(struct hv_vcpu *vcpu, uint8_t *buf)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    bool lm = svm_code_bits(v) == 64;
    uint64_t la = lm ? v->save.rip : (v->save.cs.base + v->save.rip) & 0xffffffffull;
    unsigned got = 0;

    while (got < MAX_INSN) {
        uint64_t gpa, cur = la + got;
        if (!lm)
            cur &= 0xffffffffull;
        if (!guest_translate(vcpu, cur, &gpa))
            break;
        unsigned chunk = HV_PAGE_SIZE - (unsigned)(cur & (HV_PAGE_SIZE - 1));
        chunk = HV_MIN(chunk, MAX_INSN - got);
        if (hv_gpa_read(vcpu->vm, gpa, buf + got, chunk) != HV_OK)
            break;
        got += chunk;
    }
    return got;
}

/* Length of the exiting instruction, expected to be op[0..oplen) after
   prefixes; 0 if unknown. */
unsigned svm_guest_insn_len(struct hv_vcpu *vcpu, const uint8_t *op, unsigned oplen)
{
    const struct vmcb *v = svm_vmcb(vcpu);
    uint8_t buf[MAX_INSN];

    if (vcpu->vm->ctx->caps.features & HV_FEAT_NRIP_SAVE) {
        uint64_t len = v->ctl.nrip - v->save.rip;
        if (v->ctl.nrip && len >= 1 && len <= MAX_INSN)
            return (unsigned)len;
    }
    unsigned n = fetch_code(vcpu, buf);
    return svm_insn_length(buf, n, svm_code_bits(v), op, oplen);
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
