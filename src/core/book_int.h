/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the position book, shared by book.c, book_tree.c and their
 * unit tests; not part of the public API (see core/book.h).
 *
 * Positions live in a slab pool and are named by 32-bit indices, never by
 * pointers, so that the pool can grow without moving anything and so that
 * every link costs four bytes. Index 0 is reserved: it is the sentinel
 * ("nil") node of every red-black tree, whose parent link the delete fixup
 * writes temporarily (Cormen et al., "Introduction to Algorithms", ch. 13).
 */
#ifndef LVC_CORE_BOOK_INT_H
#define LVC_CORE_BOOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define LVC__BNIL       0u /* the sentinel index; never a position */
#define LVC__SLAB_SHIFT 12
#define LVC__SLAB_SIZE  (1u << LVC__SLAB_SHIFT) /* records per slab */
#define LVC__SLAB_MASK  (LVC__SLAB_SIZE - 1u)

/* flags of a position record */
#define LVC__F_SHORT       0x01u /* size < 0 */
#define LVC__F_TIERED      0x02u /* isolated, keyed by its liquidation price */
#define LVC__F_RED         0x04u /* red-black colour */
#define LVC__F_WHERE_SHIFT 3
#define LVC__F_WHERE_MASK  0x18u
#define LVC__F_USED        0x20u /* allocated from the pool */

/* Where a record is linked (the meaning of link[]). */
enum {
	LVC__W_NONE = 0,    /* dormant: closed, kept for its seq; no links */
	LVC__W_PENDING = 1, /* isolated, instrument not ready: link[0] prev, link[1] next */
	LVC__W_TREE = 2,    /* isolated, in a level tree: left, right, parent */
	LVC__W_CROSS = 3    /* cross: link[0] prev, link[1] next in the instrument's list,
	                     * link[2] next in the account's list */
};

/* One position (64 bytes). key is K = entry - collateral / size (long) or
 * entry + collateral / |size| (short) for a tier-0 isolated position, its
 * liquidation price for a tiered one; unused otherwise. */
typedef struct lvc__bpos_s {
	double size;
	double entry;
	double collateral;
	double key;
	int64_t seq; /* of the last warning published for the key; 0: none */
	uint32_t acc;
	uint32_t ins;
	uint32_t link[3];
	uint8_t level; /* lvc_level_t of the last warning (CLEAR before any) */
	uint8_t flags;
} lvc__bpos_t;

/* The slab pool of position records. */
typedef struct lvc__bpool_s {
	lvc__bpos_t **slabs;
	size_t slabs_n;
	size_t slabs_cap;
	uint32_t next_new;  /* first never-used index */
	uint32_t free_head; /* freed records, chained through link[0] */
	size_t used;        /* records allocated (the sentinel excluded) */
	size_t bytes;       /* heap bytes held by the pool */
} lvc__bpool_t;

/* A red-black tree of positions ordered by (key, index), with its first and
 * last member and their keys cached so that a tick can test both ends
 * without touching a node. */
typedef struct lvc__btree_s {
	uint32_t root;
	uint32_t min;
	uint32_t max;
	uint32_t n;
	double min_key;
	double max_key;
} lvc__btree_t;

static inline lvc__bpos_t *lvc__bpos(const lvc__bpool_t *pool, uint32_t idx)
{
	return &pool->slabs[idx >> LVC__SLAB_SHIFT][idx & LVC__SLAB_MASK];
}

static inline unsigned lvc__bpos_where(const lvc__bpos_t *p)
{
	return (p->flags & LVC__F_WHERE_MASK) >> LVC__F_WHERE_SHIFT;
}

static inline void lvc__bpos_set_where(lvc__bpos_t *p, unsigned where)
{
	p->flags = (uint8_t)((p->flags & ~LVC__F_WHERE_MASK) | (where << LVC__F_WHERE_SHIFT));
}

/* Sets up an empty pool with the sentinel allocated, and room for hint
 * records in the slab table. Returns LVC_OK or LVC_ERR_NOMEM. */
lvc_err_t lvc__bpool_init(lvc__bpool_t *pool, size_t hint);

/* Frees every slab; accepts a pool whose init failed. */
void lvc__bpool_destroy(lvc__bpool_t *pool);

/* Takes a zeroed record (flags LVC__F_USED) and sets *idx. Allocates a slab
 * every LVC__SLAB_SIZE records. Returns LVC_OK, LVC_ERR_NOMEM or
 * LVC_ERR_RANGE (2^32 - 1 records). */
lvc_err_t lvc__bpool_alloc(lvc__bpool_t *pool, uint32_t *idx);

/* Returns a record to the pool. */
void lvc__bpool_free(lvc__bpool_t *pool, uint32_t idx);

/* Makes t empty (it owns no memory). */
void lvc__btree_init(lvc__btree_t *t);

/* Inserts record idx (not in any tree) by its key. O(log n). */
void lvc__btree_insert(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t idx);

/* Removes record idx, a member of t. Other members keep their indices and
 * order, so an iterator saved before the removal stays valid. O(log n). */
void lvc__btree_remove(lvc__bpool_t *pool, lvc__btree_t *t, uint32_t idx);

/* The member after / before idx in (key, index) order, or LVC__BNIL. */
uint32_t lvc__btree_next(const lvc__bpool_t *pool, uint32_t idx);
uint32_t lvc__btree_prev(const lvc__bpool_t *pool, uint32_t idx);

/* Checks the red-black and order invariants and the cached ends (tests).
 * Returns the black height, or -1 when an invariant is broken. */
int lvc__btree_check(const lvc__bpool_t *pool, const lvc__btree_t *t);

#endif
