/* The Xen unit-test fixture (xen_fixture.h). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "core/ctx_internal.h"
#include "core/objects.h"
#include "vmx/ept_format.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define CR0_PE  0x1ull
#define CR0_PG  0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LM 0x500ull /* LME | LMA */

static void on_wake(void *opaque, struct hv_vcpu *vcpu)
{
    struct xf *f = opaque;
    f->wakes++;
    f->last_woken = vcpu;
}

static void on_apic_wake(void *opaque, struct hv_vcpu *vcpu)
{
    struct xf *f = opaque;
    (void)vcpu;
    f->apic_wakes++;
}

static void on_notify(void *opaque, struct hv_vm *vm, uint32_t host_port)
{
    struct xf *f = opaque;
    (void)vm;
    f->notifies++;
    f->last_notified = host_port;
}

static void put64(struct xf *f, uint64_t gpa, uint64_t v)
{
    memcpy(f->ram + gpa, &v, 8);
}

/* Identity map of the first 4 MiB with 2 MiB pages, and gva 1 GiB -> 2 MiB. */
static void build_page_tables(struct xf *f)
{
    put64(f, XF_PT_BASE, (XF_PT_BASE + 0x1000) | 3);              /* PML4[0] -> PDPT */
    put64(f, XF_PT_BASE + 0x1000, (XF_PT_BASE + 0x2000) | 3);     /* PDPT[0] -> PD */
    put64(f, XF_PT_BASE + 0x1000 + 8, (XF_PT_BASE + 0x3000) | 3); /* PDPT[1] -> PD2 */
    put64(f, XF_PT_BASE + 0x2000, 0x000000 | 0x83);               /* 2 MiB pages */
    put64(f, XF_PT_BASE + 0x2000 + 8, 0x200000 | 0x83);
    put64(f, XF_PT_BASE + 0x3000, XF_ALIAS_GPA | 0x83);
}

void xf_set_mode(struct hv_vcpu *vcpu, bool compat)
{
    struct hv_vcpu_state st;
    CU_ASSERT_EQUAL(hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].base = 0;
        st.seg[i].limit = 0xffffffff;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | 3 | HV_SEG_DB | HV_SEG_G;
        st.seg[i].selector = 0x10;
    }
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb | HV_SEG_G | (compat ? HV_SEG_DB : HV_SEG_L);
    st.seg[HV_SEG_CS].selector = 0x8;
    if (compat) {
        st.cr0 = CR0_PE | 0x10;
        st.cr4 = 0;
        st.efer = 0;
        st.cr3 = 0;
    } else {
        st.cr0 = CR0_PE | CR0_PG | 0x10;
        st.cr4 = CR4_PAE;
        st.efer = EFER_LM;
        st.cr3 = XF_PT_BASE;
    }
    st.rip = 0x5000;
    st.rflags = 0x2;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL & ~HV_STATE_EVENTS, &st), HV_OK);
}

static void make_vm(struct xf *f, const struct xf_opts *o)
{
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = o->max_vcpus ? o->max_vcpus : 2};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(f->ctx, &vc, &f->vm), HV_OK);
    f->ram = mock_guest_ram_alloc(&f->mh, XF_RAM_SIZE, &f->ram_hpa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->ram);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(f->vm, 0, f->ram_hpa, XF_RAM_SIZE, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_protect(f->vm, XF_RO_PAGE, 4096, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_unmap(f->vm, XF_HOLE, 4096), HV_OK);
    build_page_tables(f);
    if (o->lapic) {
        struct hv_lapic_config lc = {.size = sizeof(lc),
                                     .tsc_khz = XF_TSC_KHZ,
                                     .flags = HV_LAPIC_APS_WAIT_SIPI,
                                     .wake = on_apic_wake,
                                     .opaque = f};
        CU_ASSERT_EQUAL_FATAL(hv_lapic_enable(f->vm, &lc), HV_OK);
    }
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(f->vm, 0, &f->vcpu), HV_OK);
    f->compat = o->compat;
    xf_set_mode(f->vcpu, o->compat);
    if (o->two_vcpus) {
        CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(f->vm, 1, &f->vcpu1), HV_OK);
        xf_set_mode(f->vcpu1, o->compat);
    }
    if (!o->no_xen) {
        struct hv_xen_config cfg = o->cfg;
        cfg.size = sizeof(cfg);
        if (!cfg.tsc_khz)
            cfg.tsc_khz = XF_TSC_KHZ;
        cfg.wake = on_wake;
        cfg.notify = on_notify;
        cfg.opaque = f;
        cfg.hub = o->hub;
        CU_ASSERT_EQUAL_FATAL(hv_xen_enable(f->vm, &cfg), HV_OK);
        /* The fixture plays the toolstack: vCPU 1 starts up. */
        if (f->vcpu1 && !o->vcpu1_down)
            CU_ASSERT_EQUAL_FATAL(hv_xen_vcpu_set_up(f->vcpu1, true), HV_OK);
    }
}

void xf_setup(struct xf *f, const struct xf_opts *opts)
{
    struct xf_opts none;
    memset(&none, 0, sizeof(none));
    const struct xf_opts *o = opts ? opts : &none;
    memset(f, 0, sizeof(*f));
    mock_host_init(&f->mh);
    f->mh.time = 1000000000ull; /* 1 s */
    hv_ept_format_init(&f->fmt, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
    mock_backend_reset(&f->fmt);
    f->be = mock_backend_ops;
    if (o->svm)
        f->be.id = HV_BACKEND_SVM;
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&f->mh.ops, NULL, &f->be, &f->ctx), HV_OK);
    make_vm(f, o);
}

void xf_setup_peer(struct xf *peer, struct xf *first, const struct xf_opts *opts)
{
    struct xf_opts none;
    memset(&none, 0, sizeof(none));
    memset(peer, 0, sizeof(*peer));
    /* Shares the mock host and the context; guest RAM comes from the same mock. */
    peer->ctx = first->ctx;
    const struct xf_opts *o = opts ? opts : &none;
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = o->max_vcpus ? o->max_vcpus : 2};
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(first->ctx, &vc, &peer->vm), HV_OK);
    peer->ram = mock_guest_ram_alloc(&first->mh, XF_RAM_SIZE, &peer->ram_hpa);
    CU_ASSERT_PTR_NOT_NULL_FATAL(peer->ram);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(peer->vm, 0, peer->ram_hpa, XF_RAM_SIZE, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_protect(peer->vm, XF_RO_PAGE, 4096, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_unmap(peer->vm, XF_HOLE, 4096), HV_OK);
    build_page_tables(peer);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(peer->vm, 0, &peer->vcpu), HV_OK);
    peer->compat = o->compat;
    xf_set_mode(peer->vcpu, o->compat);
    if (o->no_xen)
        return;
    struct hv_xen_config cfg = o->cfg;
    cfg.size = sizeof(cfg);
    cfg.tsc_khz = XF_TSC_KHZ;
    cfg.wake = on_wake;
    cfg.notify = on_notify;
    cfg.opaque = peer;
    cfg.hub = o->hub;
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(peer->vm, &cfg), HV_OK);
}

static void destroy_vm(struct xf *f, struct mock_host *mh)
{
    if (f->vm && f->vm->xen)
        CU_ASSERT_EQUAL(hv_xen_disable(f->vm), HV_OK);
    if (f->vcpu1)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(f->vcpu1), HV_OK);
    if (f->vcpu)
        CU_ASSERT_EQUAL(hv_vcpu_destroy(f->vcpu), HV_OK);
    if (f->vm)
        CU_ASSERT_EQUAL(hv_vm_destroy(f->vm), HV_OK);
    if (f->ram)
        mock_guest_ram_free(mh, f->ram);
    f->vm = NULL;
    f->vcpu = f->vcpu1 = NULL;
    f->ram = NULL;
}

void xf_teardown_peer(struct xf *peer)
{
    /* The peer's RAM came from the first fixture's mock host, which the
       caller passes through peer->ctx's host table. */
    struct mock_host *mh = peer->ctx->host.ops.opaque;
    destroy_vm(peer, mh);
}

void xf_teardown(struct xf *f)
{
    destroy_vm(f, &f->mh);
    CU_ASSERT_EQUAL(hv_ctx_destroy(f->ctx), HV_OK);
    CU_ASSERT(mock_host_clean(&f->mh));
    if (!mock_host_clean(&f->mh))
        fprintf(stderr, "xen fixture leak: pages %llu objs %llu errors %llu %s\n",
                (unsigned long long)f->mh.pages_out, (unsigned long long)f->mh.objs_out,
                (unsigned long long)f->mh.errors, f->mh.last_error);
    mock_host_fini(&f->mh);
}

static void script_call(struct hv_vcpu *vcpu, bool compat, uint64_t nr, const uint64_t a[6])
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_HYPERCALL;
    e.vx.rip = mock_vcpu_of(vcpu)->st.rip;
    e.set_gprs = true;
    memcpy(e.gpr, vcpu->gpr, sizeof(e.gpr));
    e.gpr[HV_GPR_RAX] = nr;
    if (compat) {
        static const int r[6] = {HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX,
                                 HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RBP};
        for (int i = 0; i < 6; i++)
            e.gpr[r[i]] = a[i];
    } else {
        static const int r[6] = {HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDX,
                                 HV_GPR_R10, HV_GPR_R8,  HV_GPR_R9};
        for (int i = 0; i < 6; i++)
            e.gpr[r[i]] = a[i];
    }
    mock_script(vcpu, &e);
}

static long run_call(struct xf *f, struct hv_vcpu *vcpu, bool compat)
{
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &f->exit), HV_OK);
    uint64_t rax = vcpu->gpr[HV_GPR_RAX];
    /* Drop what is left of the script so the next call starts clean. */
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    m->script_len = m->script_pos = 0;
    return compat ? (long)(int32_t)(uint32_t)rax : (long)rax;
}

long xf_call(struct xf *f, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
             uint64_t a4, uint64_t a5)
{
    const uint64_t a[6] = {a0, a1, a2, a3, a4, a5};
    script_call(f->vcpu, f->compat, nr, a);
    return run_call(f, f->vcpu, f->compat);
}

long xf_call_on(struct xf *f, struct hv_vcpu *vcpu, uint64_t nr, uint64_t a0, uint64_t a1,
                uint64_t a2)
{
    const uint64_t a[6] = {a0, a1, a2, 0, 0, 0};
    script_call(vcpu, f->compat, nr, a);
    return run_call(f, vcpu, f->compat);
}

uint64_t xf_rip(struct xf *f, struct hv_vcpu *vcpu)
{
    return mock_vcpu_of(vcpu ? vcpu : f->vcpu)->st.rip;
}

void xf_set_cpl(struct xf *f, unsigned cpl)
{
    struct mock_vcpu *m = mock_vcpu_of(f->vcpu);
    m->st.seg[HV_SEG_SS].attr = (uint16_t)((m->st.seg[HV_SEG_SS].attr & ~(3u << 5)) | (cpl << 5));
    m->st.seg[HV_SEG_CS].attr = (uint16_t)((m->st.seg[HV_SEG_CS].attr & ~(3u << 5)) | (cpl << 5));
}

void xf_set_if(struct xf *f, struct hv_vcpu *vcpu, bool on)
{
    (void)f;
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    if (on)
        m->st.rflags |= 0x200;
    else
        m->st.rflags &= ~0x200ull;
}

void xf_enter(struct xf *f, struct hv_vcpu *vcpu)
{
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    m->script_len = m->script_pos = 0;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &f->exit), HV_OK);
}

unsigned xf_injected(struct hv_vcpu *vcpu, uint8_t *last_vector)
{
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    if (last_vector)
        *last_vector = m->injected_count ? m->injected[m->injected_count - 1].vector : 0;
    return m->injected_count;
}

/* shared_info through the guest-visible mapping would need it mapped;
   the tests read the library page directly instead. */
static uint8_t *shinfo(struct xf *f)
{
    return (uint8_t *)f->vm->xen->shinfo;
}

static bool bit(const uint8_t *base, bool compat, uint32_t n)
{
    if (compat) {
        uint32_t w;
        memcpy(&w, base + 4 * (n / 32), 4);
        return (w >> (n % 32)) & 1;
    }
    uint64_t w;
    memcpy(&w, base + 8 * (n / 64), 8);
    return (w >> (n % 64)) & 1;
}

static void set_bit(uint8_t *base, bool compat, uint32_t n, bool on)
{
    if (compat) {
        uint32_t w;
        memcpy(&w, base + 4 * (n / 32), 4);
        w = on ? w | (1u << (n % 32)) : w & ~(1u << (n % 32));
        memcpy(base + 4 * (n / 32), &w, 4);
    } else {
        uint64_t w;
        memcpy(&w, base + 8 * (n / 64), 8);
        w = on ? w | (1ull << (n % 64)) : w & ~(1ull << (n % 64));
        memcpy(base + 8 * (n / 64), &w, 8);
    }
}

#define PENDING_OFF 2048u
#define MASK_OFF(c) ((c) ? 2176u : 2560u)

bool xf_port_pending(struct xf *f, uint32_t port)
{
    return bit(shinfo(f) + PENDING_OFF, f->vm->xen->compat, port);
}

bool xf_port_masked(struct xf *f, uint32_t port)
{
    return bit(shinfo(f) + MASK_OFF(f->vm->xen->compat), f->vm->xen->compat, port);
}

void xf_mask_port(struct xf *f, uint32_t port, bool on)
{
    set_bit(shinfo(f) + MASK_OFF(f->vm->xen->compat), f->vm->xen->compat, port, on);
}

void xf_clear_pending(struct xf *f, uint32_t port)
{
    set_bit(shinfo(f) + PENDING_OFF, f->vm->xen->compat, port, false);
}

uint8_t xf_upcall_pending(struct xf *f, uint32_t id)
{
    return shinfo(f)[id * 64];
}

void xf_set_upcall_pending(struct xf *f, uint32_t id, uint8_t v)
{
    shinfo(f)[id * 64] = v;
}

uint64_t xf_pending_sel(struct xf *f, uint32_t id)
{
    if (f->vm->xen->compat) {
        uint32_t w;
        memcpy(&w, shinfo(f) + id * 64 + 4, 4);
        return w;
    }
    uint64_t w;
    memcpy(&w, shinfo(f) + id * 64 + 8, 8);
    return w;
}

long xf_map_shinfo(struct xf *f, uint64_t gfn)
{
    /* struct xen_add_to_physmap in the caller's layout. */
    uint8_t *a = xf_gpa(f, XF_BUF2);
    memset(a, 0, 24);
    uint16_t dom = 0x7ff0;
    memcpy(a, &dom, 2);
    if (f->compat) {
        uint32_t v = gfn;
        memcpy(a + 12, &v, 4); /* space 0, idx 0 */
    } else {
        memcpy(a + 16, &gfn, 8);
    }
    return xf_call(f, HC_MEMORY_OP, 7, XF_BUF2, 0, 0, 0, 0);
}
