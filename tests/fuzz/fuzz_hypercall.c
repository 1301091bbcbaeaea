/*
 * Fuzz target: the Xen hypercall dispatcher and the event-channel and
 * grant-table state machines behind it, through the mock backend.
 *
 * Two Xen domains share a hub (so interdomain event channels and
 * GNTTABOP_copy are reachable). The input is a program of commands:
 * hypercalls with fuzzed numbers and arguments (raw values or addresses
 * steered at RAM, read-only pages, holes, the end of memory), guest memory
 * writes (argument structures, grant entries, page tables), host-side
 * event-channel, grant, console and parameter calls, CPL and mode changes,
 * vCPU entries that deliver events and fire timers. With bit 4 of the
 * set-up byte, every hypercall of a quiet vCPU first goes where the
 * backends' exit fast path sends it (hv_pv_ops::hypercall_fast, then the
 * event delivery), and to the full path only when that declines. With
 * bit 5, the first domain has the stable pvclock (HV_XEN_F_TSC_STABLE).
 *
 * Invariants: no sanitizer report; each return value is in the set Xen
 * defines for that call; calls from CPL > 0 get -EPERM and unknown numbers
 * -ENOSYS; guest RAM outside what the calls may write keeps its canary
 * (the peer VM's RAM is only written through grant copies we can see);
 * everything is freed at teardown (mock host clean, guards intact).
 */
#include <stdlib.h>
#include <string.h>

#include <hv/hv.h>
#include <hv/pvh.h>
#include <hv/xen.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/fast.h"
#include "core/pv.h"
#include "core/objects.h"
#include "fuzz_common.h"
#include "core/assist.h"
#include "mock_backend.h"
#include "vmx/ept_format.h"

#define RAM_SIZE   (512u * 1024)
#define PT_BASE    0x1000u /* PML4, PDPT, PD, PT */
#define BUF        0x10000u
#define RO_PAGE    0x60000u
#define HOLE_PAGE  0x70000u
#define ALIAS_GVA  0x40000000ull /* aliases gva 0 */
#define GNT_GFN    0x80u         /* where the seeds map the grant table (past RAM) */
#define HCALL_PAGE 0x5000u       /* the hypercall-page command's default: the guest's code */

struct dom {
    struct hv_vm *vm;
    struct hv_vcpu *vcpu[2];
    uint8_t *ram;
    uint64_t ram_hpa;
    bool compat;
    uint32_t domid;
};

struct world {
    struct mock_host mh;
    struct hv_slat_format fmt;
    struct hv_backend_ops be;
    struct hv_ctx *ctx;
    struct hv_xen_hub *hub;
    struct dom d[2];
    struct hv_exit exit;
    bool not_run; /* the last hypercall's vCPU was down: nothing executed */
    uint32_t host_ports[8];
    uint32_t grant_handles[8];
};

static void on_wake(void *opaque, struct hv_vcpu *vcpu)
{
}
static void on_notify(void *opaque, struct hv_vm *vm, uint32_t port)
{
}

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8);
}

static void page_tables(uint8_t *ram)
{
    put64(ram, PT_BASE, (PT_BASE + 0x1000) | 3);
    put64(ram, PT_BASE + 0x1000, (PT_BASE + 0x2000) | 3);     /* PDPT[0] */
    put64(ram, PT_BASE + 0x1000 + 8, (PT_BASE + 0x2000) | 3); /* PDPT[1]: gva 1 GiB aliases */
    put64(ram, PT_BASE + 0x2000, (PT_BASE + 0x3000) | 3);     /* PD[0] -> PT */
    for (uint64_t i = 0; i < RAM_SIZE / 4096; i++)
        put64(ram, PT_BASE + 0x3000 + 8 * i, (i * 4096) | 3);
}

static bool set_mode(struct hv_vcpu *vcpu, bool compat)
{
    struct hv_vcpu_state st;
    if (hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st) != HV_OK)
        return false;
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].base = 0;
        st.seg[i].limit = 0xffffffff;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | 3 | HV_SEG_DB | HV_SEG_G;
        st.seg[i].selector = 0x10;
    }
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb | HV_SEG_G | (compat ? HV_SEG_DB : HV_SEG_L);
    st.seg[HV_SEG_CS].selector = 0x8;
    st.cr0 = compat ? 0x11 : 0x80000011;
    st.cr4 = compat ? 0 : 0x20;
    st.efer = compat ? 0 : 0x500;
    st.cr3 = compat ? 0 : PT_BASE;
    st.rip = 0x5000;
    st.rflags = 0x202;
    return hv_vcpu_set_state(vcpu, HV_STATE_ALL & ~HV_STATE_EVENTS, &st) == HV_OK;
}

static bool make_dom(struct world *w, struct dom *d, bool compat, bool two, bool stable)
{
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 2};
    if (hv_vm_create(w->ctx, &vc, &d->vm) != HV_OK)
        return false;
    FZ_CHECK(hv_vm_map(d->vm, 0, d->ram_hpa, RAM_SIZE, HV_MEM_RWX) == HV_OK, "map RAM");
    FZ_CHECK(hv_vm_protect(d->vm, RO_PAGE, 4096, HV_MEM_READ) == HV_OK, "protect");
    FZ_CHECK(hv_vm_unmap(d->vm, HOLE_PAGE, 4096) == HV_OK, "unmap");
    page_tables(d->ram);
    d->compat = compat;
    for (unsigned i = 0; i < (two ? 2u : 1u); i++) {
        FZ_CHECK(hv_vcpu_create(d->vm, i, &d->vcpu[i]) == HV_OK, "vcpu create");
        FZ_CHECK(set_mode(d->vcpu[i], compat), "vcpu mode");
    }
    struct hv_xen_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.tsc_khz = 2000000;
    cfg.flags = stable ? HV_XEN_F_TSC_STABLE : 0;
    cfg.max_evtchn_ports = 64;
    cfg.max_grant_frames = 2;
    cfg.wake = on_wake;
    cfg.notify = on_notify;
    cfg.opaque = w;
    cfg.hub = w->hub;
    FZ_CHECK(hv_xen_enable(d->vm, &cfg) == HV_OK, "xen enable");
    FZ_CHECK(hv_xen_domid(d->vm, &d->domid) == HV_OK, "domid");
    /* vCPU 1 starts up, as a toolstack would start it (the guest may
       still take it down and bring it up with VCPUOP_*). */
    if (two)
        FZ_CHECK(hv_xen_vcpu_set_up(d->vcpu[1], true) == HV_OK, "vcpu up");
    return true;
}

static void destroy_dom(struct world *w, struct dom *d)
{
    if (!d->vm)
        return;
    FZ_CHECK(hv_xen_disable(d->vm) == HV_OK, "xen disable");
    for (unsigned i = 0; i < 2; i++)
        if (d->vcpu[i])
            FZ_CHECK(hv_vcpu_destroy(d->vcpu[i]) == HV_OK, "vcpu destroy");
    FZ_CHECK(hv_vm_destroy(d->vm) == HV_OK, "vm destroy");
}

/* A guest write: through the VM's SLAT, as the guest's own store would go
   (so it reaches shared_info and grant-table frames mapped into its space). */
static void gwrite(struct world *w, struct dom *d, uint64_t gpa, const uint8_t *src, size_t len)
{
    while (len) {
        size_t n = 4096 - (gpa & 4095);
        if (n > len)
            n = len;
        struct hv_mapping mp;
        if (hv_vm_query(d->vm, gpa, &mp) == HV_OK && (mp.flags & HV_MEM_WRITE)) {
            uint8_t *p = mock_phys_to_virt(&w->mh, mp.hpa + (gpa - mp.gpa));
            if (p)
                memcpy(p, src, n);
        }
        gpa += n;
        src += n;
        len -= n;
    }
}

/* ---- arguments ---- */

static uint64_t arg(struct fz *in, const struct world *w)
{
    uint8_t sel = fz_u8(in);
    switch (sel & 15) {
    case 0:
        return fz_u8(in);
    case 1:
        return fz_u16(in);
    case 2:
        return fz_u64(in);
    case 3:
    case 4:
        return BUF + (fz_u16(in) & 0x3fff); /* argument buffers */
    case 5:
        return RAM_SIZE - (fz_u8(in) & 0x3f); /* across the end of memory */
    case 6:
        return RO_PAGE + (fz_u16(in) & 0xfff);
    case 7:
        return HOLE_PAGE + (fz_u16(in) & 0xfff);
    case 8:
        return ALIAS_GVA + (fz_u16(in) & 0xffff);
    case 9:
        return (uint64_t) - (int64_t)(fz_u8(in) & 15);
    case 10:
        return 0x7ff0; /* DOMID_SELF */
    case 11:
        return w->d[1].domid;
    case 12:
        return PT_BASE + (fz_u16(in) & 0x3fff); /* the guest's own page tables */
    case 13:
        return 0xfee00000ull + (fz_u16(in) & 0xfff); /* MMIO (not mapped) */
    case 14:
        return 0x8000000000000000ull | fz_u16(in); /* non-canonical */
    default:
        return HCALL_PAGE + (fz_u16(in) & 0xfff); /* the hypercall page (where RIP is) */
    }
}

/* ---- return values Xen defines ---- */

static bool is_errno(long r)
{
    switch (-r) {
    case 1:
    case 2:
    case 3:
    case 7:
    case 12:
    case 13:
    case 14:
    case 16:
    case 17:
    case 18:
    case 22:
    case 28:
    case 33:
    case 34:
    case 38:
    case 61:
    case 62:
    case 95:
        return true;
    default:
        return false;
    }
}

static void check_ret(uint64_t nr, uint64_t a0, long r, bool compat)
{
    if (r < 0) {
        FZ_CHECK(is_errno(r), "hypercall %llu (%llu): %ld is not a Xen errno",
                 (unsigned long long)nr, (unsigned long long)a0, r);
        return;
    }
    bool positive_ok = false;
    /* Xen takes the command of these calls as an int: the upper half of a
       64-bit register is ignored. memory_op and hvm_op take a long. */
    uint64_t cmd = (compat || nr == 17 || nr == 18 || nr == 24) ? (uint32_t)a0 : a0;
    switch (nr) {
    case 12: /* memory_op: extent counts and page numbers */
        positive_ok = true;
        break;
    case 17: /* xen_version: XENVER_version, XENVER_pagesize */
        positive_ok = cmd == 0 || cmd == 7;
        break;
    case 18: /* console_io: CONSOLEIO_read returns the bytes read */
        positive_ok = cmd == 1;
        break;
    case 24: /* vcpu_op: VCPUOP_is_up */
        positive_ok = cmd == 3 && r == 1;
        break;
    }
    FZ_CHECK(r == 0 || positive_ok, "hypercall %llu cmd %llu returned %ld", (unsigned long long)nr,
             (unsigned long long)cmd, r);
}

/* The exit fast path's way (svm_fast.c / vmx_fast.c fast_hypercall): the
   hook with the guest's registers, RIP past the call when it is done, the
   event delivery when it says one may be due. False: it declined. */
static bool fast_hook(struct world *w, struct hv_vcpu *vcpu, const uint64_t gpr[HV_GPR_COUNT])
{
    const struct hv_pv_ops *pv = vcpu->vm->pv;
    struct hv_xen_vcpu_status vs;
    if (!pv || !pv->hypercall_fast || !vcpu->quiet)
        return false;
    /* Only a vCPU that runs exits there (down or blocked, it never enters). */
    if (hv_xen_vcpu_status(vcpu, &vs) != HV_OK || vs.blocked)
        return false;
    uint64_t saved[HV_GPR_COUNT];
    memcpy(saved, vcpu->gpr, sizeof(saved));
    memcpy(vcpu->gpr, gpr, sizeof(vcpu->gpr));
    bool events = true;
    struct hv_fetch_regs fr;
    mock_get_fetch_regs(vcpu, &fr);
    enum hv_pv_result r = pv->hypercall_fast(vcpu, &fr, &events);
    if (r == HV_PV_UNHANDLED) {
        FZ_CHECK(memcmp(vcpu->gpr, gpr, sizeof(saved)) == 0, "a declined fast call changed GPRs");
        memcpy(vcpu->gpr, saved, sizeof(saved));
        return false;
    }
    if (r == HV_PV_DONE)
        mock_vcpu_of(vcpu)->st.rip += 3;
    if (events)
        hv_deliver_events(vcpu);
    w->not_run = false;
    w->exit.reason = HV_EXIT_UNHANDLED; /* finished in the library, as the mock's end of script */
    return true;
}

static long hypercall(struct world *w, struct dom *d, struct hv_vcpu *vcpu, uint64_t nr,
                      const uint64_t a[6], unsigned *exits, bool fast)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_HYPERCALL;
    e.vx.rip = mock_vcpu_of(vcpu)->st.rip;
    e.vx.insn_len = 3;
    e.set_gprs = true;
    memcpy(e.gpr, vcpu->gpr, sizeof(e.gpr));
    e.gpr[HV_GPR_RAX] = nr;
    static const int r64[6] = {HV_GPR_RDI, HV_GPR_RSI, HV_GPR_RDX,
                               HV_GPR_R10, HV_GPR_R8,  HV_GPR_R9};
    static const int r32[6] = {HV_GPR_RBX, HV_GPR_RCX, HV_GPR_RDX,
                               HV_GPR_RSI, HV_GPR_RDI, HV_GPR_RBP};
    for (int i = 0; i < 6; i++)
        e.gpr[d->compat ? r32[i] : r64[i]] = a[i];
    struct mock_vcpu *m = mock_vcpu_of(vcpu);
    if (fast && fast_hook(w, vcpu, e.gpr)) {
        uint64_t rax = vcpu->gpr[HV_GPR_RAX];
        return d->compat ? (long)(int32_t)(uint32_t)rax : (long)rax;
    }
    for (unsigned round = 0;; round++) {
        m->script_len = m->script_pos = 0;
        mock_script(vcpu, &e);
        hv_status_t st = hv_vcpu_run(vcpu, &w->exit);
        FZ_CHECK(st == HV_OK, "hv_vcpu_run: %d", st);
        if (w->exit.reason != HV_EXIT_UNHANDLED) {
            (*exits)++;
            break;
        }
        if (m->st.rip != e.vx.rip)
            break;
        /* A continuation: RIP stays on the call and the guest executes it
           again with the registers the handler advanced. It must end. */
        FZ_CHECK(round < 4096, "hypercall %llu continues forever", (unsigned long long)nr);
        e.set_gprs = false;
    }
    /* A down vCPU returns HV_HLT_DOWN at once without executing the call
       (RIP unchanged); a vCPU taking itself down returns it after (RIP
       past the call, RAX 0). */
    w->not_run =
        w->exit.reason == HV_EXIT_HLT && w->exit.hlt.source == HV_HLT_DOWN && m->st.rip == e.vx.rip;
    uint64_t rax = vcpu->gpr[HV_GPR_RAX];
    m->script_len = m->script_pos = 0;
    return d->compat ? (long)(int32_t)(uint32_t)rax : (long)rax;
}

static const uint64_t numbers[] = {12, 15, 17, 18, 20, 24, 29, 32, 34, 0, 1, 38, 21, 63, 64};

/*
 * The mock host, the context, the hub and the guest RAM live across inputs
 * (creating them costs more than most inputs); each input builds and
 * destroys its two domains, and must leave the host exactly as it found it.
 */
static struct world *g_world;
static uint8_t *g_ram[2];
static uint64_t g_ram_hpa[2];
static uint64_t g_pages0, g_objs0, g_inputs;

static struct world *world_get(uint8_t setup)
{
    bool svm = setup & 1;
    struct world *w = g_world;
    if (w && (w->be.id == HV_BACKEND_SVM) == svm)
        return w;
    if (w) {
        /* Switch backends: rebuild the context. */
        FZ_CHECK(hv_xen_hub_destroy(w->hub) == HV_OK, "hub destroy");
        FZ_CHECK(hv_ctx_destroy(w->ctx) == HV_OK, "ctx destroy");
    } else {
        w = calloc(1, sizeof(*w));
        if (!w)
            abort();
        mock_host_init(&w->mh);
        /* Freed blocks go back to ASan at once: its quarantine reports any
           later read or write of them (the mock's poison only caught writes,
           and scanning it cost a sixth of the time). */
        w->mh.poison_free = false;
        w->mh.time = 1000000000ull;
        w->mh.time_step = 1000;
        hv_ept_format_init(&w->fmt, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G, true, false);
        for (int i = 0; i < 2; i++) {
            g_ram[i] = mock_guest_ram_alloc(&w->mh, RAM_SIZE, &g_ram_hpa[i]);
            FZ_CHECK(g_ram[i] != NULL, "guest RAM");
        }
        g_world = w;
    }
    fz_check_clean_from(&w->mh, 0, 0, "context switch");
    mock_backend_reset(&w->fmt);
    w->be = mock_backend_ops;
    if (svm)
        w->be.id = HV_BACKEND_SVM;
    FZ_CHECK(hv_ctx_create_with_backend(&w->mh.ops, NULL, &w->be, &w->ctx) == HV_OK, "ctx");
    FZ_CHECK(hv_xen_hub_create(w->ctx, &w->hub) == HV_OK, "hub");
    g_pages0 = w->mh.pages_out;
    g_objs0 = w->mh.objs_out;
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    uint8_t setup = fz_u8(&in);
    struct world *w = world_get(setup);
    memset(w->d, 0, sizeof(w->d));
    memset(w->host_ports, 0, sizeof(w->host_ports));
    memset(w->grant_handles, 0, sizeof(w->grant_handles));
    for (int i = 0; i < 2; i++) {
        memset(g_ram[i], 0, RAM_SIZE);
        w->d[i].ram = g_ram[i];
        w->d[i].ram_hpa = g_ram_hpa[i];
    }
    FZ_CHECK(make_dom(w, &w->d[0], setup & 2, setup & 4, setup & 32), "dom 0");
    FZ_CHECK(make_dom(w, &w->d[1], setup & 8, false, false), "dom 1");

    unsigned exits = 0;
    for (unsigned step = 0; step < 48 && !fz_empty(&in); step++) {
        uint8_t c = fz_u8(&in);
        struct dom *d = &w->d[(c >> 7) & 1];
        struct hv_vcpu *vcpu = d->vcpu[(c >> 6) & 1] ? d->vcpu[(c >> 6) & 1] : d->vcpu[0];
        switch (c & 15) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5: { /* a hypercall */
            uint8_t nb = fz_u8(&in);
            uint64_t nr = nb < 0xf0 ? numbers[nb % 15] : fz_u64(&in);
            uint64_t a[6];
            for (int i = 0; i < 6; i++)
                a[i] = i < 1 + (c & 3) * 2 ? arg(&in, w) : 0;
            if (!(c & 4))
                a[0] = fz_u8(&in) & 0x3f; /* sub-op numbers are small */
            long r = hypercall(w, d, vcpu, nr, a, &exits, setup & 16);
            if (w->not_run)
                break;
            struct hv_vcpu_state st;
            bool user = hv_vcpu_get_state(vcpu, HV_STATE_SEG, &st) == HV_OK &&
                        ((st.seg[HV_SEG_SS].attr >> 5) & 3) != 0;
            if (user) {
                FZ_CHECK(r == -1, "hypercall from CPL 3 returned %ld, not -EPERM", r);
            } else if (w->exit.reason == HV_EXIT_UNHANDLED) {
                uint64_t n = d->compat ? (uint32_t)nr : nr;
                bool known = n == 12 || n == 15 || n == 17 || n == 18 || n == 20 || n == 21 ||
                             n == 24 || n == 29 || n == 32 || n == 34;
                if (!known)
                    FZ_CHECK(r == -38, "unknown hypercall %llu returned %ld", (unsigned long long)n,
                             r);
                else
                    check_ret(n, a[0], r, d->compat);
            }
            break;
        }
        case 6: { /* guest memory write */
            uint32_t off = fz_u32(&in) & 0xfffff;
            uint8_t buf[256];
            size_t len = fz_bytes(&in, buf, fz_u8(&in));
            gwrite(w, d, off, buf, len);
            break;
        }
        case 7: { /* argument structures: a burst into the buffer area */
            uint16_t off = fz_u16(&in) & 0x3fff;
            uint8_t buf[64];
            fz_bytes(&in, buf, sizeof(buf));
            gwrite(w, d, BUF + off, buf, sizeof(buf));
            break;
        }
        case 8: { /* host event-channel calls */
            uint8_t k = fz_u8(&in), i = fz_u8(&in) & 7;
            uint32_t port = (fz_u8(&in) & 0x80) ? fz_u32(&in) : w->host_ports[i];
            uint32_t out = 0;
            bool pend = false;
            switch (k % 6) {
            case 0:
                (void)hv_xen_evtchn_alloc_unbound(d->vm, &out);
                break;
            case 1:
                if (hv_xen_evtchn_bind(d->vm, fz_u8(&in), &out) == HV_OK)
                    w->host_ports[i] = out;
                break;
            case 2:
                if (hv_xen_evtchn_host_unbound(d->vm, &out) == HV_OK)
                    w->host_ports[i] = out;
                break;
            case 3:
                (void)hv_xen_evtchn_notify(d->vm, port);
                break;
            case 4:
                (void)hv_xen_evtchn_pending(d->vm, port, &pend, &out);
                break;
            default:
                (void)hv_xen_evtchn_close(d->vm, port);
                break;
            }
            break;
        }
        case 9: { /* host grant map/unmap */
            uint8_t k = fz_u8(&in), i = fz_u8(&in) & 7;
            if (k & 1) {
                struct hv_xen_grant_mapping gm;
                hv_status_t s = hv_xen_grant_map(d->vm, fz_u16(&in) & 0x7ff, k & 2 ? 1 : 0, &gm);
                if (s == HV_OK) {
                    /* The page the guest has at that frame: its RAM, or a
                       library page it mapped there (shared_info, grant
                       frames), as Xen lets a domain grant those too. */
                    struct hv_mapping mp;
                    FZ_CHECK(hv_vm_query(d->vm, gm.gpa, &mp) == HV_OK,
                             "granted gpa %#llx is not mapped in the guest",
                             (unsigned long long)gm.gpa);
                    uint64_t hpa = mp.hpa + ((gm.gpa & ~0xfffull) - mp.gpa);
                    FZ_CHECK(gm.hpa == hpa && gm.hva == mock_phys_to_virt(&w->mh, hpa),
                             "grant mapping of gpa %#llx is hpa %#llx, the guest has %#llx",
                             (unsigned long long)gm.gpa, (unsigned long long)gm.hpa,
                             (unsigned long long)hpa);
                    w->grant_handles[i] = gm.handle;
                }
            } else {
                (void)hv_xen_grant_unmap(d->vm, (k & 2) ? fz_u32(&in) : w->grant_handles[i]);
            }
            break;
        }
        case 10: { /* console, PV console ring, parameters */
            uint8_t k = fz_u8(&in);
            char buf[300];
            size_t len = 0;
            uint64_t dropped, v;
            uint32_t port;
            switch (k % 6) {
            case 0:
                (void)hv_xen_console_read(d->vm, buf, 1 + fz_u8(&in) % sizeof(buf), &len, &dropped);
                FZ_CHECK(len <= sizeof(buf), "console_read length");
                break;
            case 1:
                (void)hv_xen_pvcons_attach(d->vm, (uint64_t)(fz_u8(&in) % 130) << 12, &port);
                break;
            case 2:
                (void)hv_xen_pvcons_read(d->vm, buf, 1 + fz_u8(&in) % sizeof(buf), &len);
                FZ_CHECK(len <= sizeof(buf), "pvcons_read length");
                break;
            case 3:
                len = fz_bytes(&in, buf, fz_u8(&in) % sizeof(buf));
                (void)hv_xen_pvcons_write(d->vm, buf, len, &len);
                break;
            case 4:
                (void)hv_xen_set_param(d->vm, fz_u8(&in), arg(&in, w));
                break;
            default:
                (void)hv_xen_get_param(d->vm, fz_u8(&in), &v);
                len = fz_bytes(&in, buf, fz_u8(&in) % 64);
                (void)hv_xen_console_input(d->vm, buf, len, &len);
                break;
            }
            break;
        }
        case 11: { /* CPL / IF changes */
            struct mock_vcpu *m = mock_vcpu_of(vcpu);
            uint8_t k = fz_u8(&in);
            unsigned cpl = k & 3;
            m->st.seg[HV_SEG_SS].attr =
                (uint16_t)((m->st.seg[HV_SEG_SS].attr & ~(3u << 5)) | (cpl << 5));
            m->st.seg[HV_SEG_CS].attr =
                (uint16_t)((m->st.seg[HV_SEG_CS].attr & ~(3u << 5)) | (cpl << 5));
            if (k & 4)
                m->st.rflags ^= 0x200;
            break;
        }
        case 12: { /* enter the vCPU with nothing scripted: events, timers */
            struct mock_vcpu *m = mock_vcpu_of(vcpu);
            m->script_len = m->script_pos = 0;
            w->mh.time += (uint64_t)fz_u16(&in) << 12;
            FZ_CHECK(hv_vcpu_run(vcpu, &w->exit) == HV_OK, "empty run");
            struct hv_xen_vcpu_status vs;
            (void)hv_xen_vcpu_status(vcpu, &vs);
            break;
        }
        case 13: { /* Xen's CPUID leaves and MSRs: the hypercall page and the rest */
            uint8_t k = fz_u8(&in);
            struct mock_exit e;
            memset(&e, 0, sizeof(e));
            e.vx.rip = mock_vcpu_of(vcpu)->st.rip;
            e.vx.insn_len = 2;
            e.set_gprs = true;
            memcpy(e.gpr, vcpu->gpr, sizeof(e.gpr));
            if ((k & 3) == 0) { /* WRMSR 0x40000000: stubs over the guest's code, or anywhere */
                uint64_t gpa = (k & 4) ? fz_u64(&in) : HCALL_PAGE;
                e.vx.kind = HV_VX_WRMSR;
                e.gpr[HV_GPR_RCX] = 0x40000000;
                e.gpr[HV_GPR_RAX] = (uint32_t)gpa;
                e.gpr[HV_GPR_RDX] = gpa >> 32;
            } else if ((k & 3) == 1) { /* CPUID of the Xen range (and beyond) */
                e.vx.kind = HV_VX_CPUID;
                e.gpr[HV_GPR_RAX] = 0x40000000u + fz_u16(&in) % 0x300;
                e.gpr[HV_GPR_RCX] = fz_u8(&in);
            } else { /* RDMSR / WRMSR of the Xen MSR range with any value */
                e.vx.kind = (k & 3) == 2 ? HV_VX_RDMSR : HV_VX_WRMSR;
                e.gpr[HV_GPR_RCX] = 0x40000000u + (fz_u8(&in) & 0x3f);
                uint64_t v = fz_u64(&in);
                e.gpr[HV_GPR_RAX] = (uint32_t)v;
                e.gpr[HV_GPR_RDX] = v >> 32;
            }
            struct mock_vcpu *m = mock_vcpu_of(vcpu);
            m->script_len = m->script_pos = 0;
            mock_script(vcpu, &e);
            FZ_CHECK(hv_vcpu_run(vcpu, &w->exit) == HV_OK, "cpuid/msr run");
            m->script_len = m->script_pos = 0;
            break;
        }
        default: { /* a v1 grant entry (flags, domid, frame) in the table the
                      seeds map at GNT_GFN with XENMEM_add_to_physmap */
            uint16_t ref = fz_u16(&in) & 0x3ff;
            uint8_t e[8];
            fz_bytes(&in, e, 8);
            gwrite(w, d, GNT_GFN * 4096ull + (uint64_t)ref * 8, e, 8);
            break;
        }
        }
    }
    (void)exits;
    destroy_dom(w, &w->d[1]);
    destroy_dom(w, &w->d[0]);
    fz_check_clean_from(&w->mh, g_pages0, g_objs0, "hypercall teardown");
    if (++g_inputs % 256 == 0)
        fz_check_quarantine(&w->mh, "hypercall");
    return 0;
}
