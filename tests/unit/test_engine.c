/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Engine: instrument table, routing of ticks to volatility and policy, the
 * per-partition event-time clock and staleness, overrides, counters. The
 * numbers themselves are checked by the vol and policy tests; here the
 * engine's own behaviour is asserted on the events it emits.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/engine.h"

#define S  INT64_C(1000000)
#define T0 (INT64_C(1767225600) * S)

typedef struct rec_s {
	char instrument[32];
	int32_t partition;
	int64_t ts_us;
	int64_t seq;
	lvc_limit_status_t status;
	lvc_limit_reason_t reason;
	char estimator[32];
	size_t components_n;
	char config_id[32];
	double max_leverage;
} rec_t;

typedef struct sink_s {
	rec_t ev[256];
	size_t n;
} sink_t;

static int collect(void *opaque, const lvc_event_t *ev)
{
	sink_t *s = opaque;
	rec_t *r;

	cr_assert_eq(ev->type, LVC_EV_LIMIT);
	cr_assert_lt(s->n, 256);
	r = &s->ev[s->n++];
	snprintf(r->instrument, sizeof(r->instrument), "%s", ev->u.limit->instrument);
	r->partition = ev->partition;
	r->ts_us = ev->u.limit->ts_us;
	r->seq = ev->u.limit->seq;
	r->status = ev->u.limit->status;
	r->reason = ev->u.limit->reason;
	snprintf(r->estimator, sizeof(r->estimator), "%s", ev->u.limit->estimator);
	r->components_n = ev->u.limit->components_n;
	snprintf(r->config_id, sizeof(r->config_id), "%s", ev->u.limit->config_id);
	r->max_leverage = ev->u.limit->max_leverage;
	return 0;
}

static lvc_engine_t *make(sink_t *s, const lvc_inst_params_t *ov, size_t ov_n)
{
	lvc_engine_conf_t c = { 0 };
	char why[256];
	lvc_engine_t *eng;

	lvc_params_defaults(&c.defaults);
	c.defaults.lev.stale_after_us = 30 * S;
	c.overrides = ov;
	c.overrides_n = ov_n;
	c.config_id = "cafebabe00000000";
	c.emit = collect;
	c.opaque = s;
	eng = lvc_engine_new(&c, why, sizeof(why));
	cr_assert_not_null(eng, "%s", why);
	return eng;
}

static lvc_err_t trade(lvc_engine_t *eng, int32_t part, const char *ins, int64_t ts, double px)
{
	lvc_trade_t t = { ins, ts, px, 1.0, LVC_SIDE_BUY, NULL };
	char why[256];

	return lvc_engine_on_trade(eng, part, &t, why, sizeof(why));
}

Test(engine, first_tick_of_an_instrument_publishes_initial_with_its_names)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);

	cr_assert_eq(trade(eng, 0, "BTC-PERP", T0, 60000), LVC_OK);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.ev[0].instrument, "BTC-PERP");
	cr_assert_eq(s.ev[0].seq, 1);
	cr_assert_eq(s.ev[0].reason, LVC_REASON_INITIAL);
	cr_assert_eq(s.ev[0].status, LVC_STATUS_WARMING_UP);
	cr_assert_eq(s.ev[0].ts_us, T0);
	cr_assert_str_eq(s.ev[0].estimator, "ewma");
	cr_assert_eq(s.ev[0].components_n, 1);
	cr_assert_str_eq(s.ev[0].config_id, "cafebabe00000000");
	lvc_engine_destroy(eng);
}

Test(engine, refuses_bad_prices_and_quantities_with_a_reason)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);
	lvc_trade_t t = { "X", T0, NAN, 1.0, LVC_SIDE_BUY, NULL };
	char why[256];

	cr_assert_eq(lvc_engine_on_trade(eng, 0, &t, why, sizeof(why)), LVC_ERR_INVALID);
	cr_assert_str_eq(why, "Trade.price: nan is not allowed: must be a finite number > 0");
	t.price = 10;
	t.qty = 0;
	cr_assert_eq(lvc_engine_on_trade(eng, 0, &t, why, sizeof(why)), LVC_ERR_INVALID);
	cr_assert_str_eq(why, "Trade.qty: 0 is not allowed: must be a finite number > 0");
	t.qty = 1;
	t.instrument = "";
	cr_assert_eq(lvc_engine_on_trade(eng, 0, &t, why, sizeof(why)), LVC_ERR_INVALID);
	cr_assert_eq(s.n, 0);
	lvc_engine_destroy(eng);
}

Test(engine, counts_ticks_older_than_the_newest_and_does_not_apply_them)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);
	lvc_engine_stats_t st;

	trade(eng, 0, "A", T0 + 10 * S, 100);
	trade(eng, 0, "A", T0 + 5 * S, 100);
	trade(eng, 0, "A", T0 + 10 * S, 101); /* same timestamp: applied */
	lvc_engine_stats(eng, &st);
	cr_assert_eq(st.ticks_late, 1);
	cr_assert_eq(st.ticks_applied, 2);
	cr_assert_eq(st.instruments, 1);
	lvc_engine_destroy(eng);
}

Test(engine, ticks_of_other_instruments_advance_the_partition_clock_to_stale)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);
	size_t stale_at = 0, scanned = 0;

	trade(eng, 0, "A", T0, 100);
	trade(eng, 0, "B", T0, 50);
	/* B keeps ticking every second; A falls silent. */
	for (int i = 1; i <= 40; i++) {
		trade(eng, 0, "B", T0 + i * S, 50);
		for (size_t k = scanned; k < s.n; k++, scanned++) {
			if (strcmp(s.ev[k].instrument, "A") == 0 &&
			    s.ev[k].reason == LVC_REASON_STALE) {
				stale_at = k;
				cr_assert_eq(i, 30, "A went stale at %d s, expected 30 s", i);
				cr_assert_eq(s.ev[k].status, LVC_STATUS_STALE);
				cr_assert_eq(s.ev[k].ts_us, T0 + 30 * S);
			}
		}
	}
	cr_assert_gt(stale_at, 0, "A never went stale");
	/* Once, not on every later tick of B. */
	for (size_t k = stale_at + 1; k < s.n; k++) {
		cr_assert_str_neq(s.ev[k].instrument, "A");
	}
	trade(eng, 0, "A", T0 + 41 * S, 100);
	cr_assert_str_eq(s.ev[s.n - 1].instrument, "A");
	cr_assert_eq(s.ev[s.n - 1].reason, LVC_REASON_RECOVERED);
	lvc_engine_destroy(eng);
}

Test(engine, a_partition_clock_is_not_advanced_by_other_partitions)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);

	trade(eng, 0, "A", T0, 100);
	for (int i = 1; i <= 60; i++) {
		trade(eng, 1, "B", T0 + i * S, 50);
	}
	for (size_t k = 0; k < s.n; k++) {
		cr_assert(strcmp(s.ev[k].instrument, "A") != 0 ||
		              s.ev[k].reason != LVC_REASON_STALE,
		          "A went stale on partition 1's clock");
	}
	cr_assert_eq(lvc_engine_on_clock(eng, 0, T0 + 31 * S), LVC_OK);
	cr_assert_str_eq(s.ev[s.n - 1].instrument, "A");
	cr_assert_eq(s.ev[s.n - 1].reason, LVC_REASON_STALE);
	cr_assert_eq(s.ev[s.n - 1].partition, 0);
	lvc_engine_destroy(eng);
}

Test(engine, an_override_applies_to_its_instrument_only)
{
	sink_t s = { 0 };
	lvc_inst_params_t ov;
	lvc_engine_t *eng;

	lvc_params_defaults(&ov.params);
	ov.name = "SLOW";
	ov.params.lev.stale_after_us = 5 * S;
	eng = make(&s, &ov, 1);
	trade(eng, 0, "SLOW", T0, 10);
	trade(eng, 0, "FAST", T0, 10);
	trade(eng, 0, "FAST", T0 + 6 * S, 10);
	cr_assert_str_eq(s.ev[s.n - 1].instrument, "SLOW");
	cr_assert_eq(s.ev[s.n - 1].reason, LVC_REASON_STALE);
	/* FAST, on the default 30 s, is not stale at 6 s. */
	for (size_t k = 0; k < s.n; k++) {
		cr_assert(strcmp(s.ev[k].instrument, "FAST") != 0 ||
		          s.ev[k].reason != LVC_REASON_STALE);
	}
	lvc_engine_destroy(eng);
}

Test(engine, mark_ticks_feed_volatility_only_when_the_source_is_mark)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);
	lvc_price_t p = { "A", T0, LVC_PRICE_MARK, 100 };
	lvc_engine_stats_t st;
	char why[256];

	cr_assert_eq(lvc_engine_on_price(eng, 0, &p, why, sizeof(why)), LVC_OK);
	lvc_engine_stats(eng, &st);
	cr_assert_eq(st.ticks_ignored, 1);
	cr_assert_eq(s.n, 0);
	lvc_engine_destroy(eng);
}

Test(engine, grows_past_its_size_hint_without_losing_instruments)
{
	sink_t s = { 0 };
	lvc_engine_t *eng = make(&s, NULL, 0);
	lvc_engine_stats_t st;
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "I%d", i);
		cr_assert_eq(trade(eng, 0, name, T0, 1 + i), LVC_OK);
		s.n = 0;
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "I%d", i);
		cr_assert_eq(trade(eng, 0, name, T0 + S, 1 + i), LVC_OK);
		s.n = 0;
	}
	lvc_engine_stats(eng, &st);
	cr_assert_eq(st.instruments, 5000);
	cr_assert_eq(st.ticks_applied, 10000);
	lvc_engine_destroy(eng);
}
