/*
 * Fuzz target: the embedder's XSAVE state API (hv/xsave.h) with hostile
 * XCR0 values and images, through the mock backend, on this machine's
 * own XSAVE layout (the library reads CPUID 0DH here too).
 *
 * Input: a set-up byte (bit 0: CPUID view without XSAVE, bit 1: without
 * AVX, bit 2: without AVX512F, bit 3: a second set first), then for each
 * set an XCR0 selector (below 0xe0: one of a list of valid and invalid
 * values, else 8 raw bytes), a size selector and the image: its bytes
 * come from the input, with the header's XSTATE_BV and reserved bytes
 * steered by selectors so that both accepted and refused images are
 * common.
 *
 * Invariants, besides the sanitizers:
 * - a refused set changes nothing (the image hv_vcpu_get_xsave returns
 *   and the XCR0 are as before) and says why (INVALID_ARG or RANGE);
 * - an accepted set is read back: the XCR0, and every component of it
 *   whose XSTATE_BV bit was set, byte for byte (MXCSR_MASK aside, which
 *   hv_vcpu_get_fpu reports as the host's); XSTATE_BV x87, SSE and
 *   otherwise only within XCR0; the header's other bytes 0; a refused
 *   set is one the documented checks refuse;
 * - the CPU's XRSTOR takes what the library would load at the next run
 *   (the vCPU's area with the MXCSR hv_xs_enter puts in, with RFBM its
 *   switched components) and the image get returns, with this process's
 *   XCR0: executed here, a #GP would be a SIGSEGV, which libFuzzer
 *   reports. The process's own state is saved around each XRSTOR.
 * - every allocation is freed at the end of each input.
 */
#include <stdlib.h>
#include <string.h>

#include <hv/hv.h>
#include <hv/fpu.h>
#include <hv/xsave.h>
#include "backend.h"
#include "core/ctx_internal.h"
#include "core/fpu.h"
#include "core/objects.h"
#include "core/policy.h"
#include "core/xsave.h"
#include "fuzz_common.h"
#include "mock_backend.h"
#include "vmx/ept_format.h"

#define AREA 4096 /* >= any XSAVE area of this process's XCR0 we restore */

struct world {
    struct mock_host mh;
    struct hv_slat_format fmt;
    struct hv_backend_ops be;
};

static struct world *g_w;
static uint64_t g_proc_xcr0; /* 0: this CPU has no XSAVE (no XRSTOR checks) */

static uint64_t proc_xcr0(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0u));
    if (!((c >> 27) & 1)) /* OSXSAVE: the OS enabled XGETBV/XSAVE */
        return 0;
    __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0u));
    return (uint64_t)d << 32 | a;
}

/* XRSTOR @p img with @p rfbm (within this process's XCR0), the process's
   own state saved before and restored after in the same asm statement,
   so no compiler-held register sees the image's values. */
static void xrstor_probe(const uint8_t *img, uint64_t rfbm)
{
    static uint8_t own[AREA] __attribute__((aligned(64)));
    static uint8_t probe[AREA] __attribute__((aligned(64)));
    memcpy(probe, img, HV_XSAVE_MAX_SIZE);
    uint64_t all = g_proc_xcr0;
    __asm__ volatile("xsave64 (%[own])\n\t"
                     "movl %k[rl], %%eax\n\t"
                     "movl %k[rh], %%edx\n\t"
                     "xrstor64 (%[probe])\n\t"
                     "movl %k[al], %%eax\n\t"
                     "movl %k[ah], %%edx\n\t"
                     "xrstor64 (%[own])"
                     :
                     : [own] "r"(own), [probe] "r"(probe), "a"((uint32_t)all),
                       "d"((uint32_t)(all >> 32)), [rl] "r"((uint32_t)rfbm),
                       [rh] "r"((uint32_t)(rfbm >> 32)), [al] "r"((uint32_t)all),
                       [ah] "r"((uint32_t)(all >> 32))
                     : "memory");
}

static uint32_t mxcsr_now(void)
{
    uint32_t m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}

static const uint64_t xcr0_picks[] = {
    1, 3, 7, 0xe7, 0, 2, 5, 0x83, 0x27, 0x67, 0xe3, 0x207, 0x1e7, 0x8000000000000007ull, 0x17,
};

static uint64_t pick_xcr0(struct fz *in)
{
    uint8_t s = fz_u8(in);
    if (s < 0xe0)
        return xcr0_picks[s % (sizeof(xcr0_picks) / sizeof(xcr0_picks[0]))];
    return fz_u64(in);
}

/* An image from the input: bytes raw, then the header steered. */
static size_t make_image(struct fz *in, uint8_t *img, uint64_t xcr0, size_t need)
{
    memset(img, 0, HV_XSAVE_MAX_SIZE);
    uint8_t s = fz_u8(in);
    size_t size = s < 0xc0 ? need : s < 0xe0 ? HV_XSAVE_MAX_SIZE : (size_t)fz_u16(in);
    if (size > HV_XSAVE_MAX_SIZE)
        size = HV_XSAVE_MAX_SIZE;
    /* Runs of input bytes at input-chosen offsets: the components are far
       apart, so a flat copy would leave most of them zero. */
    for (unsigned n = fz_u8(in) & 7; n; n--) {
        uint16_t off = fz_u16(in) % HV_XSAVE_MAX_SIZE;
        uint8_t len = fz_u8(in);
        fz_bytes(in, img + off, len > HV_XSAVE_MAX_SIZE - off ? HV_XSAVE_MAX_SIZE - off : len);
    }
    uint8_t h = fz_u8(in);
    uint64_t bv = (h & 3) == 0 ? xcr0 : (h & 3) == 1 ? xcr0 & fz_u64(in) : fz_u64(in);
    memcpy(img + HV_XSAVE_HEADER, &bv, 8);
    if (!(h & 4)) /* reserved header bytes clear (else: as the runs left them) */
        memset(img + HV_XSAVE_HEADER + 8, 0, 56);
    if (!(h & 8)) { /* a valid MXCSR (else: as the runs left it) */
        uint32_t m = 0x1f80u | (fz_u8(in) & 0x3fu);
        memcpy(img + 24, &m, 4);
    }
    return size;
}

static void one_set(struct hv_vcpu *vcpu, struct fz *in)
{
    static uint8_t img[HV_XSAVE_MAX_SIZE], before[HV_XSAVE_MAX_SIZE], after[HV_XSAVE_MAX_SIZE];
    uint64_t xcr0 = pick_xcr0(in), allowed, x0, x1;
    size_t max, need = 0, used0, used1;
    FZ_CHECK(hv_vcpu_xsave_info(vcpu, &allowed, &max) == HV_OK, "xsave_info");
    FZ_CHECK(max >= 576 && max <= HV_XSAVE_MAX_SIZE, "info size %zu", max);
    FZ_CHECK(!(allowed & ~(HV_XCR0_X87 | HV_XCR0_SSE | HV_XCR0_AVX | HV_XCR0_OPMASK |
                           HV_XCR0_ZMM_HI256 | HV_XCR0_HI16_ZMM)),
             "allowed 0x%llx", (unsigned long long)allowed);
    FZ_CHECK(hv_vcpu_get_xsave(vcpu, &x0, before, sizeof(before), &used0) == HV_OK, "get before");
    /* The size the set needs for this XCR0, when it is one the vCPU can take. */
    need = used0;
    if (hv_xcr0_valid(xcr0, allowed | HV_XCR0_X87))
        need = hv_xs_size(hv_cpuid_host_xs(vcpu->vm->ctx), xcr0);
    size_t size = make_image(in, img, xcr0, need);
    uint64_t bv;
    memcpy(&bv, img + HV_XSAVE_HEADER, 8);

    /* The documented reasons to refuse (hv/xsave.h). */
    uint32_t mxcsr;
    memcpy(&mxcsr, img + 24, 4);
    bool reserved = false;
    for (unsigned i = 8; i < 64; i++)
        reserved |= img[HV_XSAVE_HEADER + i] != 0;
    bool refuse = !hv_xcr0_valid(xcr0, allowed | HV_XCR0_X87) || size < need ||
                  (bv & ~(xcr0 | HV_XCR0_X87 | HV_XCR0_SSE)) || reserved ||
                  (mxcsr & ~hv_fpu_host_mxcsr_mask());

    hv_status_t st = hv_vcpu_set_xsave(vcpu, xcr0, img, size);
    FZ_CHECK((st == HV_OK) == !refuse, "set: status %d where the documented checks %s", st,
             refuse ? "refuse" : "accept");
    FZ_CHECK(hv_vcpu_get_xsave(vcpu, &x1, after, sizeof(after), &used1) == HV_OK, "get after");
    if (st != HV_OK) {
        FZ_CHECK(st == HV_ERR_INVALID_ARG || st == HV_ERR_RANGE, "set: status %d", st);
        FZ_CHECK(x1 == x0 && used1 == used0 && !memcmp(before, after, used0),
                 "a refused set (status %d) changed the state", st);
        return;
    }
    /* Accepted: exactly what the documented checks allow. */
    FZ_CHECK(hv_xcr0_valid(xcr0, allowed | HV_XCR0_X87), "XCR0 0x%llx accepted",
             (unsigned long long)xcr0);
    FZ_CHECK(!(bv & ~(xcr0 | HV_XCR0_X87 | HV_XCR0_SSE)),
             "XSTATE_BV 0x%llx beyond XCR0 0x%llx accepted", (unsigned long long)bv,
             (unsigned long long)xcr0);
    FZ_CHECK(size >= need, "image of %zu bytes accepted for %zu", size, need);
    FZ_CHECK(x1 == xcr0 && used1 == need, "read back XCR0 0x%llx (%zu bytes)",
             (unsigned long long)x1, used1);
    uint64_t bv1;
    memcpy(&bv1, after + HV_XSAVE_HEADER, 8);
    FZ_CHECK((bv1 & 3) == 3 && !(bv1 & ~(xcr0 | 3)), "get's XSTATE_BV 0x%llx for XCR0 0x%llx",
             (unsigned long long)bv1, (unsigned long long)xcr0);
    for (unsigned i = 8; i < 64; i++)
        FZ_CHECK(!after[HV_XSAVE_HEADER + i], "get's header byte %u set", i);
    const struct hv_xs_layout *l = hv_cpuid_host_xs(vcpu->vm->ctx);
    for (unsigned i = 2; i < 8; i++) {
        uint64_t b = 1ull << i;
        if (xcr0 & bv & b) {
            FZ_CHECK((bv1 & b) && !memcmp(after + l->off[i], img + l->off[i], l->size[i]),
                     "component %u not read back", i);
        } else if (xcr0 & b) {
            FZ_CHECK(!(bv1 & b), "component %u read back though its XSTATE_BV bit was clear", i);
            for (uint32_t k = 0; k < l->size[i]; k++)
                FZ_CHECK(!after[l->off[i] + k], "component %u in its initial state reads non-zero",
                         i);
        }
    }
    static const uint8_t zero[256];
    FZ_CHECK(!memcmp(after + 160, bv & HV_XCR0_SSE ? img + 160 : zero, 256),
             "XMM registers not as XSTATE_BV says");
    FZ_CHECK(!memcmp(after + 24, img + 24, 4), "MXCSR not read back");

    if (!g_proc_xcr0)
        return;
    /* What hv_xs_enter loads at the next run, and the image itself. */
    if (vcpu->xs_guest && (vcpu->xs_used & g_proc_xcr0)) {
        /* The vCPU's area is as large as the host's layout needs (less
           than HV_XSAVE_MAX_SIZE on a host without AVX-512). */
        static uint8_t area[HV_XSAVE_MAX_SIZE] __attribute__((aligned(64)));
        memset(area, 0, sizeof(area));
        memcpy(area, vcpu->xs_guest, hv_xs_size(l, l->supported));
        uint32_t m = mxcsr_now();
        memcpy(area + 24, &m, 4);
        xrstor_probe(area, vcpu->xs_used & g_proc_xcr0);
    }
    xrstor_probe(after, xcr0 & g_proc_xcr0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    if (!g_w) {
        g_w = calloc(1, sizeof(*g_w));
        if (!g_w)
            abort();
        mock_host_init(&g_w->mh);
        g_w->mh.poison_free = false;
        hv_ept_format_init(&g_w->fmt, HV_PAGE_4K | HV_PAGE_2M, true, false);
        g_proc_xcr0 = proc_xcr0();
    }
    uint8_t setup = fz_u8(&in);
    mock_backend_reset(&g_w->fmt);
    g_w->be = mock_backend_ops;
    struct hv_ctx *ctx;
    struct hv_vm *vm;
    struct hv_vcpu *vcpu;
    FZ_CHECK(hv_ctx_create_with_backend(&g_w->mh.ops, NULL, &g_w->be, &ctx) == HV_OK, "ctx");
    struct hv_vm_config vc = {.size = sizeof(vc), .max_vcpus = 1};
    FZ_CHECK(hv_vm_create(ctx, &vc, &vm) == HV_OK, "vm");
    /* The CPUID view: the host's leaves 1 and 7 less what the set-up hides. */
    uint32_t r[4];
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(1u), "c"(0u));
    if (setup & 3) {
        r[2] &= ~((setup & 1 ? 1u << 26 : 0) | (setup & 2 ? 1u << 28 : 0));
        FZ_CHECK(hv_vm_set_cpuid(vm, 1, UINT32_MAX, r) == HV_OK, "cpuid 1");
    }
    if (setup & 4) {
        __asm__ volatile("cpuid"
                         : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(7u), "c"(0u));
        r[1] &= ~(1u << 16); /* AVX512F */
        FZ_CHECK(hv_vm_set_cpuid(vm, 7, 0, r) == HV_OK, "cpuid 7");
    }
    FZ_CHECK(hv_vcpu_create(vm, 0, &vcpu) == HV_OK, "vcpu");
    one_set(vcpu, &in);
    if (setup & 8)
        one_set(vcpu, &in);
    FZ_CHECK(hv_vcpu_destroy(vcpu) == HV_OK, "vcpu destroy");
    FZ_CHECK(hv_vm_destroy(vm) == HV_OK, "vm destroy");
    FZ_CHECK(hv_ctx_destroy(ctx) == HV_OK, "ctx destroy");
    fz_check_clean(&g_w->mh, "end of input");
    return 0;
}
