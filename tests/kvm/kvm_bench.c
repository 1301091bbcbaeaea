/*
 * The KVM side of the benchmarks: runs libhv's exit-cost guest
 * (tests/system/guests/bench/bench.S, the same image, the same protocol:
 * bench_abi.h) in a KVM VM from user space, the way a VMM would, and
 * prints KVM's figures in the benchmark format:
 *
 *   bench kvm cpuid <n>        CPUID leaf 0, answered inside KVM
 *   bench kvm hypercall <n>    VMMCALL with an unknown number: KVM answers
 *                              -KVM_ENOSYS inside the kernel
 *   bench kvm io_out <n>       OUT returned to this program (KVM_EXIT_IO)
 *                              and re-entered
 *   bench kvm mmio_exit <n>    load from unbacked memory returned to this
 *                              program (KVM_EXIT_MMIO) and re-entered
 *
 * Run inside a Linux guest of QEMU with -icount (tests/kvm/run-kvm.sh):
 * the guest's RDTSC deltas then count instructions. Linux keeps taking its
 * timer interrupts while the guest loops, so each figure is the minimum
 * over several short runs (a run without a tick in it).
 *
 *   kvm_bench <bench.bin> [iterations] [runs]
 *
 * Static, libc only (busybox initramfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../system/guests/bench/bench_abi.h"

#define RAM_SIZE   (1u << 20)
#define LOAD_GPA   0x1000u
#define RESET_GPA  0xfffff000ull
#define MMIO_VALUE 0x600dcafeu

struct vm {
    int kvm, fd, vcpu;
    struct kvm_run *run;
    uint8_t *ram, *reset;
    uint32_t cmd;
};

static void die(const char *what)
{
    fprintf(stderr, "kvm_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void setup(struct vm *v, const char *image)
{
    if ((v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
        die("/dev/kvm");
    if ((v->fd = ioctl(v->kvm, KVM_CREATE_VM, 0)) < 0)
        die("KVM_CREATE_VM");
    v->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    v->reset = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->ram == MAP_FAILED || v->reset == MAP_FAILED)
        die("mmap");

    FILE *f = fopen(image, "rb");
    if (!f)
        die(image);
    size_t n = fread(v->ram + LOAD_GPA, 1, RAM_SIZE - LOAD_GPA, f);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "kvm_bench: %s is empty\n", image);
        exit(1);
    }
    /* Reset vector 0xfffffff0: ljmp $0x0000, $0x1000, as the libhv harness. */
    static const uint8_t stub[] = {0xea, LOAD_GPA & 0xff, LOAD_GPA >> 8, 0x00, 0x00};
    memcpy(v->reset + 0xff0, stub, sizeof(stub));

    struct kvm_userspace_memory_region r = {.slot = 0,
                                            .guest_phys_addr = 0,
                                            .memory_size = RAM_SIZE,
                                            .userspace_addr = (uintptr_t)v->ram};
    if (ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        die("KVM_SET_USER_MEMORY_REGION (RAM)");
    r.slot = 1;
    r.guest_phys_addr = RESET_GPA;
    r.memory_size = 4096;
    r.userspace_addr = (uintptr_t)v->reset;
    r.flags = KVM_MEM_READONLY;
    if (ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        die("KVM_SET_USER_MEMORY_REGION (reset page)");

    if ((v->vcpu = ioctl(v->fd, KVM_CREATE_VCPU, 0)) < 0)
        die("KVM_CREATE_VCPU");
    /* The guest enters long mode: KVM checks EFER.LME against the guest's
       CPUID, so give it what KVM supports. */
    struct {
        struct kvm_cpuid2 h;
        struct kvm_cpuid_entry2 e[256];
    } cpuid = {.h.nent = 256};
    if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
        die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(v->vcpu, KVM_SET_CPUID2, &cpuid) < 0)
        die("KVM_SET_CPUID2");
    int size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0)
        die("KVM_GET_VCPU_MMAP_SIZE");
    v->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
    if (v->run == MAP_FAILED)
        die("mmap kvm_run");
}

/* The VMM's run loop: serve exits until the guest halts. */
static void serve(struct vm *v)
{
    struct kvm_run *r = v->run;
    for (;;) {
        if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            die("KVM_RUN");
        }
        switch (r->exit_reason) {
        case KVM_EXIT_IO:
            if (r->io.port == BENCH_PORT_OUT && r->io.direction == KVM_EXIT_IO_OUT)
                continue;
            if (r->io.port == BENCH_PORT_CMD && r->io.direction == KVM_EXIT_IO_IN &&
                r->io.size == 4) {
                memcpy((uint8_t *)r + r->io.data_offset, &v->cmd, 4);
                continue;
            }
            fprintf(stderr, "kvm_bench: unexpected I/O port 0x%x\n", r->io.port);
            exit(1);
        case KVM_EXIT_MMIO:
            if (!r->mmio.is_write) {
                uint64_t val = MMIO_VALUE;
                memcpy(r->mmio.data, &val, sizeof(r->mmio.data));
            }
            continue;
        case KVM_EXIT_HLT:
            return;
        default:
            fprintf(stderr, "kvm_bench: unexpected exit %u\n", r->exit_reason);
            exit(1);
        }
    }
}

static uint64_t ram64(struct vm *v, uint32_t gpa)
{
    uint64_t x;
    memcpy(&x, v->ram + gpa, sizeof(x));
    return x;
}

/* Minimum over @p runs of (op - base) / iters, in hundredths. */
static uint64_t measure(struct vm *v, uint32_t cmd, uint64_t iters, unsigned runs)
{
    uint64_t best = UINT64_MAX;
    memcpy(v->ram + BENCH_ITERS, &iters, sizeof(iters));
    for (unsigned i = 0; i < runs; i++) {
        v->cmd = cmd;
        serve(v); /* to the hand-over HLT */
        serve(v); /* to the result HLT */
        uint64_t base = ram64(v, BENCH_RES_BASE), op = ram64(v, BENCH_RES_OP);
        uint64_t c = op > base ? ((op - base) * 100 + iters / 2) / iters : 0;
        if (c < best)
            best = c;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        uint32_t cmd;
    } figures[] = {
        {"cpuid", BENCH_CMD_CPUID},
        {"hypercall", BENCH_CMD_HC},
        {"io_out", BENCH_CMD_OUT},
        {"mmio_exit", BENCH_CMD_MMIO_E},
    };
    struct vm v;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <bench.bin> [iterations] [runs]\n", argv[0]);
        return 2;
    }
    uint64_t iters = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000;
    unsigned runs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 9;
    if (iters == 0 || runs == 0)
        return 2;
    memset(&v, 0, sizeof(v));
    setup(&v, argv[1]);
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        uint64_t c = measure(&v, figures[i].cmd, iters, runs);
        printf("bench kvm %s %llu\n", figures[i].name, (unsigned long long)((c + 50) / 100));
        fflush(stdout);
    }
    return 0;
}
