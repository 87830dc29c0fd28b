/*
 * crc32c.c - CRC-32C, dispatched once between SSE4.2 and slicing-by-8.
 *
 * Conventions: the reflected polynomial 0x82F63B78, initial value and final
 * xor 0xFFFFFFFF.  The public functions take and return the finished
 * (xored) value, so that a caller chains pieces simply by passing the last
 * result back in; internally the running state is the unxored register.
 *
 * Portable version: "slicing-by-8" (Intel, 2006).  Table t[0] is the usual
 * byte-at-a-time table; t[k][b] is the CRC of byte b followed by k zero
 * bytes, so eight input bytes can be folded into the register with eight
 * independent lookups per 8-byte word instead of eight dependent ones.  The
 * tables (8 KiB) are computed on first use rather than written out here:
 * generating them is a dozen lines that obviously match the polynomial,
 * while a literal table is 2,048 numbers nobody can review.
 *
 * Hardware version: SSE4.2's crc32 instruction computes exactly this CRC, 8
 * bytes per instruction.  It is compiled with a function-level target
 * attribute so the whole tree keeps one set of compiler flags, and only
 * called after __builtin_cpu_supports("sse4.2") said yes.
 *
 * Dispatch happens once under pthread_once, which also makes the table
 * initialisation thread-safe.
 */
#include "core/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define QV_CRC32C_HAVE_SSE42 1
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static uint32_t (*crc_impl)(uint32_t, const uint8_t *, size_t);
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* ---- portable slicing-by-8 ---- */

static void crc_tables_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        crc_table[0][b] = c;
    }
    /* t[k][b]: feed one more zero byte through the register. */
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t c = crc_table[k - 1][b];
            crc_table[k][b] = (c >> 8) ^ crc_table[0][c & 0xFF];
        }
}

/* Little-endian load independent of host order and alignment. */
static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint64_t w = load_le64(p) ^ c;
        c = crc_table[7][w & 0xFF] ^ crc_table[6][(w >> 8) & 0xFF] ^
            crc_table[5][(w >> 16) & 0xFF] ^ crc_table[4][(w >> 24) & 0xFF] ^
            crc_table[3][(w >> 32) & 0xFF] ^ crc_table[2][(w >> 40) & 0xFF] ^
            crc_table[1][(w >> 48) & 0xFF] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    return c;
}

/* ---- SSE4.2 ---- */

#ifdef QV_CRC32C_HAVE_SSE42
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n) {
    /* Bytes up to an 8-byte boundary first, so the main loop's loads are
     * aligned (the instruction does not need it, but loads are cheaper). */
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
#if defined(__x86_64__)
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian, as the CRC wants */
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
#endif
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

static void crc_init(void) {
    crc_tables_init();
    crc_impl = crc_sw;
#ifdef QV_CRC32C_HAVE_SSE42
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) crc_impl = crc_hw;
#endif
}

uint32_t qv_crc32c(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&crc_once, crc_init);
    return ~crc_impl(~crc, buf, len);
}

uint32_t qv_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&crc_once, crc_init);
    return ~crc_sw(~crc, buf, len);
}
