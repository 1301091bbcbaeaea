/*
 * The init of the xen.linux case's initramfs: a static x86-64 Linux
 * program without libc. It proves that Linux unpacked the initramfs and
 * ran user space: it writes a known line to its standard output (the
 * kernel opens /dev/console as descriptors 0-2 of init) and exits with
 * status 42. Linux panics when init exits ("Attempted to kill init!
 * exitcode=0x00002a00") and its Xen panic notifier reports
 * SCHEDOP_shutdown(crash): the one way a PVH domain without ACPI ends by
 * itself (reboot(2)'s power-off becomes a halt with interrupts off there,
 * with no power-off handler).
 */
#define SYS_write 1
#define SYS_exit  60

    .text
    .globl _start
_start:
    mov $SYS_write, %eax
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $msg_end - msg, %edx
    syscall
    mov $SYS_exit, %eax
    mov $42, %edi
    syscall

    .section .rodata
msg:
    .ascii "libhv-linux-init: user space runs\n"
msg_end:
