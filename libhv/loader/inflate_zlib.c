/*
 * zlib behind struct hv_inflate_ops (hosted builds only). The output buffer
 * grows geometrically but never past max_out: a stream that still has data
 * when the cap is reached is reported as a decompression bomb.
 */
#include "loader/inflate_zlib.h"

#include <stdlib.h>
#include <zlib.h>

static hv_status_t zlib_inflate(void *opaque, const void *src, size_t src_len, size_t max_out,
                                void **out, size_t *out_len)
{
    z_stream zs = {0};
    size_t cap = src_len * 4 < 4096 ? 4096 : src_len * 4;
    unsigned char *buf, *nb;
    int rc;

    (void)opaque;
    *out = NULL;
    *out_len = 0;
    if (src_len > UINT32_MAX)
        return HV_ERR_BAD_IMAGE;
    if (cap > max_out)
        cap = max_out ? max_out : 1;
    buf = malloc(cap);
    if (!buf)
        return HV_ERR_NO_MEMORY;
    /* 16 + 15: gzip wrapper only, largest window. */
    if (inflateInit2(&zs, 16 + 15) != Z_OK) {
        free(buf);
        return HV_ERR_NO_MEMORY;
    }
    zs.next_in = (unsigned char *)src;
    zs.avail_in = (uInt)src_len;
    for (;;) {
        size_t room = (max_out < cap ? max_out : cap) - zs.total_out;
        zs.next_out = buf + zs.total_out;
        zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto bad;
        if (zs.avail_out != 0) /* stalled with room left: input ended early */
            goto bad;
        if (zs.total_out >= max_out) {
            inflateEnd(&zs);
            free(buf);
            return HV_ERR_LIMIT;
        }
        if (zs.total_out == cap) {
            size_t ncap = cap * 2 > max_out ? max_out : cap * 2;
            nb = realloc(buf, ncap);
            if (!nb) {
                inflateEnd(&zs);
                free(buf);
                return HV_ERR_NO_MEMORY;
            }
            buf = nb;
            cap = ncap;
        }
    }
    if (zs.avail_in != 0) /* data after the member */
        goto bad;
    *out = buf;
    *out_len = zs.total_out;
    inflateEnd(&zs);
    return HV_OK;
bad:
    inflateEnd(&zs);
    free(buf);
    return HV_ERR_BAD_IMAGE;
}

static void zlib_release(void *opaque, void *buf, size_t len)
{
    (void)opaque;
    (void)len;
    free(buf);
}

const struct hv_inflate_ops hv_inflate_zlib_ops = {
    .opaque = NULL,
    .inflate = zlib_inflate,
    .release = zlib_release,
};
