/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Engine state snapshots (see engine.h): what the stage writes to its
 * compacted state topic in the transaction that commits the inputs that
 * produced it, and restores before a partition's first record.
 *
 * An instrument's snapshot holds everything that decides its future
 * events: the volatility state (lvc_vol_snapshot, bit-exact), the policy
 * state field by field, the newest tick and the "touch" counter that
 * orders instruments of equal newest tick in their staleness list (so that
 * STALE limits come out in the same order), and what the position book
 * holds for it: the tiers of its last limit, the sigma last given to the
 * book (which can differ from the engine's, see SIGMA_MATERIAL in
 * engine.c) and its last mark. Book state is rebuilt through the book's
 * own API (marks, sigma, limit), never by copying its internals.
 *
 * Change tracking: engine.c marks an instrument dirty whenever a tick,
 * mark or clock touches it, a partition when its clock moves, and a
 * position when the book emits a warning for it (the book's state of a key
 * changes exactly then). Lists of dirty items grow geometrically and are
 * reused; if one cannot grow, every state counts as changed until the next
 * clear, so nothing is ever missed.
 *
 * Format (version 1, little-endian): see put_instrument(). Snapshots are
 * small: about 170 bytes plus 40 per tier plus the volatility state (under
 * 4 KiB with the default config).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/book.h"
#include "core/engine.h"
#include "core/engine_int.h"
#include "core/policy.h"
#include "core/symtab.h"
#include "core/vol.h"
#include "core/errfmt.h"
#include "core/grow.h"

#define FORMAT_INSTRUMENT 1
#define FORMAT_PARTITION  1

#define F_LISTED   0x01u
#define F_BK_SIGMA 0x02u
#define F_BK_MARK  0x04u
#define F_BK_LIMIT 0x08u

_Static_assert(LVC_ENGINE_POS_STATE_SIZE == LVC_BOOK_STATE_SIZE,
               "the engine's position state is the book's");

/* ---- change tracking ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	return lvc_grow(p, cap, need, size, 64);
}

void lvc__engine_dirty_ins(lvc_engine_t *eng, int32_t idx)
{
	ins_t *in = &eng->ins[idx];

	if (in->dirty) {
		return;
	}
	if (grow((void **)&eng->dirty_ins, &eng->dirty_ins_cap, eng->dirty_ins_n + 1,
	         sizeof(*eng->dirty_ins)) != 0) {
		eng->dirty_overflow = 1;
		return;
	}
	eng->dirty_ins[eng->dirty_ins_n++] = idx;
	in->dirty = 1;
}

void lvc__engine_dirty_part(lvc_engine_t *eng, int32_t partition)
{
	part_t *p = &eng->parts[partition];

	if (p->dirty) {
		return;
	}
	if (grow((void **)&eng->dirty_parts, &eng->dirty_parts_cap, eng->dirty_parts_n + 1,
	         sizeof(*eng->dirty_parts)) != 0) {
		eng->dirty_overflow = 1;
		return;
	}
	eng->dirty_parts[eng->dirty_parts_n++] = partition;
	p->dirty = 1;
}

void lvc__engine_dirty_pos(lvc_engine_t *eng, const lvc_warning_t *w, int32_t partition)
{
	lvc__dirty_pos_t *d;

	if (grow((void **)&eng->dirty_pos, &eng->dirty_pos_cap, eng->dirty_pos_n + 1,
	         sizeof(*eng->dirty_pos)) != 0) {
		eng->dirty_overflow = 1;
		return;
	}
	d = &eng->dirty_pos[eng->dirty_pos_n++];
	d->account = w->account;
	d->instrument = w->instrument;
	d->partition = partition;
}

void lvc__engine_book_limit(lvc_engine_t *eng, int32_t idx, const lvc_limit_t *lim)
{
	ins_t *in = &eng->ins[idx];
	lvc__bk_limit_t *b = in->bk_limit;

	if (b == NULL && (b = in->bk_limit = malloc(sizeof(*b))) == NULL) {
		/* The snapshot then lacks the book's tiers; a later limit
		 * retries. Nothing else depends on the mirror. */
		return;
	}
	b->ts_us = lim->ts_us;
	b->sigma_ann = lim->sigma_ann;
	b->sigma_horizon = lim->sigma_horizon;
	b->mmr = lim->mmr;
	b->tiers_n = lim->tiers_n <= LVC_MAX_TIERS ? lim->tiers_n : LVC_MAX_TIERS;
	memcpy(b->tiers, lim->tiers, b->tiers_n * sizeof(b->tiers[0]));
	/* The book takes its first sigma from the first limit (see
	 * lvc_book_on_limit()). */
	if (!in->has_bk_sigma && isfinite(lim->sigma_horizon) && lim->sigma_horizon > 0 &&
	    isfinite(lim->sigma_ann) && lim->sigma_ann >= 0) {
		in->has_bk_sigma = 1;
		in->bk_sigma_ann = lim->sigma_ann;
		in->bk_sigma_h = lim->sigma_horizon;
	}
}

void lvc__engine_state_free(lvc_engine_t *eng)
{
	if (eng->syms != NULL && eng->ins != NULL) {
		for (size_t i = 0; i < lvc_symtab_count(eng->syms) && i < eng->ins_cap; i++) {
			free(eng->ins[i].bk_limit);
			eng->ins[i].bk_limit = NULL;
		}
	}
	free(eng->dirty_ins);
	free(eng->dirty_parts);
	free(eng->dirty_pos);
	free(eng->restored);
}

/* Instruments that exist (an allocation failure can leave a name without
 * its state). */
static size_t ins_count(const lvc_engine_t *eng)
{
	size_t n = lvc_symtab_count(eng->syms);

	return n < eng->ins_cap ? n : eng->ins_cap;
}

typedef struct pos_walk_s {
	const lvc_engine_t *eng;
	lvc_change_fn *fn;
	void *opaque;
} pos_walk_t;

static int walk_pos(void *opaque, const char *account, const char *instrument,
                    const uint8_t state[LVC_BOOK_STATE_SIZE])
{
	pos_walk_t *w = opaque;
	lvc_change_t ch;

	(void)state;
	ch.kind = LVC_CHANGE_POSITION;
	ch.partition = lvc_engine_instrument_partition(w->eng, instrument);
	ch.instrument = instrument;
	ch.account = account;
	return w->fn(w->opaque, &ch);
}

int lvc_engine_changes(const lvc_engine_t *eng, int all, lvc_change_fn *fn, void *opaque)
{
	lvc_change_t ch;
	int rc;

	if (all || eng->dirty_overflow) {
		pos_walk_t w = { eng, fn, opaque };

		for (size_t i = 0; i < ins_count(eng); i++) {
			if (eng->ins[i].vol == NULL) {
				continue;
			}
			ch.kind = LVC_CHANGE_INSTRUMENT;
			ch.partition = eng->ins[i].partition;
			ch.instrument = lvc_symtab_name(eng->syms, (int32_t)i);
			ch.account = NULL;
			if ((rc = fn(opaque, &ch)) != 0) {
				return rc;
			}
		}
		for (size_t p = 0; p < eng->parts_n; p++) {
			if (eng->parts[p].clock_us == INT64_MIN) {
				continue;
			}
			ch.kind = LVC_CHANGE_PARTITION;
			ch.partition = (int32_t)p;
			ch.instrument = ch.account = NULL;
			if ((rc = fn(opaque, &ch)) != 0) {
				return rc;
			}
		}
		return lvc_book_state_foreach(eng->book, walk_pos, &w);
	}
	for (size_t i = 0; i < eng->dirty_ins_n; i++) {
		int32_t idx = eng->dirty_ins[i];

		if (eng->ins[idx].vol == NULL) {
			continue;
		}
		ch.kind = LVC_CHANGE_INSTRUMENT;
		ch.partition = eng->ins[idx].partition;
		ch.instrument = lvc_symtab_name(eng->syms, idx);
		ch.account = NULL;
		if ((rc = fn(opaque, &ch)) != 0) {
			return rc;
		}
	}
	for (size_t i = 0; i < eng->dirty_parts_n; i++) {
		ch.kind = LVC_CHANGE_PARTITION;
		ch.partition = eng->dirty_parts[i];
		ch.instrument = ch.account = NULL;
		if ((rc = fn(opaque, &ch)) != 0) {
			return rc;
		}
	}
	for (size_t i = 0; i < eng->dirty_pos_n; i++) {
		const lvc__dirty_pos_t *d = &eng->dirty_pos[i];

		ch.kind = LVC_CHANGE_POSITION;
		ch.partition = d->partition;
		ch.instrument = d->instrument;
		ch.account = d->account;
		if ((rc = fn(opaque, &ch)) != 0) {
			return rc;
		}
	}
	return 0;
}

void lvc_engine_changes_clear(lvc_engine_t *eng)
{
	for (size_t i = 0; i < eng->dirty_ins_n; i++) {
		eng->ins[eng->dirty_ins[i]].dirty = 0;
	}
	for (size_t i = 0; i < eng->dirty_parts_n; i++) {
		eng->parts[eng->dirty_parts[i]].dirty = 0;
	}
	if (eng->dirty_overflow) {
		for (size_t i = 0; i < ins_count(eng); i++) {
			eng->ins[i].dirty = 0;
		}
		for (size_t p = 0; p < eng->parts_n; p++) {
			eng->parts[p].dirty = 0;
		}
	}
	eng->dirty_ins_n = eng->dirty_parts_n = eng->dirty_pos_n = 0;
	eng->dirty_overflow = 0;
}

int32_t lvc_engine_instrument_partition(const lvc_engine_t *eng, const char *instrument)
{
	int32_t idx = lvc_symtab_find(eng->syms, instrument, strlen(instrument));

	return idx >= 0 && (size_t)idx < ins_count(eng) ? eng->ins[idx].partition : -1;
}

/* ---- encoding ---- */

typedef struct wr_s {
	uint8_t *p;
	size_t size;
	size_t n; /* bytes needed so far; written only while they fit */
} wr_t;

static void put(wr_t *w, const void *src, size_t len)
{
	if (w->n + len <= w->size) {
		memcpy(w->p + w->n, src, len);
	}
	w->n += len;
}

static void put_u64(wr_t *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(v >> (8 * i));
	}
	put(w, b, 8);
}

static void put_u8(wr_t *w, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(w, &b, 1);
}

static void put_u32(wr_t *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++) {
		b[i] = (uint8_t)(v >> (8 * i));
	}
	put(w, b, 4);
}

static void put_i64(wr_t *w, int64_t v)
{
	put_u64(w, (uint64_t)v);
}

static void put_f64(wr_t *w, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	put_u64(w, u);
}

typedef struct rd_s {
	const uint8_t *p;
	size_t len;
	size_t at;
	int bad;
} rd_t;

static const uint8_t *take(rd_t *r, size_t len)
{
	const uint8_t *q;

	if (r->bad || r->len - r->at < len) {
		r->bad = 1;
		return NULL;
	}
	q = r->p + r->at;
	r->at += len;
	return q;
}

static uint64_t get_u64(rd_t *r)
{
	const uint8_t *b = take(r, 8);
	uint64_t v = 0;

	if (b == NULL) {
		return 0;
	}
	for (int i = 7; i >= 0; i--) {
		v = (v << 8) | b[i];
	}
	return v;
}

static unsigned get_u8(rd_t *r)
{
	const uint8_t *b = take(r, 1);

	return b != NULL ? *b : 0;
}

static uint32_t get_u32(rd_t *r)
{
	const uint8_t *b = take(r, 4);

	if (b == NULL) {
		return 0;
	}
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int64_t get_i64(rd_t *r)
{
	return (int64_t)get_u64(r);
}

/* A double that must be finite (a corrupt snapshot must not put NaN into
 * the margins). */
static double get_f64(rd_t *r)
{
	uint64_t u = get_u64(r);
	double v;

	memcpy(&v, &u, 8);
	if (!isfinite(v)) {
		r->bad = 1;
	}
	return v;
}

/*
 * Instrument snapshot, version 1:
 *   u8 format, i32 partition (as u32), u8 flags (F_*),
 *   i64 newest tick, u64 touch, f64 book_sigma,
 *   f64 book sigma_ann, f64 book sigma_h, i64 book mark ts, f64 book mark,
 *   policy: i64 seq, i64 last_tick_ts_us, i64 relax_since_ts_us,
 *           f64 published_max_leverage, f64 published_imr, u8 status,
 *           u8 stale, u8 step_idx[LVC_MAX_TIERS], f64 relax_imr,
 *   if F_BK_LIMIT: i64 ts_us, f64 sigma_ann, f64 sigma_horizon, f64 mmr,
 *           u8 tiers_n, tiers_n x (cap, max_leverage, imr, mmr, deduction),
 *   u32 volatility bytes, the lvc_vol_snapshot() bytes.
 * Unused mirrors are written as zeros, so the bytes are a function of the
 * state.
 */
static void put_instrument(wr_t *w, const lvc_engine_t *eng, int32_t idx)
{
	const ins_t *in = &eng->ins[idx];
	const link_t *ln = &eng->links[idx];
	const lvc_policy_t *pol = &in->pol;
	unsigned flags = 0;
	size_t vn;

	flags |= ln->prev != UNLISTED ? F_LISTED : 0;
	flags |= in->has_bk_sigma ? F_BK_SIGMA : 0;
	flags |= in->has_bk_mark ? F_BK_MARK : 0;
	flags |= in->bk_limit != NULL ? F_BK_LIMIT : 0;
	put_u8(w, FORMAT_INSTRUMENT);
	put_u32(w, (uint32_t)in->partition);
	put_u8(w, flags);
	put_i64(w, ln->last_ts_us);
	put_u64(w, in->touch);
	put_f64(w, in->book_sigma);
	put_f64(w, in->has_bk_sigma ? in->bk_sigma_ann : 0.0);
	put_f64(w, in->has_bk_sigma ? in->bk_sigma_h : 0.0);
	put_i64(w, in->has_bk_mark ? in->bk_mark_ts_us : 0);
	put_f64(w, in->has_bk_mark ? in->bk_mark : 0.0);
	put_i64(w, pol->seq);
	put_i64(w, pol->last_tick_ts_us);
	put_i64(w, pol->relax_since_ts_us);
	put_f64(w, pol->published_max_leverage);
	put_f64(w, pol->published_imr);
	put_u8(w, (unsigned)pol->status);
	put_u8(w, pol->stale ? 1u : 0u);
	put(w, pol->step_idx, LVC_MAX_TIERS);
	put_f64(w, pol->relax_imr);
	if (in->bk_limit != NULL) {
		const lvc__bk_limit_t *b = in->bk_limit;

		put_i64(w, b->ts_us);
		put_f64(w, b->sigma_ann);
		put_f64(w, b->sigma_horizon);
		put_f64(w, b->mmr);
		put_u8(w, (unsigned)b->tiers_n);
		for (size_t i = 0; i < b->tiers_n; i++) {
			put_f64(w, b->tiers[i].notional_cap);
			put_f64(w, b->tiers[i].max_leverage);
			put_f64(w, b->tiers[i].imr);
			put_f64(w, b->tiers[i].mmr);
			put_f64(w, b->tiers[i].maintenance_deduction);
		}
	}
	vn = lvc_vol_snapshot(in->vol, NULL, 0);
	put_u32(w, (uint32_t)vn);
	if (w->n + vn <= w->size) {
		lvc_vol_snapshot(in->vol, w->p + w->n, vn);
	}
	w->n += vn;
}

size_t lvc_engine_snapshot_instrument(const lvc_engine_t *eng, const char *instrument, void *buf,
                                      size_t size)
{
	int32_t idx = lvc_symtab_find(eng->syms, instrument, strlen(instrument));
	wr_t w = { buf, buf != NULL ? size : 0, 0 };

	if (idx < 0 || (size_t)idx >= ins_count(eng) || eng->ins[idx].vol == NULL) {
		return 0;
	}
	put_instrument(&w, eng, idx);
	return w.n;
}

size_t lvc_engine_snapshot_partition(const lvc_engine_t *eng, int32_t partition, void *buf,
                                     size_t size)
{
	wr_t w = { buf, buf != NULL ? size : 0, 0 };

	if (partition < 0 || (size_t)partition >= eng->parts_n ||
	    eng->parts[partition].clock_us == INT64_MIN) {
		return 0;
	}
	put_u8(&w, FORMAT_PARTITION);
	put_i64(&w, eng->parts[partition].clock_us);
	return w.n;
}

lvc_err_t lvc_engine_position_state(const lvc_engine_t *eng, const char *account,
                                    const char *instrument, uint8_t out[LVC_ENGINE_POS_STATE_SIZE])
{
	return lvc_book_state_get(eng->book, account, instrument, out);
}

/* ---- restore ---- */

/* The snapshot decoded, before anything is applied. */
typedef struct snap_s {
	int32_t partition;
	unsigned flags;
	int64_t last_ts_us;
	uint64_t touch;
	double book_sigma;
	double bk_sigma_ann, bk_sigma_h;
	int64_t bk_mark_ts_us;
	double bk_mark;
	lvc_policy_t pol;
	lvc__bk_limit_t lim;
	const uint8_t *vol;
	size_t vol_len;
} snap_t;

static int parse_instrument(const void *buf, size_t len, snap_t *s)
{
	rd_t r = { buf, len, 0, 0 };
	unsigned status;
	const uint8_t *steps;

	memset(s, 0, sizeof(*s));
	if (buf == NULL || get_u8(&r) != FORMAT_INSTRUMENT) {
		return -1;
	}
	s->partition = (int32_t)get_u32(&r);
	s->flags = get_u8(&r);
	s->last_ts_us = get_i64(&r);
	s->touch = get_u64(&r);
	s->book_sigma = get_f64(&r);
	s->bk_sigma_ann = get_f64(&r);
	s->bk_sigma_h = get_f64(&r);
	s->bk_mark_ts_us = get_i64(&r);
	s->bk_mark = get_f64(&r);
	lvc_policy_init(&s->pol);
	s->pol.seq = get_i64(&r);
	s->pol.last_tick_ts_us = get_i64(&r);
	s->pol.relax_since_ts_us = get_i64(&r);
	s->pol.published_max_leverage = get_f64(&r);
	s->pol.published_imr = get_f64(&r);
	status = get_u8(&r);
	s->pol.stale = get_u8(&r) != 0;
	if ((steps = take(&r, LVC_MAX_TIERS)) != NULL) {
		memcpy(s->pol.step_idx, steps, LVC_MAX_TIERS);
	}
	s->pol.relax_imr = get_f64(&r);
	if (status >= LVC_STATUS__COUNT || s->partition < 0 || s->pol.seq < 0) {
		return -1;
	}
	s->pol.status = (lvc_limit_status_t)status;
	if (s->flags & F_BK_LIMIT) {
		s->lim.ts_us = get_i64(&r);
		s->lim.sigma_ann = get_f64(&r);
		s->lim.sigma_horizon = get_f64(&r);
		s->lim.mmr = get_f64(&r);
		s->lim.tiers_n = get_u8(&r);
		if (s->lim.tiers_n > LVC_MAX_TIERS) {
			return -1;
		}
		for (size_t i = 0; i < s->lim.tiers_n; i++) {
			lvc_tier_t *t = &s->lim.tiers[i];

			t->notional_cap = get_f64(&r);
			t->max_leverage = get_f64(&r);
			t->imr = get_f64(&r);
			t->mmr = get_f64(&r);
			t->maintenance_deduction = get_f64(&r);
		}
	}
	s->vol_len = get_u32(&r);
	s->vol = take(&r, s->vol_len);
	if (r.bad || r.at != len) {
		return -1;
	}
	if ((s->flags & F_BK_MARK) && !(s->bk_mark > 0)) {
		return -1;
	}
	return 0;
}

static lvc_err_t remember_restored(lvc_engine_t *eng, int32_t idx)
{
	if (eng->ins[idx].restored) {
		return LVC_OK;
	}
	if (grow((void **)&eng->restored, &eng->restored_cap, eng->restored_n + 1,
	         sizeof(*eng->restored)) != 0) {
		return LVC_ERR_NOMEM;
	}
	eng->restored[eng->restored_n++] = idx;
	eng->ins[idx].restored = 1;
	return LVC_OK;
}

lvc_err_t lvc_engine_restore_instrument(lvc_engine_t *eng, const char *instrument, const void *buf,
                                        size_t len, char *errstr, size_t errstr_size)
{
	snap_t s;
	int32_t idx;
	ins_t *in;
	lvc_err_t err, ret = LVC_OK;

	if (instrument == NULL || instrument[0] == '\0') {
		LVC_ERRF("state: an instrument needs a name");
		return LVC_ERR_DECODE;
	}
	if (parse_instrument(buf, len, &s) != 0) {
		LVC_ERRF("state of %s: %zu bytes are not an instrument snapshot of format %d",
		         instrument, len, FORMAT_INSTRUMENT);
		return LVC_ERR_DECODE;
	}
	if (lvc__engine_part(eng, s.partition) == NULL) {
		LVC_ERRF("state of %s: out of memory for partition %d", instrument,
		         (int)s.partition);
		return LVC_ERR_NOMEM;
	}
	if ((idx = lvc__engine_ins(eng, s.partition, instrument, errstr, errstr_size)) < 0) {
		return LVC_ERR_NOMEM;
	}
	in = &eng->ins[idx];
	lvc__engine_list_unlink(eng, idx);
	if (lvc_vol_restore(in->vol, s.vol, s.vol_len) != LVC_OK) {
		lvc_vol_t *fresh = lvc_vol_new(&in->params->vol, in->params->lev.prior_sigma_ann);

		if (fresh == NULL) {
			LVC_ERRF("state of %s: out of memory", instrument);
			return LVC_ERR_NOMEM;
		}
		lvc_vol_destroy(in->vol);
		in->vol = fresh;
		LVC_ERRF(
		    "state of %s: the volatility state (%zu bytes) does not fit the configured "
		    "estimators; they start afresh (seq and limits continue)",
		    instrument, s.vol_len);
		ret = LVC_ERR_CONFIG;
	}
	in->pol = s.pol;
	lvc_policy_configure(&in->pol, in->params);
	eng->links[idx].last_ts_us = s.last_ts_us;
	in->touch = s.touch;
	if (s.touch > eng->touch_seq) {
		eng->touch_seq = s.touch;
	}
	in->was_listed = (s.flags & F_LISTED) != 0;
	in->book_sigma = s.book_sigma;
	in->has_book_id = 0;
	in->has_bk_sigma = (s.flags & F_BK_SIGMA) != 0;
	in->bk_sigma_ann = s.bk_sigma_ann;
	in->bk_sigma_h = s.bk_sigma_h;
	in->has_bk_mark = (s.flags & F_BK_MARK) != 0;
	in->bk_mark_ts_us = s.bk_mark_ts_us;
	in->bk_mark = s.bk_mark;
	free(in->bk_limit);
	in->bk_limit = NULL;
	if (s.flags & F_BK_LIMIT) {
		if ((in->bk_limit = malloc(sizeof(*in->bk_limit))) == NULL) {
			LVC_ERRF("state of %s: out of memory", instrument);
			return LVC_ERR_NOMEM;
		}
		*in->bk_limit = s.lim;
	}
	/* The book's mark and sigma now; its limit (which makes the instrument
	 * ready and evaluates its positions) once the positions' states are
	 * back, in lvc_engine_restore_finish(). */
	if (in->has_bk_mark &&
	    (err = lvc_book_on_mark(eng->book, instrument, in->bk_mark_ts_us, in->bk_mark, errstr,
	                            errstr_size)) != LVC_OK) {
		return err;
	}
	if (in->has_bk_sigma &&
	    (err = lvc_book_on_sigma(
	         eng->book, instrument, in->has_bk_mark ? in->bk_mark_ts_us : s.last_ts_us,
	         in->bk_sigma_ann, in->bk_sigma_h, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	if ((err = remember_restored(eng, idx)) != LVC_OK) {
		LVC_ERRF("state of %s: out of memory", instrument);
		return err;
	}
	return ret;
}

lvc_err_t lvc_engine_restore_partition(lvc_engine_t *eng, int32_t partition, const void *buf,
                                       size_t len, char *errstr, size_t errstr_size)
{
	rd_t r = { buf, len, 0, 0 };
	part_t *p;
	int64_t clock;

	if (buf == NULL || get_u8(&r) != FORMAT_PARTITION || (clock = get_i64(&r), r.bad) ||
	    r.at != len) {
		LVC_ERRF(
		    "state of partition %d: %zu bytes are not a partition snapshot of format %d",
		    (int)partition, len, FORMAT_PARTITION);
		return LVC_ERR_DECODE;
	}
	if ((p = lvc__engine_part(eng, partition)) == NULL) {
		LVC_ERRF("state of partition %d: not allowed or out of memory", (int)partition);
		return partition < 0 ? LVC_ERR_DECODE : LVC_ERR_NOMEM;
	}
	p->clock_us = clock;
	if (clock > eng->now_us) {
		eng->now_us = clock;
	}
	return LVC_OK;
}

lvc_err_t lvc_engine_restore_position(lvc_engine_t *eng, const char *account,
                                      const char *instrument, const void *buf, size_t len,
                                      char *errstr, size_t errstr_size)
{
	int32_t idx =
	    instrument != NULL ? lvc_symtab_find(eng->syms, instrument, strlen(instrument)) : -1;
	int64_t ts = eng->now_us != INT64_MIN ? eng->now_us : 0;

	if (idx >= 0 && (size_t)idx < ins_count(eng) && eng->ins[idx].has_bk_mark) {
		ts = eng->ins[idx].bk_mark_ts_us;
	}
	return lvc_book_state_set(eng->book, account, instrument, ts, buf, len, errstr,
	                          errstr_size);
}

typedef struct order_s {
	int32_t partition;
	int32_t cls;
	int64_t last_ts_us;
	uint64_t touch;
	int32_t idx;
} order_t;

static int order_cmp(const void *a, const void *b)
{
	const order_t *x = a, *y = b;

	if (x->partition != y->partition) {
		return x->partition < y->partition ? -1 : 1;
	}
	if (x->cls != y->cls) {
		return x->cls < y->cls ? -1 : 1;
	}
	if (x->last_ts_us != y->last_ts_us) {
		return x->last_ts_us < y->last_ts_us ? -1 : 1;
	}
	if (x->touch != y->touch) {
		return x->touch < y->touch ? -1 : 1;
	}
	return 0;
}

lvc_err_t lvc_engine_restore_finish(lvc_engine_t *eng, char *errstr, size_t errstr_size)
{
	order_t *ord = NULL;
	size_t n = 0;
	lvc_err_t err = LVC_OK;

	if (eng->restored_n == 0) {
		return LVC_OK;
	}
	if ((ord = malloc(eng->restored_n * sizeof(*ord))) == NULL) {
		LVC_ERRF("restoring state: out of memory");
		return LVC_ERR_NOMEM;
	}
	/* Staleness lists: an instrument's place is given by its newest tick,
	 * and among equal ones by when it entered the list. Inserting in that
	 * order appends each at its list's tail. */
	for (size_t i = 0; i < eng->restored_n; i++) {
		int32_t idx = eng->restored[i];
		const ins_t *in = &eng->ins[idx];

		if (in->was_listed) {
			ord[n].partition = in->partition;
			ord[n].cls = in->cls;
			ord[n].last_ts_us = eng->links[idx].last_ts_us;
			ord[n].touch = in->touch;
			ord[n].idx = idx;
			n++;
		}
	}
	qsort(ord, n, sizeof(*ord), order_cmp);
	for (size_t i = 0; i < n; i++) {
		lvc__engine_list_insert(eng, ord[i].idx);
	}
	free(ord);
	/* The book's limits last: each makes its instrument ready, and its
	 * positions are evaluated from their restored levels. */
	for (size_t i = 0; i < eng->restored_n && err == LVC_OK; i++) {
		int32_t idx = eng->restored[i];
		ins_t *in = &eng->ins[idx];
		lvc_limit_t *lim = &eng->scratch;
		const lvc__bk_limit_t *b = in->bk_limit;
		char why[256];

		in->restored = 0;
		in->was_listed = 0;
		if (b == NULL) {
			continue;
		}
		memset(lim, 0, sizeof(*lim));
		lim->instrument = lvc_symtab_name(eng->syms, idx);
		lim->ts_us = b->ts_us;
		lim->sigma_ann = b->sigma_ann;
		lim->sigma_horizon = b->sigma_horizon;
		lim->mmr = b->mmr;
		lim->tiers_n = b->tiers_n;
		memcpy(lim->tiers, b->tiers, b->tiers_n * sizeof(lim->tiers[0]));
		lim->estimator = lvc_estimator_names[in->params->vol.estimator];
		lim->config_id = eng->config_id;
		err = lvc_book_on_limit(eng->book, lim, why, sizeof(why));
		if (err == LVC_ERR_INVALID) {
			LVC_ERRF("state of %s: the book refused its limit: %s", lim->instrument,
			         why);
			err = LVC_ERR_DECODE;
		} else if (err != LVC_OK && err != LVC_ERR_NOMEM) {
			LVC_ERRF("state of %s: emitting a warning failed", lim->instrument);
			err = LVC_ERR_STATE;
		} else if (err == LVC_ERR_NOMEM) {
			LVC_ERRF("state of %s: out of memory", lim->instrument);
		}
	}
	for (size_t i = 0; i < eng->restored_n; i++) {
		eng->ins[eng->restored[i]].restored = 0;
		eng->ins[eng->restored[i]].was_listed = 0;
	}
	eng->restored_n = 0;
	return err;
}
