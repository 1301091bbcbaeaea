/*
 * Grant tables (setup_table, query_size, versions, copy with its checks),
 * host mappings of granted pages, and the PV console ring.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "core/objects.h"
#include "xen/internal.h"
#include "xen_fixture.h"

#define SELF    0x7ff0
#define GNT_GFN 0x380u /* where tests put grant frame 0 */

#define GTF_permit_access 1u
#define GTF_readonly      (1u << 2)
#define GTF_reading       (1u << 3)
#define GTF_writing       (1u << 4)

/* Grant entry @p ref of the VM's table (frame 0..). */
static uint8_t *gnt_entry(struct xf *f, uint32_t ref)
{
    return (uint8_t *)f->vm->xen->gnt_page[ref / 512] + (ref % 512) * 8;
}

static void grant(struct xf *f, uint32_t ref, uint16_t flags, uint16_t domid, uint32_t frame)
{
    uint8_t *e = gnt_entry(f, ref);
    memcpy(e + 2, &domid, 2);
    memcpy(e + 4, &frame, 4);
    memcpy(e, &flags, 2);
}

static uint16_t gflags(struct xf *f, uint32_t ref)
{
    uint16_t v;
    memcpy(&v, gnt_entry(f, ref), 2);
    return v;
}

static long gnttab(struct xf *f, uint32_t cmd, const void *arg, size_t len, uint32_t count)
{
    memcpy(xf_gpa(f, XF_BUF), arg, len);
    return xf_call(f, HC_GNTTAB, cmd, XF_BUF, count, 0, 0, 0);
}

static long map_grant_frame(struct xf *f, uint64_t idx, uint64_t gfn)
{
    uint8_t a[24];
    memset(a, 0, 24);
    uint16_t dom = SELF;
    uint32_t space = 1;
    memcpy(a, &dom, 2);
    memcpy(a + 4, &space, 4);
    memcpy(a + 8, &idx, 8);
    memcpy(a + 16, &gfn, 8);
    memcpy(xf_gpa(f, XF_BUF2), a, 24);
    return xf_call(f, HC_MEMORY_OP, 7, XF_BUF2, 0, 0, 0, 0);
}

static void test_setup_and_query(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    /* A fresh table has one frame; the limit is 32. */
    uint32_t q[4] = {SELF, 0xeeee, 0xeeee, 0xeeee};
    CU_ASSERT_EQUAL(gnttab(&f, 6, q, 16, 1), 0);
    memcpy(q, xf_gpa(&f, XF_BUF), 16);
    CU_ASSERT_EQUAL(q[1], 1);
    CU_ASSERT_EQUAL(q[2], 32);
    CU_ASSERT_EQUAL((int16_t)q[3], 0);
    CU_ASSERT_EQUAL(gnttab(&f, 6, q, 16, 2), E_INVAL);
    q[0] = 3;
    CU_ASSERT_EQUAL(gnttab(&f, 6, q, 16, 1), 0);
    memcpy(q, xf_gpa(&f, XF_BUF), 16);
    CU_ASSERT_EQUAL((int16_t)q[3], -2); /* GNTST_bad_domain */
    q[0] = 0;
    CU_ASSERT_EQUAL(gnttab(&f, 6, q, 16, 1), 0);
    memcpy(q, xf_gpa(&f, XF_BUF), 16);
    CU_ASSERT_EQUAL((int16_t)q[3], -8); /* GNTST_permission_denied */
    CU_ASSERT_EQUAL(xf_call(&f, HC_GNTTAB, 6, XF_HOLE, 1, 0, 0, 0), E_FAULT);

    /* setup_table: grows the table; frames not placed yet read INVALID_GFN. */
    uint8_t st[24];
    memset(st, 0, 24);
    uint16_t dom = SELF;
    uint32_t nr = 2;
    uint64_t list = XF_BUF2;
    memcpy(st, &dom, 2);
    memcpy(st + 4, &nr, 4);
    memcpy(st + 16, &list, 8);
    memset(xf_gpa(&f, XF_BUF2), 0x11, 32);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 1), 0);
    int16_t status;
    memcpy(&status, (uint8_t *)xf_gpa(&f, XF_BUF) + 8, 2);
    CU_ASSERT_EQUAL(status, 0);
    uint64_t frames[3];
    memcpy(frames, xf_gpa(&f, XF_BUF2), 24);
    CU_ASSERT_EQUAL(frames[0], ~0ull);
    CU_ASSERT_EQUAL(frames[1], ~0ull);
    CU_ASSERT_EQUAL(frames[2], 0x1111111111111111ull);
    CU_ASSERT_EQUAL(f.vm->xen->gnt_nr, 2);
    /* Placed with add_to_physmap (idx 3 grows the table to 4 frames). */
    CU_ASSERT_EQUAL(map_grant_frame(&f, 0, GNT_GFN), 0);
    CU_ASSERT_EQUAL(map_grant_frame(&f, 3, GNT_GFN + 3), 0);
    CU_ASSERT_EQUAL(f.vm->xen->gnt_nr, 4);
    CU_ASSERT_EQUAL(map_grant_frame(&f, 32, GNT_GFN + 4), E_INVAL);          /* beyond the limit */
    CU_ASSERT_EQUAL(map_grant_frame(&f, 0x80000000u, GNT_GFN + 4), E_INVAL); /* v2 status */
    nr = 4;
    memcpy(st + 4, &nr, 4);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 1), 0);
    memcpy(frames, xf_gpa(&f, XF_BUF2), 24);
    CU_ASSERT_EQUAL(frames[0], GNT_GFN);
    CU_ASSERT_EQUAL(frames[1], ~0ull);
    uint64_t f3;
    memcpy(&f3, (uint8_t *)xf_gpa(&f, XF_BUF2) + 24, 8);
    CU_ASSERT_EQUAL(f3, GNT_GFN + 3);
    /* The guest sees the frame's entries through its mapping. */
    struct hv_mapping mp;
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, GNT_GFN * 4096, &mp), HV_OK);
    CU_ASSERT_EQUAL(mp.hpa, f.vm->xen->gnt_hpa[0]);
    /* Errors: too many frames (status), bad counts, other domains, bad list. */
    nr = 33;
    memcpy(st + 4, &nr, 4);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 1), 0);
    memcpy(&status, (uint8_t *)xf_gpa(&f, XF_BUF) + 8, 2);
    CU_ASSERT_EQUAL(status, -1); /* GNTST_general_error */
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 0), E_INVAL);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 0x80000000u), E_INVAL);
    nr = 1;
    memcpy(st + 4, &nr, 4);
    list = XF_RO_PAGE;
    memcpy(st + 16, &list, 8);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 1), 0);
    memcpy(&status, (uint8_t *)xf_gpa(&f, XF_BUF) + 8, 2);
    CU_ASSERT_EQUAL(status, -5); /* GNTST_bad_virt_addr */
    dom = 9;
    memcpy(st, &dom, 2);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st, 24, 1), 0);
    memcpy(&status, (uint8_t *)xf_gpa(&f, XF_BUF) + 8, 2);
    CU_ASSERT_EQUAL(status, -2);
    CU_ASSERT_EQUAL(xf_call(&f, HC_GNTTAB, 2, XF_HOLE, 1, 0, 0, 0), E_FAULT);

    /* Versions: only 1. The version in force is written back in every case. */
    uint32_t v = 1;
    CU_ASSERT_EQUAL(gnttab(&f, 8, &v, 4, 1), 0);
    v = 2;
    CU_ASSERT_EQUAL(gnttab(&f, 8, &v, 4, 1), E_NOSYS);
    memcpy(&v, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(v, 1);
    v = 3;
    CU_ASSERT_EQUAL(gnttab(&f, 8, &v, 4, 1), E_INVAL);
    memcpy(&v, xf_gpa(&f, XF_BUF), 4);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(xf_call(&f, HC_GNTTAB, 8, XF_HOLE, 1, 0, 0, 0), E_FAULT);
    uint32_t gv[2] = {SELF, 0};
    CU_ASSERT_EQUAL(gnttab(&f, 10, gv, 8, 1), 0);
    memcpy(gv, xf_gpa(&f, XF_BUF), 8);
    CU_ASSERT_EQUAL(gv[1], 1);
    gv[0] = 9;
    CU_ASSERT_EQUAL(gnttab(&f, 10, gv, 8, 1), E_SRCH);
    gv[0] = 0;
    CU_ASSERT_EQUAL(gnttab(&f, 10, gv, 8, 1), E_PERM);
    /* Operations HVM guests may not use, or that are not implemented. */
    CU_ASSERT_EQUAL(gnttab(&f, 0, gv, 8, 1), E_NOSYS); /* map_grant_ref */
    CU_ASSERT_EQUAL(gnttab(&f, 4, gv, 8, 1), E_NOSYS); /* transfer */
    CU_ASSERT_EQUAL(gnttab(&f, 12, gv, 8, 1), E_NOSYS);
    CU_ASSERT_EQUAL(gnttab(&f, 6 | (1u << 12), q, 16, 1), E_NOSYS); /* continuation bits */
    xf_teardown(&f);

    /* i386: 4-byte frame numbers. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    uint32_t st32[4] = {SELF, 2, 0, XF_BUF2};
    memset(xf_gpa(&f, XF_BUF2), 0x11, 16);
    CU_ASSERT_EQUAL(gnttab(&f, 2, st32, 16, 1), 0);
    uint32_t fr[3];
    memcpy(fr, xf_gpa(&f, XF_BUF2), 12);
    CU_ASSERT_EQUAL(fr[0], ~0u);
    CU_ASSERT_EQUAL(fr[1], ~0u);
    CU_ASSERT_EQUAL(fr[2], 0x11111111u);
    xf_teardown(&f);
}

/* A GNTTABOP_copy element, native layout. */
static void copy_op(uint8_t *op, uint64_t su, uint16_t sdom, uint16_t soff, uint64_t du,
                    uint16_t ddom, uint16_t doff, uint16_t len, uint16_t flags)
{
    memset(op, 0, 40);
    memcpy(op, &su, 8);
    memcpy(op + 8, &sdom, 2);
    memcpy(op + 10, &soff, 2);
    memcpy(op + 16, &du, 8);
    memcpy(op + 24, &ddom, 2);
    memcpy(op + 26, &doff, 2);
    memcpy(op + 32, &len, 2);
    memcpy(op + 34, &flags, 2);
    op[36] = 0x55;
}

static int16_t copy_status(struct xf *f, unsigned i)
{
    int16_t s;
    memcpy(&s, (uint8_t *)xf_gpa(f, XF_BUF) + i * 40 + 36, 2);
    return s;
}

static void test_copy(void)
{
    struct xf a, b;
    xf_setup(&a, &(struct xf_opts){.no_xen = true});
    struct hv_xen_hub *hub;
    CU_ASSERT_EQUAL_FATAL(hv_xen_hub_create(a.ctx, &hub), HV_OK);
    struct hv_xen_config cfg = {.size = sizeof(cfg), .tsc_khz = XF_TSC_KHZ, .hub = hub, .domid = 1};
    CU_ASSERT_EQUAL_FATAL(hv_xen_enable(a.vm, &cfg), HV_OK);
    xf_setup_peer(&b, &a, &(struct xf_opts){.hub = hub, .cfg = {.domid = 2}});

    /* Domain 1 grants frame 0x60 to domain 2 (writable) and 0x61 read-only. */
    memcpy(xf_gpa(&a, 0x60000), "frontend-data", 14);
    grant(&a, 8, GTF_permit_access, 2, 0x60);
    grant(&a, 9, GTF_permit_access | GTF_readonly, 2, 0x61);
    grant(&a, 10, GTF_permit_access, 3, 0x62); /* for another domain */
    grant(&a, 11, GTF_permit_access, 2, XF_HOLE / 4096);
    grant(&a, 12, 0, 2, 0x63); /* invalid entry */
    uint8_t ops[6 * 40];
    /* 0: read domain 1's grant 8 into our frame 0x70 at offset 16. */
    copy_op(ops, 8, 1, 0, 0x70, SELF, 16, 14, 1);
    /* 1: write into domain 1's grant 8 at offset 100. */
    memcpy(xf_gpa(&b, 0x71000), "backend-reply", 14);
    copy_op(ops + 40, 0x71, SELF, 0, 8, 1, 100, 14, 2);
    /* 2: write into a read-only grant. */
    copy_op(ops + 80, 0x71, SELF, 0, 9, 1, 0, 4, 2);
    /* 3: a grant for domain 3. */
    copy_op(ops + 120, 10, 1, 0, 0x70, SELF, 0, 4, 1);
    /* 4: beyond the page. */
    copy_op(ops + 160, 8, 1, 4000, 0x70, SELF, 0, 100, 1);
    /* 5: a reference beyond the table. */
    copy_op(ops + 200, 5000, 1, 0, 0x70, SELF, 0, 4, 1);
    memcpy(xf_gpa(&b, XF_BUF), ops, sizeof(ops));
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_BUF, 6, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 0), 0);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&b, 0x70010), "frontend-data", 14), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 1), 0);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&a, 0x60064), "backend-reply", 14), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 2), -1); /* general error */
    CU_ASSERT_EQUAL(copy_status(&b, 3), -1);
    CU_ASSERT_EQUAL(copy_status(&b, 4), -10); /* bad_copy_arg */
    CU_ASSERT_EQUAL(copy_status(&b, 5), -3);  /* bad_gntref */
    /* Nothing stays marked in use. */
    CU_ASSERT_EQUAL(gflags(&a, 8), GTF_permit_access);
    CU_ASSERT_EQUAL(gflags(&a, 9), GTF_permit_access | GTF_readonly);

    /* More checks: frame not RAM, invalid entry, frames of others by number,
       unknown domains, a read-only local frame as destination. */
    copy_op(ops, 11, 1, 0, 0x70, SELF, 0, 4, 1);
    copy_op(ops + 40, 12, 1, 0, 0x70, SELF, 0, 4, 1);
    copy_op(ops + 80, 0x60, 1, 0, 0x70, SELF, 0, 4, 0);
    copy_op(ops + 120, 8, 7, 0, 0x70, SELF, 0, 4, 1);
    copy_op(ops + 160, 0x70, SELF, 0, XF_RO_PAGE / 4096, SELF, 0, 4, 0);
    copy_op(ops + 200, 0x70, SELF, 0, XF_HOLE / 4096, SELF, 0, 4, 0);
    memcpy(xf_gpa(&b, XF_BUF), ops, sizeof(ops));
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_BUF, 6, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 0), -9); /* bad_page */
    CU_ASSERT_EQUAL(copy_status(&b, 1), -1);
    CU_ASSERT_EQUAL(copy_status(&b, 2), -8); /* permission_denied */
    CU_ASSERT_EQUAL(copy_status(&b, 3), -2); /* bad_domain */
    CU_ASSERT_EQUAL(copy_status(&b, 4), -9);
    CU_ASSERT_EQUAL(copy_status(&b, 5), -9);
    CU_ASSERT_EQUAL(gflags(&a, 11), GTF_permit_access); /* rolled back */
    /* Local copies between own frames. */
    memcpy(xf_gpa(&b, 0x72000), "local", 5);
    copy_op(ops, 0x72, SELF, 0, 0x73, SELF, 8, 5, 0);
    memcpy(xf_gpa(&b, XF_BUF), ops, 40);
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_BUF, 1, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 0), 0);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&b, 0x73008), "local", 5), 0);
    /* count 0; a bad array; -EINVAL for negative counts. */
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_HOLE, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_HOLE, 1, 0, 0, 0), E_FAULT);
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_BUF, 0xffffffff, 0, 0, 0), E_INVAL);
    /* A host mapping of domain 1's grant 8 pins it for domain 0: a copy by
       domain 2 then fails (the entry is in use by another domain). */
    struct hv_xen_grant_mapping m;
    grant(&a, 13, GTF_permit_access, 0, 0x64);
    CU_ASSERT_EQUAL(hv_xen_grant_map(a.vm, 13, 0, &m), HV_OK);
    grant(&a, 13, GTF_permit_access | GTF_reading | GTF_writing, 2, 0x64); /* guest changes domid */
    copy_op(ops, 13, 1, 0, 0x70, SELF, 0, 4, 1);
    memcpy(xf_gpa(&b, XF_BUF), ops, 40);
    CU_ASSERT_EQUAL(xf_call(&b, HC_GNTTAB, 5, XF_BUF, 1, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(copy_status(&b, 0), -1);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(a.vm, m.handle), HV_OK);
    xf_teardown_peer(&b);
    CU_ASSERT_EQUAL(hv_xen_disable(a.vm), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_hub_destroy(hub), HV_OK);
    xf_teardown(&a);
}

static void test_copy_continuation_and_i386(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    /* 300 local copies: 256 done, then the call re-executes for the rest. */
    static uint8_t ops[300 * 40];
    for (int i = 0; i < 300; i++)
        copy_op(ops + 40 * i, 0x72, SELF, 0, 0x73, SELF, (uint16_t)i, 1, 0);
    memcpy(xf_gpa(&f, 0x100000), ops, sizeof(ops));
    uint64_t rip = xf_rip(&f, NULL);
    /* A continuation leaves the hypercall number in RAX. */
    CU_ASSERT_EQUAL(xf_call(&f, HC_GNTTAB, 5, 0x100000, 300, 0, 0, 0), HC_GNTTAB);
    CU_ASSERT_EQUAL(xf_rip(&f, NULL), rip);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RSI], 0x100000 + 256 * 40);
    CU_ASSERT_EQUAL(f.vcpu->gpr[HV_GPR_RDX], 44);
    xf_teardown(&f);

    /* i386 element: 24 bytes, 4-byte frame numbers. */
    xf_setup(&f, &(struct xf_opts){.compat = true});
    uint8_t op[24];
    memset(op, 0, 24);
    uint32_t su = 0x72, du = 0x73;
    uint16_t self = SELF, doff = 2, len = 3;
    memcpy(op, &su, 4);
    memcpy(op + 4, &self, 2);
    memcpy(op + 8, &du, 4);
    memcpy(op + 12, &self, 2);
    memcpy(op + 14, &doff, 2);
    memcpy(op + 16, &len, 2);
    memcpy(xf_gpa(&f, 0x72000), "abc", 3);
    memcpy(xf_gpa(&f, XF_BUF), op, 24);
    ((uint8_t *)xf_gpa(&f, XF_BUF))[20] = 0x55;
    CU_ASSERT_EQUAL(xf_call(&f, HC_GNTTAB, 5, XF_BUF, 1, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(((uint8_t *)xf_gpa(&f, XF_BUF))[20], 0);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, 0x73002), "abc", 3), 0);
    xf_teardown(&f);
}

static void test_host_grant_map(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_grant_mapping m, m2;
    memcpy(xf_gpa(&f, 0x66000), "shared", 6);
    grant(&f, 1, GTF_permit_access, 0, 0x66);
    grant(&f, 2, GTF_permit_access | GTF_readonly, 0, 0x67);
    grant(&f, 3, GTF_permit_access, 4, 0x68);
    grant(&f, 4, GTF_permit_access, 0, XF_RO_PAGE / 4096);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, 0, &m), HV_OK);
    CU_ASSERT_EQUAL(memcmp(m.hva, "shared", 6), 0);
    CU_ASSERT_EQUAL(m.gpa, 0x66000);
    CU_ASSERT_EQUAL(m.ref, 1);
    CU_ASSERT_EQUAL(gflags(&f, 1), GTF_permit_access | GTF_reading | GTF_writing);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, HV_XEN_GRANT_READONLY, &m2), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, m.handle), HV_OK);
    CU_ASSERT_EQUAL(gflags(&f, 1), GTF_permit_access | GTF_reading); /* still read-mapped */
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, m2.handle), HV_OK);
    CU_ASSERT_EQUAL(gflags(&f, 1), GTF_permit_access);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, m2.handle), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, 0), HV_ERR_NOT_FOUND);
    /* Read-only grant: read mapping only. */
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 2, 0, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(gflags(&f, 2), GTF_permit_access | GTF_readonly);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 2, HV_XEN_GRANT_READONLY, &m), HV_OK);
    CU_ASSERT_EQUAL(gflags(&f, 2), GTF_permit_access | GTF_readonly | GTF_reading);
    CU_ASSERT_EQUAL(hv_xen_grant_unmap(f.vm, m.handle), HV_OK);
    /* Granted to another domain; not RAM the guest may write; no such ref. */
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 3, 0, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 4, 0, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(gflags(&f, 4), GTF_permit_access); /* rolled back */
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 4, HV_XEN_GRANT_READONLY, &m), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 512, 0, &m2), HV_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 1, 2, &m2), HV_ERR_INVALID_ARG);
    /* The limit of host mappings. */
    unsigned n = 1;
    while (hv_xen_grant_map(f.vm, 1, HV_XEN_GRANT_READONLY, &m2) == HV_OK)
        n++;
    CU_ASSERT_EQUAL(n, HV_XEN_GRANT_MAPS_MAX);
    xf_teardown(&f); /* disable drops them */
}

/* Pages libhv owns and frees on disable cannot be host-mapped through a
   grant; a granted RAM frame the guest later covers with shared_info
   stays the guest's page for the host, also after disable. */
static void test_host_map_library_pages(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    struct hv_xen_grant_mapping m;
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, SHINFO_GFN), 0);
    CU_ASSERT_EQUAL(map_grant_frame(&f, 0, 0x310), 0);
    grant(&f, 5, GTF_permit_access, 0, SHINFO_GFN);
    grant(&f, 6, GTF_permit_access, 0, 0x310);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 5, 0, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 5, HV_XEN_GRANT_READONLY, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(gflags(&f, 5), GTF_permit_access); /* rolled back */
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 6, HV_XEN_GRANT_READONLY, &m), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(gflags(&f, 6), GTF_permit_access);

    /* Map first, then the guest puts shared_info over the granted frame,
       then disable: the host's page is still the guest RAM page. */
    grant(&f, 7, GTF_permit_access, 0, 0x70);
    memcpy(xf_gpa(&f, 0x70000), "ramdata", 7);
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 7, 0, &m), HV_OK);
    CU_ASSERT_PTR_EQUAL(m.hva, xf_gpa(&f, 0x70000));
    CU_ASSERT_EQUAL(xf_map_shinfo(&f, 0x70), 0);
    struct hv_mapping q;
    CU_ASSERT_EQUAL(hv_vm_query(f.vm, 0x70000, &q), HV_OK);
    CU_ASSERT_EQUAL(q.hpa, f.vm->xen->shinfo_hpa); /* the guest sees shared_info there */
    CU_ASSERT_EQUAL(m.hpa, f.ram_hpa + 0x70000);   /* the host keeps the RAM page */
    CU_ASSERT_EQUAL(memcmp(m.hva, "ramdata", 7), 0);
    /* Re-mapping through the grant now refers to shared_info: refused. */
    struct hv_xen_grant_mapping m2;
    CU_ASSERT_EQUAL(hv_xen_grant_map(f.vm, 7, HV_XEN_GRANT_READONLY, &m2), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_xen_disable(f.vm), HV_OK);
    /* The mapping is dropped with the domain; its page is guest RAM,
       untouched by the teardown (the mock host checks every library page
       was freed exactly once). */
    memcpy(m.hva, "written", 7);
    CU_ASSERT_EQUAL(memcmp(xf_gpa(&f, 0x70000), "written", 7), 0);
    xf_teardown(&f);
}

static void test_pv_console(void)
{
    struct xf f;
    xf_setup(&f, NULL);
    uint32_t port;
    char buf[64];
    size_t n;
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, sizeof(buf), &n), HV_ERR_STATE);
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(f.vm, 0x90001, &port), HV_ERR_ALIGNMENT);
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(f.vm, XF_RO_PAGE, &port), HV_ERR_GUEST_FAULT);
    memset(xf_gpa(&f, 0x90000), 0xff, 4096);
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(f.vm, 0x90000, &port), HV_OK);
    CU_ASSERT_EQUAL(*(uint8_t *)xf_gpa(&f, 0x90000), 0); /* zeroed */
    CU_ASSERT_EQUAL(hv_xen_pvcons_attach(f.vm, 0x91000, &port), HV_ERR_EXISTS);
    uint64_t v;
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 17, &v), HV_OK);
    CU_ASSERT_EQUAL(v, 0x90);
    CU_ASSERT_EQUAL(hv_xen_get_param(f.vm, 18, &v), HV_OK);
    CU_ASSERT_EQUAL(v, port);
    /* The guest writes "hello" into out[] (indices free-running). */
    uint8_t *r = xf_gpa(&f, 0x90000);
    uint32_t cons = 2046, prod = 2046 + 5;
    memcpy(r + 3080, &cons, 4);
    memcpy(r + 3084, &prod, 4);
    memcpy(r + 1024 + 2046, "he", 2);
    memcpy(r + 1024, "llo", 3);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, 3, &n), HV_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(buf, "hel", 3), 0);
    CU_ASSERT_TRUE(xf_port_pending(&f, port)); /* consumer progress notified */
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, sizeof(buf), &n), HV_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(memcmp(buf, "lo", 2), 0);
    memcpy(&cons, r + 3080, 4);
    CU_ASSERT_EQUAL(cons, prod);
    /* Input. */
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, "ls\n", 3, &n), HV_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(r, "ls\n", 3), 0);
    uint32_t ip;
    memcpy(&ip, r + 3076, 4);
    CU_ASSERT_EQUAL(ip, 3);
    /* A full input ring takes what fits. */
    static char big[2000];
    memset(big, 'x', sizeof(big));
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, big, sizeof(big), &n), HV_OK);
    CU_ASSERT_EQUAL(n, 1024 - 3);
    /* A corrupt ring (producer far ahead): refused, nothing consumed. */
    prod = cons + 5000;
    memcpy(r + 3084, &prod, 4);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, sizeof(buf), &n), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(n, 0);
    /* The guest sends on its console port: the host side sees it. */
    memcpy(xf_gpa(&f, XF_BUF), &port, 4);
    CU_ASSERT_EQUAL(xf_call(&f, HC_EVTCHN, 4, XF_BUF, 0, 0, 0, 0), 0);
    CU_ASSERT_EQUAL(f.notifies, 1);
    /* The ring page leaves guest RAM: reads fail cleanly. */
    CU_ASSERT_EQUAL(hv_vm_unmap(f.vm, 0x90000, 4096), HV_OK);
    CU_ASSERT_EQUAL(hv_xen_pvcons_read(f.vm, buf, sizeof(buf), &n), HV_ERR_GUEST_FAULT);
    CU_ASSERT_EQUAL(hv_xen_pvcons_write(f.vm, "a", 1, &n), HV_ERR_GUEST_FAULT);
    xf_teardown(&f);
}

void xen_suite_grant(void)
{
    CU_pSuite s = CU_add_suite("xen_grant", NULL, NULL);
    CU_add_test(s, "setup_and_query", test_setup_and_query);
    CU_add_test(s, "copy", test_copy);
    CU_add_test(s, "copy_continuation_and_i386", test_copy_continuation_and_i386);
    CU_add_test(s, "host_grant_map", test_host_grant_map);
    CU_add_test(s, "host_map_library_pages", test_host_map_library_pages);
    CU_add_test(s, "pv_console", test_pv_console);
}
