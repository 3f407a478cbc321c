/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Engine state snapshots (engine.h, engine_state.c): an engine restored
 * from another's snapshots at any point of a stream, with the same
 * positions and balances, emits byte-identical events for the rest of the
 * stream (limits with seq continuing, STALE/RECOVERED on the restored
 * partition clocks, warnings from the restored levels, cross-margin
 * accounts); the snapshot bytes survive a round trip; the change
 * enumeration names exactly what a record touched; bad bytes are refused.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"

#define S  INT64_C(1000000)
#define T0 (INT64_C(1767225600) * S)

/* ---- events as exact text (hex floats) ---- */

typedef struct evlog_s {
	char **line;
	size_t n, cap;
	int enabled;
} evlog_t;

static void evlog_add(evlog_t *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 256 : l->cap * 2;
		l->line = realloc(l->line, l->cap * sizeof(*l->line));
		cr_assert_not_null(l->line);
	}
	l->line[l->n] = strdup(s);
	cr_assert_not_null(l->line[l->n]);
	l->n++;
}

static void evlog_free(evlog_t *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->line[i]);
	}
	free(l->line);
	memset(l, 0, sizeof(*l));
}

static int on_event(void *opaque, const lvc_event_t *ev)
{
	evlog_t *l = opaque;
	char buf[4096];
	int n = 0;

	if (!l->enabled) {
		return 0;
	}
	if (ev->type == LVC_EV_LIMIT) {
		const lvc_limit_t *x = ev->u.limit;

		n +=
		    snprintf(buf + n, sizeof(buf) - (size_t)n,
		             "L p%d %s ts=%lld seq=%lld st=%d r=%d est=%s s=%a sh=%a imr=%a mmr=%a "
		             "ml=%a prev=%d:%a cfg=%s",
		             (int)ev->partition, x->instrument, (long long)x->ts_us,
		             (long long)x->seq, (int)x->status, (int)x->reason, x->estimator,
		             x->sigma_ann, x->sigma_horizon, x->imr, x->mmr, x->max_leverage,
		             x->has_previous_max_leverage, x->previous_max_leverage, x->config_id);
		for (size_t i = 0; i < x->tiers_n; i++) {
			const lvc_tier_t *t = &x->tiers[i];

			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " T%a/%a/%a/%a/%a",
			              t->notional_cap, t->max_leverage, t->imr, t->mmr,
			              t->maintenance_deduction);
		}
		for (size_t i = 0; i < x->components_n; i++) {
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " C%s=%a",
			              x->components[i].estimator, x->components[i].sigma_ann);
		}
	} else {
		const lvc_warning_t *w = ev->u.warning;

		snprintf(buf, sizeof(buf),
		         "W p%d %s|%s ts=%lld seq=%lld lv=%d prev=%d mark=%a liq=%d:%a d=%a eq=%a "
		         "mm=%a mr=%a size=%a s=%a hit=%a",
		         (int)ev->partition, w->account, w->instrument, (long long)w->ts_us,
		         (long long)w->seq, (int)w->level, (int)w->previous_level, w->mark_price,
		         w->has_liquidation_price, w->liquidation_price, w->distance_sigma,
		         w->equity, w->maintenance_margin, w->margin_ratio, w->size, w->sigma_ann,
		         w->hit_probability);
	}
	evlog_add(l, buf);
	return 0;
}

/* ---- the input stream ---- */

typedef enum { R_TRADE, R_MARK, R_INDEX, R_POS, R_BAL } rtype_t;

typedef struct rec_s {
	rtype_t type;
	int32_t partition;
	const char *instrument;
	const char *account;
	int64_t ts_us;
	double price; /* or size for R_POS, collateral for R_BAL */
	double entry;
	double collateral;
	lvc_margin_mode_t mode;
} rec_t;

typedef struct stream_s {
	rec_t *r;
	size_t n, cap;
	size_t tables; /* the first `tables` records are positions and balances */
} stream_t;

static void push(stream_t *s, rec_t r)
{
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 1024 : s->cap * 2;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		cr_assert_not_null(s->r);
	}
	s->r[s->n++] = r;
}

static uint64_t rng = 88172645463325252ULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = uniform() + 1e-12, v = uniform();

	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void pos(stream_t *s, const char *acc, const char *ins, double size, double entry,
                lvc_margin_mode_t mode, double coll)
{
	rec_t r = { R_POS, -1, ins, acc, T0 - 10, size, entry, coll, mode };

	push(s, r);
}

/* Four instruments on two partitions: BTC and ETH on 0 (a cross account
 * holds both), SOL and DOGE on 1; DOGE has marks long before its first
 * trade; SOL's trades stop for a while (STALE, then RECOVERED); BTC has a
 * volatility shock and a fall (TIGHTEN, warnings, later RELAX); ties in
 * ts_us between instruments. */
static void make_stream(stream_t *s, int seconds)
{
	const char *names[4] = { "BTC", "ETH", "SOL", "DOGE" };
	const int32_t parts[4] = { 0, 0, 1, 1 };
	double px[4] = { 60000, 3000, 150, 0.2 };
	const double sig[4] = { 0.6, 0.8, 1.0, 1.2 };
	rec_t bal = { R_BAL, -1, NULL, "carol", T0 - 20, 0, 0, 5000, LVC_MARGIN_CROSS };

	rng = 88172645463325252ULL;
	memset(s, 0, sizeof(*s));
	push(s, bal);
	pos(s, "alice", "BTC", 1.0, 60000, LVC_MARGIN_ISOLATED, 7000);
	pos(s, "bob", "ETH", -10, 3000, LVC_MARGIN_ISOLATED, 3500);
	pos(s, "carol", "BTC", 0.5, 60000, LVC_MARGIN_CROSS, 0);
	pos(s, "carol", "ETH", 4.0, 3000, LVC_MARGIN_CROSS, 0);
	pos(s, "dave", "SOL", 100, 150, LVC_MARGIN_ISOLATED, 2000);
	pos(s, "erin", "DOGE", 50000, 0.2, LVC_MARGIN_ISOLATED, 1500);
	pos(s, "frank", "BTC", -2.0, 60000, LVC_MARGIN_ISOLATED, 9000);
	s->tables = s->n;
	for (int k = 0; k < seconds; k++) {
		for (int j = 0; j < 4; j++) {
			/* On odd seconds DOGE goes before SOL at the same ts_us, so
			 * that their staleness-list order is not their creation
			 * order (both go stale together in their gap). */
			int i = k % 2 == 1 && j >= 2 ? 5 - j : j;
			double v = sig[i], dt = 1.0 / (365 * 86400);
			int64_t ts = T0 + k * S +
			             (i == 1 && k % 3 == 0   ? 0
			              : i == 3 && k % 2 == 1 ? 2000
			                                     : i * 1000);
			rec_t r = { R_TRADE, parts[i], names[i], NULL, ts, 0, 0, 0, 0 };

			if (i == 0 && k >= 300 && k < 500) {
				v *= 8;
			}
			px[i] *= exp(v * sqrt(dt) * gauss() - 0.5 * v * v * dt);
			if (i == 0 && k >= 300 && k < 600) {
				px[i] *= 1 - 0.0004;
			}
			r.price = px[i];
			if (!(i >= 2 && k >= 700 && k < 760) && !(i == 3 && k < 200)) {
				push(s, r);
			}
			/* BTC's marks are sparse, so that its limits often
			 * change between two marks. */
			if (i == 3 || (i == 0 ? k % 5 == 0 : k % 2 == 0)) {
				r.type = R_MARK;
				r.ts_us = ts + 500;
				push(s, r);
			}
			if (k % 7 == 0) {
				r.type = R_INDEX;
				r.ts_us = ts + 600;
				push(s, r);
			}
		}
	}
}

static lvc_engine_t *engine(evlog_t *log)
{
	lvc_engine_conf_t c = { 0 };
	char why[256];
	lvc_engine_t *eng;

	lvc_params_defaults(&c.defaults);
	c.defaults.vol.estimator = LVC_EST_MAX;
	c.defaults.vol.sample_interval_us = 1 * S;
	c.defaults.vol.bar_interval_us = 30 * S;
	c.defaults.vol.window_us = 300 * S;
	c.defaults.vol.half_life_us = 60 * S;
	c.defaults.lev.warmup_samples = 30;
	c.defaults.lev.relax_after_us = 120 * S;
	c.defaults.lev.stale_after_us = 20 * S;
	c.config_id = "0123456789abcdef";
	c.emit = on_event;
	c.opaque = log;
	eng = lvc_engine_new(&c, why, sizeof(why));
	cr_assert_not_null(eng, "%s", why);
	return eng;
}

static void apply(lvc_engine_t *eng, const rec_t *r)
{
	char why[256];
	lvc_err_t err = LVC_OK;

	switch (r->type) {
	case R_TRADE: {
		lvc_trade_t t = { r->instrument, r->ts_us, r->price, 1.0, LVC_SIDE_BUY, NULL };

		err = lvc_engine_on_trade(eng, r->partition, &t, why, sizeof(why));
		break;
	}
	case R_MARK:
	case R_INDEX: {
		lvc_price_t p = { r->instrument, r->ts_us,
			          r->type == R_MARK ? LVC_PRICE_MARK : LVC_PRICE_INDEX, r->price };

		err = lvc_engine_on_price(eng, r->partition, &p, why, sizeof(why));
		break;
	}
	case R_POS: {
		lvc_position_t p = { r->account, r->instrument, r->ts_us,     r->price,
			             r->entry,   r->mode,       r->collateral };

		err = lvc_engine_on_position(eng, &p, why, sizeof(why));
		break;
	}
	case R_BAL: {
		lvc_balance_t b = { r->account, r->ts_us, r->collateral };

		err = lvc_engine_on_balance(eng, &b, why, sizeof(why));
		break;
	}
	}
	cr_assert_eq(err, LVC_OK, "%s", why);
}

/* ---- snapshots ---- */

typedef struct snapitem_s {
	lvc_change_kind_t kind;
	int32_t partition;
	char instrument[64];
	char account[64];
	uint8_t *bytes;
	size_t len;
} snapitem_t;

typedef struct snapset_s {
	const lvc_engine_t *eng;
	snapitem_t *it;
	size_t n, cap;
} snapset_t;

static int take_one(void *opaque, const lvc_change_t *ch)
{
	snapset_t *ss = opaque;
	snapitem_t *it;

	if (ss->n == ss->cap) {
		ss->cap = ss->cap == 0 ? 64 : ss->cap * 2;
		ss->it = realloc(ss->it, ss->cap * sizeof(*ss->it));
		cr_assert_not_null(ss->it);
	}
	it = &ss->it[ss->n++];
	memset(it, 0, sizeof(*it));
	it->kind = ch->kind;
	it->partition = ch->partition;
	snprintf(it->instrument, sizeof(it->instrument), "%s",
	         ch->instrument ? ch->instrument : "");
	snprintf(it->account, sizeof(it->account), "%s", ch->account ? ch->account : "");
	switch (ch->kind) {
	case LVC_CHANGE_INSTRUMENT:
		it->len = lvc_engine_snapshot_instrument(ss->eng, ch->instrument, NULL, 0);
		cr_assert_gt(it->len, 0);
		cr_assert_lt(it->len, 4096, "an instrument's snapshot stays within 4 KiB");
		it->bytes = malloc(it->len);
		cr_assert_eq(
		    lvc_engine_snapshot_instrument(ss->eng, ch->instrument, it->bytes, it->len),
		    it->len);
		break;
	case LVC_CHANGE_PARTITION:
		it->len = lvc_engine_snapshot_partition(ss->eng, ch->partition, NULL, 0);
		cr_assert_gt(it->len, 0);
		it->bytes = malloc(it->len);
		lvc_engine_snapshot_partition(ss->eng, ch->partition, it->bytes, it->len);
		break;
	case LVC_CHANGE_POSITION:
		it->len = LVC_ENGINE_POS_STATE_SIZE;
		it->bytes = malloc(it->len);
		cr_assert_eq(
		    lvc_engine_position_state(ss->eng, ch->account, ch->instrument, it->bytes),
		    LVC_OK);
		break;
	}
	return 0;
}

static void snapset_free(snapset_t *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->it[i].bytes);
	}
	free(ss->it);
	memset(ss, 0, sizeof(*ss));
}

static void snapshot_all(const lvc_engine_t *eng, snapset_t *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->eng = eng;
	cr_assert_eq(lvc_engine_changes(eng, 1, take_one, ss), 0);
}

static void restore_all(lvc_engine_t *eng, const snapset_t *ss)
{
	char why[256];

	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < ss->n; i++) {
			const snapitem_t *it = &ss->it[i];
			lvc_err_t err = LVC_OK;

			if (pass == 0 && it->kind == LVC_CHANGE_PARTITION) {
				err = lvc_engine_restore_partition(eng, it->partition, it->bytes,
				                                   it->len, why, sizeof(why));
			} else if (pass == 1 && it->kind == LVC_CHANGE_INSTRUMENT) {
				err = lvc_engine_restore_instrument(eng, it->instrument, it->bytes,
				                                    it->len, why, sizeof(why));
			} else if (pass == 2 && it->kind == LVC_CHANGE_POSITION) {
				err = lvc_engine_restore_position(eng, it->account, it->instrument,
				                                  it->bytes, it->len, why,
				                                  sizeof(why));
			}
			cr_assert_eq(err, LVC_OK, "%s", why);
		}
	}
	cr_assert_eq(lvc_engine_restore_finish(eng, why, sizeof(why)), LVC_OK, "%s", why);
}

static int count_kind(const evlog_t *l, char k)
{
	int n = 0;

	for (size_t i = 0; i < l->n; i++) {
		n += l->line[i][0] == k;
	}
	return n;
}

Test(engine_state, a_restored_engine_emits_byte_identical_events_from_any_point)
{
	stream_t s;
	evlog_t full = { 0 };
	lvc_engine_t *a;
	size_t cut[160];
	size_t *marks;
	int ncut = 0;

	make_stream(&s, 1500);
	/* The first records, then every 61st: cuts land between marks and
	 * limits, inside stale gaps and relax runs. */
	for (size_t k = 0; k < 6; k++) {
		cut[ncut++] = k;
	}
	for (size_t k = 61; k + s.tables < s.n && ncut < 160; k += 61) {
		cut[ncut++] = k;
	}
	/* The uninterrupted run, remembering how many events each prefix made. */
	marks = calloc(s.n + 1, sizeof(*marks));
	a = engine(&full);
	for (size_t i = 0; i < s.tables; i++) {
		apply(a, &s.r[i]);
	}
	full.enabled = 1;
	marks[s.tables] = full.n;
	for (size_t i = s.tables; i < s.n; i++) {
		apply(a, &s.r[i]);
		marks[i + 1] = full.n;
	}
	lvc_engine_destroy(a);
	/* The stream is worth testing: it publishes every kind of event. */
	cr_assert(count_kind(&full, 'W') >= 6, "warnings: %d", count_kind(&full, 'W'));
	{
		int stale = 0, recovered = 0, tighten = 0, relax = 0;

		for (size_t i = 0; i < full.n; i++) {
			stale += strstr(full.line[i], " r=3 ") != NULL;
			recovered += strstr(full.line[i], " r=4 ") != NULL;
			tighten += strstr(full.line[i], " r=1 ") != NULL;
			relax += strstr(full.line[i], " r=2 ") != NULL;
		}
		cr_assert(stale > 0 && recovered > 0 && tighten > 0 && relax > 0,
		          "stale %d recovered %d tighten %d relax %d", stale, recovered, tighten,
		          relax);
	}
	for (int c = 0; c < ncut; c++) {
		size_t k = s.tables + cut[c];
		evlog_t la = { 0 }, lb = { 0 };
		snapset_t sa, sb;
		lvc_engine_t *x = engine(&la), *y = engine(&lb);

		/* x runs up to the cut, then is snapshotted whole. */
		for (size_t i = 0; i < k; i++) {
			apply(x, &s.r[i]);
		}
		snapshot_all(x, &sa);
		/* y gets the same tables, then the snapshots; restoring emits
		 * nothing when the tables did not change. */
		for (size_t i = 0; i < s.tables; i++) {
			apply(y, &s.r[i]);
		}
		lb.enabled = 1;
		restore_all(y, &sa);
		cr_assert_eq(lb.n, 0, "cut %zu: restoring emitted %zu event(s), first: %s", cut[c],
		             lb.n, lb.n ? lb.line[0] : "");
		/* The restored snapshots are the same bytes. */
		snapshot_all(y, &sb);
		cr_assert_eq(sb.n, sa.n, "cut %zu", cut[c]);
		for (size_t i = 0; i < sa.n; i++) {
			size_t j = 0;

			while (j < sb.n &&
			       !(sb.it[j].kind == sa.it[i].kind &&
			         sb.it[j].partition == sa.it[i].partition &&
			         strcmp(sb.it[j].instrument, sa.it[i].instrument) == 0 &&
			         strcmp(sb.it[j].account, sa.it[i].account) == 0)) {
				j++;
			}
			cr_assert_lt(j, sb.n, "cut %zu: %s|%s missing after restore", cut[c],
			             sa.it[i].account, sa.it[i].instrument);
			cr_assert_eq(sb.it[j].len, sa.it[i].len);
			cr_assert_eq(memcmp(sb.it[j].bytes, sa.it[i].bytes, sa.it[i].len), 0,
			             "cut %zu: snapshot of %s|%s differs after the round trip",
			             cut[c], sa.it[i].account, sa.it[i].instrument);
		}
		/* Both go on with the rest of the stream. */
		for (size_t i = k; i < s.n; i++) {
			apply(y, &s.r[i]);
		}
		cr_assert_eq(lb.n, full.n - marks[k], "cut %zu: %zu events after restore, want %zu",
		             cut[c], lb.n, full.n - marks[k]);
		for (size_t i = 0; i < lb.n; i++) {
			cr_assert_str_eq(lb.line[i], full.line[marks[k] + i], "cut %zu, event %zu",
			                 cut[c], i);
		}
		snapset_free(&sa);
		snapset_free(&sb);
		evlog_free(&la);
		evlog_free(&lb);
		lvc_engine_destroy(x);
		lvc_engine_destroy(y);
	}
	free(marks);
	evlog_free(&full);
	free(s.r);
}

/* Records the kinds and names of the changes. */
typedef struct seen_s {
	char line[16][96];
	int n;
} seen_t;

static int see(void *opaque, const lvc_change_t *ch)
{
	seen_t *s = opaque;

	cr_assert_lt(s->n, 16);
	snprintf(s->line[s->n++], sizeof(s->line[0]), "%d p%d %s %s", (int)ch->kind,
	         (int)ch->partition, ch->instrument ? ch->instrument : "-",
	         ch->account ? ch->account : "-");
	return 0;
}

Test(engine_state, changes_name_what_a_record_touched_and_clear_forgets_them)
{
	evlog_t log = { 0 };
	lvc_engine_t *eng = engine(&log);
	seen_t seen = { 0 };
	rec_t t = { R_TRADE, 3, "BTC", NULL, T0, 60000, 0, 0, 0 };

	apply(eng, &t);
	t.instrument = "ETH";
	t.price = 3000;
	apply(eng, &t);
	cr_assert_eq(lvc_engine_changes(eng, 0, see, &seen), 0);
	cr_assert_eq(seen.n, 3);
	cr_assert_str_eq(seen.line[0], "0 p3 BTC -");
	cr_assert_str_eq(seen.line[1], "0 p3 ETH -");
	cr_assert_str_eq(seen.line[2], "2 p3 - -");
	lvc_engine_changes_clear(eng);
	seen.n = 0;
	cr_assert_eq(lvc_engine_changes(eng, 0, see, &seen), 0);
	cr_assert_eq(seen.n, 0);
	/* A tick of ETH at the same time: the instrument, not the clock. */
	apply(eng, &t);
	cr_assert_eq(lvc_engine_changes(eng, 0, see, &seen), 0);
	cr_assert_eq(seen.n, 1);
	cr_assert_str_eq(seen.line[0], "0 p3 ETH -");
	cr_assert_eq(lvc_engine_instrument_partition(eng, "ETH"), 3);
	cr_assert_eq(lvc_engine_instrument_partition(eng, "XRP"), -1);
	lvc_engine_destroy(eng);
	evlog_free(&log);
}

Test(engine_state, a_warning_marks_its_position_changed)
{
	evlog_t log = { 0 };
	lvc_engine_t *eng = engine(&log);
	seen_t seen = { 0 };
	rec_t p = { R_POS, -1, "BTC", "alice", T0, 1.0, 60000, 7000, LVC_MARGIN_ISOLATED };
	rec_t t = { R_TRADE, 0, "BTC", NULL, T0, 60000, 0, 0, 0 };
	rec_t m = { R_MARK, 0, "BTC", NULL, T0 + 1, 54500, 0, 0, 0 };
	uint8_t st[LVC_ENGINE_POS_STATE_SIZE];

	log.enabled = 1;
	apply(eng, &p);
	apply(eng, &t);
	lvc_engine_changes_clear(eng);
	apply(eng, &m);
	cr_assert_eq(count_kind(&log, 'W'), 1, "the fall to 54500 warns alice");
	cr_assert_eq(lvc_engine_changes(eng, 0, see, &seen), 0);
	cr_assert_eq(seen.n, 3);
	cr_assert_str_eq(seen.line[0], "0 p0 BTC -");
	cr_assert_str_eq(seen.line[1], "2 p0 - -");
	cr_assert_str_eq(seen.line[2], "1 p0 BTC alice");
	cr_assert_eq(lvc_engine_position_state(eng, "alice", "BTC", st), LVC_OK);
	cr_assert_eq(st[0], 1);
	cr_assert_gt(st[1], LVC_LEVEL_CLEAR);
	cr_assert_eq(st[9], 1, "seq 1");
	cr_assert_eq(lvc_engine_position_state(eng, "bob", "BTC", st), LVC_ERR_NOT_FOUND);
	lvc_engine_destroy(eng);
	evlog_free(&log);
}

Test(engine_state, refuses_bytes_that_are_not_a_snapshot)
{
	evlog_t log = { 0 };
	lvc_engine_t *a = engine(&log), *b = engine(&log);
	rec_t t = { R_TRADE, 1, "BTC", NULL, T0, 60000, 0, 0, 0 };
	uint8_t buf[8192], junk[3] = { 9, 9, 9 };
	size_t n;
	char why[256];

	apply(a, &t);
	n = lvc_engine_snapshot_instrument(a, "BTC", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(lvc_engine_snapshot_instrument(a, "NOPE", buf, sizeof(buf)), 0);
	cr_assert_eq(lvc_engine_restore_instrument(b, "BTC", buf, n - 1, why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert(strstr(why, "not an instrument snapshot") != NULL, "%s", why);
	cr_assert_eq(lvc_engine_restore_instrument(b, "BTC", junk, sizeof(junk), why, sizeof(why)),
	             LVC_ERR_DECODE);
	buf[n] = 0;
	cr_assert_eq(lvc_engine_restore_instrument(b, "BTC", buf, n + 1, why, sizeof(why)),
	             LVC_ERR_DECODE, "trailing bytes");
	cr_assert_eq(lvc_engine_restore_partition(b, 1, junk, sizeof(junk), why, sizeof(why)),
	             LVC_ERR_DECODE);
	cr_assert_eq(
	    lvc_engine_restore_position(b, "a", "BTC", junk, sizeof(junk), why, sizeof(why)),
	    LVC_ERR_INVALID);
	cr_assert_eq(lvc_engine_instrument_partition(b, "BTC"), -1, "nothing was restored");
	cr_assert_eq(lvc_engine_restore_instrument(b, "BTC", buf, n, why, sizeof(why)), LVC_OK);
	cr_assert_eq(lvc_engine_instrument_partition(b, "BTC"), 1);
	lvc_engine_destroy(a);
	lvc_engine_destroy(b);
	evlog_free(&log);
}

Test(engine_state, seq_continues_when_the_estimators_changed_under_it)
{
	evlog_t la = { 0 }, lb = { 0 };
	lvc_engine_t *a = engine(&la);
	lvc_engine_conf_t c = { 0 };
	lvc_engine_t *b;
	uint8_t buf[8192];
	size_t n;
	char why[256];
	rec_t t = { R_TRADE, 0, "BTC", NULL, T0, 60000, 0, 0, 0 };

	la.enabled = 1;
	for (int k = 0; k < 5; k++) {
		t.ts_us = T0 + k * S;
		t.price = 60000 + k;
		apply(a, &t);
	}
	cr_assert_gt(la.n, 0);
	n = lvc_engine_snapshot_instrument(a, "BTC", buf, sizeof(buf));
	lvc_params_defaults(&c.defaults);
	c.defaults.vol.estimator = LVC_EST_EWMA; /* another estimator: another state */
	c.config_id = "fedcba9876543210";
	c.emit = on_event;
	c.opaque = &lb;
	b = lvc_engine_new(&c, why, sizeof(why));
	cr_assert_not_null(b);
	cr_assert_eq(lvc_engine_restore_instrument(b, "BTC", buf, n, why, sizeof(why)),
	             LVC_ERR_CONFIG);
	cr_assert(strstr(why, "start afresh") != NULL, "%s", why);
	cr_assert_eq(lvc_engine_restore_finish(b, why, sizeof(why)), LVC_OK);
	lb.enabled = 1;
	/* Another instrument's tick a minute later makes BTC stale on the
	 * partition's clock: its STALE limit continues BTC's seq. */
	t.instrument = "ETH";
	t.ts_us += 60 * S;
	t.price = 3000;
	apply(b, &t);
	{
		const char *last = strstr(la.line[la.n - 1], "seq=");
		long long seq_a;
		size_t i = 0;

		cr_assert_not_null(last);
		seq_a = atoll(last + 4);
		while (i < lb.n && strncmp(lb.line[i], "L p0 BTC ", 9) != 0) {
			i++;
		}
		cr_assert_lt(i, lb.n, "BTC went stale after the restore");
		cr_assert(strstr(lb.line[i], " r=3 ") != NULL, "%s", lb.line[i]);
		cr_assert_eq(atoll(strstr(lb.line[i], "seq=") + 4), seq_a + 1, "seq continues: %s",
		             lb.line[i]);
	}
	lvc_engine_destroy(a);
	lvc_engine_destroy(b);
	evlog_free(&la);
	evlog_free(&lb);
}
