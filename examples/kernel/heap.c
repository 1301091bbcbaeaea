/*
 * Object allocator. Sizes up to 2 KiB come from power-of-two classes
 * (16 B .. 2 KiB) carved out of whole pages, which keeps every object
 * 16-byte aligned; larger objects get whole pages from pmm.c. Free takes
 * the allocation size (libhv passes it back), so no per-object header is
 * needed. Pages given to a class stay with it: heap_cache_pages() counts
 * them so leak checks can tell them from pages that are really in use.
 */
#include "cpu.h"
#include "kernel.h"

#define MIN_SHIFT 4  /* 16 bytes */
#define MAX_SHIFT 11 /* 2 KiB */
#define CLASSES   (MAX_SHIFT - MIN_SHIFT + 1)

struct free_obj {
    struct free_obj *next;
};

static struct free_obj *free_list[CLASSES];
static size_t objects, cache_pages;

static unsigned size_class(size_t size)
{
    unsigned c = 0;
    while (((size_t)1 << (MIN_SHIFT + c)) < size)
        c++;
    return c;
}

/* Cut a fresh page into objects of class @p c. */
static bool refill(unsigned c)
{
    char *page = pmm_alloc(1);
    if (!page)
        return false;
    size_t size = (size_t)1 << (MIN_SHIFT + c);
    for (size_t off = 0; off < PAGE_SIZE; off += size) {
        struct free_obj *o = (struct free_obj *)(page + off);
        o->next = free_list[c];
        free_list[c] = o;
    }
    cache_pages++;
    return true;
}

void *heap_alloc(size_t size)
{
    if (size == 0)
        return NULL;
    void *p = NULL;
    uint64_t flags = irq_save();
    if (size > ((size_t)1 << MAX_SHIFT)) {
        p = pmm_alloc((size + PAGE_SIZE - 1) / PAGE_SIZE); /* zeroed */
    } else {
        unsigned c = size_class(size);
        if (!free_list[c])
            refill(c);
        struct free_obj *o = free_list[c];
        if (o) {
            free_list[c] = o->next;
            memset(o, 0, (size_t)1 << (MIN_SHIFT + c));
            p = o;
        }
    }
    if (p)
        objects++;
    irq_restore(flags);
    return p;
}

void heap_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size == 0 || (uintptr_t)p % 16 || objects == 0)
        kpanic("heap: bad free of %p (size %zu)", p, size);
    uint64_t flags = irq_save();
    if (size > ((size_t)1 << MAX_SHIFT)) {
        pmm_free(p, (size + PAGE_SIZE - 1) / PAGE_SIZE);
    } else {
        struct free_obj *o = p;
        unsigned c = size_class(size);
        o->next = free_list[c];
        free_list[c] = o;
    }
    objects--;
    irq_restore(flags);
}

size_t heap_objects(void)
{
    return objects;
}

size_t heap_cache_pages(void)
{
    return cache_pages;
}
