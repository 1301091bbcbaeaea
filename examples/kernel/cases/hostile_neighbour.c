/*
 * The neighbour VM of the hostile-guest cases (hostile.h): 1 MiB of RAM
 * with 64 KiB of canary words; its guest (real mode) checksums them, reports
 * the sum with OUT 0xe0 and halts, and does it again on every run.
 */
#include "hostile.h"

/* clang-format off */
__asm__(".pushsection .rodata.hostile, \"a\"\n"
        ".code16\n"
        /* canary: checksum [0x10000, 0x20000) (add, rotate) -> OUT 0xe0, HLT, again. */
        ".balign 16\n"
        "hg_canary_start:\n"
        "    cli\n"
        "    xorw %ax, %ax\n"
        "    movw %ax, %ss\n"
        "    movw $0x1000, %sp\n"
        "1:  movw $0x1000, %ax\n"
        "    movw %ax, %ds\n"
        "    xorw %si, %si\n"
        "    xorl %ebx, %ebx\n"
        "    movw $0x4000, %cx\n"
        "2:  addl (%si), %ebx\n"
        "    roll $5, %ebx\n"
        "    addw $4, %si\n"
        "    loop 2b\n"
        "    movl %ebx, %eax\n"
        "    outl %eax, $0xe0\n"
        "    hlt\n"
        "    jmp 1b\n"
        "hg_canary_end:\n"

        ".code64\n"
        ".popsection\n");
/* clang-format on */

extern const uint8_t hg_canary_start[], hg_canary_end[];
static const struct vmt_image hg_canary = {"hostile_canary", hg_canary_start, hg_canary_end};

static uint32_t canary_word(uint32_t i)
{
    return (i * 0x9e3779b9u) ^ 0xc0ffee00u;
}

int neighbour_create(struct kcase_ctx *kc, struct hv_ctx *ctx, struct neighbour *n)
{
    if (vmt_create(kc, ctx, &n->t, &hg_canary))
        return -1;
    uint32_t *w = (uint32_t *)(n->t.ram + CANARY_GPA);
    n->sum = 0;
    for (uint32_t i = 0; i < CANARY_SIZE / 4; i++) {
        w[i] = canary_word(i);
        n->sum += w[i];
        n->sum = (n->sum << 5) | (n->sum >> 27);
    }
    return 0;
}

int neighbour_check(struct kcase_ctx *kc, struct neighbour *n, const char *after)
{
    const uint32_t *w = (const uint32_t *)(n->t.ram + CANARY_GPA);
    for (uint32_t i = 0; i < CANARY_SIZE / 4; i++)
        if (w[i] != canary_word(i))
            return kcase_fail(kc, "after %s: neighbour canary %u is 0x%x", after, i, w[i]);
    n->t.nouts = 0;
    if (vmt_run_until(&n->t, HV_EXIT_HLT))
        return -1;
    if (n->t.nouts != 1 || n->t.outs[0].value != n->sum)
        return kcase_fail(kc, "after %s: neighbour reported 0x%x (%u OUTs), expected 0x%x", after,
                          n->t.nouts ? n->t.outs[0].value : 0, n->t.nouts, n->sum);
    n->runs++;
    return 0;
}
