/*
 * hvimage: inspect a guest image the way libhv's loader sees it.
 *
 *   hvimage <file> [--mem MiB] [--cmdline STRING]
 *
 * Prints the compression, ELF class and machine, the entry points (e_entry
 * and XEN_ELFNOTE_PHYS32_ENTRY, with the symbols libelf finds there), every
 * Xen note, the PT_LOAD segments and the guest-physical layout they occupy
 * in a VM of --mem MiB (default 128), where hv_pvh_build() would put
 * start_info, and every reason the loader would refuse the image.
 * Exit status: 0 loadable as a PVH guest, 1 refused, 2 usage or I/O error.
 */
#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hv/image.h>

#include "loader/inflate_zlib.h"

#define DEFAULT_MEM_MIB 128u

/* The memory map hvimage assumes: low RAM, the legacy VGA/BIOS hole, RAM above 1 MiB. */
static uint32_t build_memmap(struct hv_pvh_memmap *mm, uint64_t mem)
{
    if (mem <= 0x100000) {
        mm[0] = (struct hv_pvh_memmap){0, mem < 0xa0000 ? mem : 0xa0000, HV_PVH_MEMMAP_RAM};
        return 1;
    }
    mm[0] = (struct hv_pvh_memmap){0, 0xa0000, HV_PVH_MEMMAP_RAM};
    mm[1] = (struct hv_pvh_memmap){0xa0000, 0x60000, HV_PVH_MEMMAP_RESERVED};
    mm[2] = (struct hv_pvh_memmap){0x100000, mem - 0x100000, HV_PVH_MEMMAP_RAM};
    return 3;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size;

    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    *buf = malloc((size_t)size + 1);
    if (!*buf || fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(*buf);
        return -1;
    }
    fclose(f);
    *len = (size_t)size;
    return 0;
}

/* Name of the symbol covering @p addr (by st_value, or by physical address via @p img). */
static const char *symbol_at(Elf *elf, uint64_t addr)
{
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;

    while (elf && (scn = elf_nextscn(elf, scn))) {
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
            !sh.sh_entsize)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; d && i < n; i++) {
            GElf_Sym s;
            if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) == STT_SECTION ||
                GELF_ST_TYPE(s.st_info) == STT_FILE || !s.st_name)
                continue;
            if (addr == s.st_value || (addr > s.st_value && addr - s.st_value < s.st_size))
                return elf_strptr(elf, sh.sh_link, s.st_name);
        }
    }
    return NULL;
}

/* The virtual address that physical @p pa has in the segment holding it (symbols are virtual). */
static uint64_t phys_to_virt(const struct hv_image *img, uint64_t pa)
{
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        if (pa >= s->paddr && pa - s->paddr < s->memsz)
            return s->vaddr + (pa - s->paddr);
    }
    return pa;
}

static void print_sym(Elf *elf, uint64_t addr)
{
    const char *s = symbol_at(elf, addr);
    if (s)
        printf("  <%s>", s);
    printf("\n");
}

static void print_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        putchar(isprint((unsigned char)*s) ? *s : '?');
    putchar('"');
}

static void print_xen_notes(const struct hv_image *img)
{
    static const char *const src[] = {"no note area", "PT_NOTE segments", "SHT_NOTE sections"};

    printf("Xen notes: %u of %u notes (from %s)%s\n", img->xen_notes, img->notes,
           src[img->note_source], img->xen_notes ? ":" : "");
    for (uint32_t t = 0; t < HV_XEN_ELFNOTE_COUNT; t++) {
        const struct hv_xen_note *x = &img->xen[t];
        if (!x->present)
            continue;
        printf("  %-2u %-19s ", t, hv_xen_note_name(t));
        if (x->kind == HV_XEN_NOTE_NUMERIC) {
            printf("0x%" PRIx64 " (%u-byte value)\n", x->value, x->desc_size);
        } else if (x->kind == HV_XEN_NOTE_STRING) {
            print_string(x->str);
            printf("\n");
        } else {
            for (uint32_t i = 0; i < x->desc_size && i < 32; i++)
                printf("%02x%s", x->desc[i], i % 4 == 3 ? " " : "");
            printf("%s(%u bytes)\n", x->desc_size > 32 ? "... " : "", x->desc_size);
        }
    }
    if (img->xen_unknown)
        printf("  %u Xen note(s) of unknown type (ignored)\n", img->xen_unknown);
}

static void print_segments(const struct hv_image *img, uint64_t mem)
{
    uint64_t total = 0;

    printf("Segments: %u PT_LOAD loaded by physical address, %u empty skipped\n", img->nsegs,
           img->skipped_segs);
    if (!img->nsegs)
        return;
    printf("  %-3s %-23s %-18s %-10s %-10s %-10s %s\n", "ph", "guest-physical", "vaddr", "offset",
           "filesz", "memsz", "flags");
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        printf("  %-3u [%#9" PRIx64 ", %#9" PRIx64 ") %#-18" PRIx64 " %#-10" PRIx64 " %#-10" PRIx64
               " %#-10" PRIx64 " %c%c%c%s%s\n",
               s->index, s->paddr, s->paddr + s->memsz, s->vaddr, s->offset, s->filesz, s->memsz,
               s->flags & 4 ? 'R' : '-', s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-',
               s->memsz > s->filesz ? " +bss" : "",
               s->paddr + s->memsz > mem ? "  (past guest RAM)" : "");
        total += s->memsz;
    }
    printf("Guest-physical layout: [%#" PRIx64 ", %#" PRIx64 "), %" PRIu64
           " bytes in segments (%" PRIu64 " KiB), %" PRIu64 " pages spanned, guest RAM %" PRIu64
           " MiB\n",
           img->paddr_lo, img->paddr_hi, total, (total + 1023) / 1024,
           (img->paddr_hi + 4095) / 4096 - img->paddr_lo / 4096, mem >> 20);
}

static void usage(void)
{
    fprintf(stderr, "usage: hvimage <file> [--mem MiB] [--cmdline STRING]\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL, *cmdline = NULL;
    uint64_t mem_mib = DEFAULT_MEM_MIB;
    struct hv_pvh_memmap mm[3];
    struct hv_image img;
    struct hv_pvh_layout lay;
    uint8_t *buf;
    size_t len;
    int refusals = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mem") && i + 1 < argc) {
            char *end;
            errno = 0;
            mem_mib = strtoull(argv[++i], &end, 0);
            if (errno || *end || mem_mib == 0 || mem_mib > (1u << 20)) {
                usage();
                return 2;
            }
        } else if (!strcmp(argv[i], "--cmdline") && i + 1 < argc) {
            cmdline = argv[++i];
        } else if (argv[i][0] == '-' || path) {
            usage();
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage();
        return 2;
    }
    if (read_file(path, &buf, &len) != 0) {
        fprintf(stderr, "hvimage: %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint64_t mem = mem_mib << 20;
    struct hv_image_limits lim = {.max_gpa = mem};
    hv_image_open(&img, buf, len, &lim, &hv_inflate_zlib_ops);

    printf("%s\n", path);
    if (img.compression == HV_IMAGE_GZIP)
        printf("  compression  gzip, %zu bytes%s", len, img.inflated ? "" : "\n");
    if (img.compression == HV_IMAGE_GZIP && img.inflated)
        printf(" -> %zu bytes\n", img.size);
    if (img.compression == HV_IMAGE_PLAIN)
        printf("  compression  none, %zu bytes\n", len);

    elf_version(EV_CURRENT);
    Elf *elf = img.elf_class ? elf_memory((char *)img.data, img.size) : NULL;
    if (img.elf_class) {
        printf("  ELF          ELF%u, %s (e_machine %u), e_type %u\n", img.elf_class,
               hv_image_machine_str(img.machine), img.machine, img.type);
        printf("  entry        e_entry %#" PRIx64, img.entry);
        print_sym(elf, img.entry);
        if (img.has_phys32_entry) {
            printf("  PVH entry    PHYS32_ENTRY %#x", img.phys32_entry);
            print_sym(elf, phys_to_virt(&img, img.phys32_entry));
        } else {
            printf("  PVH entry    none (no XEN_ELFNOTE_PHYS32_ENTRY note)\n");
        }
    }
    if (img.note_source != HV_IMAGE_NOTES_NONE || img.notes)
        print_xen_notes(&img);
    if (img.nsegs || img.skipped_segs)
        print_segments(&img, mem);

    /* Where hv_pvh_build() would put start_info in a VM of this size. */
    struct hv_pvh_params p = {
        .memmap = mm, .memmap_count = build_memmap(mm, mem), .cmdline = cmdline};
    hv_status_t ps = hv_pvh_plan(&img, &p, &lay);
    if (ps == HV_OK) {
        printf("start_info: [%#" PRIx64 ", %#" PRIx64 ") (%" PRIu64
               " bytes: hvm_start_info v1, %u-entry memory map%s); memmap_paddr %#" PRIx64 "\n",
               lay.start_info_gpa, lay.start_info_gpa + lay.start_info_size, lay.start_info_size,
               p.memmap_count, cmdline ? ", command line" : "", lay.memmap_gpa);
        printf("vCPU start: 32-bit flat protected mode, paging off, EIP %#x, EBX %#" PRIx64 "\n",
               lay.entry, lay.start_info_gpa);
    }

    /* Every reason, in the order the loader found them. */
    for (uint32_t i = 0; i < img.nproblems; i++)
        printf("%s %s\n", refusals++ ? "      " : "REFUSED:", img.problems[i]);
    if (img.status == HV_OK && ps != HV_OK)
        printf("%s %s\n", refusals++ ? "      " : "REFUSED:", lay.reason);
    /* The PVH check comes after the image's own; say it too when the notes were read. */
    if (img.status != HV_OK && !img.has_phys32_entry &&
        (img.nsegs || img.note_source != HV_IMAGE_NOTES_NONE))
        printf("%s %s\n", refusals++ ? "      " : "REFUSED:",
               "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
    if (!refusals)
        printf("OK: loadable as a PVH guest\n");
    else
        printf("status: %s\n", hv_status_str(img.status != HV_OK ? img.status : ps));

    if (elf)
        elf_end(elf);
    hv_image_close(&img);
    free(buf);
    return refusals ? 1 : 0;
}
