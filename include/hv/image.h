/**
 * @file image.h
 * @brief Guest image loader: ELF32/ELF64 (optionally gzip-compressed) images
 *        with Xen ELF notes, loaded by physical address, and the PVH
 *        start-of-day layout (struct hvm_start_info).
 *
 * The loader treats the image as hostile: every read is bounds-checked,
 * nothing is trusted before it is checked, and the first error is sticky.
 * It never touches guest memory directly: all writes go through a
 * caller-supplied struct hv_image_sink, so the same code serves a VM, a
 * test buffer and a dry run.
 *
 * Typical use:
 * @code
 *   struct hv_image img;
 *   if (hv_image_open(&img, bytes, len, &limits, &inflate_ops) != HV_OK)
 *       log(img.reason);
 *   hv_pvh_build(&img, &params, &sink, &layout);  // load + start_info
 *   // set EBX = layout.start_info_gpa, EIP = layout.entry, 32-bit flat mode
 *   hv_image_close(&img);
 * @endcode
 *
 * hv_image_open() is a pure function of the bytes, the limits and the
 * inflate hook (no global state, no allocation except through the hook),
 * so it can be called directly from a fuzzing harness.
 */
#ifndef HV_IMAGE_H
#define HV_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum number of non-empty PT_LOAD segments an image may have. */
#define HV_IMAGE_MAX_SEGMENTS 32u
/** Maximum number of problems hv_image_open() records (the first is the sticky error). */
#define HV_IMAGE_MAX_PROBLEMS 8u
/** Xen ELF note types 0 .. HV_XEN_ELFNOTE_COUNT-1 are recognised (Xen's XEN_ELFNOTE_MAX + 1). */
#define HV_XEN_ELFNOTE_COUNT 20u
/** Default cap on the decompressed size of a gzip image (see hv_image_limits::max_inflated). */
#define HV_IMAGE_DEFAULT_MAX_INFLATED (256ull << 20)
/** Default guest-physical limit (see hv_image_limits::max_gpa): 4 GiB. */
#define HV_IMAGE_DEFAULT_MAX_GPA (4ull << 30)

/** @name Xen ELF note types (values of Xen's public elfnote.h) */
/**@{*/
#define HV_XEN_ELFNOTE_INFO           0u /**< NAME=VALUE pair (string). */
#define HV_XEN_ELFNOTE_ENTRY          1u /**< Virtual entry point (numeric). */
#define HV_XEN_ELFNOTE_HYPERCALL_PAGE 2u /**< Virtual address of the hypercall page (numeric). */
#define HV_XEN_ELFNOTE_VIRT_BASE      3u /**< Virtual base of the kernel (numeric). */
#define HV_XEN_ELFNOTE_PADDR_OFFSET                                                                \
    4u /**< Offset of p_paddr from the real physical address (numeric). */
#define HV_XEN_ELFNOTE_XEN_VERSION        5u  /**< Xen version the guest works with (string). */
#define HV_XEN_ELFNOTE_GUEST_OS           6u  /**< Guest OS name (string). */
#define HV_XEN_ELFNOTE_GUEST_VERSION      7u  /**< Guest OS version (string). */
#define HV_XEN_ELFNOTE_LOADER             8u  /**< Loader type, e.g. "generic" (string). */
#define HV_XEN_ELFNOTE_PAE_MODE           9u  /**< "yes", "no", "bimodal" (string). */
#define HV_XEN_ELFNOTE_FEATURES           10u /**< '|'-separated feature names (string). */
#define HV_XEN_ELFNOTE_BSD_SYMTAB         11u /**< "yes" or "no" (string). */
#define HV_XEN_ELFNOTE_HV_START_LOW       12u /**< Lowest hypervisor-hole start (numeric). */
#define HV_XEN_ELFNOTE_L1_MFN_VALID       13u /**< Mask/value pairs (raw bytes). */
#define HV_XEN_ELFNOTE_SUSPEND_CANCEL     14u /**< Cooperative suspend cancellation (numeric). */
#define HV_XEN_ELFNOTE_INIT_P2M           15u /**< Initial p2m location (numeric). */
#define HV_XEN_ELFNOTE_MOD_START_PFN      16u /**< Accepts an unmapped initrd (numeric). */
#define HV_XEN_ELFNOTE_SUPPORTED_FEATURES 17u /**< Supported feature bitmap (numeric). */
#define HV_XEN_ELFNOTE_PHYS32_ENTRY       18u /**< 32-bit physical PVH entry point (numeric). */
#define HV_XEN_ELFNOTE_PHYS32_RELOC                                                                \
    19u /**< Up to three 32-bit relocation constraints (raw bytes). */
/**@}*/

/** @name ELF machine numbers the loader accepts */
/**@{*/
#define HV_ELF_EM_386    3u  /**< Intel 80386. */
#define HV_ELF_EM_X86_64 62u /**< AMD x86-64 (also valid in an ELF32-class file). */
/**@}*/

/**
 * @brief Where the loader writes guest memory.
 *
 * The loader calls @c write for every byte range it places: image segment
 * contents, zero fill (bss), modules and the PVH start_info block. It stops
 * at the first error, which becomes the image's sticky error.
 */
struct hv_image_sink {
    /** Passed back as the first argument of @c write. */
    void *opaque;
    /**
     * @brief Copy @p len bytes from @p src to guest-physical @p gpa, or zero
     *        them when @p src is NULL.
     * @return ::HV_OK, or an error (for example ::HV_ERR_RANGE when the range
     *         is not guest RAM); the loader reports it unchanged.
     */
    hv_status_t (*write)(void *opaque, uint64_t gpa, const void *src, uint64_t len);
};

/**
 * @brief Decompression hook for gzip images (RFC 1952).
 *
 * The loader never decompresses by itself: a hosted build wires zlib here, a
 * kernel may use the freestanding hv_inflate_builtin_ops() or its own.
 */
struct hv_inflate_ops {
    /** Passed back as the first argument of both callbacks. */
    void *opaque;
    /**
     * @brief Decompress the complete gzip file @p src into a buffer the hook allocates.
     *
     * Must never produce more than @p max_out bytes: a stream that would is a
     * decompression bomb and fails with ::HV_ERR_LIMIT. The CRC32 and ISIZE
     * trailer must be checked; data after the (single) member is an error.
     * @param opaque   hv_inflate_ops::opaque.
     * @param src      The whole compressed file.
     * @param src_len  Its length in bytes.
     * @param max_out  Maximum decompressed size in bytes.
     * @param[out] out     The decompressed bytes, released later by @c release.
     * @param[out] out_len Their length.
     * @return ::HV_OK; ::HV_ERR_BAD_IMAGE for corrupt data; ::HV_ERR_LIMIT
     *         past @p max_out; ::HV_ERR_NO_MEMORY.
     */
    hv_status_t (*inflate)(void *opaque, const void *src, size_t src_len, size_t max_out,
                           void **out, size_t *out_len);
    /** @brief Release a buffer returned by @c inflate (@p len is its out_len). */
    void (*release)(void *opaque, void *buf, size_t len);
};

/** @brief Caller limits applied while parsing an image. Zero fields take the defaults. */
struct hv_image_limits {
    /**
     * Exclusive guest-physical limit: every PT_LOAD segment must end at or
     * below it (0: ::HV_IMAGE_DEFAULT_MAX_GPA).
     */
    uint64_t max_gpa;
    /** Maximum decompressed size of a gzip image (0: ::HV_IMAGE_DEFAULT_MAX_INFLATED). */
    uint64_t max_inflated;
};

/** @brief How the image bytes were stored. */
typedef enum hv_image_compression {
    HV_IMAGE_PLAIN = 0, /**< An ELF file as is. */
    HV_IMAGE_GZIP = 1   /**< A gzip file holding an ELF file. */
} hv_image_compression_t;

/** @brief One non-empty PT_LOAD segment, as the loader places it. */
struct hv_image_segment {
    uint64_t paddr;  /**< Guest-physical load address (p_paddr). */
    uint64_t vaddr;  /**< p_vaddr (informational). */
    uint64_t offset; /**< File offset of the contents (p_offset). */
    uint64_t filesz; /**< Bytes copied from the file (p_filesz). */
    uint64_t memsz;  /**< Bytes occupied in guest memory; the tail past filesz is zeroed. */
    uint64_t align;  /**< p_align (0 or a power of two). */
    uint32_t flags;  /**< p_flags (PF_X = 1, PF_W = 2, PF_R = 4). */
    uint32_t index;  /**< Index of the program header. */
};

/** @brief How the value of a Xen note is reported. */
typedef enum hv_xen_note_kind {
    HV_XEN_NOTE_NUMERIC = 0, /**< 4- or 8-byte little-endian value in hv_xen_note::value. */
    HV_XEN_NOTE_STRING = 1,  /**< NUL-terminated string in hv_xen_note::str. */
    HV_XEN_NOTE_BYTES = 2    /**< Raw descriptor only (L1_MFN_VALID, PHYS32_RELOC). */
} hv_xen_note_kind_t;

/** @brief A Xen ELF note found in the image (the last one of each type wins, as in Xen). */
struct hv_xen_note {
    bool present;            /**< The image carries this note. */
    hv_xen_note_kind_t kind; /**< How to read the value. */
    uint32_t desc_size;      /**< Descriptor size in bytes. */
    uint64_t value;          /**< Numeric notes: the value. */
    /**
     * String notes: the string, NUL-terminated within the descriptor or
     * its padding to 4 bytes (as Linux's 41-byte FEATURES note is; the
     * loader refuses others); points into the image bytes, valid until
     * hv_image_close(). NULL for other kinds.
     */
    const char *str;
    /** The raw descriptor (all kinds), @c desc_size bytes inside the image bytes. */
    const uint8_t *desc;
};

/** @brief Where the notes were read from. */
typedef enum hv_image_note_source {
    HV_IMAGE_NOTES_NONE = 0,     /**< The image has no note area. */
    HV_IMAGE_NOTES_SEGMENTS = 1, /**< PT_NOTE program headers. */
    HV_IMAGE_NOTES_SECTIONS = 2  /**< SHT_NOTE sections (only when there is no PT_NOTE). */
} hv_image_note_source_t;

/**
 * @brief A parsed image: everything the loader knows about it.
 *
 * Filled by hv_image_open(); read-only for the caller afterwards. Fields
 * after a failure hold what was parsed before it (all of it bounds-checked).
 */
struct hv_image {
    /** @name Bytes */
    /**@{*/
    const uint8_t *data;                /**< The ELF bytes (decompressed for gzip). */
    size_t size;                        /**< Their length. */
    size_t stored_size;                 /**< Length of the bytes as passed to hv_image_open(). */
    hv_image_compression_t compression; /**< How they were stored. */
    const struct hv_inflate_ops
        *inflate;         /**< Hook that owns @c data for gzip (released on close). */
    void *inflated;       /**< Buffer from the hook, or NULL. */
    size_t inflated_size; /**< Its length as the hook reported it. */
    uint64_t max_gpa;     /**< Effective guest-physical limit. */
    /**@}*/

    /** @name ELF header */
    /**@{*/
    uint8_t elf_class; /**< 32 or 64 (0 before the identification was read). */
    uint16_t type;     /**< e_type (2 = ET_EXEC, 3 = ET_DYN). */
    uint16_t machine;  /**< e_machine (::HV_ELF_EM_386 or ::HV_ELF_EM_X86_64). */
    uint64_t entry;    /**< e_entry. */
    uint64_t phoff;    /**< Program header table offset. */
    uint32_t phnum;    /**< Program header count (PN_XNUM resolved). */
    uint64_t shoff;    /**< Section header table offset (0: none). */
    uint32_t shnum;    /**< Section header count (extended numbering resolved). */
    /**@}*/

    /** @name Segments */
    /**@{*/
    uint32_t nsegs;        /**< Non-empty PT_LOAD segments in @c segs, in header order. */
    uint32_t skipped_segs; /**< PT_LOAD headers with p_memsz == 0 (skipped). */
    struct hv_image_segment segs[HV_IMAGE_MAX_SEGMENTS]; /**< The segments. */
    uint64_t paddr_lo; /**< Lowest segment address (valid when nsegs > 0). */
    uint64_t paddr_hi; /**< Exclusive end of the highest segment. */
    /**@}*/

    /** @name Notes */
    /**@{*/
    hv_image_note_source_t note_source; /**< Where notes were read from. */
    uint32_t notes;                     /**< Notes of any owner found. */
    uint32_t xen_notes;                 /**< Notes owned by "Xen" (any type). */
    uint32_t xen_unknown; /**< Xen notes with a type >= ::HV_XEN_ELFNOTE_COUNT (ignored). */
    struct hv_xen_note xen[HV_XEN_ELFNOTE_COUNT]; /**< Xen notes by type. */
    bool has_phys32_entry; /**< XEN_ELFNOTE_PHYS32_ENTRY present and valid. */
    uint32_t phys32_entry; /**< Its value: the PVH 32-bit entry point. */
    /**@}*/

    /** @name Errors */
    /**@{*/
    hv_status_t status; /**< ::HV_OK, or the first (sticky) error. */
    const char *reason; /**< Static text for the first error, or NULL. */
    uint32_t nproblems; /**< Problems recorded in @c problems (at most ::HV_IMAGE_MAX_PROBLEMS). */
    /**
     * Every independent reason the image was refused, first one first: after
     * an error in one segment or note area the parser still checks the others
     * (when their own headers are sound), so a tool can list them all.
     */
    const char *problems[HV_IMAGE_MAX_PROBLEMS];
    /**@}*/
};

/**
 * @brief Parse (and, for gzip, decompress) an image without writing anything.
 *
 * This is the "describe/plan" call: it validates the ELF header, the program
 * headers, every PT_LOAD segment (bounds, overflow, overlap, @c max_gpa) and
 * every note, and fills @p img. On success the image can be loaded with
 * hv_image_load() or hv_pvh_build(). Always call hv_image_close() afterwards
 * (also on failure) to release a decompression buffer.
 *
 * @param[out] img   Filled in; holds pointers into @p data, which must outlive it.
 * @param data       The image file bytes (ELF, or gzip holding ELF).
 * @param size       Their length.
 * @param limits     Limits, or NULL for the defaults.
 * @param inflate    Decompression hook, or NULL (gzip images are then refused).
 * @return ::HV_OK; ::HV_ERR_BAD_IMAGE for a malformed image; ::HV_ERR_RANGE
 *         for a segment past @c max_gpa; ::HV_ERR_UNSUPPORTED for gzip without
 *         a hook; ::HV_ERR_LIMIT for a decompression bomb; ::HV_ERR_NO_MEMORY;
 *         ::HV_ERR_INVALID_ARG for a NULL @p img or @p data. The same status
 *         is in img->status with a reason in img->reason.
 */
hv_status_t hv_image_open(struct hv_image *img, const void *data, size_t size,
                          const struct hv_image_limits *limits,
                          const struct hv_inflate_ops *inflate);

/**
 * @brief Release what hv_image_open() acquired (the decompressed buffer).
 *
 * Safe on a failed or already-closed image. String note pointers into a
 * decompressed buffer are invalid afterwards.
 * @param img The image passed to hv_image_open().
 */
void hv_image_close(struct hv_image *img);

/**
 * @brief Write every PT_LOAD segment through @p sink at its p_paddr.
 *
 * File contents are copied, the p_memsz - p_filesz tail is zeroed with a
 * NULL-source write. As for Xen's PVH guests, p_paddr is used as is: a
 * XEN_ELFNOTE_PADDR_OFFSET or VIRT_BASE note is reported, not applied. Stops at the first sink
 * error, which becomes the image's sticky error (reason "guest memory write rejected").
 * @param img An image opened without error.
 * @param sink Where guest memory is written.
 * @return ::HV_OK, the image's earlier error, ::HV_ERR_INVALID_ARG, or the sink's error.
 */
hv_status_t hv_image_load(struct hv_image *img, const struct hv_image_sink *sink);

/**
 * @brief Name of an ELF machine number.
 * @param machine e_machine value.
 * @return "x86-64", "i386", or "other" (static, never NULL).
 */
const char *hv_image_machine_str(uint16_t machine);

/**
 * @brief Name of a Xen note type.
 * @param type Note type (HV_XEN_ELFNOTE_*).
 * @return "PHYS32_ENTRY", ..., or "unknown" (static, never NULL).
 */
const char *hv_xen_note_name(uint32_t type);

/** @brief One note of any owner, as returned by hv_image_note_next(). */
struct hv_image_note {
    uint32_t type;       /**< n_type. */
    uint32_t name_size;  /**< n_namesz (including the NUL, if any). */
    uint32_t desc_size;  /**< n_descsz. */
    const char *name;    /**< Owner name bytes (name_size of them, not necessarily terminated). */
    const uint8_t *desc; /**< Descriptor bytes. */
    uint64_t offset;     /**< File offset of the note header. */
};

/** @brief Cursor for hv_image_note_next(); zero-initialize before the first call. */
struct hv_image_note_iter {
    uint32_t area; /**< Index into the program/section header table. */
    uint64_t pos;  /**< Offset inside the current note area. */
    bool done;     /**< Iteration has ended. */
};

/**
 * @brief Walk every note (any owner) in the image's note areas, in file order.
 *
 * Uses the same checked walk as hv_image_open(): on a malformed area it stops.
 * @param img The opened image.
 * @param[in,out] it The cursor.
 * @param[out] note The next note.
 * @return true with @p note filled, or false at the end.
 */
bool hv_image_note_next(const struct hv_image *img, struct hv_image_note_iter *it,
                        struct hv_image_note *note);

/* ------------------------------------------------------------------------- */
/* PVH boot layout                                                           */

/** @brief Maximum number of modules hv_pvh_plan() accepts. */
#define HV_PVH_MAX_MODULES 16u
/** @brief Maximum number of memory map entries hv_pvh_plan() accepts. */
#define HV_PVH_MAX_MEMMAP 64u
/** @brief Maximum command line length (bytes, excluding the NUL) for the kernel and each module. */
#define HV_PVH_MAX_CMDLINE 4096u
/** @brief Memory map type of guest RAM (Xen's XEN_HVM_MEMMAP_TYPE_RAM, the ACPI/E820 value). */
#define HV_PVH_MEMMAP_RAM 1u
/** @brief Memory map type of reserved ranges (XEN_HVM_MEMMAP_TYPE_RESERVED). */
#define HV_PVH_MEMMAP_RESERVED 2u

/** @brief One entry of the guest's memory map (passed to the guest as is). */
struct hv_pvh_memmap {
    uint64_t addr; /**< Base guest-physical address. */
    uint64_t size; /**< Length in bytes. */
    uint32_t type; /**< ::HV_PVH_MEMMAP_RAM, ::HV_PVH_MEMMAP_RESERVED, or another Xen/ACPI type. */
};

/** @brief A module (initrd, ...) handed to the guest through start_info. */
struct hv_pvh_module {
    /**
     * Bytes to place: the planner chooses a page-aligned address for them.
     * NULL when the caller already put the module in guest memory at @c paddr.
     */
    const void *data;
    uint64_t paddr;      /**< Where the module is (data == NULL); ignored otherwise. */
    uint64_t size;       /**< Module size in bytes (may be 0). */
    const char *cmdline; /**< Module command line, or NULL. */
};

/** @brief Input of hv_pvh_plan() and hv_pvh_build(). */
struct hv_pvh_params {
    /** Guest memory map; its RAM entries are where things may be placed. */
    const struct hv_pvh_memmap *memmap;
    uint32_t memmap_count;               /**< Entries in @c memmap (1 .. ::HV_PVH_MAX_MEMMAP). */
    const char *cmdline;                 /**< Kernel command line, or NULL. */
    const struct hv_pvh_module *modules; /**< Modules, or NULL. */
    uint32_t module_count;               /**< Entries in @c modules (0 .. ::HV_PVH_MAX_MODULES). */
    /** Physical address of the ACPI RSDP for start_info (0: none). */
    uint64_t rsdp_paddr;
};

/** @brief Where hv_pvh_plan() put things, and how to start the guest. */
struct hv_pvh_layout {
    uint32_t entry;           /**< EIP: the image's PHYS32_ENTRY. */
    uint64_t start_info_gpa;  /**< EBX: guest-physical address of struct hvm_start_info. */
    uint64_t start_info_size; /**< Bytes of the start_info block (struct, tables, strings). */
    uint64_t modlist_gpa;     /**< hvm_modlist_entry array (0 if no modules). */
    uint64_t memmap_gpa;      /**< hvm_memmap_table_entry array. */
    uint64_t cmdline_gpa;     /**< Kernel command line (0 if none). */
    uint64_t module_gpa[HV_PVH_MAX_MODULES]; /**< Address of each module. */
    uint32_t module_count;                   /**< Modules in @c module_gpa. */
    const char *reason;                      /**< Why planning failed (static), or NULL. */
};

/**
 * @brief Choose where start_info and the modules go (no writes).
 *
 * Everything is placed in RAM entries of the memory map, below 4 GiB (EBX
 * is 32-bit), never at address 0, and without overlapping the image's
 * segments, caller-placed modules or each other; modules are page-aligned,
 * the start_info block 8-byte aligned. The first fit at or above the
 * image's end is preferred, then the first fit from the bottom of RAM.
 * Requires a valid image with XEN_ELFNOTE_PHYS32_ENTRY inside a segment.
 * @param img An image opened without error.
 * @param params Memory map, command line and modules.
 * @param[out] out The layout; out->reason on failure.
 * @return ::HV_OK; the image's error; ::HV_ERR_BAD_IMAGE (no PHYS32_ENTRY);
 *         ::HV_ERR_INVALID_ARG (bad parameters); ::HV_ERR_RANGE (no room in RAM
 *         below 4 GiB); out->reason says why.
 */
hv_status_t hv_pvh_plan(const struct hv_image *img, const struct hv_pvh_params *params,
                        struct hv_pvh_layout *out);

/**
 * @brief Plan, then load the image, the modules and start_info through @p sink.
 *
 * Writes the segments (hv_image_load()), each module with data, and one
 * start_info block: struct hvm_start_info version 1, the module list, the
 * memory map and the command lines. Sets the initial-state inputs in @p out;
 * the caller then starts the vCPU in 32-bit flat protected mode with paging
 * off, EIP = out->entry and EBX = out->start_info_gpa (Xen's PVH ABI).
 * @param img An image opened without error.
 * @param params Memory map, command line and modules.
 * @param sink Where guest memory is written.
 * @param[out] out The layout and the entry state.
 * @return As hv_pvh_plan(), or the sink's error.
 */
hv_status_t hv_pvh_build(struct hv_image *img, const struct hv_pvh_params *params,
                         const struct hv_image_sink *sink, struct hv_pvh_layout *out);

/* ------------------------------------------------------------------------- */
/* Freestanding gzip decompressor                                            */

/** @brief Allocator the builtin decompressor uses for its output buffer. */
struct hv_inflate_alloc {
    void *opaque; /**< Passed back to both callbacks. */
    /** Allocate @p size bytes (any alignment), or return NULL. Same contract as
     * hv_host_ops::obj_alloc. */
    void *(*alloc)(void *opaque, size_t size);
    /** Free a block from @c alloc. Same contract as hv_host_ops::obj_free. */
    void (*free)(void *opaque, void *ptr, size_t size);
};

/**
 * @brief Decompress one gzip member (RFC 1952 around RFC 1951 deflate) into a caller buffer.
 *
 * Freestanding and safe on hostile input: every input read and output write
 * is bounds-checked, Huffman tables are validated (over-subscribed or
 * incomplete codes refused), back-references before the start of the output
 * refused, and the CRC32 and ISIZE trailer checked. Uses about 4 KiB of stack.
 * @param src     The gzip file.
 * @param src_len Its length.
 * @param dst     Output buffer.
 * @param dst_cap Its capacity: a stream producing more fails with ::HV_ERR_LIMIT.
 * @param[out] out_len Bytes produced.
 * @return ::HV_OK, ::HV_ERR_BAD_IMAGE (corrupt or trailing data), ::HV_ERR_LIMIT.
 */
hv_status_t hv_gunzip(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *out_len);

/**
 * @brief Build struct hv_inflate_ops backed by hv_gunzip() and @p alloc.
 *
 * The output buffer is sized from the gzip ISIZE trailer (refused with
 * ::HV_ERR_LIMIT before allocating when it exceeds max_out, so a damaged
 * trailer that claims too much is reported as ::HV_ERR_LIMIT rather than
 * ::HV_ERR_BAD_IMAGE), and the stream must produce exactly that many bytes.
 * @param[out] ops  Filled in; its opaque points to @p alloc, which must outlive it.
 * @param alloc     The allocator.
 */
void hv_inflate_builtin_ops(struct hv_inflate_ops *ops, const struct hv_inflate_alloc *alloc);

/**
 * @brief CRC-32 (ISO-HDLC, as gzip uses) of @p len bytes, continuing from @p crc.
 * @param crc The CRC so far (0 to start).
 * @param buf The bytes.
 * @param len Their number.
 * @return The updated CRC.
 */
uint32_t hv_crc32(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HV_IMAGE_H */
