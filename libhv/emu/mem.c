/*
 * Memory operands: segmentation (SDM Vol. 3A 3.4, 5.3), canonical checks
 * (SDM Vol. 1 3.3.7.1), translation through the guest's page tables, the
 * alignment check (SDM Vol. 3A 6.15 #AC), and the split of an access into
 * RAM and MMIO pieces at page boundaries.
 */
#include "emu/internal.h"
#include "emu/walk.h"

#include "core/util.h"

emu_rc emu_exception(struct emu_ctx *c, uint8_t vector, bool has_ec, uint32_t ec)
{
    c->res->outcome = HV_EMU_EXCEPTION;
    c->res->vector = vector;
    c->res->has_error_code = has_ec;
    c->res->error_code = has_ec ? ec : 0;
    return EMU_STOP;
}

/* 48-bit, or 57-bit with CR4.LA57, sign-extended. */
bool emu_canonical(const struct emu_ctx *c, uint64_t la)
{
    return hv_emu_canonical(la, c->regs->cr4);
}

emu_rc emu_translate(struct emu_ctx *c, uint64_t la, unsigned access, uint64_t *gpa)
{
    struct hv_walk_result w;
    hv_status_t st = c->ops->walk ? c->ops->walk(c->env->opaque, c->env, c->regs, la, access, &w)
                                  : hv_walk(c->env, c->regs, la, access, &w);

    if (st != HV_OK) {
        c->status = st;
        return EMU_FAIL;
    }
    switch (w.outcome) {
    case HV_WALK_OK:
        *gpa = w.gpa;
        return EMU_OK;
    case HV_WALK_PAGE_FAULT:
        c->res->cr2 = la;
        return emu_exception(c, HV_EMU_VEC_PF, true, w.error_code);
    default:
        c->res->outcome = HV_EMU_NOT_RAM;
        c->res->gpa = w.table_gpa;
        return EMU_STOP;
    }
}

/*
 * Offset @p ea (already truncated to the address size) of an access of
 * @p size bytes in segment @p seg to a linear address. Faults are #SS(0)
 * for SS references and #GP(0) otherwise.
 */
emu_rc emu_linear(struct emu_ctx *c, unsigned seg, uint64_t ea, unsigned size, bool write,
                  uint64_t *la)
{
    const struct hv_emu_seg *s = &c->regs->seg[seg];
    uint8_t vec = seg == HV_EMU_SS ? HV_EMU_VEC_SS : HV_EMU_VEC_GP;
    uint64_t last = ea + size - 1;
    uint16_t a = s->attr;

    if (c->long64) {
        /* 64-bit mode: only FS and GS have a base, no limits (SDM Vol. 3A 3.2.4). */
        uint64_t base = (seg == HV_EMU_FS || seg == HV_EMU_GS) ? s->base : 0;
        uint64_t first = base + ea;
        last = first + size - 1;
        if (last < first || !emu_canonical(c, first) || !emu_canonical(c, last))
            return emu_exception(c, vec, true, 0);
        *la = first;
        return EMU_OK;
    }
    if (!c->realish) {
        /* Null/unusable selector, then type checks (SDM Vol. 3A 5.4.1). */
        if (!(a & HV_EMU_SEG_P) || !(a & HV_EMU_SEG_S))
            return emu_exception(c, vec, true, 0);
        if (a & HV_EMU_SEG_TYPE_CODE) {
            if (write || !(a & HV_EMU_SEG_TYPE_W))
                return emu_exception(c, vec, true, 0);
        } else if (write && !(a & HV_EMU_SEG_TYPE_W)) {
            return emu_exception(c, vec, true, 0);
        }
        if (!(a & HV_EMU_SEG_TYPE_CODE) && (a & HV_EMU_SEG_TYPE_E)) {
            /* Expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff (5.3). */
            uint64_t max = (a & HV_EMU_SEG_DB) ? 0xffffffffu : 0xffffu;
            if (ea <= s->limit || last > max)
                return emu_exception(c, vec, true, 0);
            *la = (s->base + ea) & 0xffffffffu;
            return EMU_OK;
        }
    }
    if (last > s->limit)
        return emu_exception(c, vec, true, 0);
    *la = (s->base + ea) & 0xffffffffu;
    return EMU_OK;
}

emu_rc emu_mem_prepare(struct emu_ctx *c, unsigned seg, uint64_t ea, unsigned size, bool write,
                       struct emu_mem *m)
{
    const struct hv_emu_regs *r = c->regs;
    unsigned first;
    uint64_t la;
    emu_rc rc;

    rc = emu_linear(c, seg, ea, size, write, &la);
    if (rc != EMU_OK)
        return rc;
    m->la = la;
    m->size = size;
    first = (unsigned)HV_MIN((uint64_t)size, EMU_PAGE - (la & (EMU_PAGE - 1)));
    m->n = first == size ? 1 : 2;
    m->piece[0].len = first;
    m->piece[1].len = size - first;
    for (unsigned i = 0; i < m->n; i++) {
        uint64_t pla = i == 0 ? la : la + first;
        if (!c->long64)
            pla &= 0xffffffffu;
        rc = emu_translate(c, pla, write ? HV_WALK_WRITE : HV_WALK_READ, &m->piece[i].gpa);
        if (rc != EMU_OK)
            return rc;
        m->piece[i].ram = c->ops->is_ram(c->env->opaque, m->piece[i].gpa);
    }
    /* Alignment check: CPL 3 with CR0.AM and RFLAGS.AC; ranks below #PF. */
    if ((r->cr0 & HV_EMU_CR0_AM) && (r->rflags & HV_EMU_RFLAGS_AC) && r->cpl == 3 &&
        (la & (size - 1)))
        return emu_exception(c, HV_EMU_VEC_AC, true, 0);
    return EMU_OK;
}

/*
 * One piece: RAM through gpa_read/gpa_write, MMIO as naturally sized
 * chunks of 1, 2, 4 or 8 bytes (a whole operand is one chunk unless it
 * straddles a page).
 */
static emu_rc piece_io(struct emu_ctx *c, uint64_t gpa, unsigned len, bool ram, bool write,
                       uint8_t *buf)
{
    const struct hv_emu_ops *ops = c->ops;
    hv_status_t st = HV_OK;

    if (ram) {
        st = write ? ops->gpa_write(c->env->opaque, gpa, buf, len)
                   : ops->gpa_read(c->env->opaque, gpa, buf, len);
        len = 0;
    }
    while (st == HV_OK && len) {
        unsigned n = len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
        uint64_t v = 0;
        if (write) {
            for (unsigned i = 0; i < n; i++)
                v |= (uint64_t)buf[i] << (8 * i);
        }
        st = ops->mmio(c->env->opaque, gpa, n, write, &v);
        if (!write) {
            for (unsigned i = 0; i < n; i++)
                buf[i] = (uint8_t)(v >> (8 * i));
        }
        gpa += n;
        buf += n;
        len -= n;
    }
    if (st != HV_OK) {
        c->status = st;
        return EMU_FAIL;
    }
    return EMU_OK;
}

emu_rc emu_mem_read(struct emu_ctx *c, const struct emu_mem *m, uint64_t *val)
{
    uint8_t buf[8] = {0};
    unsigned off = 0;
    uint64_t v = 0;

    for (unsigned i = 0; i < m->n; i++) {
        emu_rc rc =
            piece_io(c, m->piece[i].gpa, m->piece[i].len, m->piece[i].ram, false, buf + off);
        if (rc != EMU_OK)
            return rc;
        off += m->piece[i].len;
    }
    for (unsigned i = 0; i < m->size; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    *val = v;
    return EMU_OK;
}

emu_rc emu_mem_write(struct emu_ctx *c, const struct emu_mem *m, uint64_t val)
{
    uint8_t buf[8];
    unsigned off = 0;

    for (unsigned i = 0; i < m->size; i++)
        buf[i] = (uint8_t)(val >> (8 * i));
    for (unsigned i = 0; i < m->n; i++) {
        emu_rc rc = piece_io(c, m->piece[i].gpa, m->piece[i].len, m->piece[i].ram, true, buf + off);
        if (rc != EMU_OK)
            return rc;
        off += m->piece[i].len;
    }
    return EMU_OK;
}
