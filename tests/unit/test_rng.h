/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tests' deterministic random numbers: splitmix64 (Steele, Lea, Flood
 * 2014), uniforms in (0, 1) and Box-Muller normals. One copy, so every
 * simulation test draws the same streams for the same seed.
 */
#ifndef LVC_TEST_RNG_H
#define LVC_TEST_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct rng_s {
	uint64_t s;
} rng_t;

static inline uint64_t rng_next(rng_t *g)
{
	uint64_t z = (g->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in the open interval (0, 1). */
static inline double rng_unit(rng_t *g)
{
	return ((double)(rng_next(g) >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, the cosine branch). */
static inline double rng_normal(rng_t *g)
{
	double u = rng_unit(g), v = rng_unit(g);

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
