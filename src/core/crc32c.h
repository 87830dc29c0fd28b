/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of every on-disk record.
 *
 * CRC-32C rather than zlib's CRC-32 because x86-64 computes it in hardware
 * (SSE4.2 `crc32`), which makes checksumming the WAL and segment files cost
 * well under a byte per cycle.  It detects every burst error of up to 32 bits
 * (so every flipped or torn byte inside a record).
 *
 * The implementation is picked once, on first use: the SSE4.2 instruction
 * when the CPU has it, else a portable table-driven (slicing-by-8) version.
 * Both give identical results; tests compare them.
 */
#ifndef QV_CORE_CRC32C_H
#define QV_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Returns the CRC-32C of buf[0..len) continued from crc: pass 0 to start a
 * new checksum, or a previous result to checksum data given in pieces
 * (qv_crc32c(qv_crc32c(0, a, n), b, m) == the CRC of a followed by b).
 * The standard check value: qv_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t qv_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable implementation, whatever the CPU (exported for tests and
 * for benchmarking against the dispatched one). */
uint32_t qv_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
