/*
 * Physical page allocator: one bit per 4 KiB page (1 = in use or not RAM),
 * built from the multiboot memory map. Only the identity-mapped first
 * 4 GiB are managed; the first 1 MiB (BIOS data, real-mode IVT, option
 * ROMs), the kernel image and everything the boot loader handed over
 * (boot information, command line, memory map, modules) are never handed
 * out. First fit keeps allocations deterministic, which makes test runs
 * repeatable. Not for interrupt context beyond the irq_save() it takes.
 */
#include "core/util.h"
#include "cpu.h"
#include "kernel.h"
#include "multiboot.h"

#define MAX_PAGES  (1u << 20) /* 4 GiB / 4 KiB */
#define LOW_MEMORY 0x100000u

extern char __kernel_start[], __bss_end[]; /* linker.ld */

static uint64_t bitmap[MAX_PAGES / 64];
static size_t limit;       /* 1 + highest page index that was ever free */
static size_t total, used; /* usable pages; pages handed out */

static bool page_busy(size_t pfn)
{
    return bitmap[pfn / 64] & (1ull << (pfn % 64));
}

static void set_busy(size_t pfn, bool busy)
{
    if (busy)
        bitmap[pfn / 64] |= 1ull << (pfn % 64);
    else
        bitmap[pfn / 64] &= ~(1ull << (pfn % 64));
}

/* Mark the pages fully inside [start, end) free, counting them as usable. */
static void add_ram(uint64_t start, uint64_t end)
{
    start = HV_ALIGN_UP(HV_MAX(start, LOW_MEMORY), PAGE_SIZE);
    end = HV_ALIGN_DOWN(HV_MIN(end, (uint64_t)MAX_PAGES * PAGE_SIZE), PAGE_SIZE);
    for (uint64_t a = start; a < end; a += PAGE_SIZE) {
        size_t pfn = a / PAGE_SIZE;
        if (page_busy(pfn)) {
            set_busy(pfn, false);
            total++;
        }
        limit = HV_MAX(limit, pfn + 1);
    }
}

/* Take every page touching [start, start+len) out of the usable set. */
static void reserve(uint64_t start, uint64_t len)
{
    if (len == 0)
        return;
    uint64_t end = HV_MIN(start + len, (uint64_t)MAX_PAGES * PAGE_SIZE);
    for (uint64_t a = HV_ALIGN_DOWN(start, PAGE_SIZE); a < end; a += PAGE_SIZE) {
        size_t pfn = a / PAGE_SIZE;
        if (!page_busy(pfn)) {
            set_busy(pfn, true);
            total--;
        }
    }
}

void pmm_init(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & MULTIBOOT_INFO_MMAP))
        kpanic("pmm: the boot loader gave no memory map");
    memset(bitmap, 0xff, sizeof(bitmap));

    uint64_t p = mbi->mmap_addr, end = (uint64_t)mbi->mmap_addr + mbi->mmap_length;
    while (p + sizeof(struct multiboot_mmap_entry) <= end) {
        const struct multiboot_mmap_entry *e = (const void *)(uintptr_t)p;
        if (e->type == MULTIBOOT_MEMORY_AVAILABLE && e->addr + e->len > e->addr)
            add_ram(e->addr, e->addr + e->len);
        p += (uint64_t)e->size + sizeof(e->size);
    }

    reserve((uintptr_t)__kernel_start, (uintptr_t)(__bss_end - __kernel_start));
    reserve((uintptr_t)mbi, sizeof(*mbi));
    reserve(mbi->mmap_addr, mbi->mmap_length);
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        reserve(mbi->cmdline, hv_strlen((const char *)(uintptr_t)mbi->cmdline) + 1);
    if (mbi->flags & MULTIBOOT_INFO_MODS) {
        const struct multiboot_module *m = (const void *)(uintptr_t)mbi->mods_addr;
        reserve(mbi->mods_addr, (uint64_t)mbi->mods_count * sizeof(*m));
        for (uint32_t i = 0; i < mbi->mods_count; i++) {
            reserve(m[i].mod_start, m[i].mod_end - m[i].mod_start);
            if (m[i].string)
                reserve(m[i].string, hv_strlen((const char *)(uintptr_t)m[i].string) + 1);
        }
    }
    if (total == 0)
        kpanic("pmm: no usable memory above 1 MiB");
}

/* The first free page at or after @p pfn, or one at or beyond limit if
   none: a word's free bits found by one count of trailing zeros, so the
   cost of a search does not grow with the busy pages before the first
   free one (the kernel image, every live allocation). */
static size_t next_free(size_t pfn)
{
    while (pfn < limit) {
        uint64_t free = ~bitmap[pfn / 64] >> (pfn % 64);
        if (free)
            return pfn + (size_t)__builtin_ctzll(free);
        pfn = (pfn | 63) + 1;
    }
    return limit;
}

/* First run of @p count free pages starting at a multiple of @p align. */
static bool find_run(size_t count, size_t align, size_t *first)
{
    for (size_t start = 0;;) {
        start = HV_ALIGN_UP(next_free(start), align);
        if (start + count > limit)
            return false;
        size_t n = 0;
        while (n < count && !page_busy(start + n))
            n++;
        if (n == count) {
            *first = start;
            return true;
        }
        start += n + 1; /* page start+n is busy */
    }
}

void *pmm_alloc_aligned(size_t count, size_t align_pages)
{
    if (count == 0 || count > MAX_PAGES || align_pages == 0 || (align_pages & (align_pages - 1)))
        return NULL;
    size_t first;
    uint64_t flags = irq_save();
    bool found = find_run(count, align_pages, &first);
    if (found) {
        for (size_t i = 0; i < count; i++)
            set_busy(first + i, true);
        used += count;
    }
    irq_restore(flags);
    if (!found)
        return NULL;
    void *p = (void *)(uintptr_t)(first * PAGE_SIZE);
    memset(p, 0, count * PAGE_SIZE);
    return p;
}

void *pmm_alloc(size_t count)
{
    return pmm_alloc_aligned(count, 1);
}

void pmm_free(void *p, size_t count)
{
    uintptr_t a = (uintptr_t)p;
    if (a % PAGE_SIZE || a / PAGE_SIZE + count > limit || count == 0)
        kpanic("pmm: bad free of %p (%zu pages)", p, count);
    uint64_t flags = irq_save();
    for (size_t i = 0; i < count; i++) {
        if (!page_busy(a / PAGE_SIZE + i))
            kpanic("pmm: double free of page 0x%llx", (unsigned long long)(a + i * PAGE_SIZE));
        set_busy(a / PAGE_SIZE + i, false);
    }
    used -= count;
    irq_restore(flags);
}

size_t pmm_pages_total(void)
{
    return total;
}

size_t pmm_pages_used(void)
{
    return used;
}
