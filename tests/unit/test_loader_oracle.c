/*
 * The loader against elfutils' libelf as an oracle, over the ELF files on
 * this machine (found by magic under the usual system directories) and over
 * the synthetic test images. For every file libelf reads, the loader must
 * agree on class, machine, entry, the non-empty PT_LOAD segments (paddr,
 * offset, filesz, memsz) and every note (PT_NOTE segments, else SHT_NOTE
 * sections); loading into a bounded fake guest memory must give exactly
 * the file bytes plus zeros, nothing outside. Where the loader refuses a
 * file, the reason must be one that libelf's view of the file confirms.
 * The walk is capped in files, bytes and time (~30 s).
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loader/inflate_zlib.h"
#include "loader_util.h"

#define MAX_FILES     6000u
#define MAX_FILE_SIZE (48u << 20)
#define MAX_SPAN      (256u << 20)
#define TIME_BUDGET_S 25

struct stats {
    unsigned files, accepted, refused, loaded, libelf_refused, mismatches, notes, xen_notes;
    unsigned elf32;
    const char *reasons[32];
    unsigned reason_count[32];
};

static struct stats st;
static time_t deadline;

static void count_reason(const char *r)
{
    for (int i = 0; i < 32; i++) {
        if (st.reasons[i] == r || !st.reasons[i]) {
            st.reasons[i] = r;
            st.reason_count[i]++;
            return;
        }
    }
}

static void mismatch(const char *path, const char *what)
{
    if (st.mismatches < 20)
        fprintf(stderr, "\n  %s: %s", path, what);
    st.mismatches++;
}

/* libelf's notes of one area, compared one by one with the loader's iterator. */
static bool notes_agree(Elf *elf, const struct hv_image *img, const char *path)
{
    struct hv_image_note_iter it = {0};
    struct hv_image_note hn;
    size_t n = 0;
    bool ok = true;
    GElf_Ehdr eh;
    size_t phnum = 0;
    bool have_ptnote = false;

    gelf_getehdr(elf, &eh);
    elf_getphdrnum(elf, &phnum);
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_NOTE)
            have_ptnote = true;
    }
    /* Areas in the loader's order: PT_NOTE segments, else SHT_NOTE sections. */
    size_t nareas = have_ptnote ? phnum : 0;
    Elf_Scn *scn = NULL;
    for (size_t a = 0;; a++) {
        GElf_Off off;
        GElf_Xword size;
        Elf_Type type;
        if (have_ptnote) {
            GElf_Phdr ph;
            if (a >= nareas)
                break;
            if (!gelf_getphdr(elf, (int)a, &ph) || ph.p_type != PT_NOTE)
                continue;
            off = ph.p_offset;
            size = ph.p_filesz;
            type = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
        } else {
            GElf_Shdr sh;
            scn = elf_nextscn(elf, scn);
            if (!scn)
                break;
            if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
                continue;
            off = sh.sh_offset;
            size = sh.sh_size;
            type = sh.sh_addralign == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
        }
        Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)off, size, type);
        if (!d)
            return false;
        size_t pos = 0, name_off, desc_off;
        GElf_Nhdr nh;
        while ((pos = gelf_getnote(d, pos, &nh, &name_off, &desc_off)) > 0) {
            if (!hv_image_note_next(img, &it, &hn)) {
                mismatch(path, "loader has fewer notes than libelf");
                return false;
            }
            n++;
            if (hn.type != nh.n_type || hn.name_size != nh.n_namesz ||
                hn.desc_size != nh.n_descsz ||
                memcmp(hn.name, (const char *)d->d_buf + name_off, nh.n_namesz) != 0 ||
                memcmp(hn.desc, (const char *)d->d_buf + desc_off, nh.n_descsz) != 0 ||
                hn.offset != off + name_off - 12) {
                mismatch(path, "note differs from libelf's");
                ok = false;
            }
        }
    }
    if (hv_image_note_next(img, &it, &hn)) {
        mismatch(path, "loader has more notes than libelf");
        return false;
    }
    if (n != img->notes) {
        mismatch(path, "note count differs");
        ok = false;
    }
    st.notes += (unsigned)n;
    st.xen_notes += img->xen_notes;
    return ok;
}

/* Loads into fake guest memory spanning the segments and checks every byte. */
static void check_load(struct hv_image *img, const uint8_t *file, const char *path)
{
    uint64_t span = img->paddr_hi - img->paddr_lo;
    struct fake_mem m;

    if (span > MAX_SPAN || !fake_mem_init(&m, img->paddr_lo, span))
        return;
    if (hv_image_load(img, &m.sink) != HV_OK) {
        mismatch(path, "load failed");
        fake_mem_free(&m);
        return;
    }
    uint64_t covered = 0;
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const struct hv_image_segment *s = &img->segs[i];
        const uint8_t *g = fake_mem_at(&m, s->paddr, s->memsz);
        if (!g || memcmp(g, file + s->offset, s->filesz) != 0) {
            mismatch(path, "segment bytes differ from the file");
            break;
        }
        for (uint64_t k = s->filesz; k < s->memsz; k++) {
            if (g[k]) {
                mismatch(path, "bss not zeroed");
                break;
            }
        }
        covered += s->memsz;
    }
    /* Bytes outside all segments keep the fill pattern. */
    uint64_t fill = 0;
    for (uint64_t a = 0; a < m.size; a++)
        fill += m.ram[a] == FAKE_FILL;
    uint64_t in_seg_fill = 0;
    for (uint32_t i = 0; i < img->nsegs; i++) {
        const uint8_t *g = fake_mem_at(&m, img->segs[i].paddr, img->segs[i].memsz);
        for (uint64_t k = 0; g && k < img->segs[i].memsz; k++)
            in_seg_fill += g[k] == FAKE_FILL;
    }
    if (fill - in_seg_fill != span - covered)
        mismatch(path, "bytes outside the segments were written");
    if (m.bytes != covered)
        mismatch(path, "byte count written differs from the segments' size");
    if (!fake_mem_guards_ok(&m))
        mismatch(path, "write outside the guest buffer");
    st.loaded++;
    fake_mem_free(&m);
}

static bool overlapping_loads(const GElf_Phdr *ph, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (ph[i].p_type == PT_LOAD && ph[j].p_type == PT_LOAD && ph[i].p_memsz &&
                ph[j].p_memsz && ph[i].p_paddr < ph[j].p_paddr + ph[j].p_memsz &&
                ph[j].p_paddr < ph[i].p_paddr + ph[i].p_memsz)
                return true;
        }
    }
    return false;
}

/* libelf's note walk over an area ends with a header's worth of bytes or more left. */
static bool walk_stops_early(Elf *elf, uint64_t off, uint64_t size, uint64_t align)
{
    Elf_Data *d =
        elf_getdata_rawchunk(elf, (int64_t)off, size, align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
    size_t pos = 0, last = 0, no, doff;
    GElf_Nhdr nh;

    while (d && (pos = gelf_getnote(d, pos, &nh, &no, &doff)) > 0)
        last = pos;
    return !d || size - last >= 12;
}

/* A refusal must be explained by what libelf reads from the same file. */
static bool refusal_confirmed(Elf *elf, const struct hv_image *img, size_t size)
{
    const char *r = img->reason;
    GElf_Ehdr eh;
    GElf_Phdr ph[256];
    size_t phnum = 0, nload = 0;

    if (!gelf_getehdr(elf, &eh))
        return true;
    if (!strcmp(r, "machine is not x86 (EM_386 or EM_X86_64)"))
        return eh.e_machine != EM_386 && eh.e_machine != EM_X86_64;
    if (!strcmp(r, "relocatable object, not an executable image"))
        return eh.e_type == ET_REL;
    if (!strcmp(r, "ELF type is neither ET_EXEC nor ET_DYN"))
        return eh.e_type != ET_EXEC && eh.e_type != ET_DYN && eh.e_type != ET_REL;
    if (!strcmp(r, "section header table past end of image")) {
        size_t shnum = 0;
        return elf_getshdrnum(elf, &shnum) != 0 ||
               eh.e_shoff + (uint64_t)shnum * eh.e_shentsize > size;
    }
    if (elf_getphdrnum(elf, &phnum) != 0)
        return true; /* libelf cannot read the program headers either */
    if (!strcmp(r, "no program headers"))
        return phnum == 0;
    for (size_t i = 0; i < phnum && i < 256; i++) {
        if (!gelf_getphdr(elf, (int)i, &ph[i]))
            return true;
        nload += ph[i].p_type == PT_LOAD && ph[i].p_memsz;
    }
    if (phnum > 256)
        return true;
    if (!strcmp(r, "no loadable (PT_LOAD) segments"))
        return nload == 0;
    if (!strcmp(r, "too many PT_LOAD segments"))
        return nload > HV_IMAGE_MAX_SEGMENTS;
    if (!strcmp(r, "overlapping PT_LOAD segments"))
        return overlapping_loads(ph, phnum);
    for (size_t i = 0; i < phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (!strcmp(r, "segment data past end of image") && ph[i].p_memsz &&
            ph[i].p_offset + ph[i].p_filesz > size)
            return true;
        if (!strcmp(r, "segment file size larger than its memory size") &&
            ph[i].p_filesz > ph[i].p_memsz)
            return true;
        if (!strcmp(r, "segment alignment is not a power of two") &&
            (ph[i].p_align & (ph[i].p_align - 1)))
            return true;
    }
    if (!strcmp(r, "note segment past end of image")) {
        for (size_t i = 0; i < phnum; i++) {
            if (ph[i].p_type == PT_NOTE && ph[i].p_offset + ph[i].p_filesz > size)
                return true;
        }
    }
    /* Malformed notes: libelf's walk must stop short of the end of some area. */
    if (strstr(r, "note") && strstr(r, "runs past")) {
        for (size_t i = 0; i < phnum; i++) {
            if (ph[i].p_type == PT_NOTE &&
                walk_stops_early(elf, ph[i].p_offset, ph[i].p_filesz, ph[i].p_align))
                return true;
        }
        for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
            GElf_Shdr sh;
            if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
                walk_stops_early(elf, sh.sh_offset, sh.sh_size, sh.sh_addralign))
                return true;
        }
    }
    return false;
}

static void compare_one(const char *path, const uint8_t *buf, size_t size)
{
    struct hv_image_limits lim = {.max_gpa = UINT64_MAX};
    struct hv_image img;
    Elf *elf = elf_memory((char *)buf, size);
    GElf_Ehdr eh;
    bool libelf_ok = elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh);
    hv_status_t s = hv_image_open(&img, buf, size, &lim, NULL);

    st.files++;
    if (!libelf_ok) {
        st.libelf_refused++;
        if (s == HV_OK)
            mismatch(path, "loader accepts a file libelf cannot read");
        goto out;
    }
    if (s != HV_OK) {
        st.refused++;
        count_reason(img.reason);
        if (!img.reason || !refusal_confirmed(elf, &img, size)) {
            char msg[256];
            snprintf(msg, sizeof(msg), "refusal not confirmed by libelf: %s",
                     img.reason ? img.reason : "(no reason)");
            mismatch(path, msg);
        }
        goto out;
    }
    st.accepted++;
    st.elf32 += img.elf_class == 32;
    if (img.elf_class != (gelf_getclass(elf) == ELFCLASS64 ? 64 : 32) ||
        img.machine != eh.e_machine || img.entry != eh.e_entry || img.type != eh.e_type)
        mismatch(path, "class/machine/entry/type differ");
    size_t phnum = 0;
    if (elf_getphdrnum(elf, &phnum) != 0 || phnum != img.phnum) {
        mismatch(path, "program header count differs");
        goto out;
    }
    uint32_t k = 0, skipped = 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph)) {
            mismatch(path, "libelf cannot read a program header the loader accepted");
            goto out;
        }
        if (ph.p_type != PT_LOAD)
            continue;
        if (ph.p_memsz == 0) {
            skipped++;
            continue;
        }
        if (k >= img.nsegs || img.segs[k].paddr != ph.p_paddr ||
            img.segs[k].offset != ph.p_offset || img.segs[k].filesz != ph.p_filesz ||
            img.segs[k].memsz != ph.p_memsz || img.segs[k].vaddr != ph.p_vaddr ||
            img.segs[k].flags != ph.p_flags || img.segs[k].index != i)
            mismatch(path, "PT_LOAD segment differs");
        k++;
    }
    if (k != img.nsegs || skipped != img.skipped_segs)
        mismatch(path, "PT_LOAD count differs");
    if (!notes_agree(elf, &img, path))
        mismatch(path, "notes differ");
    check_load(&img, buf, path);
out:
    hv_image_close(&img);
    if (elf)
        elf_end(elf);
}

static bool is_elf_file(const char *path, off_t size)
{
    unsigned char m[4];
    int fd;
    bool r = false;

    if (size < 4 || size > MAX_FILE_SIZE)
        return false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    r = read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
    close(fd);
    return r;
}

static void compare_file(const char *path, off_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    void *p;

    if (fd < 0)
        return;
    p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return;
    compare_one(path, p, (size_t)size);
    munmap(p, (size_t)size);
}

static void walk(const char *dir, int depth)
{
    DIR *d;
    struct dirent *e;
    char path[4096];
    struct stat sb;

    if (depth > 12 || st.files >= MAX_FILES || time(NULL) >= deadline)
        return;
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d)) && st.files < MAX_FILES && time(NULL) < deadline) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            walk(path, depth + 1);
        else if (S_ISREG(sb.st_mode) && is_elf_file(path, sb.st_size))
            compare_file(path, sb.st_size);
    }
    closedir(d);
}

static void print_stats(const char *what, time_t t0)
{
    printf("\n    %s: %u ELF files compared with libelf in %lds: %u accepted (%u ELF32, %u loaded "
           "and checked byte for byte, %u notes, %u Xen notes), %u refused with a confirmed "
           "reason, %u unreadable by libelf, %u mismatches\n",
           what, st.files, (long)(time(NULL) - t0), st.accepted, st.elf32, st.loaded, st.notes,
           st.xen_notes, st.refused, st.libelf_refused, st.mismatches);
    for (int i = 0; i < 32 && st.reasons[i]; i++)
        printf("      refused %u x: %s\n", st.reason_count[i], st.reasons[i]);
}

static void test_oracle_synthetic(void)
{
    static uint8_t b[PVH_IMG_MAX];
    const uint16_t machines[] = {HV_ELF_EM_X86_64, HV_ELF_EM_386};
    time_t t0 = time(NULL);

    memset(&st, 0, sizeof(st));
    for (int cls = 32; cls <= 64; cls += 32) {
        for (int mi = 0; mi < 2; mi++) {
            for (uint32_t es = 4; es <= 8; es += 4) {
                size_t n = gen_pvh_image(b, cls, machines[mi], es);
                compare_one("synthetic", b, n);
            }
        }
    }
    /* Guests built by the toolchain (tests/unit/data/loader_make_fixtures.sh). */
    static const char *const fixtures[] = {
        "loader_pvh_guest64.elf", "loader_pvh_guest_elf32_x86_64.elf", "loader_pvh_guest_i386.elf",
        "loader_pvh_guest64.elf.gz"};
    for (size_t i = 0; i < 4; i++) {
        size_t len = 0, out_len = 0;
        uint8_t *f = loader_read_fixture(fixtures[i], &len);
        void *out = NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        if (i == 3) { /* libelf reads ELF, not gzip: compare the inflated bytes */
            CU_ASSERT_EQUAL_FATAL(
                hv_inflate_zlib_ops.inflate(NULL, f, len, 1u << 20, &out, &out_len), HV_OK);
            compare_one(fixtures[i], out, out_len);
            hv_inflate_zlib_ops.release(NULL, out, out_len);
        } else {
            compare_one(fixtures[i], f, len);
        }
        free(f);
    }
    print_stats("synthetic and toolchain-built PVH images", t0);
    CU_ASSERT_EQUAL(st.accepted, 12);
    CU_ASSERT_EQUAL(st.elf32, 6);
    CU_ASSERT_EQUAL(st.loaded, 12);
    CU_ASSERT_EQUAL(st.xen_notes, 8 * 7 + 4 * 7);
    CU_ASSERT_EQUAL(st.mismatches, 0);
}

static void test_oracle_system(void)
{
    static const char *const roots[] = {
        "/boot",        "/usr/lib/debug", "/usr/lib/modules", "/usr/bin",   "/usr/sbin",
        "/usr/libexec", "/usr/lib32",     "/usr/lib",         "/usr/local", "/opt"};
    time_t t0 = time(NULL);

    memset(&st, 0, sizeof(st));
    deadline = t0 + TIME_BUDGET_S;
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        walk(roots[i], 0);
    print_stats("system files", t0);
    CU_ASSERT(st.files >= 50);
    CU_ASSERT(st.accepted >= 50);
    CU_ASSERT(st.loaded >= 50);
    CU_ASSERT_EQUAL(st.mismatches, 0);
}

int main(void)
{
    CU_pSuite s;

    if (elf_version(EV_CURRENT) == EV_NONE)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("loader.oracle", NULL, NULL);
    CU_add_test(s, "synthetic and toolchain-built PVH images agree with libelf",
                test_oracle_synthetic);
    CU_add_test(s, "every ELF file on the machine agrees with libelf", test_oracle_system);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
