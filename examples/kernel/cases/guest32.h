/*
 * Pieces of hand-assembled guests that run in flat 32-bit protected mode
 * with #UD and #GP handlers (the hostile.* cases that probe an instruction
 * and report the vector it raised). A guest image is loaded at 0x1000 and
 * starts in real mode (vm_harness.h); its labels carry a prefix p (p_start
 * ... p_end), and the pieces below name theirs with it too:
 *
 *   p_start: G32_ENTER(p) <the guest's code> G32_FAULTS(p) p_end:
 *
 * A probe stores 0 in p_fault and its resume address in p_resume before
 * the instruction; a #UD or #GP stores 6 or 13 in p_fault and resumes there.
 */
#ifndef KERNEL_CASES_GUEST32_H
#define KERNEL_CASES_GUEST32_H

/* The address of label p_l in the image: p_l - p_start + load address. */
#define G32_ADDR(p, l) "(" #p "_" #l " - " #p "_start + 0x1000)"

/* Real mode to flat 32-bit protected mode (SDM Vol. 3A 9.9.1): the GDT,
   CR0.PE, a far jump, the data segments, a stack below the image, the IDT. */
#define G32_ENTER(p)                                                                               \
    ".code16\n"                                                                                    \
    "    cli\n"                                                                                    \
    "    xorw %ax, %ax\n"                                                                          \
    "    movw %ax, %ds\n"                                                                          \
    "    movw %ax, %ss\n"                                                                          \
    "    movw $0x1000, %sp\n"                                                                      \
    "    lgdtl " G32_ADDR(p, gdtr) "\n"                                                            \
    "    movl %cr0, %eax\n"                                                                        \
    "    orl $1, %eax\n"                                                                           \
    "    movl %eax, %cr0\n"                                                                        \
    "    ljmpl $0x08, $" G32_ADDR(p, pm) "\n"                                                      \
    ".code32\n" #p "_pm:\n"                                                                        \
    "    movw $0x10, %ax\n"                                                                        \
    "    movw %ax, %ds\n"                                                                          \
    "    movw %ax, %es\n"                                                                          \
    "    movw %ax, %ss\n"                                                                          \
    "    movl $0x1000, %esp\n"                                                                     \
    "    lidtl " G32_ADDR(p, idtr) "\n"

/* The #UD and #GP handlers (32-bit interrupt gates, SDM Vol. 3A 6.11; #GP
   pushes an error code), their two variables, the GDT (null, flat code at
   0x08, flat data at 0x10) and the IDT, through vector 13. */
#define G32_FAULTS(p)                                                                              \
    #p "_ud:\n"                                                                                    \
    "    movl $6, " G32_ADDR(p, fault) "\n"                                                        \
    "    jmp 2f\n" #p "_gp:\n"                                                                     \
    "    addl $4, %esp\n"                                                                          \
    "    movl $13, " G32_ADDR(p, fault) "\n"                                                       \
    "2:  movl " G32_ADDR(p, resume) ", %eax\n"                                                     \
    "    movl %eax, (%esp)\n"                                                                      \
    "    iret\n"                                                                                   \
    ".balign 4\n" #p "_fault: .long 0\n" #p "_resume: .long 0\n"                                   \
    ".balign 8\n" #p "_gdt:\n"                                                                     \
    "    .quad 0\n"                                                                                \
    "    .quad 0x00cf9b000000ffff\n"                                                               \
    "    .quad 0x00cf93000000ffff\n" #p "_gdtr:\n"                                                 \
    "    .word 23\n"                                                                               \
    "    .long " G32_ADDR(p, gdt) "\n"                                                             \
    ".balign 8\n" #p "_idt:\n"                                                                     \
    "    .fill 6, 8, 0\n"                                                                          \
    "    .word " G32_ADDR(p, ud) ", 0x08, 0x8e00, 0\n"                                             \
    "    .fill 6, 8, 0\n"                                                                          \
    "    .word " G32_ADDR(p, gp) ", 0x08, 0x8e00, 0\n" #p "_idtr:\n"                               \
    "    .word 14 * 8 - 1\n"                                                                       \
    "    .long " G32_ADDR(p, idt) "\n"

#endif /* KERNEL_CASES_GUEST32_H */
