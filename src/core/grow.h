/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lvc_grow: makes room in a geometric array.
 */
#ifndef LVC_CORE_GROW_H
#define LVC_CORE_GROW_H
#include <stdint.h>
#include <stdlib.h>

/* Grows the array *p of *cap elements of elem bytes to hold at least need
 * elements, doubling from *cap (first when the array is empty). Returns 0,
 * or -1 with *p and *cap unchanged when out of memory or when the size
 * would overflow. */
static inline int lvc_grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t c = *cap != 0 ? *cap : first;
	void *q;

	if (need <= *cap) {
		return 0;
	}
	while (c < need) {
		if (c > SIZE_MAX / 2 / elem) {
			return -1;
		}
		c *= 2;
	}
	if ((q = realloc(*p, c * elem)) == NULL) {
		return -1;
	}
	*p = q;
	*cap = c;
	return 0;
}

#endif
