/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Defaults of the model parameters (SPEC §8) and the estimator names. The
 * config loader starts from lvc_params_defaults() and overrides what a file
 * sets, so this is the one place the defaults live.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/params.h"

#define US_PER_S   INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_S)

const char *const lvc_estimator_names[LVC_EST__COUNT] = {
	[LVC_EST_EWMA] = "ewma",
	[LVC_EST_REALIZED] = "realized",
	[LVC_EST_BIPOWER] = "bipower",
	[LVC_EST_CLOSE] = "close",
	[LVC_EST_PARKINSON] = "parkinson",
	[LVC_EST_GARMAN_KLASS] = "garman_klass",
	[LVC_EST_ROGERS_SATCHELL] = "rogers_satchell",
	[LVC_EST_YANG_ZHANG] = "yang_zhang",
	[LVC_EST_GARCH] = "garch",
	[LVC_EST_MAX] = "max",
};

int lvc_estimator_from_name(const char *name, lvc_estimator_t *out)
{
	for (int i = 0; i < LVC_EST__COUNT; i++) {
		if (strcmp(name, lvc_estimator_names[i]) == 0) {
			*out = (lvc_estimator_t)i;
			return 0;
		}
	}
	return -1;
}

void lvc_params_defaults(lvc_params_t *p)
{
	static const double steps[] = { 1, 2, 3, 5, 10, 20, 25, 50, 75, 100 };
	static const lvc_tier_param_t tiers[] = {
		{ 1.0e6, 1.0 },
		{ 1.0e7, 2.0 },
		{ 1.0e12, 5.0 },
	};
	lvc_vol_params_t *v = &p->vol;
	lvc_lev_params_t *l = &p->lev;

	memset(p, 0, sizeof(*p));

	v->source = LVC_SOURCE_TRADES;
	v->estimator = LVC_EST_EWMA;
	v->max_of[0] = LVC_EST_EWMA;
	v->max_of[1] = LVC_EST_YANG_ZHANG;
	v->max_of[2] = LVC_EST_BIPOWER;
	v->max_of_n = 3;
	v->sample_interval_us = US_PER_S;
	v->bar_interval_us = US_PER_MIN;
	v->window_us = 60 * US_PER_MIN;
	v->half_life_us = 10 * US_PER_MIN;
	v->garch_omega = 1.0e-7;
	v->garch_alpha = 0.05;
	v->garch_beta = 0.94;
	v->annualization_days = 365;

	l->confidence = 0.99;
	l->tail = LVC_TAIL_NORMAL;
	l->tail_nu = 4;
	l->horizon_us = 60 * US_PER_MIN;
	l->im_multiplier = 1.0;
	l->mm_ratio = 0.5;
	l->min_imr = 0.01;
	l->max_imr = 1.0;
	l->steps_n = sizeof(steps) / sizeof(steps[0]);
	memcpy(l->steps, steps, sizeof(steps));
	l->max_leverage_cap = 100;
	l->tiers_n = sizeof(tiers) / sizeof(tiers[0]);
	memcpy(l->tiers, tiers, sizeof(tiers));
	l->relax_after_us = 15 * US_PER_MIN;
	l->warmup_samples = 300;
	l->prior_sigma_ann = 1.0;
	l->stale_after_us = 30 * US_PER_S;

	p->warn.watch = 3.0;
	p->warn.warning = 2.0;
	p->warn.critical = 1.0;
	p->warn.hysteresis = 0.25;
}

char *lvc_duration_format(int64_t us, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		int64_t us;
	} units[] = {
		{ "d", 86400 * US_PER_S }, { "h", 3600 * US_PER_S }, { "m", US_PER_MIN },
		{ "s", US_PER_S },         { "ms", 1000 },           { "us", 1 },
	};
	size_t off = 0;
	int64_t rest = us;

	if (size == 0) {
		return buf;
	}
	buf[0] = '\0';
	if (rest < 0) {
		off += (size_t)snprintf(buf, size, "-");
		rest = -rest;
	}
	if (rest == 0) {
		snprintf(buf + off, size - off, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < size; i++) {
		if (rest >= units[i].us) {
			off += (size_t)snprintf(buf + off, size - off, "%" PRId64 "%s",
			                        rest / units[i].us, units[i].unit);
			rest %= units[i].us;
		}
	}
	return buf;
}

#define FAIL(...)                                           \
	do {                                                \
		snprintf(errstr, errstr_size, __VA_ARGS__); \
		return LVC_ERR_INVALID;                     \
	} while (0)

static lvc_err_t check_vol(const lvc_vol_params_t *v, char *errstr, size_t errstr_size)
{
	char a[32], b[32];

	if (v->sample_interval_us <= 0) {
		FAIL("volatility.sample_interval: %s is not allowed: must be > 0",
		     lvc_duration_format(v->sample_interval_us, a, sizeof(a)));
	}
	if (v->bar_interval_us <= 0 || v->bar_interval_us % v->sample_interval_us != 0) {
		FAIL("volatility.bar_interval: %s is not allowed: must be a positive whole "
		     "number of sample_interval (%s)",
		     lvc_duration_format(v->bar_interval_us, a, sizeof(a)),
		     lvc_duration_format(v->sample_interval_us, b, sizeof(b)));
	}
	if (v->window_us <= 0 || v->window_us % v->bar_interval_us != 0) {
		FAIL("volatility.window: %s is not allowed: must be a positive whole number of "
		     "bar_interval (%s)",
		     lvc_duration_format(v->window_us, a, sizeof(a)),
		     lvc_duration_format(v->bar_interval_us, b, sizeof(b)));
	}
	if (v->window_us / v->bar_interval_us > LVC_MAX_WINDOW_BUCKETS) {
		FAIL("volatility.window: %s is %" PRId64 " bars of %s: at most %d bars are allowed "
		     "(raise bar_interval)",
		     lvc_duration_format(v->window_us, a, sizeof(a)),
		     v->window_us / v->bar_interval_us,
		     lvc_duration_format(v->bar_interval_us, b, sizeof(b)), LVC_MAX_WINDOW_BUCKETS);
	}
	if (v->window_us > 10000 * 86400 * US_PER_S) {
		/* The estimators' grid arithmetic is bounded for windows up to
		 * 2^50 us; 10000 days is far beyond any risk window. */
		FAIL("volatility.window: %s is not allowed: at most 10000d",
		     lvc_duration_format(v->window_us, a, sizeof(a)));
	}
	if (v->window_us / v->bar_interval_us < 2) {
		FAIL("volatility.window: %s is not allowed: must hold at least 2 bars of %s",
		     lvc_duration_format(v->window_us, a, sizeof(a)),
		     lvc_duration_format(v->bar_interval_us, b, sizeof(b)));
	}
	if (v->half_life_us <= 0) {
		FAIL("volatility.half_life: %s is not allowed: must be > 0",
		     lvc_duration_format(v->half_life_us, a, sizeof(a)));
	}
	if (!(v->garch_omega > 0) || !isfinite(v->garch_omega)) {
		FAIL("volatility.garch.omega: %g is not allowed: must be > 0", v->garch_omega);
	}
	if (!(v->garch_alpha >= 0) || !(v->garch_beta >= 0) ||
	    !(v->garch_alpha + v->garch_beta < 1)) {
		FAIL("volatility.garch: alpha %g and beta %g are not allowed: both must be >= 0 "
		     "with alpha + beta < 1",
		     v->garch_alpha, v->garch_beta);
	}
	if (!(v->annualization_days > 0 && v->annualization_days <= 366)) {
		FAIL("volatility.annualization_days: %g is not allowed: must be in (0, 366]",
		     v->annualization_days);
	}
	if ((int)v->estimator < 0 || v->estimator >= LVC_EST__COUNT) {
		FAIL("volatility.estimator: %d is not an estimator", (int)v->estimator);
	}
	if (v->estimator == LVC_EST_MAX && v->max_of_n == 0) {
		FAIL("volatility.max_of: an empty list is not allowed when estimator is max");
	}
	if (v->max_of_n >= LVC_EST__COUNT) {
		FAIL("volatility.max_of: %zu entries are not allowed: at most %d (each estimator "
		     "once)",
		     v->max_of_n, LVC_EST__COUNT - 1);
	}
	for (size_t i = 0; i < v->max_of_n; i++) {
		if (v->max_of[i] == LVC_EST_MAX || (int)v->max_of[i] < 0 ||
		    v->max_of[i] >= LVC_EST__COUNT) {
			FAIL("volatility.max_of: entry %zu is not allowed: list the estimators to "
			     "take the maximum of (not max itself)",
			     i + 1);
		}
		for (size_t j = 0; j < i; j++) {
			if (v->max_of[j] == v->max_of[i]) {
				FAIL("volatility.max_of: %s is listed twice",
				     lvc_estimator_names[v->max_of[i]]);
			}
		}
	}
	return LVC_OK;
}

static lvc_err_t check_lev(const lvc_lev_params_t *l, char *errstr, size_t errstr_size)
{
	char a[32];

	if (!(l->confidence > 0.5 && l->confidence < 1)) {
		FAIL("leverage.confidence: %g is not allowed: must be in (0.5, 1)", l->confidence);
	}
	if (l->tail == LVC_TAIL_STUDENT_T && !(l->tail_nu > 2 && isfinite(l->tail_nu))) {
		FAIL("leverage.tail_nu: %g is not allowed: must be > 2 (finite variance)",
		     l->tail_nu);
	}
	if (l->horizon_us <= 0) {
		FAIL("leverage.horizon: %s is not allowed: must be > 0",
		     lvc_duration_format(l->horizon_us, a, sizeof(a)));
	}
	if (!(l->im_multiplier > 0) || !isfinite(l->im_multiplier)) {
		FAIL("leverage.im_multiplier: %g is not allowed: must be > 0", l->im_multiplier);
	}
	if (!(l->mm_ratio > 0 && l->mm_ratio <= 1)) {
		FAIL("leverage.mm_ratio: %g is not allowed: must be in (0, 1]", l->mm_ratio);
	}
	if (!(l->min_imr > 0 && l->min_imr <= 1)) {
		FAIL("leverage.min_imr: %g is not allowed: must be in (0, 1]", l->min_imr);
	}
	if (!(l->max_imr >= l->min_imr && l->max_imr <= 1)) {
		FAIL("leverage.max_imr: %g is not allowed: must be in [min_imr (%g), 1]",
		     l->max_imr, l->min_imr);
	}
	if (l->steps_n == 0) {
		FAIL("leverage.steps: an empty list is not allowed");
	}
	if (l->steps_n > LVC_MAX_STEPS) {
		FAIL("leverage.steps: %zu steps are not allowed: at most %d", l->steps_n,
		     LVC_MAX_STEPS);
	}
	if (l->tiers_n > LVC_MAX_TIERS) {
		FAIL("leverage.tiers: %zu tiers are not allowed: at most %d", l->tiers_n,
		     LVC_MAX_TIERS);
	}
	for (size_t i = 0; i < l->steps_n; i++) {
		if (!(l->steps[i] >= 1) || !isfinite(l->steps[i])) {
			FAIL("leverage.steps: %g is not allowed: every step must be >= 1",
			     l->steps[i]);
		}
		if (i > 0 && !(l->steps[i] > l->steps[i - 1])) {
			FAIL("leverage.steps: %g after %g is not allowed: steps must be strictly "
			     "ascending",
			     l->steps[i], l->steps[i - 1]);
		}
	}
	if (!(l->max_leverage_cap >= l->steps[0]) || !isfinite(l->max_leverage_cap)) {
		FAIL("leverage.max_leverage_cap: %g is not allowed: must be >= the smallest step "
		     "(%g)",
		     l->max_leverage_cap, l->steps[0]);
	}
	if (l->tiers_n == 0) {
		FAIL("leverage.tiers: an empty list is not allowed");
	}
	for (size_t i = 0; i < l->tiers_n; i++) {
		const lvc_tier_param_t *t = &l->tiers[i];

		if (!(t->notional_cap > 0) || !isfinite(t->notional_cap)) {
			FAIL("leverage.tiers[%zu].notional_cap: %g is not allowed: must be > 0", i,
			     t->notional_cap);
		}
		if (!(t->multiplier >= 1) || !isfinite(t->multiplier)) {
			FAIL("leverage.tiers[%zu].multiplier: %g is not allowed: must be >= 1", i,
			     t->multiplier);
		}
		if (i > 0 && !(t->notional_cap > l->tiers[i - 1].notional_cap)) {
			FAIL("leverage.tiers[%zu].notional_cap: %g is not allowed: caps must be "
			     "strictly ascending (previous %g)",
			     i, t->notional_cap, l->tiers[i - 1].notional_cap);
		}
		if (i > 0 && !(t->multiplier >= l->tiers[i - 1].multiplier)) {
			FAIL("leverage.tiers[%zu].multiplier: %g is not allowed: multipliers must "
			     "not decrease (previous %g)",
			     i, t->multiplier, l->tiers[i - 1].multiplier);
		}
	}
	if (l->relax_after_us < 0) {
		FAIL("leverage.relax_after: %s is not allowed: must be >= 0",
		     lvc_duration_format(l->relax_after_us, a, sizeof(a)));
	}
	if (l->warmup_samples < 0) {
		FAIL("leverage.warmup_samples: %" PRId64 " is not allowed: must be >= 0",
		     l->warmup_samples);
	}
	if (!(l->prior_sigma_ann > 0) || !isfinite(l->prior_sigma_ann)) {
		FAIL("leverage.prior_sigma_ann: %g is not allowed: must be > 0",
		     l->prior_sigma_ann);
	}
	if (l->stale_after_us <= 0) {
		FAIL("leverage.stale_after: %s is not allowed: must be > 0",
		     lvc_duration_format(l->stale_after_us, a, sizeof(a)));
	}
	return LVC_OK;
}

static lvc_err_t check_warn(const lvc_warn_params_t *w, char *errstr, size_t errstr_size)
{
	if (!(w->critical > 0 && w->warning > w->critical && w->watch > w->warning) ||
	    !isfinite(w->watch)) {
		FAIL("warnings: watch %g, warning %g, critical %g are not allowed: must be "
		     "watch > warning > critical > 0",
		     w->watch, w->warning, w->critical);
	}
	if (!(w->hysteresis >= 0) || !isfinite(w->hysteresis)) {
		FAIL("warnings.hysteresis: %g is not allowed: must be >= 0", w->hysteresis);
	}
	return LVC_OK;
}

lvc_err_t lvc_params_check(const lvc_params_t *p, char *errstr, size_t errstr_size)
{
	lvc_err_t err;

	if ((err = check_vol(&p->vol, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	if ((err = check_lev(&p->lev, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	return check_warn(&p->warn, errstr, errstr_size);
}
