# The Xen test guest's sources (relative to this directory): one list for
# the xen.* guests (CMakeLists.txt here) and the hostile guests built from
# the same library (../hostile).
set(HV_XG_SOURCES xg_start.S xg_lib.c xg_tests.c xg_split.c xg_smp.c xg_runstate.c xg_time.c)
