/*
 * xen.grub_store: the minimal xenstore server of the xen.grub case
 * (xen_store.h) against a ring page written the way a guest would, and
 * the way a hostile guest would: answers and their headers, watches and
 * their events, split and wrapping transfers, a full response ring,
 * malformed requests, and ring indices or lengths that mark the ring
 * broken. No VM is involved (the
 * event-channel notification then fails harmlessly).
 */
#include "core/util.h"
#include "kcase.h"
#include "xen_store.h"

struct rig {
    uint8_t *page;
    struct xstore *s;
};

static uint32_t idx(struct rig *r, uint32_t off)
{
    uint32_t v;
    hv_memcpy(&v, r->page + off, 4);
    return v;
}

static void set_idx(struct rig *r, uint32_t off, uint32_t v)
{
    hv_memcpy(r->page + off, &v, 4);
}

/* Append bytes to the request ring as a guest does. */
static void put_bytes(struct rig *r, const void *p, uint32_t n)
{
    uint32_t prod = idx(r, XSTORE_OFF_REQ_PROD);
    for (uint32_t i = 0; i < n; i++)
        r->page[XSTORE_OFF_REQ + (prod + i) % XSTORE_RING] = ((const uint8_t *)p)[i];
    set_idx(r, XSTORE_OFF_REQ_PROD, prod + n);
}

static void put_header(struct rig *r, uint32_t type, uint32_t req_id, uint32_t len)
{
    uint32_t h[4] = {type, req_id, 7 /* tx_id */, len};
    put_bytes(r, h, sizeof(h));
}

static void put_req(struct rig *r, uint32_t type, uint32_t req_id, const char *path)
{
    uint32_t len = (uint32_t)hv_strlen(path) + 1;
    put_header(r, type, req_id, len);
    put_bytes(r, path, len);
}

/* Take one whole answer from the response ring; false if none is there. */
static bool get_rsp(struct rig *r, uint32_t hdr[4], char *body, uint32_t cap)
{
    uint32_t cons = idx(r, XSTORE_OFF_RSP_CONS), prod = idx(r, XSTORE_OFF_RSP_PROD);
    if (prod - cons < 16)
        return false;
    uint8_t raw[16];
    for (uint32_t i = 0; i < 16; i++)
        raw[i] = r->page[XSTORE_OFF_RSP + (cons + i) % XSTORE_RING];
    hv_memcpy(hdr, raw, 16);
    if (hdr[3] >= cap || prod - cons < 16 + hdr[3])
        return false;
    for (uint32_t i = 0; i < hdr[3]; i++)
        body[i] = (char)r->page[XSTORE_OFF_RSP + (cons + 16 + i) % XSTORE_RING];
    body[hdr[3]] = 0;
    set_idx(r, XSTORE_OFF_RSP_CONS, cons + 16 + hdr[3]);
    return true;
}

/* One request, one answer of @p type with body @p body (length @p len). */
static int expect(struct kcase_ctx *kc, struct rig *r, uint32_t req_id, uint32_t type,
                  const char *body, uint32_t len)
{
    uint32_t hdr[4];
    char got[128];
    xstore_poll(r->s);
    if (!get_rsp(r, hdr, got, sizeof(got)))
        return kcase_fail(kc, "request %u: no answer", req_id);
    if (hdr[0] != type || hdr[1] != req_id || hdr[2] != 7 || hdr[3] != len ||
        hv_memcmp(got, body, len))
        return kcase_fail(kc, "request %u: answer type %u id %u tx %u len %u \"%s\"", req_id,
                          hdr[0], hdr[1], hdr[2], hdr[3], got);
    return 0;
}

static int answers(struct kcase_ctx *kc, struct rig *r)
{
    int rc = 0;
    put_req(r, XS_DIRECTORY, 1, "device/vbd");
    rc = rc ? rc : expect(kc, r, 1, XS_DIRECTORY, "", 0);
    put_req(r, XS_DIRECTORY, 2, "");
    rc = rc ? rc : expect(kc, r, 2, XS_DIRECTORY, "device", 7);
    put_req(r, XS_READ, 3, "domid");
    rc = rc ? rc : expect(kc, r, 3, XS_READ, "3", 1);
    put_req(r, XS_READ, 4, "/local/domain/3/domid");
    rc = rc ? rc : expect(kc, r, 4, XS_READ, "3", 1);
    put_req(r, XS_READ, 5, "/local/domain/4/domid"); /* another domain's home */
    rc = rc ? rc : expect(kc, r, 5, XS_ERROR, "ENOENT", 7);
    put_req(r, XS_READ, 6, "/local/domain/31/domid"); /* a prefix of it is not it */
    rc = rc ? rc : expect(kc, r, 6, XS_ERROR, "ENOENT", 7);
    put_req(r, XS_DIRECTORY, 7, "device/vbd/0");
    rc = rc ? rc : expect(kc, r, 7, XS_ERROR, "ENOENT", 7);
    put_req(r, XS_WRITE, 8, "device/vbd/0/state");
    rc = rc ? rc : expect(kc, r, 8, XS_ERROR, "EACCES", 7);
    put_req(r, XS_GET_DOMAIN_PATH, 9, "3");
    rc = rc ? rc : expect(kc, r, 9, XS_GET_DOMAIN_PATH, "/local/domain/3", 16);
    put_req(r, 99, 10, "x");
    rc = rc ? rc : expect(kc, r, 10, XS_ERROR, "ENOSYS", 7);
    /* A payload without its NUL. */
    put_header(r, XS_READ, 11, 5);
    put_bytes(r, "domid", 5);
    rc = rc ? rc : expect(kc, r, 11, XS_ERROR, "EINVAL", 7);
    return rc;
}

/* A watch: "OK", then its event with the path and token, without request
   or transaction id; one without a token is refused; unwatch is "OK". */
static int watches(struct kcase_ctx *kc, struct rig *r)
{
    static const char req[] = "memory/target\0tok-1"; /* with the final NUL: 20 bytes */
    put_header(r, XS_WATCH, 12, sizeof(req));
    put_bytes(r, req, sizeof(req));
    int rc = expect(kc, r, 12, XS_WATCH, "OK", 3);
    uint32_t hdr[4];
    char body[128];
    if (!rc && (!get_rsp(r, hdr, body, sizeof(body)) || hdr[0] != XS_WATCH_EVENT || hdr[1] ||
                hdr[2] || hdr[3] != sizeof(req) || hv_memcmp(body, req, sizeof(req))))
        rc = kcase_fail(kc, "no watch event after the watch's answer");
    put_req(r, XS_WATCH, 13, "device"); /* no token */
    rc = rc ? rc : expect(kc, r, 13, XS_ERROR, "EINVAL", 7);
    put_header(r, XS_UNWATCH, 14, sizeof(req));
    put_bytes(r, req, sizeof(req));
    rc = rc ? rc : expect(kc, r, 14, XS_UNWATCH, "OK", 3);
    xstore_poll(r->s);
    if (!rc && get_rsp(r, hdr, body, sizeof(body)))
        rc = kcase_fail(kc, "an event after unwatch");
    return rc;
}

/* A request delivered in pieces, across the index and ring wrap. */
static int split_and_wrap(struct kcase_ctx *kc, struct rig *r)
{
    const uint32_t start = 0xfffffff8u;
    set_idx(r, XSTORE_OFF_REQ_CONS, start);
    set_idx(r, XSTORE_OFF_REQ_PROD, start);
    set_idx(r, XSTORE_OFF_RSP_CONS, start);
    set_idx(r, XSTORE_OFF_RSP_PROD, start);
    uint32_t h[4] = {XS_READ, 20, 7, 6};
    put_bytes(r, h, 10);
    if (xstore_poll(r->s) && idx(r, XSTORE_OFF_RSP_PROD) != start)
        return kcase_fail(kc, "answered half a header");
    put_bytes(r, (uint8_t *)h + 10, 6);
    put_bytes(r, "dom", 3);
    xstore_poll(r->s);
    if (idx(r, XSTORE_OFF_RSP_PROD) != start)
        return kcase_fail(kc, "answered half a payload");
    put_bytes(r, "id", 3);
    return expect(kc, r, 20, XS_READ, "3", 1);
}

/* An answer into a nearly full response ring arrives in parts. */
static int full_response_ring(struct kcase_ctx *kc, struct rig *r)
{
    uint32_t prod = idx(r, XSTORE_OFF_RSP_PROD);
    set_idx(r, XSTORE_OFF_RSP_CONS, prod - (XSTORE_RING - 4)); /* 4 bytes free */
    put_req(r, XS_READ, 30, "domid");
    xstore_poll(r->s);
    if (idx(r, XSTORE_OFF_RSP_PROD) != prod + 4)
        return kcase_fail(kc, "overfilled the response ring");
    set_idx(r, XSTORE_OFF_RSP_CONS, prod + 4); /* the guest drains it */
    xstore_poll(r->s);
    uint32_t hdr[4];
    char body[8];
    set_idx(r, XSTORE_OFF_RSP_CONS, prod);
    if (!get_rsp(r, hdr, body, sizeof(body)) || hdr[1] != 30 || hv_strcmp(body, "3"))
        return kcase_fail(kc, "answer lost across a full response ring");
    return 0;
}

static int broken(struct kcase_ctx *kc, struct rig *r, const char *what, uint32_t req_prod_add,
                  uint32_t len)
{
    hv_memset(r->page, 0, PAGE_SIZE);
    xstore_init(r->s, NULL, r->page, 1, 3);
    if (req_prod_add) {
        set_idx(r, XSTORE_OFF_REQ_PROD, req_prod_add);
    } else {
        put_header(r, XS_READ, 40, len);
    }
    xstore_poll(r->s);
    if (!r->s->broken || !r->s->why)
        return kcase_fail(kc, "%s: not refused", what);
    if (idx(r, XSTORE_OFF_RSP_PROD) || xstore_poll(r->s))
        return kcase_fail(kc, "%s: still served", what);
    return 0;
}

static int case_store(struct kcase_ctx *kc)
{
    struct rig r;
    r.page = pmm_alloc(1);
    r.s = heap_alloc(sizeof(*r.s));
    int rc = 0;
    if (!r.page || !r.s)
        rc = kcase_fail(kc, "out of memory");
    if (!rc) {
        xstore_init(r.s, NULL, r.page, 1, 3);
        rc = answers(kc, &r);
    }
    if (!rc)
        rc = watches(kc, &r);
    if (!rc)
        rc = split_and_wrap(kc, &r);
    if (!rc)
        rc = full_response_ring(kc, &r);
    if (!rc && (r.s->requests != 16 || r.s->broken))
        rc = kcase_fail(kc, "%u requests counted, broken %d", r.s->requests, r.s->broken);
    if (!rc)
        rc = broken(kc, &r, "request indices a ring and more apart", XSTORE_RING + 1, 0);
    if (!rc)
        rc =
            broken(kc, &r, "a request longer than XENSTORE_PAYLOAD_MAX", 0, XSTORE_PAYLOAD_MAX + 1);
    if (!rc) {
        /* The guest's response consumer running ahead of the producer. */
        hv_memset(r.page, 0, PAGE_SIZE);
        xstore_init(r.s, NULL, r.page, 1, 3);
        set_idx(&r, XSTORE_OFF_RSP_CONS, 5);
        put_req(&r, XS_READ, 50, "domid");
        xstore_poll(r.s);
        if (!r.s->broken)
            rc = kcase_fail(kc, "response indices out of order: not refused");
    }
    if (r.page)
        pmm_free(r.page, 1);
    if (r.s)
        heap_free(r.s, sizeof(*r.s));
    return rc;
}

static const struct kcase store_cases[] KCASE_TABLE = {
    {"xen.grub_store", case_store, 0},
};
