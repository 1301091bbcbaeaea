/*
 * Two vCPUs with the library's local APIC (include/hv/lapic.h). vCPU 0
 * (the BSP) starts at 0x1000; vCPU 1 waits for a SIPI
 * (HV_LAPIC_APS_WAIT_SIPI) and starts at 0200:0000 = ap_start, 0x2000.
 *   BSP MARK 1: INIT, SIPI, SIPI to APIC ID 1 (physical destination)
 *   BSP MARK 2: waits with HLT for the AP's fixed IPI 0x50 (VAL 0x50)
 *   BSP MARK 3: fixed IPI 0x51 to logical destination 0x02 (the AP's flat
 *               LDR); the AP answers with 0x50 again (VAL 0x50)
 *   BSP MARK 4: NMI to all excluding self; the AP's NMI handler answers
 *               with 0x52 (VAL 0x52)
 *   BSP MARK 5, CLI, HLT
 *   AP: MARK 0x81 once up in protected mode with its APIC enabled,
 *       MARK 0x82 in its 0x51 handler, MARK 0x83 in its NMI handler.
 */
#include "guest.inc"

#define APIC 0xfee00000
#define AP_STACK 0x8000

/* Fixed IPI \vec to physical APIC ID 0 (the BSP). */
.macro IPI_BSP vec
    movl $0, APIC + 0x310
    movl $(0x4000 | \vec), APIC + 0x300
.endm

    GUEST_START
    ENTER_PM32
    GATE32 2, ap_nmi
    GATE32 0x50, bsp_50
    GATE32 0x51, ap_irq
    GATE32 0x52, bsp_52
    lidt idt_desc
    movl $0x1ff, APIC + 0xf0

    MARK(1)
    movl $0x01000000, APIC + 0x310
    movl $0x00004500, APIC + 0x300  /* INIT, assert */
    movl $0x01000000, APIC + 0x310
    movl $0x00004602, APIC + 0x300  /* SIPI, vector 2 */
    movl $0x01000000, APIC + 0x310
    movl $0x00004602, APIC + 0x300
    sti

    MARK(2)
    WAIT_COUNT bsp_count, 1

    MARK(3)
    movl $0x02000000, APIC + 0x310
    movl $0x00004851, APIC + 0x300  /* fixed 0x51, logical */
    WAIT_COUNT bsp_count, 2

    MARK(4)
    movl $0x000c4400, APIC + 0x300  /* NMI, all excluding self */
    WAIT_COUNT bsp_count, 3

    MARK(5)
    cli
    hlt
1:  jmp 1b

bsp_50:
    pushl %eax
    movl $0x50, %eax
    jmp bsp_irq
bsp_52:
    pushl %eax
    movl $0x52, %eax
bsp_irq:
    outl %eax, $PORT_VAL
    incl bsp_count
    movl $0, APIC + 0xb0
    popl %eax
    iret

ap_irq:
    pushl %eax
    MARK(0x82)
    IPI_BSP 0x50
    movl $0, APIC + 0xb0
    popl %eax
    iret

ap_nmi:
    pushl %eax
    MARK(0x83)
    IPI_BSP 0x52
    popl %eax
    iret

/* The AP's start: 0x2000, real mode, CS 0x0200, IP 0. */
    .org 0x1000
    .code16
ap_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $AP_STACK, %sp
    lgdtl gdt_desc
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $SEL_CODE32, $ap32
    .code32
ap32:
    movw $SEL_DATA32, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $AP_STACK, %esp
    lidt idt_desc
    movl $0x1ff, APIC + 0xf0        /* its own APIC, at the same address */
    movl $0x02000000, APIC + 0xd0   /* LDR: flat logical ID bit 1 */
    MARK(0x81)
    IPI_BSP 0x50
    sti
1:  hlt
    jmp 1b

    .balign 4
bsp_count:
    .long 0

    .balign 16
idt_desc:
    .word 0x60 * 8 - 1
    .long idt
    .balign 16
idt:
    .fill 0x60 * 8, 1, 0

    GUEST_TABLES

