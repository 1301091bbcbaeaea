/*
 * The Xen test guest's runtime: hypercalls through the hypercall page,
 * console output, checks, the IDT and the event upcall handler, the
 * pvclock, and xg_main(), which sets the guest up the way a PVH kernel
 * does and runs the test group the command line names.
 */
#include <stdarg.h>

#include "xg.h"

uint8_t hypercall_page[4096] __attribute__((aligned(4096)));
static uint8_t shinfo_page[4096] __attribute__((aligned(4096)));
struct shared_info *xg_shinfo;
struct vcpu_info *xg_vi;
uint32_t xg_domid, xg_peer;
const struct hvm_start_info *xg_si;
unsigned xg_checks, xg_failures;
volatile unsigned xg_upcalls;
volatile uint8_t xg_last_vector;
volatile unsigned xg_fired[XG_MAX_PORTS];
/* The vCPU each port's events go to (bind_ipi, bind_virq; 0 otherwise):
   vCPU 0's upcall handler leaves other vCPUs' ports to them, though they
   share its words of pending bits (the 2-level ABI sets the selector of
   the port's vCPU only, but a handler reads whole words). */
static uint8_t port_vcpu[XG_MAX_PORTS];

/* ---- small library ---- */

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

size_t xg_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

bool xg_all(const void *p, uint8_t byte, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != byte)
            return false;
    return true;
}

/* "key=value" words of the start_info command line. */
const char *xg_arg(const char *key, char *buf, size_t cap)
{
    if (!xg_si || !xg_si->cmdline_paddr)
        return NULL;
    const char *s = (const char *)(ureg)xg_si->cmdline_paddr;
    size_t kl = xg_strlen(key);
    while (*s) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        if ((size_t)(s - w) > kl && !memcmp(w, key, kl) && w[kl] == '=') {
            size_t n = (size_t)(s - w) - kl - 1;
            if (n >= cap)
                n = cap - 1;
            memcpy(buf, w + kl + 1, n);
            buf[n] = 0;
            return buf;
        }
    }
    return NULL;
}

uint32_t xg_arg_u32(const char *key, uint32_t dflt)
{
    char b[16];
    if (!xg_arg(key, b, sizeof(b)))
        return dflt;
    uint32_t v = 0;
    for (const char *p = b; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint32_t)(*p - '0');
    return v;
}

/* ---- hypercalls ---- */

long xg_hcall(unsigned nr, ureg a1, ureg a2, ureg a3, ureg a4, ureg a5)
{
    ureg stub = (ureg)(hypercall_page + nr * 32);
    long ret;
#ifdef __x86_64__
    register ureg r10 __asm__("r10") = a4;
    register ureg r8 __asm__("r8") = a5;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [stub] "m"(stub)
                     : "memory", "rcx", "r9", "r11");
#else
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
                     : [stub] "m"(stub)
                     : "memory");
#endif
    return ret;
}

static bool xg_amd;

long xg_hcall_raw(unsigned nr, ureg a1, ureg a2, ureg a3)
{
    long ret = nr;
#ifdef __x86_64__
    if (xg_amd)
        __asm__ volatile("vmmcall" : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3) : : "memory");
    else
        __asm__ volatile("vmcall" : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3) : : "memory");
#else
    if (xg_amd)
        __asm__ volatile("vmmcall" : "+a"(ret), "+b"(a1), "+c"(a2), "+d"(a3) : : "memory");
    else
        __asm__ volatile("vmcall" : "+a"(ret), "+b"(a1), "+c"(a2), "+d"(a3) : : "memory");
#endif
    return ret;
}

long xg_evtchn_op(unsigned cmd, void *arg)
{
    return HC2(HC_event_channel_op, cmd, arg);
}

long xg_sched(unsigned cmd, void *arg)
{
    return HC2(HC_sched_op, cmd, arg);
}

evtchn_port_t xg_timer_events(void)
{
    evtchn_port_t t = 0;
    CHECK_EQ(xg_bind_virq(VIRQ_TIMER, 0, &t), 0);
    CHECK_EQ(xg_set_param(HVM_PARAM_CALLBACK_IRQ,
                          (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | XG_VEC_CALLBACK),
             0);
    xg_sti();
    return t;
}

long xg_set_timer(uint64_t t)
{
#ifdef __x86_64__
    return HC1(HC_set_timer_op, t);
#else
    return HC2(HC_set_timer_op, (uint32_t)t, (uint32_t)(t >> 32));
#endif
}

long xg_send(evtchn_port_t port)
{
    return xg_evtchn_op(EVTCHNOP_send, &port);
}

long xg_close(evtchn_port_t port)
{
    long rc = xg_evtchn_op(EVTCHNOP_close, &port);
    if (!rc && port < XG_MAX_PORTS)
        port_vcpu[port] = 0;
    return rc;
}

static void note_vcpu(evtchn_port_t port, uint32_t vcpu)
{
    if (port < XG_MAX_PORTS)
        port_vcpu[port] = (uint8_t)vcpu;
}

long xg_alloc_unbound(uint16_t remote, evtchn_port_t *port)
{
    struct evtchn_alloc_unbound a = {.dom = DOMID_SELF, .remote_dom = remote};
    long rc = xg_evtchn_op(EVTCHNOP_alloc_unbound, &a);
    *port = a.port;
    return rc;
}

long xg_bind_ipi(uint32_t vcpu, evtchn_port_t *port)
{
    struct evtchn_bind_ipi b = {.vcpu = vcpu};
    long rc = xg_evtchn_op(EVTCHNOP_bind_ipi, &b);
    *port = b.port;
    if (!rc)
        note_vcpu(b.port, vcpu);
    return rc;
}

long xg_bind_virq(uint32_t virq, uint32_t vcpu, evtchn_port_t *port)
{
    struct evtchn_bind_virq b = {.virq = virq, .vcpu = vcpu};
    long rc = xg_evtchn_op(EVTCHNOP_bind_virq, &b);
    *port = b.port;
    if (!rc)
        note_vcpu(b.port, vcpu);
    return rc;
}

long xg_set_param(uint32_t index, uint64_t value)
{
    struct xen_hvm_param p = {.domid = DOMID_SELF, .index = index, .value = value};
    return HC2(HC_hvm_op, HVMOP_set_param, &p);
}

long xg_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = {.domid = DOMID_SELF, .index = index};
    long rc = HC2(HC_hvm_op, HVMOP_get_param, &p);
    *value = p.value;
    return rc;
}

long xg_poll(evtchn_port_t *ports, unsigned n, uint64_t timeout)
{
    struct sched_poll p = {.ports = ports, .nr_ports = n, .timeout = timeout};
    return xg_sched(SCHEDOP_poll, &p);
}

/* ---- output ---- */

void xg_write(const char *s, size_t n)
{
    HC3(HC_console_io, CONSOLEIO_write, n, s);
}

struct outbuf {
    char b[256];
    size_t n;
};

static void put(struct outbuf *o, char c)
{
    if (o->n < sizeof(o->b))
        o->b[o->n++] = c;
}

/* Unsigned 64-bit to text without 64-bit division (no libgcc in i386). */
static void put_num(struct outbuf *o, uint64_t v, unsigned base, bool neg)
{
    char d[24];
    int n = 0;
    do {
        uint64_t q = 0;
        uint32_t r = 0;
        for (int bit = 63; bit >= 0; bit--) {
            r = (r << 1) | (uint32_t)((v >> bit) & 1);
            q <<= 1;
            if (r >= base) {
                r -= base;
                q |= 1;
            }
        }
        d[n++] = "0123456789abcdef"[r];
        v = q;
    } while (v);
    if (neg)
        put(o, '-');
    while (n)
        put(o, d[--n]);
}

void xg_printf(const char *fmt, ...)
{
    struct outbuf o;
    o.n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        int longs = 0;
        p++;
        while (*p == 'l') {
            longs++;
            p++;
        }
        switch (*p) {
        case 'd': {
            long long v = longs >= 2 ? va_arg(ap, long long)
                          : longs    ? va_arg(ap, long)
                                     : va_arg(ap, int);
            put_num(&o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs    ? va_arg(ap, unsigned long)
                                              : va_arg(ap, unsigned int);
            put_num(&o, v, *p == 'u' ? 10 : 16, false);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (s && *s)
                put(&o, *s++);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
        if (!*p)
            break;
    }
    va_end(ap);
    xg_write(o.b, o.n);
}

void xg_check(bool ok, int line, const char *what, long long got, long long want, bool values)
{
    xg_checks++;
    if (ok)
        return;
    xg_failures++;
    if (values)
        xg_printf("FAIL line %d: %s (got %lld = 0x%llx, want %lld)\n", line, what, got,
                  (unsigned long long)got, want);
    else
        xg_printf("FAIL line %d: %s\n", line, what);
}

void xg_shutdown(unsigned reason)
{
    struct sched_shutdown s = {.reason = reason};
    for (;;)
        xg_sched(SCHEDOP_shutdown, &s);
}

/* ---- CPU set-up ---- */

static volatile unsigned gp_expected, gp_seen;

bool xg_wrmsr_faults(uint32_t msr, uint64_t v)
{
    unsigned before = gp_seen;
    gp_expected = 1;
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
    gp_expected = 0;
    return gp_seen != before;
}

uint64_t xg_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t xg_cpuid_base(void)
{
    for (uint32_t base = XEN_CPUID_FIRST; base < XEN_CPUID_FIRST + 0x10000; base += 0x100) {
        uint32_t r[4];
        xg_cpuid(base, 0, r);
        if (!memcmp(&r[1], "XenVMMXenVMM", 4) && !memcmp(&r[2], "MMXe", 4) &&
            !memcmp(&r[3], "nVMM", 4) && r[0] - base >= 2)
            return base;
    }
    return 0;
}

void xg_install_hypercall_page(void)
{
    uint32_t r[4];
    xg_cpuid(0, 0, r);
    xg_amd = r[1] == 0x68747541; /* "Auth" */
    uint32_t base = xg_cpuid_base();
    if (!base)
        for (;;)
            __asm__ volatile("ud2"); /* not on Xen: nothing to report to */
    xg_cpuid(base + 2, 0, r);
    __asm__ volatile("wrmsr" : : "c"(r[1]), "a"((uint32_t)(ureg)hypercall_page), "d"(0) : "memory");
}

#ifdef __x86_64__
struct gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, rsvd;
};
#define CODE_SEL 0x18
#else
struct gate {
    uint16_t off0, sel;
    uint8_t zero, type;
    uint16_t off1;
};
#define CODE_SEL 0x08
#endif
static struct gate idt[256] __attribute__((aligned(16)));
extern const ureg xg_stubs[20], xg_stub_80, xg_stub_e0, xg_stub_f3;

static void set_gate(unsigned vec, ureg fn)
{
    struct gate *g = &idt[vec];
    memset(g, 0, sizeof(*g));
    g->off0 = (uint16_t)fn;
    g->sel = CODE_SEL;
    g->type = 0x8e; /* present, DPL 0, interrupt gate */
    g->off1 = (uint16_t)(fn >> 16);
#ifdef __x86_64__
    g->off2 = (uint32_t)(fn >> 32);
#endif
}

/* A TSS, so that INT 0x80 from ring 3 has a ring-0 stack (the PVH entry
   state's TR is only a placeholder). */
static uint32_t tss[26] __attribute__((aligned(16)));
extern uint8_t xg_gdt[], xg_tss_stack_top[];

static void tss_init(void)
{
    ureg top = (ureg)xg_tss_stack_top, base = (ureg)tss;
    tss[1] = (uint32_t)top; /* ESP0 / RSP0 low */
#ifdef __x86_64__
    tss[2] = (uint32_t)((uint64_t)top >> 32);
#else
    tss[2] = 0x10; /* SS0 */
#endif
    ((uint16_t *)tss)[51] = sizeof(tss); /* no I/O bitmap */
    uint32_t lo = (uint32_t)(sizeof(tss) - 1) | (uint32_t)(base & 0xffff) << 16;
    uint32_t hi = (uint32_t)((base >> 16) & 0xff) | 0x8900u | (uint32_t)(base & 0xff000000u);
    memcpy(xg_gdt + 0x38, &lo, 4);
    memcpy(xg_gdt + 0x3c, &hi, 4);
#ifdef __x86_64__
    uint32_t up = (uint32_t)((uint64_t)base >> 32), zero = 0;
    memcpy(xg_gdt + 0x40, &up, 4);
    memcpy(xg_gdt + 0x44, &zero, 4);
#endif
    __asm__ volatile("ltr %w0" : : "r"(0x38) : "memory");
}

void xg_enter_user(ureg stub);
__attribute__((noreturn)) void xg_leave_user(void);
static volatile long user_result;

long xg_user_hypercall(unsigned nr)
{
    user_result = 12345;
    xg_enter_user((ureg)(hypercall_page + 32 * nr));
    return user_result;
}

void xg_idt_init(void)
{
    tss_init();
    for (unsigned v = 0; v < 20; v++)
        set_gate(v, xg_stubs[v]);
    set_gate(0x80, xg_stub_80);
    idt[0x80].type = 0xee; /* DPL 3: INT 0x80 from ring 3 */
    set_gate(XG_VEC_UPCALL, xg_stub_e0);
    set_gate(XG_VEC_CALLBACK, xg_stub_f3);
    struct __attribute__((packed)) {
        uint16_t limit;
        ureg base;
    } d = {sizeof(idt) - 1, (ureg)idt};
    __asm__ volatile("lidt %0" : : "m"(d));
}

void xg_map_shared_info(void)
{
    struct xen_add_to_physmap a = {.domid = DOMID_SELF,
                                   .space = XENMAPSPACE_shared_info,
                                   .idx = 0,
                                   .gpfn = (ureg)shinfo_page >> 12};
    long rc = HC2(HC_memory_op, XENMEM_add_to_physmap, &a);
    if (rc) {
        xg_printf("FAIL: XENMEM_add_to_physmap(shared_info) = %ld\n", rc);
        xg_shutdown(SHUTDOWN_crash);
    }
    xg_shinfo = (struct shared_info *)shinfo_page;
    xg_vi = &xg_shinfo->vcpu_info[0];
}

/* ---- time ---- */

/* ns = ((tsc - stamp) << shift) * mul >> 32, without 128-bit types. */
static uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    uint64_t lo = (uint64_t)(uint32_t)delta * mul;
    uint64_t hi = (delta >> 32) * mul;
    return hi + (lo >> 32);
}

uint64_t xg_now(void)
{
    volatile struct vcpu_time_info *t = &xg_vi->time;
    uint32_t v;
    uint64_t ns;
    do {
        v = t->version;
        xg_barrier();
        uint64_t stamp = t->tsc_timestamp, sys = t->system_time;
        uint32_t mul = t->tsc_to_system_mul;
        int8_t shift = t->tsc_shift;
        uint64_t tsc = xg_rdtsc();
        ns = sys + scale(tsc - stamp, mul, shift);
        xg_barrier();
    } while ((v & 1) || v != t->version);
    return ns;
}

void xg_spin_ns(uint64_t ns)
{
    uint64_t end = xg_now() + ns;
    while (xg_now() < end)
        __asm__ volatile("pause");
}

/* ---- events ---- */

bool xg_test_bit(const volatile ureg *a, unsigned n)
{
    return (a[n / XG_LONG_BITS] >> (n % XG_LONG_BITS)) & 1;
}

void xg_set_bit(volatile ureg *a, unsigned n)
{
    __atomic_fetch_or(&a[n / XG_LONG_BITS], (ureg)1 << (n % XG_LONG_BITS), __ATOMIC_SEQ_CST);
}

void xg_clear_bit(volatile ureg *a, unsigned n)
{
    __atomic_fetch_and(&a[n / XG_LONG_BITS], ~((ureg)1 << (n % XG_LONG_BITS)), __ATOMIC_SEQ_CST);
}

/* The 2-level upcall: clear upcall_pending, take the selector word, and
   handle every pending, unmasked port it names (Xen's event_channel.h). */
static void do_upcall(void)
{
    struct vcpu_info *vi = xg_vi;
    struct shared_info *s = xg_shinfo;
    vi->evtchn_upcall_pending = 0;
    ureg sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        unsigned w = (unsigned)__builtin_ctzl(sel);
        sel &= sel - 1;
        ureg pend = s->evtchn_pending[w] & ~s->evtchn_mask[w];
        while (pend) {
            unsigned b = (unsigned)__builtin_ctzl(pend);
            pend &= pend - 1;
            unsigned port = w * XG_LONG_BITS + b;
            if (port < XG_MAX_PORTS && port_vcpu[port])
                continue; /* another vCPU's */
            xg_clear_bit(s->evtchn_pending, port);
            if (port < XG_MAX_PORTS)
                xg_fired[port]++;
        }
    }
}

void xg_trap(struct xg_frame *f)
{
    if (f->vec == XG_VEC_UPCALL || f->vec == XG_VEC_CALLBACK) {
        xg_upcalls++;
        xg_last_vector = (uint8_t)f->vec;
        do_upcall();
        return;
    }
    if (f->vec == 0x80 && (f->cs & 3) == 3) {
        user_result = (long)f->ax; /* what the hypercall returned at CPL 3 */
        xg_leave_user();
    }
    if (f->vec == 13 && gp_expected) {
        gp_seen++;
        f->ip += 2; /* WRMSR */
        return;
    }
    xg_printf("FAIL: exception %lu error 0x%lx at 0x%lx\n", (unsigned long)f->vec,
              (unsigned long)f->err, (unsigned long)f->ip);
    xg_shutdown(SHUTDOWN_crash);
}

bool xg_wait_port(evtchn_port_t port, uint64_t timeout_ns)
{
    uint64_t end = xg_now() + timeout_ns;
    for (;;) {
        if (xg_test_bit(xg_shinfo->evtchn_pending, port)) {
            xg_clear_bit(xg_shinfo->evtchn_pending, port);
            return true;
        }
        if (xg_now() >= end)
            return false;
        xg_poll(&port, 1, end);
    }
}

/* ---- main ---- */

struct group {
    const char *name;
    void (*fn)(void);
};

static const struct group groups[] = {
    {"abi", xg_test_abi},     {"version", xg_test_version}, {"console", xg_test_console},
    {"sched", xg_test_sched}, {"timer", xg_test_timer},     {"memory", xg_test_memory},
    {"hvm", xg_test_hvm},     {"evtchn", xg_test_evtchn},   {"upcall", xg_test_upcall},
    {"grant", xg_test_grant}, {"vcpu", xg_test_vcpu},       {"runstate", xg_test_runstate},
    {"timearea", xg_test_timearea},
};

static bool streq(const char *a, const char *b)
{
    return xg_strlen(a) == xg_strlen(b) && !memcmp(a, b, xg_strlen(a));
}

static void reset_events(void)
{
    /* Leave the event state as a fresh guest has it for the next group. */
    xg_cli();
    xg_set_param(HVM_PARAM_CALLBACK_IRQ, 0);
    for (evtchn_port_t p = 1; p < 64; p++) {
        struct evtchn_status st = {.dom = DOMID_SELF, .port = p};
        if (!xg_evtchn_op(EVTCHNOP_status, &st) && st.status != EVTCHNSTAT_closed)
            xg_close(p);
    }
    for (unsigned i = 0; i < XG_LONG_BITS; i++)
        xg_shinfo->evtchn_pending[i] = xg_shinfo->evtchn_mask[i] = 0;
    xg_vi->evtchn_upcall_pending = 0;
    xg_vi->evtchn_pending_sel = 0;
    for (unsigned i = 0; i < XG_MAX_PORTS; i++)
        xg_fired[i] = port_vcpu[i] = 0;
    xg_upcalls = 0;
}

void xg_boot(const struct hvm_start_info *si)
{
    xg_si = si;
    xg_install_hypercall_page();
    xg_idt_init();
    if (si->magic != XEN_HVM_START_MAGIC) {
        xg_printf("FAIL: start_info magic 0x%x\n", si->magic);
        xg_shutdown(SHUTDOWN_crash);
    }
    xg_domid = xg_arg_u32("dom", 0);
}

void xg_main(const struct hvm_start_info *si)
{
    xg_boot(si);
    xg_peer = xg_arg_u32("peer", 0);
    char test[16];
    if (!xg_arg("test", test, sizeof(test))) {
        test[0] = 'a', test[1] = 'l', test[2] = 'l', test[3] = 0;
    }
    xg_map_shared_info();
    xg_printf("xg: %s guest, dom %u, test %s\n", sizeof(ureg) == 8 ? "64-bit" : "32-bit", xg_domid,
              test);

    if (streq(test, "front")) {
        xg_run_front();
    } else if (streq(test, "back")) {
        xg_run_back();
    } else if (streq(test, "pvcons")) {
        xg_test_pvcons();
    } else if (streq(test, "smp")) {
        xg_test_smp(); /* needs the host to create vCPU 1: not in "all" */
        reset_events();
    } else if (streq(test, "reboot")) {
        /* SCHEDOP_shutdown_code records the reason; the plain shutdown
           that follows reports it (Xen keeps the first code). */
        struct sched_shutdown code = {.reason = SHUTDOWN_reboot};
        CHECK_EQ(xg_sched(SCHEDOP_shutdown_code, &code), 0);
        code.reason = SHUTDOWN_crash;
        CHECK_EQ(xg_sched(SCHEDOP_shutdown_code, &code), 0);
        if (!xg_failures) {
            xg_printf("xg: shutdown(poweroff) after shutdown_code(reboot)\n");
            xg_shutdown(SHUTDOWN_poweroff); /* the host must see reboot */
        }
    } else {
        bool any = false;
        for (unsigned i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
            if (!streq(test, "all") && !streq(test, groups[i].name))
                continue;
            any = true;
            unsigned f0 = xg_failures, c0 = xg_checks;
            groups[i].fn();
            reset_events();
            xg_printf("xg: %s: %u checks, %u failed\n", groups[i].name, xg_checks - c0,
                      xg_failures - f0);
        }
        if (!any)
            xg_printf("FAIL: no test group \"%s\"\n", test), xg_failures++;
    }
    if (xg_failures) {
        xg_printf("xg: FAILED (%u of %u checks)\n", xg_failures, xg_checks);
        xg_shutdown(SHUTDOWN_crash);
    }
    xg_printf("xg: all ok (%u checks)\n", xg_checks);
    xg_shutdown(SHUTDOWN_poweroff);
}
