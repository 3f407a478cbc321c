/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Defaults of the model parameters (SPEC §8) and the estimator names. The
 * config loader starts from lvc_params_defaults() and overrides what a file
 * sets, so this is the one place the defaults live.
 */
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
