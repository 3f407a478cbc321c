/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The position book (SPEC §5; definitions in core/book.h): positions and
 * cross wallets, evaluated on marks, sigma changes and new limits, emitting
 * a LiquidationWarning on every level change.
 *
 * Isolated positions. The liquidation price L of an isolated position does
 * not depend on the mark: for a long of size s, entry E, collateral C it
 * solves C + s (L - E) = s L mmr_i - d_i, L = (K - d_i / s) / (1 - mmr_i)
 * with K = E - C / s; for a short of size -a it is L = (K + d_i / a) /
 * (1 + mmr_i) with K = E + C / a; the tier i is the one holding the
 * notional a L. The level then depends only on the position's current level
 * and on distance = |ln(m / L)| / sigma_h, monotone in L. So every ready
 * instrument keeps one B+tree of (key, position) per (side, class, level),
 * and invariant (I) holds between calls: every member of a level tree
 * is stable, i.e. re-evaluating it would give its current level. A tick
 * only moves the thresholds in price space; the members that must worsen
 * lie at one end of their tree and those that may improve (past the
 * threshold plus hysteresis) at the other, so each tree is walked from its
 * ends while the bound holds: O(levels + changes * log n) per tick. The
 * bounds are widened by SLACK (1e-9 relative) and every candidate is
 * re-evaluated exactly, so a rounding difference between "key beyond the
 * bound" and the exact level rule can never lose a change; a candidate that
 * does not change is left in place.
 *
 * Classes. A tier-0 position ("T0": its liquidation notional lies in the
 * first tier) is keyed by K, and L = K / (1 -/+ mmr_0): a new mmr_0 scales
 * every L of the class alike, so the K order survives a new limit and the
 * new limit is handled as a tick (bounds scaled by 1 -/+ mmr_0). Which
 * positions are T0 must not depend on mmr_0 either: a long is T0 when Q =
 * s E - C <= cap_0 (1 - G), with guard G >= mmr_0 (0.5 unless mmr_0 went
 * higher), a short when Q = a E + C <= cap_0; then its root lies in tier 0
 * for any mmr_0 <= G. The other ("tiered") positions are keyed by L itself
 * and recomputed one by one on every new limit; they are the big ones
 * (liquidation notional near or above cap_0). A new cap_0, or an mmr_0
 * above G, reorders the whole instrument (rebuild, counted in the stats).
 *
 * Cross accounts are evaluated whole (their positions' L depend on each
 * other's marks): on a tick, sigma or limit of an instrument, every cross
 * account holding it is re-evaluated through the instrument's list of cross
 * positions. Correct, O(cross positions of the instrument * positions per
 * account) per tick; the isolated path does not pay for it.
 *
 * Memory: 64-byte records in 4096-record slabs, B+tree entries of 12 bytes
 * in 1040-byte nodes (some 24 bytes per position at the usual fill), an
 * open-addressing table of 4-byte slots at load <= 0.7 keyed by (account
 * id, instrument id), account and instrument records with their names
 * interned in an arena: about 110 bytes per position at a million. Nothing
 * is allocated per tick once the tables have grown: tree nodes come from a
 * free list, and the warning queue and the candidate and scratch arrays
 * grow geometrically with the largest change seen.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/book.h"
#include "core/book_int.h"
#include "core/policy.h"

#define NLEV        LVC_LEVEL__COUNT
#define SIDE_LONG   0
#define SIDE_SHRT   1
#define CLS_T0      0
#define CLS_TIER    1
#define SLACK       1e-9 /* relative widening of the candidate bounds */
#define GUARD       0.5  /* default guard G on mmr_0 for the T0 class of longs */
#define NONE32      UINT32_MAX
#define ARENA_CHUNK 65536

typedef struct bk_tiers_s {
	size_t n;
	double cap[LVC_MAX_TIERS];
	double mmr[LVC_MAX_TIERS];
	double ded[LVC_MAX_TIERS];
} bk_tiers_t;

typedef struct bk_ins_s {
	const char *name;
	uint64_t hash;
	lvc_warn_params_t warn;
	int has_limit;
	int has_sigma;
	int has_mark;
	int ordered; /* the pending list was drained into the trees */
	bk_tiers_t tiers;
	double order_cap0; /* first-tier cap the classes were made with */
	double guard;      /* G */
	double sigma_ann;
	double sigma_h;
	double mark;
	int64_t mark_ts;
	/* candidate bounds per unit of mark: worsen and improve */
	double fw[2][2][NLEV];
	double fi[2][2][NLEV];
	lvc__btree_t tree[2][2][NLEV]; /* [side][class][level] */
	uint32_t pending_head;
	uint32_t cross_head;
	uint32_t cross_n;
} bk_ins_t;

typedef struct bk_acc_s {
	const char *name;
	uint64_t hash;
	double balance;
	int has_balance;
	uint32_t cross_head; /* sorted by instrument name */
	uint32_t cross_n;
} bk_acc_t;

typedef struct bk_chunk_s {
	struct bk_chunk_s *next;
	size_t used;
	size_t cap;
	char data[];
} bk_chunk_t;

/* One evaluation of a position. */
typedef struct bk_eval_s {
	double equity;
	double mm;
	double L;
	double dist;
	int has_L;
	int liq;
} bk_eval_t;

struct lvc_book_s {
	lvc_book_conf_t conf;
	lvc__bpool_t pool;
	lvc__bnpool_t npool; /* tree nodes */
	bk_ins_t *ins;
	uint32_t ins_n;
	uint32_t ins_cap;
	uint32_t *ins_slots; /* instrument index + 1; 0 empty */
	size_t ins_mask;
	bk_acc_t *acc;
	uint32_t acc_n;
	uint32_t acc_cap;
	uint32_t *acc_slots; /* account index + 1; 0 empty */
	size_t acc_mask;
	uint32_t *pos_slots; /* pool index; 0 empty */
	size_t pos_mask;
	size_t pos_n;
	bk_chunk_t *chunks;
	uint32_t *scratch;
	size_t scratch_cap;
	uint32_t *cand; /* candidates of one tree scan */
	size_t cand_cap;
	lvc_warning_t *queue;
	size_t queue_n;
	size_t queue_cap;
	uint32_t *order; /* emission order of the queue */
	size_t order_cap;

	size_t bytes;
	size_t n_where[4];
	size_t n_tiered;
	uint64_t marks;
	uint64_t marks_late;
	uint64_t evaluations;
	uint64_t warnings;
	uint64_t rebuilds;
};

#define POS(book, i) lvc__bpos(&(book)->pool, (i))

/* Formats the reason of a failure into the caller's buffer (may be NULL). */
static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
	va_list ap;

	if (errstr == NULL || errstr_size == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(errstr, errstr_size, fmt, ap);
	va_end(ap);
}

/* ---- memory, counted ---------------------------------------------------- */

static void *bk_calloc(lvc_book_t *book, size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p != NULL) {
		book->bytes += n * size;
	}
	return p;
}

static void bk_free(lvc_book_t *book, void *p, size_t size)
{
	if (p != NULL) {
		book->bytes -= size;
		free(p);
	}
}

/* Grows *pp of *cap elements of size `size` to at least `need`, doubling. */
static lvc_err_t bk_grow(lvc_book_t *book, void **pp, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap > 0 ? *cap : 16;
	void *p;

	if (need <= *cap) {
		return LVC_OK;
	}
	while (n < need) {
		n *= 2;
	}
	p = realloc(*pp, n * size);
	if (p == NULL) {
		return LVC_ERR_NOMEM;
	}
	book->bytes += (n - *cap) * size;
	*pp = p;
	*cap = n;
	return LVC_OK;
}

/* Copies s into the string arena; NULL on allocation failure. */
static const char *intern_str(lvc_book_t *book, const char *s)
{
	size_t len = strlen(s) + 1;
	bk_chunk_t *c = book->chunks;
	char *out;

	if (c == NULL || c->cap - c->used < len) {
		size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL) {
			return NULL;
		}
		book->bytes += sizeof(*c) + cap;
		c->next = book->chunks;
		c->used = 0;
		c->cap = cap;
		book->chunks = c;
	}
	out = c->data + c->used;
	memcpy(out, s, len);
	c->used += len;
	return out;
}

/* ---- hashing and tables ------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t hash_key(uint32_t acc, uint32_t ins)
{
	uint64_t x = ((uint64_t)acc << 32) | ins; /* splitmix64 finalizer */

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Makes a table of 2^k slots >= need / 0.7. */
static lvc_err_t slots_new(lvc_book_t *book, size_t need, uint32_t **slots, size_t *mask)
{
	size_t cap = 16;

	while (cap * 7 < need * 10) {
		cap *= 2;
	}
	*slots = bk_calloc(book, cap, sizeof(uint32_t));
	if (*slots == NULL) {
		return LVC_ERR_NOMEM;
	}
	*mask = cap - 1;
	return LVC_OK;
}

static uint32_t ins_find(const lvc_book_t *book, const char *name, uint64_t h)
{
	size_t i = h & book->ins_mask;

	for (;;) {
		uint32_t v = book->ins_slots[i];

		if (v == 0) {
			return NONE32;
		}
		if (book->ins[v - 1].hash == h && strcmp(book->ins[v - 1].name, name) == 0) {
			return v - 1;
		}
		i = (i + 1) & book->ins_mask;
	}
}

static uint32_t acc_find(const lvc_book_t *book, const char *name, uint64_t h)
{
	size_t i = h & book->acc_mask;

	for (;;) {
		uint32_t v = book->acc_slots[i];

		if (v == 0) {
			return NONE32;
		}
		if (book->acc[v - 1].hash == h && strcmp(book->acc[v - 1].name, name) == 0) {
			return v - 1;
		}
		i = (i + 1) & book->acc_mask;
	}
}

/* Rehashes an index table of ids (value = id + 1) into 2 * capacity. */
static lvc_err_t ids_rehash(lvc_book_t *book, uint32_t **slots, size_t *mask, uint32_t n,
                            int is_ins)
{
	uint32_t *ns;
	size_t nmask;
	lvc_err_t err = slots_new(book, (size_t)n * 2 + 2, &ns, &nmask);

	if (err != LVC_OK) {
		return err;
	}
	for (uint32_t id = 0; id < n; id++) {
		uint64_t h = is_ins ? book->ins[id].hash : book->acc[id].hash;
		size_t i = h & nmask;

		while (ns[i] != 0) {
			i = (i + 1) & nmask;
		}
		ns[i] = id + 1;
	}
	bk_free(book, *slots, (*mask + 1) * sizeof(uint32_t));
	*slots = ns;
	*mask = nmask;
	return LVC_OK;
}

static const lvc_warn_params_t *warn_for(const lvc_book_t *book, const char *name)
{
	for (size_t i = 0; i < book->conf.overrides_n; i++) {
		if (strcmp(book->conf.overrides[i].name, name) == 0) {
			return &book->conf.overrides[i].params.warn;
		}
	}
	return &book->conf.warn;
}

static lvc_err_t ins_intern(lvc_book_t *book, const char *name, uint32_t *out)
{
	uint64_t h = hash_str(name);
	uint32_t id = ins_find(book, name, h);
	size_t cap;
	bk_ins_t *ins;
	lvc_err_t err;
	size_t i;

	if (id != NONE32) {
		*out = id;
		return LVC_OK;
	}
	if (((size_t)book->ins_n + 1) * 10 > (book->ins_mask + 1) * 7) {
		err = ids_rehash(book, &book->ins_slots, &book->ins_mask, book->ins_n, 1);
		if (err != LVC_OK) {
			return err;
		}
	}
	cap = book->ins_cap;
	err = bk_grow(book, (void **)&book->ins, &cap, (size_t)book->ins_n + 1, sizeof(bk_ins_t));
	if (err != LVC_OK) {
		return err;
	}
	book->ins_cap = (uint32_t)cap;
	ins = &book->ins[book->ins_n];
	memset(ins, 0, sizeof(*ins));
	ins->name = intern_str(book, name);
	if (ins->name == NULL) {
		return LVC_ERR_NOMEM;
	}
	ins->hash = h;
	ins->warn = *warn_for(book, name);
	ins->pending_head = LVC__BNIL;
	ins->cross_head = LVC__BNIL;
	for (int s = 0; s < 2; s++) {
		for (int c = 0; c < 2; c++) {
			for (int l = 0; l < NLEV; l++) {
				lvc__btree_init(&ins->tree[s][c][l]);
			}
		}
	}
	i = h & book->ins_mask;
	while (book->ins_slots[i] != 0) {
		i = (i + 1) & book->ins_mask;
	}
	book->ins_slots[i] = book->ins_n + 1;
	*out = book->ins_n++;
	return LVC_OK;
}

static lvc_err_t acc_intern(lvc_book_t *book, const char *name, uint32_t *out)
{
	uint64_t h = hash_str(name);
	uint32_t id = acc_find(book, name, h);
	size_t cap;
	bk_acc_t *a;
	lvc_err_t err;
	size_t i;

	if (id != NONE32) {
		*out = id;
		return LVC_OK;
	}
	if (book->acc_n == UINT32_MAX - 1) {
		return LVC_ERR_RANGE;
	}
	if (((size_t)book->acc_n + 1) * 10 > (book->acc_mask + 1) * 7) {
		err = ids_rehash(book, &book->acc_slots, &book->acc_mask, book->acc_n, 0);
		if (err != LVC_OK) {
			return err;
		}
	}
	cap = book->acc_cap;
	err = bk_grow(book, (void **)&book->acc, &cap, (size_t)book->acc_n + 1, sizeof(bk_acc_t));
	if (err != LVC_OK) {
		return err;
	}
	book->acc_cap = (uint32_t)cap;
	a = &book->acc[book->acc_n];
	memset(a, 0, sizeof(*a));
	a->name = intern_str(book, name);
	if (a->name == NULL) {
		return LVC_ERR_NOMEM;
	}
	a->hash = h;
	a->cross_head = LVC__BNIL;
	i = h & book->acc_mask;
	while (book->acc_slots[i] != 0) {
		i = (i + 1) & book->acc_mask;
	}
	book->acc_slots[i] = book->acc_n + 1;
	*out = book->acc_n++;
	return LVC_OK;
}

/* Pool index of key (acc, ins), or LVC__BNIL; *slot is its slot or the
 * empty slot where it would go. */
static uint32_t pos_find(const lvc_book_t *book, uint32_t acc, uint32_t ins, size_t *slot)
{
	size_t i = hash_key(acc, ins) & book->pos_mask;

	for (;;) {
		uint32_t v = book->pos_slots[i];

		if (v == LVC__BNIL) {
			break;
		}
		if (POS(book, v)->acc == acc && POS(book, v)->ins == ins) {
			break;
		}
		i = (i + 1) & book->pos_mask;
	}
	if (slot != NULL) {
		*slot = i;
	}
	return book->pos_slots[i];
}

static lvc_err_t pos_rehash(lvc_book_t *book)
{
	uint32_t *ns;
	size_t nmask;
	lvc_err_t err = slots_new(book, book->pos_n * 2 + 2, &ns, &nmask);

	if (err != LVC_OK) {
		return err;
	}
	for (size_t j = 0; j <= book->pos_mask; j++) {
		uint32_t v = book->pos_slots[j];
		size_t i;

		if (v == LVC__BNIL) {
			continue;
		}
		i = hash_key(POS(book, v)->acc, POS(book, v)->ins) & nmask;
		while (ns[i] != LVC__BNIL) {
			i = (i + 1) & nmask;
		}
		ns[i] = v;
	}
	bk_free(book, book->pos_slots, (book->pos_mask + 1) * sizeof(uint32_t));
	book->pos_slots = ns;
	book->pos_mask = nmask;
	return LVC_OK;
}

/* Finds or creates the record of (acc, ins); a new one is dormant (where
 * NONE), CLEAR, seq 0. */
static lvc_err_t pos_get(lvc_book_t *book, uint32_t acc, uint32_t ins, uint32_t *out, int *created)
{
	size_t slot;
	uint32_t idx = pos_find(book, acc, ins, &slot);
	lvc__bpos_t *p;
	lvc_err_t err;

	*created = 0;
	if (idx != LVC__BNIL) {
		*out = idx;
		return LVC_OK;
	}
	if ((book->pos_n + 1) * 10 > (book->pos_mask + 1) * 7) {
		err = pos_rehash(book);
		if (err != LVC_OK) {
			return err;
		}
		(void)pos_find(book, acc, ins, &slot);
	}
	err = lvc__bpool_alloc(&book->pool, &idx);
	if (err != LVC_OK) {
		return err;
	}
	p = POS(book, idx);
	p->acc = acc;
	p->ins = ins;
	p->level = LVC_LEVEL_CLEAR;
	book->pos_slots[slot] = idx;
	book->pos_n++;
	book->n_where[LVC__W_NONE]++;
	*created = 1;
	*out = idx;
	return LVC_OK;
}

/* Removes a dormant record from the table (backward-shift deletion, so no
 * tombstones) and returns it to the pool. */
static void pos_drop(lvc_book_t *book, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);
	size_t i;
	size_t j;

	(void)pos_find(book, p->acc, p->ins, &i);
	j = i;
	for (;;) {
		size_t k;

		j = (j + 1) & book->pos_mask;
		if (book->pos_slots[j] == LVC__BNIL) {
			break;
		}
		k = hash_key(POS(book, book->pos_slots[j])->acc,
		             POS(book, book->pos_slots[j])->ins) &
		    book->pos_mask;
		/* The entry at j may move to the hole at i unless its home k
		 * lies cyclically in (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j)) {
			continue;
		}
		book->pos_slots[i] = book->pos_slots[j];
		i = j;
	}
	book->pos_slots[i] = LVC__BNIL;
	book->pos_n--;
	book->n_where[LVC__W_NONE]--;
	lvc__bpool_free(&book->pool, idx);
}

static void set_where(lvc_book_t *book, lvc__bpos_t *p, unsigned w)
{
	book->n_where[lvc__bpos_where(p)]--;
	book->n_where[w]++;
	lvc__bpos_set_where(p, w);
}

static int has_state(const lvc__bpos_t *p)
{
	return p->seq > 0 || p->level != LVC_LEVEL_CLEAR;
}

/* ---- margin maths ------------------------------------------------------- */

static int ins_ready(const bk_ins_t *ins)
{
	return ins->has_limit && ins->has_sigma && ins->has_mark;
}

/* Maintenance margin of notional n: the rule of lvc_margin_maintenance(). */
static double tiers_mm(const bk_tiers_t *t, double n)
{
	size_t i = 0;

	while (i + 1 < t->n && n > t->cap[i]) {
		i++;
	}
	return n * t->mmr[i] - t->ded[i];
}

/* First-tier cap that decides the classes: none when there is one tier. */
static double tiers_cap0(const bk_tiers_t *t)
{
	return t->n > 1 ? t->cap[0] : INFINITY;
}

/* Liquidation price of size s (!= 0) at entry e with collateral c (for a
 * cross position the account's equity and margin from everything else).
 * Returns 1 and sets *L, or 0 when no price > 0 solves equity = MM. The
 * tier is the first whose cap the root's notional does not exceed: equity -
 * MM as a function of notional N is, for a long, N - MM(N) - Q, increasing,
 * so the root lies in the first tier with cap (1 - mmr) + d >= Q; for a
 * short Q - N - MM(N), decreasing, first tier with cap (1 + mmr) - d >= Q.
 * With d_0 = 0 a tier-0 root is computed as exactly K / (1 -/+ mmr_0), the
 * formula of the T0 class. */
static int solve_liq(const bk_tiers_t *t, double s, double e, double c, double *L)
{
	size_t i = 0;
	double v;

	if (s > 0) {
		double k = e - c / s;
		double q = s * e - c;

		if (!(k > 0)) {
			return 0;
		}
		while (i + 1 < t->n && t->cap[i] * (1.0 - t->mmr[i]) + t->ded[i] < q) {
			i++;
		}
		v = (k - t->ded[i] / s) / (1.0 - t->mmr[i]);
	} else {
		double a = -s;
		double k = e + c / a;
		double q = a * e + c;

		if (!(k > 0)) {
			return 0;
		}
		while (i + 1 < t->n && t->cap[i] * (1.0 + t->mmr[i]) - t->ded[i] < q) {
			i++;
		}
		v = (k + t->ded[i] / a) / (1.0 + t->mmr[i]);
	}
	if (!(v > 0) || !isfinite(v)) {
		return 0;
	}
	*L = v;
	return 1;
}

/* Raw level of distance d with every threshold raised by shift. */
static lvc_level_t raw_level(const lvc_warn_params_t *w, double d, double shift)
{
	if (d < w->critical + shift) {
		return LVC_LEVEL_CRITICAL;
	}
	if (d < w->warning + shift) {
		return LVC_LEVEL_WARNING;
	}
	if (d < w->watch + shift) {
		return LVC_LEVEL_WATCH;
	}
	return LVC_LEVEL_CLEAR;
}

/* The level after cur given liq (equity <= MM) and distance d: worse at
 * once, better only past the thresholds plus hysteresis (LIQUIDATE's
 * threshold being distance 0). Idempotent: next(next(l)) == next(l). */
static lvc_level_t next_level(const lvc_warn_params_t *w, lvc_level_t cur, int liq, double d)
{
	lvc_level_t r = liq ? LVC_LEVEL_LIQUIDATE : raw_level(w, d, 0.0);
	lvc_level_t rh;

	if (r >= cur) {
		return r;
	}
	if (cur == LVC_LEVEL_LIQUIDATE && d < w->hysteresis) {
		rh = LVC_LEVEL_LIQUIDATE;
	} else {
		rh = raw_level(w, d, w->hysteresis);
	}
	return rh < cur ? rh : cur;
}

/* ---- warnings ----------------------------------------------------------- */

static lvc_err_t queue_warning(lvc_book_t *book, lvc__bpos_t *p, int64_t ts_us, lvc_level_t old,
                               const bk_eval_t *ev)
{
	const bk_ins_t *ins = &book->ins[p->ins];
	lvc_warning_t *w;
	lvc_err_t err;

	err = bk_grow(book, (void **)&book->queue, &book->queue_cap, book->queue_n + 1,
	              sizeof(*book->queue));
	if (err == LVC_OK) {
		err = bk_grow(book, (void **)&book->order, &book->order_cap, book->queue_n + 1,
		              sizeof(*book->order));
	}
	if (err != LVC_OK) {
		return err;
	}
	p->seq++;
	w = &book->queue[book->queue_n++];
	memset(w, 0, sizeof(*w));
	w->account = book->acc[p->acc].name;
	w->instrument = ins->name;
	w->ts_us = ts_us;
	w->seq = p->seq;
	w->level = (lvc_level_t)p->level;
	w->previous_level = old;
	w->mark_price = ins->has_mark ? ins->mark : 0.0;
	w->sigma_ann = ins->has_sigma ? ins->sigma_ann : 0.0;
	if (ev == NULL) {
		/* A close: nothing is at risk any more. */
		w->distance_sigma = INFINITY;
		return LVC_OK;
	}
	w->has_liquidation_price = ev->has_L;
	w->liquidation_price = ev->has_L ? ev->L : 0.0;
	w->distance_sigma = ev->dist;
	w->equity = ev->equity;
	w->maintenance_margin = ev->mm;
	w->margin_ratio = ev->equity > 0 ? ev->mm / ev->equity : INFINITY;
	w->size = p->size;
	if (ev->liq) {
		w->hit_probability = 1.0;
	} else if (ev->has_L) {
		w->hit_probability = 2.0 * lvc_normal_cdf(-ev->dist);
	} else {
		w->hit_probability = 0.0;
	}
	return LVC_OK;
}

/* (account, instrument) order of queued warnings a and b; names are
 * interned, so equal names are equal pointers. */
static int warning_lt(const lvc_book_t *book, uint32_t a, uint32_t b)
{
	const lvc_warning_t *x = &book->queue[a];
	const lvc_warning_t *y = &book->queue[b];
	int c = x->account == y->account ? 0 : strcmp(x->account, y->account);

	if (c == 0) {
		c = x->instrument == y->instrument ? 0 : strcmp(x->instrument, y->instrument);
	}
	return c != 0 ? c < 0 : a < b;
}

static void sift_down(const lvc_book_t *book, uint32_t *h, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		uint32_t t;

		if (c >= n) {
			return;
		}
		if (c + 1 < n && warning_lt(book, h[c], h[c + 1])) {
			c++;
		}
		if (!warning_lt(book, h[i], h[c])) {
			return;
		}
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* Sorts the permutation book->order[0..n) of the queue in place: insertion
 * sort for the usual few, heapsort beyond (qsort may allocate). */
static void order_sort(lvc_book_t *book, size_t n)
{
	uint32_t *o = book->order;

	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			uint32_t v = o[i];
			size_t j = i;

			while (j > 0 && warning_lt(book, v, o[j - 1])) {
				o[j] = o[j - 1];
				j--;
			}
			o[j] = v;
		}
		return;
	}
	for (size_t i = n / 2; i-- > 0;) {
		sift_down(book, o, i, n);
	}
	for (size_t end = n - 1; end > 0; end--) {
		uint32_t t = o[0];

		o[0] = o[end];
		o[end] = t;
		sift_down(book, o, 0, end);
	}
}

/* Emits the queued warnings sorted by (account, instrument); err is the
 * call's result so far, returned unless it is LVC_OK. */
static lvc_err_t flush(lvc_book_t *book, lvc_err_t err)
{
	size_t n = book->queue_n;

	book->queue_n = 0;
	if (n == 0) {
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		book->order[i] = (uint32_t)i;
	}
	order_sort(book, n);
	for (size_t i = 0; i < n; i++) {
		int rc = book->conf.emit(book->conf.opaque, &book->queue[book->order[i]]);

		book->warnings++;
		if (rc != 0) {
			return err != LVC_OK ? err : (lvc_err_t)rc;
		}
	}
	return err;
}

/* ---- isolated positions ------------------------------------------------- */

static lvc__btree_t *tree_of(bk_ins_t *ins, const lvc__bpos_t *p)
{
	return &ins->tree[(p->flags & LVC__F_SHORT) ? SIDE_SHRT : SIDE_LONG]
	                 [(p->flags & LVC__F_TIERED) ? CLS_TIER : CLS_T0][p->level];
}

static lvc_err_t tree_add(lvc_book_t *book, bk_ins_t *ins, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);
	lvc_err_t err = lvc__btree_insert(&book->npool, tree_of(ins, p), p->key, idx);

	if (err != LVC_OK) {
		return err;
	}
	set_where(book, p, LVC__W_TREE);
	if (p->flags & LVC__F_TIERED) {
		book->n_tiered++;
	}
	return LVC_OK;
}

static void tree_del(lvc_book_t *book, bk_ins_t *ins, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);

	(void)lvc__btree_remove(&book->npool, tree_of(ins, p), p->key, idx);
	set_where(book, p, LVC__W_NONE);
	if (p->flags & LVC__F_TIERED) {
		book->n_tiered--;
	}
}

/* Liquidation price of an isolated position from its key. */
static int iso_liq(const bk_ins_t *ins, const lvc__bpos_t *p, double *L)
{
	if (!(p->key > 0)) {
		return 0;
	}
	if (p->flags & LVC__F_TIERED) {
		*L = p->key;
	} else if (p->flags & LVC__F_SHORT) {
		*L = p->key / (1.0 + ins->tiers.mmr[0]);
	} else {
		*L = p->key / (1.0 - ins->tiers.mmr[0]);
	}
	return 1;
}

static void iso_eval(lvc_book_t *book, const bk_ins_t *ins, const lvc__bpos_t *p, bk_eval_t *ev)
{
	double m = ins->mark;

	ev->has_L = iso_liq(ins, p, &ev->L);
	ev->equity = p->collateral + p->size * (m - p->entry);
	ev->mm = tiers_mm(&ins->tiers, fabs(p->size) * m);
	ev->liq = ev->equity <= ev->mm;
	ev->dist = ev->has_L ? fabs(log(m / ev->L)) / ins->sigma_h : INFINITY;
	book->evaluations++;
}

/* Sets the class and key of an isolated position (instrument with a limit). */
static void iso_classify(const bk_ins_t *ins, lvc__bpos_t *p)
{
	double s = p->size;
	double e = p->entry;
	double c = p->collateral;
	double cap0 = tiers_cap0(&ins->tiers);
	double k;
	double q;
	int t0;

	if (s > 0) {
		k = e - c / s;
		q = s * e - c;
		t0 = q <= cap0 * (1.0 - ins->guard);
	} else {
		k = e + c / -s;
		q = -s * e + c;
		t0 = q <= cap0;
	}
	if (t0) {
		p->flags &= (uint8_t)~LVC__F_TIERED;
		p->key = k;
	} else {
		double L = 0.0;

		p->flags |= LVC__F_TIERED;
		p->key = solve_liq(&ins->tiers, s, e, c, &L) ? L : 0.0;
	}
}

/* Classifies, evaluates from its current level and inserts an isolated
 * position that is in no structure; queues a warning on a change. */
static lvc_err_t iso_place(lvc_book_t *book, bk_ins_t *ins, uint32_t idx, int64_t ts_us)
{
	lvc__bpos_t *p = POS(book, idx);
	lvc_level_t old = (lvc_level_t)p->level;
	lvc_level_t nl;
	bk_eval_t ev;
	lvc_err_t err;

	iso_classify(ins, p);
	iso_eval(book, ins, p, &ev);
	nl = next_level(&ins->warn, old, ev.liq, ev.dist);
	p->level = (uint8_t)nl;
	err = tree_add(book, ins, idx);
	if (err == LVC_OK && nl != old) {
		err = queue_warning(book, p, ts_us, old, &ev);
	}
	return err;
}

/* Re-evaluates a tree member; moves it to its new level's tree. */
static lvc_err_t iso_reeval(lvc_book_t *book, bk_ins_t *ins, uint32_t idx, int64_t ts_us)
{
	lvc__bpos_t *p = POS(book, idx);
	lvc_level_t old = (lvc_level_t)p->level;
	lvc_level_t nl;
	bk_eval_t ev;
	lvc_err_t err;

	iso_eval(book, ins, p, &ev);
	nl = next_level(&ins->warn, old, ev.liq, ev.dist);
	if (nl == old) {
		return LVC_OK;
	}
	tree_del(book, ins, idx);
	p->level = (uint8_t)nl;
	err = tree_add(book, ins, idx);
	if (err != LVC_OK) {
		return err;
	}
	return queue_warning(book, p, ts_us, old, &ev);
}

/* Candidate bounds per unit of mark for every (side, class, level), from
 * the thresholds b_l between level l-1 and l (b_4 = 0: the liquidation
 * price itself), sigma_h, and for T0 the key scale 1 -/+ mmr_0. A long at
 * level l must worsen when L > m exp(-b_(l+1) sigma), may improve when L <=
 * m exp(-(b_l + h) sigma); a short mirrors it with exp(+...). */
static void ins_factors(bk_ins_t *ins)
{
	const lvc_warn_params_t *w = &ins->warn;
	double b[NLEV] = { 0.0, w->watch, w->warning, w->critical, 0.0 };
	double sg = ins->sigma_h;

	for (int side = 0; side < 2; side++) {
		for (int cls = 0; cls < 2; cls++) {
			double scale = 1.0;

			if (cls == CLS_T0) {
				scale = side == SIDE_LONG ? 1.0 - ins->tiers.mmr[0]
				                          : 1.0 + ins->tiers.mmr[0];
			}
			for (int l = 0; l < NLEV; l++) {
				double fw = 0.0;
				double fi = 0.0;

				if (l < LVC_LEVEL_LIQUIDATE) {
					double e = b[l + 1] * sg;

					fw = side == SIDE_LONG ? exp(-e) * scale * (1.0 - SLACK)
					                       : exp(e) * scale * (1.0 + SLACK);
				}
				if (l > LVC_LEVEL_CLEAR) {
					double e = (b[l] + w->hysteresis) * sg;

					fi = side == SIDE_LONG ? exp(-e) * scale * (1.0 + SLACK)
					                       : exp(e) * scale * (1.0 - SLACK);
				}
				ins->fw[side][cls][l] = fw;
				ins->fi[side][cls][l] = fi;
			}
		}
	}
}

/* Re-evaluates the members of t beyond bound: those with key > bound from
 * the top end down (down = 1), or key < bound from the bottom end up. The
 * candidates are collected first, reading keys from the leaves only, since
 * re-evaluating one moves it to another tree; the others stay in t. */
static lvc_err_t scan(lvc_book_t *book, bk_ins_t *ins, const lvc__btree_t *t, double bound,
                      int down, int64_t ts_us)
{
	const lvc__bnpool_t *np = &book->npool;
	lvc__bcur_t c = down ? lvc__btree_last(np, t) : lvc__btree_first(np, t);
	size_t n = 0;
	lvc_err_t err;

	while (c.leaf != 0) {
		double k = lvc__bcur_key(np, c);

		if (down ? !(k > bound) : !(k < bound)) {
			break;
		}
		err = bk_grow(book, (void **)&book->cand, &book->cand_cap, n + 1,
		              sizeof(*book->cand));
		if (err != LVC_OK) {
			return err;
		}
		book->cand[n++] = lvc__bcur_id(np, c);
		if (down) {
			lvc__btree_prev(np, &c);
		} else {
			lvc__btree_next(np, &c);
		}
	}
	for (size_t i = 0; i < n; i++) {
		err = iso_reeval(book, ins, book->cand[i], ts_us);
		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

/* Restores invariant (I) for the isolated positions of a ready, ordered
 * instrument after its mark, sigma or mmr_0 changed: walks each tree from
 * the ends that can hold a change. */
static lvc_err_t ins_rescan(lvc_book_t *book, bk_ins_t *ins, int64_t ts_us)
{
	double m = ins->mark;
	lvc_err_t err = LVC_OK;

	for (int side = 0; side < 2; side++) {
		for (int cls = 0; cls < 2; cls++) {
			for (int l = 0; l < NLEV; l++) {
				const lvc__btree_t *t = &ins->tree[side][cls][l];
				double bw = m * ins->fw[side][cls][l];
				double bi = m * ins->fi[side][cls][l];

				if (t->n == 0) {
					continue;
				}
				if (side == SIDE_LONG) {
					if (l < LVC_LEVEL_LIQUIDATE && t->max_key > bw) {
						err = scan(book, ins, t, bw, 1, ts_us);
					}
					if (err == LVC_OK && l > LVC_LEVEL_CLEAR && t->n > 0 &&
					    t->min_key < bi) {
						err = scan(book, ins, t, bi, 0, ts_us);
					}
				} else {
					if (l < LVC_LEVEL_LIQUIDATE && t->min_key < bw) {
						err = scan(book, ins, t, bw, 0, ts_us);
					}
					if (err == LVC_OK && l > LVC_LEVEL_CLEAR && t->n > 0 &&
					    t->max_key > bi) {
						err = scan(book, ins, t, bi, 1, ts_us);
					}
				}
				if (err != LVC_OK) {
					return err;
				}
			}
		}
	}
	return LVC_OK;
}

/* Moves the members of the trees of classes [c0, c1] into book->scratch and
 * empties those trees; returns the count via *n. */
static lvc_err_t ins_collect(lvc_book_t *book, bk_ins_t *ins, int c0, int c1, size_t *n)
{
	size_t total = 0;
	size_t k = 0;
	lvc_err_t err;

	for (int side = 0; side < 2; side++) {
		for (int cls = c0; cls <= c1; cls++) {
			for (int l = 0; l < NLEV; l++) {
				total += ins->tree[side][cls][l].n;
			}
		}
	}
	err = bk_grow(book, (void **)&book->scratch, &book->scratch_cap, total + 1,
	              sizeof(*book->scratch));
	if (err != LVC_OK) {
		return err;
	}
	for (int side = 0; side < 2; side++) {
		for (int cls = c0; cls <= c1; cls++) {
			for (int l = 0; l < NLEV; l++) {
				lvc__btree_t *t = &ins->tree[side][cls][l];
				lvc__bcur_t c = lvc__btree_first(&book->npool, t);

				for (; c.leaf != 0; lvc__btree_next(&book->npool, &c)) {
					book->scratch[k++] = lvc__bcur_id(&book->npool, c);
				}
				lvc__btree_clear(&book->npool, t);
			}
		}
	}
	for (size_t i = 0; i < k; i++) {
		lvc__bpos_t *p = POS(book, book->scratch[i]);

		if (p->flags & LVC__F_TIERED) {
			book->n_tiered--;
		}
		set_where(book, p, LVC__W_NONE);
	}
	*n = k;
	return LVC_OK;
}

/* Re-places every collected position (class, key, level afresh). The
 * scratch array is not touched by iso_place(). */
static lvc_err_t place_collected(lvc_book_t *book, bk_ins_t *ins, size_t n, int64_t ts_us)
{
	for (size_t i = 0; i < n; i++) {
		lvc_err_t err = iso_place(book, ins, book->scratch[i], ts_us);

		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

static double guard_for(double mmr0)
{
	return mmr0 <= GUARD ? GUARD : 0.5 * (1.0 + mmr0);
}

/* The instrument just became ready: orders its pending positions. */
static lvc_err_t ins_make_ready(lvc_book_t *book, bk_ins_t *ins, int64_t ts_us)
{
	ins->guard = guard_for(ins->tiers.mmr[0]);
	ins->order_cap0 = tiers_cap0(&ins->tiers);
	ins->ordered = 1;
	ins_factors(ins);
	while (ins->pending_head != LVC__BNIL) {
		uint32_t idx = ins->pending_head;
		lvc__bpos_t *p = POS(book, idx);
		lvc_err_t err;

		ins->pending_head = p->link[1];
		if (ins->pending_head != LVC__BNIL) {
			POS(book, ins->pending_head)->link[0] = LVC__BNIL;
		}
		p->link[0] = LVC__BNIL;
		p->link[1] = LVC__BNIL;
		set_where(book, p, LVC__W_NONE);
		err = iso_place(book, ins, idx, ts_us);
		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

static void pending_add(lvc_book_t *book, bk_ins_t *ins, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);

	p->link[0] = LVC__BNIL;
	p->link[1] = ins->pending_head;
	if (ins->pending_head != LVC__BNIL) {
		POS(book, ins->pending_head)->link[0] = idx;
	}
	ins->pending_head = idx;
	set_where(book, p, LVC__W_PENDING);
}

static void pending_del(lvc_book_t *book, bk_ins_t *ins, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);

	if (p->link[0] != LVC__BNIL) {
		POS(book, p->link[0])->link[1] = p->link[1];
	} else {
		ins->pending_head = p->link[1];
	}
	if (p->link[1] != LVC__BNIL) {
		POS(book, p->link[1])->link[0] = p->link[0];
	}
	p->link[0] = LVC__BNIL;
	p->link[1] = LVC__BNIL;
	set_where(book, p, LVC__W_NONE);
}

/* ---- cross accounts ----------------------------------------------------- */

static void cross_add(lvc_book_t *book, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);
	bk_ins_t *ins = &book->ins[p->ins];
	bk_acc_t *a = &book->acc[p->acc];
	uint32_t prev = LVC__BNIL;
	uint32_t cur = a->cross_head;

	p->link[0] = LVC__BNIL;
	p->link[1] = ins->cross_head;
	if (ins->cross_head != LVC__BNIL) {
		POS(book, ins->cross_head)->link[0] = idx;
	}
	ins->cross_head = idx;
	ins->cross_n++;
	/* The account's list is kept in instrument-name order so that its sums
	 * are taken in an order that does not depend on arrival. */
	while (cur != LVC__BNIL && strcmp(book->ins[POS(book, cur)->ins].name, ins->name) < 0) {
		prev = cur;
		cur = POS(book, cur)->link[2];
	}
	p->link[2] = cur;
	if (prev != LVC__BNIL) {
		POS(book, prev)->link[2] = idx;
	} else {
		a->cross_head = idx;
	}
	a->cross_n++;
	set_where(book, p, LVC__W_CROSS);
}

static void cross_del(lvc_book_t *book, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);
	bk_ins_t *ins = &book->ins[p->ins];
	bk_acc_t *a = &book->acc[p->acc];
	uint32_t prev = LVC__BNIL;
	uint32_t cur = a->cross_head;

	if (p->link[0] != LVC__BNIL) {
		POS(book, p->link[0])->link[1] = p->link[1];
	} else {
		ins->cross_head = p->link[1];
	}
	if (p->link[1] != LVC__BNIL) {
		POS(book, p->link[1])->link[0] = p->link[0];
	}
	ins->cross_n--;
	while (cur != idx) {
		prev = cur;
		cur = POS(book, cur)->link[2];
	}
	if (prev != LVC__BNIL) {
		POS(book, prev)->link[2] = p->link[2];
	} else {
		a->cross_head = p->link[2];
	}
	a->cross_n--;
	p->link[0] = LVC__BNIL;
	p->link[1] = LVC__BNIL;
	p->link[2] = LVC__BNIL;
	set_where(book, p, LVC__W_NONE);
}

/* Evaluates every cross position of an account: equity and MM summed in
 * instrument-name order, each position's L solved as an isolated one whose
 * collateral is the account's equity and margin from everything else. */
static lvc_err_t acc_eval(lvc_book_t *book, uint32_t acc_id, int64_t ts_us)
{
	const bk_acc_t *a = &book->acc[acc_id];
	double eq;
	double mm = 0.0;
	int liq;

	if (a->cross_n == 0 || !a->has_balance) {
		return LVC_OK;
	}
	for (uint32_t i = a->cross_head; i != LVC__BNIL; i = POS(book, i)->link[2]) {
		if (!ins_ready(&book->ins[POS(book, i)->ins])) {
			return LVC_OK;
		}
	}
	eq = a->balance;
	for (uint32_t i = a->cross_head; i != LVC__BNIL; i = POS(book, i)->link[2]) {
		const lvc__bpos_t *p = POS(book, i);
		const bk_ins_t *ins = &book->ins[p->ins];

		eq += p->size * (ins->mark - p->entry);
		mm += tiers_mm(&ins->tiers, fabs(p->size) * ins->mark);
	}
	liq = eq <= mm;
	for (uint32_t i = a->cross_head; i != LVC__BNIL; i = POS(book, i)->link[2]) {
		lvc__bpos_t *p = POS(book, i);
		const bk_ins_t *ins = &book->ins[p->ins];
		double m = ins->mark;
		double pnl = p->size * (m - p->entry);
		double pmm = tiers_mm(&ins->tiers, fabs(p->size) * m);
		lvc_level_t old = (lvc_level_t)p->level;
		lvc_level_t nl;
		bk_eval_t ev;

		ev.equity = eq;
		ev.mm = mm;
		ev.liq = liq;
		ev.L = 0.0;
		ev.has_L =
		    solve_liq(&ins->tiers, p->size, p->entry, (eq - pnl) - (mm - pmm), &ev.L);
		ev.dist = ev.has_L ? fabs(log(m / ev.L)) / ins->sigma_h : INFINITY;
		book->evaluations++;
		nl = next_level(&ins->warn, old, liq, ev.dist);
		if (nl != old) {
			lvc_err_t err;

			p->level = (uint8_t)nl;
			err = queue_warning(book, p, ts_us, old, &ev);
			if (err != LVC_OK) {
				return err;
			}
		}
	}
	return LVC_OK;
}

/* Re-evaluates every cross account holding the instrument. */
static lvc_err_t ins_cross_eval(lvc_book_t *book, uint32_t ins_id, int64_t ts_us)
{
	for (uint32_t i = book->ins[ins_id].cross_head; i != LVC__BNIL; i = POS(book, i)->link[1]) {
		lvc_err_t err = acc_eval(book, POS(book, i)->acc, ts_us);

		if (err != LVC_OK) {
			return err;
		}
	}
	return LVC_OK;
}

/* Unlinks a position from whatever holds it (where becomes NONE). */
static void pos_detach(lvc_book_t *book, uint32_t idx)
{
	lvc__bpos_t *p = POS(book, idx);
	bk_ins_t *ins = &book->ins[p->ins];

	switch (lvc__bpos_where(p)) {
	case LVC__W_TREE:
		tree_del(book, ins, idx);
		break;
	case LVC__W_PENDING:
		pending_del(book, ins, idx);
		break;
	case LVC__W_CROSS:
		cross_del(book, idx);
		break;
	default:
		break;
	}
}

/* Links an isolated position (where NONE) into its instrument. */
static lvc_err_t iso_attach(lvc_book_t *book, uint32_t idx, int64_t ts_us)
{
	bk_ins_t *ins = &book->ins[POS(book, idx)->ins];

	if (ins->ordered) {
		return iso_place(book, ins, idx, ts_us);
	}
	pending_add(book, ins, idx);
	return LVC_OK;
}

/* After the instrument's limit, sigma or mark changed: orders it when it
 * just became ready, else restores (I) as the change requires; then the
 * cross accounts. */
static lvc_err_t ins_changed(lvc_book_t *book, uint32_t ins_id, int tiers_changed, int64_t ts_us)
{
	bk_ins_t *ins = &book->ins[ins_id];
	lvc_err_t err = LVC_OK;
	size_t n;

	if (!ins_ready(ins)) {
		return LVC_OK;
	}
	if (!ins->ordered) {
		err = ins_make_ready(book, ins, ts_us);
	} else if (tiers_changed) {
		if (tiers_cap0(&ins->tiers) != ins->order_cap0 ||
		    (ins->tiers.n > 1 && ins->tiers.mmr[0] > ins->guard)) {
			/* The classes no longer hold: reorder everything. */
			ins->guard = guard_for(ins->tiers.mmr[0]);
			ins->order_cap0 = tiers_cap0(&ins->tiers);
			ins_factors(ins);
			book->rebuilds++;
			err = ins_collect(book, ins, CLS_T0, CLS_TIER, &n);
			if (err == LVC_OK) {
				err = place_collected(book, ins, n, ts_us);
			}
		} else {
			ins_factors(ins);
			err = ins_collect(book, ins, CLS_TIER, CLS_TIER, &n);
			if (err == LVC_OK) {
				err = place_collected(book, ins, n, ts_us);
			}
			if (err == LVC_OK) {
				err = ins_rescan(book, ins, ts_us);
			}
		}
	} else {
		err = ins_rescan(book, ins, ts_us);
	}
	if (err == LVC_OK) {
		err = ins_cross_eval(book, ins_id, ts_us);
	}
	return err;
}

/* ---- public API --------------------------------------------------------- */

static int warn_ok(const lvc_warn_params_t *w)
{
	return isfinite(w->watch) && isfinite(w->warning) && isfinite(w->critical) &&
	       isfinite(w->hysteresis) && w->critical > 0 && w->warning > w->critical &&
	       w->watch > w->warning && w->hysteresis >= 0;
}

lvc_book_t *lvc_book_new(const lvc_book_conf_t *conf, char *errstr, size_t errstr_size)
{
	lvc_book_t *book = NULL;

	if (conf == NULL || conf->emit == NULL) {
		set_err(errstr, errstr_size, "book: an emit callback is required");
		goto fail;
	}
	if (!warn_ok(&conf->warn)) {
		set_err(errstr, errstr_size,
		        "warnings: thresholds must be finite with watch > warning > critical > 0 "
		        "and hysteresis >= 0");
		goto fail;
	}
	for (size_t i = 0; i < conf->overrides_n; i++) {
		if (conf->overrides[i].name == NULL || !warn_ok(&conf->overrides[i].params.warn)) {
			set_err(errstr, errstr_size,
			        "instruments.%s.warnings: thresholds must be finite with watch > "
			        "warning > critical > 0 and hysteresis >= 0",
			        conf->overrides[i].name != NULL ? conf->overrides[i].name : "?");
			goto fail;
		}
	}
	book = calloc(1, sizeof(*book));
	if (book == NULL) {
		goto nomem;
	}
	book->bytes = sizeof(*book);
	book->conf = *conf;
	if (lvc__bpool_init(&book->pool, conf->positions_hint) != LVC_OK ||
	    lvc__bnpool_init(&book->npool) != LVC_OK ||
	    slots_new(book, 16, &book->ins_slots, &book->ins_mask) != LVC_OK ||
	    slots_new(book, conf->accounts_hint, &book->acc_slots, &book->acc_mask) != LVC_OK ||
	    slots_new(book, conf->positions_hint, &book->pos_slots, &book->pos_mask) != LVC_OK) {
		goto nomem;
	}
	return book;

nomem:
	set_err(errstr, errstr_size, "book: out of memory");
fail:
	lvc_book_destroy(book);
	return NULL;
}

void lvc_book_destroy(lvc_book_t *book)
{
	bk_chunk_t *c;

	if (book == NULL) {
		return;
	}
	c = book->chunks;
	while (c != NULL) {
		bk_chunk_t *next = c->next;

		free(c);
		c = next;
	}
	free(book->order);
	free(book->queue);

	free(book->cand);
	free(book->scratch);
	free(book->pos_slots);
	free(book->acc_slots);
	free(book->acc);
	free(book->ins_slots);
	free(book->ins);
	lvc__bnpool_destroy(&book->npool);
	lvc__bpool_destroy(&book->pool);
	free(book);
}

static int str_ok(const char *s)
{
	return s != NULL && s[0] != '\0';
}

lvc_err_t lvc_book_on_position(lvc_book_t *book, const lvc_position_t *pos, char *errstr,
                               size_t errstr_size)
{
	uint32_t ins_id;
	uint32_t acc_id;
	uint32_t idx;
	int created;
	int was_cross;
	int cross;
	lvc__bpos_t *p;
	lvc_err_t err;

	if (!str_ok(pos->account) || !str_ok(pos->instrument)) {
		set_err(errstr, errstr_size, "position: account and instrument must be non-empty");
		return LVC_ERR_INVALID;
	}
	if ((unsigned)pos->margin_mode >= LVC_MARGIN__COUNT) {
		set_err(errstr, errstr_size, "position %s|%s: unknown margin_mode", pos->account,
		        pos->instrument);
		return LVC_ERR_INVALID;
	}
	if (!isfinite(pos->size)) {
		set_err(errstr, errstr_size, "position %s|%s: size must be finite", pos->account,
		        pos->instrument);
		return LVC_ERR_INVALID;
	}
	if (pos->size == 0) {
		return lvc_book_on_close(book, pos->account, pos->instrument, pos->ts_us, errstr,
		                         errstr_size);
	}
	cross = pos->margin_mode == LVC_MARGIN_CROSS;
	if (!isfinite(pos->entry_price) || !(pos->entry_price > 0)) {
		set_err(errstr, errstr_size, "position %s|%s: entry_price must be finite and > 0",
		        pos->account, pos->instrument);
		return LVC_ERR_INVALID;
	}
	if (!cross && (!isfinite(pos->collateral) || pos->collateral < 0 ||
	               !isfinite(pos->entry_price - pos->collateral / pos->size))) {
		set_err(errstr, errstr_size,
		        "position %s|%s: isolated collateral must be finite, >= 0 and finite "
		        "per unit of size",
		        pos->account, pos->instrument);
		return LVC_ERR_INVALID;
	}

	err = ins_intern(book, pos->instrument, &ins_id);
	if (err == LVC_OK) {
		err = acc_intern(book, pos->account, &acc_id);
	}
	if (err == LVC_OK) {
		err = pos_get(book, acc_id, ins_id, &idx, &created);
	}
	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "position %s|%s: out of memory", pos->account,
		        pos->instrument);
		return err;
	}
	p = POS(book, idx);
	was_cross = lvc__bpos_where(p) == LVC__W_CROSS;
	pos_detach(book, idx);
	p->size = pos->size;
	p->entry = pos->entry_price;
	p->collateral = cross ? 0.0 : pos->collateral;
	p->key = 0.0;
	p->flags = (uint8_t)((p->flags & ~(LVC__F_SHORT | LVC__F_TIERED)) |
	                     (pos->size < 0 ? LVC__F_SHORT : 0));
	if (cross) {
		cross_add(book, idx);
	} else {
		err = iso_attach(book, idx, pos->ts_us);
	}
	if (err == LVC_OK && (cross || was_cross)) {
		err = acc_eval(book, acc_id, pos->ts_us);
	}
	return flush(book, err);
}

lvc_err_t lvc_book_on_close(lvc_book_t *book, const char *account, const char *instrument,
                            int64_t ts_us, char *errstr, size_t errstr_size)
{
	uint32_t ins_id;
	uint32_t acc_id;
	uint32_t idx;
	lvc__bpos_t *p;
	int was_cross;
	lvc_err_t err = LVC_OK;

	if (!str_ok(account) || !str_ok(instrument)) {
		set_err(errstr, errstr_size, "position: account and instrument must be non-empty");
		return LVC_ERR_INVALID;
	}
	ins_id = ins_find(book, instrument, hash_str(instrument));
	acc_id = acc_find(book, account, hash_str(account));
	if (ins_id == NONE32 || acc_id == NONE32) {
		return LVC_OK;
	}
	idx = pos_find(book, acc_id, ins_id, NULL);
	if (idx == LVC__BNIL || lvc__bpos_where(POS(book, idx)) == LVC__W_NONE) {
		return LVC_OK;
	}
	p = POS(book, idx);
	was_cross = lvc__bpos_where(p) == LVC__W_CROSS;
	pos_detach(book, idx);
	if (p->level != LVC_LEVEL_CLEAR) {
		lvc_level_t old = (lvc_level_t)p->level;

		p->level = LVC_LEVEL_CLEAR;
		p->size = 0.0;
		err = queue_warning(book, p, ts_us, old, NULL);
	}
	p->size = 0.0;
	p->entry = 0.0;
	p->collateral = 0.0;
	p->key = 0.0;
	if (!has_state(p)) {
		pos_drop(book, idx);
	}
	if (err == LVC_OK && was_cross) {
		err = acc_eval(book, acc_id, ts_us);
	}
	return flush(book, err);
}

lvc_err_t lvc_book_on_balance(lvc_book_t *book, const lvc_balance_t *bal, char *errstr,
                              size_t errstr_size)
{
	uint32_t acc_id;
	lvc_err_t err;

	if (!str_ok(bal->account) || !isfinite(bal->collateral)) {
		set_err(errstr, errstr_size,
		        "balance %s: account must be non-empty and collateral finite",
		        bal->account != NULL ? bal->account : "(null)");
		return LVC_ERR_INVALID;
	}
	err = acc_intern(book, bal->account, &acc_id);
	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "balance %s: out of memory", bal->account);
		return err;
	}
	book->acc[acc_id].balance = bal->collateral;
	book->acc[acc_id].has_balance = 1;
	return flush(book, acc_eval(book, acc_id, bal->ts_us));
}

/* Checks and converts the tiers of a limit. */
static int tiers_from_limit(const lvc_limit_t *lim, bk_tiers_t *t)
{
	if (lim->tiers_n > LVC_MAX_TIERS) {
		return 0;
	}
	if (lim->tiers_n == 0) {
		t->n = 1;
		t->cap[0] = INFINITY;
		t->mmr[0] = lim->mmr;
		t->ded[0] = 0.0;
	} else {
		t->n = lim->tiers_n;
		for (size_t i = 0; i < t->n; i++) {
			t->cap[i] = lim->tiers[i].notional_cap;
			t->mmr[i] = lim->tiers[i].mmr;
			t->ded[i] = lim->tiers[i].maintenance_deduction;
			if (!(t->cap[i] > 0) || isnan(t->cap[i]) || !isfinite(t->ded[i]) ||
			    (i > 0 && !(t->cap[i] > t->cap[i - 1]))) {
				return 0;
			}
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		if (!(t->mmr[i] >= 0 && t->mmr[i] < 1)) {
			return 0;
		}
		/* Maintenance must be continuous across each cap (SPEC §4's
		 * deductions make it so): the liquidation price is then the one
		 * root of a monotone function, which the trees rely on. */
		if (i > 0) {
			double below = t->cap[i - 1] * t->mmr[i - 1] - t->ded[i - 1];
			double above = t->cap[i - 1] * t->mmr[i] - t->ded[i];

			if (!(fabs(below - above) <= 1e-9 * fmax(1.0, fabs(below)))) {
				return 0;
			}
		}
	}
	return t->ded[0] == 0.0;
}

lvc_err_t lvc_book_on_limit(lvc_book_t *book, const lvc_limit_t *lim, char *errstr,
                            size_t errstr_size)
{
	bk_tiers_t t;
	uint32_t ins_id;
	bk_ins_t *ins;
	lvc_err_t err;

	if (!str_ok(lim->instrument)) {
		set_err(errstr, errstr_size, "limit: instrument must be non-empty");
		return LVC_ERR_INVALID;
	}
	if (!tiers_from_limit(lim, &t)) {
		set_err(errstr, errstr_size,
		        "limit %s: tiers need ascending caps > 0, 0 <= mmr < 1, deduction 0 in the "
		        "first tier and deductions that keep maintenance continuous at each cap",
		        lim->instrument);
		return LVC_ERR_INVALID;
	}
	err = ins_intern(book, lim->instrument, &ins_id);
	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "limit %s: out of memory", lim->instrument);
		return err;
	}
	ins = &book->ins[ins_id];
	ins->tiers = t;
	ins->has_limit = 1;
	if (!ins->has_sigma && isfinite(lim->sigma_horizon) && lim->sigma_horizon > 0 &&
	    isfinite(lim->sigma_ann) && lim->sigma_ann >= 0) {
		ins->sigma_ann = lim->sigma_ann;
		ins->sigma_h = lim->sigma_horizon;
		ins->has_sigma = 1;
	}
	return flush(book, ins_changed(book, ins_id, 1, lim->ts_us));
}

lvc_err_t lvc_book_on_sigma(lvc_book_t *book, const char *instrument, int64_t ts_us,
                            double sigma_ann, double sigma_h, char *errstr, size_t errstr_size)
{
	uint32_t ins_id;
	bk_ins_t *ins;
	lvc_err_t err;

	if (!str_ok(instrument) || !isfinite(sigma_h) || !(sigma_h > 0) || !isfinite(sigma_ann) ||
	    sigma_ann < 0) {
		set_err(errstr, errstr_size,
		        "sigma %s: sigma_h must be finite and > 0, sigma_ann finite and >= 0",
		        instrument != NULL ? instrument : "(null)");
		return LVC_ERR_INVALID;
	}
	err = ins_intern(book, instrument, &ins_id);
	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "sigma %s: out of memory", instrument);
		return err;
	}
	ins = &book->ins[ins_id];
	ins->sigma_ann = sigma_ann;
	ins->sigma_h = sigma_h;
	ins->has_sigma = 1;
	if (ins->ordered) {
		ins_factors(ins);
	}
	return flush(book, ins_changed(book, ins_id, 0, ts_us));
}

lvc_err_t lvc_book_instrument(lvc_book_t *book, const char *instrument, uint32_t *id)
{
	if (!str_ok(instrument)) {
		return LVC_ERR_INVALID;
	}
	return ins_intern(book, instrument, id);
}

lvc_err_t lvc_book_on_mark_id(lvc_book_t *book, uint32_t id, int64_t ts_us, double mark,
                              char *errstr, size_t errstr_size)
{
	bk_ins_t *ins;

	if (id >= book->ins_n) {
		set_err(errstr, errstr_size, "mark: unknown instrument id");
		return LVC_ERR_NOT_FOUND;
	}
	ins = &book->ins[id];
	if (!isfinite(mark) || !(mark > 0)) {
		set_err(errstr, errstr_size, "mark %s: price must be finite and > 0", ins->name);
		return LVC_ERR_INVALID;
	}
	if (ins->has_mark && ts_us < ins->mark_ts) {
		book->marks_late++;
		return LVC_OK;
	}
	ins->mark = mark;
	ins->mark_ts = ts_us;
	ins->has_mark = 1;
	book->marks++;
	return flush(book, ins_changed(book, id, 0, ts_us));
}

lvc_err_t lvc_book_on_mark(lvc_book_t *book, const char *instrument, int64_t ts_us, double mark,
                           char *errstr, size_t errstr_size)
{
	uint32_t id;
	lvc_err_t err = lvc_book_instrument(book, instrument, &id);

	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "mark %s: instrument must be non-empty (%s)",
		        instrument != NULL ? instrument : "(null)", lvc_err2str(err));
		return err;
	}
	return lvc_book_on_mark_id(book, id, ts_us, mark, errstr, errstr_size);
}

static void state_write(const lvc__bpos_t *p, uint8_t out[LVC_BOOK_STATE_SIZE])
{
	uint64_t s = (uint64_t)p->seq;

	out[0] = 1;
	out[1] = p->level;
	for (int i = 0; i < 8; i++) {
		out[2 + i] = (uint8_t)(s >> (56 - 8 * i));
	}
}

lvc_err_t lvc_book_state_get(const lvc_book_t *book, const char *account, const char *instrument,
                             uint8_t out[LVC_BOOK_STATE_SIZE])
{
	uint32_t ins_id;
	uint32_t acc_id;
	uint32_t idx;

	if (!str_ok(account) || !str_ok(instrument)) {
		return LVC_ERR_INVALID;
	}
	ins_id = ins_find(book, instrument, hash_str(instrument));
	acc_id = acc_find(book, account, hash_str(account));
	if (ins_id == NONE32 || acc_id == NONE32) {
		return LVC_ERR_NOT_FOUND;
	}
	idx = pos_find(book, acc_id, ins_id, NULL);
	if (idx == LVC__BNIL || !has_state(POS(book, idx))) {
		return LVC_ERR_NOT_FOUND;
	}
	state_write(POS(book, idx), out);
	return LVC_OK;
}

lvc_err_t lvc_book_state_set(lvc_book_t *book, const char *account, const char *instrument,
                             int64_t ts_us, const uint8_t *buf, size_t len, char *errstr,
                             size_t errstr_size)
{
	uint32_t ins_id;
	uint32_t acc_id;
	uint32_t idx;
	uint64_t seq = 0;
	int created;
	unsigned where;
	lvc__bpos_t *p;
	lvc_err_t err;

	if (!str_ok(account) || !str_ok(instrument)) {
		set_err(errstr, errstr_size, "state: account and instrument must be non-empty");
		return LVC_ERR_INVALID;
	}
	if (buf == NULL || len != LVC_BOOK_STATE_SIZE || buf[0] != 1 || buf[1] >= NLEV ||
	    (buf[2] & 0x80) != 0) {
		set_err(errstr, errstr_size,
		        "state %s|%s: expected 10 bytes of format 1 with a level 0..4 and seq >= 0",
		        account, instrument);
		return LVC_ERR_INVALID;
	}
	for (int i = 0; i < 8; i++) {
		seq = (seq << 8) | buf[2 + i];
	}
	err = ins_intern(book, instrument, &ins_id);
	if (err == LVC_OK) {
		err = acc_intern(book, account, &acc_id);
	}
	if (err == LVC_OK) {
		err = pos_get(book, acc_id, ins_id, &idx, &created);
	}
	if (err != LVC_OK) {
		set_err(errstr, errstr_size, "state %s|%s: out of memory", account, instrument);
		return err;
	}
	p = POS(book, idx);
	where = lvc__bpos_where(p);
	if (where == LVC__W_TREE) {
		pos_detach(book, idx);
	}
	p->seq = (int64_t)seq;
	p->level = buf[1];
	switch (where) {
	case LVC__W_TREE:
		err = iso_place(book, &book->ins[ins_id], idx, ts_us);
		break;
	case LVC__W_CROSS:
		err = acc_eval(book, acc_id, ts_us);
		break;
	case LVC__W_NONE:
		if (!has_state(p)) {
			pos_drop(book, idx);
		}
		break;
	default:
		break;
	}
	return flush(book, err);
}

int lvc_book_state_foreach(const lvc_book_t *book, lvc_book_state_fn *fn, void *opaque)
{
	uint8_t st[LVC_BOOK_STATE_SIZE];

	for (size_t i = 0; i <= book->pos_mask; i++) {
		uint32_t idx = book->pos_slots[i];
		const lvc__bpos_t *p;
		int rc;

		if (idx == LVC__BNIL) {
			continue;
		}
		p = POS(book, idx);
		if (!has_state(p)) {
			continue;
		}
		state_write(p, st);
		rc = fn(opaque, book->acc[p->acc].name, book->ins[p->ins].name, st);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

void lvc_book_stats(const lvc_book_t *book, lvc_book_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	out->positions = book->n_where[LVC__W_PENDING] + book->n_where[LVC__W_TREE] +
	                 book->n_where[LVC__W_CROSS];
	out->positions_pending = book->n_where[LVC__W_PENDING];
	out->positions_cross = book->n_where[LVC__W_CROSS];
	out->positions_tiered = book->n_tiered;
	out->positions_dormant = book->n_where[LVC__W_NONE];
	out->accounts = book->acc_n;
	out->instruments = book->ins_n;
	out->bytes = book->bytes + book->pool.bytes + book->npool.bytes;
	out->marks = book->marks;
	out->marks_late = book->marks_late;
	out->evaluations = book->evaluations;
	out->warnings = book->warnings;
	out->rebuilds = book->rebuilds;
}
