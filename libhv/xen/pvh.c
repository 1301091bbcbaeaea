/*
 * PVH boot (hv/pvh.h): the image loader writes through a sink backed by
 * the checked guest-physical accessors; then the vCPU gets the entry state
 * of Xen's PVH ABI (docs/misc/pvh.pandoc).
 */
#include <hv/pvh.h>
#include <hv/vcpu.h>
#include "core/guest_mem.h"
#include "xen/internal.h"

#define CONFIG_MIN_SIZE (offsetof(struct hv_pvh_config, cmdline) + sizeof(const char *))

/* Selectors of the flat segments (the ABI leaves their values unspecified). */
#define PVH_SEL_CS 0x08
#define PVH_SEL_DS 0x10
#define PVH_SEL_TR 0x18

/* Segment attributes, VMCB layout (APM Vol. 2 15.5.1). */
#define ATTR_CODE32 (0xbu | HV_SEG_S | HV_SEG_P | HV_SEG_DB | HV_SEG_G) /* exec/read, accessed */
#define ATTR_DATA32 (0x3u | HV_SEG_S | HV_SEG_P | HV_SEG_DB | HV_SEG_G) /* read/write, accessed */
#define ATTR_TSS32  (0xbu | HV_SEG_P)                                   /* busy 32-bit TSS */

#define CR0_PE HV_BIT(0)
#define CR0_ET HV_BIT(4)

static hv_status_t sink_write(void *opaque, uint64_t gpa, const void *src, uint64_t len)
{
    struct hv_vm *vm = opaque;
    if (!src)
        return hv_gpa_zero(vm, gpa, len);
    if (len > SIZE_MAX)
        return HV_ERR_RANGE;
    return hv_gpa_write(vm, gpa, src, (size_t)len);
}

static void *alloc_obj(void *opaque, size_t size)
{
    return hv_host_obj_alloc(opaque, size);
}

static void free_obj(void *opaque, void *ptr, size_t size)
{
    hv_host_obj_free(opaque, ptr, size);
}

static void set_seg(struct hv_segment *s, uint16_t sel, uint32_t limit, uint16_t attr)
{
    s->base = 0;
    s->limit = limit;
    s->selector = sel;
    s->attr = attr;
}

/* The register state the PVH ABI prescribes at the 32-bit entry point. */
static hv_status_t set_entry_state(struct hv_vcpu *vcpu, uint32_t entry, uint32_t start_info)
{
    struct hv_vcpu_state st;
    const uint32_t mask = HV_STATE_GPR | HV_STATE_SEG | HV_STATE_DTABLE | HV_STATE_CR;
    hv_status_t s = hv_vcpu_get_state(vcpu, mask, &st);
    if (s != HV_OK)
        return s;
    hv_memset(st.gpr, 0, sizeof(st.gpr));
    st.gpr[HV_GPR_RBX] = start_info;
    st.rip = entry;
    st.rflags = 0x2;
    set_seg(&st.seg[HV_SEG_CS], PVH_SEL_CS, 0xffffffffu, ATTR_CODE32);
    set_seg(&st.seg[HV_SEG_DS], PVH_SEL_DS, 0xffffffffu, ATTR_DATA32);
    set_seg(&st.seg[HV_SEG_ES], PVH_SEL_DS, 0xffffffffu, ATTR_DATA32);
    set_seg(&st.seg[HV_SEG_SS], PVH_SEL_DS, 0xffffffffu, ATTR_DATA32);
    set_seg(&st.seg[HV_SEG_FS], PVH_SEL_DS, 0xffffffffu, ATTR_DATA32);
    set_seg(&st.seg[HV_SEG_GS], PVH_SEL_DS, 0xffffffffu, ATTR_DATA32);
    set_seg(&st.seg[HV_SEG_TR], PVH_SEL_TR, 0x67, ATTR_TSS32);
    set_seg(&st.seg[HV_SEG_LDTR], 0, 0, HV_SEG_UNUSABLE);
    st.gdtr.base = st.idtr.base = 0;
    st.gdtr.limit = st.idtr.limit = 0;
    st.cr0 = CR0_PE | CR0_ET;
    st.cr2 = st.cr3 = st.cr4 = st.cr8 = 0;
    st.efer = 0;
    st.dr7 = 0x400;
    return hv_vcpu_set_state(vcpu, mask, &st);
}

/* [base, base+len) lies in RAM entries of the map (adjacent entries may chain). */
static bool in_ram(const struct hv_pvh_memmap *map, uint32_t count, uint64_t base, uint64_t len)
{
    uint64_t pos = base, end = base + len; /* the loader checked it does not wrap */
    for (uint32_t step = 0; pos < end && step <= count; step++) {
        bool found = false;
        for (uint32_t i = 0; i < count && !found; i++) {
            const struct hv_pvh_memmap *m = &map[i];
            if (m->type == HV_PVH_MEMMAP_RAM && pos >= m->addr && pos - m->addr < m->size) {
                pos = m->addr + m->size < m->addr ? end : m->addr + m->size;
                found = true;
            }
        }
        if (!found)
            return false;
    }
    return pos >= end;
}

/* The guest is told where its RAM is: its own image must be in it. */
static bool segments_in_ram(const struct hv_image *img, const struct hv_pvh_memmap *map,
                            uint32_t count)
{
    for (uint32_t i = 0; i < img->nsegs && i < HV_IMAGE_MAX_SEGMENTS; i++)
        if (!in_ram(map, count, img->segs[i].paddr, img->segs[i].memsz))
            return false;
    return true;
}

hv_status_t hv_pvh_load(struct hv_vm *vm, struct hv_vcpu *vcpu, const void *image, size_t len,
                        const struct hv_pvh_config *config, struct hv_pvh_info *info)
{
    struct hv_pvh_config cfg;
    struct hv_pvh_info out;
    hv_memset(&out, 0, sizeof(out));
    hv_memset(&cfg, 0, sizeof(cfg));
    if (config) {
        uint32_t size = config->size ? config->size : sizeof(*config);
        if (size < CONFIG_MIN_SIZE)
            return HV_ERR_INVALID_ARG;
        hv_memcpy(&cfg, config, HV_MIN((size_t)size, sizeof(cfg)));
    }
    if (!vm || !vcpu || vcpu->vm != vm || !image || !len || cfg.memmap_count > HV_PVH_MAX_MEMMAP ||
        (cfg.memmap_count && !cfg.memmap)) {
        if (info)
            info->reason = "invalid argument";
        return HV_ERR_INVALID_ARG;
    }
    if (vcpu->running)
        return HV_ERR_BUSY;

    /* The memory map: the caller's, or the VM's mappings. */
    struct hv_pvh_memmap derived[HV_PVH_MAX_MEMMAP];
    const struct hv_pvh_memmap *map = cfg.memmap;
    uint32_t map_count = cfg.memmap_count;
    if (!map) {
        xen_memmap_derive(vm, derived, &map_count);
        map = derived;
    }

    struct hv_inflate_alloc alloc = {
        .opaque = (void *)&vm->ctx->host, .alloc = alloc_obj, .free = free_obj};
    struct hv_inflate_ops builtin;
    hv_inflate_builtin_ops(&builtin, &alloc);
    struct hv_image_limits limits = {.max_gpa = 1ull << vm->gpa_bits,
                                     .max_inflated = cfg.max_inflated};
    struct hv_image img;
    hv_status_t st = hv_image_open(&img, image, len, &limits, cfg.inflate ? cfg.inflate : &builtin);
    out.elf_class = img.elf_class;
    out.compressed = img.compression == HV_IMAGE_GZIP;
    if (st == HV_OK && !img.has_phys32_entry) {
        st = HV_ERR_BAD_IMAGE;
        out.reason = "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH image";
    }
    if (st == HV_OK && !segments_in_ram(&img, map, map_count)) {
        st = HV_ERR_RANGE;
        out.reason = "a segment lies outside the RAM of the memory map";
    }
    struct hv_pvh_layout lay;
    hv_memset(&lay, 0, sizeof(lay));
    if (st == HV_OK) {
        struct hv_pvh_params params = {
            .memmap = map,
            .memmap_count = map_count,
            .cmdline = cfg.cmdline,
            .modules = cfg.modules,
            .module_count = cfg.module_count,
            .rsdp_paddr = cfg.rsdp_paddr,
        };
        struct hv_image_sink sink = {.opaque = vm, .write = sink_write};
        st = hv_pvh_build(&img, &params, &sink, &lay);
        if (st != HV_OK)
            out.reason = lay.reason ? lay.reason : img.reason;
    } else if (!out.reason) {
        out.reason = img.reason;
    }
    if (st == HV_OK) {
        out.entry = lay.entry;
        out.start_info_gpa = lay.start_info_gpa;
        out.paddr_lo = img.paddr_lo;
        out.paddr_hi = img.paddr_hi;
        out.memmap_count = map_count;
        st = set_entry_state(vcpu, lay.entry, (uint32_t)lay.start_info_gpa);
        if (st != HV_OK)
            out.reason = "the vCPU refused the PVH entry state";
    }
    hv_image_close(&img);

    /* XENMEM_memory_map answers with the map start_info carries. */
    struct hv_xen_vm *x = vm->xen;
    if (st == HV_OK && x) {
        uint64_t t = xen_lock(x);
        if (!x->memmap_explicit) {
            for (uint32_t i = 0; i < map_count; i++)
                x->memmap[i] = map[i];
            x->memmap_count = map_count;
        }
        xen_unlock(x, t);
    }
    if (info)
        hv_memcpy(info, &out, sizeof(out));
    return st;
}
