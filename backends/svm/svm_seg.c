/*
 * VMCB segment registers <-> struct hv_segment. The VMCB attribute format
 * (APM Vol. 2 15.5.1, "Segment state in the VMCB") is the layout of
 * hv_segment::attr, so only the unusable flag needs translating: SVM has no
 * such flag and treats a segment with P=0 as not present.
 */
#include "svm/svm.h"

#define SVM_SEG_ATTR_MASK 0x0fffu

void svm_seg_to_hv(const struct vmcb_seg *in, struct hv_segment *out)
{
    out->selector = in->selector;
    out->base = in->base;
    out->limit = in->limit;
    out->attr = in->attrib & SVM_SEG_ATTR_MASK;
    if (!(out->attr & HV_SEG_P))
        out->attr |= HV_SEG_UNUSABLE;
}

void svm_seg_from_hv(const struct hv_segment *in, struct vmcb_seg *out)
{
    uint16_t attr = in->attr & SVM_SEG_ATTR_MASK;
    if (in->attr & HV_SEG_UNUSABLE)
        attr &= (uint16_t)~HV_SEG_P;
    out->selector = in->selector;
    out->attrib = attr;
    out->limit = in->limit;
    out->base = in->base;
}
