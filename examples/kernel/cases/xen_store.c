/* The minimal xenstore server (xen_store.h). */
#include "xen_store.h"

#include <hv/xen.h>

#include "core/util.h"

static const char *const type_names[] = {
    "CONTROL",
    "DIRECTORY",
    "READ",
    "GET_PERMS",
    "WATCH",
    "UNWATCH",
    "TRANSACTION_START",
    "TRANSACTION_END",
    "INTRODUCE",
    "RELEASE",
    "GET_DOMAIN_PATH",
    "WRITE",
    "MKDIR",
    "RM",
    "SET_PERMS",
    "WATCH_EVENT",
    "ERROR",
};

const char *xstore_type_name(uint32_t type)
{
    return type < HV_ARRAY_SIZE(type_names) ? type_names[type] : "?";
}

static uint32_t load_idx(struct xstore *s, uint32_t off)
{
    return __atomic_load_n((volatile uint32_t *)(s->page + off), __ATOMIC_ACQUIRE);
}

static void store_idx(struct xstore *s, uint32_t off, uint32_t v)
{
    __atomic_store_n((volatile uint32_t *)(s->page + off), v, __ATOMIC_RELEASE);
}

static void put32(uint8_t *p, uint32_t v)
{
    hv_memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    hv_memcpy(&v, p, 4);
    return v;
}

void xstore_init(struct xstore *s, struct hv_vm *vm, void *page, uint32_t host_port, uint32_t domid)
{
    hv_memset(s, 0, sizeof(*s));
    s->vm = vm;
    s->page = page;
    s->host_port = host_port;
    s->domid = domid;
}

static void set_broken(struct xstore *s, const char *why)
{
    s->broken = true;
    s->why = why;
}

/* Build the answer in s->rsp: header echoing req_id and tx_id, then @p len bytes. */
static void answer(struct xstore *s, uint32_t type, const void *data, uint32_t len)
{
    if (len > XSTORE_RSP_MAX - XSTORE_HDR)
        len = 0, type = XS_ERROR; /* cannot happen with the fixed tree */
    put32(s->rsp, type);
    hv_memcpy(s->rsp + 4, s->req + 4, 8); /* req_id, tx_id */
    put32(s->rsp + 12, len);
    if (len)
        hv_memcpy(s->rsp + XSTORE_HDR, data, len);
    s->rsp_len = XSTORE_HDR + len;
    s->rsp_off = 0;
}

static void error(struct xstore *s, const char *name)
{
    answer(s, XS_ERROR, name, (uint32_t)hv_strlen(name) + 1);
}

/* XS_WATCH: "OK", then the watch's first event, "<path>\0<token>\0" as
   given (io/xs_wire.h: XS_WATCH_EVENT carries no request id). Answered
   here: the watch needs no state, the tree never changes. */
static void watch(struct xstore *s, const char *arg, uint32_t len)
{
    size_t plen = hv_strnlen(arg, len) + 1; /* the caller checked it ends */
    if (plen >= len || hv_strnlen(arg + plen, len - plen) + 1 != len - plen) {
        error(s, "EINVAL"); /* no token, or bytes after it */
        return;
    }
    if (len > XSTORE_WATCH_MAX) {
        error(s, "E2BIG"); /* longer than this server's response buffer */
        return;
    }
    answer(s, XS_WATCH, "OK", 3);
    uint8_t *e = s->rsp + s->rsp_len;
    put32(e, XS_WATCH_EVENT);
    put32(e + 4, 0);
    put32(e + 8, 0);
    put32(e + 12, len);
    hv_memcpy(e + XSTORE_HDR, arg, len);
    s->rsp_len += XSTORE_HDR + len;
}

/* Path relative to the domain's home (/local/domain/<id>), or NULL if outside it. */
static const char *relative(struct xstore *s, const char *path)
{
    char home[32];
    int n = hv_snprintf(home, sizeof(home), "/local/domain/%u", s->domid);
    if (path[0] != '/')
        return path;
    if (n <= 0 || hv_memcmp(path, home, (size_t)n))
        return NULL;
    if (path[n] == 0)
        return "";
    return path[n] == '/' ? path + n + 1 : NULL;
}

static bool is_dir(const char *rel)
{
    static const char *const dirs[] = {"", "device", "device/vbd", "device/vif"};
    for (size_t i = 0; i < HV_ARRAY_SIZE(dirs); i++)
        if (!hv_strcmp(rel, dirs[i]))
            return true;
    return false;
}

static void handle(struct xstore *s)
{
    uint32_t type = get32(s->req), len = get32(s->req + 12);
    const char *arg = (const char *)s->req + XSTORE_HDR;
    /* Every request served here carries one NUL-terminated string. */
    bool str_ok = len && hv_strnlen(arg, len) < len;
    struct xstore_req_log *l = s->requests < XSTORE_LOG ? &s->log[s->requests] : NULL;
    s->requests++;
    if (l) {
        l->type = type;
        hv_strlcpy(l->path, str_ok ? arg : "", sizeof(l->path));
    }

    const char *rel = str_ok ? relative(s, arg) : NULL;
    char buf[40];
    switch (type) {
    case XS_DIRECTORY:
        if (!str_ok)
            error(s, "EINVAL");
        else if (rel && is_dir(rel))
            answer(s, XS_DIRECTORY, rel[0] ? NULL : "device", rel[0] ? 0 : 7);
        else
            error(s, "ENOENT");
        break;
    case XS_READ:
        if (!str_ok) {
            error(s, "EINVAL");
        } else if (rel && !hv_strcmp(rel, "domid")) {
            /* A read answers the value without a terminating NUL. */
            int n = hv_snprintf(buf, sizeof(buf), "%u", s->domid);
            answer(s, XS_READ, buf, (uint32_t)n);
        } else if (rel && is_dir(rel)) {
            answer(s, XS_READ, NULL, 0); /* directories hold an empty value */
        } else {
            error(s, "ENOENT");
        }
        break;
    case XS_GET_DOMAIN_PATH: {
        int n = hv_snprintf(buf, sizeof(buf), "/local/domain/%u", s->domid);
        answer(s, XS_GET_DOMAIN_PATH, buf, (uint32_t)n + 1);
        break;
    }
    case XS_WRITE:
    case XS_MKDIR:
    case XS_RM:
    case XS_SET_PERMS:
        error(s, "EACCES"); /* the tree is read-only */
        break;
    case XS_WATCH:
        if (!str_ok)
            error(s, "EINVAL");
        else
            watch(s, arg, len);
        break;
    case XS_UNWATCH:
        if (!str_ok)
            error(s, "EINVAL");
        else
            answer(s, XS_UNWATCH, "OK", 3);
        break;
    case XS_TRANSACTION_START:
    case XS_TRANSACTION_END:
    case XS_GET_PERMS:
    default:
        error(s, "ENOSYS");
        break;
    }
    if (l)
        l->answer = get32(s->rsp);
    s->req_len = 0;
}

/* Move the pending answer into the response ring as far as it has room. */
static bool push_response(struct xstore *s)
{
    bool moved = false;
    while (s->rsp_off < s->rsp_len) {
        uint32_t cons = load_idx(s, XSTORE_OFF_RSP_CONS), prod = load_idx(s, XSTORE_OFF_RSP_PROD);
        uint32_t used = prod - cons;
        if (used > XSTORE_RING) {
            set_broken(s, "response ring indices more than a ring apart");
            return moved;
        }
        if (used == XSTORE_RING)
            break;
        volatile uint8_t *ring = s->page + XSTORE_OFF_RSP;
        uint32_t n = HV_MIN(XSTORE_RING - used, s->rsp_len - s->rsp_off);
        for (uint32_t i = 0; i < n; i++)
            ring[(prod + i) % XSTORE_RING] = s->rsp[s->rsp_off + i];
        s->rsp_off += n;
        store_idx(s, XSTORE_OFF_RSP_PROD, prod + n);
        moved = true;
    }
    return moved;
}

/* Take request bytes; a complete request is answered. */
static bool pull_request(struct xstore *s)
{
    bool moved = false;
    while (s->rsp_off >= s->rsp_len && !s->broken) {
        uint32_t cons = load_idx(s, XSTORE_OFF_REQ_CONS), prod = load_idx(s, XSTORE_OFF_REQ_PROD);
        uint32_t avail = prod - cons;
        if (avail > XSTORE_RING) {
            set_broken(s, "request ring indices more than a ring apart");
            break;
        }
        /* Read the header first, then exactly the payload it announces. */
        uint32_t want = XSTORE_HDR;
        if (s->req_len >= XSTORE_HDR) {
            uint32_t len = get32(s->req + 12);
            if (len > XSTORE_PAYLOAD_MAX) {
                set_broken(s, "request longer than XENSTORE_PAYLOAD_MAX");
                break;
            }
            want = XSTORE_HDR + len;
        }
        if (s->req_len == want) {
            handle(s);
            push_response(s);
            moved = true;
            continue;
        }
        if (!avail)
            break;
        uint32_t n = HV_MIN(avail, want - s->req_len);
        volatile const uint8_t *ring = s->page + XSTORE_OFF_REQ;
        for (uint32_t i = 0; i < n; i++)
            s->req[s->req_len + i] = ring[(cons + i) % XSTORE_RING];
        s->req_len += n;
        store_idx(s, XSTORE_OFF_REQ_CONS, cons + n);
        moved = true;
    }
    return moved;
}

bool xstore_poll(struct xstore *s)
{
    if (s->broken)
        return false;
    bool moved = push_response(s);
    moved |= pull_request(s);
    if (moved)
        hv_xen_evtchn_notify(s->vm, s->host_port);
    return moved;
}
