/* Mock host services for hosted unit tests (see mock_host.h). */
#define _GNU_SOURCE
#include "mock_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096ull

/* ---- hash map --------------------------------------------------------------- */

static size_t map_slot(const struct mock_map *t, uint64_t k)
{
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (t->cap - 1);
}

static void map_grow(struct mock_map *t);

static void map_put(struct mock_map *t, uint64_t k, uint64_t v)
{
    if ((t->used + 1) * 2 > t->cap)
        map_grow(t);
    size_t i = map_slot(t, k);
    while (t->keys[i] && t->keys[i] != k)
        i = (i + 1) & (t->cap - 1);
    if (!t->keys[i])
        t->used++;
    t->keys[i] = k;
    t->vals[i] = v;
}

static void map_grow(struct mock_map *t)
{
    struct mock_map old = *t;
    t->cap = old.cap ? old.cap * 2 : 1024;
    t->keys = calloc(t->cap, sizeof(uint64_t));
    t->vals = calloc(t->cap, sizeof(uint64_t));
    if (!t->keys || !t->vals) {
        fprintf(stderr, "mock_host: out of memory for its tables\n");
        abort();
    }
    t->used = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            map_put(t, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

static bool map_get(const struct mock_map *t, uint64_t k, uint64_t *v)
{
    if (!t->cap)
        return false;
    for (size_t i = map_slot(t, k); t->keys[i]; i = (i + 1) & (t->cap - 1))
        if (t->keys[i] == k) {
            if (v)
                *v = t->vals[i];
            return true;
        }
    return false;
}

/* Linear-probing delete with backward shift (no tombstones). */
static bool map_del(struct mock_map *t, uint64_t k)
{
    if (!t->cap)
        return false;
    size_t i = map_slot(t, k);
    while (t->keys[i] != k) {
        if (!t->keys[i])
            return false;
        i = (i + 1) & (t->cap - 1);
    }
    size_t j = i;
    for (;;) {
        j = (j + 1) & (t->cap - 1);
        if (!t->keys[j])
            break;
        size_t home = map_slot(t, t->keys[j]);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->keys[i] = t->keys[j];
        t->vals[i] = t->vals[j];
        i = j;
    }
    t->keys[i] = 0;
    t->vals[i] = 0;
    t->used--;
    return true;
}

static void map_free(struct mock_map *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof(*t));
}

/* ---- bookkeeping ------------------------------------------------------------- */

struct mock_block {
    void *hva;
    uint64_t hpa;
    size_t count;
    bool guest; /* guest RAM: not a library allocation */
};

static void mock_error(struct mock_host *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mock_error(struct mock_host *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
    va_end(ap);
    m->errors++;
    fprintf(stderr, "mock_host: %s\n", m->last_error);
}

/* Decide whether this allocation attempt fails, and advance the index. */
static bool should_fail(struct mock_host *m)
{
    uint64_t idx = m->alloc_index++;
    if (idx == m->fail_at || idx >= m->fail_from) {
        m->failed++;
        return true;
    }
    return false;
}

static uint64_t take_hpa(struct mock_host *m, uint64_t bytes, uint64_t align)
{
    uint64_t hpa = (m->next_hpa + align - 1) & ~(align - 1);
    /* One unmapped page after every block: a walk past its end finds nothing. */
    m->next_hpa = hpa + bytes + PAGE;
    return hpa;
}

static void register_block(struct mock_host *m, struct mock_block *b)
{
    for (size_t i = 0; i < b->count; i++) {
        uint64_t vp = ((uint64_t)(uintptr_t)b->hva >> 12) + i;
        uint64_t pp = (b->hpa >> 12) + i;
        map_put(&m->p2v, pp, vp);
        map_put(&m->v2p, vp, pp);
    }
    map_put(&m->blocks, (uint64_t)(uintptr_t)b->hva >> 12, (uint64_t)(uintptr_t)b);
}

static void unregister_block(struct mock_host *m, struct mock_block *b)
{
    for (size_t i = 0; i < b->count; i++) {
        map_del(&m->p2v, (b->hpa >> 12) + i);
        map_del(&m->v2p, ((uint64_t)(uintptr_t)b->hva >> 12) + i);
    }
    map_del(&m->blocks, (uint64_t)(uintptr_t)b->hva >> 12);
}

static void quarantine_check_one(struct mock_host *m, unsigned slot)
{
    const unsigned char *p = m->quarantine[slot].raw;
    for (size_t i = 0; i < m->quarantine[slot].bytes; i++)
        if (p[i] != MOCK_POISON_BYTE) {
            mock_error(m, "freed block %p written after free (byte %zu = 0x%02x)", (void *)p, i,
                       p[i]);
            return;
        }
}

/* Free raw memory, or poison and quarantine it when poison_free is set. */
static void release(struct mock_host *m, void *raw, size_t bytes)
{
    if (!m->poison_free) {
        free(raw);
        return;
    }
    memset(raw, MOCK_POISON_BYTE, bytes);
    if (m->q_count == MOCK_QUARANTINE) {
        quarantine_check_one(m, m->q_head);
        free(m->quarantine[m->q_head].raw);
        m->q_head = (m->q_head + 1) % MOCK_QUARANTINE;
        m->q_count--;
    }
    unsigned slot = (m->q_head + m->q_count) % MOCK_QUARANTINE;
    m->quarantine[slot].raw = raw;
    m->quarantine[slot].bytes = bytes;
    m->q_count++;
}

/* scan_free: record whether a block the library gives back still holds data. */
static void scan_freed(struct mock_host *m, const char *kind, const void *p, size_t bytes)
{
    if (!m->scan_free)
        return;
    const unsigned char *c = p;
    uint64_t nz = 0;
    for (size_t i = 0; i < bytes; i++)
        nz += c[i] != 0;
    m->freed_scanned++;
    m->freed_scanned_bytes += bytes;
    if (!nz)
        return;
    if (m->freed_nonzero++ == 0)
        snprintf(m->freed_nonzero_first, sizeof(m->freed_nonzero_first),
                 "%s %p (%zu bytes, %llu non-zero)", kind, p, bytes, (unsigned long long)nz);
    m->freed_nonzero_bytes += nz;
}

/* ---- host ops ------------------------------------------------------------------ */

static void *alloc_block(struct mock_host *m, size_t count, uint64_t *hpa, bool guest)
{
    if (count == 0 || count > (SIZE_MAX / PAGE))
        return NULL;
    void *p = aligned_alloc(PAGE, count * PAGE);
    struct mock_block *b = malloc(sizeof(*b));
    if (!p || !b) {
        free(p);
        free(b);
        return NULL;
    }
    memset(p, 0, count * PAGE);
    b->hva = p;
    b->count = count;
    b->guest = guest;
    b->hpa = take_hpa(m, count * PAGE, PAGE);
    register_block(m, b);
    *hpa = b->hpa;
    return p;
}

static void *op_page_alloc(void *opaque, size_t count, uint64_t *hpa)
{
    struct mock_host *m = opaque;
    if (!hpa) {
        mock_error(m, "page_alloc without hpa pointer");
        return NULL;
    }
    if (should_fail(m))
        return NULL;
    void *p = alloc_block(m, count, hpa, false);
    if (!p)
        return NULL;
    m->pages_out += count;
    m->allocs_total++;
    m->page_allocs++;
    return p;
}

static struct mock_block *find_block(struct mock_host *m, void *hva)
{
    uint64_t v;
    if (!map_get(&m->blocks, (uint64_t)(uintptr_t)hva >> 12, &v))
        return NULL;
    struct mock_block *b = (struct mock_block *)(uintptr_t)v;
    return b->hva == hva ? b : NULL;
}

static void op_page_free(void *opaque, void *hva, size_t count)
{
    struct mock_host *m = opaque;
    m->frees_total++;
    m->page_frees++;
    struct mock_block *b = find_block(m, hva);
    if (!b || b->guest) {
        mock_error(m, "page_free(%p): not a live page block", hva);
        return;
    }
    if (b->count != count)
        mock_error(m, "page_free(%p, %zu): block has %zu pages", hva, count, b->count);
    scan_freed(m, "page", b->hva, b->count * PAGE);
    unregister_block(m, b);
    m->pages_out -= b->count;
    release(m, b->hva, b->count * PAGE);
    free(b);
}

/* Object layout: [size_t size][pad][guard][object][guard]. */
#define OBJ_HDR 32u

static void *op_obj_alloc(void *opaque, size_t size)
{
    struct mock_host *m = opaque;
    if (should_fail(m))
        return NULL;
    if (size > SIZE_MAX - OBJ_HDR - MOCK_GUARD_BYTES)
        return NULL;
    unsigned char *raw = aligned_alloc(16, (OBJ_HDR + size + MOCK_GUARD_BYTES + 15) & ~15ul);
    if (!raw)
        return NULL;
    memcpy(raw, &size, sizeof(size));
    memset(raw + OBJ_HDR - MOCK_GUARD_BYTES, MOCK_GUARD_BYTE, MOCK_GUARD_BYTES);
    memset(raw + OBJ_HDR, 0, size);
    memset(raw + OBJ_HDR + size, MOCK_GUARD_BYTE, MOCK_GUARD_BYTES);
    void *obj = raw + OBJ_HDR;
    map_put(&m->objs, (uint64_t)(uintptr_t)obj, size);
    m->objs_out++;
    m->obj_bytes_out += size;
    m->allocs_total++;
    m->obj_allocs++;
    return obj;
}

static bool guards_ok(const unsigned char *obj, size_t size)
{
    for (unsigned i = 0; i < MOCK_GUARD_BYTES; i++)
        if (obj[-(int)MOCK_GUARD_BYTES + (int)i] != MOCK_GUARD_BYTE ||
            obj[size + i] != MOCK_GUARD_BYTE)
            return false;
    return true;
}

static void op_obj_free(void *opaque, void *ptr, size_t size)
{
    struct mock_host *m = opaque;
    m->frees_total++;
    m->obj_frees++;
    uint64_t real;
    if (!map_get(&m->objs, (uint64_t)(uintptr_t)ptr, &real)) {
        mock_error(m, "obj_free(%p): not a live object", ptr);
        return;
    }
    if (real != size)
        mock_error(m, "obj_free(%p, %zu): object has %llu bytes", ptr, size,
                   (unsigned long long)real);
    if (!guards_ok(ptr, real))
        mock_error(m, "obj_free(%p): guard bytes overwritten (object of %llu bytes)", ptr,
                   (unsigned long long)real);
    scan_freed(m, "object", ptr, real);
    map_del(&m->objs, (uint64_t)(uintptr_t)ptr);
    m->objs_out--;
    m->obj_bytes_out -= real;
    unsigned char *raw = (unsigned char *)ptr - OBJ_HDR;
    release(m, raw, (OBJ_HDR + real + MOCK_GUARD_BYTES + 15) & ~15ul);
}

uint64_t mock_virt_to_phys(struct mock_host *m, const void *hva)
{
    uint64_t pp;
    if (!map_get(&m->v2p, (uint64_t)(uintptr_t)hva >> 12, &pp))
        return UINT64_MAX;
    return (pp << 12) | ((uint64_t)(uintptr_t)hva & (PAGE - 1));
}

void *mock_phys_to_virt(struct mock_host *m, uint64_t hpa)
{
    uint64_t vp;
    if (!map_get(&m->p2v, hpa >> 12, &vp))
        return NULL;
    return (void *)(uintptr_t)((vp << 12) | (hpa & (PAGE - 1)));
}

static uint64_t op_virt_to_phys(void *opaque, const void *hva)
{
    return mock_virt_to_phys(opaque, hva);
}

static void *op_phys_to_virt(void *opaque, uint64_t hpa)
{
    struct mock_host *m = opaque;
    if (m->p2v_calls++ == m->p2v_fail_at)
        return NULL;
    return mock_phys_to_virt(m, hpa);
}

static uint32_t op_cpu_count(void *opaque)
{
    return ((struct mock_host *)opaque)->cpus;
}

static uint32_t op_cpu_current(void *opaque)
{
    return ((struct mock_host *)opaque)->current_cpu;
}

static int op_run_on_each_cpu(void *opaque, hv_cpu_fn fn, void *arg)
{
    struct mock_host *m = opaque;
    m->run_calls++;
    uint32_t saved = m->current_cpu;
    for (uint32_t cpu = 0; cpu < m->cpus; cpu++) {
        if (cpu == m->fail_cpu) {
            m->current_cpu = saved;
            return -1;
        }
        m->current_cpu = cpu;
        fn(arg, cpu);
    }
    m->current_cpu = saved;
    return 0;
}

static void op_kick_cpu(void *opaque, uint32_t cpu)
{
    struct mock_host *m = opaque;
    m->kicks++;
    m->last_kick_cpu = cpu;
    if (cpu < MOCK_KICK_CPUS)
        m->kicks_per_cpu[cpu]++;
    if (cpu >= m->cpus)
        mock_error(m, "kick_cpu(%u) with %u CPUs", cpu, m->cpus);
}

/* The token is the nesting depth before the save, tagged to catch mix-ups. */
#define IRQ_TOKEN_TAG 0x1a2b000000000000ull

static uint64_t op_irq_save(void *opaque)
{
    struct mock_host *m = opaque;
    m->irq_saves++;
    uint64_t token = IRQ_TOKEN_TAG | m->irq_depth;
    m->irq_depth++;
    if (m->irq_depth > m->irq_max_depth)
        m->irq_max_depth = m->irq_depth;
    return token;
}

static void op_irq_restore(void *opaque, uint64_t token)
{
    struct mock_host *m = opaque;
    if (m->irq_depth == 0) {
        mock_error(m, "irq_restore without irq_save");
        return;
    }
    m->irq_depth--;
    if (token != (IRQ_TOKEN_TAG | m->irq_depth))
        mock_error(m, "irq_restore: token %#llx does not match depth %u", (unsigned long long)token,
                   m->irq_depth);
}

static void op_log(void *opaque, hv_log_level_t level, const char *msg)
{
    struct mock_host *m = opaque;
    struct mock_log_line *l = &m->log[m->log_total % MOCK_LOG_LINES];
    l->level = level;
    snprintf(l->text, sizeof(l->text), "%s", msg);
    m->log_total++;
    if (m->log_echo)
        fprintf(stderr, "[hv %d] %s\n", (int)level, msg);
}

static uint64_t op_time_ns(void *opaque)
{
    struct mock_host *m = opaque;
    uint64_t t = m->time;
    m->time += m->time_step;
    return t;
}

/* ---- public helpers ---------------------------------------------------------- */

void mock_host_init(struct mock_host *m)
{
    memset(m, 0, sizeof(*m));
    m->ops.size = sizeof(m->ops);
    m->ops.version = HV_HOST_OPS_VERSION;
    m->ops.opaque = m;
    m->ops.page_alloc = op_page_alloc;
    m->ops.page_free = op_page_free;
    m->ops.obj_alloc = op_obj_alloc;
    m->ops.obj_free = op_obj_free;
    m->ops.virt_to_phys = op_virt_to_phys;
    m->ops.phys_to_virt = op_phys_to_virt;
    m->ops.cpu_count = op_cpu_count;
    m->ops.cpu_current = op_cpu_current;
    m->ops.run_on_each_cpu = op_run_on_each_cpu;
    m->ops.kick_cpu = op_kick_cpu;
    m->ops.irq_save = op_irq_save;
    m->ops.irq_restore = op_irq_restore;
    m->ops.log = op_log;
    m->ops.time_ns = op_time_ns;
    m->cpus = 1;
    m->fail_cpu = MOCK_NEVER;
    m->fail_at = MOCK_NEVER;
    m->fail_from = MOCK_NEVER;
    m->p2v_fail_at = MOCK_NEVER;
    m->next_hpa = MOCK_HPA_BASE;
}

uint64_t mock_check_quarantine(struct mock_host *m)
{
    uint64_t before = m->errors;
    for (unsigned k = 0; k < m->q_count; k++)
        quarantine_check_one(m, (m->q_head + k) % MOCK_QUARANTINE);
    return m->errors - before;
}

uint64_t mock_check_guards(struct mock_host *m)
{
    uint64_t bad = 0;
    for (size_t i = 0; i < m->objs.cap; i++)
        if (m->objs.keys[i] &&
            !guards_ok((const unsigned char *)(uintptr_t)m->objs.keys[i], m->objs.vals[i])) {
            mock_error(m, "object %#llx: guard bytes overwritten",
                       (unsigned long long)m->objs.keys[i]);
            bad++;
        }
    return bad;
}

void mock_host_fini(struct mock_host *m)
{
    mock_check_guards(m);
    mock_check_quarantine(m);
    for (unsigned k = 0; k < m->q_count; k++)
        free(m->quarantine[(m->q_head + k) % MOCK_QUARANTINE].raw);
    m->q_count = 0;
    for (size_t i = 0; i < m->blocks.cap; i++) {
        if (!m->blocks.keys[i])
            continue;
        struct mock_block *b = (struct mock_block *)(uintptr_t)m->blocks.vals[i];
        free(b->hva);
        free(b);
    }
    for (size_t i = 0; i < m->objs.cap; i++)
        if (m->objs.keys[i])
            free((unsigned char *)(uintptr_t)m->objs.keys[i] - OBJ_HDR);
    map_free(&m->p2v);
    map_free(&m->v2p);
    map_free(&m->blocks);
    map_free(&m->objs);
}

bool mock_host_clean(const struct mock_host *m)
{
    return m->pages_out == 0 && m->objs_out == 0 && m->errors == 0 && m->irq_depth == 0;
}

void mock_fail_in(struct mock_host *m, uint64_t n)
{
    m->fail_at = m->alloc_index + n;
}

void mock_fail_from_now(struct mock_host *m, uint64_t n)
{
    m->fail_from = m->alloc_index + n;
}

void mock_fail_none(struct mock_host *m)
{
    m->fail_at = MOCK_NEVER;
    m->fail_from = MOCK_NEVER;
}

void *mock_guest_ram_alloc(struct mock_host *m, size_t bytes, uint64_t *hpa)
{
    uint64_t dummy;
    size_t count = (bytes + PAGE - 1) / PAGE;
    return alloc_block(m, count ? count : 1, hpa ? hpa : &dummy, true);
}

void mock_guest_ram_free(struct mock_host *m, void *hva)
{
    struct mock_block *b = find_block(m, hva);
    if (!b || !b->guest) {
        mock_error(m, "mock_guest_ram_free(%p): not guest RAM", hva);
        return;
    }
    unregister_block(m, b);
    free(b->hva);
    free(b);
}

uint64_t mock_reserve_hpa(struct mock_host *m, uint64_t bytes, uint64_t align)
{
    if (align < PAGE)
        align = PAGE;
    return take_hpa(m, (bytes + PAGE - 1) & ~(PAGE - 1), align);
}

const char *mock_log_line(const struct mock_host *m, unsigned n)
{
    if (n >= MOCK_LOG_LINES || n >= m->log_total)
        return NULL;
    return m->log[(m->log_total - 1 - n) % MOCK_LOG_LINES].text;
}

bool mock_log_contains(const struct mock_host *m, const char *needle)
{
    for (unsigned n = 0; n < MOCK_LOG_LINES; n++) {
        const char *l = mock_log_line(m, n);
        if (!l)
            break;
        if (strstr(l, needle))
            return true;
    }
    return false;
}

void mock_log_clear(struct mock_host *m)
{
    m->log_total = 0;
    memset(m->log, 0, sizeof(m->log));
}
