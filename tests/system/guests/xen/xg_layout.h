/*
 * What the Xen test guests (tests/system/guests/xen) and the host cases
 * (examples/kernel/cases/xen_*.c) agree on: the guest-physical layout of a
 * test VM, and the split-driver ring the front and back guests share.
 * Plain numbers only, so that both the guest (-m32 / -m64) and the host
 * kernel include it.
 */
#ifndef XG_LAYOUT_H
#define XG_LAYOUT_H

#define XG_RAM_SIZE    0x400000u /* RAM at gpa 0 .. 4 MiB */
#define XG_LOAD_GPA    0x100000u /* the image's p_paddr */
#define XG_RO_GPA      0x600000u /* a read-only page the host maps, filled with XG_RO_BYTE */
#define XG_RO_BYTE     0x5a
#define XG_HOLE_GPA    0x700000u /* nothing mapped here */
#define XG_PVCONS_GPA  0x3ff000u /* the PV console ring page (last RAM page) */
#define XG_HANDLE_BYTE 0x3c      /* every byte of the domain handle the host sets */
#define XG_STORE_PFN   0x3feu    /* HVM_PARAM_STORE_PFN the host sets (never used) */

/* Grant references of the split-driver test. */
#define XG_RING_GREF 8u /* the ring page, granted read-write to the backend */
#define XG_DATA_GREF 9u /* a data page, granted read-only to the backend */

/* The shared ring: one page at XG_RING_GREF (all fields 32-bit). */
#define XG_RING_MAGIC 0x474e4952u /* "RING": set once the front end is ready */
#define XG_RING_SLOTS 8u
#define XG_OP_SQUARE  1u /* rsp.val = req.val * req.val */
#define XG_OP_SUM     2u /* rsp.val = sum of the bytes of the data page */
#define XG_OP_QUIT    3u /* the back end stops after answering */
/* Offsets in the ring page. */
#define XG_RING_OFF_MAGIC   0u
#define XG_RING_OFF_PORT    4u /* the front end's unbound port for the back end */
#define XG_RING_OFF_REQPROD 8u
#define XG_RING_OFF_RSPPROD 12u
#define XG_RING_OFF_REQ     64u  /* XG_RING_SLOTS x {id, op, val} (12 bytes) */
#define XG_RING_OFF_RSP     256u /* XG_RING_SLOTS x {id, val} (8 bytes) */
#define XG_REQ_SIZE         12u
#define XG_RSP_SIZE         8u

#endif /* XG_LAYOUT_H */
