/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine ties the core together: an instrument table (symtab), each
 * instrument's volatility (vol) and leverage policy (policy), and one
 * event-time clock per input partition.
 *
 * Invariants:
 * - Instruments are created on their first tick and never freed before the
 *   engine; their params are the global defaults or their override, fixed
 *   at creation.
 * - A partition's clock is the newest ts_us of any tick read from it, so
 *   ticks of other instruments advance it (SPEC §4 staleness). Each
 *   partition keeps its instruments in a list ordered by their newest
 *   source tick; staleness is checked from the head, so a tick costs O(1)
 *   amortized whatever the number of instruments.
 * - Events are emitted synchronously from the on_* call that causes them.
 *
 * Load: tens of thousands of instruments, millions of ticks per second on
 * one core; nothing on the tick path allocates except an instrument's first
 * tick.
 */
#include <inttypes.h>
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

/* A warning from the book: it belongs to the partition of its instrument
 * (-1 when no tick of the instrument was read yet). */
static int on_warning(void *opaque, const lvc_warning_t *w)
{
	lvc_engine_t *eng = opaque;
	int32_t idx = lvc_symtab_find(eng->syms, w->instrument, strlen(w->instrument));
	lvc_event_t ev;

	ev.type = LVC_EV_WARNING;
	ev.partition = idx >= 0 ? eng->ins[idx].partition : -1;
	ev.u.warning = w;
	lvc__engine_dirty_pos(eng, w, ev.partition);
	eng->stats.events_warning++;
	return eng->emit != NULL ? eng->emit(eng->opaque, &ev) : 0;
}

lvc_engine_t *lvc_engine_new(const lvc_engine_conf_t *conf, char *errstr, size_t errstr_size)
{
	lvc_book_conf_t bc = { 0 };
	lvc_engine_t *eng;
	size_t hint = conf->instruments_hint > 0 ? conf->instruments_hint : 64;

	if (lvc_params_check(&conf->defaults, errstr, errstr_size) != LVC_OK) {
		return NULL;
	}
	for (size_t i = 0; i < conf->overrides_n; i++) {
		char why[256];

		if (lvc_params_check(&conf->overrides[i].params, why, sizeof(why)) != LVC_OK) {
			LVC_ERRF("instruments.%s: %s", conf->overrides[i].name, why);
			return NULL;
		}
	}
	if ((eng = calloc(1, sizeof(*eng))) == NULL) {
		LVC_ERRF("out of memory creating the engine");
		return NULL;
	}
	eng->defaults = conf->defaults;
	eng->override_params = conf->overrides;
	snprintf(eng->config_id, sizeof(eng->config_id), "%s",
	         conf->config_id != NULL ? conf->config_id : "");
	eng->emit = conf->emit;
	eng->opaque = conf->opaque;
	eng->now_us = INT64_MIN;
	bc.warn = conf->defaults.warn;
	bc.overrides = conf->overrides;
	bc.overrides_n = conf->overrides_n;
	bc.emit = on_warning;
	bc.opaque = eng;
	if ((eng->book = lvc_book_new(&bc, errstr, errstr_size)) == NULL) {
		lvc_engine_destroy(eng);
		return NULL;
	}
	eng->syms = lvc_symtab_new(hint);
	eng->overrides = lvc_symtab_new(conf->overrides_n + 1);
	eng->ins_cap = hint;
	eng->ins = malloc(eng->ins_cap * sizeof(*eng->ins));
	eng->links = malloc(eng->ins_cap * sizeof(*eng->links));
	if (eng->syms == NULL || eng->overrides == NULL || eng->ins == NULL || eng->links == NULL) {
		goto nomem;
	}
	eng->stale_after = malloc((conf->overrides_n + 1) * sizeof(*eng->stale_after));
	if (eng->stale_after == NULL) {
		goto nomem;
	}
	eng->stale_after[eng->classes++] = conf->defaults.lev.stale_after_us;
	for (size_t i = 0; i < conf->overrides_n; i++) {
		int64_t s = conf->overrides[i].params.lev.stale_after_us;
		size_t c = 0;

		while (c < eng->classes && eng->stale_after[c] != s) {
			c++;
		}
		if (c == eng->classes) {
			eng->stale_after[eng->classes++] = s;
		}
	}
	for (size_t i = 0; i < conf->overrides_n; i++) {
		const char *name = conf->overrides[i].name;

		if (lvc_symtab_intern(eng->overrides, name, strlen(name), NULL) != (int32_t)i) {
			LVC_ERRF("instruments.%s: listed twice", name);
			lvc_engine_destroy(eng);
			return NULL;
		}
	}
	return eng;
nomem:
	LVC_ERRF("out of memory creating the engine");
	lvc_engine_destroy(eng);
	return NULL;
}

void lvc_engine_destroy(lvc_engine_t *eng)
{
	if (eng == NULL) {
		return;
	}
	if (eng->syms != NULL) {
		for (size_t i = 0; i < lvc_symtab_count(eng->syms); i++) {
			lvc_vol_destroy(eng->ins[i].vol);
		}
	}
	lvc__engine_state_free(eng);
	lvc_book_destroy(eng->book);
	lvc_symtab_destroy(eng->syms);
	lvc_symtab_destroy(eng->overrides);
	free(eng->ins);
	free(eng->links);
	for (size_t i = 0; i < eng->parts_n; i++) {
		free(eng->parts[i].head);
	}
	free(eng->parts);
	free(eng->stale_after);
	free(eng);
}

static part_t *get_part(lvc_engine_t *eng, int32_t partition)
{
	if (partition < 0) {
		return NULL;
	}
	if ((size_t)partition >= eng->parts_n) {
		size_t n = eng->parts_n == 0 ? 8 : eng->parts_n;
		part_t *parts;

		while (n <= (size_t)partition) {
			n *= 2;
		}
		if ((parts = realloc(eng->parts, n * sizeof(*parts))) == NULL) {
			return NULL;
		}
		eng->parts = parts;
		for (size_t i = eng->parts_n; i < n; i++) {
			parts[i].clock_us = INT64_MIN;
			parts[i].dirty = 0;
			parts[i].head = malloc(2 * eng->classes * sizeof(int32_t));
			if (parts[i].head == NULL) {
				eng->parts_n = i;
				return NULL;
			}
			parts[i].tail = parts[i].head + eng->classes;
			for (size_t c = 0; c < eng->classes; c++) {
				parts[i].head[c] = parts[i].tail[c] = NIL;
			}
		}
		eng->parts_n = n;
	}
	return &eng->parts[partition];
}

static void list_unlink(lvc_engine_t *eng, int32_t idx)
{
	link_t *ln = &eng->links[idx], *lk = eng->links;
	const ins_t *in = &eng->ins[idx];
	part_t *p = &eng->parts[in->partition];

	if (ln->prev == UNLISTED) {
		return;
	}
	if (ln->prev != NIL) {
		lk[ln->prev].next = ln->next;
	} else {
		p->head[in->cls] = ln->next;
	}
	if (ln->next != NIL) {
		lk[ln->next].prev = ln->prev;
	} else {
		p->tail[in->cls] = ln->prev;
	}
	ln->prev = UNLISTED;
	ln->next = NIL;
}

/* Inserts idx keeping the list ordered by last_ts_us. Ticks arrive nearly in
 * time order, so the walk back from the tail is almost always zero steps. */
static void list_insert(lvc_engine_t *eng, int32_t idx)
{
	link_t *ln = &eng->links[idx], *lk = eng->links;
	const ins_t *in = &eng->ins[idx];
	part_t *p = &eng->parts[in->partition];
	int32_t after = p->tail[in->cls];

	while (after != NIL && lk[after].last_ts_us > ln->last_ts_us) {
		after = lk[after].prev;
	}
	ln->prev = after;
	if (after == NIL) {
		ln->next = p->head[in->cls];
		p->head[in->cls] = idx;
	} else {
		ln->next = lk[after].next;
		lk[after].next = idx;
	}
	if (ln->next != NIL) {
		lk[ln->next].prev = idx;
	} else {
		p->tail[in->cls] = idx;
	}
}

static int32_t get_ins(lvc_engine_t *eng, int32_t partition, const char *name, char *errstr,
                       size_t errstr_size)
{
	size_t len = strlen(name);
	int inserted;
	int32_t idx = lvc_symtab_intern(eng->syms, name, len, &inserted);
	ins_t *in;
	int32_t ov;

	if (idx < 0) {
		LVC_ERRF("out of memory adding instrument %s", name);
		return -1;
	}
	if (!inserted) {
		in = &eng->ins[idx];
		if (in->partition != partition) {
			/* The instrument moved partition (the input was repartitioned):
			 * its staleness is watched on the new partition's clock. */
			list_unlink(eng, idx);
			in->partition = partition;
		}
		return idx;
	}
	if ((size_t)idx >= eng->ins_cap) {
		size_t cap = eng->ins_cap * 2;
		ins_t *ins = realloc(eng->ins, cap * sizeof(*ins));
		link_t *links;

		if (ins == NULL) {
			LVC_ERRF("out of memory adding instrument %s", name);
			return -1;
		}
		eng->ins = ins;
		if ((links = realloc(eng->links, cap * sizeof(*links))) == NULL) {
			LVC_ERRF("out of memory adding instrument %s", name);
			return -1;
		}
		eng->links = links;
		eng->ins_cap = cap;
	}
	in = &eng->ins[idx];
	memset(in, 0, sizeof(*in));
	ov = lvc_symtab_find(eng->overrides, name, len);
	in->params = ov >= 0 ? &eng->override_params[ov].params : &eng->defaults;
	in->partition = partition;
	eng->links[idx].prev = UNLISTED;
	eng->links[idx].next = NIL;
	eng->links[idx].last_ts_us = INT64_MIN;
	while (eng->stale_after[in->cls] != in->params->lev.stale_after_us) {
		in->cls++;
	}
	lvc_policy_init(&in->pol);
	lvc_policy_configure(&in->pol, in->params);
	in->vol = lvc_vol_new(&in->params->vol, in->params->lev.prior_sigma_ann);
	if (in->vol == NULL) {
		LVC_ERRF("out of memory adding instrument %s", name);
		/* The name stays interned; the next tick retries the allocation. */
		return -1;
	}
	eng->stats.instruments++;
	return idx;
}

/* Completes a limit the policy filled and emits it. */
static int emit_limit(lvc_engine_t *eng, int32_t idx)
{
	ins_t *in = &eng->ins[idx];
	lvc_limit_t *lim = &eng->scratch;
	lvc_event_t ev;
	char why[256];
	int rc;

	lim->instrument = lvc_symtab_name(eng->syms, idx);
	lim->estimator = lvc_estimator_names[in->params->vol.estimator];
	lim->components_n = lvc_vol_components(in->vol, lim->components, LVC_MAX_COMPONENTS);
	lim->config_id = eng->config_id;
	ev.type = LVC_EV_LIMIT;
	ev.partition = in->partition;
	ev.u.limit = lim;
	eng->stats.events_limit++;
	if (eng->emit != NULL && (rc = eng->emit(eng->opaque, &ev)) != 0) {
		return rc;
	}
	/* The published tiers are what positions are margined with (SPEC §5);
	 * a new table may move positions across levels at once. */
	if (lvc_book_on_limit(eng->book, lim, why, sizeof(why)) != LVC_OK) {
		return -1;
	}
	lvc__engine_book_limit(eng, idx, lim);
	in->book_sigma = lim->sigma_ann;
	return 0;
}

/* Publishes STALE for every instrument of the partition whose newest tick is
 * at least stale_after older than the partition's clock. Instruments leave
 * their list when STALE is published and re-enter on their next tick. */
static int check_stale(lvc_engine_t *eng, part_t *p)
{
	for (size_t c = 0; c < eng->classes; c++) {
		while (p->head[c] != NIL) {
			int32_t idx = p->head[c];
			ins_t *in = &eng->ins[idx];
			int rc;

			if (p->clock_us - eng->links[idx].last_ts_us < eng->stale_after[c]) {
				break;
			}
			list_unlink(eng, idx);
			lvc__engine_dirty_ins(eng, idx);
			if (lvc_policy_on_clock(&in->pol, &in->params->lev, p->clock_us,
			                        lvc_vol_sigma_ann(in->vol), &eng->scratch)) {
				if ((rc = emit_limit(eng, idx)) != 0) {
					return rc;
				}
			}
		}
	}
	return 0;
}

static lvc_err_t advance_clock(lvc_engine_t *eng, part_t *p, int64_t ts_us)
{
	if (ts_us > p->clock_us) {
		p->clock_us = ts_us;
		lvc__engine_dirty_part(eng, (int32_t)(p - eng->parts));
		if (check_stale(eng, p) != 0) {
			return LVC_ERR_STATE;
		}
	}
	return LVC_OK;
}

/* Applies one source tick to an instrument: volatility, then policy. */
static lvc_err_t apply_tick(lvc_engine_t *eng, int32_t partition, part_t *p, const char *name,
                            int64_t ts_us, double price, char *errstr, size_t errstr_size)
{
	int32_t idx = get_ins(eng, partition, name, errstr, errstr_size);
	ins_t *in;
	int rc;

	if (idx < 0) {
		return LVC_ERR_NOMEM;
	}
	in = &eng->ins[idx];
	lvc__engine_dirty_ins(eng, idx);
	switch (lvc_vol_update(in->vol, ts_us, price)) {
	case LVC_VOL_LATE:
		eng->stats.ticks_late++;
		return LVC_OK;
	case LVC_VOL_REJECTED:
		LVC_ERRF("price %g is not allowed: must be a finite number > 0", price);
		return LVC_ERR_INVALID;
	case LVC_VOL_APPLIED:
		break;
	}
	eng->stats.ticks_applied++;
	eng->links[idx].last_ts_us = ts_us;
	/* Usually the instrument just moves to the tail of its staleness list;
	 * already there (it ticked last), nothing moves. */
	if (eng->links[idx].prev == UNLISTED || eng->parts[in->partition].tail[in->cls] != idx) {
		list_unlink(eng, idx);
		in->touch = ++eng->touch_seq;
		list_insert(eng, idx);
	}
	if (lvc_policy_on_tick(&in->pol, &in->params->lev, ts_us, lvc_vol_sigma_ann(in->vol),
	                       lvc_vol_samples(in->vol) < in->params->lev.warmup_samples,
	                       &eng->scratch)) {
		if ((rc = emit_limit(eng, idx)) != 0) {
			LVC_ERRF("emitting the limit of %s failed (%d)", name, rc);
			return LVC_ERR_STATE;
		}
	}
	if (advance_clock(eng, p, ts_us) != LVC_OK) {
		LVC_ERRF("emitting a stale limit failed");
		return LVC_ERR_STATE;
	}
	return LVC_OK;
}

static lvc_err_t mark_book(lvc_engine_t *eng, int32_t partition, const lvc_price_t *px,
                           char *errstr, size_t errstr_size);

static int valid_price(double x)
{
	return isfinite(x) && x > 0;
}

lvc_err_t lvc_engine_on_trade(lvc_engine_t *eng, int32_t partition, const lvc_trade_t *trade,
                              char *errstr, size_t errstr_size)
{
	part_t *p = get_part(eng, partition);

	if (p == NULL) {
		LVC_ERRF("partition %" PRId32 " is not allowed", partition);
		return partition < 0 ? LVC_ERR_INVALID : LVC_ERR_NOMEM;
	}
	if (trade->instrument == NULL || trade->instrument[0] == '\0') {
		LVC_ERRF("Trade.instrument: an empty name is not allowed");
		return LVC_ERR_INVALID;
	}
	if (!valid_price(trade->price)) {
		LVC_ERRF("Trade.price: %g is not allowed: must be a finite number > 0",
		         trade->price);
		return LVC_ERR_INVALID;
	}
	if (!valid_price(trade->qty)) {
		LVC_ERRF("Trade.qty: %g is not allowed: must be a finite number > 0", trade->qty);
		return LVC_ERR_INVALID;
	}
	if (eng->defaults.vol.source != LVC_SOURCE_TRADES) {
		int32_t idx =
		    lvc_symtab_find(eng->syms, trade->instrument, strlen(trade->instrument));

		if (idx < 0 || eng->ins[idx].params->vol.source != LVC_SOURCE_TRADES) {
			eng->stats.ticks_ignored++;
			return advance_clock(eng, p, trade->ts_us);
		}
	}
	return apply_tick(eng, partition, p, trade->instrument, trade->ts_us, trade->price, errstr,
	                  errstr_size);
}

lvc_err_t lvc_engine_on_price(lvc_engine_t *eng, int32_t partition, const lvc_price_t *price,
                              char *errstr, size_t errstr_size)
{
	part_t *p = get_part(eng, partition);
	int32_t idx;
	const lvc_params_t *params;
	lvc_err_t err;

	if (p == NULL) {
		LVC_ERRF("partition %" PRId32 " is not allowed", partition);
		return partition < 0 ? LVC_ERR_INVALID : LVC_ERR_NOMEM;
	}
	if (price->instrument == NULL || price->instrument[0] == '\0') {
		LVC_ERRF("PriceTick.instrument: an empty name is not allowed");
		return LVC_ERR_INVALID;
	}
	if (!valid_price(price->price)) {
		LVC_ERRF("PriceTick.price: %g is not allowed: must be a finite number > 0",
		         price->price);
		return LVC_ERR_INVALID;
	}
	idx = lvc_symtab_find(eng->syms, price->instrument, strlen(price->instrument));
	if (idx >= 0) {
		params = eng->ins[idx].params;
	} else {
		int32_t ov =
		    lvc_symtab_find(eng->overrides, price->instrument, strlen(price->instrument));

		params = ov >= 0 ? &eng->override_params[ov].params : &eng->defaults;
	}
	if (price->ts_us > eng->now_us) {
		eng->now_us = price->ts_us;
	}
	if (price->kind == LVC_PRICE_MARK && params->vol.source == LVC_SOURCE_MARK) {
		err = apply_tick(eng, partition, p, price->instrument, price->ts_us, price->price,
		                 errstr, errstr_size);
	} else {
		eng->stats.ticks_ignored++;
		err = advance_clock(eng, p, price->ts_us);
	}
	if (err != LVC_OK || price->kind != LVC_PRICE_MARK) {
		return err;
	}
	return mark_book(eng, partition, price, errstr, errstr_size);
}

/* A sigma change smaller than this (relative) is not passed to the book
 * until it grows: warnings then use a sigma at most 0.1% off, and the book
 * does not re-scan its thresholds on every grid return. */
#define SIGMA_MATERIAL 1e-3

/* The book's part of a MARK tick: the instrument's current sigma (the prior
 * during warm-up, as its limits use), then the mark itself. */
static lvc_err_t mark_book(lvc_engine_t *eng, int32_t partition, const lvc_price_t *px,
                           char *errstr, size_t errstr_size)
{
	int32_t idx = lvc_symtab_find(eng->syms, px->instrument, strlen(px->instrument));
	ins_t *in;
	double s;
	lvc_err_t err;

	if (idx < 0) {
		/* No source tick yet: the book keeps the mark for when the
		 * instrument gets its first limit. The instrument is made now so
		 * that its state snapshot carries that mark. */
		if ((idx = get_ins(eng, partition, px->instrument, errstr, errstr_size)) < 0) {
			return LVC_ERR_NOMEM;
		}
	}
	in = &eng->ins[idx];
	lvc__engine_dirty_ins(eng, idx);
	if (in->book_sigma > 0) {
		s = lvc_vol_samples(in->vol) < in->params->lev.warmup_samples
		        ? in->params->lev.prior_sigma_ann
		        : lvc_vol_sigma_ann(in->vol);
		if (fabs(s - in->book_sigma) > SIGMA_MATERIAL * in->book_sigma) {
			err = lvc_book_on_sigma(eng->book, px->instrument, px->ts_us, s,
			                        s * in->pol.horizon_scale, errstr, errstr_size);
			if (err != LVC_OK) {
				return err;
			}
			in->book_sigma = s;
			in->has_bk_sigma = 1;
			in->bk_sigma_ann = s;
			in->bk_sigma_h = s * in->pol.horizon_scale;
		}
	}
	if (!in->has_book_id) {
		if ((err = lvc_book_instrument(eng->book, px->instrument, &in->book_id)) !=
		    LVC_OK) {
			return err;
		}
		in->has_book_id = 1;
	}
	if (!in->has_bk_mark || px->ts_us >= in->bk_mark_ts_us) {
		in->has_bk_mark = 1;
		in->bk_mark_ts_us = px->ts_us;
		in->bk_mark = px->price;
	}
	return lvc_book_on_mark_id(eng->book, in->book_id, px->ts_us, px->price, errstr,
	                           errstr_size);
}

static void saw(lvc_engine_t *eng, int64_t ts_us)
{
	if (ts_us > eng->now_us) {
		eng->now_us = ts_us;
	}
}

lvc_err_t lvc_engine_on_position(lvc_engine_t *eng, const lvc_position_t *pos, char *errstr,
                                 size_t errstr_size)
{
	saw(eng, pos->ts_us);
	return lvc_book_on_position(eng->book, pos, errstr, errstr_size);
}

lvc_err_t lvc_engine_on_position_close(lvc_engine_t *eng, const char *account,
                                       const char *instrument, int64_t ts_us, char *errstr,
                                       size_t errstr_size)
{
	saw(eng, ts_us);
	return lvc_book_on_close(eng->book, account, instrument, ts_us, errstr, errstr_size);
}

lvc_err_t lvc_engine_on_balance(lvc_engine_t *eng, const lvc_balance_t *bal, char *errstr,
                                size_t errstr_size)
{
	saw(eng, bal->ts_us);
	return lvc_book_on_balance(eng->book, bal, errstr, errstr_size);
}

int64_t lvc_engine_now_us(const lvc_engine_t *eng)
{
	return eng->now_us;
}

lvc_err_t lvc_engine_on_clock(lvc_engine_t *eng, int32_t partition, int64_t now_us)
{
	part_t *p = get_part(eng, partition);

	if (p == NULL) {
		return partition < 0 ? LVC_ERR_INVALID : LVC_ERR_NOMEM;
	}
	return advance_clock(eng, p, now_us);
}

void lvc_engine_stats(const lvc_engine_t *eng, lvc_engine_stats_t *out)
{
	lvc_book_stats_t bs;

	*out = eng->stats;
	lvc_book_stats(eng->book, &bs);
	out->positions = bs.positions;
	out->accounts = bs.accounts;
	out->book_bytes = bs.bytes;
	out->marks_late = bs.marks_late;
}

/* For engine_state.c. */
int32_t lvc__engine_ins(lvc_engine_t *eng, int32_t partition, const char *name, char *errstr,
                        size_t errstr_size)
{
	return get_ins(eng, partition, name, errstr, errstr_size);
}

part_t *lvc__engine_part(lvc_engine_t *eng, int32_t partition)
{
	return get_part(eng, partition);
}

void lvc__engine_list_unlink(lvc_engine_t *eng, int32_t idx)
{
	list_unlink(eng, idx);
}

void lvc__engine_list_insert(lvc_engine_t *eng, int32_t idx)
{
	list_unlink(eng, idx);
	list_insert(eng, idx);
}
