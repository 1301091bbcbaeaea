# libhv.mk: libhv for plain Makefiles. Include it from a kernel's Makefile:
#
#     LIBHV_BACKENDS := svm          # optional: default "vmx svm"
#     include path/to/libhv/libhv.mk
#     LIBHV_OBJS := $(LIBHV_SOURCES:$(LIBHV_DIR)/%=build/libhv/%.o)
#     build/libhv/%.o: $(LIBHV_DIR)/%
#             @mkdir -p $(@D)
#             $(CC) $(LIBHV_CFLAGS) $(LIBHV_WARNINGS) $(LIBHV_INCLUDES) -c $< -o $@
#
# and compile the kernel's own files that call libhv with
# $(LIBHV_PUBLIC_INCLUDES). tests/check/make/Makefile is a complete example.
#
# It defines, and changes nothing else:
#   LIBHV_DIR             the libhv source tree (the directory of this file)
#   LIBHV_SOURCES         every source file (.c and .S), as $(LIBHV_DIR)/path
#   LIBHV_C_SOURCES       the .c files of LIBHV_SOURCES
#   LIBHV_ASM_SOURCES     the .S files of LIBHV_SOURCES
#   LIBHV_INCLUDES        -I flags to compile library sources
#   LIBHV_PUBLIC_INCLUDES -I flag for the kernel's own code (include/ only)
#   LIBHV_DEFINES         -DHV_CONFIG_VMX=1 / -DHV_CONFIG_SVM=1 per backend
#   LIBHV_CFLAGS          the freestanding code-generation flags + LIBHV_DEFINES
#   LIBHV_WARNINGS        the warning flags libhv itself is held to
#
# Source lists come from the same sources.txt files CMake reads
# (cmake/libhv-sources.cmake): one repository-relative path per line, '#'
# starts a comment. The flags mirror cmake/libhv-flags.cmake (the test
# unit.consumer_make fails if they differ). Needs GNU make and a POSIX sed.

LIBHV_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
LIBHV_BACKENDS ?= vmx svm

libhv_hash := \#
# $(call libhv_read,path/to/sources.txt): its entries, prefixed with LIBHV_DIR.
libhv_read = $(addprefix $(LIBHV_DIR)/,$(if $(wildcard $(1)),$(shell sed -e 's/$(libhv_hash).*//' '$(1)')))

libhv_unknown := $(filter-out vmx svm,$(LIBHV_BACKENDS))
ifneq ($(libhv_unknown),)
$(error libhv.mk: unknown backend(s) in LIBHV_BACKENDS: $(libhv_unknown) (use vmx and/or svm))
endif

LIBHV_SOURCES := $(foreach m,core slat emu loader xen lapic,$(call libhv_read,$(LIBHV_DIR)/libhv/$(m)/sources.txt)) \
                 $(foreach b,$(LIBHV_BACKENDS),$(call libhv_read,$(LIBHV_DIR)/backends/$(b)/sources.txt))
LIBHV_C_SOURCES := $(filter %.c,$(LIBHV_SOURCES))
LIBHV_ASM_SOURCES := $(filter %.S,$(LIBHV_SOURCES))

LIBHV_PUBLIC_INCLUDES := -I$(LIBHV_DIR)/include
LIBHV_INCLUDES := $(LIBHV_PUBLIC_INCLUDES) -I$(LIBHV_DIR)/libhv -I$(LIBHV_DIR)/backends
LIBHV_DEFINES := $(if $(filter vmx,$(LIBHV_BACKENDS)),-DHV_CONFIG_VMX=1) \
                 $(if $(filter svm,$(LIBHV_BACKENDS)),-DHV_CONFIG_SVM=1)

# No libc, no red zone (interrupts may use the stack below RSP), no SSE/x87
# (the kernel need not save FPU state around library calls), no stack
# protector, no PIC. GCC alone needs -fno-tree-loop-distribute-patterns to
# stop it turning loops into memset/memcpy calls; clang refuses the flag.
LIBHV_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-builtin -mno-red-zone \
                -mgeneral-regs-only -mno-mmx -mno-sse -mno-sse2 -fno-stack-protector \
                -fno-pic -fno-pie -fno-asynchronous-unwind-tables -O2 -g \
                $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),,-fno-tree-loop-distribute-patterns) \
                $(LIBHV_DEFINES)
LIBHV_WARNINGS := -Wall -Wextra -Werror -Wno-unused-parameter -Wstrict-prototypes
