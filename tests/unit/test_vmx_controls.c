/*
 * VMX control negotiation against recorded capability MSRs: four Bochs CPU
 * models (dumped by booting a kernel that prints them) and two real Intel
 * CPUs (from public VirtualBox logs), plus mutations of them that take one
 * capability away at a time.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/vmx_arch.h"
#include "vmx/vmx_controls.h"
#include <hv/vm.h>

#ifndef VMX_DATA_DIR
#error "VMX_DATA_DIR must name tests/unit/data"
#endif

/* Reads one recorded dump (format: see the data files' headers). */
static int load(const char *model, struct vmx_msrs *m)
{
    char path[512], line[256], name[64];
    unsigned long long idx, val;
    FILE *f;

    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/vmx_%s.txt", VMX_DATA_DIR, model);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *p;
        if (line[0] == '#')
            continue;
        if (strncmp(line, "cpuid1 ", 7) == 0 && (p = strstr(line, "ecx=")) != NULL) {
            m->cpuid1_ecx = (uint32_t)strtoull(p + 4, NULL, 16);
            continue;
        }
        if (strncmp(line, "cpuid80000008 ", 14) == 0 && (p = strstr(line, "eax=")) != NULL) {
            m->maxphyaddr = (uint32_t)strtoull(p + 4, NULL, 16) & 0xff;
            continue;
        }
        if (sscanf(line, "%63s %llx = %llx", name, &idx, &val) != 3)
            continue;
        switch (idx) {
        case 0x3a:
            m->feature_control = val;
            break;
        case 0x480:
            m->basic = val;
            break;
        case 0x481:
            m->pinbased = val;
            break;
        case 0x482:
            m->procbased = val;
            break;
        case 0x483:
            m->exit = val;
            break;
        case 0x484:
            m->entry = val;
            break;
        case 0x485:
            m->misc = val;
            break;
        case 0x486:
            m->cr0_fixed0 = val;
            break;
        case 0x487:
            m->cr0_fixed1 = val;
            break;
        case 0x488:
            m->cr4_fixed0 = val;
            break;
        case 0x489:
            m->cr4_fixed1 = val;
            break;
        case 0x48b:
            m->procbased2 = val;
            break;
        case 0x48c:
            m->ept_vpid_cap = val;
            break;
        case 0x48d:
            m->true_pinbased = val;
            break;
        case 0x48e:
            m->true_procbased = val;
            break;
        case 0x48f:
            m->true_exit = val;
            break;
        case 0x490:
            m->true_entry = val;
            break;
        default:
            break;
        }
    }
    fclose(f);
    return m->basic ? 0 : -1;
}

/* Every chosen word must satisfy the CPU's allowed settings (SDM A.3-A.5). */
static void check_words_allowed(const struct vmx_msrs *m, const struct vmx_config *c)
{
    for (int w = 0; w < VMX_CTL_COUNT; w++) {
        uint32_t must, may;
        vmx_ctl_allowed(m, (enum vmx_ctl_word)w, &must, &may);
        CU_ASSERT_EQUAL(c->ctl[w] & must, must);
        CU_ASSERT_EQUAL(c->ctl[w] & ~may, 0);
    }
}

/* Controls every accepted configuration has. */
static void check_common(const struct vmx_config *c)
{
    CU_ASSERT(c->ctl[VMX_CTL_PIN] & VMX_PIN_EXTINT_EXIT);
    CU_ASSERT(c->ctl[VMX_CTL_PIN] & VMX_PIN_NMI_EXIT);
    CU_ASSERT(c->ctl[VMX_CTL_PIN] & VMX_PIN_VIRT_NMI);
    CU_ASSERT_FALSE(c->ctl[VMX_CTL_PIN] & VMX_PIN_PREEMPT);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_HLT);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_UNCOND_IO);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_MSR_BITMAPS);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_SECONDARY);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_CR8_LOAD);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_CR8_STORE);
    CU_ASSERT(c->ctl[VMX_CTL_PROC] & VMX_PROC_TSC_OFFSET);
    /* Window exits are switched on only while an event waits. */
    CU_ASSERT_FALSE(c->ctl[VMX_CTL_PROC] & (VMX_PROC_INTR_WINDOW | VMX_PROC_NMI_WINDOW));
    CU_ASSERT(c->ctl[VMX_CTL_PROC2] & VMX_PROC2_EPT);
    CU_ASSERT(c->ctl[VMX_CTL_EXIT] & VMX_EXIT_HOST_64);
    CU_ASSERT(c->ctl[VMX_CTL_EXIT] & VMX_EXIT_LOAD_EFER);
    CU_ASSERT(c->ctl[VMX_CTL_EXIT] & VMX_EXIT_SAVE_EFER);
    CU_ASSERT_FALSE(c->ctl[VMX_CTL_EXIT] & VMX_EXIT_ACK_INTR);
    CU_ASSERT(c->ctl[VMX_CTL_ENTRY] & VMX_ENTRY_LOAD_EFER);
    CU_ASSERT(c->ctl[VMX_CTL_ENTRY] & VMX_ENTRY_LOAD_DEBUG);
    CU_ASSERT_FALSE(c->ctl[VMX_CTL_ENTRY] & VMX_ENTRY_IA32E);
    CU_ASSERT_EQUAL(c->invept_type, VMX_INVEPT_SINGLE);
    CU_ASSERT(c->slat_page_sizes & HV_PAGE_4K);
    CU_ASSERT(c->slat_page_sizes & HV_PAGE_2M);
    CU_ASSERT_STRING_EQUAL(c->reason, "");
}

static void test_haswell(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei7_haswell_4770", &m) == 0);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    check_common(&c);
    CU_ASSERT_EQUAL(c.revision, 0x2b);
    CU_ASSERT_EQUAL(c.vmcs_size, 4096);
    /* TRUE controls let the CR3 exits go. */
    CU_ASSERT_FALSE(c.ctl[VMX_CTL_PROC] & (VMX_PROC_CR3_LOAD | VMX_PROC_CR3_STORE));
    CU_ASSERT(c.ug && c.vpid && c.ept_1g && c.ept_ad && c.ept_exec_only && c.preempt_timer);
    CU_ASSERT_EQUAL(c.features, HV_FEAT_UNRESTRICTED_GUEST | HV_FEAT_VPID |
                                    HV_FEAT_PREEMPTION_TIMER | HV_FEAT_SLAT_AD |
                                    HV_FEAT_SLAT_EXEC_ONLY);
    CU_ASSERT_EQUAL(c.slat_page_sizes, HV_PAGE_4K | HV_PAGE_2M | HV_PAGE_1G);
    CU_ASSERT(c.ctl[VMX_CTL_PROC2] & VMX_PROC2_UG);
    CU_ASSERT(c.ctl[VMX_CTL_PROC2] & VMX_PROC2_VPID);
    CU_ASSERT_EQUAL(c.invvpid_type, VMX_INVVPID_SINGLE);
    CU_ASSERT_EQUAL(c.hpa_bits, 40);
    CU_ASSERT_EQUAL(c.gpa_bits, 40);
    CU_ASSERT_EQUAL(c.timer_shift, 0);
    CU_ASSERT_FALSE(c.feature_control_lock); /* Bochs: locked with VMX on */
    CU_ASSERT_EQUAL(c.guest_cr0_fixed0, X86_CR0_NE);
    CU_ASSERT_EQUAL(c.cr4_fixed0, X86_CR4_VMXE);
}

static void test_sandy_bridge(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei7_sandy_bridge_2600k", &m) == 0);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    check_common(&c);
    CU_ASSERT(c.ug && c.vpid);
    CU_ASSERT_FALSE(c.ept_1g);
    CU_ASSERT_FALSE(c.ept_ad);
    CU_ASSERT_EQUAL(c.slat_page_sizes, HV_PAGE_4K | HV_PAGE_2M);
    CU_ASSERT_EQUAL(c.features, HV_FEAT_UNRESTRICTED_GUEST | HV_FEAT_VPID |
                                    HV_FEAT_PREEMPTION_TIMER | HV_FEAT_SLAT_EXEC_ONLY);
}

static void test_lynnfield_no_ug(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei5_lynnfield_750", &m) == 0);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    check_common(&c);
    CU_ASSERT_FALSE(c.ug);
    CU_ASSERT_FALSE(c.ctl[VMX_CTL_PROC2] & VMX_PROC2_UG);
    CU_ASSERT_FALSE(c.features & HV_FEAT_UNRESTRICTED_GUEST);
    CU_ASSERT(c.vpid);
    /* Without UG the guest keeps PE and PG (SDM 26.3.1.1). */
    CU_ASSERT_EQUAL(c.guest_cr0_fixed0, X86_CR0_PE | X86_CR0_NE | X86_CR0_PG);
}

static void test_penryn_no_ept(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("core2_penryn_t9600", &m) == 0);
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, "enable EPT"));
}

static void test_real_coffee_lake(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("real_coffeelake_906ea", &m) == 0);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    check_common(&c);
    CU_ASSERT_EQUAL(c.revision, 4);
    CU_ASSERT_EQUAL(c.vmcs_size, 1024);
    CU_ASSERT(c.ug && c.vpid && c.ept_1g && c.ept_ad && c.zero_len_inject);
    CU_ASSERT_EQUAL(c.timer_shift, 7);
    CU_ASSERT_EQUAL(c.hpa_bits, 39);
    CU_ASSERT_EQUAL(c.gpa_bits, 39);
}

static void test_real_ivy_bridge(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("real_ivybridge_306a9", &m) == 0);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    check_common(&c);
    CU_ASSERT_EQUAL(c.revision, 0x10);
    CU_ASSERT(c.ug && c.vpid);
    CU_ASSERT_FALSE(c.ept_1g || c.ept_ad || c.zero_len_inject);
    CU_ASSERT_EQUAL(c.timer_shift, 5);
    CU_ASSERT_EQUAL(c.slat_page_sizes, HV_PAGE_4K | HV_PAGE_2M);
}

/* Taking away the allowed-1 bit of any required control fails the probe
   with a reason naming exactly that control. */
static void test_each_required_control(void)
{
    struct vmx_msrs base, m;
    struct vmx_config c;
    uint32_t n, tested = 0;
    const struct vmx_ctl_want *w = vmx_ctl_wants(&n);
    CU_ASSERT_FATAL(load("corei7_haswell_4770", &base) == 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t clear = 1ull << (32 + w[i].bit);
        if (!w[i].required || !w[i].want)
            continue;
        m = base;
        switch (w[i].word) {
        case VMX_CTL_PIN:
            m.true_pinbased &= ~clear;
            break;
        case VMX_CTL_PROC:
            m.true_procbased &= ~clear;
            break;
        case VMX_CTL_PROC2:
            m.procbased2 &= ~clear;
            break;
        case VMX_CTL_EXIT:
            m.true_exit &= ~clear;
            break;
        case VMX_CTL_ENTRY:
            m.true_entry &= ~clear;
            break;
        }
        CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
        if (!strstr(c.reason, w[i].name))
            printf("\n  control '%s': reason '%s'\n", w[i].name, c.reason);
        CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, w[i].name));
        tested++;
    }
    CU_ASSERT(tested >= 20);
}

static void test_optional_degrade(void)
{
    struct vmx_msrs base, m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei7_haswell_4770", &base) == 0);

    /* No unrestricted guest: still accepted, UG reported absent. */
    m = base;
    m.procbased2 &= ~((uint64_t)VMX_PROC2_UG << 32);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT_FALSE(c.ug);
    CU_ASSERT_FALSE(c.features & HV_FEAT_UNRESTRICTED_GUEST);

    /* VPID allowed but no INVVPID: VPID switched off. */
    m = base;
    m.ept_vpid_cap &= ~VMX_VPID_INVVPID;
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT_FALSE(c.vpid);
    CU_ASSERT_FALSE(c.ctl[VMX_CTL_PROC2] & VMX_PROC2_VPID);
    CU_ASSERT_FALSE(c.features & HV_FEAT_VPID);

    /* Only all-context INVVPID / INVEPT: used instead of single-context. */
    m = base;
    m.ept_vpid_cap &= ~(VMX_VPID_INVVPID_SINGLE | VMX_EPT_INVEPT_SINGLE);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT(c.vpid);
    CU_ASSERT_EQUAL(c.invvpid_type, VMX_INVVPID_ALL);
    CU_ASSERT_EQUAL(c.invept_type, VMX_INVEPT_ALL);

    /* No MWAIT exiting: degrade silently. */
    m = base;
    m.true_procbased &= ~((uint64_t)VMX_PROC_MWAIT << 32);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT_FALSE(c.ctl[VMX_CTL_PROC] & VMX_PROC_MWAIT);

    /* No 1 GiB pages and no A/D: page sizes and features follow. */
    m = base;
    m.ept_vpid_cap &= ~(VMX_EPT_1G | VMX_EPT_AD | VMX_EPT_EXEC_ONLY);
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT_EQUAL(c.slat_page_sizes, HV_PAGE_4K | HV_PAGE_2M);
    CU_ASSERT_FALSE(c.features & (HV_FEAT_SLAT_AD | HV_FEAT_SLAT_EXEC_ONLY));
}

/* Without TRUE MSRs (BASIC[55] = 0) the default1 controls stay set: the
   CR3 exits are forced on and must be handled, not refused. */
static void test_no_true_msrs(void)
{
    struct vmx_msrs m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei7_sandy_bridge_2600k", &m) == 0);
    m.basic &= ~VMX_BASIC_TRUE_CTLS;
    m.true_pinbased = m.true_procbased = m.true_exit = m.true_entry = 0;
    CU_ASSERT_EQUAL_FATAL(vmx_negotiate(&m, &c), HV_OK);
    check_words_allowed(&m, &c);
    CU_ASSERT_EQUAL(c.ctl[VMX_CTL_PROC] & (VMX_PROC_CR3_LOAD | VMX_PROC_CR3_STORE),
                    VMX_PROC_CR3_LOAD | VMX_PROC_CR3_STORE);
}

static void test_refusals(void)
{
    struct vmx_msrs base, m;
    struct vmx_config c;
    CU_ASSERT_FATAL(load("corei7_haswell_4770", &base) == 0);

    m = base;
    m.cpuid1_ecx &= ~(1u << 5);
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_NO_BACKEND);

    /* Firmware locked VMX off. */
    m = base;
    m.feature_control = VMX_FC_LOCK;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, "firmware"));

    /* Unlocked: accepted, the probe must lock it. */
    m = base;
    m.feature_control = 0;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_OK);
    CU_ASSERT(c.feature_control_lock);

    /* Acknowledge-interrupt-on-exit forced to 1 cannot be accepted. */
    m = base;
    m.true_exit |= VMX_EXIT_ACK_INTR;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, "acknowledge interrupt on exit"));

    /* EPT capabilities libhv cannot live without. */
    m = base;
    m.ept_vpid_cap &= ~VMX_EPT_WB;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, "write-back"));
    m = base;
    m.ept_vpid_cap &= ~VMX_EPT_WALK4;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    m = base;
    m.ept_vpid_cap &= ~(VMX_EPT_INVEPT_SINGLE | VMX_EPT_INVEPT_ALL);
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.reason, "INVEPT"));

    /* VMCS structures the library cannot place. */
    m = base;
    m.basic |= VMX_BASIC_ADDR32;
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    m = base;
    m.basic &= ~(0xfull << 50); /* memory type UC */
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
    m = base;
    m.basic = (m.basic & ~(0x1fffull << 32)) | (8192ull << 32);
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);

    /* No secondary controls at all: EPT is missing. */
    m = base;
    m.procbased &= ~((uint64_t)VMX_PROC_SECONDARY << 32);
    m.true_procbased &= ~((uint64_t)VMX_PROC_SECONDARY << 32);
    CU_ASSERT_EQUAL(vmx_negotiate(&m, &c), HV_ERR_UNSUPPORTED);
}

int main(void)
{
    CU_pSuite s;
    unsigned failed;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("vmx_controls", NULL, NULL);
    CU_add_test(s, "bochs corei7_haswell_4770", test_haswell);
    CU_add_test(s, "bochs corei7_sandy_bridge_2600k", test_sandy_bridge);
    CU_add_test(s, "bochs corei5_lynnfield_750 (no UG)", test_lynnfield_no_ug);
    CU_add_test(s, "bochs core2_penryn_t9600 (no EPT)", test_penryn_no_ept);
    CU_add_test(s, "real Coffee Lake 906ea", test_real_coffee_lake);
    CU_add_test(s, "real Ivy Bridge 306a9", test_real_ivy_bridge);
    CU_add_test(s, "each required control", test_each_required_control);
    CU_add_test(s, "optional controls degrade", test_optional_degrade);
    CU_add_test(s, "no TRUE capability MSRs", test_no_true_msrs);
    CU_add_test(s, "refusals", test_refusals);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
