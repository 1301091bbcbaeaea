/*
 * The MMIO test rig, shared by the guests (tests/system/guests/mmio)
 * and the host cases (examples/kernel/cases/mmio_rig.c): guest-physical
 * layout, the linear aliases of the paged guests, ports, and the encoding
 * of the accesses a guest announces before each bracketed test.
 */
#ifndef MMIO_ABI_H
#define MMIO_ABI_H

/* Guest-physical layout; the rest of the first MiB is RAM (vm_harness.h). */
#define MMIO_TWIN_GPA 0x9c000                   /* RAM: the reference twin of a window */
#define MMIO_RAMBUF   (MMIO_TWIN_GPA + 0x800)   /* RAM: string-instruction buffer */
#define MMIO_EMB_GPA  0x9d000                   /* 1 page, no handler: HV_EXIT_MMIO */
#define MMIO_REG_GPA  0x9e000                   /* 2 pages: the register file (handler) */
#define MMIO_REG_LEN  0x2000
#define MMIO_HOLE_GPA MMIO_EMB_GPA              /* taken out of the RAM mapping */
#define MMIO_HOLE_LEN 0x3000
#define MMIO_SINK_GPA 0x10000000                /* write sink (handler), far from RAM */
#define MMIO_SINK_LEN 0x10000
#define MMIO_SINK_KICK 3000                     /* the sink kicks the vCPU at this write */

/* Real mode reaches the windows through segment 0x9000 (offsets 0xc000..). */
#define MMIO_RM_SEG 0x9000
#define MMIO_RM_OFF(gpa) ((gpa) - (MMIO_RM_SEG << 4))

/*
 * Paged guests: 4 KiB alias pages at 1 GiB, so that linear and physical
 * addresses differ and page order is not physical order.
 */
#define MMIO_ALIAS    0x40000000
#define MMIO_A_REG1   (MMIO_ALIAS + 0x0000) /* -> register file page 1 */
#define MMIO_A_REG0   (MMIO_ALIAS + 0x1000) /* -> register file page 0 */
#define MMIO_A_HOLE   (MMIO_ALIAS + 0x2000) /* not present until the #PF handler maps it */
#define MMIO_A_EMB    (MMIO_ALIAS + 0x3000) /* -> the embedder's page */
#define MMIO_A_CODE   (MMIO_ALIAS + 0x4000) /* 2 pages: head and tail of a straddling instruction */
#define MMIO_A_SINK   (MMIO_ALIAS + 0x10000) /* 16 pages -> the sink, then not present */
#define MMIO_A_SINK_END (MMIO_A_SINK + MMIO_SINK_LEN)

/* Ports (guest.inc has PORT_MARK 0x80 and PORT_VAL 0xe0). */
#define PORT_EXPECT  0xe8  /* OUT dword: an access the next bracket must make */
#define PORT_FAIL    0xec  /* OUT dword x3: (test << 8 | field), reference value, device value */
#define PORT_SIO_OUT 0x2e0 /* OUTS target */
#define PORT_SIO_IN  0x2e4 /* INS source */

/*
 * A bracket is MARK id ... MARK 0 around the instruction under test; the
 * host attributes the device accesses in between to test `id`. Ids: the
 * suite on the register file 1..0x7f, the same suite on the embedder's page
 * 0x81..0xff (id | MMIO_EMB_IDS); tests outside the suite 0x70..0x7f.
 */
#define MMIO_EMB_IDS 0x80
#define MMIO_REPLAY_ID 0x77 /* X_REPLAY (suite.inc), not counted in the guest's total */

/*
 * An announced access: offset from the start of the region it hits (the
 * register file or the embedder's page), size and direction. An access
 * that does not straddle a page must be one access of that size; one that
 * does may be split at the page boundary into naturally sized pieces.
 */
#define MMIO_X_W         0x100000
#define MMIO_X(w, o, s)  ((((w) * MMIO_X_W) | ((s) << 16)) | (o))
#define XR(o, s)         MMIO_X(0, o, s)
#define XW(o, s)         MMIO_X(1, o, s)

#endif /* MMIO_ABI_H */
