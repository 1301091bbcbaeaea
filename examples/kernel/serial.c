/* COM1 console: polled 16550 UART output and a printf built on libhv's formatter. */
#include <stdarg.h>

#include "core/util.h" /* hv_vsnprintf */
#include "cpu.h"
#include "kernel.h"

#define COM1     0x3f8
#define UART_THR 0 /* transmit holding register (DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20 /* transmit holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty: the last byte has left the UART */

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* no UART interrupts: we poll */
    outb(COM1 + UART_LCR, 0x80); /* DLAB=1 to set the divisor */
    outb(COM1 + UART_DLL, 1);    /* 115200 baud = 115200 / 1 */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, 0x03); /* 8 data bits, no parity, 1 stop bit */
    outb(COM1 + UART_FCR, 0x07); /* enable and clear the FIFOs */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void serial_putc(char c)
{
    /* A missing UART reads 0xff, so this never spins forever. */
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}

void serial_flush(void)
{
    while (!(inb(COM1 + UART_LSR) & LSR_TEMT))
        cpu_relax();
}

void kprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = hv_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf))
        n = sizeof(buf) - 1; /* truncated */
    serial_write(buf, (size_t)n);
}
