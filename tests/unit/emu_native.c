/*
 * Test helper (see emu_native.h). A small trampoline loads every GPR and
 * RFLAGS from a state block, jumps to the instruction, which is followed
 * by an absolute jump back; the trampoline then saves the state. RSP is a
 * test register like any other, so the host RSP is parked in a global and
 * signals run on an alternate stack.
 */
#define _GNU_SOURCE
#include "emu_native.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Trampoline state; referenced by name from the assembly below. */
struct emu_native_state *emu_native_cur;
uint64_t emu_native_host_rsp;
uint64_t emu_native_target;
uint64_t emu_native_tmp;

void emu_native_enter(struct emu_native_state *st);
void emu_native_back(void);

__asm__(".text\n"
        ".globl emu_native_enter\n"
        ".type emu_native_enter, @function\n"
        "emu_native_enter:\n"
        "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "  mov %rdi, emu_native_cur(%rip)\n"
        "  mov %rsp, emu_native_host_rsp(%rip)\n"
        "  pushq 128(%rdi)\n"
        "  popfq\n"
        "  mov 0(%rdi), %rax\n mov 8(%rdi), %rcx\n mov 16(%rdi), %rdx\n mov 24(%rdi), %rbx\n"
        "  mov 32(%rdi), %rsp\n mov 40(%rdi), %rbp\n mov 48(%rdi), %rsi\n"
        "  mov 64(%rdi), %r8\n mov 72(%rdi), %r9\n mov 80(%rdi), %r10\n mov 88(%rdi), %r11\n"
        "  mov 96(%rdi), %r12\n mov 104(%rdi), %r13\n mov 112(%rdi), %r14\n"
        "  mov 120(%rdi), %r15\n"
        "  mov 56(%rdi), %rdi\n"
        "  jmp *emu_native_target(%rip)\n"
        ".globl emu_native_back\n"
        "emu_native_back:\n"
        "  mov %rdi, emu_native_tmp(%rip)\n"
        "  mov emu_native_cur(%rip), %rdi\n"
        "  mov %rax, 0(%rdi)\n mov %rcx, 8(%rdi)\n mov %rdx, 16(%rdi)\n mov %rbx, 24(%rdi)\n"
        "  mov %rsp, 32(%rdi)\n mov %rbp, 40(%rdi)\n mov %rsi, 48(%rdi)\n"
        "  mov %r8, 64(%rdi)\n mov %r9, 72(%rdi)\n mov %r10, 80(%rdi)\n mov %r11, 88(%rdi)\n"
        "  mov %r12, 96(%rdi)\n mov %r13, 104(%rdi)\n mov %r14, 112(%rdi)\n"
        "  mov %r15, 120(%rdi)\n"
        "  mov emu_native_tmp(%rip), %rax\n mov %rax, 56(%rdi)\n"
        "  mov emu_native_host_rsp(%rip), %rsp\n"
        "  pushfq\n"
        "  popq 128(%rdi)\n"
        "  cld\n"
        "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "  ret\n"
        ".size emu_native_enter, .-emu_native_enter\n");

static sigjmp_buf jb;
static volatile sig_atomic_t in_exec;
static volatile int last_code;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!in_exec) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    in_exec = 0;
    last_code = si->si_code;
    siglongjmp(jb, sig);
}

int emu_native_init(uint64_t code_base)
{
    static uint8_t altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    struct sigaction sa;
    void *p = mmap((void *)code_base, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)code_base)
        return -1;
    if (sigaltstack(&ss, NULL))
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGILL, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL) ||
        sigaction(SIGBUS, &sa, NULL))
        return -1;
    return 0;
}

enum emu_native_result emu_native_exec(uint64_t addr, const uint8_t *code, size_t len,
                                       struct emu_native_state *st)
{
    static const uint8_t jmp_rip0[6] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp *0(%rip) */
    uint8_t *p = (uint8_t *)(uintptr_t)addr;
    uint64_t back = (uint64_t)(uintptr_t)emu_native_back;
    struct emu_native_state tmp = *st;
    int sig;

    memcpy(p, code, len);
    memcpy(p + len, jmp_rip0, sizeof(jmp_rip0));
    memcpy(p + len + sizeof(jmp_rip0), &back, sizeof(back));
    emu_native_target = addr;
    /* No mask to save: SA_NODEFER leaves the signal unblocked in the handler. */
    sig = sigsetjmp(jb, 0);
    if (sig == 0) {
        in_exec = 1;
        emu_native_enter(&tmp);
        in_exec = 0;
        *st = tmp;
        return EMU_NATIVE_OK;
    }
    if (sig == SIGILL)
        return EMU_NATIVE_SIGILL;
    if (sig == SIGBUS)
        return EMU_NATIVE_SS;
    return last_code == SI_KERNEL ? EMU_NATIVE_GP : EMU_NATIVE_PF;
}
