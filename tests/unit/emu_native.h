/*
 * Test helper: run one x86-64 instruction natively with a given register
 * state (all 16 GPRs, RSP included, and RFLAGS) and capture the state
 * after it. Used by the emulator's differential test.
 */
#ifndef TESTS_EMU_NATIVE_H
#define TESTS_EMU_NATIVE_H

#include <stddef.h>
#include <stdint.h>

struct emu_native_state {
    uint64_t gpr[16]; /* RAX..R15 in encoding order */
    uint64_t rflags;
};

/* Outcome of a native run. */
enum emu_native_result {
    EMU_NATIVE_OK,
    EMU_NATIVE_SIGILL, /* #UD */
    EMU_NATIVE_GP,     /* SIGSEGV from #GP (si_code SI_KERNEL) */
    EMU_NATIVE_PF,     /* SIGSEGV from #PF: the generator must not cause those */
    EMU_NATIVE_SS,     /* SIGBUS: #SS (or #AC) */
};

/*
 * Map the code pages at @p code_base (2 pages, RWX) and install the
 * signal handling (alternate stack). Returns 0 on success.
 */
int emu_native_init(uint64_t code_base);

/*
 * Copy @p len instruction bytes to @p addr (inside the code pages, room
 * for a 14-byte return jump after them), load @p st, execute, store the
 * resulting state back into @p st (unchanged on a signal).
 */
enum emu_native_result emu_native_exec(uint64_t addr, const uint8_t *code, size_t len,
                                       struct emu_native_state *st);

#endif /* TESTS_EMU_NATIVE_H */
