# Compiler flags for libhv builds.
#
# HV_FREESTANDING_FLAGS: what a kernel needs from library code: no libc, no
# red zone (interrupts may use the stack below RSP), no SSE/x87 (the kernel
# need not save FPU state around library calls), no stack protector (no
# runtime to provide the canary), no PIC (kernels link at fixed addresses).
set(HV_FREESTANDING_FLAGS
    -std=c11 -ffreestanding -nostdlib -fno-builtin -mno-red-zone -mgeneral-regs-only
    -mno-mmx -mno-sse -mno-sse2 -fno-stack-protector -fno-pic -fno-pie
    -fno-asynchronous-unwind-tables -O2 -g
    $<$<C_COMPILER_ID:GNU>:-fno-tree-loop-distribute-patterns>)
set(HV_WARNING_FLAGS -Wall -Wextra -Werror -Wno-unused-parameter $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>)
