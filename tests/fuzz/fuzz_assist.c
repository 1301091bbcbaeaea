/*
 * Fuzz target: the instruction assist inside the run loop (core/assist.c
 * with libhv/emu) and the port ranges beside it (core/pio.h), through the
 * mock backend: what a hostile guest reaches with MMIO and port I/O.
 *
 * One vCPU in real mode, flat 32-bit protected mode or 64-bit mode with
 * paging (identity 2 MiB page; the page tables sit in RAM the input may
 * rewrite). RAM is [0, 0xa0000); [0xa0000, 0xb0000) is an MMIO region with
 * a handler, [0xb0000, 0xc0000) one the embedder completes, above that an
 * unclaimed hole; ports [0x60, 0x70) have a handler, every other port
 * exits. The input is a program: write guest bytes (instructions, page
 * tables, string buffers), set registers and RFLAGS, script the exit the
 * CPU would report (a nested page fault at an address of the input's
 * choosing, an IN/OUT/INS/OUTS with its port, size, REP and length), run,
 * answer the embedder's MMIO/IO exit with input bytes, make the handlers
 * fail, move the port range. With bit 2 of the set-up byte the backend has
 * get_fetch_regs, so faults go through the assist's fast path first
 * (hv_fast_npf, as the hardware backends call it).
 *
 * Invariants: no sanitizer report; hv_vcpu_run returns HV_OK with one of
 * the exits the assist and the port path may produce, and the embedder's
 * MMIO and I/O exits name an address inside the region or a port outside
 * the range; handlers only see accesses inside their region or range, of
 * 1, 2, 4 or 8 (MMIO) and 1, 2 or 4 (ports) bytes; everything is freed at
 * teardown (mock host clean, guards intact).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hv/hv.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/fast.h"
#include "core/objects.h"
#include "fuzz_common.h"
#include "mock_backend.h"
#include "vmx/ept_format.h"

#define RAM_SIZE  0xa0000u
#define H_BASE    0xa0000u /* MMIO with a handler */
#define E_BASE    0xb0000u /* MMIO the embedder completes */
#define HOLE_BASE 0xc0000u /* unclaimed */
#define REGION    0x10000u
#define CODE      0x8000u
#define PIO_PORT  0x60u
#define PIO_COUNT 0x10u
#define MAX_OPS   48

struct world {
    struct mock_host mh;
    struct hv_slat_format fmt;
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    uint8_t *ram;
    uint64_t ram_hpa;
    struct fz *in;
    bool fail_mmio, fail_pio;
    unsigned handler_calls;
};

static hv_status_t h_mmio(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct world *w = opaque;
    FZ_CHECK(gpa >= H_BASE && gpa - H_BASE < REGION, "MMIO handler at gpa %#llx",
             (unsigned long long)gpa);
    FZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8, "MMIO handler size %u", size);
    w->handler_calls++;
    if (w->fail_mmio)
        return HV_ERR_HW;
    if (!write)
        *value = fz_u64(w->in);
    return HV_OK;
}

static hv_status_t h_pio(void *opaque, uint16_t port, unsigned size, bool write, uint32_t *value)
{
    struct world *w = opaque;
    FZ_CHECK(port >= PIO_PORT && port + size <= PIO_PORT + PIO_COUNT,
             "port handler at %#x, %u bytes", port, size);
    FZ_CHECK(size == 1 || size == 2 || size == 4, "port handler size %u", size);
    FZ_CHECK(!write || size == 4 || *value >> (8 * size) == 0, "OUT value %#x wider than %u",
             *value, size);
    w->handler_calls++;
    if (w->fail_pio)
        return HV_ERR_HW;
    if (!write)
        *value = fz_u32(w->in);
    return HV_OK;
}

/* The vCPU in real mode (0), flat protected mode (1) or 64-bit paging (2). */
static void set_mode(struct world *w, unsigned mode)
{
    struct hv_vcpu_state st;
    FZ_CHECK(hv_vcpu_get_state(w->vcpu, HV_STATE_ALL, &st) == HV_OK, "get_state");
    for (int i = 0; i < HV_SEG_COUNT; i++) {
        st.seg[i].base = 0;
        st.seg[i].selector = mode ? (i == HV_SEG_CS ? 8 : 16) : 0;
        st.seg[i].limit = mode ? 0xffffffffu : 0xffffu;
        st.seg[i].attr =
            HV_SEG_P | HV_SEG_S | (i == HV_SEG_CS ? 0xb : 3) | (mode ? HV_SEG_DB | HV_SEG_G : 0);
    }
    st.cr0 = mode ? 0x11 : 0x10;
    st.cr4 = 0;
    st.efer = 0;
    if (mode == 2) {
        uint64_t e[3] = {0x2003, 0x3003, 0x83}; /* PML4 -> PDPT -> PD: 2 MiB at 0 */
        memcpy(w->ram + 0x1000, &e[0], 8);
        memcpy(w->ram + 0x2000, &e[1], 8);
        memcpy(w->ram + 0x3000, &e[2], 8);
        st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | 0xb | HV_SEG_G | HV_SEG_L;
        st.cr0 = 0x80000011;
        st.cr4 = 0x20;
        st.efer = 0x500;
        st.cr3 = 0x1000;
    }
    st.rip = CODE;
    st.rflags = 2;
    FZ_CHECK(hv_vcpu_set_state(w->vcpu, HV_STATE_ALL & ~HV_STATE_EVENTS, &st) == HV_OK,
             "set_state");
}

/* An exit of the embedder's is within what it was given to complete. */
static void check_exit(struct world *w, const struct hv_exit *x)
{
    switch (x->reason) {
    case HV_EXIT_MMIO:
        FZ_CHECK(x->mmio.gpa >= E_BASE && x->mmio.gpa - E_BASE < REGION,
                 "HV_EXIT_MMIO at %#llx outside the embedder's region",
                 (unsigned long long)x->mmio.gpa);
        FZ_CHECK(x->mmio.size == 1 || x->mmio.size == 2 || x->mmio.size == 4 || x->mmio.size == 8,
                 "HV_EXIT_MMIO of %u bytes", x->mmio.size);
        break;
    case HV_EXIT_IO:
        FZ_CHECK(x->io.size == 1 || x->io.size == 2 || x->io.size == 4, "HV_EXIT_IO of %u bytes",
                 x->io.size);
        FZ_CHECK(x->io.port < PIO_PORT || x->io.port + x->io.size > PIO_PORT + PIO_COUNT,
                 "HV_EXIT_IO at port %#x, which the handler holds (%u bytes)", x->io.port,
                 x->io.size);
        break;
    case HV_EXIT_UNHANDLED:  /* the script's end, a handler's failure, an unsupported form */
    case HV_EXIT_SLAT_FAULT: /* unclaimed memory, or an instruction the assist does not decode */
    case HV_EXIT_HLT:
    case HV_EXIT_KICK:
        break;
    default:
        fz_fail("exit reason %u from an MMIO/IO script", x->reason);
    }
    (void)w;
}

/* The answer to the embedder's exit, from the input. */
static void answer(struct world *w, struct hv_exit *x)
{
    if (x->reason == HV_EXIT_MMIO && !x->mmio.write)
        x->mmio.data = fz_u64(w->in);
    else if (x->reason == HV_EXIT_IO && !x->io.write)
        x->io.data = fz_u64(w->in);
}

static void script_npf(struct world *w)
{
    struct fz *in = w->in;
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    uint8_t sel = fz_u8(in);
    static const uint32_t bases[4] = {H_BASE, E_BASE, HOLE_BASE, 0};
    e.vx.kind = HV_VX_NPF;
    e.vx.rip = CODE + (fz_u8(in) & 0x3f);
    e.vx.npf.gpa = bases[sel & 3] + fz_u16(in);
    e.vx.npf.access = (sel >> 2) & HV_MEM_RWX;
    e.vx.npf.present = (sel >> 5) & 1;
    e.vx.npf.during_walk = (sel >> 6) & 1;
    e.vx.npf.gva = e.vx.npf.gpa;
    e.vx.npf.gva_valid = sel >> 7;
    mock_script(w->vcpu, &e);
}

static void script_io(struct world *w)
{
    struct fz *in = w->in;
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    uint8_t sel = fz_u8(in);
    static const uint8_t sizes[4] = {1, 2, 4, 4};
    e.vx.kind = HV_VX_IO;
    e.vx.rip = CODE + (fz_u8(in) & 0x3f);
    e.vx.insn_len = 1 + (sel >> 5 & 3);
    e.vx.next_rip = e.vx.rip + e.vx.insn_len;
    e.vx.io.port = (sel & 1) ? (uint16_t)(PIO_PORT + (fz_u8(in) & 0x13)) : fz_u16(in);
    e.vx.io.size = sizes[(sel >> 1) & 3];
    e.vx.io.write = (sel >> 3) & 1;
    e.vx.io.string = (sel >> 4) & 1;
    e.vx.io.rep = (sel >> 7) & 1;
    e.vx.io.addr_size = 0;
    mock_script(w->vcpu, &e);
}

static void run_once(struct world *w)
{
    struct hv_exit x;
    /* A few rounds: an embedder's exit is answered and the run resumed, as
       a run loop does (the retry replays the completed accesses). */
    for (unsigned round = 0; round < 4; round++) {
        hv_status_t st = hv_vcpu_run(w->vcpu, &x);
        FZ_CHECK(st == HV_OK, "hv_vcpu_run: %s", hv_status_str(st));
        if (getenv("FUZZ_TRACE"))
            fprintf(stderr, "run: exit %u rip %#llx raw %#llx/%#llx/%#llx, %u handler calls\n",
                    x.reason, (unsigned long long)x.rip, (unsigned long long)x.raw_code,
                    (unsigned long long)x.raw_info1, (unsigned long long)x.raw_info2,
                    w->handler_calls);
        check_exit(w, &x);
        if (x.reason != HV_EXIT_MMIO && x.reason != HV_EXIT_IO)
            return;
        answer(w, &x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct world w;
    memset(&w, 0, sizeof(w));
    w.in = &in;
    uint8_t setup = fz_u8(&in);

    mock_host_init(&w.mh);
    hv_ept_format_init(&w.fmt, HV_PAGE_4K | HV_PAGE_2M, true, false);
    mock_backend_reset(&w.fmt);
    const struct hv_backend_ops *ops = (setup & 4) ? &mock_backend_ops : &mock_backend_ops_nofast;
    FZ_CHECK(hv_ctx_create_with_backend(&w.mh.ops, NULL, ops, &w.ctx) == HV_OK, "ctx");
    FZ_CHECK(hv_vm_create(w.ctx, NULL, &w.vm) == HV_OK, "vm");
    FZ_CHECK(hv_vcpu_create(w.vm, 0, &w.vcpu) == HV_OK, "vcpu");
    w.ram = mock_guest_ram_alloc(&w.mh, RAM_SIZE, &w.ram_hpa);
    FZ_CHECK(w.ram != NULL, "guest RAM");
    FZ_CHECK(hv_vm_map(w.vm, 0, w.ram_hpa, RAM_SIZE, HV_MEM_RWX) == HV_OK, "map");
    FZ_CHECK(hv_vm_mmio_register(w.vm, H_BASE, REGION, h_mmio, &w) == HV_OK, "mmio H");
    FZ_CHECK(hv_vm_mmio_register(w.vm, E_BASE, REGION, NULL, NULL) == HV_OK, "mmio E");
    FZ_CHECK(hv_vm_pio_register(w.vm, PIO_PORT, PIO_COUNT, h_pio, &w) == HV_OK, "pio");
    set_mode(&w, (setup & 3) % 3);

    for (unsigned n = 0; n < MAX_OPS && !fz_empty(&in); n++) {
        uint8_t op = fz_u8(&in);
        switch (op % 8) {
        case 0: { /* guest bytes: code, page tables, buffers (below 64 KiB) */
            uint16_t at = fz_u16(&in);
            uint8_t len = fz_u8(&in) & 31;
            uint8_t buf[32];
            fz_bytes(&in, buf, len);
            memcpy(w.ram + at, buf, len);
            break;
        }
        case 1: { /* a GPR */
            uint8_t r = fz_u8(&in) & 15;
            w.vcpu->gpr[r] = (op & 8) ? fz_u16(&in) : fz_u64(&in);
            break;
        }
        case 2: { /* RFLAGS (DF, TF, IF, the arithmetic flags); DS/ES bases */
            struct hv_vcpu_state st;
            FZ_CHECK(hv_vcpu_get_state(w.vcpu, HV_STATE_GPR | HV_STATE_SEG, &st) == HV_OK,
                     "get_state");
            st.rflags = 2 | (fz_u16(&in) & 0x0fd5);
            if (op & 0x10) { /* real mode reaches the regions through a base */
                st.seg[HV_SEG_DS].base = (uint64_t)fz_u8(&in) << 12;
                st.seg[HV_SEG_ES].base = (uint64_t)fz_u8(&in) << 12;
            }
            FZ_CHECK(hv_vcpu_set_state(w.vcpu, HV_STATE_GPR | HV_STATE_SEG, &st) == HV_OK,
                     "set_state");
            break;
        }
        case 3:
            script_npf(&w);
            break;
        case 4:
            script_io(&w);
            break;
        case 5:
        case 6:
            run_once(&w);
            break;
        case 7: /* handler failures, or the port range moved and back */
            w.fail_mmio = op & 0x10;
            w.fail_pio = op & 0x20;
            if (op & 0x40) {
                FZ_CHECK(hv_vm_pio_unregister(w.vm, PIO_PORT) == HV_OK, "pio unregister");
                FZ_CHECK(hv_vm_pio_register(w.vm, PIO_PORT, PIO_COUNT, h_pio, &w) == HV_OK,
                         "pio register");
            }
            break;
        }
    }
    run_once(&w); /* whatever is still scripted */

    FZ_CHECK(hv_vcpu_destroy(w.vcpu) == HV_OK, "vcpu destroy");
    FZ_CHECK(hv_vm_destroy(w.vm) == HV_OK, "vm destroy");
    FZ_CHECK(hv_ctx_destroy(w.ctx) == HV_OK, "ctx destroy");
    mock_guest_ram_free(&w.mh, w.ram);
    fz_check_clean(&w.mh, "assist teardown");
    mock_host_fini(&w.mh);
    return 0;
}
