/* Checked guest-physical memory access through the VM's SLAT (guest_mem.h). */
#include "core/guest_mem.h"
#include "core/objects.h"
#include "core/util.h"

void *hv_gpa_ptr(struct hv_vm *vm, uint64_t gpa, uint32_t access)
{
    uint64_t hpa;
    if (hv_slat_translate(&vm->slat, gpa, access, &hpa) != HV_OK)
        return NULL;
    return hv_host_phys_to_virt(&vm->ctx->host, hpa);
}

void *hv_gpa_ptr_foreign(struct hv_vm *vm, uint64_t gpa, uint32_t access)
{
    hv_slat_read_begin(vm);
    void *p = hv_gpa_ptr(vm, gpa, access);
    hv_slat_read_end(vm);
    return p;
}

/* Bytes from gpa to the end of its 4 KiB page, capped at len. */
static size_t chunk_len(uint64_t gpa, uint64_t len)
{
    uint64_t room = HV_PAGE_SIZE - (gpa & (HV_PAGE_SIZE - 1));
    return (size_t)(len < room ? len : room);
}

/* Every page of [gpa, gpa+len) translates with `access`. */
static hv_status_t check_range(struct hv_vm *vm, uint64_t gpa, uint64_t len, uint32_t access)
{
    if (len == 0)
        return HV_OK;
    if (!hv_range_valid(gpa, len))
        return HV_ERR_GUEST_FAULT;
    while (len) {
        size_t n = chunk_len(gpa, len);
        if (!hv_gpa_ptr(vm, gpa, access))
            return HV_ERR_GUEST_FAULT;
        gpa += n;
        len -= n;
    }
    return HV_OK;
}

enum piece_op { PIECE_READ, PIECE_WRITE, PIECE_ZERO };

/*
 * Checks every page of [gpa, gpa+len) first, then moves the bytes page by
 * page, translating each again: the map may change between the two passes
 * (another CPU's SLAT call, another vCPU's XENMEM_add_to_physmap), and a
 * page gone by then ends the copy with HV_ERR_GUEST_FAULT, what came
 * before it done. The walks are counted (hv_slat_read_begin): the caller
 * may be on no vCPU of this VM (the embedder's thread, another domain's
 * vCPU).
 */
static hv_status_t move_pieces(struct hv_vm *vm, uint64_t gpa, uint8_t *buf, uint64_t len,
                               enum piece_op op)
{
    uint32_t access = op == PIECE_READ ? HV_MEM_READ : HV_MEM_WRITE;
    hv_slat_read_begin(vm);
    hv_status_t st = check_range(vm, gpa, len, access);
    while (st == HV_OK && len) {
        size_t n = chunk_len(gpa, len);
        uint8_t *p = hv_gpa_ptr(vm, gpa, access);
        if (!p) {
            st = HV_ERR_GUEST_FAULT;
            break;
        }
        if (op == PIECE_READ)
            hv_memcpy(buf, p, n);
        else if (op == PIECE_WRITE)
            hv_memcpy(p, buf, n);
        else
            hv_memset(p, 0, n);
        if (buf)
            buf += n;
        gpa += n;
        len -= n;
    }
    hv_slat_read_end(vm);
    return st;
}

hv_status_t hv_gpa_read(struct hv_vm *vm, uint64_t gpa, void *buf, size_t len)
{
    return move_pieces(vm, gpa, buf, len, PIECE_READ);
}

hv_status_t hv_gpa_write(struct hv_vm *vm, uint64_t gpa, const void *buf, size_t len)
{
    /* Only read through the pointer (PIECE_WRITE copies out of it). */
    return move_pieces(vm, gpa, (uint8_t *)(uintptr_t)buf, len, PIECE_WRITE);
}

hv_status_t hv_gpa_zero(struct hv_vm *vm, uint64_t gpa, uint64_t len)
{
    return move_pieces(vm, gpa, NULL, len, PIECE_ZERO);
}
