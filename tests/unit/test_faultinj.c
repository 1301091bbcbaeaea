/*
 * Allocation-failure injection across the whole library.
 *
 * Every scenario below performs one operation (context, VM, vCPU, SLAT
 * change, MMIO region, Xen hub and domain, grant-table growth, gzip PVH
 * load, the real SVM and VMX backends' context, VM and vCPU set-up) with
 * the k-th host allocation failing, for k = 0, 1, ... until the operation
 * needs no more allocations. Each failure must return an error, leave
 * nothing half-built (the same operation then succeeds, teardown works)
 * and leak nothing (mock host clean: no page or object out, no guard
 * damage, no bad free).
 *
 * Which allocation failed is recorded by the call site's return address,
 * resolved to file:line with addr2line at the end; the allocation sites of
 * the library are found by scanning the module sources for
 * hv_host_page_alloc / hv_host_obj_alloc (and the inflate hook's alloc).
 * The test reports covered/total and fails on any site no scenario reached.
 * run_on_each_cpu failing on one CPU is injected into both backends'
 * context set-up.
 */
#define _GNU_SOURCE /* dladdr */
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hv/hv.h>
#include <hv/pvh.h>
#include <hv/xen.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/objects.h"
#include "core/xsave.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "svm/npt_format.h"
#include "svm/svm.h"
#include "vmx/ept_format.h"
#include "vmx/vmx.h"

/* ---- the recording host ---- */

#define MAX_SITES 256

struct site {
    void *ret;         /* return address inside the allocating function */
    bool host_ops;     /* through hv_host_ops (not the loader's inflate allocator hook) */
    char where[600];   /* repo-relative file:line after resolution */
    char func[64];     /* the outermost function there (addr2line -f) */
    unsigned failures; /* failures injected here */
};

static struct mock_host mh;
static struct hv_host_ops rec_ops;
static struct site sites[MAX_SITES];
static unsigned nsites;

static void record(void *ret, bool host_ops)
{
    bool will_fail = mh.alloc_index == mh.fail_at || mh.alloc_index >= mh.fail_from;
    if (!will_fail)
        return;
    for (unsigned i = 0; i < nsites; i++)
        if (sites[i].ret == ret) {
            sites[i].failures++;
            return;
        }
    if (nsites < MAX_SITES) {
        sites[nsites].ret = ret;
        sites[nsites].host_ops = host_ops;
        sites[nsites].failures = 1;
        nsites++;
    }
}

static void *rec_page_alloc(void *opaque, size_t count, uint64_t *hpa)
{
    (void)opaque;
    record(__builtin_return_address(0), true);
    return mh.ops.page_alloc(&mh, count, hpa);
}

static void *rec_obj_alloc(void *opaque, size_t size)
{
    (void)opaque;
    record(__builtin_return_address(0), true);
    return mh.ops.obj_alloc(&mh, size);
}

/* The loader's inflate allocator hook, backed by the same mock. */
static void *rec_inflate_alloc(void *opaque, size_t size)
{
    (void)opaque;
    record(__builtin_return_address(0), true);
    return mh.ops.obj_alloc(&mh, size);
}

static void rec_inflate_free(void *opaque, void *p, size_t size)
{
    (void)opaque;
    mh.ops.obj_free(&mh, p, size);
}

static void host_reset(void)
{
    mock_host_init(&mh);
    mh.time = 1000000000ull;
    rec_ops = mh.ops;
    rec_ops.page_alloc = rec_page_alloc;
    rec_ops.obj_alloc = rec_obj_alloc;
}

static bool host_clean(const char *what, uint64_t k)
{
    bool ok = mock_check_guards(&mh) == 0 && mock_host_clean(&mh);
    if (!ok)
        fprintf(stderr, "\n    %s, failure %llu: pages %llu objs %llu errors %llu %s\n", what,
                (unsigned long long)k, (unsigned long long)mh.pages_out,
                (unsigned long long)mh.objs_out, (unsigned long long)mh.errors, mh.last_error);
    return ok;
}

/*
 * Run `op` with the k-th allocation from now failing, k = 0, 1, ... until
 * it runs with no failure. setup/teardown build and destroy what the
 * operation needs (without failures); `undo` removes what op built when it
 * succeeded. op returns its status; it must be one of `ok` (the status of
 * an undisturbed run) or HV_ERR_NO_MEMORY (or `alt`) under a failure.
 */
struct scenario {
    const char *name;
    void (*setup)(void);
    hv_status_t (*op)(void);
    void (*undo)(void);
    void (*teardown)(void);
    hv_status_t ok;  /* status without failure */
    hv_status_t alt; /* also accepted under failure (HV_OK: none) */
    /*
     * Nonzero: inject exactly this many failures and skip the undisturbed
     * run, for an operation whose complete run executes privileged
     * instructions (VMX VMCS set-up) that a hosted process cannot.
     */
    unsigned failures_only;
};

static unsigned run_scenario(const struct scenario *s)
{
    unsigned failed_runs = 0;
    for (uint64_t k = 0; k < 10000; k++) {
        if (s->failures_only && k == s->failures_only)
            break;
        host_reset();
        if (s->setup)
            s->setup();
        mock_fail_in(&mh, k);
        mh.failed = 0;
        hv_status_t st = s->op();
        bool injected = mh.failed != 0;
        mock_fail_none(&mh);
        if (!injected) {
            CU_ASSERT_EQUAL(st, s->ok);
            if (st != s->ok)
                fprintf(stderr, "\n    %s: undisturbed run returned %s\n", s->name,
                        hv_status_str(st));
            if (st == HV_OK && s->undo)
                s->undo();
            if (s->teardown)
                s->teardown();
            CU_ASSERT(host_clean(s->name, k));
            mock_host_fini(&mh);
            break;
        }
        failed_runs++;
        bool good = st == HV_ERR_NO_MEMORY || (s->alt != HV_OK && st == s->alt);
        CU_ASSERT(good);
        if (!good)
            fprintf(stderr, "\n    %s: failure %llu returned %s\n", s->name, (unsigned long long)k,
                    hv_status_str(st));
        if (st == HV_OK && s->undo)
            s->undo();
        /* Nothing half-built: the same operation now succeeds. */
        if (!s->failures_only) {
            hv_status_t again = s->op();
            CU_ASSERT_EQUAL(again, s->ok);
            if (again == HV_OK && s->undo)
                s->undo();
        }
        if (s->teardown)
            s->teardown();
        CU_ASSERT(host_clean(s->name, k));
        mock_host_fini(&mh);
    }
    return failed_runs;
}

/* ---- core, SLAT, assist ---- */

static struct hv_slat_format fmt;
static struct hv_ctx *ctx;
static struct hv_vm *vm;
static struct hv_vcpu *vcpu;
static uint8_t *ram;
static uint64_t ram_hpa;
#define RAM_SIZE (4u << 20)

static hv_status_t op_ctx(void)
{
    hv_ept_format_init(&fmt, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&fmt);
    ctx = NULL;
    return hv_ctx_create_with_backend(&rec_ops, NULL, &mock_backend_ops, &ctx);
}

static void undo_ctx(void)
{
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    ctx = NULL;
}

static void setup_ctx(void)
{
    CU_ASSERT_EQUAL_FATAL(op_ctx(), HV_OK);
}

static hv_status_t op_vm(void)
{
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 2};
    vm = NULL;
    return hv_vm_create(ctx, &vc, &vm);
}

static void undo_vm(void)
{
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    vm = NULL;
}

static void setup_vm(void)
{
    setup_ctx();
    CU_ASSERT_EQUAL_FATAL(op_vm(), HV_OK);
}

static void teardown_vm(void)
{
    if (vcpu)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpu), HV_OK);
    vcpu = NULL;
    if (vm)
        undo_vm();
    if (ram)
        mock_guest_ram_free(&mh, ram);
    ram = NULL;
    undo_ctx();
}

static hv_status_t op_vcpu(void)
{
    vcpu = NULL;
    return hv_vcpu_create(vm, 0, &vcpu);
}

static void undo_vcpu(void)
{
    CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpu), HV_OK);
    vcpu = NULL;
}

/* hv_vcpu_load with HV_LOAD_GUEST_FPU: the host's x87/SSE area, kept
   until the vCPU is destroyed (teardown_vm). */
static void setup_vm_vcpu(void)
{
    setup_vm();
    CU_ASSERT_EQUAL_FATAL(op_vcpu(), HV_OK);
}

static hv_status_t op_load(void)
{
    return hv_vcpu_load(vcpu, HV_LOAD_GUEST_FPU);
}

static void undo_load(void)
{
    CU_ASSERT_EQUAL(hv_vcpu_put(vcpu), HV_OK);
}

/* Map 4 MiB of RAM at an odd place: 4 KiB and 2 MiB leaves, new tables. */
static hv_status_t op_map(void)
{
    if (!ram)
        ram = mock_guest_ram_alloc(&mh, RAM_SIZE, &ram_hpa);
    return hv_vm_map(vm, (1ull << 32) + 0x3000, ram_hpa, RAM_SIZE, HV_MEM_RWX);
}

static void undo_map(void)
{
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, (1ull << 32) + 0x3000, RAM_SIZE), HV_OK);
}

/* Guest RAM at gpa 0, 2 MiB-aligned in host-physical space so that the
   SLAT uses 2 MiB leaves (which unmap/protect of one page must split). */
static uint8_t *gram;
static uint64_t gram_hpa;

static void setup_mapped(void)
{
    setup_vm();
    ram = mock_guest_ram_alloc(&mh, RAM_SIZE + (2u << 20), &ram_hpa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ram);
    gram_hpa = (ram_hpa + (2u << 20) - 1) & ~((2ull << 20) - 1);
    gram = ram + (gram_hpa - ram_hpa);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, gram_hpa, RAM_SIZE, HV_MEM_RWX), HV_OK);
}

/* Unmapping and protecting one page inside a 2 MiB leaf splits it. */
static hv_status_t op_unmap_split(void)
{
    return hv_vm_unmap(vm, 0x201000, 4096);
}

static void undo_unmap_split(void)
{
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x201000, gram_hpa + 0x201000, 4096, HV_MEM_RWX), HV_OK);
}

static hv_status_t op_protect_split(void)
{
    return hv_vm_protect(vm, 0x203000, 4096, HV_MEM_READ);
}

static void undo_protect_split(void)
{
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0x203000, 4096, HV_MEM_RWX), HV_OK);
}

static hv_status_t mmio_handler(void *opaque, uint64_t gpa, unsigned size, bool write,
                                uint64_t *value)
{
    (void)opaque;
    (void)gpa;
    (void)size;
    (void)write;
    *value = 0;
    return HV_OK;
}

static hv_status_t op_mmio(void)
{
    return hv_vm_mmio_register(vm, 0xfee00000ull, 4096, mmio_handler, NULL);
}

static void undo_mmio(void)
{
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(vm, 0xfee00000ull), HV_OK);
}

static hv_status_t pio_handler(void *opaque, uint16_t port, unsigned size, bool write,
                               uint32_t *value)
{
    (void)opaque;
    (void)port;
    (void)size;
    (void)write;
    *value = 0;
    return HV_OK;
}

static hv_status_t op_pio(void)
{
    return hv_vm_pio_register(vm, 0x60, 5, pio_handler, NULL);
}

static void undo_pio(void)
{
    CU_ASSERT_EQUAL(hv_vm_pio_unregister(vm, 0x60), HV_OK);
}

/* ---- Xen ---- */

static struct hv_xen_hub *hub;

static hv_status_t op_hub(void)
{
    hub = NULL;
    return hv_xen_hub_create(ctx, &hub);
}

static void undo_hub(void)
{
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_OK);
    hub = NULL;
}

static void teardown_hub_ctx(void)
{
    undo_ctx();
}

static hv_status_t op_xen(void)
{
    struct hv_xen_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.tsc_khz = 2000000;
    cfg.max_grant_frames = 4;
    return hv_xen_enable(vm, &cfg);
}

static void undo_xen(void)
{
    CU_ASSERT_EQUAL(hv_xen_disable(vm), HV_OK);
}

static void setup_xen_vcpu(void)
{
    setup_mapped();
    CU_ASSERT_EQUAL_FATAL(op_vcpu(), HV_OK);
    CU_ASSERT_EQUAL_FATAL(op_xen(), HV_OK);
    /* 64-bit flat mode, identity-mapped first 2 MiB (PML4 at 0x1000). */
    uint64_t e[3] = {0x2003, 0x3003, 0x83};
    memcpy(gram + 0x1000, &e[0], 8);
    memcpy(gram + 0x2000, &e[1], 8);
    memcpy(gram + 0x3000, &e[2], 8);
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].base = 0;
        st.seg[i].limit = 0xffffffff;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | 3 | HV_SEG_DB | HV_SEG_G;
    }
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb | HV_SEG_G | HV_SEG_L;
    st.cr0 = 0x80000011;
    st.cr4 = 0x20;
    st.efer = 0x500;
    st.cr3 = 0x1000;
    st.rip = 0x5000;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL & ~HV_STATE_EVENTS, &st), HV_OK);
}

static void teardown_xen_vcpu(void)
{
    undo_xen();
    teardown_vm();
}

/* XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx 2): the table grows to 3 frames. */
static long hypercall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_HYPERCALL;
    e.vx.rip = mock_vcpu_of(vcpu)->st.rip;
    e.vx.insn_len = 3;
    e.set_gprs = true;
    memcpy(e.gpr, vcpu->gpr, sizeof(e.gpr));
    e.gpr[HV_GPR_RAX] = nr;
    e.gpr[HV_GPR_RDI] = a0;
    e.gpr[HV_GPR_RSI] = a1;
    e.gpr[HV_GPR_RDX] = a2;
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    m->script_len = m->script_pos = 0;
    mock_script(vcpu, &e);
    struct hv_exit ex;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &ex), HV_OK);
    m->script_len = m->script_pos = 0;
    return (long)vcpu->gpr[HV_GPR_RAX];
}

static long hypercall(uint64_t nr, uint64_t a0, uint64_t a1)
{
    return hypercall3(nr, a0, a1, 0);
}

static hv_status_t op_grant_frames(void)
{
    uint8_t a[24];
    memset(a, 0, sizeof(a));
    uint16_t dom = 0x7ff0;
    uint32_t space = 1;
    uint64_t idx = 2, gfn = 0x500;
    memcpy(a, &dom, 2);
    memcpy(a + 4, &space, 4);
    memcpy(a + 8, &idx, 8);
    memcpy(a + 16, &gfn, 8);
    memcpy(gram + 0x10000, a, sizeof(a));
    long r = hypercall(12, 7, 0x10000);
    /* Xen reports a failed frame allocation to the guest as -ENOMEM. */
    return r == 0 ? HV_OK : r == -12 ? HV_ERR_NO_MEMORY : HV_ERR_STATE;
}

/* The console buffers, allocated on first use: host input, then the
   guest's CONSOLEIO_write (-ENOMEM to the guest when it fails). */
static hv_status_t op_console(void)
{
    size_t acc;
    hv_status_t st = hv_xen_console_input(vm, "in", 2, &acc);
    if (st != HV_OK)
        return st;
    memcpy(gram + 0x10000, "out", 3);
    long r = hypercall3(18, 0, 3, 0x10000); /* console_io(CONSOLEIO_write, 3, buf) */
    return r == 0 ? HV_OK : r == -12 ? HV_ERR_NO_MEMORY : HV_ERR_STATE;
}

/* Ports 1..255 fill the first port page; port 256 needs the next one. */
static void setup_ports(void)
{
    setup_xen_vcpu();
    uint32_t p;
    for (unsigned i = 1; i < 256; i++)
        CU_ASSERT_EQUAL(hv_xen_evtchn_alloc_unbound(vm, &p), HV_OK);
}

static hv_status_t op_port_page(void)
{
    uint32_t p;
    hv_status_t st = hv_xen_evtchn_alloc_unbound(vm, &p);
    if (st == HV_OK && p != 256)
        return HV_ERR_STATE;
    return st;
}

/* The first host grant mapping allocates the table of them (the entry is
   not granted: the map itself is refused once the table exists). */
static hv_status_t op_grant_map(void)
{
    struct hv_xen_grant_mapping m;
    return hv_xen_grant_map(vm, 1, 0, &m);
}

/* ---- loader: gzip PVH image through the built-in inflate ---- */

static uint8_t *image;
static size_t image_len;

static hv_status_t op_pvh_gzip(void)
{
    struct hv_pvh_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.cmdline = "console=hvc0";
    struct hv_pvh_info info;
    return hv_pvh_load(vm, vcpu, image, image_len, &cfg, &info);
}

static hv_status_t op_image_gzip(void)
{
    struct hv_inflate_alloc alloc = {NULL, rec_inflate_alloc, rec_inflate_free};
    struct hv_inflate_ops inf;
    hv_inflate_builtin_ops(&inf, &alloc);
    struct hv_image img;
    hv_status_t st = hv_image_open(&img, image, image_len, NULL, &inf);
    hv_image_close(&img);
    return st;
}

static void setup_pvh(void)
{
    setup_mapped();
    CU_ASSERT_EQUAL_FATAL(op_vcpu(), HV_OK);
}

/* ---- the real backends around a fake context ---- */

static struct svm_ctx fake_sc;
static struct vmx_ctx fake_vc;
static struct hv_backend_ops hybrid;

static hv_status_t fake_svm_ctx_init(struct hv_ctx *c)
{
    memset(&fake_sc, 0, sizeof(fake_sc));
    fake_sc.limits.hpa_bits = 52; /* the mock's fake addresses start at 2^40 */
    fake_sc.limits.cr4_allowed = ~0ull;
    fake_sc.limits.efer_allowed = ~0ull;
    fake_sc.ncpus = 2;
    fake_sc.next_serial = 1;
    hv_npt_format_init(&fake_sc.npt, HV_PAGE_4K | HV_PAGE_2M);
    /* The ASID pool's own allocation is covered by the real svm_ctx_init. */
    fake_sc.asids.words = 0;
    c->arch = &fake_sc;
    hv_status_t st = svm_asid_pool_init(&fake_sc.asids, &c->host, 64);
    if (st != HV_OK)
        c->arch = NULL;
    return st;
}

static void fake_svm_ctx_fini(struct hv_ctx *c)
{
    svm_asid_pool_fini(&fake_sc.asids, &c->host);
    c->arch = NULL;
}

static hv_status_t fake_vmx_ctx_init(struct hv_ctx *c)
{
    memset(&fake_vc, 0, sizeof(fake_vc));
    hv_ept_format_init(&fake_vc.ept, HV_PAGE_4K | HV_PAGE_2M, false, false);
    fake_vc.ncpus = 2;
    c->arch = &fake_vc;
    return HV_OK;
}

static void fake_vmx_ctx_fini(struct hv_ctx *c)
{
    c->arch = NULL;
}

/*
 * Hosted, vmx_read_config() reports "no VMX" before vmx_ctx_init() gets to
 * its per-CPU allocations; the test links with --wrap=vmx_read_config so
 * that a minimal configuration lets it go on to them (and to the per-CPU
 * enable, which fails hosted, and to run_on_each_cpu failures).
 */
hv_status_t __real_vmx_read_config(const struct hv_host *host, struct vmx_config *cfg);
hv_status_t __wrap_vmx_read_config(const struct hv_host *host, struct vmx_config *cfg);
hv_status_t __wrap_vmx_read_config(const struct hv_host *host, struct vmx_config *cfg)
{
    (void)host;
    memset(cfg, 0, sizeof(*cfg));
    cfg->slat_page_sizes = HV_PAGE_4K | HV_PAGE_2M;
    cfg->hpa_bits = cfg->gpa_bits = 46;
    return HV_OK;
}

static const struct hv_backend_ops *backend_under_test;

/* The real backend with the mock's probe (a hosted process has no VMX/SVM). */
static hv_status_t op_backend_ctx(void)
{
    hv_ept_format_init(&fmt, HV_PAGE_4K | HV_PAGE_2M, true, false);
    mock_backend_reset(&fmt);
    mock_be.caps.asid_count = 64;
    hybrid = *backend_under_test;
    hybrid.probe = mock_backend_ops.probe;
    mh.cpus = 2;
    ctx = NULL;
    return hv_ctx_create_with_backend(&rec_ops, NULL, &hybrid, &ctx);
}

static void setup_backend_vm(void)
{
    hv_ept_format_init(&fmt, HV_PAGE_4K | HV_PAGE_2M, true, false);
    mock_backend_reset(&fmt);
    mock_be.caps.asid_count = 64;
    mock_be.caps.hpa_bits = 46;
    hybrid = *backend_under_test;
    hybrid.probe = mock_backend_ops.probe;
    bool svm = backend_under_test->id == HV_BACKEND_SVM;
    hybrid.ctx_init = svm ? fake_svm_ctx_init : fake_vmx_ctx_init;
    hybrid.ctx_fini = svm ? fake_svm_ctx_fini : fake_vmx_ctx_fini;
    mh.cpus = 2;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&rec_ops, NULL, &hybrid, &ctx), HV_OK);
}

static void setup_backend_vcpu(void)
{
    setup_backend_vm();
    CU_ASSERT_EQUAL_FATAL(op_vm(), HV_OK);
}

/* ---- sites in the sources ---- */

struct src_site {
    char where[600];
    char func[64]; /* the function the line is in */
    bool covered;
};

static struct src_site src_sites[MAX_SITES];
static unsigned nsrc;

static void scan_file(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", HV_TOP_DIR, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024], func[64] = "";
    unsigned n = 0;
    while (fgets(line, sizeof(line), f)) {
        n++;
        /* A definition starts at column 0 (project style): "type name(". */
        char *paren = strchr(line, '(');
        if ((line[0] == '_' || (line[0] >= 'a' && line[0] <= 'z')) && paren && !strchr(line, ';') &&
            !strchr(line, '=')) {
            char *e = paren;
            while (e > line && e[-1] == ' ')
                e--;
            char *b = e;
            while (b > line && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
                                (b[-1] >= 'A' && b[-1] <= 'Z') || (b[-1] >= '0' && b[-1] <= '9')))
                b--;
            snprintf(func, sizeof(func), "%.*s", (int)(e - b), b);
        }
        const char *code = line;
        while (*code == ' ')
            code++;
        if (code[0] == '/' || code[0] == '*')
            continue; /* comments */
        if ((strstr(line, "hv_host_page_alloc(") || strstr(line, "hv_host_obj_alloc(") ||
             strstr(line, "a->alloc(")) &&
            !strstr(line, "static inline") && nsrc < MAX_SITES) {
            snprintf(src_sites[nsrc].where, sizeof(src_sites[nsrc].where), "%s:%u", rel, n);
            snprintf(src_sites[nsrc].func, sizeof(src_sites[nsrc].func), "%s", func);
            nsrc++;
        }
    }
    fclose(f);
}

static void scan_sources(void)
{
    static const char *const lists[] = {"libhv/core", "libhv/slat",   "libhv/emu",   "libhv/loader",
                                        "libhv/xen",  "backends/svm", "backends/vmx"};
    for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/sources.txt", HV_TOP_DIR, lists[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = 0;
            size_t l = strlen(line);
            if (line[0] == '#' || l < 3 || strcmp(line + l - 2, ".c") != 0)
                continue;
            scan_file(line);
        }
        fclose(f);
    }
}

/* Resolve the recorded return addresses to repo-relative file:line. */
static void resolve_sites(void)
{
    /* The path through readlink (under Valgrind /proc/self/exe itself is
       the tool, but readlink of it is answered with the client's path). */
    static char exe[512];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[l > 0 ? l : 0] = 0;
    bool pie = false;
    FILE *fp = fopen(exe, "rb");
    if (fp) {
        Elf64_Ehdr eh;
        if (fread(&eh, sizeof(eh), 1, fp) == 1)
            pie = eh.e_type == ET_DYN;
        fclose(fp);
    }
    for (unsigned i = 0; i < nsites; i++) {
        Dl_info info;
        uintptr_t a = (uintptr_t)sites[i].ret - 1; /* inside the call instruction */
        if (pie && dladdr(sites[i].ret, &info) && info.dli_fbase)
            a -= (uintptr_t)info.dli_fbase;
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "addr2line -f -i -e '%s' %#lx 2>/dev/null", exe,
                 (unsigned long)a);
        FILE *p = popen(cmd, "r");
        strcpy(sites[i].where, "?");
        sites[i].func[0] = 0;
        if (!p)
            continue;
        /* Pairs of function and file:line, innermost first: the site is the
           first line outside the inline wrappers of core/host.h. Some
           compilers (clang) lose the inlined-at line of a call: then only
           the function is known, and the coverage matches by function. */
        char fn[512], line[512];
        bool found = false;
        while (fgets(fn, sizeof(fn), p) && fgets(line, sizeof(line), p)) {
            fn[strcspn(fn, "\r\n")] = 0;
            line[strcspn(line, " \r\n")] = 0;
            snprintf(sites[i].func, sizeof(sites[i].func), "%.63s", fn);
            if (found || strstr(line, "core/host.h") || strstr(line, "??") || strstr(line, ":?"))
                continue;
            const char *rel = strstr(line, HV_TOP_DIR "/");
            rel = rel ? rel + strlen(HV_TOP_DIR) + 1 : line;
            snprintf(sites[i].where, sizeof(sites[i].where), "%s", rel);
            found = true;
        }
        pclose(p);
    }
}

/* ---- the test ---- */

static const struct scenario core_scenarios[] = {
    {"ctx create", NULL, op_ctx, undo_ctx, NULL, HV_OK, HV_OK, 0},
    {"vm create", setup_ctx, op_vm, undo_vm, teardown_vm, HV_OK, HV_OK, 0},
    {"vcpu create", setup_vm, op_vcpu, undo_vcpu, teardown_vm, HV_OK, HV_OK, 0},
    {"vcpu load", setup_vm_vcpu, op_load, undo_load, teardown_vm, HV_OK, HV_OK, 0},
    {"vm map", setup_vm, op_map, undo_map, teardown_vm, HV_OK, HV_OK, 0},
    {"unmap split", setup_mapped, op_unmap_split, undo_unmap_split, teardown_vm, HV_OK, HV_OK, 0},
    {"protect split", setup_mapped, op_protect_split, undo_protect_split, teardown_vm, HV_OK, HV_OK,
     0},
    {"mmio register", setup_vm, op_mmio, undo_mmio, teardown_vm, HV_OK, HV_OK, 0},
    {"pio register", setup_vm, op_pio, undo_pio, teardown_vm, HV_OK, HV_OK, 0},
    {"xen hub", setup_ctx, op_hub, undo_hub, teardown_hub_ctx, HV_OK, HV_OK, 0},
    {"xen enable", setup_mapped, op_xen, undo_xen, teardown_vm, HV_OK, HV_OK, 0},
    {"grant table frames", setup_xen_vcpu, op_grant_frames, NULL, teardown_xen_vcpu, HV_OK, HV_OK,
     0},
    {"xen console", setup_xen_vcpu, op_console, NULL, teardown_xen_vcpu, HV_OK, HV_OK, 0},
    {"event channel page", setup_ports, op_port_page, NULL, teardown_xen_vcpu, HV_OK, HV_OK, 0},
    {"grant map table", setup_xen_vcpu, op_grant_map, NULL, teardown_xen_vcpu, HV_ERR_GUEST_FAULT,
     HV_OK, 0},
    {"pvh load gzip", setup_pvh, op_pvh_gzip, NULL, teardown_vm, HV_OK, HV_OK, 0},
    {"image open gzip", NULL, op_image_gzip, NULL, NULL, HV_OK, HV_OK, 0},
};

static void test_core_modules(void)
{
    FILE *f = fopen(HV_TOP_DIR "/tests/unit/data/loader_pvh_guest64.elf.gz", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    image = malloc(1 << 20);
    image_len = fread(image, 1, 1 << 20, f);
    fclose(f);
    for (unsigned i = 0; i < sizeof(core_scenarios) / sizeof(core_scenarios[0]); i++) {
        unsigned n = run_scenario(&core_scenarios[i]);
        printf("\n    %-20s %u allocation failures injected", core_scenarios[i].name, n);
        CU_ASSERT(n > 0);
    }
    free(image);
}

static hv_status_t op_backend_ctx_expect(void)
{
    hv_status_t st = op_backend_ctx();
    CU_ASSERT_PTR_NULL(ctx); /* never half-built */
    return st;
}

static void test_backend(const struct hv_backend_ops *be, const char *name)
{
    backend_under_test = be;
    /* Hosted, the real per-CPU enable cannot succeed: the undisturbed result is an error. */
    host_reset();
    hv_status_t hosted = op_backend_ctx();
    CU_ASSERT_NOT_EQUAL(hosted, HV_OK);
    CU_ASSERT(host_clean(name, 0));
    mock_host_fini(&mh);
    const struct scenario ctx_s = {
        "backend ctx_init", NULL, op_backend_ctx_expect, NULL, NULL, hosted, hosted, 0};
    unsigned n = run_scenario(&ctx_s);
    printf("\n    %s ctx_init: %u allocation failures injected (undisturbed: %s)", name, n,
           hv_status_str(hosted));
    CU_ASSERT(n >= 3);

    /* run_on_each_cpu failing on one of two CPUs: an error, nothing left behind. */
    host_reset();
    mh.fail_cpu = 1;
    hv_status_t st = op_backend_ctx();
    CU_ASSERT_NOT_EQUAL(st, HV_OK);
    CU_ASSERT_PTR_NULL(ctx);
    CU_ASSERT(host_clean("run_on_each_cpu failure", 0));
    mock_host_fini(&mh);

    const struct scenario vm_s = {
        "backend vm_init", setup_backend_vm, op_vm, undo_vm, teardown_vm, HV_OK, HV_OK, 0};
    /* VMX: the core's vCPU object, its XSAVE areas (a host with AVX,
       core/xsave.h), the backend's object and two pages (VMCS, MSR areas;
       the MSR bitmap is the VM's) fail one by one; the complete run would
       VMCLEAR/VMWRITE. */
    struct hv_xs_layout xs;
    hv_xs_host_layout(&xs);
    unsigned vmx_allocs = (xs.supported & HV_XCR0_EXT) ? 5 : 4;
    const struct scenario vcpu_s = {"backend vcpu_init",
                                    setup_backend_vcpu,
                                    op_vcpu,
                                    undo_vcpu,
                                    teardown_vm,
                                    HV_OK,
                                    HV_OK,
                                    be->id == HV_BACKEND_VMX ? vmx_allocs : 0};
    n = run_scenario(&vm_s);
    printf("\n    %s vm_init: %u", name, n);
    n = run_scenario(&vcpu_s);
    printf("; vcpu_init: %u", n);
}

static void test_svm_backend(void)
{
    test_backend(&hv_svm_backend, "svm");
}

static void test_vmx_backend(void)
{
    test_backend(&hv_vmx_backend, "vmx");
}

/* Last: every allocation site in the sources was made to fail somewhere. */
static void test_site_coverage(void)
{
    scan_sources();
    resolve_sites();
    unsigned covered = 0;
    for (unsigned i = 0; i < nsrc; i++) {
        for (unsigned j = 0; j < nsites; j++) {
            if (strcmp(src_sites[i].where, sites[j].where) == 0)
                src_sites[i].covered = true;
            /*
             * A host allocation whose return address is the inflate's
             * a->alloc() call came through an inflate allocator hook that
             * forwards to hv_host_obj_alloc() as a sibling call (no frame of
             * its own): the PVH loader's hook in libhv/xen/pvh.c.
             */
            if (sites[j].host_ops && strstr(sites[j].where, "libhv/loader/inflate.c") &&
                strstr(src_sites[i].where, "libhv/xen/pvh.c"))
                src_sites[i].covered = true;
        }
    }
    /* Sites known only by their function: each covers one uncovered site of
       that function (distinct return addresses are distinct call sites). */
    for (unsigned j = 0; j < nsites; j++) {
        if (strcmp(sites[j].where, "?") != 0 || !sites[j].func[0])
            continue;
        for (unsigned i = 0; i < nsrc; i++)
            if (!src_sites[i].covered && strcmp(src_sites[i].func, sites[j].func) == 0) {
                src_sites[i].covered = true;
                break;
            }
    }
    for (unsigned i = 0; i < nsrc; i++)
        covered += src_sites[i].covered;
    printf("\n    allocation sites covered by failure injection: %u/%u", covered, nsrc);
    static const char *const mods[] = {"libhv/core/",   "libhv/slat/", "libhv/emu/",
                                       "libhv/loader/", "libhv/xen/",  "backends/svm/",
                                       "backends/vmx/"};
    for (unsigned m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
        unsigned t = 0, c = 0;
        for (unsigned i = 0; i < nsrc; i++)
            if (strncmp(src_sites[i].where, mods[m], strlen(mods[m])) == 0) {
                t++;
                c += src_sites[i].covered;
            }
        printf("\n      %-14s %u/%u", mods[m], c, t);
    }
    for (unsigned i = 0; i < nsrc; i++)
        if (!src_sites[i].covered)
            printf("\n      NOT COVERED: %s", src_sites[i].where);
    for (unsigned j = 0; j < nsites; j++) {
        bool lib = strncmp(sites[j].where, "libhv/", 6) == 0 ||
                   strncmp(sites[j].where, "backends/", 9) == 0;
        bool known = false;
        for (unsigned i = 0; i < nsrc; i++)
            known |= strcmp(src_sites[i].where, sites[j].where) == 0;
        if (lib && !known)
            printf("\n      failed at %s (not found by the source scan)", sites[j].where);
    }
    printf("\n");
    CU_ASSERT(nsrc >= 20);
    CU_ASSERT_EQUAL(covered, nsrc);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("faultinj", NULL, NULL);
    CU_add_test(s, "core, slat, assist, xen, loader", test_core_modules);
    CU_add_test(s, "svm backend", test_svm_backend);
    CU_add_test(s, "vmx backend", test_vmx_backend);
    CU_add_test(s, "every allocation site covered", test_site_coverage);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
