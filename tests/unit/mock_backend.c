/* Scripted backend for hosted tests (mock_backend.h). */
#include <string.h>

#include "mock_backend.h"
#include "core/assist.h"
#include "core/debugreg.h"
#include "core/host.h"

struct mock_backend_config mock_be;

void mock_backend_reset(const struct hv_slat_format *fmt)
{
    memset(&mock_be, 0, sizeof(mock_be));
    mock_be.caps.size = sizeof(mock_be.caps);
    mock_be.caps.features = HV_FEAT_UNRESTRICTED_GUEST | HV_FEAT_SLAT_AD;
    mock_be.caps.slat_page_sizes = HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G;
    mock_be.caps.asid_count = 16;
    mock_be.caps.gpa_bits = 48;
    mock_be.caps.hpa_bits = 52;
    mock_be.fmt = fmt;
}

struct mock_vcpu *mock_vcpu_of(struct hv_vcpu *vcpu)
{
    return vcpu->arch;
}

static hv_status_t mock_probe(const struct hv_host *host, struct hv_caps *caps)
{
    if (mock_be.probe_status != HV_OK)
        return mock_be.probe_status;
    memcpy(caps, &mock_be.caps, sizeof(*caps));
    return HV_OK;
}

static hv_status_t mock_ctx_init(struct hv_ctx *ctx)
{
    if (mock_be.ctx_init_status != HV_OK)
        return mock_be.ctx_init_status;
    mock_be.ctx_inits++;
    return HV_OK;
}

static void mock_ctx_fini(struct hv_ctx *ctx)
{
    mock_be.ctx_finis++;
}

static const struct hv_slat_format *mock_slat_format(const struct hv_ctx *ctx)
{
    return mock_be.fmt;
}

/* Like a real backend, a VM owns a page (think: permission maps), so that
   allocation-failure injection covers backend allocations too. */
static hv_status_t mock_vm_init(struct hv_vm *vm)
{
    uint64_t hpa;
    vm->arch = hv_host_page_alloc(&vm->ctx->host, 1, &hpa);
    return vm->arch ? HV_OK : HV_ERR_NO_MEMORY;
}

static void mock_vm_fini(struct hv_vm *vm)
{
    hv_host_page_free(&vm->ctx->host, vm->arch, 1);
}

static void mock_slat_flush(struct hv_vm *vm)
{
    mock_be.slat_flushes++;
}

/* Architectural INIT state (SDM Vol. 3A 9.1.4, table 9-1). */
static void reset_state(struct hv_vcpu_state *st)
{
    memset(st, 0, sizeof(*st));
    st->rip = 0xfff0;
    st->rflags = 2;
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st->seg[i].limit = 0xffff;
        st->seg[i].attr = HV_SEG_P | HV_SEG_S | 3; /* data, read/write, accessed */
    }
    st->seg[HV_SEG_CS].selector = 0xf000;
    st->seg[HV_SEG_CS].base = 0xffff0000;
    st->seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb; /* code, exec/read, accessed */
    st->seg[HV_SEG_LDTR].attr = HV_SEG_P | 2;
    st->seg[HV_SEG_TR].attr = HV_SEG_P | 0xb;
    st->gdtr.limit = st->idtr.limit = 0xffff;
    st->cr0 = 0x60000010;
    st->pat = 0x0007040600070406ull;
    st->dr7 = 0x400;
}

static hv_status_t mock_vcpu_init(struct hv_vcpu *vcpu)
{
    struct mock_vcpu *m = hv_host_obj_alloc(&vcpu->vm->ctx->host, sizeof(*m));
    if (!m)
        return HV_ERR_NO_MEMORY;
    reset_state(&m->st);
    m->dr_intercept = true;
    vcpu->arch = m;
    return HV_OK;
}

static void mock_vcpu_fini(struct hv_vcpu *vcpu)
{
    hv_host_obj_free(&vcpu->vm->ctx->host, vcpu->arch, sizeof(struct mock_vcpu));
}

static void mock_get_state(struct hv_vcpu *vcpu, uint32_t mask, struct hv_vcpu_state *st)
{
    struct mock_vcpu *m = vcpu->arch;
    if (mask & HV_STATE_GPR) {
        memcpy(st->gpr, vcpu->gpr, sizeof(st->gpr));
        st->rip = m->st.rip;
        st->rflags = m->st.rflags;
    }
    if (mask & HV_STATE_SEG)
        memcpy(st->seg, m->st.seg, sizeof(st->seg));
    if (mask & HV_STATE_DTABLE) {
        st->gdtr = m->st.gdtr;
        st->idtr = m->st.idtr;
    }
    if (mask & HV_STATE_CR) {
        st->cr0 = m->st.cr0;
        st->cr2 = m->st.cr2;
        st->cr3 = m->st.cr3;
        st->cr4 = m->st.cr4;
        st->cr8 = m->st.cr8;
        st->efer = m->st.efer;
        st->dr7 = m->st.dr7;
    }
    if (mask & HV_STATE_MSR) {
        st->star = m->st.star;
        st->lstar = m->st.lstar;
        st->cstar = m->st.cstar;
        st->sfmask = m->st.sfmask;
        st->kernel_gs_base = m->st.kernel_gs_base;
        st->sysenter_cs = m->st.sysenter_cs;
        st->sysenter_esp = m->st.sysenter_esp;
        st->sysenter_eip = m->st.sysenter_eip;
        st->pat = m->st.pat;
    }
    if (mask & HV_STATE_EVENTS) {
        st->interrupt_shadow = m->st.interrupt_shadow;
        st->nmi_blocked = m->st.nmi_blocked;
        st->pending = m->st.pending;
    }
    if (mask & HV_STATE_TSC)
        st->tsc_offset = m->st.tsc_offset;
    if (mask & HV_STATE_DEBUG)
        st->dr6 = m->dr6;
}

static hv_status_t mock_set_state(struct hv_vcpu *vcpu, uint32_t mask,
                                  const struct hv_vcpu_state *st)
{
    struct mock_vcpu *m = vcpu->arch;
    /* The one consistency rule the mock enforces: CR0.PG requires CR0.PE. */
    if ((mask & HV_STATE_CR) && (st->cr0 & 0x80000000u) && !(st->cr0 & 1))
        return HV_ERR_INVALID_ARG;
    /* EFER: only the architectural bits SCE, LME, LMA, NXE (SDM 2.2.1). */
    if ((mask & HV_STATE_CR) && (st->efer & ~0xd01ull))
        return HV_ERR_INVALID_ARG;
    if (mask & HV_STATE_GPR) {
        memcpy(vcpu->gpr, st->gpr, sizeof(vcpu->gpr));
        m->st.rip = st->rip;
        m->st.rflags = st->rflags | 2;
    }
    if (mask & HV_STATE_SEG)
        memcpy(m->st.seg, st->seg, sizeof(st->seg));
    if (mask & HV_STATE_DTABLE) {
        m->st.gdtr = st->gdtr;
        m->st.idtr = st->idtr;
    }
    if (mask & HV_STATE_CR) {
        m->st.cr0 = st->cr0;
        m->st.cr2 = st->cr2;
        m->st.cr3 = st->cr3;
        m->st.cr4 = st->cr4;
        m->st.cr8 = st->cr8;
        m->st.efer = st->efer;
        m->st.dr7 = st->dr7;
    }
    if (mask & HV_STATE_MSR) {
        m->st.star = st->star;
        m->st.lstar = st->lstar;
        m->st.cstar = st->cstar;
        m->st.sfmask = st->sfmask;
        m->st.kernel_gs_base = st->kernel_gs_base;
        m->st.sysenter_cs = st->sysenter_cs;
        m->st.sysenter_esp = st->sysenter_esp;
        m->st.sysenter_eip = st->sysenter_eip;
        m->st.pat = st->pat;
    }
    if (mask & HV_STATE_EVENTS) {
        m->st.interrupt_shadow = st->interrupt_shadow;
        m->st.nmi_blocked = st->nmi_blocked;
        m->st.pending = st->pending;
    }
    if (mask & HV_STATE_TSC)
        m->st.tsc_offset = st->tsc_offset;
    if (mask & HV_STATE_DEBUG)
        m->dr6 = st->dr6;
    return HV_OK;
}

void mock_script(struct hv_vcpu *vcpu, const struct mock_exit *e)
{
    struct mock_vcpu *m = vcpu->arch;
    if (m->script_len < MOCK_SCRIPT_MAX)
        m->script[m->script_len++] = *e;
}

void mock_script_kind(struct hv_vcpu *vcpu, uint32_t kind, uint64_t rip)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = kind;
    e.vx.rip = rip;
    mock_script(vcpu, &e);
}

static hv_status_t mock_run(struct hv_vcpu *vcpu, struct hv_vexit *ex)
{
    struct mock_vcpu *m = vcpu->arch;
    m->entries++;
    __asm__ volatile("movq %%xmm15, %0" : "=r"(m->xmm15_at_run));
    if (m->script_pos == m->script_len) {
        memset(ex, 0, sizeof(*ex));
        ex->kind = HV_VX_UNHANDLED;
        ex->raw_code = MOCK_END_OF_SCRIPT;
        ex->rip = m->st.rip;
        return HV_OK;
    }
    const struct mock_exit *e = &m->script[m->script_pos++];
    if (e->vx.raw_code == MOCK_DR_ACCESS) {
        hv_debug_regs_load(vcpu);
        m->dr_intercept = false;
        return mock_run(vcpu, ex);
    }
    if (e->set_gprs)
        memcpy(vcpu->gpr, e->gpr, sizeof(vcpu->gpr));
    *ex = e->vx;
    /* The guest was at the exiting instruction when it exited, with the
       RFLAGS it has. */
    m->st.rip = e->vx.rip;
    ex->rflags = m->st.rflags;
    return HV_OK;
}

static hv_status_t mock_load(struct hv_vcpu *vcpu, uint32_t cpu)
{
    struct mock_vcpu *m = vcpu->arch;
    m->loads++;
    m->load_cpu = cpu;
    return m->load_status;
}

static void mock_put(struct hv_vcpu *vcpu)
{
    ((struct mock_vcpu *)vcpu->arch)->puts++;
}

static uint64_t mock_get_rip(struct hv_vcpu *vcpu)
{
    return ((struct mock_vcpu *)vcpu->arch)->st.rip;
}

static void mock_set_rip(struct hv_vcpu *vcpu, uint64_t rip)
{
    ((struct mock_vcpu *)vcpu->arch)->st.rip = rip;
}

static uint64_t mock_get_rflags(struct hv_vcpu *vcpu)
{
    return ((struct mock_vcpu *)vcpu->arch)->st.rflags;
}

static unsigned mock_get_cpl(struct hv_vcpu *vcpu)
{
    struct mock_vcpu *m = vcpu->arch;
    return (m->st.seg[HV_SEG_SS].attr >> HV_SEG_DPL_SHIFT) & 3;
}

static bool mock_long_mode(struct hv_vcpu *vcpu)
{
    struct mock_vcpu *m = vcpu->arch;
    return (m->st.efer & 0x400) && (m->st.seg[HV_SEG_CS].attr & HV_SEG_L);
}

static bool mock_can_inject(struct hv_vcpu *vcpu, hv_event_type_t type)
{
    struct mock_vcpu *m = vcpu->arch;
    if (type == HV_EVENT_EXTINT)
        return (m->st.rflags & 0x200) && !m->st.interrupt_shadow;
    if (type == HV_EVENT_NMI)
        return !m->st.nmi_blocked;
    return true;
}

static void mock_inject(struct hv_vcpu *vcpu, const struct hv_event *ev)
{
    struct mock_vcpu *m = vcpu->arch;
    if (m->injected_count < MOCK_INJECTED_MAX)
        m->injected[m->injected_count++] = *ev;
}

static void mock_inject_step(struct hv_vcpu *vcpu)
{
    struct mock_vcpu *m = vcpu->arch;
    struct hv_event db = {.type = HV_EVENT_EXCEPTION, .vector = 1};
    m->steps++;
    m->dr6 |= 1ull << 14;
    mock_inject(vcpu, &db);
}

static void mock_debug_intercept(struct hv_vcpu *vcpu, bool on)
{
    struct mock_vcpu *m = vcpu->arch;
    m->dr_intercept = on;
    m->dr_intercept_calls++;
}

static void mock_set_window(struct hv_vcpu *vcpu, hv_event_type_t type, bool on)
{
    ((struct mock_vcpu *)vcpu->arch)->window[type] = on;
}

static bool mock_inject_irq(struct hv_vcpu *vcpu, uint8_t vector)
{
    bool now = mock_can_inject(vcpu, HV_EVENT_EXTINT);
    if (now)
        mock_inject(vcpu, &(struct hv_event){.type = HV_EVENT_EXTINT, .vector = vector});
    mock_set_window(vcpu, HV_EVENT_EXTINT, !now);
    return now;
}

void mock_get_fetch_regs(struct hv_vcpu *vcpu, struct hv_fetch_regs *fr)
{
    struct mock_vcpu *m = vcpu->arch;
    fr->rip = m->st.rip;
    fr->rflags = m->st.rflags;
    fr->cr0 = m->st.cr0;
    fr->cr3 = m->st.cr3;
    fr->cr4 = m->st.cr4;
    fr->efer = m->st.efer;
    fr->cs_base = m->st.seg[HV_SEG_CS].base;
    fr->cs_limit = m->st.seg[HV_SEG_CS].limit;
    fr->cs_attr = m->st.seg[HV_SEG_CS].attr;
    fr->cpl = (uint8_t)mock_get_cpl(vcpu);
}

/* With get_fetch_regs (the assist's MOV fast path on) and without. */
#define MOCK_OPS                                                                                   \
    .name = "mock", .id = HV_BACKEND_NONE, .probe = mock_probe, .ctx_init = mock_ctx_init,         \
    .ctx_fini = mock_ctx_fini, .slat_format = mock_slat_format, .vm_init = mock_vm_init,           \
    .vm_fini = mock_vm_fini, .slat_flush = mock_slat_flush, .vcpu_init = mock_vcpu_init,           \
    .vcpu_fini = mock_vcpu_fini, .get_state = mock_get_state, .set_state = mock_set_state,         \
    .run = mock_run, .get_rip = mock_get_rip, .set_rip = mock_set_rip,                             \
    .get_rflags = mock_get_rflags, .get_cpl = mock_get_cpl, .long_mode = mock_long_mode,           \
    .can_inject = mock_can_inject, .inject = mock_inject, .set_window = mock_set_window,           \
    .inject_irq = mock_inject_irq, .inject_step = mock_inject_step,                                \
    .debug_intercept = mock_debug_intercept, .load = mock_load, .put = mock_put,

const struct hv_backend_ops mock_backend_ops = {MOCK_OPS.get_fetch_regs = mock_get_fetch_regs};
const struct hv_backend_ops mock_backend_ops_nofast = {MOCK_OPS};

hv_status_t mock_cpuid_gbpages(struct hv_vm *vm, bool on)
{
    uint32_t ext[4];
    __asm__ volatile("cpuid"
                     : "=a"(ext[0]), "=b"(ext[1]), "=c"(ext[2]), "=d"(ext[3])
                     : "a"(0x80000001u), "c"(0));
    ext[3] = on ? ext[3] | 1u << 26 : ext[3] & ~(1u << 26);
    return hv_vm_set_cpuid(vm, 0x80000001u, 0, ext);
}
