/*
 * hm: hypercalls that rewrite, while they run, what they are using
 * (hostile.midcall). The guest is the Xen test guest's entry code and
 * library (../xen) with this file's xg_main().
 *
 * A 4 KiB-page window at gva 1 GiB (PDPT[1] -> pd_w -> pt_w) lets the
 * guest place hypercall arguments on pages whose page-table entries the
 * call itself overwrites:
 *
 *   gntcopy  a GNTTABOP_copy batch whose first op copies (by frame number)
 *            a new PTE over the entry that maps the next op (or its own
 *            op): the later access uses the new translation (Xen walks
 *            the guest's tables at every access; so does libhv) to a
 *            valid page, a not-present entry, the hole, a gpa beyond
 *            MAXPHYADDR, the host's read-only page. Exact return values
 *            and statuses; nothing written where the old translation
 *            pointed.
 *   tables   xen_version and memory_op output written over the guest's
 *            own PML4, PDPT and page table, including the entry that
 *            maps the rest of the same output buffer and the PDPT entry
 *            through which the call's own argument structure is reached.
 *   hcpage   console_io reading into the very stub that is executing it,
 *            then hypercalls from the overwritten page (a stub the guest
 *            wrote itself, and the page re-installed through the MSR).
 *
 * Every check prints FAIL on the console when it does not hold; the host
 * case expects "xg: all ok" and a poweroff.
 */
#include "xg.h"

#define W         0x40000000ul /* the window's gva */
#define PTE_P     1ull
#define PTE_RW    2ull
#define PTE_AD    0x60ull /* accessed, dirty: set by the walks, as by the CPU */
#define ADDR_MASK 0x000ffffffffff000ull
#define SENTINEL  0x7777
#define FILL      0xee

static uint64_t pd_w[512] __attribute__((aligned(4096)));
static uint64_t pt_w[512] __attribute__((aligned(4096)));
/* Data pages (identity-mapped: gva == gpa below 1 GiB). */
static uint8_t pg[8][4096] __attribute__((aligned(4096)));
static uint8_t saved_page[4096];

static uint64_t pte(const void *p)
{
    return (uint64_t)(ureg)p | PTE_P | PTE_RW;
}

static ureg read_cr3(void)
{
    ureg v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

/* Drop every cached translation (no global pages here). */
static void flush_tlb(void)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
}

static uint64_t *pml4(void)
{
    return (uint64_t *)(read_cr3() & ADDR_MASK);
}

static uint64_t *pdpt(void)
{
    return (uint64_t *)(ureg)(pml4()[0] & ADDR_MASK);
}

static void *wva(unsigned page, unsigned off)
{
    return (void *)(W + (ureg)page * 4096 + off);
}

static void window_reset(void)
{
    memset(pd_w, 0, sizeof(pd_w));
    memset(pt_w, 0, sizeof(pt_w));
    pd_w[0] = pte(pt_w);
    pdpt()[1] = pte(pd_w);
    flush_tlb();
}

static void window_off(void)
{
    pdpt()[1] = 0;
    flush_tlb();
}

static long gnttab_copy(void *ops, unsigned n)
{
    return HC3(HC_grant_table_op, GNTTABOP_copy, ops, n);
}

static void copy_op(struct gnttab_copy *op, const void *src, unsigned soff, const void *dst,
                    unsigned doff, unsigned len)
{
    memset(op, 0, sizeof(*op));
    op->source.u.gmfn = (ureg)src >> 12;
    op->source.domid = DOMID_SELF;
    op->source.offset = (uint16_t)soff;
    op->dest.u.gmfn = (ureg)dst >> 12;
    op->dest.domid = DOMID_SELF;
    op->dest.offset = (uint16_t)doff;
    op->len = (uint16_t)len;
    op->status = SENTINEL;
}

#define OPSZ sizeof(struct gnttab_copy)
_Static_assert(sizeof(struct gnttab_copy) == 40, "gnttab_copy layout (grant_table.h, x86-64)");
#define STATUS_OFF 36u

/*
 * Window page 0 -> pg[3] holds op 0 at its end; page 1 -> pg[4] holds op 1
 * at its start. Op 0 copies the 8 bytes at pg[0] over pt_w[1] (the entry
 * of page 1): op 1 is then read through `new_pte`. A second op 1 waits in
 * pg[2] (the valid new target). Op 1 copies 16 bytes into pg[5].
 */
static long redirect_next(uint64_t new_pte, struct gnttab_copy **op0, struct gnttab_copy **op1_old,
                          struct gnttab_copy **op1_new)
{
    window_reset();
    for (unsigned i = 0; i < 8; i++)
        memset(pg[i], FILL, 4096);
    memcpy(pg[0], &new_pte, 8);
    memcpy(pg[1], "old-translation.", 16);
    memcpy(pg[1] + 64, "new-translation.", 16);
    pt_w[0] = pte(pg[3]);
    pt_w[1] = pte(pg[4]);
    *op0 = (struct gnttab_copy *)(void *)(pg[3] + 4096 - OPSZ);
    *op1_old = (struct gnttab_copy *)(void *)pg[4];
    *op1_new = (struct gnttab_copy *)(void *)pg[2];
    copy_op(*op0, pg[0], 0, pt_w, 8, 8);
    copy_op(*op1_old, pg[1], 0, pg[5], 0, 16);
    copy_op(*op1_new, pg[1], 64, pg[5], 0, 16);
    flush_tlb();
    return gnttab_copy(wva(0, 4096 - OPSZ), 2);
}

static void test_gntcopy(void)
{
    struct gnttab_copy *op0, *old1, *new1;

    /* To a valid page: op 1 is read and its status written through the new entry. */
    long r = redirect_next(pte(pg[2]), &op0, &old1, &new1);
    CHECK_EQ(r, 0);
    CHECK_EQ(op0->status, GNTST_okay);
    CHECK_EQ(pt_w[1] & ~PTE_AD, pte(pg[2]));
    CHECK_EQ(new1->status, GNTST_okay);
    CHECK_EQ(old1->status, SENTINEL);
    CHECK(!memcmp(pg[5], "new-translation.", 16));

    /* To a not-present entry, the hole, beyond MAXPHYADDR: op 1 cannot be
       read, the batch stops with -EFAULT after op 0. */
    static const uint64_t bad[] = {
        0,
        XG_HOLE_GPA | PTE_P | PTE_RW,
        0x000ffffffffff000ull | PTE_P | PTE_RW,
        0x00000ff000000000ull | PTE_P | PTE_RW,
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = redirect_next(bad[i], &op0, &old1, &new1);
        CHECK_EQ(r, -EFAULT);
        CHECK_EQ(op0->status, GNTST_okay);
        CHECK_EQ(pt_w[1] & ~PTE_AD, bad[i]);
        CHECK_EQ(old1->status, SENTINEL);
        CHECK_EQ(new1->status, SENTINEL);
        CHECK(xg_all(pg[5], FILL, 4096));
    }

    /* To the host's read-only page: op 1 reads as XG_RO_BYTE (a bad frame,
       so a failed op), and its status cannot be written back: -EFAULT. */
    r = redirect_next(XG_RO_GPA | PTE_P | PTE_RW, &op0, &old1, &new1);
    CHECK_EQ(r, -EFAULT);
    CHECK_EQ(op0->status, GNTST_okay);
    CHECK(xg_all((const void *)(ureg)XG_RO_GPA, XG_RO_BYTE, 4096));
    CHECK(xg_all(pg[5], FILL, 4096));

    /* Op 0 rewrites the entry of its own page: its status goes through the
       new entry (to pg[6]), op 1 is unaffected. */
    window_reset();
    for (unsigned i = 0; i < 8; i++)
        memset(pg[i], FILL, 4096);
    uint64_t to6 = pte(pg[6]);
    memcpy(pg[0], &to6, 8);
    memcpy(pg[1], "op-one-data-here", 16);
    pt_w[0] = pte(pg[3]);
    pt_w[1] = pte(pg[4]);
    op0 = (struct gnttab_copy *)(void *)(pg[3] + 4096 - OPSZ);
    old1 = (struct gnttab_copy *)(void *)pg[4];
    copy_op(op0, pg[0], 0, pt_w, 0, 8);
    copy_op(old1, pg[1], 0, pg[5], 0, 16);
    flush_tlb();
    r = gnttab_copy(wva(0, 4096 - OPSZ), 2);
    CHECK_EQ(r, 0);
    CHECK_EQ(pt_w[0] & ~PTE_AD, to6);
    int16_t st6;
    memcpy(&st6, pg[6] + 4096 - OPSZ + STATUS_OFF, 2);
    CHECK_EQ(st6, GNTST_okay);       /* the new translation */
    CHECK_EQ(op0->status, SENTINEL); /* not the old one */
    CHECK_EQ(old1->status, GNTST_okay);
    CHECK(!memcmp(pg[5], "op-one-data-here", 16));
    window_off();
}

static void test_tables(void)
{
    uint64_t *l4 = pml4(), *l3 = pdpt();

    /* XENVER_extraversion over the unused upper half of the PML4. */
    char ref[16], saved[16];
    CHECK_EQ(HC2(HC_xen_version, XENVER_extraversion, ref), 0);
    memcpy(saved, &l4[256], 16);
    CHECK_EQ(HC2(HC_xen_version, XENVER_extraversion, &l4[256]), 0);
    CHECK(!memcmp(&l4[256], ref, 16));
    memcpy(&l4[256], saved, 16);
    flush_tlb();

    /* XENMEM_memory_map: the reference, then the map written over PDPT[2..]
       with the argument structure in the PDPT page too. */
    struct e820entry map[8];
    struct xen_memory_map mm = {.nr_entries = 8, .buffer = map};
    CHECK_EQ(HC2(HC_memory_op, XENMEM_memory_map, &mm), 0);
    unsigned n = mm.nr_entries;
    CHECK(n >= 1 && n <= 8);
    struct xen_memory_map *in_l3 = (struct xen_memory_map *)(void *)&l3[500];
    in_l3->nr_entries = n;
    in_l3->buffer = &l3[2];
    CHECK_EQ(HC2(HC_memory_op, XENMEM_memory_map, in_l3), 0);
    CHECK_EQ(in_l3->nr_entries, n);
    CHECK(!memcmp(&l3[2], map, n * sizeof(map[0])));
    memset(&l3[2], 0, n * sizeof(map[0]));
    memset(in_l3, 0, sizeof(*in_l3));
    flush_tlb();

    /* The map over PDPT[1] itself, while the argument structure is reached
       through PDPT[1] (the window): the map goes out, then the write-back
       of nr_entries walks the rewritten entry. */
    window_reset();
    pt_w[0] = pte(pg[7]);
    struct xen_memory_map *via_w = wva(0, 0), *phys = (struct xen_memory_map *)(void *)pg[7];
    phys->nr_entries = 1;
    phys->buffer = &l3[1];
    uint64_t want_l3_1;
    memcpy(&want_l3_1, &map[0], 8);
    uint64_t l3_saved[3];
    memcpy(l3_saved, &l3[1], sizeof(l3_saved));
    long r = HC2(HC_memory_op, XENMEM_memory_map, via_w);
    CHECK_EQ(l3[1], want_l3_1); /* the first 8 bytes of entry 0 */
    memcpy(&l3[1], l3_saved, sizeof(l3_saved));
    flush_tlb();
    if (!(want_l3_1 & PTE_P)) {
        CHECK_EQ(r, -EFAULT);
    } else {
        /* A present entry to somewhere in guest-physical space: the access
           is checked like any other, whatever it finds. */
        CHECK(r == 0 || r == -EFAULT);
    }
    CHECK_EQ(phys->nr_entries, 1);
    xg_printf("hm: memory_map over PDPT[1] -> 0x%llx: %ld\n", (unsigned long long)want_l3_1, r);
    window_reset();

    /* XENVER_capabilities (1024 bytes) through a window page that is the
       page table itself: its bytes land on pt_w[385..511], among them
       pt_w[401], the entry of the buffer's last 8 bytes. */
    char caps[1024];
    CHECK_EQ(HC2(HC_xen_version, XENVER_capabilities, caps), 0);
    uint64_t want401;
    memcpy(&want401, caps + (401 - 385) * 8, 8);
    pt_w[400] = pte(pt_w);
    pt_w[401] = pte(pg[5]);
    memset(pg[5], FILL, 4096);
    flush_tlb();
    r = HC2(HC_xen_version, XENVER_capabilities, wva(400, 385 * 8));
    CHECK(!memcmp((uint8_t *)pt_w + 385 * 8, caps, 4096 - 385 * 8));
    CHECK_EQ(pt_w[401], want401);
    xg_printf("hm: capabilities over PTE[401] -> 0x%llx: %ld\n", (unsigned long long)want401, r);
    if (!(want401 & PTE_P)) {
        /* The tail's page is no longer mapped: Xen's -EFAULT, nothing
           written where the old entry pointed. */
        CHECK_EQ(r, -EFAULT);
        CHECK(xg_all(pg[5], FILL, 4096));
    }
    window_off();
}

static void test_hcpage(void)
{
    /* Reference results through the intact page. */
    long ver = HC2(HC_xen_version, XENVER_version, 0);
    CHECK(ver > 0);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, 32, hypercall_page), 0);
    memcpy(saved_page, hypercall_page, 4096);

    /* console_io reads 4 bytes over the stub that is executing it (its
       MOV, already executed; the VMCALL and RET after it stay). */
    uint8_t *stub = hypercall_page + 32 * HC_console_io;
    long got = HC3(HC_console_io, CONSOLEIO_read, 4, stub);
    bool stub_rewritten = !memcmp(stub, "inpu", 4);

    /* A hypercall from the overwritten page: everything INT3 but a stub the
       guest wrote itself (xen_version's original bytes). */
    memset(hypercall_page, 0xcc, 4096);
    memcpy(hypercall_page + 32 * HC_xen_version, saved_page + 32 * HC_xen_version, 32);
    long ver2 = HC2(HC_xen_version, XENVER_version, 0);

    /* Install the page again: Xen rewrites it in full. */
    xg_install_hypercall_page();
    bool restored = !memcmp(hypercall_page, saved_page, 4096);

    CHECK_EQ(got, 4);
    CHECK(stub_rewritten);
    CHECK_EQ(ver2, ver);
    CHECK(restored);
    CHECK_EQ(HC3(HC_console_io, CONSOLEIO_write, 3, "ok\n"), 0);
}

static const struct {
    const char *name;
    void (*fn)(void);
} groups[] = {
    {"gntcopy", test_gntcopy},
    {"tables", test_tables},
    {"hcpage", test_hcpage},
};

void xg_main(const struct hvm_start_info *si)
{
    xg_boot(si);
    xg_map_shared_info();
    xg_printf("hm: hostile mid-call guest, dom %u\n", xg_domid);
    for (unsigned i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        unsigned f0 = xg_failures, c0 = xg_checks;
        groups[i].fn();
        xg_printf("hm: %s: %u checks, %u failed\n", groups[i].name, xg_checks - c0,
                  xg_failures - f0);
    }
    if (xg_failures) {
        xg_printf("xg: FAILED (%u of %u checks)\n", xg_failures, xg_checks);
        xg_shutdown(SHUTDOWN_crash);
    }
    xg_printf("xg: all ok (%u checks)\n", xg_checks);
    xg_shutdown(SHUTDOWN_poweroff);
}
