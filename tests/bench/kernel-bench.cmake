# Exit-cost benchmarks of the example kernel (docs/performance.md).
# Included from tests/bench/CMakeLists.txt, before examples/ defines the
# kernel:
#   - builds the benchmark guests (tests/system/guests/bench) and hands
#     them to the kernel (examples/kernel/cases/bench_*.c);
#   - registers system.qemu.svm.qemu64_bench: the benchmarks under QEMU
#     -icount on qemu64,+svm,+npt, with the budgets of budgets.txt enforced;
#     the figures and verdicts are kept in <build>/bench-results.txt.
if(NOT HV_BUILD_EXAMPLES)
    return()
endif()
get_filename_component(HV_BENCH_TOP "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
add_subdirectory(${HV_BENCH_TOP}/tests/system/guests/bench
                 ${CMAKE_BINARY_DIR}/tests/system/guests/bench)

if(HV_QEMU)
    add_test(NAME system.qemu.svm.qemu64_bench
             COMMAND ${HV_BENCH_TOP}/tests/bench/run-bench.sh --kernel $<TARGET_FILE:hv_kernel>
                     --qemu --check --results ${CMAKE_BINARY_DIR}/bench-results.txt)
    set_tests_properties(system.qemu.svm.qemu64_bench PROPERTIES TIMEOUT 150
                         LABELS "system;bench")
endif()
