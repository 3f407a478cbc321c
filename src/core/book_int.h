/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the position book, shared by book.c, book_tree.c and their
 * unit tests; not part of the public API (see core/book.h).
 *
 * Positions live in a slab pool and are named by 32-bit indices, never by
 * pointers, so that the pool can grow without moving anything and so that
 * every link costs four bytes; index 0 is reserved ("none"). The level
 * trees are B+trees whose nodes come from a second slab pool: at a million
 * positions a red-black descent costs some twenty cache (and TLB) misses,
 * a B+tree descent four or five.
 */
#ifndef LVC_CORE_BOOK_INT_H
#define LVC_CORE_BOOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define LVC__BNIL       0u /* "none"; never a position or a node */
#define LVC__SLAB_SHIFT 12
#define LVC__SLAB_SIZE  (1u << LVC__SLAB_SHIFT) /* records per slab */
#define LVC__SLAB_MASK  (LVC__SLAB_SIZE - 1u)

/* flags of a position record */
#define LVC__F_SHORT       0x01u /* size < 0 */
#define LVC__F_TIERED      0x02u /* isolated, keyed by its liquidation price */
#define LVC__F_WHERE_SHIFT 3
#define LVC__F_WHERE_MASK  0x18u
#define LVC__F_USED        0x20u /* allocated from the pool */

/* Where a record is linked (the meaning of link[]). */
enum {
	LVC__W_NONE = 0,    /* dormant: closed, kept for its seq; no links */
	LVC__W_PENDING = 1, /* isolated, instrument not ready: link[0] prev, link[1] next */
	LVC__W_TREE = 2,    /* isolated, in a level tree (keyed by key): no links */
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
	size_t used;        /* records allocated (index 0 excluded) */
	size_t bytes;       /* heap bytes held by the pool */
} lvc__bpool_t;

/* A B+tree node (1040 bytes). A leaf holds n entries (key[i], id[i]) in
 * (key, id) order and links to its neighbour leaves; an inner node holds n
 * children, child[j] covering the entries >= (key[j], id[j]) and below the
 * next separator (key[0] is not used for descent). */
#define LVC__BT_FAN 64

typedef struct lvc__bnode_s {
	uint16_t n;
	uint16_t leaf;
	uint32_t prev; /* leaves only; 0: none */
	uint32_t next;
	uint32_t pad_;
	double key[LVC__BT_FAN];
	uint32_t id[LVC__BT_FAN];
	uint32_t child[LVC__BT_FAN];
} lvc__bnode_t;

/* The slab pool of B+tree nodes shared by the trees of a book; node 0 is
 * reserved ("none"). */
typedef struct lvc__bnpool_s {
	lvc__bnode_t **slabs;
	size_t slabs_n;
	size_t slabs_cap;
	uint32_t next_new;
	uint32_t free_head; /* chained through next */
	size_t free_n;
	size_t used;
	size_t bytes;
} lvc__bnpool_t;

/* A B+tree of (key, position index) entries with its first and last key
 * cached, so that a tick tests both ends without touching a node. Freed at
 * empty (a node is released when its last entry or child goes, never
 * merged at half: Johnson and Shasha, "B-trees with inserts and deletes:
 * why free-at-empty is better than merge-at-half", JCSS 47, 1993). */
typedef struct lvc__btree_s {
	uint32_t root;  /* 0: empty */
	uint32_t first; /* leaves */
	uint32_t last;
	uint32_t n;
	uint32_t height; /* levels; 1: the root is a leaf */
	double min_key;
	double max_key;
} lvc__btree_t;

/* A position in a tree's entry order: leaf node and slot. */
typedef struct lvc__bcur_s {
	uint32_t leaf; /* 0: past either end */
	uint32_t pos;
} lvc__bcur_t;

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

/* Sets up an empty pool with index 0 taken, and room for hint
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

/* Sets up an empty node pool. Returns LVC_OK or LVC_ERR_NOMEM. */
lvc_err_t lvc__bnpool_init(lvc__bnpool_t *np);

/* Frees every node slab; accepts a pool whose init failed. */
void lvc__bnpool_destroy(lvc__bnpool_t *np);

static inline lvc__bnode_t *lvc__bnode(const lvc__bnpool_t *np, uint32_t id)
{
	return &np->slabs[id >> 8][id & 255u];
}

/* Makes t empty without freeing (for a tree that owns no node). */
void lvc__btree_init(lvc__btree_t *t);

/* Inserts (key, id), which must not be in t; key finite. May allocate a
 * node slab (amortized, geometric); returns LVC_OK or LVC_ERR_NOMEM with t
 * unchanged. O(log n). */
lvc_err_t lvc__btree_insert(lvc__bnpool_t *np, lvc__btree_t *t, double key, uint32_t id);

/* Removes (key, id); returns 1, or 0 when it is not in t. O(log n). */
int lvc__btree_remove(lvc__bnpool_t *np, lvc__btree_t *t, double key, uint32_t id);

/* Returns every node of t to the pool and makes it empty. */
void lvc__btree_clear(lvc__bnpool_t *np, lvc__btree_t *t);

/* Cursors over the entries, valid until t changes; leaf 0 past the end. */
lvc__bcur_t lvc__btree_first(const lvc__bnpool_t *np, const lvc__btree_t *t);
lvc__bcur_t lvc__btree_last(const lvc__bnpool_t *np, const lvc__btree_t *t);
void lvc__btree_next(const lvc__bnpool_t *np, lvc__bcur_t *c);
void lvc__btree_prev(const lvc__bnpool_t *np, lvc__bcur_t *c);

static inline double lvc__bcur_key(const lvc__bnpool_t *np, lvc__bcur_t c)
{
	return lvc__bnode(np, c.leaf)->key[c.pos];
}

static inline uint32_t lvc__bcur_id(const lvc__bnpool_t *np, lvc__bcur_t c)
{
	return lvc__bnode(np, c.leaf)->id[c.pos];
}

/* Checks order, separators, leaf links, counts and the cached ends (tests).
 * Returns 0, or -1 when an invariant is broken. */
int lvc__btree_check(const lvc__bnpool_t *np, const lvc__btree_t *t);

#endif
