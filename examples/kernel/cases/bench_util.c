/*
 * Benchmark plumbing (bench_common.h): the guest VM, the embedder's run
 * loop, timing, printing and counting host services.
 */
#include "bench_common.h"

#include "core/util.h"
#include "cpu.h"

/* Weak: a kernel built without tests/system/guests/bench has no images. */
extern const uint8_t guest_bench_start[] __attribute__((weak));
extern const uint8_t guest_bench_end[] __attribute__((weak));

#define RAM_SIZE   (1u << 20)
#define LOAD_GPA   0x1000u
#define RESET_GPA  0xfffff000ull
#define MMIO_VALUE 0x600dcafeu
#define PIC1_DATA  0x21

static uint64_t arg_number(const char *key, uint64_t def, uint64_t min, uint64_t max)
{
    char buf[24];
    uint64_t v = 0;
    if (!boot_arg(key, buf, sizeof(buf)) || !buf[0])
        return def;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9' || v > max)
            return def;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v < min ? min : v > max ? max : v;
}

uint64_t bench_iters(void)
{
    return arg_number("bench_n", BENCH_N, 1, BENCH_N_MAX);
}

unsigned bench_repeats(void)
{
    return (unsigned)arg_number("bench_repeat", BENCH_REPEAT, 1, 100);
}

bool bench_selected(const char *name)
{
    char list[128];
    size_t n = hv_strlen(name);
    if (!boot_arg("bench_only", list, sizeof(list)))
        return true;
    for (const char *p = list; *p;) {
        const char *w = p;
        while (*p && *p != ',')
            p++;
        if ((size_t)(p - w) == n && hv_memcmp(w, name, n) == 0)
            return true;
        if (*p == ',')
            p++;
    }
    return false;
}

uint64_t bench_rdtsc(void)
{
    return rdtsc();
}

uint8_t bench_quiet_begin(void)
{
    uint64_t f = irq_save();
    uint8_t mask = inb(PIC1_DATA);
    outb(PIC1_DATA, mask | 1u); /* IRQ 0: the PIT tick */
    irq_restore(f);
    return mask;
}

void bench_quiet_end(uint8_t mask)
{
    outb(PIC1_DATA, mask);
}

void bench_print_value(const char *backend, const char *name, uint64_t value)
{
    kprintf("bench %s %s %llu\n", backend, name, (unsigned long long)value);
}

void bench_print(const char *backend, const char *name, uint64_t centi, const char *floor_name,
                 uint64_t floor_centi)
{
    unsigned long long v = (centi + 50) / 100;
    if (!floor_name || !floor_centi) {
        kprintf("bench %s %s %llu\n", backend, name, v);
        return;
    }
    /* Ratio with two decimals, rounded, without floating point. */
    unsigned long long r = (centi * 100 + floor_centi / 2) / floor_centi;
    kprintf("bench %s %s %llu (%llu.%02llux %s)\n", backend, name, v, r / 100, r % 100, floor_name);
}

const char *bench_backend(const struct hv_caps *caps)
{
    return caps->backend_name ? caps->backend_name : "?";
}

int bench_ctx_create(struct kcase_ctx *kc, struct hv_ctx **ctx, struct hv_caps *caps)
{
    struct hv_ctx_config cfg = {.size = sizeof(cfg), .log_level = HV_LOG_WARN};
    hv_status_t st = hv_ctx_create(&kc->host_ops, &cfg, ctx);
    if (st != HV_OK)
        return kcase_fail(kc, "hv_ctx_create: %s", hv_status_str(st));
    hv_memset(caps, 0, sizeof(*caps));
    caps->size = sizeof(*caps);
    if (hv_ctx_caps(*ctx, caps) != HV_OK) {
        hv_ctx_destroy(*ctx);
        return kcase_fail(kc, "hv_ctx_caps failed");
    }
    return 0;
}

static hv_status_t mmio_handler(void *opaque, uint64_t gpa, unsigned size, bool write,
                                uint64_t *value)
{
    (void)opaque;
    (void)gpa;
    (void)size;
    if (!write)
        *value = MMIO_VALUE;
    return HV_OK;
}

int bench_vm_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct bench_vm *b,
                    const struct hv_lapic_config *lapic)
{
    struct hv_caps caps = {.size = sizeof(caps)};
    hv_status_t st;
    size_t len = (size_t)(guest_bench_end - guest_bench_start);

    hv_memset(b, 0, sizeof(*b));
    b->kc = kc;
    b->ctx = ctx;
    if (!guest_bench_start || !guest_bench_end || len == 0 || len > RAM_SIZE - LOAD_GPA)
        return kcase_fail(kc, "benchmark guest missing: build with tests/bench "
                              "(tests/system/guests/bench)");
    if (hv_ctx_caps(ctx, &caps) != HV_OK)
        return kcase_fail(kc, "hv_ctx_caps failed");
    b->intel = caps.backend == HV_BACKEND_VMX;
    b->ram = pmm_alloc(RAM_SIZE / PAGE_SIZE);
    b->reset_page = pmm_alloc(1);
    b->npf_page = pmm_alloc(1);
    if (!b->ram || !b->reset_page || !b->npf_page)
        return kcase_fail(kc, "out of memory for the guest");
    hv_memcpy(b->ram + LOAD_GPA, guest_bench_start, len);
    /* Reset vector 0xfffffff0: ljmp $0x0000, $0x1000. */
    static const uint8_t stub[] = {0xea, LOAD_GPA & 0xff, LOAD_GPA >> 8, 0x00, 0x00};
    hv_memcpy(b->reset_page + 0xff0, stub, sizeof(stub));

    if ((st = hv_vm_create(ctx, NULL, &b->vm)) != HV_OK)
        return kcase_fail(kc, "hv_vm_create: %s", hv_status_str(st));
    if ((st = hv_vm_map(b->vm, 0, (uintptr_t)b->ram, RAM_SIZE, HV_MEM_RWX)) != HV_OK ||
        (st = hv_vm_map(b->vm, RESET_GPA, (uintptr_t)b->reset_page, PAGE_SIZE,
                        HV_MEM_READ | HV_MEM_EXEC)) != HV_OK)
        return kcase_fail(kc, "hv_vm_map: %s", hv_status_str(st));
    if ((st = hv_vm_mmio_register(b->vm, BENCH_MMIO_HANDLER_GPA, PAGE_SIZE, mmio_handler, NULL)) !=
            HV_OK ||
        (st = hv_vm_mmio_register(b->vm, BENCH_MMIO_EXIT_GPA, PAGE_SIZE, NULL, NULL)) != HV_OK)
        return kcase_fail(kc, "hv_vm_mmio_register: %s", hv_status_str(st));
    if (lapic && (st = hv_lapic_enable(b->vm, lapic)) != HV_OK)
        return kcase_fail(kc, "hv_lapic_enable: %s", hv_status_str(st));
    if ((st = hv_vcpu_create(b->vm, 0, &b->vcpu)) != HV_OK)
        return kcase_fail(kc, "hv_vcpu_create: %s", hv_status_str(st));
    return 0;
}

void bench_vm_destroy(struct bench_vm *b)
{
    if (b->vcpu)
        hv_vcpu_destroy(b->vcpu);
    if (b->vm)
        hv_vm_destroy(b->vm);
    if (b->ram)
        pmm_free(b->ram, RAM_SIZE / PAGE_SIZE);
    if (b->reset_page)
        pmm_free(b->reset_page, 1);
    if (b->npf_page)
        pmm_free(b->npf_page, 1);
    hv_memset(b, 0, sizeof(*b));
}

static int unexpected(struct bench_vm *b, const char *what)
{
    const struct hv_exit *e = &b->exit;
    return kcase_fail(b->kc,
                      "%s: exit %u (raw 0x%llx info 0x%llx/0x%llx) at rip 0x%llx, port 0x%x gpa "
                      "0x%llx",
                      what, e->reason, (unsigned long long)e->raw_code,
                      (unsigned long long)e->raw_info1, (unsigned long long)e->raw_info2,
                      (unsigned long long)e->rip, e->reason == HV_EXIT_IO ? e->io.port : 0,
                      e->reason == HV_EXIT_SLAT_FAULT ? (unsigned long long)e->slat.gpa
                      : e->reason == HV_EXIT_MMIO     ? (unsigned long long)e->mmio.gpa
                                                      : 0ull);
}

/*
 * The embedder's run loop, as lean as an embedder would write it: serve
 * the exits the benchmark guest makes until it halts. This loop's own
 * instructions are part of the io_out, mmio_exit and npf_map figures.
 */
static int serve_exits(struct bench_vm *b);

/* The vCPU bound to this CPU around the loop, its x87/SSE state kept
   loaded (hv_vcpu_load: this kernel uses no FPU or SSE register), unless
   b->unloaded asks for plain runs. */
static int serve(struct bench_vm *b)
{
    if (b->unloaded)
        return serve_exits(b);
    hv_status_t st = hv_vcpu_load(b->vcpu, HV_LOAD_GUEST_FPU);
    if (st != HV_OK)
        return kcase_fail(b->kc, "hv_vcpu_load: %s", hv_status_str(st));
    int r = serve_exits(b);
    st = hv_vcpu_put(b->vcpu);
    if (st != HV_OK)
        return kcase_fail(b->kc, "hv_vcpu_put: %s", hv_status_str(st));
    return r;
}

static int serve_exits(struct bench_vm *b)
{
    struct hv_exit *e = &b->exit;
    for (;;) {
        hv_status_t st = hv_vcpu_run(b->vcpu, e);
        if (st != HV_OK)
            return kcase_fail(b->kc, "hv_vcpu_run: %s", hv_status_str(st));
        b->exits++;
        switch (e->reason) {
        case HV_EXIT_IO:
            if (e->io.port == BENCH_PORT_OUT && e->io.write)
                continue;
            if (e->io.port == BENCH_PORT_CMD && !e->io.write) {
                e->io.data = b->cmd;
                continue;
            }
            return unexpected(b, "port I/O");
        case HV_EXIT_MMIO:
            if (e->mmio.gpa != BENCH_MMIO_EXIT_GPA)
                return unexpected(b, "MMIO");
            if (!e->mmio.write)
                e->mmio.data = MMIO_VALUE;
            continue;
        case HV_EXIT_SLAT_FAULT: {
            uint64_t gpa = e->slat.gpa & ~(uint64_t)(PAGE_SIZE - 1);
            if (gpa < BENCH_NPF_GPA || gpa >= BENCH_NPF_GPA + (uint64_t)BENCH_N_MAX * PAGE_SIZE)
                return unexpected(b, "nested page fault");
            st = hv_vm_map(b->vm, gpa, (uintptr_t)b->npf_page, PAGE_SIZE, HV_MEM_RWX);
            if (st != HV_OK)
                return kcase_fail(b->kc, "hv_vm_map 0x%llx: %s", (unsigned long long)gpa,
                                  hv_status_str(st));
            b->npf_mapped++;
            continue;
        }
        case HV_EXIT_HYPERCALL:
            continue;
        case HV_EXIT_HLT:
            return 0;
        default:
            return unexpected(b, "exit");
        }
    }
}

static uint64_t ram_u64(struct bench_vm *b, uint32_t gpa)
{
    return *(volatile uint64_t *)(b->ram + gpa);
}

/* One command: answer the IN, stop at the hand-over HLT, optionally run
   the loop under a bare handler, stop at the result HLT. */
static int run_once(struct bench_vm *b, uint32_t cmd, const enum bench_bare_kind *bare)
{
    b->cmd = cmd | (b->intel ? BENCH_CMD_INTEL : 0);
    b->exits = 0;
    if (serve(b))
        return -1;
    if (b->exit.reason != HV_EXIT_HLT || b->exits < 2)
        return kcase_fail(b->kc, "command %u: the guest did not take it", cmd);
    if (bare && bench_bare_run(b, *bare))
        return -1;
    if (serve(b))
        return -1;
    if (b->npf_mapped) {
        hv_status_t st = hv_vm_unmap(b->vm, BENCH_NPF_GPA, b->npf_mapped * PAGE_SIZE);
        if (st != HV_OK)
            return kcase_fail(b->kc, "hv_vm_unmap: %s", hv_status_str(st));
        b->npf_mapped = 0;
    }
    return 0;
}

int bench_bare_run(struct bench_vm *b, enum bench_bare_kind kind)
{
    return b->intel ? bench_bare_vmx(b, kind) : bench_bare_svm(b, kind);
}

int bench_command(struct bench_vm *b, uint32_t cmd)
{
    *(volatile uint64_t *)(b->ram + BENCH_ITERS) = 1;
    return run_once(b, cmd, NULL);
}

int bench_measure(struct bench_vm *b, uint32_t cmd, const enum bench_bare_kind *bare,
                  uint64_t *centi)
{
    uint64_t best = UINT64_MAX, n = bench_iters();
    unsigned repeats = bench_repeats();
    *(volatile uint64_t *)(b->ram + BENCH_ITERS) = n;
    for (unsigned r = 0; r < repeats; r++) {
        uint8_t mask = bench_quiet_begin();
        int rc = run_once(b, cmd, bare);
        bench_quiet_end(mask);
        if (rc)
            return rc;
        uint64_t base = ram_u64(b, BENCH_RES_BASE), op = ram_u64(b, BENCH_RES_OP);
        if (op < base)
            return kcase_fail(b->kc,
                              "command %u: loop with the operation (%llu) faster than "
                              "the baseline (%llu)",
                              cmd, (unsigned long long)op, (unsigned long long)base);
        uint64_t c = ((op - base) * 100 + n / 2) / n;
        if (c < best)
            best = c;
    }
    *centi = best;
    return 0;
}

/* ---- counting host services ---------------------------------------------- */

static void *count_page_alloc(void *opaque, size_t count, uint64_t *hpa)
{
    struct bench_alloc_count *c = opaque;
    void *p = c->inner.page_alloc(c->inner.opaque, count, hpa);
    if (p)
        c->pages += (int64_t)count;
    return p;
}

static void count_page_free(void *opaque, void *hva, size_t count)
{
    struct bench_alloc_count *c = opaque;
    c->inner.page_free(c->inner.opaque, hva, count);
    c->pages -= (int64_t)count;
}

static void *count_obj_alloc(void *opaque, size_t size)
{
    struct bench_alloc_count *c = opaque;
    void *p = c->inner.obj_alloc(c->inner.opaque, size);
    if (p) {
        c->obj_bytes += (int64_t)size;
        c->objs++;
    }
    return p;
}

static void count_obj_free(void *opaque, void *ptr, size_t size)
{
    struct bench_alloc_count *c = opaque;
    c->inner.obj_free(c->inner.opaque, ptr, size);
    c->obj_bytes -= (int64_t)size;
    c->objs--;
}

#define FORWARD(ret, name, params, args)                                                           \
    static ret count_##name params                                                                 \
    {                                                                                              \
        struct bench_alloc_count *c = opaque;                                                      \
        return c->inner.name args;                                                                 \
    }

/* Every other service is forwarded with the kernel's own opaque pointer. */
FORWARD(uint64_t, virt_to_phys, (void *opaque, const void *hva), (c->inner.opaque, hva))
FORWARD(void *, phys_to_virt, (void *opaque, uint64_t hpa), (c->inner.opaque, hpa))
FORWARD(uint32_t, cpu_count, (void *opaque), (c->inner.opaque))
FORWARD(uint32_t, cpu_current, (void *opaque), (c->inner.opaque))
FORWARD(int, run_on_each_cpu, (void *opaque, hv_cpu_fn fn, void *arg), (c->inner.opaque, fn, arg))
FORWARD(void, kick_cpu, (void *opaque, uint32_t cpu), (c->inner.opaque, cpu))
FORWARD(uint64_t, irq_save, (void *opaque), (c->inner.opaque))
FORWARD(void, irq_restore, (void *opaque, uint64_t token), (c->inner.opaque, token))
FORWARD(void, log, (void *opaque, hv_log_level_t level, const char *msg),
        (c->inner.opaque, level, msg))
FORWARD(uint64_t, time_ns, (void *opaque), (c->inner.opaque))

void bench_counting_ops(struct bench_alloc_count *c, const struct hv_host_ops *inner,
                        struct hv_host_ops *out)
{
    hv_memset(c, 0, sizeof(*c));
    hv_memcpy(&c->inner, inner, sizeof(*inner));
    hv_memcpy(out, inner, sizeof(*inner));
    out->opaque = c;
    out->page_alloc = count_page_alloc;
    out->page_free = count_page_free;
    out->obj_alloc = count_obj_alloc;
    out->obj_free = count_obj_free;
    out->virt_to_phys = count_virt_to_phys;
    out->phys_to_virt = count_phys_to_virt;
    out->cpu_count = count_cpu_count;
    out->cpu_current = count_cpu_current;
    out->run_on_each_cpu = count_run_on_each_cpu;
    out->kick_cpu = inner->kick_cpu ? count_kick_cpu : NULL;
    out->irq_save = inner->irq_save ? count_irq_save : NULL;
    out->irq_restore = inner->irq_restore ? count_irq_restore : NULL;
    out->log = inner->log ? count_log : NULL;
    out->time_ns = inner->time_ns ? count_time_ns : NULL;
}
