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

hv_status_t hv_gpa_read(struct hv_vm *vm, uint64_t gpa, void *buf, size_t len)
{
    hv_status_t st = check_range(vm, gpa, len, HV_MEM_READ);
    if (st != HV_OK)
        return st;
    uint8_t *out = buf;
    while (len) {
        size_t n = chunk_len(gpa, len);
        hv_memcpy(out, hv_gpa_ptr(vm, gpa, HV_MEM_READ), n);
        out += n;
        gpa += n;
        len -= n;
    }
    return HV_OK;
}

hv_status_t hv_gpa_write(struct hv_vm *vm, uint64_t gpa, const void *buf, size_t len)
{
    hv_status_t st = check_range(vm, gpa, len, HV_MEM_WRITE);
    if (st != HV_OK)
        return st;
    const uint8_t *in = buf;
    while (len) {
        size_t n = chunk_len(gpa, len);
        hv_memcpy(hv_gpa_ptr(vm, gpa, HV_MEM_WRITE), in, n);
        in += n;
        gpa += n;
        len -= n;
    }
    return HV_OK;
}

hv_status_t hv_gpa_zero(struct hv_vm *vm, uint64_t gpa, uint64_t len)
{
    hv_status_t st = check_range(vm, gpa, len, HV_MEM_WRITE);
    if (st != HV_OK)
        return st;
    while (len) {
        size_t n = chunk_len(gpa, len);
        hv_memset(hv_gpa_ptr(vm, gpa, HV_MEM_WRITE), 0, n);
        gpa += n;
        len -= n;
    }
    return HV_OK;
}
