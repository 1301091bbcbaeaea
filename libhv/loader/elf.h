/*
 * ELF facts the loader needs (System V gABI, "ELF Header", "Program
 * Header", "Sections", "Note Section"). Fields are read by offset with
 * explicit little-endian loads rather than through structs, so an image's
 * alignment or a host's struct padding never matters.
 */
#ifndef HV_LOADER_ELF_H
#define HV_LOADER_ELF_H

#include <stdint.h>

/* e_ident */
#define ELF_EI_NIDENT  16u
#define ELF_EI_CLASS   4u
#define ELF_EI_DATA    5u
#define ELF_EI_VERSION 6u
#define ELF_CLASS32    1u
#define ELF_CLASS64    2u
#define ELF_DATA2LSB   1u
#define ELF_DATA2MSB   2u
#define ELF_EV_CURRENT 1u

/* e_type */
#define ELF_ET_REL  1u
#define ELF_ET_EXEC 2u
#define ELF_ET_DYN  3u

/* Program header types and the PN_XNUM escape (gABI "Extended numbering"). */
#define ELF_PT_LOAD   1u
#define ELF_PT_NOTE   4u
#define ELF_PN_XNUM   0xffffu
#define ELF_SHN_UNDEF 0u
#define ELF_SHT_NOTE  7u

/* Header sizes and field offsets: [0] = ELF32, [1] = ELF64. */
struct elf_layout {
    uint32_t ehdr_size, phdr_size, shdr_size;
    /* ELF header */
    uint32_t e_entry, e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum;
    /* program header */
    uint32_t p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
    /* section header */
    uint32_t sh_type, sh_offset, sh_size, sh_info, sh_addralign;
    /* width in bytes of an address/offset field */
    uint32_t word;
};

extern const struct elf_layout hv_elf_layouts[2];

/* Note header: n_namesz, n_descsz, n_type, each 4 bytes, in both classes. */
#define ELF_NHDR_SIZE 12u

#endif /* HV_LOADER_ELF_H */
