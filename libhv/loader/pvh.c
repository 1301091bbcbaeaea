/*
 * PVH boot layout: where the modules and the start_info block go, and
 * writing them. Xen's PVH ABI (docs/misc/pvh.pandoc, public
 * arch-x86/hvm/start_info.h): the vCPU starts at the PHYS32_ENTRY note in
 * 32-bit flat protected mode, paging off, EBX = address of struct
 * hvm_start_info; Xen keeps everything below 4 GiB and never uses address 0.
 *
 * The start_info block is one contiguous range, each piece 8-byte aligned:
 *   struct hvm_start_info | modlist[nr] | memmap[n] | cmdline | module cmdlines
 */
#include <hv/host.h>

#include "loader/loader.h"
#include "loader/start_info.h"

#define PVH_LIMIT    (1ull << 32) /* EBX and the entry point are 32-bit */
#define PVH_LOWEST   0x1000ull    /* keep page 0 free: 0 means "absent" */
#define PVH_MAX_BUSY (HV_IMAGE_MAX_SEGMENTS + 2 * HV_PVH_MAX_MODULES + HV_PVH_MAX_MEMMAP)

struct busy {
    uint64_t base, end; /* [base, end) */
};

struct planner {
    const struct hv_pvh_params *p;
    struct busy busy[PVH_MAX_BUSY];
    uint32_t nbusy;
    uint64_t cmdline_len;
    uint64_t mod_cmdline_len[HV_PVH_MAX_MODULES];
};

static void add_busy(struct planner *pl, uint64_t base, uint64_t len)
{
    /* Capacity is sized for the maximum of every kind of entry added. */
    if (len && pl->nbusy < PVH_MAX_BUSY) {
        pl->busy[pl->nbusy].base = base;
        pl->busy[pl->nbusy].end = base + len;
        pl->nbusy++;
    }
}

/* [base, base+len) fits one RAM entry of the memory map, below 4 GiB, and touches nothing busy. */
static bool fits(const struct planner *pl, uint64_t base, uint64_t len)
{
    uint64_t end = base + len;
    bool in_ram = false;

    if (base < PVH_LOWEST || end > PVH_LIMIT || end < base)
        return false;
    for (uint32_t i = 0; i < pl->p->memmap_count && !in_ram; i++) {
        const struct hv_pvh_memmap *m = &pl->p->memmap[i];
        in_ram = m->type == HV_PVH_MEMMAP_RAM && base >= m->addr && end <= m->addr + m->size;
    }
    if (!in_ram)
        return false;
    for (uint32_t i = 0; i < pl->nbusy; i++) {
        if (base < pl->busy[i].end && pl->busy[i].base < end)
            return false;
    }
    return true;
}

static bool try_candidate(const struct planner *pl, uint64_t c, uint64_t len, uint64_t align,
                          uint64_t floor, uint64_t *best)
{
    if (c < floor)
        c = floor;
    if (c > PVH_LIMIT)
        return false;
    c = HV_ALIGN_UP(c, align);
    if (c < *best && fits(pl, c, len)) {
        *best = c;
        return true;
    }
    return false;
}

/*
 * Lowest address >= floor where [a, a+len) fits: a free range always starts
 * at the start of a RAM entry or at the end of a busy range, so only those
 * candidates (aligned up) need trying.
 */
static bool find_fit(const struct planner *pl, uint64_t len, uint64_t align, uint64_t floor,
                     uint64_t *out)
{
    uint64_t best = UINT64_MAX;

    for (uint32_t i = 0; i < pl->p->memmap_count; i++)
        try_candidate(pl, pl->p->memmap[i].addr, len, align, floor, &best);
    for (uint32_t i = 0; i < pl->nbusy; i++)
        try_candidate(pl, pl->busy[i].end, len, align, floor, &best);
    try_candidate(pl, floor, len, align, floor, &best);
    if (best == UINT64_MAX)
        return false;
    *out = best;
    return true;
}

/* Prefer room above the image (low memory stays free for the guest), then anywhere. */
static bool place(struct planner *pl, const struct hv_image *img, uint64_t len, uint64_t align,
                  uint64_t *out)
{
    if (!find_fit(pl, len, align, img->paddr_hi, out) && !find_fit(pl, len, align, PVH_LOWEST, out))
        return false;
    add_busy(pl, *out, len);
    return true;
}

static hv_status_t plan_fail(struct hv_pvh_layout *out, hv_status_t st, const char *why)
{
    out->reason = why;
    return st;
}

static bool cmdline_ok(const char *s, uint64_t *len)
{
    *len = s ? hv_strnlen(s, HV_PVH_MAX_CMDLINE + 1) : 0;
    return *len <= HV_PVH_MAX_CMDLINE;
}

static hv_status_t check_params(struct planner *pl, const struct hv_image *img,
                                struct hv_pvh_layout *out)
{
    const struct hv_pvh_params *p = pl->p;

    if (p->memmap_count == 0 || p->memmap_count > HV_PVH_MAX_MEMMAP || !p->memmap)
        return plan_fail(out, HV_ERR_INVALID_ARG, "memory map missing or too long");
    if (p->module_count > HV_PVH_MAX_MODULES || (p->module_count && !p->modules))
        return plan_fail(out, HV_ERR_INVALID_ARG, "too many modules");
    if (!cmdline_ok(p->cmdline, &pl->cmdline_len))
        return plan_fail(out, HV_ERR_INVALID_ARG, "command line too long");
    for (uint32_t i = 0; i < p->memmap_count; i++) {
        const struct hv_pvh_memmap *m = &p->memmap[i];
        if (!hv_range_valid(m->addr, m->size) || m->addr + m->size < m->addr)
            return plan_fail(out, HV_ERR_INVALID_ARG, "memory map entry empty or overflowing");
        if (m->type != HV_PVH_MEMMAP_RAM)
            add_busy(pl, m->addr, m->size);
    }
    for (uint32_t i = 0; i < img->nsegs; i++)
        add_busy(pl, img->segs[i].paddr, img->segs[i].memsz);
    for (uint32_t i = 0; i < p->module_count; i++) {
        const struct hv_pvh_module *m = &p->modules[i];
        if (!cmdline_ok(m->cmdline, &pl->mod_cmdline_len[i]))
            return plan_fail(out, HV_ERR_INVALID_ARG, "module command line too long");
        if (m->data || m->size == 0)
            continue;
        if (!hv_range_valid(m->paddr, m->size) || m->paddr + m->size > PVH_LIMIT)
            return plan_fail(out, HV_ERR_INVALID_ARG, "module range overflows or ends above 4 GiB");
        for (uint32_t j = 0; j < pl->nbusy; j++) {
            if (m->paddr < pl->busy[j].end && pl->busy[j].base < m->paddr + m->size)
                return plan_fail(out, HV_ERR_INVALID_ARG,
                                 "module overlaps the image, another module or a reserved range");
        }
        add_busy(pl, m->paddr, m->size);
    }
    return HV_OK;
}

static bool entry_in_segment(const struct hv_image *img)
{
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        if (img->phys32_entry >= s->paddr && img->phys32_entry - s->paddr < s->memsz)
            return true;
    }
    return false;
}

/* Offsets of the pieces inside the start_info block; returns its size. */
static uint64_t block_size(const struct planner *pl, uint64_t *memmap_off, uint64_t *cmd_off)
{
    const struct hv_pvh_params *p = pl->p;
    uint64_t off = sizeof(struct hvm_start_info);

    off += (uint64_t)p->module_count * sizeof(struct hvm_modlist_entry);
    *memmap_off = off;
    off += (uint64_t)p->memmap_count * sizeof(struct hvm_memmap_table_entry);
    *cmd_off = off;
    if (p->cmdline)
        off += HV_ALIGN_UP(pl->cmdline_len + 1, 8);
    for (uint32_t i = 0; i < p->module_count; i++) {
        if (p->modules[i].cmdline)
            off += HV_ALIGN_UP(pl->mod_cmdline_len[i] + 1, 8);
    }
    return off;
}

static hv_status_t plan(struct planner *pl, const struct hv_image *img,
                        const struct hv_pvh_params *params, struct hv_pvh_layout *out)
{
    uint64_t memmap_off, cmd_off, size;
    hv_status_t st;

    hv_memset(out, 0, sizeof(*out));
    hv_memset(pl, 0, sizeof(*pl));
    pl->p = params;
    if (!img || !params)
        return plan_fail(out, HV_ERR_INVALID_ARG, "no image or parameters");
    if (img->status != HV_OK)
        return plan_fail(out, img->status, img->reason);
    if (!img->has_phys32_entry)
        return plan_fail(out, HV_ERR_BAD_IMAGE,
                         "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
    if (!entry_in_segment(img))
        return plan_fail(out, HV_ERR_BAD_IMAGE, "PHYS32_ENTRY lies outside the loaded segments");
    st = check_params(pl, img, out);
    if (st != HV_OK)
        return st;

    out->entry = img->phys32_entry;
    out->module_count = params->module_count;
    for (uint32_t i = 0; i < params->module_count; i++) {
        const struct hv_pvh_module *m = &params->modules[i];
        if (!m->data) {
            out->module_gpa[i] = m->size ? m->paddr : 0;
        } else if (m->size) {
            if (m->size > PVH_LIMIT || !place(pl, img, HV_ALIGN_UP(m->size, HV_PAGE_SIZE),
                                              HV_PAGE_SIZE, &out->module_gpa[i]))
                return plan_fail(out, HV_ERR_RANGE,
                                 "no room in guest RAM below 4 GiB for a module");
        }
    }
    size = block_size(pl, &memmap_off, &cmd_off);
    if (!place(pl, img, size, 8, &out->start_info_gpa))
        return plan_fail(out, HV_ERR_RANGE, "no room in guest RAM below 4 GiB for start_info");
    out->start_info_size = size;
    out->modlist_gpa =
        params->module_count ? out->start_info_gpa + sizeof(struct hvm_start_info) : 0;
    out->memmap_gpa = out->start_info_gpa + memmap_off;
    out->cmdline_gpa = params->cmdline ? out->start_info_gpa + cmd_off : 0;
    return HV_OK;
}

hv_status_t hv_pvh_plan(const struct hv_image *img, const struct hv_pvh_params *params,
                        struct hv_pvh_layout *out)
{
    struct planner pl;

    if (!out)
        return HV_ERR_INVALID_ARG;
    return plan(&pl, img, params, out);
}

static hv_status_t put(const struct hv_image_sink *sink, uint64_t gpa, const void *src,
                       uint64_t len)
{
    return len ? sink->write(sink->opaque, gpa, src, len) : HV_OK;
}

/* Writes the start_info block planned in @p out. */
static hv_status_t write_start_info(const struct planner *pl, const struct hv_pvh_layout *out,
                                    const struct hv_image_sink *sink)
{
    const struct hv_pvh_params *p = pl->p;
    struct hvm_start_info si;
    struct hvm_modlist_entry me;
    struct hvm_memmap_table_entry mm;
    uint64_t str = out->cmdline_gpa ? out->cmdline_gpa + HV_ALIGN_UP(pl->cmdline_len + 1, 8)
                                    : out->memmap_gpa + (uint64_t)p->memmap_count * sizeof(mm);
    hv_status_t st;

    /* Zero the whole block first so padding and reserved fields are 0. */
    st = put(sink, out->start_info_gpa, NULL, out->start_info_size);
    for (uint32_t i = 0; st == HV_OK && i < p->module_count; i++) {
        hv_memset(&me, 0, sizeof(me));
        me.paddr = out->module_gpa[i];
        me.size = p->modules[i].size;
        if (p->modules[i].cmdline) {
            me.cmdline_paddr = str;
            st = put(sink, str, p->modules[i].cmdline, pl->mod_cmdline_len[i]);
            str += HV_ALIGN_UP(pl->mod_cmdline_len[i] + 1, 8);
        }
        if (st == HV_OK)
            st = put(sink, out->modlist_gpa + (uint64_t)i * sizeof(me), &me, sizeof(me));
    }
    for (uint32_t i = 0; st == HV_OK && i < p->memmap_count; i++) {
        hv_memset(&mm, 0, sizeof(mm));
        mm.addr = p->memmap[i].addr;
        mm.size = p->memmap[i].size;
        mm.type = p->memmap[i].type;
        st = put(sink, out->memmap_gpa + (uint64_t)i * sizeof(mm), &mm, sizeof(mm));
    }
    /* The block was zeroed, so copying the string's bytes leaves its NUL in place. */
    if (st == HV_OK && out->cmdline_gpa)
        st = put(sink, out->cmdline_gpa, p->cmdline, pl->cmdline_len);
    if (st == HV_OK) {
        hv_memset(&si, 0, sizeof(si));
        si.magic = XEN_HVM_START_MAGIC_VALUE;
        si.version = XEN_HVM_START_INFO_VERSION;
        si.nr_modules = p->module_count;
        si.modlist_paddr = out->modlist_gpa;
        si.cmdline_paddr = out->cmdline_gpa;
        si.rsdp_paddr = p->rsdp_paddr;
        si.memmap_paddr = out->memmap_gpa;
        si.memmap_entries = p->memmap_count;
        st = put(sink, out->start_info_gpa, &si, sizeof(si));
    }
    return st;
}

hv_status_t hv_pvh_build(struct hv_image *img, const struct hv_pvh_params *params,
                         const struct hv_image_sink *sink, struct hv_pvh_layout *out)
{
    struct planner pl;
    hv_status_t st;

    if (!out)
        return HV_ERR_INVALID_ARG;
    st = plan(&pl, img, params, out);
    if (st != HV_OK)
        return st;
    if (!sink || !sink->write)
        return plan_fail(out, HV_ERR_INVALID_ARG, "no sink");
    st = hv_image_load(img, sink);
    if (st != HV_OK)
        return plan_fail(out, st, img->reason);
    for (uint32_t i = 0; st == HV_OK && i < params->module_count; i++) {
        if (params->modules[i].data)
            st = put(sink, out->module_gpa[i], params->modules[i].data, params->modules[i].size);
    }
    if (st == HV_OK)
        st = write_start_info(&pl, out, sink);
    if (st != HV_OK) {
        ldr_fail(img, st, "guest memory write rejected");
        return plan_fail(out, st, "guest memory write rejected");
    }
    return HV_OK;
}
