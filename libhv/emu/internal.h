/*
 * Private interfaces between the emulator's files: the per-step context,
 * the decoded instruction, and the memory, register and flag helpers.
 */
#ifndef HV_EMU_INTERNAL_H
#define HV_EMU_INTERNAL_H

#include "emu/emu.h"

/* Architectural instruction length limit (SDM Vol. 2A 2.3.11). */
#define EMU_MAX_INSN 15u

/* The x86 base page: memory accesses are split at its boundaries. */
#define EMU_PAGE 4096u

/*
 * Result of an internal step: carry on, stop with res->outcome filled in,
 * or fail with ctx->status (a callback error).
 */
typedef enum emu_rc { EMU_OK = 0, EMU_STOP, EMU_FAIL } emu_rc;

/* What an instruction does, chosen by the decoder. */
enum emu_kind {
    K_ALU,   /* ALU op alu_op on dst (E/G/acc) and src (G/E/imm); TEST too */
    K_XCHG,  /* swap E and G */
    K_MOV,   /* dst <- src */
    K_MOVZX, /* G <- zero-extended E of src_size */
    K_MOVSX, /* G <- sign-extended E of src_size (also MOVSXD) */
    K_BT,    /* bit test family, bt_op 0..3 = BT BTS BTR BTC */
    K_MOVS,
    K_STOS,
    K_LODS,
    K_INS,
    K_OUTS,
};

/* Where an operand lives. */
enum emu_opnd { O_NONE, O_E, O_G, O_ACC, O_IMM, O_MOFFS };

/* ALU operations in their /digit order (SDM Vol. 2 opcode map, group 1). */
enum emu_alu { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST };

struct emu_insn {
    uint8_t len;
    uint8_t kind;     /* enum emu_kind */
    uint8_t dst, src; /* enum emu_opnd */
    uint8_t alu_op;   /* K_ALU: enum emu_alu; K_BT: 0..3 */
    uint8_t opsize;   /* operand size in bytes: 1, 2, 4, 8 */
    uint8_t src_size; /* K_MOVZX/K_MOVSX: source size */
    uint8_t adsize;   /* address size: 2, 4, 8 */
    uint8_t seg;      /* segment of the E / moffs / string source operand */
    uint8_t rep;      /* 0 or 0xf3 */
    bool lock;
    bool rex;     /* a REX prefix is present (SPL..DIL instead of AH..BH) */
    bool mem;     /* the E operand is in memory */
    bool bt_imm;  /* K_BT with an immediate bit offset */
    uint8_t reg;  /* G register, REX.R applied */
    uint8_t rm;   /* E register when !mem, REX.B applied */
    uint64_t ea;  /* E / moffs offset in its segment, truncated to adsize */
    uint64_t imm; /* immediate, sign-extended to 64 bits where the encoding says so */
};

struct emu_ctx {
    const struct hv_emu_env *env;
    const struct hv_emu_ops *ops;
    struct hv_emu_regs *regs;
    struct hv_emu_result *res;
    hv_status_t status; /* EMU_FAIL: the failing callback's status */
    bool long64;        /* 64-bit mode (IA-32e with CS.L) */
    bool realish;       /* real-address or virtual-8086 mode: no type checks */
    uint8_t cs_size;    /* default operand and address size: 2, 4 or 8 */
    /* Instruction bytes: prefetched ones, then fetched through the walker. */
    const uint8_t *pre;
    size_t pre_len;
    uint8_t ibuf[EMU_MAX_INSN];
    uint8_t ilen; /* valid bytes in ibuf */
};

/* A translated memory operand: at most two pieces, split at a page boundary. */
struct emu_mem {
    uint64_t la;
    unsigned size;
    unsigned n;
    struct {
        uint64_t gpa;
        unsigned len;
        bool ram;
    } piece[2];
};

/* decode.c */
emu_rc emu_decode(struct emu_ctx *c, struct emu_insn *insn);

/* mem.c */
emu_rc emu_exception(struct emu_ctx *c, uint8_t vector, bool has_ec, uint32_t ec);
bool emu_canonical(const struct emu_ctx *c, uint64_t la);
emu_rc emu_translate(struct emu_ctx *c, uint64_t la, unsigned access, uint64_t *gpa);
emu_rc emu_linear(struct emu_ctx *c, unsigned seg, uint64_t ea, unsigned size, bool write,
                  uint64_t *la);
emu_rc emu_mem_prepare(struct emu_ctx *c, unsigned seg, uint64_t ea, unsigned size, bool write,
                       struct emu_mem *m);
emu_rc emu_mem_read(struct emu_ctx *c, const struct emu_mem *m, uint64_t *val);
emu_rc emu_mem_write(struct emu_ctx *c, const struct emu_mem *m, uint64_t val);

/* alu.c */
uint64_t emu_alu(unsigned op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags);

/* exec.c, string.c */
emu_rc emu_exec(struct emu_ctx *c, const struct emu_insn *insn);
emu_rc emu_exec_string(struct emu_ctx *c, const struct emu_insn *insn);

/* Register helpers (emulate.c). */
uint64_t emu_size_mask(unsigned size);
uint64_t emu_reg_read(const struct emu_ctx *c, unsigned reg, unsigned size, bool rex);
void emu_reg_write(struct emu_ctx *c, unsigned reg, unsigned size, bool rex, uint64_t val);
void emu_advance_rip(struct emu_ctx *c, const struct emu_insn *insn);

#endif /* HV_EMU_INTERNAL_H */
