/*
 * Threads against one VM, as on an SMP host (unit.threads): vCPUs run on
 * host threads of their own while another thread changes the SLAT, one
 * queries it, and one creates, runs and destroys a vCPU, over and over.
 *
 * The backend is the mock's with its run() replaced by one that behaves
 * like the world switch where it matters here: it walks the SLAT in host
 * code (as an exit's handling may: a hypercall's copy, the assist), then
 * marks guest mode as the assembly does (the CPU recorded, the guest-mode
 * epoch odd, a full barrier, the flush request taken) and translates as
 * the CPU would, through a paging-structure cache that only a flush
 * request empties, until the kick's interrupt arrives (kick_cpu sets a
 * flag the loop polls) or it has translated a while.
 *
 * What it checks: no walk ever reads a table after its free (the host
 * poisons every page and object it gets back, so such a walk finds
 * garbage, which the translation check or a fault catches; under ASan it
 * is a use-after-free report); every translation is of the one mapping
 * the tables can hold for that address (hpa = RAM base + gpa), which also
 * catches a walk that takes a table's pointer for a leaf; nothing leaks;
 * and the run did exercise what it is for (kicks taken in guest mode,
 * flush requests taken, tables freed while vCPUs ran). Each of the SLAT
 * grace period (core/vm.c wait_for_guests), the deferral of retired tables
 * (retire_after_readers) and the order in which a walk reads an entry and
 * its child (slat_child_or_entry) makes the first test fail when taken
 * out: the first and the last every run, the second every run under ASan.
 *
 * The second test makes the VM a Xen domain whose two vCPUs (32-bit,
 * paging off) make hypercalls against each other on their threads: both
 * move shared_info (XENMEM_add_to_physmap: SLAT changes of the guest's own
 * making, serialized by the Xen layer's physmap flag, whose removal fails
 * it), send to either vCPU's IPI port, and have Xen write into the frames
 * shared_info roams over (done, or -EFAULT on a frame it left), while a
 * thread queries the SLAT and one of the embedder's remaps RAM elsewhere
 * (the layer's own SLAT calls must wait those out: without that it fails).
 * Every result must be one Xen can give, and after hv_xen_disable no page
 * of the layer's may be left mapped.
 *
 * The third makes two domains: the second copies pieces of a frame the
 * first granted (GNTTABOP_copy) while the first's guest revokes and grants
 * the entry again and moves its grant frame, and the embedder remaps the
 * RAM around the granted frame. Every status must be one Xen gives, and
 * every copy done must have brought the frame's bytes.
 *
 * The fourth splits and merges the table under a large page that stays
 * mapped while two threads look up its first pages (hv_vm_query and
 * hv_vm_query_next): each must be found, also while a retired table's
 * entry 0 holds the retired list's link (without slat_pt_entry's check it
 * fails in most runs).
 *
 * The ThreadSanitizer tree (unit.tsan.threads) runs all four for data
 * races; none is reported.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "mock_backend.h"
#include "core/ctx_internal.h"
#include "core/objects.h"
#include "slat/slat_internal.h"
#include "vmx/ept_format.h"
#include "xen/abi.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#include <hv/hv.h>

#define NVCPUS      2
#define CPU_MAPPER  NVCPUS
#define CPU_READER  (NVCPUS + 1)
#define CPU_CHURN   (NVCPUS + 2)
#define NCPUS       (NVCPUS + 3)
#define CHUNK       (2ull << 20)
#define CHUNKS      4
#define RAM_BYTES   (CHUNK * CHUNKS)
#define MAPPER_OPS  4000u
#define GUEST_WALKS 500u /* walks in one guest-mode stay without a kick */
#define HOST_WALKS  8u   /* walks in host code per run */
#define POISON      0xA5u

/* ---- what the threads share ---------------------------------------------------- */

static uint8_t *ram; /* the guest's RAM; every mapping is gpa -> ram + gpa */
static struct hv_vm *vm_b; /* a second VM (the grant test's), with ram_b */
static uint8_t *ram_b;
static uint64_t walk_bytes; /* walks stay below this gpa */
static struct hv_vm *vm;

/* The RAM a VM's mappings point into. */
static uint8_t *ram_of(const struct hv_vm *v)
{
    return v == vm_b ? ram_b : ram;
}
static uint32_t stop;
static uint64_t bad, walks_guest, walks_host, kicks_taken, flushes_taken, runs, churns;
static uint64_t bad_gpa, bad_hpa;
static unsigned bad_status;
static const char *bad_what;

/* A wrong result: counted, the first one described. */
static void failed(const char *what, uint64_t gpa, uint64_t hpa, hv_status_t st)
{
    if (__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED) == 0) {
        bad_what = what;
        bad_gpa = gpa;
        bad_hpa = hpa;
        bad_status = (unsigned)st;
    }
}

static void report_bad(void)
{
    if (bad)
        fprintf(stderr, "threads: %llu wrong results; first: %s (%#llx, %#llx): %s (RAM at %p)\n",
                (unsigned long long)bad, bad_what, (unsigned long long)bad_gpa,
                (unsigned long long)bad_hpa, hv_status_str((hv_status_t)bad_status), (void *)ram);
}

/* ---- a thread-safe host: identity addresses, counters, per-thread CPU ---- */

static _Thread_local uint32_t this_cpu;
static _Thread_local uint64_t irq_depth;
static uint32_t kicked[NCPUS];
static long pages_out, objs_out, pages_freed;

static void *host_page_alloc(void *opaque, size_t count, uint64_t *hpa)
{
    (void)opaque;
    void *p = aligned_alloc(4096, count * 4096);
    if (!p)
        return NULL;
    memset(p, 0, count * 4096);
    *hpa = (uint64_t)(uintptr_t)p;
    __atomic_add_fetch(&pages_out, (long)count, __ATOMIC_RELAXED);
    return p;
}

static void host_page_free(void *opaque, void *hva, size_t count)
{
    (void)opaque;
    memset(hva, POISON, count * 4096);
    free(hva);
    __atomic_sub_fetch(&pages_out, (long)count, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pages_freed, (long)count, __ATOMIC_RELAXED);
}

static void *host_obj_alloc(void *opaque, size_t size)
{
    (void)opaque;
    void *p = calloc(1, size);
    if (p)
        __atomic_add_fetch(&objs_out, 1, __ATOMIC_RELAXED);
    return p;
}

static void host_obj_free(void *opaque, void *p, size_t size)
{
    (void)opaque;
    memset(p, POISON, size);
    free(p);
    __atomic_sub_fetch(&objs_out, 1, __ATOMIC_RELAXED);
}

static uint64_t host_virt_to_phys(void *opaque, const void *hva)
{
    (void)opaque;
    return (uint64_t)(uintptr_t)hva;
}

static void *host_phys_to_virt(void *opaque, uint64_t hpa)
{
    (void)opaque;
    return (void *)(uintptr_t)hpa;
}

static uint32_t host_cpu_count(void *opaque)
{
    (void)opaque;
    return NCPUS;
}

static uint32_t host_cpu_current(void *opaque)
{
    (void)opaque;
    return this_cpu;
}

static int host_run_on_each_cpu(void *opaque, hv_cpu_fn fn, void *arg)
{
    (void)opaque;
    for (uint32_t cpu = 0; cpu < NCPUS; cpu++)
        fn(arg, cpu);
    return 0;
}

/* The IPI: the guest-mode loop of that CPU's vCPU sees it and exits. */
static void host_kick_cpu(void *opaque, uint32_t cpu)
{
    (void)opaque;
    if (cpu < NCPUS)
        __atomic_store_n(&kicked[cpu], 1, __ATOMIC_RELEASE);
    else
        failed("kick_cpu of no CPU", cpu, 0, HV_OK);
}

static uint64_t host_irq_save(void *opaque)
{
    (void)opaque;
    return irq_depth++;
}

static void host_irq_restore(void *opaque, uint64_t token)
{
    (void)opaque;
    irq_depth = token;
}

static void host_log(void *opaque, hv_log_level_t level, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "[hv %d] %s\n", (int)level, msg);
}

static uint64_t host_time_ns(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const struct hv_host_ops host_ops = {
    .size = sizeof(struct hv_host_ops),
    .version = HV_HOST_OPS_VERSION,
    .page_alloc = host_page_alloc,
    .page_free = host_page_free,
    .obj_alloc = host_obj_alloc,
    .obj_free = host_obj_free,
    .virt_to_phys = host_virt_to_phys,
    .phys_to_virt = host_phys_to_virt,
    .cpu_count = host_cpu_count,
    .cpu_current = host_cpu_current,
    .run_on_each_cpu = host_run_on_each_cpu,
    .kick_cpu = host_kick_cpu,
    .irq_save = host_irq_save,
    .irq_restore = host_irq_restore,
    .log = host_log,
    .time_ns = host_time_ns,
};

/* ---- the vCPUs and the other threads ------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One translation, as the library's walks (hv_slat_translate) make it:
   it finds nothing, or the one mapping the address can have. */
static void walk_one_at(const struct hv_vm *v, uint64_t gpa)
{
    uint64_t hpa = 0;
    hv_status_t st = hv_slat_translate(&v->slat, gpa, 0, &hpa);
    if (st != HV_ERR_NOT_FOUND && (st != HV_OK || hpa != (uint64_t)(uintptr_t)ram_of(v) + gpa))
        failed("a walk", gpa, hpa, st);
}

static void walk_one(const struct hv_vm *v, uint64_t *seed)
{
    walk_one_at(v, next_random(seed) % walk_bytes & ~0xfffull);
}

/*
 * The CPU's paging-structure cache in guest mode (SDM Vol. 3C 29.4.3, APM
 * Vol. 2 15.16): the last-level table of each chunk as a walk found it,
 * used for later translations there without walking again, and kept
 * across entries until one takes a flush request. This is what makes the
 * grace period necessary: a table the SLAT no longer links may still be
 * read through it until the vCPU's next flush.
 */
struct pscache {
    const uint64_t *pt[CHUNKS];
};
static struct pscache pscaches[NCPUS]; /* by host CPU: one vCPU on each */

/* The level-0 table under gpa, as the CPU's walk reaches it, or NULL. */
static const uint64_t *walk_to_table(const struct hv_vm *v, uint64_t gpa)
{
    const struct hv_slat *s = &v->slat;
    uint64_t e;
    const struct hv_slat_dir *d2 = slat_load_sub(&s->root->sub[slat_index(gpa, 3)]);
    const struct hv_slat_dir *d1 =
        d2 ? slat_child_or_entry(s, d2->hw, d2->sub, slat_index(gpa, 2), 2, &e) : NULL;
    return d1 ? slat_child_or_entry(s, d1->hw, d1->sub, slat_index(gpa, 1), 1, &e) : NULL;
}

/* A translation in guest mode: through the cached table of its chunk,
   else a walk (which fills the cache). */
static void guest_walk_one(struct pscache *c, const struct hv_vm *v, uint64_t *seed)
{
    uint64_t gpa = next_random(seed) % walk_bytes & ~0xfffull;
    const uint64_t *pt = c->pt[gpa / CHUNK];
    if (!pt) {
        walk_one_at(v, gpa);
        c->pt[gpa / CHUNK] = walk_to_table(v, gpa);
        return;
    }
    uint64_t e = slat_load(&pt[slat_index(gpa, 0)]);
    if (!slat_present(&v->slat, e))
        return;
    uint64_t hpa = slat_leaf_hpa(&v->slat, e, 0);
    if (hpa != (uint64_t)(uintptr_t)ram_of(v) + gpa)
        failed("a cached table", gpa, hpa, HV_OK);
}

/* The exit each run() ends with (each test's own). */
static void (*next_exit)(struct hv_vcpu *vcpu, struct hv_vexit *ex);

/* run(): the host code's walks, then guest mode as the world switch
   enters and leaves it (backends/svm/svm_entry.S, vmx_entry.S), with the
   guest's translations until a kick or a while; then the exit next_exit
   makes. */
static hv_status_t thread_run(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    uint64_t seed = ((uint64_t)this_cpu << 32) ^
                    __atomic_load_n(&vcpu->guest_epoch, __ATOMIC_RELAXED) ^ 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < HOST_WALKS; i++)
        walk_one(vcpu->vm, &seed);
    __atomic_add_fetch(&walks_host, HOST_WALKS, __ATOMIC_RELAXED);

    /* As the backends do: the CPU recorded before the entry (the kick's
       target), then guest mode, then the flush request taken. */
    struct pscache *c = &pscaches[this_cpu];
    __atomic_store_n(&vcpu->host_cpu, this_cpu, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&vcpu->guest_epoch, 1, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&vcpu->flush_req, 0, __ATOMIC_SEQ_CST)) {
        memset(c->pt, 0, sizeof(c->pt));
        __atomic_add_fetch(&flushes_taken, 1, __ATOMIC_RELAXED);
    }
    unsigned n = 0;
    bool kick = false;
    while (n < GUEST_WALKS &&
           !(kick = __atomic_exchange_n(&kicked[this_cpu], 0, __ATOMIC_ACQUIRE))) {
        guest_walk_one(c, vcpu->vm, &seed);
        n++;
    }
    __atomic_add_fetch(&vcpu->guest_epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&walks_guest, n, __ATOMIC_RELAXED);
    if (kick)
        __atomic_add_fetch(&kicks_taken, 1, __ATOMIC_RELAXED);

    memset(ex, 0, sizeof(*ex));
    next_exit(vcpu, ex);
    __atomic_add_fetch(&runs, 1, __ATOMIC_RELAXED);
    return HV_OK;
}

/* An OUT to port 0x80: hv_vcpu_run returns to the embedder. */
static void io_exit(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    ex->kind = HV_VX_IO;
    ex->rip = mock_vcpu_of(vcpu)->st.rip;
    ex->next_rip = ex->rip + 1;
    ex->io.port = 0x80;
    ex->io.size = 1;
    ex->io.write = 1;
}

/* The mock's SLAT flush counts into a global: this one does nothing (the
   grace period's requests are what matter here). */
static void thread_slat_flush(struct hv_vm *v)
{
    (void)v;
}

static struct hv_backend_ops backend;

static bool stopped(void)
{
    return __atomic_load_n(&stop, __ATOMIC_ACQUIRE) != 0;
}

static bool run_once(struct hv_vcpu *vcpu)
{
    struct hv_exit exit;
    hv_status_t st = hv_vcpu_run(vcpu, &exit);
    if (st != HV_OK || exit.reason != HV_EXIT_IO) {
        failed("hv_vcpu_run", exit.reason, 0, st);
        return false;
    }
    return true;
}

static void *vcpu_thread(void *arg)
{
    struct hv_vcpu *vcpu = arg;
    this_cpu = vcpu->id;
    while (!stopped() && run_once(vcpu))
        ;
    return NULL;
}

/* The test has seen what it is for: vCPUs kicked out of guest mode by SLAT
   changes, flush requests taken, vCPU lifetimes and tables freed. */
static bool exercised(void)
{
    return __atomic_load_n(&kicks_taken, __ATOMIC_RELAXED) &&
           __atomic_load_n(&flushes_taken, __ATOMIC_RELAXED) &&
           __atomic_load_n(&churns, __ATOMIC_RELAXED) &&
           __atomic_load_n(&pages_freed, __ATOMIC_RELAXED);
}

/* Maps, remaps and unmaps the chunks in 4 KiB and 2 MiB pages: tables are
   made and retired all the time. MAPPER_OPS calls, and on a loaded host,
   where the other threads may hardly have run by then, more until they
   have been exercised (20 s at most: the test's checks then say what
   did not happen). Then stops the others. */
static void *mapper_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_MAPPER;
    uint64_t seed = 0x1234567;
    uint64_t deadline = host_time_ns(NULL) + 20000000000ull;
    for (unsigned i = 0; i < MAPPER_OPS || (!exercised() && host_time_ns(NULL) < deadline); i++) {
        uint64_t r = next_random(&seed);
        uint64_t gpa = (r % CHUNKS) * CHUNK;
        uint64_t hpa = (uint64_t)(uintptr_t)ram + gpa;
        hv_status_t st;
        switch ((r >> 8) % 4) {
        case 0: /* 4 KiB pages: a table under the chunk */
            st = hv_vm_map(vm, gpa + ((r >> 16) % 4) * 0x40000, hpa + ((r >> 16) % 4) * 0x40000,
                           0x40000, HV_MEM_RWX);
            break;
        case 1: /* one large page, when nothing is mapped there */
            st = hv_vm_map(vm, gpa, hpa, CHUNK, HV_MEM_RWX);
            break;
        case 2: /* a large page split, or a table emptied */
            st = hv_vm_protect(vm, gpa + 0x1000 * ((r >> 16) % 512), 0x1000, HV_MEM_READ);
            if (st == HV_ERR_NOT_FOUND)
                st = HV_OK;
            break;
        default: /* the whole chunk gone: its table retired */
            st = hv_vm_unmap(vm, gpa, CHUNK);
            break;
        }
        if (st != HV_OK && st != HV_ERR_EXISTS && st != HV_ERR_NOT_FOUND)
            failed("a SLAT call", gpa, i, st);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The embedder's lookups: walks on no vCPU of the VM. */
static void *reader_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_READER;
    uint64_t seed = 0xabcdef;
    while (!stopped()) {
        struct hv_mapping m;
        uint64_t gpa = next_random(&seed) % walk_bytes;
        hv_status_t st = (seed & 1) ? hv_vm_query(vm, gpa, &m) : hv_vm_query_next(vm, gpa, &m);
        if (st == HV_ERR_NOT_FOUND)
            continue;
        if (st != HV_OK || m.gpa >= RAM_BYTES ||
            (m.gpa < walk_bytes && m.hpa != (uint64_t)(uintptr_t)ram + m.gpa))
            failed("a query", m.gpa, m.hpa, st);
    }
    return NULL;
}

/* A vCPU made, run once and destroyed, again and again: the SLAT calls'
   scans of vcpus[] meet it coming and going. */
static void *churn_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_CHURN;
    while (!stopped()) {
        struct hv_vcpu *v;
        hv_status_t st = hv_vcpu_create(vm, NVCPUS, &v);
        if (st != HV_OK) {
            failed("hv_vcpu_create", 0, 0, st);
            break;
        }
        /* A new vCPU has cached nothing (a new ASID or VPID, or one the
           backend flushes before reuse). */
        memset(&pscaches[CPU_CHURN], 0, sizeof(pscaches[CPU_CHURN]));
        run_once(v);
        if ((st = hv_vcpu_destroy(v)) != HV_OK)
            failed("hv_vcpu_destroy", 0, 0, st);
        __atomic_add_fetch(&churns, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Each test starts from nothing. */
static void reset_world(void)
{
    stop = 0;
    bad = walks_guest = walks_host = kicks_taken = flushes_taken = runs = churns = 0;
    pages_freed = 0;
    memset(kicked, 0, sizeof(kicked));
    memset(pscaches, 0, sizeof(pscaches));
}

/*
 * A context and a VM on the thread-safe host and this backend, with the
 * RAM buffer (mapped by the test), counters at zero, `exit_fn` ending each
 * run() and the walks below `walk_limit`.
 */
static struct hv_ctx *world_up(void (*exit_fn)(struct hv_vcpu *, struct hv_vexit *),
                               uint64_t walk_limit, uint32_t max_vcpus)
{
    reset_world();
    static struct hv_slat_format ept;
    hv_ept_format_init(&ept, HV_PAGE_4K | HV_PAGE_2M, true, false);
    mock_backend_reset(&ept);
    backend = mock_backend_ops;
    backend.run = thread_run;
    backend.slat_flush = thread_slat_flush;
    next_exit = exit_fn;
    walk_bytes = walk_limit;
    ram = aligned_alloc(CHUNK, RAM_BYTES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ram);
    memset(ram, 0, RAM_BYTES);
    struct hv_ctx *ctx;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&host_ops, NULL, &backend, &ctx), HV_OK);
    struct hv_vm_config cfg = {.size = sizeof(cfg), .max_vcpus = max_vcpus};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, &cfg, &vm), HV_OK);
    return ctx;
}

/* The VM and context gone, and everything the library took given back. */
static void world_down(struct hv_ctx *ctx)
{
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    CU_ASSERT_EQUAL(pages_out, 0);
    CU_ASSERT_EQUAL(objs_out, 0);
    free(ram);
}

static void test_slat_under_threads(void)
{
    struct hv_ctx *ctx = world_up(io_exit, RAM_BYTES, NVCPUS + 1);
    struct hv_vcpu *vcpus[NVCPUS];
    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, i, &vcpus[i]), HV_OK);

    pthread_t t[NCPUS];
    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, vcpu_thread, vcpus[i]), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_READER], NULL, reader_thread, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_CHURN], NULL, churn_thread, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_MAPPER], NULL, mapper_thread, NULL), 0);
    for (uint32_t i = 0; i < NCPUS; i++)
        pthread_join(t[i], NULL);

    printf("\n  threads: %llu runs, %llu walks in guest mode, %llu in host code, %llu kicks "
           "taken, %llu flush requests taken, %llu vCPU lifetimes, %ld table pages freed\n",
           (unsigned long long)runs, (unsigned long long)walks_guest,
           (unsigned long long)walks_host, (unsigned long long)kicks_taken,
           (unsigned long long)flushes_taken, (unsigned long long)churns, pages_freed);
    report_bad();
    CU_ASSERT_EQUAL(bad, 0);
    /* It did what it is for: guests kicked out of guest mode by SLAT
       changes, and tables freed while vCPUs ran. */
    CU_ASSERT(kicks_taken > 0);
    CU_ASSERT(flushes_taken > 0);
    CU_ASSERT(churns > 0);
    CU_ASSERT(pages_freed > 0);

    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpus[i]), HV_OK);
    world_down(ctx);
}

/* ---- Xen: two vCPUs' hypercalls against each other ------------------------------ */

#define XEN_ARGS       0x10000u     /* a page of arguments per vCPU */
#define XEN_ROAM       (4ull << 20) /* shared_info roams over 64 frames from here */
#define XEN_ROAM_PAGES 64u
#define XEN_CALLS      4000u /* hypercalls per vCPU */
#define XEN_BATCH      16u   /* hypercalls per hv_vcpu_run */

enum xcall { XC_NONE, XC_BIND, XC_PHYSMAP, XC_SEND, XC_VERSION };

/* One vCPU's guest program: the call whose result RAX now holds, and how
   far it is. */
struct xprog {
    uint64_t seed;
    enum xcall last;
    unsigned calls, in_run;
    bool bind; /* the set-up: bind an IPI port for this vCPU */
};
static struct xprog xprogs[NVCPUS];
static uint32_t ipi_port[NVCPUS];
static uint64_t physmaps, sends, versions_done, versions_faulted;
static uint64_t embedder_calls;

/* A vCPU's program: by its id, or the second VM's vCPU 0 as the second. */
static struct xprog *prog_of(const struct hv_vcpu *vcpu)
{
    return &xprogs[vcpu->vm == vm_b ? 1 : vcpu->id];
}

static uint64_t xarg(const struct hv_vcpu *vcpu)
{
    return XEN_ARGS + vcpu->id * 0x1000ull;
}

static void put32(const struct hv_vcpu *vcpu, uint64_t gpa, uint32_t v)
{
    memcpy(ram_of(vcpu->vm) + gpa, &v, sizeof(v));
}

static uint32_t get32(const struct hv_vcpu *vcpu, uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, ram_of(vcpu->vm) + gpa, sizeof(v));
    return v;
}

/* A hypercall as a 32-bit guest with paging off makes it: EAX the
   number, EBX and ECX the first arguments (guest-physical addresses). */
static void xen_call(struct hv_vcpu *vcpu, struct hv_vexit *ex, enum xcall what, uint32_t nr,
                     uint32_t a0, uint32_t a1)
{
    struct xprog *p = prog_of(vcpu);
    vcpu->gpr[HV_GPR_RAX] = nr;
    vcpu->gpr[HV_GPR_RBX] = a0;
    vcpu->gpr[HV_GPR_RCX] = a1;
    ex->kind = HV_VX_HYPERCALL;
    ex->rip = mock_vcpu_of(vcpu)->st.rip;
    ex->next_rip = ex->rip + 3;
    p->last = what;
    p->calls++;
    p->in_run++;
}

/* The last call's result checked, then the next call, at random: move
   shared_info (a SLAT change of the domain's own making, which both
   vCPUs make), send to either vCPU's IPI port, or have Xen write into
   the frames shared_info roams over. A batch of calls ends with an exit
   to the embedder. */
static void xen_exit(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    struct xprog *p = prog_of(vcpu);
    uint64_t a = xarg(vcpu);
    long rc = (long)(int32_t)(uint32_t)vcpu->gpr[HV_GPR_RAX];
    switch (p->last) {
    case XC_BIND:
        if (rc)
            failed("EVTCHNOP_bind_ipi", vcpu->id, (uint64_t)rc, HV_OK);
        ipi_port[vcpu->id] = get32(vcpu, a + 4);
        p->last = XC_NONE;
        io_exit(vcpu, ex); /* the set-up's run ends here */
        return;
    case XC_PHYSMAP:
    case XC_SEND:
        if (rc)
            failed(p->last == XC_SEND ? "EVTCHNOP_send" : "XENMEM_add_to_physmap", vcpu->id,
                   (uint64_t)rc, HV_OK);
        __atomic_add_fetch(p->last == XC_SEND ? &sends : &physmaps, 1, __ATOMIC_RELAXED);
        break;
    case XC_VERSION:
        if (rc != 0 && rc != -XEN_EFAULT) /* a frame shared_info left is a hole */
            failed("XENVER_extraversion", vcpu->id, (uint64_t)rc, HV_OK);
        __atomic_add_fetch(rc ? &versions_faulted : &versions_done, 1, __ATOMIC_RELAXED);
        break;
    case XC_NONE:
        break;
    }
    p->last = XC_NONE;
    if (p->bind) {
        p->bind = false;
        put32(vcpu, a, vcpu->id); /* evtchn_bind_ipi: vcpu, port (out) */
        xen_call(vcpu, ex, XC_BIND, XEN_HC_EVENT_CHANNEL_OP, EVTCHNOP_bind_ipi, (uint32_t)a);
        return;
    }
    if (p->in_run >= XEN_BATCH || p->calls >= XEN_CALLS) {
        p->in_run = 0;
        io_exit(vcpu, ex);
        return;
    }
    uint64_t r = next_random(&p->seed);
    uint32_t frame = (uint32_t)(XEN_ROAM >> 12) + (uint32_t)(r >> 8) % XEN_ROAM_PAGES;
    switch (r % 3) {
    case 0:
        put32(vcpu, a + 0x100, ipi_port[(r >> 40) % NVCPUS]); /* evtchn_send: port */
        xen_call(vcpu, ex, XC_SEND, XEN_HC_EVENT_CHANNEL_OP, EVTCHNOP_send, (uint32_t)a + 0x100);
        break;
    case 1:
        xen_call(vcpu, ex, XC_VERSION, XEN_HC_XEN_VERSION, XENVER_EXTRAVERSION,
                 (frame << 12) + (uint32_t)(r >> 20) % 4000);
        break;
    default:
        /* xen_add_to_physmap, i386 layout: domid, size, space, idx, gpfn */
        memset(ram_of(vcpu->vm) + a + 0x200, 0, 16);
        put32(vcpu, a + 0x200, XEN_DOMID_SELF);
        put32(vcpu, a + 0x204, XENMAPSPACE_shared_info);
        put32(vcpu, a + 0x20c, frame);
        xen_call(vcpu, ex, XC_PHYSMAP, XEN_HC_MEMORY_OP, XENMEM_add_to_physmap,
                 (uint32_t)a + 0x200);
        break;
    }
}

/* A vCPU's program starts once the embedder's thread has made a SLAT
   call (10 s at most): on a loaded host the programs could otherwise run
   out before that thread is scheduled at all, and meet none of its
   calls. */
static void wait_for_embedder(void)
{
    uint64_t deadline = host_time_ns(NULL) + 10000000000ull;
    while (!__atomic_load_n(&embedder_calls, __ATOMIC_RELAXED) && host_time_ns(NULL) < deadline)
        sched_yield();
}

static void *xen_vcpu_thread(void *arg)
{
    struct hv_vcpu *vcpu = arg;
    this_cpu = vcpu->id;
    wait_for_embedder();
    while (prog_of(vcpu)->calls < XEN_CALLS && run_once(vcpu))
        ;
    return NULL;
}

/* The embedder's own SLAT calls on the last chunk, away from the guest's
   frames: the Xen layer's meet them (HV_ERR_BUSY) and must wait them out.
   The embedder gets BUSY while one of the layer's runs, and tries again. */
static void *xen_mapper_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_MAPPER;
    uint64_t seed = 0x77;
    while (!stopped()) {
        uint64_t gpa = (CHUNKS - 1) * CHUNK + (next_random(&seed) % CHUNK & ~0xfffull);
        hv_status_t st = hv_vm_unmap(vm, gpa, 0x1000);
        if (st == HV_OK)
            st = hv_vm_map(vm, gpa, (uint64_t)(uintptr_t)ram + gpa, 0x1000, HV_MEM_RWX);
        if (st != HV_OK && st != HV_ERR_BUSY)
            failed("the embedder's SLAT call", gpa, 0, st);
        if (st == HV_OK)
            __atomic_add_fetch(&embedder_calls, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* After hv_xen_disable: no frame the guest could reach holds a page of
   the layer's (every mapping below RAM's end is RAM's own). */
static void check_no_special_mapped(void)
{
    struct hv_mapping m;
    for (uint64_t gpa = 0; hv_vm_query_next(vm, gpa, &m) == HV_OK; gpa = m.gpa + m.page_size)
        if (m.gpa >= RAM_BYTES || m.hpa != (uint64_t)(uintptr_t)ram + m.gpa)
            failed("a page of the layer's left mapped", m.gpa, m.hpa, HV_OK);
}

static void test_xen_under_threads(void)
{
    /* The walks stay below the frames shared_info roams over. */
    struct hv_ctx *ctx = world_up(xen_exit, CHUNK, NVCPUS);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, (uint64_t)(uintptr_t)ram, RAM_BYTES, HV_MEM_RWX), HV_OK);
    struct hv_vcpu *vcpus[NVCPUS];
    memset(xprogs, 0, sizeof(xprogs));
    memset(ipi_port, 0, sizeof(ipi_port));
    for (uint32_t i = 0; i < NVCPUS; i++) {
        CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, i, &vcpus[i]), HV_OK);
        xf_set_mode(vcpus[i], true);
        xprogs[i].seed = 0x5eed0000u + i;
    }
    struct hv_xen_config xc = {.size = sizeof(xc), .tsc_khz = 1000000};
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(vm, &xc), HV_OK);
    for (uint32_t i = 1; i < NVCPUS; i++)
        CU_ASSERT_EQUAL_FATAL(hv_xen_vcpu_set_up(vcpus[i], true), HV_OK);
    /* Each vCPU binds its IPI port first, on this thread. */
    for (uint32_t i = 0; i < NVCPUS; i++) {
        xprogs[i].bind = true;
        CU_ASSERT_FATAL(run_once(vcpus[i]));
        CU_ASSERT_FATAL(ipi_port[i] != 0);
    }

    pthread_t t[NCPUS];
    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, xen_vcpu_thread, vcpus[i]), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_READER], NULL, reader_thread, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_MAPPER], NULL, xen_mapper_thread, NULL), 0);
    for (uint32_t i = 0; i < NVCPUS; i++)
        pthread_join(t[i], NULL);
    /* The domain's pages leave the guest-physical space while the
       embedder's calls go on. */
    CU_ASSERT_EQUAL(hv_xen_disable(vm), HV_OK);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(t[CPU_READER], NULL);
    pthread_join(t[CPU_MAPPER], NULL);
    check_no_special_mapped();

    printf("\n  xen threads: %llu runs, %llu shared_info moves, %llu sends, %llu writes done, "
           "%llu faulted (a hole), %llu kicks taken, %llu SLAT calls of the embedder's\n",
           (unsigned long long)runs, (unsigned long long)physmaps, (unsigned long long)sends,
           (unsigned long long)versions_done, (unsigned long long)versions_faulted,
           (unsigned long long)kicks_taken, (unsigned long long)embedder_calls);
    report_bad();
    CU_ASSERT_EQUAL(bad, 0);
    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL(xprogs[i].calls, XEN_CALLS);
    CU_ASSERT(physmaps > 0);
    CU_ASSERT(sends > 0);
    CU_ASSERT(versions_done > 0);
    CU_ASSERT(versions_faulted > 0);
    CU_ASSERT(embedder_calls > 0);

    for (uint32_t i = 0; i < NVCPUS; i++)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpus[i]), HV_OK);
    world_down(ctx);
}

/* ---- grants: one domain's copies from another's changing frames ------------------ */

#define GNT_REF     8u
#define GNT_FRAME   0x300u /* domain 1's granted RAM frame, in chunk 1 */
#define GNT_DEST    0x70u  /* domain 2's destination frame */
#define GNT_TABLE   0x500u /* domain 1's grant frame roams over 16 frames from here */
#define GNT_LEN     64u
#define GNT_OPS     32u /* copies per GNTTABOP_copy, each its own walk of domain 1's SLAT */
#define GNT_PATTERN 0xa7u
#define GNT_CALLS   4000u

static uint64_t copies_done, copies_refused, grant_toggles, table_moves;
static uint32_t copier_done;    /* domain 2's vCPU made all its calls */
static uint64_t grant_deadline; /* host time: the copies stop trying here */

/*
 * A vCPU of the grant test has calls left. Domain 2: GNT_CALLS copies,
 * then more until some were done and some refused (the scheduler may
 * have let it run only while the grant was revoked, or only while it
 * stood: 20 s at most, the test's checks then say what did not happen).
 * Domain 1: GNT_CALLS calls and then on until domain 2 is done, so that
 * the grant keeps changing under every copy.
 */
static bool grant_more(struct hv_vcpu *vcpu)
{
    if (prog_of(vcpu)->calls < GNT_CALLS)
        return true;
    if (vcpu->vm == vm)
        return !__atomic_load_n(&copier_done, __ATOMIC_ACQUIRE);
    return !(__atomic_load_n(&copies_done, __ATOMIC_RELAXED) &&
             __atomic_load_n(&copies_refused, __ATOMIC_RELAXED)) &&
           host_time_ns(NULL) < grant_deadline;
}

/* Domain 1's grant entry GNT_REF (v1: flags, domid, frame), in its table's
   first frame. */
static uint16_t *grant_flags(void)
{
    return (uint16_t *)vm->xen->gnt_page[0] + GNT_REF * 4;
}

/* Domain 1 (vm): the guest revokes or grants again entry GNT_REF, or moves
   its grant frame (a SLAT change). Domain 2 (vm_b): GNTTABOP_copy of
   GNT_OPS pieces of GNT_LEN bytes from that grant into its own frame, the
   destination cleared first; a copy done must have brought the pattern. */
static void grant_exit(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    struct xprog *p = prog_of(vcpu);
    uint8_t *r8 = ram_of(vcpu->vm);
    uint64_t a = XEN_ARGS;
    long rc = (long)(int32_t)(uint32_t)vcpu->gpr[HV_GPR_RAX];
    if (p->last == XC_SEND) { /* the copies */
        if (rc != 0)
            failed("GNTTABOP_copy", (uint64_t)rc, 0, HV_OK);
        for (unsigned k = 0; k < GNT_OPS; k++) {
            int16_t status;
            memcpy(&status, r8 + a + k * 24 + 20, sizeof(status));
            if (status != GNTST_okay && status != GNTST_general_error && status != GNTST_bad_page)
                failed("a GNTTABOP_copy status", k, (uint64_t)(int64_t)status, HV_OK);
            const uint8_t *d = r8 + GNT_DEST * 4096ull + k * GNT_LEN;
            for (unsigned i = 0; status == GNTST_okay && i < GNT_LEN; i++)
                if (d[i] != GNT_PATTERN) {
                    failed("a copy's data", k * GNT_LEN + i, d[i], HV_OK);
                    break;
                }
            __atomic_add_fetch(status == GNTST_okay ? &copies_done : &copies_refused, 1,
                               __ATOMIC_RELAXED);
        }
    } else if (p->last == XC_PHYSMAP) {
        if (rc)
            failed("XENMEM_add_to_physmap(grant_table)", 0, (uint64_t)rc, HV_OK);
        __atomic_add_fetch(&table_moves, 1, __ATOMIC_RELAXED);
    } else if (p->last == XC_VERSION && rc < 0) {
        failed("XENVER_version", 0, (uint64_t)rc, HV_OK);
    }
    p->last = XC_NONE;
    if (p->in_run >= XEN_BATCH || !grant_more(vcpu)) {
        p->in_run = 0;
        io_exit(vcpu, ex);
        return;
    }
    uint64_t r = next_random(&p->seed);
    if (vcpu->vm == vm_b) {
        /* gnttab_copy, i386 layout: source {ref, domid, offset}, dest
           {gmfn, domid, offset}, len, flags, status */
        memset(r8 + GNT_DEST * 4096ull, 0, GNT_OPS * GNT_LEN);
        for (unsigned k = 0; k < GNT_OPS; k++) {
            uint64_t o = a + k * 24;
            memset(r8 + o, 0, 24);
            put32(vcpu, o, GNT_REF);
            put32(vcpu, o + 4, 1 | (k * GNT_LEN << 16)); /* domain 1, offset */
            put32(vcpu, o + 8, GNT_DEST);
            put32(vcpu, o + 12, XEN_DOMID_SELF | (k * GNT_LEN << 16));
            put32(vcpu, o + 16, GNT_LEN | (GNTCOPY_source_gref << 16));
        }
        xen_call(vcpu, ex, XC_SEND, XEN_HC_GRANT_TABLE_OP, GNTTABOP_copy, (uint32_t)a);
        vcpu->gpr[HV_GPR_RDX] = GNT_OPS; /* count */
    } else if (r & 1) {
        /* The guest's own write of the entry's flags, as it revokes or
           grants again (a 16-bit store, as a guest's cmpxchg would be). */
        __atomic_store_n(grant_flags(), (r & 2) ? GTF_permit_access : 0, __ATOMIC_RELEASE);
        __atomic_add_fetch(&grant_toggles, 1, __ATOMIC_RELAXED);
        xen_call(vcpu, ex, XC_VERSION, XEN_HC_XEN_VERSION, XENVER_VERSION, 0);
    } else {
        memset(r8 + a + 0x200, 0, 16);
        put32(vcpu, a + 0x200, XEN_DOMID_SELF);
        put32(vcpu, a + 0x204, XENMAPSPACE_grant_table); /* idx 0 */
        put32(vcpu, a + 0x20c, GNT_TABLE + (uint32_t)(r >> 8) % 16);
        xen_call(vcpu, ex, XC_PHYSMAP, XEN_HC_MEMORY_OP, XENMEM_add_to_physmap,
                 (uint32_t)a + 0x200);
    }
}

static void *grant_vcpu_thread(void *arg)
{
    struct hv_vcpu *vcpu = arg;
    wait_for_embedder();
    while (grant_more(vcpu) && run_once(vcpu))
        ;
    if (vcpu->vm == vm_b)
        __atomic_store_n(&copier_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *grant_vcpu_thread0(void *arg)
{
    this_cpu = 0;
    return grant_vcpu_thread(arg);
}

static void *grant_vcpu_thread1(void *arg)
{
    this_cpu = 1;
    return grant_vcpu_thread(arg);
}

/* The embedder takes domain 1's chunk 1 away and maps it again, in 4 KiB
   pages or as one large page: its tables come and go while domain 2's
   copies walk them (reads on no vCPU of domain 1: core/objects.h
   hv_slat_read_begin). */
static void *grant_mapper_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_MAPPER;
    uint64_t seed = 0x99, hpa = (uint64_t)(uintptr_t)ram + CHUNK;
    while (!stopped()) {
        hv_status_t st = hv_vm_unmap(vm, CHUNK, CHUNK);
        if (st == HV_OK) {
            if (next_random(&seed) & 1) {
                st = hv_vm_map(vm, CHUNK, hpa, CHUNK, HV_MEM_RWX);
            } else {
                for (uint64_t o = 0; o < CHUNK && st != HV_ERR_NO_MEMORY; o += 0x1000) {
                    while ((st = hv_vm_map(vm, CHUNK + o, hpa + o, 0x1000, HV_MEM_RWX)) ==
                           HV_ERR_BUSY)
                        ;
                }
            }
        }
        if (st != HV_OK && st != HV_ERR_BUSY)
            failed("the embedder's SLAT call", CHUNK, 0, st);
        if (st == HV_OK)
            __atomic_add_fetch(&embedder_calls, 1, __ATOMIC_RELAXED);
    }
    /* Leave it mapped. */
    hv_vm_unmap(vm, CHUNK, CHUNK);
    CU_ASSERT_EQUAL(hv_vm_map(vm, CHUNK, hpa, CHUNK, HV_MEM_RWX), HV_OK);
    return NULL;
}

static void test_grants_under_threads(void)
{
    struct hv_ctx *ctx = world_up(grant_exit, CHUNK, 1);
    ram_b = aligned_alloc(CHUNK, RAM_BYTES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ram_b);
    memset(ram_b, 0, RAM_BYTES);
    memset(ram + GNT_FRAME * 4096ull, GNT_PATTERN, 4096);
    struct hv_vm_config cfg = {.size = sizeof(cfg), .max_vcpus = 1};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, &cfg, &vm_b), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, (uint64_t)(uintptr_t)ram, RAM_BYTES, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm_b, 0, (uint64_t)(uintptr_t)ram_b, RAM_BYTES, HV_MEM_RWX),
                          HV_OK);
    struct hv_vcpu *va, *vb;
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, 0, &va), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm_b, 0, &vb), HV_OK);
    xf_set_mode(va, true);
    xf_set_mode(vb, true);
    struct hv_xen_hub *hub;
    CU_ASSERT_EQUAL_FATAL(hv_xen_hub_create(ctx, &hub), HV_OK);
    struct hv_xen_config xa = {.size = sizeof(xa), .tsc_khz = 1000000, .hub = hub, .domid = 1};
    struct hv_xen_config xb = {.size = sizeof(xb), .tsc_khz = 1000000, .hub = hub, .domid = 2};
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(vm, &xa), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(vm_b, &xb), HV_OK);
    memset(xprogs, 0, sizeof(xprogs));
    xprogs[0].seed = 0xa11ce;
    xprogs[1].seed = 0xb0b;
    copies_done = copies_refused = grant_toggles = table_moves = embedder_calls = 0;
    copier_done = 0;
    grant_deadline = host_time_ns(NULL) + 20000000000ull;
    /* Entry GNT_REF: domain 2 may access frame GNT_FRAME. */
    uint16_t *e = grant_flags();
    e[1] = 2;
    memcpy(e + 2, &(uint32_t){GNT_FRAME}, 4);
    __atomic_store_n(e, GTF_permit_access, __ATOMIC_RELEASE);

    pthread_t t[NCPUS];
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[0], NULL, grant_vcpu_thread0, va), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[1], NULL, grant_vcpu_thread1, vb), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_MAPPER], NULL, grant_mapper_thread, NULL), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(t[CPU_MAPPER], NULL);

    printf("\n  grant threads: %llu copies done, %llu refused, %llu grant toggles, %llu grant "
           "frame moves, %llu SLAT calls of the embedder's, %ld table pages freed\n",
           (unsigned long long)copies_done, (unsigned long long)copies_refused,
           (unsigned long long)grant_toggles, (unsigned long long)table_moves,
           (unsigned long long)embedder_calls, pages_freed);
    report_bad();
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(copies_done > 0);
    CU_ASSERT(copies_refused > 0);
    CU_ASSERT(table_moves > 0);
    CU_ASSERT(embedder_calls > 0);

    CU_ASSERT_EQUAL(hv_xen_disable(vm_b), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_disable(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(vb), HV_OK);
    CU_ASSERT_EQUAL(hv_vcpu_destroy(va), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm_b), HV_OK);
    vm_b = NULL;
    free(ram_b);
    world_down(ctx);
}

/* ---- a mapping that stays: found while its table splits and merges ------------ */

#define STAY_OPS 20000u /* protect calls of the mapper */

/* Splits chunk 0's large page (a 4 KiB page made read-only) and merges it
   back (the page RWX again): its level-0 table is made and retired over
   and over while every page of the chunk stays mapped. */
static void *stay_mapper_thread(void *arg)
{
    (void)arg;
    this_cpu = CPU_MAPPER;
    uint64_t seed = 0x5eed, page = 0;
    for (unsigned i = 0; i < STAY_OPS && !bad; i++) {
        if (!(i & 1))
            page = 0x1000 * (next_random(&seed) % 512);
        hv_status_t st = hv_vm_protect(vm, page, 0x1000, (i & 1) ? HV_MEM_RWX : HV_MEM_READ);
        if (st != HV_OK)
            failed("a protect", page, i, st);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Lookups (hv_vm_query, hv_vm_query_next) of the chunk's first pages (a
   retired table's entry 0 among them), each of which must be found, at
   its one address. */
static void *stay_reader_thread(void *arg)
{
    this_cpu = (uint32_t)(uintptr_t)arg;
    uint64_t seed = 0xfeed + this_cpu;
    while (!stopped()) {
        struct hv_mapping m;
        uint64_t gpa = 0x1000 * (next_random(&seed) % 2) + (seed >> 20) % 0x1000;
        hv_status_t st = (seed & 4) ? hv_vm_query(vm, gpa, &m) : hv_vm_query_next(vm, gpa, &m);
        if (st != HV_OK || m.gpa > gpa || m.hpa + (gpa - m.gpa) != (uint64_t)(uintptr_t)ram + gpa)
            failed("a lookup of a page that stays mapped", gpa, m.hpa, st);
        __atomic_add_fetch(&walks_host, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_stay_mapped_under_threads(void)
{
    struct hv_ctx *ctx = world_up(io_exit, CHUNK, 1);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, (uint64_t)(uintptr_t)ram, CHUNK, HV_MEM_RWX), HV_OK);
    pthread_t t[NCPUS];
    CU_ASSERT_EQUAL_FATAL(
        pthread_create(&t[CPU_READER], NULL, stay_reader_thread, (void *)(uintptr_t)CPU_READER), 0);
    CU_ASSERT_EQUAL_FATAL(
        pthread_create(&t[CPU_CHURN], NULL, stay_reader_thread, (void *)(uintptr_t)CPU_CHURN), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[CPU_MAPPER], NULL, stay_mapper_thread, NULL), 0);
    pthread_join(t[CPU_MAPPER], NULL);
    pthread_join(t[CPU_READER], NULL);
    pthread_join(t[CPU_CHURN], NULL);

    /* The retired tables wait for a SLAT call that finds no lookup in
       progress: during the run that depends on how the two readers are
       scheduled (none on a loaded 2-core machine, at times), after it the
       next call frees them all. Either way the churn retired tables. */
    long during = pages_freed;
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0, 0x1000, HV_MEM_RWX), HV_OK);
    printf("\n  stay threads: %llu lookups, %ld table pages freed during the run, %ld after\n",
           (unsigned long long)walks_host, during, pages_freed - during);
    report_bad();
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(pages_freed > 0);
    world_down(ctx);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("threads", NULL, NULL);
    CU_add_test(s, "SLAT changes, lookups and vCPU churn against running vCPUs",
                test_slat_under_threads);
    CU_add_test(s, "Xen hypercalls of two vCPUs against each other", test_xen_under_threads);
    CU_add_test(s, "grant copies against the granter's changes", test_grants_under_threads);
    CU_add_test(s, "a mapping that stays is found while its table splits and merges",
                test_stay_mapped_under_threads);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
