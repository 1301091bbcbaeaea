/*
 * The PVH start-of-day structures, laid out as Xen's public
 * arch-x86/hvm/start_info.h documents them (version 1). The guest finds
 * struct hvm_start_info at EBX; every address is guest-physical, 0 means
 * "not present", integers are little-endian. Layouts are pinned below.
 */
#ifndef HV_LOADER_START_INFO_H
#define HV_LOADER_START_INFO_H

#include <stddef.h>
#include <stdint.h>

/* "xEn3" with the 0x80 bit of the 'E' set. */
#define XEN_HVM_START_MAGIC_VALUE  0x336ec578u
#define XEN_HVM_START_INFO_VERSION 1u

struct hvm_start_info {
    uint32_t magic;   /* XEN_HVM_START_MAGIC_VALUE */
    uint32_t version; /* 1: memmap fields present */
    uint32_t flags;   /* SIF_* (0 for an unprivileged guest) */
    uint32_t nr_modules;
    uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
    uint64_t cmdline_paddr; /* NUL-terminated */
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; /* struct hvm_memmap_table_entry[memmap_entries] */
    uint32_t memmap_entries;
    uint32_t reserved; /* zero */
};

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type; /* XEN_HVM_MEMMAP_TYPE_* (ACPI address range types) */
    uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct hvm_start_info, magic) == 0, "magic");
_Static_assert(offsetof(struct hvm_start_info, version) == 4, "version");
_Static_assert(offsetof(struct hvm_start_info, flags) == 8, "flags");
_Static_assert(offsetof(struct hvm_start_info, nr_modules) == 12, "nr_modules");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr");
_Static_assert(offsetof(struct hvm_start_info, cmdline_paddr) == 24, "cmdline_paddr");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries");
_Static_assert(offsetof(struct hvm_start_info, reserved) == 52, "reserved");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(offsetof(struct hvm_modlist_entry, paddr) == 0, "paddr");
_Static_assert(offsetof(struct hvm_modlist_entry, size) == 8, "size");
_Static_assert(offsetof(struct hvm_modlist_entry, cmdline_paddr) == 16, "cmdline_paddr");
_Static_assert(offsetof(struct hvm_modlist_entry, reserved) == 24, "reserved");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
_Static_assert(offsetof(struct hvm_memmap_table_entry, addr) == 0, "addr");
_Static_assert(offsetof(struct hvm_memmap_table_entry, size) == 8, "size");
_Static_assert(offsetof(struct hvm_memmap_table_entry, type) == 16, "type");
_Static_assert(offsetof(struct hvm_memmap_table_entry, reserved) == 20, "reserved");

#endif /* HV_LOADER_START_INFO_H */
