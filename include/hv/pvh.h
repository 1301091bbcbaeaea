/**
 * @file pvh.h
 * @brief Boot a Xen PVH guest image in a VM: load it and set up its vCPU.
 *
 * hv_pvh_load() does what Xen's domain builder does for a PVH guest
 * (docs/misc/pvh.pandoc): it loads an ELF32 or ELF64 image (optionally
 * gzip-compressed) by physical address through the image loader
 * (hv/image.h), writes struct hvm_start_info version 1 (memory map,
 * command line, modules) where it collides with nothing, and puts the
 * vCPU in the state the PVH ABI prescribes:
 * - 32-bit protected mode, paging off: CR0 = PE | ET, CR4 = 0, EFER = 0;
 * - CS a flat 4 GiB 32-bit execute/read code segment, DS/ES/SS (and FS/GS)
 *   flat 4 GiB 32-bit read/write data segments, TR a valid 32-bit TSS;
 * - EIP = the image's XEN_ELFNOTE_PHYS32_ENTRY, EBX = guest-physical
 *   address of the start_info block, RFLAGS = 0x2, other registers 0.
 * Images without a PHYS32_ENTRY note are refused (::HV_ERR_BAD_IMAGE).
 */
#ifndef HV_PVH_H
#define HV_PVH_H

#include <stddef.h>
#include <stdint.h>
#include <hv/image.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_vm;
struct hv_vcpu;

/** Options of hv_pvh_load(); a zeroed struct loads with no command line and no modules. */
struct hv_pvh_config {
    /** sizeof(struct hv_pvh_config); 0 means the current size. */
    uint32_t size;
    /** Kernel command line, or NULL. */
    const char *cmdline;
    /** Modules (initrd, ...), or NULL. */
    const struct hv_pvh_module *modules;
    /** Entries in @c modules (0 .. ::HV_PVH_MAX_MODULES). */
    uint32_t module_count;
    /**
     * Memory map for start_info, or NULL: then it is derived from the VM's
     * mappings below 4 GiB (readable, writable, write-back pages are RAM,
     * other mapped pages reserved).
     */
    const struct hv_pvh_memmap *memmap;
    /** Entries in @c memmap (1 .. ::HV_PVH_MAX_MEMMAP). */
    uint32_t memmap_count;
    /** ACPI RSDP address for start_info, 0 for none. */
    uint64_t rsdp_paddr;
    /** Decompression hook for gzip images; NULL uses the built-in inflate with host allocations. */
    const struct hv_inflate_ops *inflate;
    /** Decompressed size limit (0: ::HV_IMAGE_DEFAULT_MAX_INFLATED). */
    uint64_t max_inflated;
};

/** What hv_pvh_load() did. */
struct hv_pvh_info {
    uint32_t entry;          /**< EIP: the PHYS32_ENTRY. */
    uint64_t start_info_gpa; /**< EBX: struct hvm_start_info. */
    uint64_t paddr_lo;       /**< Lowest guest-physical address of the image. */
    uint64_t paddr_hi;       /**< End of its highest segment. */
    uint8_t elf_class;       /**< 32 or 64. */
    uint8_t compressed;      /**< 1 for a gzip image. */
    uint16_t reserved;       /**< Zero. */
    uint32_t memmap_count;   /**< Entries of the memory map given to the guest. */
    const char *reason;      /**< Static text saying why loading failed, or NULL. */
};

/**
 * @brief Load a PVH image into @p vm and set @p vcpu to its entry state.
 *
 * Nothing is written to guest memory unless the image parses and its
 * layout fits; if writing then fails (e.g. a segment over read-only
 * memory) the vCPU state is left unchanged. If Xen is enabled on the VM
 * (hv_xen_enable()) without an explicit memory map, XENMEM_memory_map
 * afterwards returns the same map as start_info.
 * @param vm The VM (its RAM must be mapped).
 * @param vcpu The boot vCPU of @p vm.
 * @param image The image bytes.
 * @param len Their length.
 * @param config Options, or NULL.
 * @param[out] info Filled in (also on failure: @c reason), or NULL.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_BAD_IMAGE (malformed, or no
 *         PHYS32_ENTRY); ::HV_ERR_RANGE (a segment outside the RAM entries
 *         of the memory map, or past the VM's address width); ::HV_ERR_LIMIT (decompression bomb);
 *         ::HV_ERR_NO_MEMORY (allocation, or no room for start_info);
 *         ::HV_ERR_GUEST_FAULT (a segment or start_info not writable RAM);
 *         ::HV_ERR_BUSY (the vCPU runs).
 */
hv_status_t hv_pvh_load(struct hv_vm *vm, struct hv_vcpu *vcpu, const void *image, size_t len,
                        const struct hv_pvh_config *config, struct hv_pvh_info *info);

#ifdef __cplusplus
}
#endif

#endif /* HV_PVH_H */
