/*
 * Freestanding gzip decompressor: the gzip member format of RFC 1952 around
 * the deflate format of RFC 1951, for kernels that have no zlib. Written for
 * hostile input: every input byte is read through a bounds-checked bit
 * reader, every output byte through a capacity check, and every Huffman
 * code is validated before use. Validity rules follow what zlib enforces so
 * that both accept and refuse the same streams (the unit tests compare them).
 */
#include "loader/loader.h"

#define MAX_BITS   15u  /* longest Huffman code (RFC 1951 3.2.2) */
#define NUM_LITLEN 288u /* literal/length alphabet incl. the 2 unused codes */
#define NUM_DIST   32u  /* distance alphabet incl. the 2 unused codes */
#define NUM_CLEN   19u  /* code length alphabet */
#define MAX_HLIT   286u
#define MAX_HDIST  30u

/* gzip header flag bits (RFC 1952 2.3.1). */
#define GZ_FHCRC     0x02u
#define GZ_FEXTRA    0x04u
#define GZ_FNAME     0x08u
#define GZ_FCOMMENT  0x10u
#define GZ_FRESERVED 0xe0u

struct bits {
    const uint8_t *src;
    size_t len, pos; /* next byte to load */
    uint64_t buf;    /* pending bits, LSB first (RFC 1951 3.1.1) */
    uint32_t cnt;    /* number of pending bits */
    bool overrun;    /* a read went past the end of the input */
};

struct out {
    uint8_t *dst;
    size_t cap, len;
    bool full; /* a write went past the capacity */
};

/* Codes up to FAST_BITS long are decoded by one table lookup. */
#define FAST_BITS 9u
#define FAST_SIZE (1u << FAST_BITS)

/*
 * A canonical Huffman code (RFC 1951 3.2.2): codes per length, symbols in
 * code order, and a lookup table indexed by the next FAST_BITS input bits
 * (entry = length << 12 | symbol, 0 for codes longer than FAST_BITS).
 */
struct huff {
    uint16_t count[MAX_BITS + 1];
    uint16_t symbol[NUM_LITLEN];
    uint16_t fast[FAST_SIZE];
};

static uint32_t getbits(struct bits *b, uint32_t n)
{
    uint32_t v;

    while (b->cnt < n) {
        if (b->pos >= b->len) {
            b->overrun = true;
            return 0;
        }
        b->buf |= (uint64_t)b->src[b->pos++] << b->cnt;
        b->cnt += 8;
    }
    v = (uint32_t)(b->buf & ((1ull << n) - 1));
    b->buf >>= n;
    b->cnt -= n;
    return v;
}

/*
 * Fills the lookup table: codes are assigned in canonical order (by length,
 * then symbol), and since deflate sends a code's bits most significant
 * first into an LSB-first stream, the table index is the code bit-reversed,
 * repeated for every value of the bits that follow it.
 */
static void huff_fill_fast(struct huff *h)
{
    uint32_t code = 0, index = 0;

    hv_memset(h->fast, 0, sizeof(h->fast));
    for (uint32_t len = 1; len <= FAST_BITS; len++) {
        for (uint32_t k = 0; k < h->count[len]; k++, code++) {
            uint32_t rev = 0;
            for (uint32_t b = 0; b < len; b++)
                rev |= ((code >> b) & 1u) << (len - 1 - b);
            for (uint32_t i = rev; i < FAST_SIZE; i += 1u << len)
                h->fast[i] = (uint16_t)(len << 12 | h->symbol[index + k]);
        }
        index += h->count[len];
        code <<= 1;
    }
}

/*
 * Builds @p h from code lengths. Returns 0 for a complete code, 1 for an
 * incomplete one (the caller decides whether that is allowed), -1 for an
 * over-subscribed one.
 */
static int huff_build(struct huff *h, const uint8_t *lengths, uint32_t n)
{
    uint16_t next[MAX_BITS + 1];
    int32_t left = 1;

    hv_memset(h->count, 0, sizeof(h->count));
    for (uint32_t i = 0; i < n; i++)
        h->count[lengths[i]]++;
    h->count[0] = 0;
    for (uint32_t len = 1; len <= MAX_BITS; len++) {
        left = 2 * left - h->count[len];
        if (left < 0)
            return -1;
    }
    next[1] = 0;
    for (uint32_t len = 1; len < MAX_BITS; len++)
        next[len + 1] = (uint16_t)(next[len] + h->count[len]);
    for (uint32_t i = 0; i < n; i++) {
        if (lengths[i])
            h->symbol[next[lengths[i]]++] = (uint16_t)i;
    }
    huff_fill_fast(h);
    return left > 0;
}

/* Longest code length present in @p h (0 when the code is empty). */
static uint32_t huff_max(const struct huff *h)
{
    for (uint32_t len = MAX_BITS; len > 0; len--) {
        if (h->count[len])
            return len;
    }
    return 0;
}

/*
 * Decodes one symbol: walks the code one bit at a time; at each length the
 * codes of that length are consecutive, starting at @c first. Returns -1 for
 * a bit pattern that is no code (only possible in an incomplete code) or on
 * input overrun.
 */
static int huff_decode(struct bits *b, const struct huff *h)
{
    uint32_t code = 0, first = 0, index = 0;

    /* Fast path: enough bits buffered and a short code. */
    while (b->cnt < FAST_BITS && b->pos < b->len) {
        b->buf |= (uint64_t)b->src[b->pos++] << b->cnt;
        b->cnt += 8;
    }
    if (b->cnt >= FAST_BITS) {
        uint16_t e = h->fast[b->buf & (FAST_SIZE - 1)];
        if (e) {
            b->buf >>= e >> 12;
            b->cnt -= e >> 12;
            return e & 0xfff;
        }
    }

    for (uint32_t len = 1; len <= MAX_BITS; len++) {
        code |= getbits(b, 1);
        if (b->overrun)
            return -1;
        if (code - first < h->count[len])
            return h->symbol[index + (code - first)];
        index += h->count[len];
        first = (first + h->count[len]) << 1;
        code <<= 1;
    }
    return -1;
}

static void put_byte(struct out *o, uint8_t c)
{
    if (o->len >= o->cap) {
        o->full = true;
        return;
    }
    o->dst[o->len++] = c;
}

/* RFC 1951 3.2.5: base lengths and extra bits of length codes 257..285. */
static const uint16_t len_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                      15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
/* Base distances and extra bits of distance codes 0..29. */
static const uint16_t dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* Inflates one Huffman-coded block's data up to its end-of-block code. */
static hv_status_t codes(struct bits *b, struct out *o, const struct huff *lit,
                         const struct huff *dist)
{
    for (;;) {
        int sym = huff_decode(b, lit);
        if (sym < 0)
            return HV_ERR_BAD_IMAGE;
        if (sym < 256) {
            put_byte(o, (uint8_t)sym);
            if (o->full)
                return HV_ERR_LIMIT;
            continue;
        }
        if (sym == 256)
            return HV_OK;
        sym -= 257;
        if (sym >= 29) /* codes 286, 287 never occur in valid data */
            return HV_ERR_BAD_IMAGE;
        uint32_t len = len_base[sym] + getbits(b, len_extra[sym]);
        int d = huff_decode(b, dist);
        if (d < 0 || d >= 30)
            return HV_ERR_BAD_IMAGE;
        uint32_t distance = dist_base[d] + getbits(b, dist_extra[d]);
        if (b->overrun || distance > o->len)
            return HV_ERR_BAD_IMAGE;
        if (o->cap - o->len < len)
            return HV_ERR_LIMIT;
        /* Byte by byte: the source may overlap what is being written. */
        for (uint32_t i = 0; i < len; i++, o->len++)
            o->dst[o->len] = o->dst[o->len - distance];
    }
}

/*
 * Byte alignment: drop the bits left of a partly used byte and hand whole
 * bytes that were buffered ahead back to the input.
 */
static void bits_unread_bytes(struct bits *b)
{
    b->pos -= b->cnt / 8;
    b->cnt = 0;
    b->buf = 0;
}

static hv_status_t block_stored(struct bits *b, struct out *o)
{
    uint32_t len, nlen;

    /* RFC 1951 3.2.4: skip to a byte boundary, then LEN and its complement. */
    bits_unread_bytes(b);
    if (b->len - b->pos < 4)
        return HV_ERR_BAD_IMAGE;
    len = b->src[b->pos] | (uint32_t)b->src[b->pos + 1] << 8;
    nlen = b->src[b->pos + 2] | (uint32_t)b->src[b->pos + 3] << 8;
    b->pos += 4;
    if (len != (~nlen & 0xffffu))
        return HV_ERR_BAD_IMAGE;
    if (b->len - b->pos < len)
        return HV_ERR_BAD_IMAGE;
    if (o->cap - o->len < len)
        return HV_ERR_LIMIT;
    hv_memcpy(o->dst + o->len, b->src + b->pos, len);
    o->len += len;
    b->pos += len;
    return HV_OK;
}

static hv_status_t block_fixed(struct bits *b, struct out *o, struct huff *lit, struct huff *dist,
                               uint8_t *lengths)
{
    /* RFC 1951 3.2.6. */
    for (uint32_t i = 0; i < NUM_LITLEN; i++)
        lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    huff_build(lit, lengths, NUM_LITLEN);
    for (uint32_t i = 0; i < NUM_DIST; i++)
        lengths[i] = 5;
    huff_build(dist, lengths, NUM_DIST);
    return codes(b, o, lit, dist);
}

static hv_status_t block_dynamic(struct bits *b, struct out *o, struct huff *lit, struct huff *dist,
                                 uint8_t *lengths)
{
    /* RFC 1951 3.2.7: order in which code length code lengths are sent. */
    static const uint8_t order[NUM_CLEN] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                            11, 4,  12, 3, 13, 2, 14, 1, 15};
    uint32_t nlen = getbits(b, 5) + 257, ndist = getbits(b, 5) + 1, ncode = getbits(b, 4) + 4;
    uint32_t i;
    int r;

    if (b->overrun || nlen > MAX_HLIT || ndist > MAX_HDIST)
        return HV_ERR_BAD_IMAGE;
    hv_memset(lengths, 0, NUM_LITLEN + NUM_DIST);
    for (i = 0; i < ncode; i++)
        lengths[order[i]] = (uint8_t)getbits(b, 3);
    /* The code length code must be complete. */
    if (b->overrun || huff_build(lit, lengths, NUM_CLEN) != 0)
        return HV_ERR_BAD_IMAGE;

    hv_memset(lengths, 0, NUM_LITLEN + NUM_DIST);
    for (i = 0; i < nlen + ndist;) {
        int sym = huff_decode(b, lit);
        uint32_t rep, val = 0;
        if (sym < 0)
            return HV_ERR_BAD_IMAGE;
        if (sym < 16) {
            lengths[i++] = (uint8_t)sym;
            continue;
        }
        if (sym == 16) {
            if (i == 0)
                return HV_ERR_BAD_IMAGE; /* nothing to repeat */
            val = lengths[i - 1];
            rep = 3 + getbits(b, 2);
        } else if (sym == 17) {
            rep = 3 + getbits(b, 3);
        } else {
            rep = 11 + getbits(b, 7);
        }
        if (b->overrun || rep > nlen + ndist - i)
            return HV_ERR_BAD_IMAGE;
        while (rep--)
            lengths[i++] = (uint8_t)val;
    }
    /* A block without an end-of-block code could never end. */
    if (lengths[256] == 0)
        return HV_ERR_BAD_IMAGE;
    /* Incomplete codes are allowed only as a single one-bit code (RFC 1951 3.2.7). */
    r = huff_build(lit, lengths, nlen);
    if (r < 0 || (r > 0 && huff_max(lit) != 1))
        return HV_ERR_BAD_IMAGE;
    r = huff_build(dist, lengths + nlen, ndist);
    if (r < 0 || (r > 0 && huff_max(dist) > 1))
        return HV_ERR_BAD_IMAGE;
    return codes(b, o, lit, dist);
}

/* Inflates a raw deflate stream starting at *pos; advances *pos past its last byte. */
static hv_status_t inflate_raw(const uint8_t *src, size_t len, size_t *pos, struct out *o)
{
    struct bits b = {.src = src, .len = len, .pos = *pos};
    uint8_t lengths[NUM_LITLEN + NUM_DIST];
    struct huff lit, dist;
    uint32_t last, type;
    hv_status_t st;

    do {
        last = getbits(&b, 1);
        type = getbits(&b, 2);
        if (b.overrun)
            return HV_ERR_BAD_IMAGE;
        if (type == 0)
            st = block_stored(&b, o);
        else if (type == 1)
            st = block_fixed(&b, o, &lit, &dist, lengths);
        else if (type == 2)
            st = block_dynamic(&b, o, &lit, &dist, lengths);
        else
            st = HV_ERR_BAD_IMAGE;
        if (st == HV_OK && b.overrun)
            st = HV_ERR_BAD_IMAGE;
        if (st != HV_OK)
            return st;
    } while (!last);
    bits_unread_bytes(&b);
    *pos = b.pos;
    return HV_OK;
}

uint32_t hv_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* Reflected polynomial 0xEDB88320, four bits at a time from a 16-entry table. */
    uint32_t table[16];
    const uint8_t *p = buf;

    for (uint32_t i = 0; i < 16; i++) {
        uint32_t c = i;
        for (int k = 0; k < 4; k++)
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
        table[i] = c;
    }
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ table[crc & 15];
        crc = (crc >> 4) ^ table[crc & 15];
    }
    return ~crc;
}

/* Skips a NUL-terminated header field; false if it runs off the input. */
static bool skip_string(const uint8_t *s, size_t len, size_t *pos)
{
    while (*pos < len) {
        if (s[(*pos)++] == 0)
            return true;
    }
    return false;
}

/* RFC 1952 2.3: the member header; *pos ends at the first deflate byte. */
static hv_status_t gzip_header(const uint8_t *s, size_t len, size_t *pos)
{
    uint8_t flg;
    size_t p = 10;

    if (len < 10 || s[0] != 0x1f || s[1] != 0x8b || s[2] != 8)
        return HV_ERR_BAD_IMAGE;
    flg = s[3];
    if (flg & GZ_FRESERVED)
        return HV_ERR_BAD_IMAGE;
    if (flg & GZ_FEXTRA) {
        if (len - p < 2)
            return HV_ERR_BAD_IMAGE;
        size_t xlen = s[p] | (size_t)s[p + 1] << 8;
        p += 2;
        if (len - p < xlen)
            return HV_ERR_BAD_IMAGE;
        p += xlen;
    }
    if ((flg & GZ_FNAME) && !skip_string(s, len, &p))
        return HV_ERR_BAD_IMAGE;
    if ((flg & GZ_FCOMMENT) && !skip_string(s, len, &p))
        return HV_ERR_BAD_IMAGE;
    if (flg & GZ_FHCRC) {
        if (len - p < 2)
            return HV_ERR_BAD_IMAGE;
        uint32_t want = s[p] | (uint32_t)s[p + 1] << 8;
        if ((hv_crc32(0, s, p) & 0xffffu) != want)
            return HV_ERR_BAD_IMAGE;
        p += 2;
    }
    *pos = p;
    return HV_OK;
}

hv_status_t hv_gunzip(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *out_len)
{
    const uint8_t *s = src;
    struct out o = {.dst = dst, .cap = dst ? dst_cap : 0};
    size_t pos;
    hv_status_t st;

    if (out_len)
        *out_len = 0;
    if (!src || !out_len)
        return HV_ERR_INVALID_ARG;
    st = gzip_header(s, src_len, &pos);
    if (st == HV_OK)
        st = inflate_raw(s, src_len, &pos, &o);
    if (st != HV_OK)
        return st;
    /* Trailer: CRC32 and ISIZE (length mod 2^32), then nothing. */
    if (src_len - pos != 8)
        return HV_ERR_BAD_IMAGE;
    if (ldr_le(s + pos, 4) != hv_crc32(0, o.dst, o.len) ||
        ldr_le(s + pos + 4, 4) != (o.len & 0xffffffffu))
        return HV_ERR_BAD_IMAGE;
    *out_len = o.len;
    return HV_OK;
}

static hv_status_t builtin_inflate(void *opaque, const void *src, size_t src_len, size_t max_out,
                                   void **out, size_t *out_len)
{
    const struct hv_inflate_alloc *a = opaque;
    const uint8_t *s = src;
    size_t isize, alloc_size, got;
    uint8_t *buf;
    hv_status_t st;

    *out = NULL;
    *out_len = 0;
    if (src_len < 18) /* 10-byte header, empty deflate block, 8-byte trailer */
        return HV_ERR_BAD_IMAGE;
    /* ISIZE sizes the buffer; an image past 4 GiB is out of scope for a guest kernel. */
    isize = (size_t)ldr_le(s + src_len - 4, 4);
    if (isize > max_out)
        return HV_ERR_LIMIT;
    alloc_size = isize ? isize : 1;
    buf = a->alloc(a->opaque, alloc_size);
    if (!buf)
        return HV_ERR_NO_MEMORY;
    st = hv_gunzip(src, src_len, buf, isize, &got);
    if (st == HV_ERR_LIMIT && isize < max_out)
        st = HV_ERR_BAD_IMAGE; /* more data than ISIZE claims: corrupt, not a bomb */
    if (st != HV_OK) {
        a->free(a->opaque, buf, alloc_size);
        return st;
    }
    *out = buf;
    *out_len = got;
    return HV_OK;
}

static void builtin_release(void *opaque, void *buf, size_t len)
{
    const struct hv_inflate_alloc *a = opaque;
    a->free(a->opaque, buf, len ? len : 1);
}

void hv_inflate_builtin_ops(struct hv_inflate_ops *ops, const struct hv_inflate_alloc *alloc)
{
    ops->opaque = (void *)alloc;
    ops->inflate = builtin_inflate;
    ops->release = builtin_release;
}
