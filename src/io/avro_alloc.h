/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal: the counting, capped allocator that Avro C allocates through
 * (src/io only; the public face is lvc_codec_set_memory_cap() and
 * lvc_codec_memory_in_use() in codec.h).
 */
#ifndef LVC_IO_AVRO_ALLOC_H
#define LVC_IO_AVRO_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* The cap lvc_codec_new() installs when nobody set one before. */
#define LVC__AVRO_DEFAULT_CAP ((size_t)64 * 1024 * 1024)

/* Installs the allocator into Avro C (once per process; later calls do
 * nothing) and, if no cap was ever set, sets LVC__AVRO_DEFAULT_CAP.
 * Thread-safe. */
void lvc__avro_alloc_install(void);

/* Allocations Avro C made through the allocator since it was installed,
 * refused ones not counted (a figure for benchmarks and tests). */
uint64_t lvc__avro_alloc_count(void);

/* Allocations refused because of the cap since installation. */
uint64_t lvc__avro_alloc_refused(void);

#endif
