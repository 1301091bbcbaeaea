/*
 * Checked access to guest-physical memory. Every byte libhv reads from or
 * writes to a guest goes through here: the address is translated through
 * the VM's own SLAT view with the permission the access needs, page by
 * page, so a guest can never make the library touch memory it was not
 * given (or write through a read-only mapping).
 */
#ifndef HV_CORE_GUEST_MEM_H
#define HV_CORE_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <hv/status.h>

struct hv_vm;

/*
 * Copy [gpa, gpa+len) out of the guest. HV_ERR_GUEST_FAULT if any page is
 * unmapped or not readable (nothing meaningful is left in buf then).
 * Any thread may call these three: the walks are counted
 * (hv_slat_read_begin).
 */
hv_status_t hv_gpa_read(struct hv_vm *vm, uint64_t gpa, void *buf, size_t len);

/*
 * Copy buf into [gpa, gpa+len). All pages are checked for write permission
 * before the first byte is written, so a failing call writes nothing;
 * unless the map changes meanwhile (another CPU's SLAT call): a page
 * gone by the time its bytes are written ends the copy there with
 * HV_ERR_GUEST_FAULT.
 */
hv_status_t hv_gpa_write(struct hv_vm *vm, uint64_t gpa, const void *buf, size_t len);

/* Zero [gpa, gpa+len) with the same rule as hv_gpa_write. */
hv_status_t hv_gpa_zero(struct hv_vm *vm, uint64_t gpa, uint64_t len);

/*
 * Host pointer to the bytes at gpa for an access of `access` (HV_MEM_*),
 * valid up to the end of that 4 KiB page; NULL if not permitted. For hot
 * paths that access a small object that does not cross a page.
 */
void *hv_gpa_ptr(struct hv_vm *vm, uint64_t gpa, uint32_t access);

/* hv_gpa_ptr for a caller that is not a vCPU of vm: inside
   hv_slat_read_begin/end (core/objects.h). */
void *hv_gpa_ptr_foreign(struct hv_vm *vm, uint64_t gpa, uint32_t access);

#endif /* HV_CORE_GUEST_MEM_H */
