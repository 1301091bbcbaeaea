/*
 * A minimal xenstore server for one guest, run by the embedder (domain 0)
 * on the guest's xenstore ring page (HVM_PARAM_STORE_PFN) the way
 * xenstored does, but with a fixed, read-only tree: what a boot loader
 * such as GRUB asks at start-up (its domain id, the device directories,
 * which are empty: no disks, no NICs). Watches are accepted as xenstored
 * accepts them: the answer, then at once one XS_WATCH_EVENT for the
 * watched path with the guest's token (Linux's xenbus waits for watches
 * on memory/target, control/shutdown, device, ...); as the tree never
 * changes, no event follows. Transactions are not served (ENOSYS).
 *
 * Wire format and ring layout: Xen's public io/xs_wire.h (struct
 * xsd_sockmsg header, struct xenstore_domain_interface with 1 KiB request
 * and response rings and free-running 32-bit indices). Everything in the
 * ring page is guest-controlled: indices that claim more than a ring of
 * data, or a message longer than XENSTORE_PAYLOAD_MAX, mark the ring broken
 * and it is no longer served (the guest then waits forever; the embedder
 * sees xstore::broken).
 */
#ifndef KERNEL_CASES_XEN_STORE_H
#define KERNEL_CASES_XEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv_vm;

/* Message types (io/xs_wire.h, enum xsd_sockmsg_type). */
#define XS_DIRECTORY         1
#define XS_READ              2
#define XS_GET_PERMS         3
#define XS_WATCH             4
#define XS_UNWATCH           5
#define XS_TRANSACTION_START 6
#define XS_TRANSACTION_END   7
#define XS_GET_DOMAIN_PATH   10
#define XS_WRITE             11
#define XS_MKDIR             12
#define XS_RM                13
#define XS_SET_PERMS         14
#define XS_WATCH_EVENT       15
#define XS_ERROR             16

/* struct xenstore_domain_interface (io/xs_wire.h). */
#define XSTORE_RING         1024u
#define XSTORE_OFF_REQ      0u
#define XSTORE_OFF_RSP      1024u
#define XSTORE_OFF_REQ_CONS 2048u
#define XSTORE_OFF_REQ_PROD 2052u
#define XSTORE_OFF_RSP_CONS 2056u
#define XSTORE_OFF_RSP_PROD 2060u

#define XSTORE_HDR         16u   /* sizeof(struct xsd_sockmsg) */
#define XSTORE_PAYLOAD_MAX 4096u /* XENSTORE_PAYLOAD_MAX */
#define XSTORE_RSP_MAX     160u  /* the longest answer, with header (a watch's: answer and event) */
#define XSTORE_WATCH_MAX   (XSTORE_RSP_MAX - 2 * XSTORE_HDR - 3) /* path and token with NULs */
#define XSTORE_LOG         32u /* requests remembered for the test's report */

/* One request as the server understood it. */
struct xstore_req_log {
    uint32_t type;
    uint32_t answer; /* the reply's message type (XS_ERROR for errors) */
    char path[48];   /* the payload's first string, cut */
};

struct xstore {
    struct hv_vm *vm;
    volatile uint8_t *page; /* host view of the guest's ring page */
    uint32_t host_port;     /* bound to the guest's store event channel */
    uint32_t domid;
    /* The request being gathered. */
    uint8_t req[XSTORE_HDR + XSTORE_PAYLOAD_MAX];
    uint32_t req_len;
    /* The response being delivered. */
    uint8_t rsp[XSTORE_RSP_MAX];
    uint32_t rsp_len, rsp_off;
    bool broken;
    const char *why; /* why it is broken */
    unsigned requests;
    struct xstore_req_log log[XSTORE_LOG];
};

/* Serve the ring page at @p page for domain @p domid; answers are signalled on @p host_port. */
void xstore_init(struct xstore *s, struct hv_vm *vm, void *page, uint32_t host_port,
                 uint32_t domid);

/* Take what the guest queued, answer complete requests as far as the
   response ring has room. Returns true if anything moved. */
bool xstore_poll(struct xstore *s);

/* The name of an XS_* message type (for logs). */
const char *xstore_type_name(uint32_t type);

#endif /* KERNEL_CASES_XEN_STORE_H */
