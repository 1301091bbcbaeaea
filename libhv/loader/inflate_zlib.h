/*
 * Hosted-only decompression hook backed by zlib, for the unit tests and the
 * host-side tools (they compile inflate_zlib.c and link -lz; it is not part
 * of the freestanding library, see sources.txt).
 */
#ifndef HV_LOADER_INFLATE_ZLIB_H
#define HV_LOADER_INFLATE_ZLIB_H

#include <hv/image.h>

/* The ops table: one gzip member, CRC and ISIZE checked by zlib, output capped at max_out. */
extern const struct hv_inflate_ops hv_inflate_zlib_ops;

#endif /* HV_LOADER_INFLATE_ZLIB_H */
