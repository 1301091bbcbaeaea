/*
 * The exit record of an OUT that a backend's exit fast path filled for the
 * embedder (core/fast.h hv_io_exit), checked field by field: the same
 * expectations for SVM (test_svm.c) and VMX (test_vmx_fast.c).
 */
#ifndef TESTS_UNIT_IO_EXIT_CHECK_H
#define TESTS_UNIT_IO_EXIT_CHECK_H

#include <CUnit/Basic.h>

#include <hv/vcpu.h>
#include "core/objects.h"

/* An OUT of @p size bytes of @p data to @p port at @p rip, raw fields as
   given; its completion (RIP to @p next_rip) left for the next run. */
static inline void check_out_exit(const struct hv_vcpu *vcpu, const struct hv_exit *rec,
                                  uint64_t raw_code, uint64_t raw_info1, uint64_t raw_info2,
                                  uint64_t rip, uint64_t next_rip, uint16_t port, uint8_t size,
                                  uint64_t data)
{
    CU_ASSERT(vcpu->exit_ready);
    CU_ASSERT_EQUAL(rec->reason, HV_EXIT_IO);
    CU_ASSERT_EQUAL(rec->reserved, 0);
    CU_ASSERT_EQUAL(rec->raw_code, raw_code);
    CU_ASSERT_EQUAL(rec->raw_info1, raw_info1);
    CU_ASSERT_EQUAL(rec->raw_info2, raw_info2);
    CU_ASSERT_EQUAL(rec->rip, rip);
    CU_ASSERT_EQUAL(rec->io.port, port);
    CU_ASSERT_EQUAL(rec->io.size, size);
    CU_ASSERT_EQUAL(rec->io.write, 1);
    CU_ASSERT_EQUAL(rec->io.reserved, 0);
    CU_ASSERT_EQUAL(rec->io.data, data);
    CU_ASSERT_EQUAL(vcpu->completion, HV_COMPLETE_ADVANCE);
    CU_ASSERT_EQUAL(vcpu->completion_rip, next_rip);
}

#endif /* TESTS_UNIT_IO_EXIT_CHECK_H */
