/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The allocator Avro C allocates through: it counts the bytes Avro C holds
 * and refuses an allocation that would take the total above a cap, so that
 * a poison record (a string that declares 200 MB) gets an ENOMEM from Avro C
 * instead of memory. Avro C's allocator is process-global
 * (avro_set_allocator), so this state is too: the only globals of the
 * codec, kept in atomics because codecs may live in several threads.
 *
 * Accounting uses the old size that Avro C passes with every realloc and
 * free (avro_allocator_t), not a header in front of each block: a header
 * would crash on the first block that was allocated before installation, or
 * freed by Avro C with plain free(), whereas a wrong old size only makes the
 * figure drift. The tests check that the figure returns to its baseline
 * after every codec operation, which is what shows that the old sizes are
 * right on the paths we use.
 *
 * Load: one relaxed atomic add per Avro C allocation and free (a decoded
 * record costs Avro C two allocations per string field).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <avro.h>

#include "io/avro_alloc.h"
#include "io/codec.h"

/* Bytes held now; signed because a block allocated before installation and
 * freed afterwards is subtracted without having been added. */
static atomic_llong lvc__in_use;
static atomic_size_t lvc__cap;
static atomic_bool lvc__cap_set;
static atomic_ullong lvc__allocs;
static atomic_ullong lvc__refused;
static pthread_once_t lvc__once = PTHREAD_ONCE_INIT;

static void *lvc__avro_alloc(void *user_data, void *ptr, size_t osize, size_t nsize)
{
	(void)user_data;
	if (ptr == NULL) {
		osize = 0;
	}
	if (nsize == 0) {
		free(ptr);
		atomic_fetch_sub_explicit(&lvc__in_use, (long long)osize, memory_order_relaxed);
		return NULL;
	}
	if (nsize > osize) {
		/* Reserve first, then allocate, so that two threads cannot both
		 * pass the check with the last free bytes. */
		long long grow = (long long)(nsize - osize);
		long long now =
		    atomic_fetch_add_explicit(&lvc__in_use, grow, memory_order_relaxed) + grow;
		size_t cap = atomic_load_explicit(&lvc__cap, memory_order_relaxed);
		void *p;

		if (nsize > (size_t)INT64_MAX || (cap != 0 && now > 0 && (size_t)now > cap)) {
			atomic_fetch_sub_explicit(&lvc__in_use, grow, memory_order_relaxed);
			atomic_fetch_add_explicit(&lvc__refused, 1, memory_order_relaxed);
			return NULL;
		}
		p = realloc(ptr, nsize);
		if (p == NULL) {
			atomic_fetch_sub_explicit(&lvc__in_use, grow, memory_order_relaxed);
			return NULL;
		}
		atomic_fetch_add_explicit(&lvc__allocs, 1, memory_order_relaxed);
		return p;
	} else {
		void *p = realloc(ptr, nsize);

		if (p == NULL) {
			/* Shrinking failed: the old block is still there. */
			return NULL;
		}
		atomic_fetch_sub_explicit(&lvc__in_use, (long long)(osize - nsize),
		                          memory_order_relaxed);
		atomic_fetch_add_explicit(&lvc__allocs, 1, memory_order_relaxed);
		return p;
	}
}

static void lvc__avro_alloc_once(void)
{
	avro_set_allocator(lvc__avro_alloc, NULL);
}

void lvc__avro_alloc_install(void)
{
	bool expected = false;

	pthread_once(&lvc__once, lvc__avro_alloc_once);
	if (atomic_compare_exchange_strong(&lvc__cap_set, &expected, true)) {
		atomic_store(&lvc__cap, LVC__AVRO_DEFAULT_CAP);
	}
}

uint64_t lvc__avro_alloc_count(void)
{
	return atomic_load_explicit(&lvc__allocs, memory_order_relaxed);
}

uint64_t lvc__avro_alloc_refused(void)
{
	return atomic_load_explicit(&lvc__refused, memory_order_relaxed);
}

size_t lvc_codec_set_memory_cap(size_t bytes)
{
	size_t prev;

	pthread_once(&lvc__once, lvc__avro_alloc_once);
	prev = atomic_exchange(&lvc__cap, bytes);
	if (!atomic_exchange(&lvc__cap_set, true)) {
		/* Nobody had set a cap: there was none in force. */
		prev = 0;
	}
	return prev;
}

size_t lvc_codec_memory_in_use(void)
{
	long long n = atomic_load_explicit(&lvc__in_use, memory_order_relaxed);

	return n > 0 ? (size_t)n : 0;
}
