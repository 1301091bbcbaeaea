/*
 * MMIO system tests (issue 5), one case per CPU mode; the guests are in
 * tests/system/guests/mmio and the rig that runs them in mmio_rig.c.
 *
 *   mmio.real      real mode, 16-bit code with 16- and 32-bit addressing
 *   mmio.pm32      32-bit protected mode, paging off
 *   mmio.paging32  32-bit paging (4 KiB alias pages and a 4 MiB page)
 *   mmio.pae       PAE paging
 *   mmio.long      64-bit mode, with 8-byte, REX, RIP-relative and FS forms
 *   mmio.pio_*     mmio.replay's and mmio.long's runs with the string I/O
 *                  ports served by a port handler (hv_vm_pio_register)
 *
 * Each runs the emulator's whole instruction subset on the register file
 * (a handler) and on a page the embedder completes (HV_EXIT_MMIO) and
 * compares every result with the same instruction on RAM; then accesses
 * and REP strings across page boundaries, an instruction whose bytes
 * straddle two pages, INS/OUTS with REP, and (flat modes) a REP STOS into
 * the sink during which the host regains control; the paged modes add
 * page faults raised by the emulator in the middle of a REP STOS.
 */
#include "mmio_rig.h"

#include "core/util.h"

#define MV(x)                                                                                      \
    {                                                                                              \
        MV_EXACT, (x)                                                                              \
    }
#define MV_RIP                                                                                     \
    {                                                                                              \
        MV_REP_RIP, 0                                                                              \
    }
#define MV_DONE                                                                                    \
    {                                                                                              \
        MV_BRACKETS, 0                                                                             \
    }

/* The images are weak: a kernel configured without tests/system
   (HV_BUILD_HOSTED=OFF) has none, and the cases then fail saying so. */
#define MMIO_GUEST(n)                                                                              \
    extern const uint8_t guest_##n##_start[] __attribute__((weak));                                \
    extern const uint8_t guest_##n##_end[] __attribute__((weak));                                  \
    static const struct vmt_image guest_##n = {#n, guest_##n##_start, guest_##n##_end}

MMIO_GUEST(mmio_real);
MMIO_GUEST(mmio_pm32);
MMIO_GUEST(mmio_paging32);
MMIO_GUEST(mmio_pae);
MMIO_GUEST(mmio_long);

/* Reported by every guest: the cross-page store and load, the REP MOVSD
   across the boundary (read back), the straddling instruction's store. */
#define VALS_FLAT_CROSS                                                                            \
    MV(0x44332211), MV(0xa1a2a3a4), MV(0xb1b2b3b4), MV(0xc1c2c3c4), MV(0xd1d2d3d4), MV(0x11223344)
/* The string I/O test: the INSD into the register file, the INSW into RAM. */
#define VALS_STRINGIO MV(0x11223344), MV(0x55667788), MV(0xdef09abc)

/* Paged guests: the halves of the cross-page dword land on the two
   register-file pages in reverse order; the straddling instruction's
   immediate comes from the alias tail page. */
#define VALS_PAGED_CROSS                                                                           \
    MV(0x44332211), MV(0x2211), MV(0x4433), MV(0xa1a2a3a4), MV(0xb1b2b3b4), MV(0xc1c2c3c4),        \
        MV(0xd1d2d3d4), MV(0x55663344)
/* #PF reports: CR2, error code, ECX, EDI. The first REP STOSD faults in
   the emulator (not present, write: 2), then on the CPU (read-only: 3); the
   second in the emulator (read-only: 3); each after two dwords. */
#define PF(ec)        MV(MMIO_A_HOLE), MV(ec), MV(2), MV(MMIO_A_HOLE)
#define VALS_PAGED_PF PF(2), PF(3), MV(0x600df00d), PF(3), MV(0xfeedf00d)

static const struct mmio_val real_vals[] = {VALS_FLAT_CROSS, VALS_STRINGIO, MV_DONE};

static const struct mmio_val pm32_vals[] = {
    VALS_FLAT_CROSS, VALS_STRINGIO, MV_RIP, MV(0), MV(MMIO_SINK_GPA + MMIO_SINK_LEN), MV_DONE,
};
static const struct mmio_sink_plan pm32_sink = {
    .count = MMIO_SINK_LEN / 4,
    .count_mask = 0xffffffffu,
    .linear = MMIO_SINK_GPA,
    .size = 4,
    .writes = MMIO_SINK_LEN / 4,
};

/* The REP STOSD with ECX = 2^32-1 ends in #PF at the hole after the sink. */
static const struct mmio_val paged32_vals[] = {
    VALS_PAGED_CROSS,
    VALS_STRINGIO,
    VALS_PAGED_PF,
    MV_RIP,
    MV(MMIO_A_SINK_END),
    MV(2),
    MV(0xffffffffu - MMIO_SINK_LEN / 4),
    MV(MMIO_A_SINK_END),
    MV_DONE,
};
static const struct mmio_sink_plan paged32_sink = {
    .count = 0xffffffffu,
    .count_mask = 0xffffffffu,
    .linear = MMIO_A_SINK,
    .size = 4,
    .writes = MMIO_SINK_LEN / 4,
};

/* 64-bit: REP STOSQ with RCX = 2^64-1 (the low half reported); then the
   FS-relative load. */
static const struct mmio_val long_vals[] = {
    VALS_PAGED_CROSS,
    VALS_STRINGIO,
    VALS_PAGED_PF,
    MV_RIP,
    MV(MMIO_A_SINK_END),
    MV(2),
    MV(0xffffffffu - MMIO_SINK_LEN / 8),
    MV(MMIO_A_SINK_END),
    MV(0x5a5aa5a5),
    MV_DONE,
};
static const struct mmio_sink_plan long_sink = {
    .count = ~0ull,
    .count_mask = ~0ull,
    .linear = MMIO_A_SINK,
    .size = 8,
    .writes = MMIO_SINK_LEN / 8,
};

#define MODE(img, v, s)                                                                            \
    {                                                                                              \
        &(img), (v), HV_ARRAY_SIZE(v), (s), false, false                                           \
    }

static int case_real(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = MODE(guest_mmio_real, real_vals, NULL);
    return mmio_run_mode(kc, &m);
}

static int case_pm32(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = MODE(guest_mmio_pm32, pm32_vals, &pm32_sink);
    return mmio_run_mode(kc, &m);
}

/*
 * REP OUTSW from the register file to a port the embedder completes: each
 * element's handler read must reach the device once, although the assist
 * retries the instruction after the embedder completed the port write
 * (it replays the handler read instead of repeating it).
 */
static int case_replay(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = {
        &guest_mmio_pm32, pm32_vals, HV_ARRAY_SIZE(pm32_vals), &pm32_sink, true, false,
    };
    return mmio_run_mode(kc, &m);
}

static int case_paging32(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = MODE(guest_mmio_paging32, paged32_vals, &paged32_sink);
    return mmio_run_mode(kc, &m);
}

static int case_pae(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = MODE(guest_mmio_pae, paged32_vals, &paged32_sink);
    return mmio_run_mode(kc, &m);
}

static int case_long(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = MODE(guest_mmio_long, long_vals, &long_sink);
    return mmio_run_mode(kc, &m);
}

/*
 * The string I/O of mmio.replay and mmio.long with its ports served by a
 * handler (hv_vm_pio_register): REP INS/OUTS through the assist call it
 * for every element, and X_REPLAY's REP OUTSW from the register file
 * needs no retry.
 */
static int case_pio_pm32(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = {.image = &guest_mmio_pm32,
                                       .vals = pm32_vals,
                                       .nvals = HV_ARRAY_SIZE(pm32_vals),
                                       .sink = &pm32_sink,
                                       .replay = true,
                                       .pio = true};
    return mmio_run_mode(kc, &m);
}

static int case_pio_long(struct kcase_ctx *kc)
{
    static const struct mmio_mode m = {.image = &guest_mmio_long,
                                       .vals = long_vals,
                                       .nvals = HV_ARRAY_SIZE(long_vals),
                                       .sink = &long_sink,
                                       .pio = true};
    return mmio_run_mode(kc, &m);
}

static const struct kcase mmio_cases[] KCASE_TABLE = {
    {"mmio.real", case_real, 0},         {"mmio.pm32", case_pm32, 0},
    {"mmio.paging32", case_paging32, 0}, {"mmio.pae", case_pae, 0},
    {"mmio.long", case_long, 0},         {"mmio.replay", case_replay, 0},
    {"mmio.pio_pm32", case_pio_pm32, 0}, {"mmio.pio_long", case_pio_long, 0},
};
