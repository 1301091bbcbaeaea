/**
 * @file vm.h
 * @brief Virtual machines and their guest-physical memory map.
 *
 * A VM owns a second-level address translation (Intel EPT or AMD NPT) that
 * maps guest-physical addresses (gpa) to host-physical addresses (hpa) the
 * embedder owns. libhv never allocates guest RAM: the embedder allocates it
 * and maps it with hv_vm_map(). Every mapping call flushes stale
 * translations once (not per page) before it returns.
 *
 * The calls that change the map (map, unmap, protect, dirty harvest) may
 * allocate through the host and so must be called from thread context.
 * They are serialized per VM: a call made while another one runs on the
 * same VM returns ::HV_ERR_BUSY without changing anything. So does one
 * made while a vCPU's hypercall waits to change the map itself (the Xen
 * layer placing shared_info or a grant frame, hv/xen.h), which goes first:
 * try again.
 */
#ifndef HV_VM_H
#define HV_VM_H

#include <stddef.h>
#include <stdint.h>
#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hv_ctx;
/** A virtual machine (opaque). */
struct hv_vm;

/** @name Guest memory permissions (hv_vm_map() @p flags, low bits)
 * @{ */
#define HV_MEM_READ  0x1u /**< Guest may read. */
#define HV_MEM_WRITE 0x2u /**< Guest may write (requires ::HV_MEM_READ). */
#define HV_MEM_EXEC  0x4u /**< Guest may execute. */
/** Read, write and execute. */
#define HV_MEM_RWX (HV_MEM_READ | HV_MEM_WRITE | HV_MEM_EXEC)
/** @} */

/** @name Guest memory types (hv_vm_map() @p flags, bits 8..11)
 * @{ */
#define HV_MEMTYPE_SHIFT 8u                        /**< Position of the type in the flags. */
#define HV_MEMTYPE_MASK  (0xfu << HV_MEMTYPE_SHIFT) /**< Mask of the type in the flags. */
#define HV_MEMTYPE_WB    (0u << HV_MEMTYPE_SHIFT)   /**< Write-back (default: RAM). */
#define HV_MEMTYPE_UC    (1u << HV_MEMTYPE_SHIFT)   /**< Uncacheable (device memory). */
#define HV_MEMTYPE_WC    (2u << HV_MEMTYPE_SHIFT)   /**< Write-combining (frame buffers). */
#define HV_MEMTYPE_WT    (3u << HV_MEMTYPE_SHIFT)   /**< Write-through. */
#define HV_MEMTYPE_WP    (4u << HV_MEMTYPE_SHIFT)   /**< Write-protected. */
/** @} */

/** @name Page sizes (bitmask, used in capabilities and hv_mapping)
 * @{ */
#define HV_PAGE_4K 0x1u /**< 4 KiB pages. */
#define HV_PAGE_2M 0x2u /**< 2 MiB pages. */
#define HV_PAGE_1G 0x4u /**< 1 GiB pages. */
/** @} */

/** @name VM options (hv_vm_config::flags)
 * @{ */
/**
 * Scrub at teardown: hv_vm_destroy(), hv_vcpu_destroy() and
 * hv_xen_disable() zero every page and object of the library that held
 * this VM's guest state (VMCS/VMCB, register and FPU save areas, SLAT
 * tables, Xen shared_info, grant-table and console state) before giving it
 * back to the host, and hv_vm_destroy() zeroes the guest RAM still mapped
 * with memory type ::HV_MEMTYPE_WB (through the host's phys_to_virt; each
 * page written once even if mapped at several addresses; mappings of other
 * types are device memory and are left alone). Every such page is zeroed
 * whatever its permissions, so unmap first any RAM shared with another VM
 * or the host that must survive. For hosts that reuse memory across guests
 * of different trust. Costs a write of everything freed and
 * a pass over the mapped RAM at teardown, nothing while the VM runs.
 */
#define HV_VM_SCRUB 0x1u
/** @} */

/** Options for hv_vm_create(); a zeroed struct gives the defaults. */
struct hv_vm_config {
    /** sizeof(struct hv_vm_config); 0 is accepted as "current size". */
    uint32_t size;
    /**
     * Guest-physical address width in bits (0 = the largest the CPU and
     * SLAT format support). Must be between 32 and that maximum.
     */
    uint32_t gpa_bits;
    /** Allowed SLAT page sizes (HV_PAGE_* mask; 0 = all the CPU supports). */
    uint32_t page_sizes;
    /** Maximum number of vCPUs (0 = 1). */
    uint32_t max_vcpus;
    /**
     * HV_VM_* options (0: none; unknown bits are rejected). Callers built
     * before this field existed pass a smaller @c size and get 0.
     */
    uint32_t flags;
};

/** What hv_vm_query() reports about one guest-physical address. */
struct hv_mapping {
    uint64_t gpa;       /**< The queried address rounded down to @c page_size. */
    uint64_t hpa;       /**< Host-physical address of that page. */
    uint64_t page_size; /**< Size of the SLAT page that maps it (4 KiB, 2 MiB or 1 GiB). */
    uint32_t flags;     /**< HV_MEM_* permissions and HV_MEMTYPE_* type. */
};

/** Memory statistics of a VM (hv_vm_stats()). */
struct hv_vm_stats {
    uint64_t slat_table_pages;  /**< 4 KiB pages holding SLAT tables. */
    uint64_t mapped_bytes;      /**< Bytes of guest-physical space mapped. */
    uint64_t host_bytes;        /**< Host memory used by the VM's own objects (not guest RAM, not SLAT tables). */
    uint64_t arch_pages;        /**< Pages of architectural structures (VMCS/VMCB, permission maps). */
};

/**
 * @brief Create a VM.
 * @param ctx The context.
 * @param config Options, or NULL for defaults.
 * @param[out] out The new VM.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG for NULL @p ctx / @p out or a bad
 *         config (unknown @c flags bits included); ::HV_ERR_RANGE for an
 *         unsupported @c gpa_bits;
 *         ::HV_ERR_NO_MEMORY; ::HV_ERR_LIMIT when no address-space
 *         identifier (ASID/VPID) is left.
 */
hv_status_t hv_vm_create(struct hv_ctx *ctx, const struct hv_vm_config *config, struct hv_vm **out);

/**
 * @brief Destroy a VM and free its SLAT tables and objects.
 *
 * Guest RAM is the embedder's and is not touched, unless the VM was
 * created with ::HV_VM_SCRUB: then the RAM still mapped is zeroed, and so
 * is everything the library frees.
 * @param vm The VM (all its vCPUs destroyed).
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG for NULL; ::HV_ERR_BUSY while the
 *         VM still has vCPUs.
 */
hv_status_t hv_vm_destroy(struct hv_vm *vm);

/**
 * @brief Map [gpa, gpa+len) to [hpa, hpa+len) with @p flags.
 *
 * The range must not overlap an existing mapping. The largest SLAT pages
 * that alignment allows are used.
 * @param vm The VM.
 * @param gpa Guest-physical start, 4 KiB aligned.
 * @param hpa Host-physical start, 4 KiB aligned.
 * @param len Length, a non-zero multiple of 4 KiB.
 * @param flags HV_MEM_* permissions (at least one) | one HV_MEMTYPE_*.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_ALIGNMENT;
 *         ::HV_ERR_RANGE (zero length, overflow, beyond the VM's gpa width
 *         or the CPU's hpa width); ::HV_ERR_EXISTS (overlap, nothing
 *         changed); ::HV_ERR_NO_MEMORY (nothing changed).
 */
hv_status_t hv_vm_map(struct hv_vm *vm, uint64_t gpa, uint64_t hpa, uint64_t len, uint32_t flags);

/**
 * @brief Unmap [gpa, gpa+len). Unmapped holes inside the range are allowed.
 *
 * Returns once no vCPU can reach the range from guest mode. A vCPU whose
 * exit the library is handling may still access a page it translated
 * before (docs/porting.md, "kick_cpu"): reuse the pages once each vCPU
 * that was running has returned from that hv_vcpu_run() call (kick it).
 * @param vm The VM.
 * @param gpa Guest-physical start, 4 KiB aligned.
 * @param len Length, a non-zero multiple of 4 KiB.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_ALIGNMENT; ::HV_ERR_RANGE;
 *         ::HV_ERR_NO_MEMORY when a large page had to be split and no table
 *         page was available (nothing changed).
 */
hv_status_t hv_vm_unmap(struct hv_vm *vm, uint64_t gpa, uint64_t len);

/**
 * @brief Change permissions and memory type of [gpa, gpa+len).
 *
 * Every page of the range must be mapped.
 * @param vm The VM.
 * @param gpa Guest-physical start, 4 KiB aligned.
 * @param len Length, a non-zero multiple of 4 KiB.
 * @param flags New HV_MEM_* permissions | one HV_MEMTYPE_*, as for hv_vm_map().
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_ALIGNMENT; ::HV_ERR_RANGE;
 *         ::HV_ERR_NOT_FOUND (a hole; nothing changed); ::HV_ERR_NO_MEMORY
 *         (nothing changed).
 */
hv_status_t hv_vm_protect(struct hv_vm *vm, uint64_t gpa, uint64_t len, uint32_t flags);

/**
 * @brief Look up the mapping of one guest-physical address.
 *
 * Lock-free; safe while another thread changes the mappings (the answer
 * is then the mapping before or after the change).
 * @param vm The VM.
 * @param gpa The guest-physical address to look up.
 * @param[out] out The mapping that contains @p gpa.
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_RANGE; ::HV_ERR_NOT_FOUND.
 */
hv_status_t hv_vm_query(struct hv_vm *vm, uint64_t gpa, struct hv_mapping *out);

/**
 * @brief Find the mapping that contains an address or, failing that, the
 *        lowest one above it.
 *
 * Lists a VM's guest-physical map in ascending order: start at 0 and
 * continue from @c out->gpa + @c out->page_size. Each call costs the SLAT
 * tables it passes, not the unmapped span it skips, so a sparse map (RAM
 * at 0, a page below 4 GiB) lists in a few calls. Adjacent pages are
 * reported one SLAT page at a time; the caller merges them. Lock-free, as
 * hv_vm_query().
 * @param vm The VM.
 * @param gpa Where to start looking.
 * @param[out] out The mapping found; its @c gpa may lie below @p gpa when
 *             that page contains @p gpa, as with hv_vm_query().
 * @return ::HV_OK; ::HV_ERR_INVALID_ARG; ::HV_ERR_RANGE when @p gpa is
 *         beyond the VM's guest-physical width; ::HV_ERR_NOT_FOUND when
 *         nothing is mapped at or above @p gpa.
 */
hv_status_t hv_vm_query_next(struct hv_vm *vm, uint64_t gpa, struct hv_mapping *out);

/**
 * @brief Harvest and clear the dirty state of [gpa, gpa+len).
 *
 * Bit i of @p bitmap (uint64_t words, bit 0 of word 0 first) is set when
 * the 4 KiB page gpa + i*4096 was written since the previous harvest. Needs
 * SLAT dirty bits (::HV_FEAT_SLAT_AD in hv_caps::features); large pages report every 4 KiB
 * page they contain.
 * @param vm The VM.
 * @param gpa Guest-physical start, 4 KiB aligned.
 * @param len Length, a non-zero multiple of 4 KiB.
 * @param[out] bitmap len / 4096 bits, rounded up to whole uint64_t words.
 * @return ::HV_OK; ::HV_ERR_UNSUPPORTED without SLAT dirty bits;
 *         ::HV_ERR_INVALID_ARG; ::HV_ERR_ALIGNMENT; ::HV_ERR_RANGE.
 */
hv_status_t hv_vm_dirty_harvest(struct hv_vm *vm, uint64_t gpa, uint64_t len, uint64_t *bitmap);

/**
 * @brief Memory statistics of a VM.
 * @param vm The VM.
 * @param[out] out The statistics.
 * @return ::HV_OK or ::HV_ERR_INVALID_ARG.
 */
hv_status_t hv_vm_stats(struct hv_vm *vm, struct hv_vm_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* HV_VM_H */
