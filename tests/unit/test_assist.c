/*
 * The instruction assist inside the run loop (core/assist.c) with the
 * scripted backend: a guest in flat 32-bit protected mode (paging off)
 * whose instruction bytes sit in mock guest RAM. Checks handler regions
 * (finished inside the library), embedder regions (HV_EXIT_MMIO and the
 * retry that replays completed accesses), read-modify-write, REP OUTSB one
 * port access per exit, faults injected, and unclaimed memory left to the
 * embedder.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include <hv/hv.h>
#include "core/assist.h"
#include "core/fast.h"
#include "core/ctx_internal.h"
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/walk_memo.h"
#include "lapic/lapic.h"
#include "mock_backend.h"
#include "mock_host.h"
#include "vmx/ept_format.h"

static struct mock_host mh;
static struct hv_slat_format ept;
static struct hv_ctx *ctx;
static struct hv_vm *vm;
static struct hv_vcpu *vcpu;
static struct mock_vcpu *mv;
static uint8_t *ram;
static uint64_t ram_hpa;
#define RAM_SIZE (1u << 20)

struct access {
    uint64_t gpa;
    unsigned size;
    bool write;
    uint64_t value;
};
static struct access seen[16];
static unsigned nseen;
static uint64_t reg_file[4];

static hv_status_t regfile(void *opaque, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    CU_ASSERT_PTR_EQUAL(opaque, reg_file);
    if (nseen < 16)
        seen[nseen++] = (struct access){gpa, size, write, write ? *value : 0};
    unsigned idx = (gpa - 0xfee00000) / 8 % 4;
    if (write)
        reg_file[idx] = *value;
    else
        *value = reg_file[idx];
    return HV_OK;
}

/* The backend the next up() uses: with get_fetch_regs (fast path) or not. */
static const struct hv_backend_ops *be_ops = &mock_backend_ops;

/* The VM, its vCPU and RAM; at 0xfee00000 the regfile handler region, or
   with lapic the library's local APIC page there (hv_lapic_enable). */
static void up_with(bool lapic)
{
    mock_host_init(&mh);
    hv_ept_format_init(&ept, HV_PAGE_4K | HV_PAGE_2M, true, false);
    mock_backend_reset(&ept);
    CU_ASSERT_EQUAL_FATAL(hv_ctx_create_with_backend(&mh.ops, NULL, be_ops, &ctx), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vm_create(ctx, NULL, &vm), HV_OK);
    struct hv_lapic_config lc = {.size = sizeof(lc), .tsc_khz = 1000000};
    if (lapic)
        CU_ASSERT_EQUAL_FATAL(hv_lapic_enable(vm, &lc), HV_OK);
    CU_ASSERT_EQUAL_FATAL(hv_vcpu_create(vm, 0, &vcpu), HV_OK);
    mv = mock_vcpu_of(vcpu);
    ram = mock_guest_ram_alloc(&mh, RAM_SIZE, &ram_hpa);
    CU_ASSERT_EQUAL_FATAL(hv_vm_map(vm, 0, ram_hpa, RAM_SIZE, HV_MEM_RWX), HV_OK);
    if (!lapic)
        CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfee00000, 0x1000, regfile, reg_file), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfed00000, 0x1000, NULL, NULL), HV_OK);
    /* Flat 32-bit protected mode, paging off. */
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    for (int i = 0; i < 6; i++) {
        st.seg[i].base = 0;
        st.seg[i].limit = 0xffffffff;
        st.seg[i].selector = i == HV_SEG_CS ? 8 : 16;
        st.seg[i].attr = HV_SEG_P | HV_SEG_S | HV_SEG_DB | HV_SEG_G | (i == HV_SEG_CS ? 0xb : 3);
    }
    st.cr0 = 0x11;
    st.rflags = 2;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    nseen = 0;
    memset(reg_file, 0, sizeof(reg_file));
}

static void up(void)
{
    up_with(false);
}

static void down(void)
{
    CU_ASSERT_EQUAL(hv_vcpu_destroy(vcpu), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_destroy(vm), HV_OK);
    CU_ASSERT_EQUAL(hv_ctx_destroy(ctx), HV_OK);
    mock_guest_ram_free(&mh, ram);
    CU_ASSERT(mock_host_clean(&mh));
    mock_host_fini(&mh);
}

/* Place code at rip and script the NPF its memory operand causes. */
static void npf_at(uint64_t rip, const void *code, size_t len, uint64_t gpa, uint32_t access)
{
    memcpy(ram + rip, code, len);
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_NPF;
    e.vx.rip = rip;
    e.vx.npf.gpa = gpa;
    e.vx.npf.access = access;
    mock_script(vcpu, &e);
}

static uint64_t rip_now(void)
{
    return mv->st.rip;
}

static void test_handler_region(void)
{
    up();
    static const uint8_t mov_store[] = {0x89, 0x05, 0x10,
                                        0x00, 0xe0, 0xfe}; /* mov [0xfee00010], eax */
    static const uint8_t movzx_load[] = {0x0f, 0xb6, 0x1d, 0x10,
                                         0x00, 0xe0, 0xfe}; /* movzx ebx, byte [0xfee00010] */
    npf_at(0x1000, mov_store, sizeof(mov_store), 0xfee00010, HV_ACCESS_WRITE);
    npf_at(0x1006, movzx_load, sizeof(movzx_load), 0xfee00010, HV_ACCESS_READ);
    vcpu->gpr[HV_GPR_RAX] = 0x12345678;
    vcpu->gpr[HV_GPR_RBX] = 0xffffffffffffffffull;
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    /* Both finished inside the library: the next exit is the end of the script. */
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(nseen, 2);
    CU_ASSERT_EQUAL(seen[0].gpa, 0xfee00010);
    CU_ASSERT_EQUAL(seen[0].size, 4);
    CU_ASSERT(seen[0].write);
    CU_ASSERT_EQUAL(seen[0].value, 0x12345678);
    CU_ASSERT_EQUAL(seen[1].size, 1);
    CU_ASSERT(!seen[1].write);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RBX], 0x78); /* 32-bit destination zero-extends */
    CU_ASSERT_EQUAL(rip_now(), 0x100d);
    down();
}

static void test_embedder_region(void)
{
    up();
    static const uint8_t load[] = {0x8b, 0x05, 0x04, 0x00, 0xd0, 0xfe}; /* mov eax, [0xfed00004] */
    static const uint8_t add[] = {0x83, 0x05, 0x00, 0x00,
                                  0xd0, 0xfe, 0x05}; /* add dword [0xfed00000], 5 */
    npf_at(0x2000, load, sizeof(load), 0xfed00004, HV_ACCESS_READ);
    npf_at(0x2006, add, sizeof(add), 0xfed00000, HV_ACCESS_READ);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00004);
    CU_ASSERT_EQUAL(x.mmio.size, 4);
    CU_ASSERT_EQUAL(x.mmio.write, 0);
    CU_ASSERT_EQUAL(rip_now(), 0x2000);
    x.mmio.data = 0xcafef00d;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RAX], 0xcafef00d);
    /* The ADD reads first ... */
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00000);
    CU_ASSERT_EQUAL(x.mmio.write, 0);
    x.mmio.data = 0xfffffffe;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    /* ... then writes the sum, without reading again. */
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.write, 1);
    CU_ASSERT_EQUAL(x.mmio.data, 3);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT(mv->st.rflags & 1); /* carry out of the 32-bit add */
    CU_ASSERT_EQUAL(rip_now(), 0x200d);
    down();
}

static void test_rep_outsb(void)
{
    up();
    static const uint8_t rep_outsb[] = {0xf3, 0x6e};
    memcpy(ram + 0x3000, rep_outsb, 2);
    memcpy(ram + 0x5000, "abc", 3);
    vcpu->gpr[HV_GPR_RSI] = 0x5000;
    vcpu->gpr[HV_GPR_RCX] = 3;
    vcpu->gpr[HV_GPR_RDX] = 0xe9;
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_IO;
    e.vx.rip = 0x3000;
    e.vx.io.port = 0xe9;
    e.vx.io.size = 1;
    e.vx.io.write = 1;
    e.vx.io.string = 1;
    e.vx.io.rep = 1;
    for (int i = 0; i < 3; i++) /* the guest re-executes the REP after each resume */
        mock_script(vcpu, &e);
    struct hv_exit x;
    char out[4] = {0};
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(x.reason, HV_EXIT_IO);
        CU_ASSERT_EQUAL(x.io.port, 0xe9);
        CU_ASSERT_EQUAL(x.io.write, 1);
        out[i] = (char)x.io.data;
        CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    }
    CU_ASSERT_STRING_EQUAL(out, "abc");
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RCX], 0);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RSI], 0x5003);
    CU_ASSERT_EQUAL(rip_now(), 0x3002);
    down();
}

/* REP OUTSB from the handler region to a port the embedder completes: each
   handler read happens exactly once although every iteration exits. */
static void test_handler_then_embedder(void)
{
    up();
    static const uint8_t rep_outsb[] = {0xf3, 0x6e};
    memcpy(ram + 0x3100, rep_outsb, 2);
    reg_file[0] = 0x41;
    vcpu->gpr[HV_GPR_RSI] = 0xfee00000;
    vcpu->gpr[HV_GPR_RCX] = 2;
    vcpu->gpr[HV_GPR_RDX] = 0x80;
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_IO;
    e.vx.rip = 0x3100;
    e.vx.io.port = 0x80;
    e.vx.io.size = 1;
    e.vx.io.write = 1;
    e.vx.io.string = 1;
    e.vx.io.rep = 1;
    mock_script(vcpu, &e);
    mock_script(vcpu, &e);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(x.reason, HV_EXIT_IO);
        CU_ASSERT_EQUAL(x.io.data, 0x41);
        CU_ASSERT_EQUAL(nseen, (unsigned)i + 1); /* one handler read per iteration */
        CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    }
    CU_ASSERT_EQUAL(nseen, 2);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RCX], 0);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RSI], 0xfee00002);
    down();
}

static void test_unclaimed_and_faults(void)
{
    up();
    /* Unmapped gpa outside every region: the embedder sees the fault raw. */
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_NPF;
    e.vx.rip = 0x4000;
    e.vx.npf.gpa = 0x40000000;
    e.vx.npf.access = HV_ACCESS_WRITE;
    mock_script(vcpu, &e);
    /* A fault on a page that is mapped with the needed right by now is
       spurious (e.g. another CPU mapped it): the guest retries silently. */
    struct mock_exit sp;
    memset(&sp, 0, sizeof(sp));
    sp.vx.kind = HV_VX_NPF;
    sp.vx.rip = 0x3ff0;
    sp.vx.npf.gpa = 0x8000;
    sp.vx.npf.access = HV_ACCESS_WRITE;
    struct mock_vcpu *m = mv;
    m->script[m->script_len++] = sp;
    m->script[m->script_len - 1] = m->script[0];
    m->script[0] = sp;
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(mv->entries, 2);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_SLAT_FAULT);
    CU_ASSERT_EQUAL(x.slat.gpa, 0x40000000);
    CU_ASSERT_EQUAL(x.slat.access, HV_ACCESS_WRITE);

    /* An instruction the assist does not emulate (here: INC on MMIO)
       is left to the embedder as the fault. */
    static const uint8_t inc[] = {0xff, 0x05, 0x00, 0x00, 0xe0, 0xfe}; /* inc dword [0xfee00000] */
    npf_at(0x4100, inc, sizeof(inc), 0xfee00000, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_SLAT_FAULT);
    CU_ASSERT_EQUAL(nseen, 0);

    /* A 16-bit store past the segment limit gets #GP(0) injected. */
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_SEG, &st);
    st.seg[HV_SEG_DS].limit = 0xfff;
    st.seg[HV_SEG_DS].attr &= ~HV_SEG_G;
    hv_vcpu_set_state(vcpu, HV_STATE_SEG, &st);
    static const uint8_t store[] = {0x89, 0x05, 0x10, 0x00, 0xe0, 0xfe};
    npf_at(0x4200, store, sizeof(store), 0xfee00010, HV_ACCESS_WRITE);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT); /* the #GP went in at the next entry */
    CU_ASSERT_EQUAL(mv->injected_count, 1);
    CU_ASSERT_EQUAL(mv->injected[0].vector, 13);
    CU_ASSERT_EQUAL(nseen, 0);
    CU_ASSERT_EQUAL(rip_now(), 0x4200);
    down();
}

static void test_region_args(void)
{
    up();
    CU_ASSERT_EQUAL(hv_vm_mmio_register(NULL, 0, 1, NULL, NULL), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0, 0, NULL, NULL), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, UINT64_MAX, 2, NULL, NULL), HV_ERR_RANGE);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfee00800, 0x1000, NULL, NULL), HV_ERR_EXISTS);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfedfffff, 2, NULL, NULL), HV_ERR_EXISTS);
    unsigned n = 2;
    while (hv_vm_mmio_register(vm, 0x10000000ull * (n + 1), 0x1000, NULL, NULL) == HV_OK)
        n++;
    CU_ASSERT_EQUAL(n, HV_MMIO_REGIONS_MAX);
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(vm, 0x1234), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(NULL, 0), HV_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(hv_vm_mmio_unregister(vm, 0xfed00000), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_mmio_register(vm, 0xfed00000, 0x1000, NULL, NULL), HV_OK);
    down();
}

/* --- the memoized instruction fetch (core/insn_fetch.c) ----------------- */

#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A  0x20ull

static uint64_t *pte_at(uint64_t gpa)
{
    return (uint64_t *)(ram + gpa);
}

/* A 4-level hierarchy at root..root+0x3000 mapping the 4 KiB page at
   linear 0x400000 to code_gpa (supervisor, or user with us). */
static void build_tables(uint64_t root, uint64_t code_gpa, uint64_t us)
{
    memset(ram + root, 0, 0x4000);
    *pte_at(root) = (root + 0x1000) | PTE_P | PTE_RW | us;
    *pte_at(root + 0x1000) = (root + 0x2000) | PTE_P | PTE_RW | us;
    *pte_at(root + 0x2000 + 2 * 8) = (root + 0x3000) | PTE_P | PTE_RW | us;
    *pte_at(root + 0x3000) = code_gpa | PTE_P | PTE_RW | us;
}

/* 64-bit mode with 4-level paging at CR3 = root, CPL 0, RIP = rip. */
static void long_mode(uint64_t root, uint64_t rip, uint64_t cr4_extra)
{
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr0 = 0x80010011; /* PG WP ET PE */
    st.cr3 = root;
    st.cr4 = 0x20 | cr4_extra; /* PAE */
    st.efer = 0x500;           /* LME LMA */
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | HV_SEG_L | HV_SEG_G | 0xb;
    st.rip = rip;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
}

static uint64_t walks(void)
{
    return vcpu->fetch.walks;
}

static void test_fetch_memo(void)
{
    up();
    static const uint8_t code_a[] = {0x0f, 0xa2, 0x90, 0x90}; /* cpuid; nop; nop */
    static const uint8_t code_b[] = {0x0f, 0x01, 0xd9, 0xf4}; /* vmmcall; hlt */
    static const uint8_t code_c[] = {0xe6, 0x80, 0xcc, 0xcc}; /* out 0x80, al */
    memcpy(ram + 0x20000, code_a, 4);
    memcpy(ram + 0x21000, code_b, 4);
    memcpy(ram + 0x22000, code_c, 4);
    build_tables(0x10000, 0x20000, 0);
    build_tables(0x30000, 0x22000, 0);
    long_mode(0x10000, 0x400000, 0);
    uint8_t buf[15];

    /* The first fetch walks and sets the accessed flags; the next ones
       hit the memo and give the same bytes. */
    uint64_t w0 = walks();
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 1);
    CU_ASSERT(*pte_at(0x10000) & PTE_A);
    CU_ASSERT(*pte_at(0x13000) & PTE_A);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 2), 2);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 2), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 1);

    /* EFER.LMA is part of the key: the same CR3 and CR4.PAE without long
       mode (CS without L) make the PML4 a PAE page-directory-pointer
       table, whose entries reserve RW (SDM Vol. 3A 4.4.1, table 4-8): no
       fetch, though the memo holds the page. */
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.efer = 0;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | HV_SEG_DB | HV_SEG_G | 0xb;
    st.seg[HV_SEG_CS].limit = 0xffffffff;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    /* CR4.LA57 too: the same tables read with five levels put an empty
       entry where the page-directory-pointer entry was (SDM Vol. 3A 4.5).
       (The failed walk above emptied the memo: filled again first.) */
    long_mode(0x10000, 0x400000, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    long_mode(0x10000, 0x400000, 1u << 12);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    long_mode(0x10000, 0x400000, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    w0 = walks() - 1;

    /* The guest rewrites its PTE without telling anyone: a fresh walk
       reaches the new page. */
    *pte_at(0x13000) = 0x21000 | PTE_P | PTE_RW;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 2);
    CU_ASSERT(*pte_at(0x13000) & PTE_A);

    /* Clearing an accessed flag is a change too: the walk sets it again. */
    *pte_at(0x11000) &= ~PTE_A;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(walks(), w0 + 3);
    CU_ASSERT(*pte_at(0x11000) & PTE_A);

    /* A not-present PTE stops the fetch; present again, the bytes are back. */
    uint64_t saved = *pte_at(0x13000);
    *pte_at(0x13000) = 0;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    *pte_at(0x13000) = saved;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);

    /* Another CR3: the other hierarchy's page. */
    uint64_t w1 = walks();
    long_mode(0x30000, 0x400000, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_c, 4), 0);
    CU_ASSERT_EQUAL(walks(), w1 + 1);

    /* A mode change: user pages under SMEP fault for a supervisor fetch,
       although the same entries were just memoized without SMEP. */
    build_tables(0x10000, 0x20000, PTE_US);
    long_mode(0x10000, 0x400000, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    long_mode(0x10000, 0x400000, 1u << 20); /* CR4.SMEP */
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    /* Paging off: the linear address is the physical one. */
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr0 = 0x11;
    st.cr4 = 0;
    st.efer = 0;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | HV_SEG_DB | HV_SEG_G | 0xb;
    st.rip = 0x21000;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);

    /* SLAT unmap of the memoized code page: not RAM any more, nothing
       fetched; mapped again (to other host memory), its new bytes. */
    w1 = walks();
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x21000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    CU_ASSERT_EQUAL(walks(), w1 + 1);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x21000, ram_hpa + 0x22000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_c, 4), 0);
    /* Any SLAT protect is a new generation: a fresh walk. */
    w1 = walks();
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0x21000, 0x1000, HV_MEM_READ), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_c, 4), 0);
    CU_ASSERT_EQUAL(walks(), w1 + 1);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x21000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x21000, ram_hpa + 0x21000, 0x1000, HV_MEM_RWX), HV_OK);

    /* A page-table page the SLAT unmaps: the walk cannot read it. */
    long_mode(0x10000, 0x400000, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x12000, 0x1000), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x12000, ram_hpa + 0x12000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);

    /* A fetch crossing into an unmapped linear page stops at the boundary. */
    memcpy(ram + 0x20ffe, code_a, 2);
    long_mode(0x10000, 0x400ffe, 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 2);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 2), 0);
    down();
}

/* 32-bit paging (4-byte entries, two to an 8-byte word): the memo keeps
   the whole word of each entry, so the entry's own change and its
   neighbour's both lead to a fresh walk, which reaches the right page. */
static void test_fetch_memo_32bit(void)
{
    up();
    static const uint8_t code_a[] = {0x0f, 0xa2, 0x90, 0x90}; /* cpuid; nop; nop */
    static const uint8_t code_b[] = {0x0f, 0x01, 0xd9, 0xf4}; /* vmmcall; hlt */
    memcpy(ram + 0x20000, code_a, 4);
    memcpy(ram + 0x21000, code_b, 4);
    /* Linear 0x400000: PDE 1 (upper half of the directory's first word),
       PTE 0 (lower half of the table's first word). */
    uint32_t *pd = (uint32_t *)(ram + 0x40000), *pt = (uint32_t *)(ram + 0x41000);
    memset(pd, 0, 0x2000);
    pd[1] = 0x41000 | PTE_P | PTE_RW;
    pt[0] = 0x20000 | PTE_P | PTE_RW;
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr0 = 0x80010011; /* PG WP ET PE */
    st.cr3 = 0x40000;
    st.cr4 = 0;
    st.efer = 0;
    st.seg[HV_SEG_CS].attr = HV_SEG_P | HV_SEG_S | HV_SEG_DB | HV_SEG_G | 0xb;
    st.seg[HV_SEG_CS].base = 0;
    st.seg[HV_SEG_CS].limit = 0xffffffff;
    st.rip = 0x400000;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    uint8_t buf[15];

    uint64_t w0 = walks();
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    CU_ASSERT(pd[1] & PTE_A);
    CU_ASSERT(pt[0] & PTE_A);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(walks(), w0 + 1);

    /* The CS limit bounds every byte fetched (SDM Vol. 3A 5.3): an
       instruction that runs past it gives the bytes up to it, one that
       starts beyond it none. */
    st.seg[HV_SEG_CS].limit = 0x400001;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 2);
    st.seg[HV_SEG_CS].limit = 0x3fffff;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    st.seg[HV_SEG_CS].limit = 0xffffffff;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);

    /* The other half of the PDE's word (PDE 0) changes: a fresh walk, the
       same page. */
    pd[0] = 0x42000 | PTE_P;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 2);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(walks(), w0 + 2);

    /* The PTE itself (the lower half of its word) is rewritten: the new
       page's bytes. */
    pt[0] = 0x21000 | PTE_P | PTE_RW;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 3);

    /* CR4.PAE is part of the key: the same CR3 read as a PAE
       page-directory-pointer table makes PD entries 0 and 1 one entry,
       whose upper half sets bits beyond the guest's physical-address width
       (reserved, SDM Vol. 3A 4.4.1): no fetch, though the memo holds the
       page. */
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr4 = 0x20; /* PAE */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    st.cr4 = 0;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);

    /* CR4.PSE is part of the key: with it, a PDE with PS maps a 4 MiB
       page (here at gpa 0); without it, PS is ignored and the same PDE
       points at a page table (here at gpa 0 too, whose first entry maps
       code_b's page) (SDM Vol. 3A 4.3). */
    uint32_t pte_at_0 = 0x21000 | PTE_P | PTE_RW;
    memcpy(ram, &pte_at_0, 4);
    pd[1] = 0x80 | PTE_P | PTE_RW; /* PS */
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr4 = 0x10; /* PSE */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    uint64_t w1 = walks();
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
        CU_ASSERT_EQUAL(memcmp(buf, &pte_at_0, 4), 0); /* gpa 0 through the large page */
        CU_ASSERT_EQUAL(walks(), w1 + 1);
    }
    st.cr4 = 0;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_b, 4), 0);
    CU_ASSERT_EQUAL(walks(), w1 + 2);

    /* The PDE (the upper half of its word) made not present: no fetch. */
    pd[1] = 0;
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    down();
}

/* Tables at 0x10000 whose PDPTE maps linear 0 as a 1 GiB page at GPA 0. */
static void one_gib_mapping(void)
{
    memset(ram + 0x10000, 0, 0x2000);
    *pte_at(0x10000) = 0x11000 | PTE_P | PTE_RW;
    *pte_at(0x11000) = 0 | PTE_P | PTE_RW | 0x80; /* PS: 1 GiB at GPA 0 */
}

static void gbpages_view(bool on)
{
    CU_ASSERT_EQUAL(mock_cpuid_gbpages(vm, on), HV_OK);
}

/* The code memo depends on the guest's paging view: a 1 GiB page fetches
   while CPUID reports 1 GiB pages, faults (PS reserved in a PDPTE) once an
   override takes them away, and fetches again when they are back. */
static void test_fetch_memo_view(void)
{
    up();
    static const uint8_t code_a[] = {0x0f, 0xa2, 0x90, 0x90}; /* cpuid; nop; nop */
    memcpy(ram + 0x20000, code_a, 4);
    one_gib_mapping();
    gbpages_view(true);
    long_mode(0x10000, 0x20000, 0);
    uint8_t buf[15];

    uint64_t w0 = walks();
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(walks(), w0 + 1);

    gbpages_view(false);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 2);

    gbpages_view(true);
    CU_ASSERT_EQUAL(hv_assist_fetch_insn(vcpu, buf, 4), 4);
    CU_ASSERT_EQUAL(memcmp(buf, code_a, 4), 0);
    CU_ASSERT_EQUAL(walks(), w0 + 3);
    down();
}

/* Script an NPF at rip (linear) whose memory operand is gpa. */
static void npf_linear(uint64_t rip, uint64_t gpa, uint32_t access)
{
    struct mock_exit e;
    memset(&e, 0, sizeof(e));
    e.vx.kind = HV_VX_NPF;
    e.vx.rip = rip;
    e.vx.npf.gpa = gpa;
    e.vx.npf.access = access;
    mock_script(vcpu, &e);
}

/* data_memo's load (mov eax, [0x401010], the handler's register 2 at
   0x1111) run twice: the first walks, the second goes through the memo. */
static void memo_load_twice(void)
{
    uint64_t w = vcpu->data.walks;
    struct hv_exit x;
    for (int i = 0; i < 2; i++) {
        mv->st.rip = 0x400000;
        vcpu->gpr[HV_GPR_RAX] = 0;
        npf_linear(0x400000, 0xfee00000, HV_ACCESS_READ);
        CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
        CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
        CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RAX], 0x1111);
        CU_ASSERT_EQUAL(rip_now(), 0x400007);
        CU_ASSERT_EQUAL(vcpu->data.walks, w + 1);
    }
}

/* The same load once more, now a #PF at the operand's address whose error
   code has the bits @p want of @p mask; RIP stays. */
static void memo_load_faults(uint32_t mask, uint32_t want)
{
    struct hv_exit x;
    mv->st.rip = 0x400000;
    mv->injected_count = 0;
    npf_linear(0x400000, 0xfee00000, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(mv->injected_count, 1);
    CU_ASSERT_EQUAL(mv->injected[0].vector, 14);
    CU_ASSERT_EQUAL(mv->injected[0].cr2, 0x401010);
    CU_ASSERT_EQUAL(mv->injected[0].error_code & mask, want);
    CU_ASSERT_EQUAL(rip_now(), 0x400000);
}

static void data_memo(void)
{
    up();
    /* 64-bit code at linear 0x400000 (gpa 0x20000); linear 0x401000 maps
       the handler region's page 0xfee00000. */
    static const uint8_t load[] = {0x8b, 0x04, 0x25, 0x10,
                                   0x10, 0x40, 0x00}; /* mov eax, [0x401010] */
    static const uint8_t store[] = {0x89, 0x1c, 0x25, 0x18,
                                    0x10, 0x40, 0x00}; /* mov [0x401018], ebx */
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0xfee00000 | PTE_P | PTE_RW;
    memcpy(ram + 0x20000, load, sizeof(load));
    memcpy(ram + 0x20010, store, sizeof(store));
    long_mode(0x10000, 0x400000, 0);
    reg_file[2] = 0x1111;
    struct hv_exit x;

    /* The NPFs below report the page only (offset 0), as if the CPU gave
       no byte-exact gpa: the operand's address comes from the guest's
       tables. The first load walks; the second hits the memo. */
    uint64_t w0 = vcpu->data.walks;
    memo_load_twice();
    CU_ASSERT(*pte_at(0x13008) & PTE_A);
    CU_ASSERT(!(*pte_at(0x13008) & 0x40)); /* a read sets no dirty flag */

    /* A store is another access kind: a fresh walk sets the dirty flag. */
    mv->st.rip = 0x400010;
    vcpu->gpr[HV_GPR_RBX] = 0x2222;
    npf_linear(0x400010, 0xfee00000, HV_ACCESS_WRITE);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(reg_file[3], 0x2222);
    CU_ASSERT_EQUAL(vcpu->data.walks, w0 + 2);
    CU_ASSERT(*pte_at(0x13008) & 0x40);

    /* EFER.NXE is part of the key: with it, bit 63 of an entry is XD and a
       read goes through; once the guest clears it, that bit is reserved
       and the same read raises #PF with RSVD in the error code (SDM Vol.
       3A 4.5.4, 4.7), though the memo holds the page. */
    struct hv_vcpu_state st;
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.efer |= 0x800; /* NXE */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    *pte_at(0x13008) |= 1ull << 63;
    memo_load_twice();
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.efer &= ~0x800ull;
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    memo_load_faults(0x9, 0x9); /* P, RSVD */
    *pte_at(0x13008) &= ~(1ull << 63);

    /* CR4.SMAP is part of the key: a supervisor read of a user page goes
       through without it and raises #PF with it (RFLAGS.AC clear; SDM Vol.
       3A 4.6.1), though the memo holds the page. */
    static const uint64_t user_path[] = {0x10000, 0x11000, 0x12010, 0x13008}; /* every level */
    for (unsigned i = 0; i < 4; i++)
        *pte_at(user_path[i]) |= PTE_US;
    memo_load_twice();
    hv_vcpu_get_state(vcpu, HV_STATE_ALL, &st);
    st.cr4 |= 1ull << 21; /* SMAP */
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    memo_load_faults(0xd, 0x1); /* P; a read; supervisor */
    st.cr4 &= ~(1ull << 21);
    CU_ASSERT_EQUAL(hv_vcpu_set_state(vcpu, HV_STATE_ALL, &st), HV_OK);
    for (unsigned i = 0; i < 4; i++)
        *pte_at(user_path[i]) &= ~PTE_US;

    /* The guest points the page at the embedder's region: the load goes
       there (HV_EXIT_MMIO at the new address), not to the handler. */
    *pte_at(0x13008) = 0xfed00000 | PTE_P | PTE_RW;
    mv->st.rip = 0x400000;
    nseen = 0;
    npf_linear(0x400000, 0xfed00000, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00010);
    CU_ASSERT_EQUAL(nseen, 0);
    x.mmio.data = 0x3333;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RAX], 0x3333);

    /* Not present any more: #PF with CR2 = the operand's address. */
    *pte_at(0x13008) = 0;
    memo_load_faults(0x1, 0x0);

    /* In the MOV fast path, a byte-exact gpa of a data access in the
       operand's direction is the CPU's own translation: no walk, and the
       access goes there even though the guest has since unmapped the page
       (it happened before). (The emulator always walks.) */
    if (be_ops != &mock_backend_ops) {
        down();
        return;
    }
    uint64_t w1 = vcpu->data.walks;
    mv->st.rip = 0x400000;
    mv->injected_count = 0;
    vcpu->gpr[HV_GPR_RAX] = 0;
    npf_linear(0x400000, 0xfee00010, HV_ACCESS_READ);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(mv->injected_count, 0);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_RAX], 0x1111);
    CU_ASSERT_EQUAL(vcpu->data.walks, w1);
    /* The wrong direction, or a fault during the guest's own walk, is not
       this operand's access: the guest's tables decide (#PF here). */
    mv->st.rip = 0x400000;
    npf_linear(0x400000, 0xfee00010, HV_ACCESS_WRITE);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(mv->injected_count, 1);
    CU_ASSERT_EQUAL(rip_now(), 0x400000);
    down();
}

/* --- the data memo's host pointer (core/walk_memo.h hv_data_memo) --- */

static hv_status_t dm_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return hv_gpa_read(opaque, gpa, buf, len);
}

static hv_status_t dm_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return hv_gpa_write(opaque, gpa, buf, len);
}

static const struct hv_emu_ops dm_ops = {.gpa_read = dm_read, .gpa_write = dm_write};

/* The long-mode registers of long_mode(0x10000, ...) at CPL @p cpl. */
static struct hv_emu_regs dm_regs(unsigned cpl, uint64_t rflags)
{
    struct hv_emu_regs r;
    memset(&r, 0, sizeof(r));
    r.cr0 = 0x80010011;
    r.cr3 = 0x10000;
    r.cr4 = 0x20;
    r.efer = 0x500;
    r.cpl = (uint8_t)cpl;
    r.rflags = rflags;
    return r;
}

static bool dm_walk(const struct hv_emu_regs *r, uint64_t la, unsigned access)
{
    struct hv_emu_env env = {.ops = &dm_ops, .opaque = vm}; /* the view is the VM's */
    struct hv_walk_result w;
    return hv_walk_memoized(vcpu, &env, r, la, access, &w) == HV_OK && w.outcome == HV_WALK_OK;
}

static uint8_t *dm_host(const struct hv_emu_regs *r, uint64_t la, unsigned access)
{
    return hv_data_memo(vcpu, r->cr0, r->cr3, r->cr4, r->efer, r->cpl,
                        (r->rflags & HV_EMU_RFLAGS_AC) != 0, access, la >> 12);
}

/* The memo's host pointer is the page the walk reached, with the access's
   SLAT permission, and never survives a change of anything it depends on. */
static void test_data_memo_host(void)
{
    up();
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0x22000 | PTE_P | PTE_RW; /* linear 0x401000 */
    struct hv_emu_regs r = dm_regs(0, 0);
    const uint64_t la = 0x401010;

    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ)); /* empty */
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_READ), ram + 0x22000);
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la + 0xfe0, HV_WALK_READ), ram + 0x22000);
    /* Another access kind, page, CPL, RFLAGS.AC, CR3 or paging mode: not
       this memo (a changed guest view: test_data_memo_view). */
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    CU_ASSERT_PTR_NULL(dm_host(&r, la + 0x1000, HV_WALK_READ));
    struct hv_emu_regs o = dm_regs(3, 0);
    CU_ASSERT_PTR_NULL(dm_host(&o, la, HV_WALK_READ));
    o = dm_regs(0, HV_EMU_RFLAGS_AC);
    CU_ASSERT_PTR_NULL(dm_host(&o, la, HV_WALK_READ));
    o = r, o.cr3 = 0x50000;
    CU_ASSERT_PTR_NULL(dm_host(&o, la, HV_WALK_READ));
    o = r, o.cr0 &= ~0x10000ull; /* WP */
    CU_ASSERT_PTR_NULL(dm_host(&o, la, HV_WALK_READ));
    o = r, o.cr0 &= ~0x80000000ull; /* paging off: never memoized */
    CU_ASSERT_PTR_NULL(dm_host(&o, la, HV_WALK_READ));

    /* A write walk: the page writable in the SLAT, the dirty flag set. */
    CU_ASSERT(dm_walk(&r, la, HV_WALK_WRITE));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_WRITE), ram + 0x22000);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT(*pte_at(0x13008) & 0x40);

    /* The guest rewrites the entry (or any entry above it): gone. */
    *pte_at(0x13008) = 0x23000 | PTE_P | PTE_RW | PTE_A | 0x40;
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    CU_ASSERT(dm_walk(&r, la, HV_WALK_WRITE));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_WRITE), ram + 0x23000);
    *pte_at(0x12010) &= ~PTE_RW; /* the PDE: read-only from here down */
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    CU_ASSERT(!dm_walk(&r, la, HV_WALK_WRITE)); /* CR0.WP: a fault */
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    *pte_at(0x12010) |= PTE_RW;

    /* SLAT changes: write-protected, the write memo keeps no pointer
       while the read memo does; unmapped, nothing; mapped again to other
       host memory, that memory. */
    CU_ASSERT(dm_walk(&r, la, HV_WALK_WRITE));
    CU_ASSERT_EQUAL(hv_vm_protect(vm, 0x23000, 0x1000, HV_MEM_READ), HV_OK);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    CU_ASSERT(dm_walk(&r, la, HV_WALK_WRITE)); /* the guest's walk allows it */
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_WRITE));
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_READ), ram + 0x23000);
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x23000, 0x1000), HV_OK);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ)); /* the entries are RAM */
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0x23000, ram_hpa + 0x30000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_READ), ram + 0x30000);
    /* A page-table page the SLAT takes away: no walk, no pointer. */
    CU_ASSERT_EQUAL(hv_vm_unmap(vm, 0x13000, 0x1000), HV_OK);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT(!dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    down();
}

/* The data memo under a change of the VM's paging view: a read through a
   1 GiB page translates while CPUID reports 1 GiB pages, faults once an
   override takes them away (the memo filled before must not answer), and
   translates again when they are back. The Xen layer's copies and the
   assist walk in this one view. */
static void test_data_memo_view(void)
{
    up();
    one_gib_mapping();
    gbpages_view(true);
    struct hv_emu_regs r = dm_regs(0, 0);
    const uint64_t la = 0x22010;

    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_READ), ram + 0x22000);
    uint64_t w0 = vcpu->data.walks;
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_EQUAL(vcpu->data.walks, w0); /* from the memo */

    gbpages_view(false);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));
    CU_ASSERT(!dm_walk(&r, la, HV_WALK_READ)); /* PS reserved in a PDPTE */
    CU_ASSERT_EQUAL(vcpu->data.walks, w0 + 1);
    CU_ASSERT_PTR_NULL(dm_host(&r, la, HV_WALK_READ));

    gbpages_view(true);
    CU_ASSERT(dm_walk(&r, la, HV_WALK_READ));
    CU_ASSERT_EQUAL(vcpu->data.walks, w0 + 2);
    CU_ASSERT_PTR_EQUAL(dm_host(&r, la, HV_WALK_READ), ram + 0x22000);
    down();
}

static void test_data_memo(void)
{
    data_memo(); /* the MOV fast path */
    be_ops = &mock_backend_ops_nofast;
    data_memo(); /* the emulator */
    be_ops = &mock_backend_ops;
}

/* Run one scripted NPF of the instruction at linear rip (code page 0x20000). */
static void run_insn(uint64_t rip, const uint8_t *code, size_t len, uint64_t gpa, uint32_t access,
                     struct hv_exit *x)
{
    memcpy(ram + 0x20000 + (rip & 0xfff), code, len);
    mv->st.rip = rip;
    npf_linear(rip, gpa, access);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, x), HV_OK);
}

/* A VM with the local APIC, its vCPU in 64-bit mode at 0x400000 with the
   xAPIC page at linear 0x401000. */
static void lapic_page_up(void)
{
    up_with(true);
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0xfee00000 | PTE_P | PTE_RW; /* 0x401000: the xAPIC page */
    long_mode(0x10000, 0x400000, 0);
}

/* The local APIC's page (a per-vCPU region: its handler gets the vCPU)
   from 64-bit code: plain MOVs there go the MOV path of any region, and
   reach the accessing vCPU's APIC. */
static void test_lapic_page_mov(void)
{
    lapic_page_up();
    uint64_t *g = vcpu->gpr;
    struct hv_lapic *l = vcpu->lapic;
    struct hv_exit x;
    static const uint8_t store[] = {0x89, 0x03}; /* mov [rbx], eax */
    static const uint8_t load[] = {0x8b, 0x03};  /* mov eax, [rbx] */

    g[HV_GPR_RBX] = 0x4010f0; /* SVR: software enable, spurious vector 0xff */
    g[HV_GPR_RAX] = 0x1ff;
    run_insn(0x400000, store, sizeof(store), 0xfee000f0, HV_ACCESS_WRITE, &x);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(l->svr, 0x1ff);
    CU_ASSERT_EQUAL(rip_now(), 0x400002);
    g[HV_GPR_RBX] = 0x401030; /* version: 6 LVT entries, integrated */
    g[HV_GPR_RAX] = ~0ull;
    run_insn(0x400010, load, sizeof(load), 0xfee00030, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0x50014);
    /* The EOI of the vector in service. */
    l->isr[2] = 1u << 5;
    g[HV_GPR_RBX] = 0x4010b0;
    g[HV_GPR_RAX] = 0;
    run_insn(0x400020, store, sizeof(store), 0xfee000b0, HV_ACCESS_WRITE, &x);
    CU_ASSERT_EQUAL(l->isr[2], 0);
    CU_ASSERT_EQUAL(rip_now(), 0x400022);
    down();
}

/* The exit record the fast path fills (vcpu->run_exit) and an NPF vexit
   with nothing set but its kind. */
static void fast_npf_begin(struct hv_exit *x, struct hv_vexit *vx)
{
    memset(x, 0, sizeof(*x));
    vcpu->run_exit = x;
    memset(vx, 0, sizeof(*vx));
    vx->kind = HV_VX_NPF;
}

/* hv_fast_npf as the backends' exit fast paths call it: the region looked
   up first, the registers read from the backend; -1 for no region. */
static int fast_npf(const struct hv_vexit *vx, uint64_t *resume)
{
    const struct mmio_region *rg = hv_fast_mmio_region(vcpu, vx->npf.gpa);
    if (!rg)
        return -1;
    struct hv_fetch_regs fr;
    mock_get_fetch_regs(vcpu, &fr);
    return hv_fast_npf(vcpu, vx, rg, &fr, resume);
}

/*
 * The xAPIC page through the exit fast path (hv_fast_npf): the per-vCPU
 * region is found (it has a fast handler), the EOI register's write is
 * carried out and asks for the event delivery (HV_FAST_DONE_EVENTS);
 * anything else (another register, a load, the x2APIC mode) is declined
 * with nothing changed, for the full path, which then does it.
 */
static void test_lapic_page_fast(void)
{
    lapic_page_up();
    uint64_t *g = vcpu->gpr;
    struct hv_lapic *l = vcpu->lapic;
    static const uint8_t store[] = {0x89, 0x03}; /* mov [rbx], eax */
    static const uint8_t load[] = {0x8b, 0x03};  /* mov eax, [rbx] */
    struct hv_exit x;
    struct hv_vexit vx;
    fast_npf_begin(&x, &vx);
    uint64_t resume = 0;

    CU_ASSERT_PTR_NOT_NULL(hv_fast_mmio_region(vcpu, 0xfee000b0));
    /* The EOI of the vector in service. */
    memcpy(ram + 0x20100, store, sizeof(store));
    mv->st.rip = vx.rip = 0x400100;
    vx.npf.access = HV_ACCESS_WRITE;
    vx.npf.gpa = 0xfee000b0;
    g[HV_GPR_RBX] = 0x4010b0;
    l->isr[2] = 1u << 5;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_DONE_EVENTS);
    CU_ASSERT_EQUAL(l->isr[2], 0);
    CU_ASSERT_EQUAL(resume, 0x400102);
    CU_ASSERT(!vcpu->exit_ready);

    /* SVR: declined, nothing written; the full path writes it. */
    l->isr[2] = 1u << 5;
    g[HV_GPR_RBX] = 0x4010f0;
    g[HV_GPR_RAX] = 0x1ff;
    vx.npf.gpa = 0xfee000f0;
    uint32_t svr = l->svr;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_NONE);
    CU_ASSERT_EQUAL(l->svr, svr);
    CU_ASSERT_EQUAL(l->isr[2], 1u << 5);
    CU_ASSERT(!vcpu->exit_ready);
    run_insn(0x400100, store, sizeof(store), 0xfee000f0, HV_ACCESS_WRITE, &x);
    CU_ASSERT_EQUAL(l->svr, 0x1ff);

    /* A load of the EOI register (it reads 0): declined, RAX untouched. */
    memcpy(ram + 0x20100, load, sizeof(load));
    vx.npf.access = HV_ACCESS_READ;
    vx.npf.gpa = 0xfee000b0;
    g[HV_GPR_RBX] = 0x4010b0;
    g[HV_GPR_RAX] = 0x1234;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_NONE);
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0x1234);

    /* The x2APIC mode: the page is no register; declined. */
    memcpy(ram + 0x20100, store, sizeof(store));
    vx.npf.access = HV_ACCESS_WRITE;
    l->base |= LAPIC_BASE_EXTD;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_NONE);
    CU_ASSERT_EQUAL(l->isr[2], 1u << 5);
    vcpu->run_exit = NULL;
    down();
}

static void test_fast_mov(void)
{
    up();
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0xfee00000 | PTE_P | PTE_RW; /* 0x401000: handler region */
    *pte_at(0x13010) = 0xfed00000 | PTE_P | PTE_RW; /* 0x402000: embedder region */
    long_mode(0x10000, 0x400000, 0);
    uint64_t *g = vcpu->gpr;
    struct hv_exit x;

    /* mov r9, [rbx + rcx*8 + 0x10]: REX.W.R, SIB, disp8; 64-bit handler load. */
    static const uint8_t ld64[] = {0x4c, 0x8b, 0x4c, 0xcb, 0x10};
    reg_file[2] = 0x1122334455667788ull;
    g[HV_GPR_RBX] = 0x400f00;
    g[HV_GPR_RCX] = 0x20;
    nseen = 0;
    run_insn(0x400000, ld64, sizeof(ld64), 0xfee00010, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(g[HV_GPR_R9], 0x1122334455667788ull);
    CU_ASSERT_EQUAL(rip_now(), 0x400005);
    CU_ASSERT_EQUAL(nseen, 1); /* the handler ran once */
    CU_ASSERT_EQUAL(seen[0].gpa, 0xfee00010);
    CU_ASSERT_EQUAL(seen[0].size, 8);

    /* mov [rip + 0x1002], esi: RIP-relative 32-bit handler store. */
    static const uint8_t st32[] = {0x89, 0x35, 0x02, 0x10, 0x00, 0x00};
    g[HV_GPR_RSI] = 0xffffffff12345678ull;
    nseen = 0;
    run_insn(0x400010, st32, sizeof(st32), 0xfee00018, HV_ACCESS_WRITE, &x);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(nseen, 1);
    CU_ASSERT_EQUAL(seen[0].gpa, 0xfee00018);
    CU_ASSERT_EQUAL(seen[0].size, 4);
    CU_ASSERT(seen[0].write);
    CU_ASSERT_EQUAL(reg_file[3], 0x12345678);
    CU_ASSERT_EQUAL(rip_now(), 0x400016);

    /* mov r10d, [r11]: the embedder's load; the completion writes the
       zero-extended value without emulating again. */
    static const uint8_t ld32[] = {0x45, 0x8b, 0x13};
    g[HV_GPR_R10] = ~0ull;
    g[HV_GPR_R11] = 0x402020;
    nseen = 0;
    run_insn(0x400020, ld32, sizeof(ld32), 0xfed00020, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.rip, 0x400020);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00020);
    CU_ASSERT_EQUAL(x.mmio.size, 4);
    CU_ASSERT(!x.mmio.write);
    CU_ASSERT_EQUAL(rip_now(), 0x400020);                     /* not before the completion */
    CU_ASSERT_EQUAL(vcpu->completion, HV_COMPLETE_MMIO_LOAD); /* no re-decoding */
    x.mmio.data = 0xaabbccdd11ull;
    unsigned entries = mv->entries;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(mv->entries, entries + 1);
    CU_ASSERT_EQUAL(g[HV_GPR_R10], 0xbbccdd11ull);
    CU_ASSERT_EQUAL(rip_now(), 0x400023);
    CU_ASSERT_EQUAL(nseen, 0);

    /* mov [r11], rax: the embedder's 64-bit store. */
    static const uint8_t st64[] = {0x49, 0x89, 0x03};
    g[HV_GPR_RAX] = 0x0102030405060708ull;
    run_insn(0x400030, st64, sizeof(st64), 0xfed00020, HV_ACCESS_WRITE, &x);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.size, 8);
    CU_ASSERT(x.mmio.write);
    CU_ASSERT_EQUAL(x.mmio.data, 0x0102030405060708ull);
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0x0102030405060708ull);
    CU_ASSERT_EQUAL(rip_now(), 0x400033);

    /* mov ax, [rbx] (operand-size prefix): not the fast path's; the
       emulator keeps RAX's upper bits. */
    static const uint8_t ld16[] = {0x66, 0x8b, 0x03};
    reg_file[0] = 0xbeef;
    g[HV_GPR_RAX] = 0x1111222233334444ull;
    g[HV_GPR_RBX] = 0x401000;
    nseen = 0;
    run_insn(0x400040, ld16, sizeof(ld16), 0xfee00000, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0x111122223333beefull);
    CU_ASSERT_EQUAL(rip_now(), 0x400043);
    CU_ASSERT_EQUAL(nseen, 1);

    /* mov eax, [rax + 0x10] (8B 80, disp32) whose displacement runs into
       the next code page: the fast path's decoder has the bytes up to the
       code page's end only, so the emulator, which fetches across, takes
       it. The host page after the code page holds other bytes, which
       would make the displacement 0x110: the same page, another register. */
    *pte_at(0x13018) = 0x22000 | PTE_P | PTE_RW; /* linear 0x403000 */
    *pte_at(0x13020) = 0x24000 | PTE_P | PTE_RW; /* linear 0x404000 */
    static const uint8_t ld_disp[] = {0x8b, 0x80, 0x10, 0x00, 0x00, 0x00};
    memcpy(ram + 0x22ffd, ld_disp, 3);
    memcpy(ram + 0x24000, ld_disp + 3, 3);
    memcpy(ram + 0x23000, "\x01\x00\x00", 3);
    reg_file[2] = 0x5a5a5a5a;
    g[HV_GPR_RAX] = 0x401000;
    nseen = 0;
    mv->st.rip = 0x403ffd;
    npf_linear(0x403ffd, 0xfee00000, HV_ACCESS_READ); /* the page only */
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(nseen, 1);
    CU_ASSERT_EQUAL(seen[0].gpa, 0xfee00010);
    CU_ASSERT_EQUAL(g[HV_GPR_RAX], 0x5a5a5a5a);
    CU_ASSERT_EQUAL(rip_now(), 0x404003);

    /* A load crossing into the next page goes to the emulator: the
       handler's page gives two bytes, the embedder's page the other two. */
    g[HV_GPR_RBX] = 0x401ffe;
    static const uint8_t ld32b[] = {0x8b, 0x03}; /* mov eax, [rbx] */
    nseen = 0;
    run_insn(0x400050, ld32b, sizeof(ld32b), 0xfee00ffe, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(nseen, 1);
    CU_ASSERT_EQUAL(seen[0].size, 2);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00000);
    CU_ASSERT_EQUAL(x.mmio.size, 2);
    CU_ASSERT_EQUAL(vcpu->completion, HV_COMPLETE_EMULATION);
    down();
}

/*
 * Single-step over the instructions the assist finishes (core/objects.h
 * hv_step_trap): one #DB (the mock's inject_step) after each completed
 * instruction, at the entry after its completion; none while an embedder
 * round trip leaves it unfinished. The emulator (32-bit) and the MOV fast
 * path (64-bit), each with a handler and with the embedder.
 */
static void test_single_step(void)
{
    up();
    mv->st.rflags = 0x102;                                               /* TF */
    static const uint8_t store[] = {0x89, 0x05, 0x10, 0x00, 0xe0, 0xfe}; /* mov [0xfee00010], eax */
    static const uint8_t add[] = {0x83, 0x05, 0x00, 0x00,
                                  0xd0, 0xfe, 0x05}; /* add dword [0xfed00000], 5 */
    npf_at(0x1000, store, sizeof(store), 0xfee00010, HV_ACCESS_WRITE);
    npf_at(0x1006, add, sizeof(add), 0xfed00000, HV_ACCESS_READ);
    struct hv_exit x;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO); /* the ADD's read */
    CU_ASSERT_EQUAL(mv->steps, 1);           /* the handler's store */
    CU_ASSERT_EQUAL(mv->injected_count, 1);
    CU_ASSERT_EQUAL(mv->injected[0].vector, 1);
    x.mmio.data = 1;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO); /* the ADD's write */
    CU_ASSERT_EQUAL(mv->steps, 1);           /* not finished yet */
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(rip_now(), 0x100d);
    CU_ASSERT_EQUAL(mv->steps, 2);

    /* 64-bit: the fast path's handler load, then the embedder's load. */
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0xfee00000 | PTE_P | PTE_RW; /* 0x401000: handler region */
    *pte_at(0x13010) = 0xfed00000 | PTE_P | PTE_RW; /* 0x402000: embedder region */
    long_mode(0x10000, 0x400000, 0);
    mv->st.rflags = 0x102;
    static const uint8_t ld[] = {0x45, 0x8b, 0x13}; /* mov r10d, [r11] */
    vcpu->gpr[HV_GPR_R11] = 0x401020;
    run_insn(0x400000, ld, sizeof(ld), 0xfee00020, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(x.raw_code, MOCK_END_OF_SCRIPT);
    CU_ASSERT_EQUAL(rip_now(), 0x400003);
    CU_ASSERT_EQUAL(mv->steps, 3);
    vcpu->gpr[HV_GPR_R11] = 0x402020;
    run_insn(0x400010, ld, sizeof(ld), 0xfed00020, HV_ACCESS_READ, &x);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(vcpu->completion, HV_COMPLETE_MMIO_LOAD);
    CU_ASSERT_EQUAL(mv->steps, 3);
    x.mmio.data = 7;
    CU_ASSERT_EQUAL(hv_vcpu_run(vcpu, &x), HV_OK);
    CU_ASSERT_EQUAL(vcpu->gpr[HV_GPR_R10], 7);
    CU_ASSERT_EQUAL(rip_now(), 0x400013);
    CU_ASSERT_EQUAL(mv->steps, 4);
    down();
}

/*
 * The backends' exit fast path calls the assist without the run loop
 * (core/fast.h hv_fast_npf), the region looked up first
 * (hv_fast_mmio_region) and the registers read by the backend: a
 * handler's access is finished, RIP left for the backend to move to the
 * resume address; an embedder's exit is filled into vcpu->run_exit with
 * exit_ready set; a present or spurious fault is left alone with nothing
 * done; a fault outside the regions, or in the per-vCPU region, finds no
 * region.
 */
static void test_fast_npf(void)
{
    up();
    build_tables(0x10000, 0x20000, 0);
    *pte_at(0x13008) = 0xfee00000 | PTE_P | PTE_RW; /* 0x401000: handler region */
    *pte_at(0x13010) = 0xfed00000 | PTE_P | PTE_RW; /* 0x402000: embedder region */
    long_mode(0x10000, 0x400100, 0);
    uint64_t *g = vcpu->gpr;
    struct hv_exit x;
    struct hv_vexit vx;
    fast_npf_begin(&x, &vx);
    vx.rip = 0x400100;
    vx.npf.access = HV_ACCESS_READ;
    static const uint8_t ld[] = {0x4c, 0x8b, 0x0b}; /* mov r9, [rbx] */
    memcpy(ram + 0x20100, ld, sizeof(ld));

    g[HV_GPR_RBX] = 0x401008;
    reg_file[1] = 0x5555aaaa5555aaaaull;
    vx.npf.gpa = 0xfee00008;
    nseen = 0;
    uint64_t resume = 0;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_DONE);
    CU_ASSERT_EQUAL(g[HV_GPR_R9], 0x5555aaaa5555aaaaull);
    CU_ASSERT_EQUAL(resume, 0x400103);
    CU_ASSERT_EQUAL(rip_now(), 0x400100); /* the backend's to move */
    CU_ASSERT_EQUAL(nseen, 1);
    CU_ASSERT(!vcpu->exit_ready);

    g[HV_GPR_RBX] = 0x402010;
    vx.npf.gpa = 0xfed00010;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_EXIT);
    CU_ASSERT(vcpu->exit_ready);
    CU_ASSERT_EQUAL(x.reason, HV_EXIT_MMIO);
    CU_ASSERT_EQUAL(x.rip, 0x400100);
    CU_ASSERT_EQUAL(x.mmio.gpa, 0xfed00010);
    CU_ASSERT_EQUAL(x.mmio.size, 8);
    CU_ASSERT_EQUAL(vcpu->completion, HV_COMPLETE_MMIO_LOAD);
    CU_ASSERT_EQUAL(rip_now(), 0x400100); /* advanced by the completion */
    vcpu->exit_ready = false;
    vcpu->completion = HV_COMPLETE_NONE;

    /* A present fault, and a fault on a page mapped since (spurious: the
       access is retried, no handler runs). */
    g[HV_GPR_RBX] = 0x401008;
    vx.npf.gpa = 0xfee00008;
    vx.npf.present = 1;
    nseen = 0;
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_NONE);
    vx.npf.present = 0;
    CU_ASSERT_EQUAL(hv_vm_map(vm, 0xfee00000, ram_hpa + 0x80000, 0x1000, HV_MEM_RWX), HV_OK);
    CU_ASSERT_EQUAL(fast_npf(&vx, &resume), HV_FAST_NONE);
    CU_ASSERT_EQUAL(nseen, 0);
    CU_ASSERT_EQUAL(rip_now(), 0x400100);
    CU_ASSERT(!vcpu->exit_ready);

    /* No region: outside every one, and a per-vCPU one without a fast
       handler (the full path's). The hint (the embedder region, found
       last) is no match. */
    CU_ASSERT_PTR_NULL(hv_fast_mmio_region(vcpu, 0xfec00000));
    CU_ASSERT_PTR_NULL(hv_fast_mmio_region(vcpu, 0xfed01000));
    CU_ASSERT_EQUAL(hv_assist_register_vcpu(vm, 0xfec00000, 0x1000, regfile, NULL), HV_OK);
    CU_ASSERT_PTR_NULL(hv_fast_mmio_region(vcpu, 0xfec00010));
    CU_ASSERT_PTR_NOT_NULL(hv_fast_mmio_region(vcpu, 0xfed00fff));
    vcpu->run_exit = NULL;
    down();
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("assist", NULL, NULL);
    CU_add_test(s, "handler region completes inside the library", test_handler_region);
    CU_add_test(s, "embedder region: exits and replay", test_embedder_region);
    CU_add_test(s, "REP OUTSB one access per exit", test_rep_outsb);
    CU_add_test(s, "handler access replayed, not repeated", test_handler_then_embedder);
    CU_add_test(s, "unclaimed memory, unsupported insn, faults", test_unclaimed_and_faults);
    CU_add_test(s, "region arguments", test_region_args);
    CU_add_test(s, "memoized instruction fetch and its invalidation", test_fetch_memo);
    CU_add_test(s, "memoized fetch through 4-byte entries", test_fetch_memo_32bit);
    CU_add_test(s, "memoized fetch under a changed paging view", test_fetch_memo_view);
    CU_add_test(s, "memoized data translation of the assist", test_data_memo);
    CU_add_test(s, "the data memo's host pointer and its invalidation", test_data_memo_host);
    CU_add_test(s, "memoized data walk under a changed paging view", test_data_memo_view);
    CU_add_test(s, "MOV fast path: handler, embedder, fallbacks", test_fast_mov);
    CU_add_test(s, "local APIC page from 64-bit code", test_lapic_page_mov);
    CU_add_test(s, "local APIC page's EOI in the exit fast path", test_lapic_page_fast);
    CU_add_test(s, "exit fast path: hv_fast_npf", test_fast_npf);
    CU_add_test(s, "single-step #DB after finished instructions", test_single_step);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
