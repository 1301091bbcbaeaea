/*
 * The multi-party tests of the Xen test guest:
 *  - a small split driver: the front end grants a ring page and a data
 *    page and offers an event channel; the back end (another guest, or the
 *    host itself when peer=0) reaches the ring with GNTTABOP_copy (a
 *    guest) or hv_xen_grant_map() (the host), answers the requests and
 *    signals back. Layout: xg_layout.h.
 *  - the PV console: the ring at HVM_PARAM_CONSOLE_PFN, which the host
 *    drives through hv_xen_pvcons_*().
 */
#include "xg.h"

#define MS      1000000ull
#define WAIT_NS (20000 * MS)

static uint8_t ring[4096] __attribute__((aligned(4096)));
static uint8_t data[4096] __attribute__((aligned(4096)));
static uint8_t gnt[4096] __attribute__((aligned(4096)));
static uint8_t local[4096] __attribute__((aligned(4096)));

static volatile uint32_t *r32(uint8_t *page, unsigned off)
{
    return (volatile uint32_t *)(page + off);
}

static void map_grant_frame(void)
{
    struct xen_add_to_physmap a = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = (ureg)gnt >> 12};
    CHECK_EQ(HC2(HC_memory_op, XENMEM_add_to_physmap, &a), 0);
}

static uint32_t data_sum(const uint8_t *p)
{
    uint32_t s = 0;
    for (unsigned i = 0; i < 4096; i++)
        s += p[i];
    return s;
}

/* ---- front end ---- */

static void push(unsigned id, uint32_t op, uint32_t val)
{
    unsigned slot = id % XG_RING_SLOTS;
    *r32(ring, XG_RING_OFF_REQ + slot * XG_REQ_SIZE) = id;
    *r32(ring, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 4) = op;
    *r32(ring, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 8) = val;
}

static bool wait_responses(evtchn_port_t port, uint32_t n)
{
    uint64_t end = xg_now() + WAIT_NS;
    while (*r32(ring, XG_RING_OFF_RSPPROD) < n) {
        if (xg_now() >= end)
            return false;
        xg_wait_port(port, end - xg_now());
    }
    return true;
}

static void check_response(unsigned id, uint32_t want)
{
    unsigned slot = id % XG_RING_SLOTS;
    CHECK_EQ(*r32(ring, XG_RING_OFF_RSP + slot * XG_RSP_SIZE), id);
    CHECK_EQ(*r32(ring, XG_RING_OFF_RSP + slot * XG_RSP_SIZE + 4), want);
}

void xg_run_front(void)
{
    bool host = xg_peer == 0; /* the host maps the pages instead of copying */
    map_grant_frame();
    volatile struct grant_entry_v1 *g = (volatile struct grant_entry_v1 *)gnt;
    for (unsigned i = 0; i < 4096; i++)
        data[i] = (uint8_t)(i * 13 + 5);
    evtchn_port_t port;
    CHECK_EQ(xg_alloc_unbound((uint16_t)xg_peer, &port), 0);
    memset(ring, 0, sizeof(ring));
    *r32(ring, XG_RING_OFF_PORT) = port;
    /* Frame and domain first, then the flags that make the entry valid. */
    g[XG_RING_GREF].domid = (uint16_t)xg_peer;
    g[XG_RING_GREF].frame = (uint32_t)((ureg)ring >> 12);
    g[XG_DATA_GREF].domid = (uint16_t)xg_peer;
    g[XG_DATA_GREF].frame = (uint32_t)((ureg)data >> 12);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    g[XG_RING_GREF].flags = GTF_permit_access;
    g[XG_DATA_GREF].flags = GTF_permit_access | GTF_readonly;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *r32(ring, XG_RING_OFF_MAGIC) = XG_RING_MAGIC;

    /* Batch 1, before the back end is connected: it reads the ring when it
       binds (the send on the still-unbound port is dropped). */
    for (unsigned i = 0; i < 4; i++)
        push(i, XG_OP_SQUARE, i + 3);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *r32(ring, XG_RING_OFF_REQPROD) = 4;
    CHECK_EQ(xg_send(port), 0);
    CHECK(wait_responses(port, 4));
    for (unsigned i = 0; i < 4; i++)
        check_response(i, (i + 3) * (i + 3));
    struct evtchn_status st = {.dom = DOMID_SELF, .port = port};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_status, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(st.u.interdomain.dom, xg_peer);
    if (host) /* the host keeps the ring mapped: Xen marks the entry in use */
        CHECK_EQ(g[XG_RING_GREF].flags, GTF_permit_access | GTF_reading | GTF_writing);
    else /* copies mark it only while they run */
        CHECK_EQ(g[XG_RING_GREF].flags, GTF_permit_access);

    /* Batch 2 wakes the connected back end through the event channel. */
    push(4, XG_OP_SQUARE, 1000);
    push(5, XG_OP_SUM, 0);
    push(6, XG_OP_SQUARE, 65535);
    push(7, XG_OP_QUIT, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *r32(ring, XG_RING_OFF_REQPROD) = 8;
    CHECK_EQ(xg_send(port), 0);
    CHECK(wait_responses(port, 8));
    check_response(4, 1000000);
    check_response(5, data_sum(data));
    check_response(6, 65535u * 65535u);
    check_response(7, 0);
    /* The back end is done with the pages: nothing marks them in use. */
    CHECK_EQ(g[XG_RING_GREF].flags, GTF_permit_access);
    CHECK_EQ(g[XG_DATA_GREF].flags, GTF_permit_access | GTF_readonly);
    g[XG_RING_GREF].flags = 0;
    g[XG_DATA_GREF].flags = 0;
    CHECK_EQ(xg_close(port), 0);
    xg_printf("xg: front end: 8 requests answered by %s\n", host ? "the host" : "the back end");
}

/* ---- back end (a guest, through grant copies) ---- */

static int16_t copy(grant_ref_t ref, uint16_t off, void *buf, uint16_t len, bool to_front)
{
    struct gnttab_copy op;
    memset(&op, 0, sizeof(op));
    ureg gmfn = (ureg)buf >> 12;
    uint16_t loff = (uint16_t)((ureg)buf & 0xfff);
    if (to_front) {
        op.source.u.gmfn = gmfn;
        op.source.domid = DOMID_SELF;
        op.source.offset = loff;
        op.dest.u.ref = ref;
        op.dest.domid = (uint16_t)xg_peer;
        op.dest.offset = off;
        op.flags = GNTCOPY_dest_gref;
    } else {
        op.source.u.ref = ref;
        op.source.domid = (uint16_t)xg_peer;
        op.source.offset = off;
        op.dest.u.gmfn = gmfn;
        op.dest.domid = DOMID_SELF;
        op.dest.offset = loff;
        op.flags = GNTCOPY_source_gref;
    }
    op.len = len;
    long rc = HC3(HC_grant_table_op, GNTTABOP_copy, &op, 1);
    return rc ? (int16_t)rc : op.status;
}

void xg_run_back(void)
{
    /* Wait for the front end's grant and ring; until then copies fail. */
    uint64_t end = xg_now() + WAIT_NS;
    int16_t st;
    unsigned tries = 0;
    while ((st = copy(XG_RING_GREF, 0, local, 256, false)) != GNTST_okay ||
           *r32(local, XG_RING_OFF_MAGIC) != XG_RING_MAGIC) {
        CHECK(st == GNTST_okay || st == GNTST_general_error);
        if (xg_now() >= end) {
            xg_printf("FAIL: no ring from the front end (status %d)\n", st);
            xg_failures++;
            return;
        }
        tries++;
        xg_sched(SCHEDOP_yield, NULL);
    }
    struct evtchn_bind_interdomain bi = {.remote_dom = (uint16_t)xg_peer,
                                         .remote_port = *r32(local, XG_RING_OFF_PORT)};
    CHECK_EQ(xg_evtchn_op(EVTCHNOP_bind_interdomain, &bi), 0);
    evtchn_port_t port = bi.local_port;
    /* The data page is read-only for us. */
    uint8_t byte = 0;
    CHECK_EQ(copy(XG_DATA_GREF, 0, &byte, 1, true), GNTST_general_error);
    CHECK_EQ(copy(XG_DATA_GREF + 100, 0, local, 1, false), GNTST_general_error);

    uint32_t cons = 0;
    bool quit = false;
    end = xg_now() + WAIT_NS;
    while (!quit && xg_now() < end) {
        CHECK_EQ(copy(XG_RING_GREF, 0, local, 256, false), GNTST_okay);
        uint32_t prod = *r32(local, XG_RING_OFF_REQPROD);
        if (prod - cons > XG_RING_SLOTS) {
            xg_printf("FAIL: ring producer %u, consumer %u\n", prod, cons);
            xg_failures++;
            break;
        }
        if (prod == cons) {
            xg_wait_port(port, end - xg_now());
            continue;
        }
        for (; cons != prod; cons++) {
            unsigned slot = cons % XG_RING_SLOTS;
            uint32_t id = *r32(local, XG_RING_OFF_REQ + slot * XG_REQ_SIZE);
            uint32_t op = *r32(local, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 4);
            uint32_t val = *r32(local, XG_RING_OFF_REQ + slot * XG_REQ_SIZE + 8);
            uint32_t rsp[2] = {id, 0};
            if (op == XG_OP_SQUARE) {
                rsp[1] = val * val;
            } else if (op == XG_OP_SUM) {
                static uint8_t page[4096] __attribute__((aligned(4096)));
                CHECK_EQ(copy(XG_DATA_GREF, 0, page, 4096, false), GNTST_okay);
                rsp[1] = data_sum(page);
            } else if (op == XG_OP_QUIT) {
                quit = true;
            }
            CHECK_EQ(
                copy(XG_RING_GREF, (uint16_t)(XG_RING_OFF_RSP + slot * XG_RSP_SIZE), rsp, 8, true),
                GNTST_okay);
        }
        uint32_t rp = cons;
        CHECK_EQ(copy(XG_RING_GREF, XG_RING_OFF_RSPPROD, &rp, 4, true), GNTST_okay);
        CHECK_EQ(xg_send(port), 0);
    }
    CHECK(quit);
    CHECK_EQ(xg_close(port), 0);
    xg_printf("xg: back end: %u requests served (waited %u times for the ring)\n", cons, tries);
}

/* ---- the PV console ---- */

void xg_test_pvcons(void)
{
    uint64_t pfn = 0, ev = 0;
    CHECK_EQ(xg_get_param(HVM_PARAM_CONSOLE_PFN, &pfn), 0);
    CHECK_EQ(xg_get_param(HVM_PARAM_CONSOLE_EVTCHN, &ev), 0);
    CHECK_EQ(pfn, XG_PVCONS_GPA >> 12);
    CHECK(ev > 0 && ev < 64);
    if (xg_failures)
        return;
    volatile struct xencons_interface *c = (volatile struct xencons_interface *)(ureg)(pfn << 12);
    evtchn_port_t port = (evtchn_port_t)ev;

    static const char hello[] = "hello from the PV console\n";
    uint32_t prod = c->out_prod;
    for (unsigned i = 0; i < sizeof(hello) - 1; i++)
        c->out[(prod + i) % sizeof(c->out)] = hello[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    c->out_prod = prod + (uint32_t)(sizeof(hello) - 1);
    CHECK_EQ(xg_send(port), 0);

    /* The host answers with a line of input. */
    char line[64];
    unsigned n = 0;
    uint64_t end = xg_now() + WAIT_NS;
    while ((n == 0 || line[n - 1] != '\n') && n < sizeof(line) - 1) {
        uint32_t cons = c->in_cons, in_prod = c->in_prod;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (in_prod - cons > sizeof(c->in)) {
            xg_printf("FAIL: console input ring corrupt\n");
            xg_failures++;
            return;
        }
        while (cons != in_prod && n < sizeof(line) - 1)
            line[n++] = c->in[cons++ % sizeof(c->in)];
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        c->in_cons = cons;
        if (n && line[n - 1] == '\n')
            break;
        if (xg_now() >= end) {
            xg_printf("FAIL: no console input\n");
            xg_failures++;
            return;
        }
        xg_wait_port(port, end - xg_now());
    }
    line[n] = 0;
    CHECK(n == 5 && !memcmp(line, "ping\n", 5));
    /* Echo it on the ring, and the host consumed the first line. */
    static const char echo[] = "echo: ";
    prod = c->out_prod;
    for (unsigned i = 0; i < sizeof(echo) - 1; i++)
        c->out[(prod + i) % sizeof(c->out)] = echo[i];
    prod += sizeof(echo) - 1;
    for (unsigned i = 0; i < n; i++)
        c->out[(prod + i) % sizeof(c->out)] = line[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    c->out_prod = prod + n;
    CHECK_EQ(xg_send(port), 0);
    CHECK(c->out_cons >= sizeof(hello) - 1);
    xg_printf("xg: pvcons: got \"ping\" from the host\n");
}
