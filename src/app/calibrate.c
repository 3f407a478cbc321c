/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `levcal calibrate` (calibrate.h): one pass over the merged inputs, the
 * same pipeline step as `levcal replay`, then the fits and backtests of
 * core/calib.h per instrument, a YAML snippet, a summary table and the
 * optional HTML report.
 *
 * The pass. Each record goes through lvc_pipeline_process(); the pipeline's
 * sink receives the LeverageLimit events levcal would have published. A
 * record is also decoded here (its own codec) for its instrument, time and
 * price; whether the engine applied it as a volatility source tick is read
 * from the engine's counters around the call, so the returns below are
 * built from exactly the ticks the engine's estimators saw (the source
 * rule, late ticks and refused values are the engine's, not a second copy
 * of them).
 *
 * Per instrument it keeps, growing geometrically: the grid and bar returns
 * (8 bytes per sample interval of data, at most; gaps are cut), one
 * coverage observation per distinct tick time (32 bytes), every published
 * limit, and for the report each estimator's sigma at every completed bar.
 * A year of one-second ticks of one instrument is therefore about 1.3 GB:
 * calibrate over a month at a time for such data (or raise the intervals).
 *
 * Invariants: observations are ascending in time (an applied tick older
 * than a STALE limit's clock time is stamped at that time); the fits see
 * returns in event time order; nothing here depends on the wall clock but
 * the progress line and the timings.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/calibrate.h"
#include "app/inputs.h"
#include "app/pipeline.h"
#include "app/report.h"
#include "app/version.h"
#include "core/policy.h"
#include "core/stats.h"
#include "core/symtab.h"
#include "core/numeric.h"
#include "io/codec.h"
#include "io/log.h"
#include "core/errfmt.h"
#include "core/grow.h"

/* At most this many zero returns of one gap are kept, whatever stale_after
 * / interval says, so that a long stale_after with a short interval cannot
 * make a gap cost unbounded memory. */
#define GAP_MAX_ZEROS INT64_C(100000)

/* ---- the sampler ------------------------------------------------------------ */

/* Grows *p (elements of size sz) to hold at least need; geometric. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
	return lvc_grow(p, cap, need, sz, 64);
}

lvc_err_t lvc_calib_sampler_init(lvc_calib_sampler_t *s, int64_t s_us, int64_t b_us, int64_t gap_us)
{
	memset(s, 0, sizeof(*s));
	if (s_us <= 0 || b_us <= 0 || b_us % s_us != 0) {
		return LVC_ERR_INVALID;
	}
	s->s_us = s_us;
	s->b_us = b_us;
	s->r_per = b_us / s_us;
	s->grid_keep = gap_us > 0 ? gap_us / s_us : GAP_MAX_ZEROS;
	s->bar_keep = gap_us > 0 ? gap_us / b_us : GAP_MAX_ZEROS;
	if (s->grid_keep > GAP_MAX_ZEROS) {
		s->grid_keep = GAP_MAX_ZEROS;
	}
	if (s->bar_keep > GAP_MAX_ZEROS) {
		s->bar_keep = GAP_MAX_ZEROS;
	}
	s->last_ts = INT64_MIN;
	return LVC_OK;
}

static int push_grid(lvc_calib_sampler_t *s, double r)
{
	if (grow((void **)&s->grid_r, &s->grid_cap, s->grid_n + 1, sizeof(double)) != 0) {
		return -1;
	}
	s->grid_r[s->grid_n++] = r;
	return 0;
}

static int push_bar(lvc_calib_sampler_t *s, double r, int64_t t, double c)
{
	size_t cap = s->bar_cap;

	/* Three arrays of one length: grow them together. */
	if (s->bar_n + 1 > s->bar_cap) {
		size_t c1 = cap, c2 = cap;

		if (grow((void **)&s->bar_r, &cap, s->bar_n + 1, sizeof(double)) != 0 ||
		    grow((void **)&s->bar_t, &c1, cap, sizeof(int64_t)) != 0 ||
		    grow((void **)&s->bar_c, &c2, cap, sizeof(double)) != 0) {
			return -1;
		}
		s->bar_cap = cap;
	}
	s->bar_r[s->bar_n] = r;
	s->bar_t[s->bar_n] = t;
	s->bar_c[s->bar_n] = c;
	s->bar_n++;
	return 0;
}

int lvc_calib_sampler_tick(lvc_calib_sampler_t *s, int64_t ts_us, double price)
{
	int64_t closed = 0;

	if (s->finished) {
		return LVC_ERR_STATE;
	}
	if (!(price > 0) || !isfinite(price) || ts_us < s->last_ts) {
		return LVC_ERR_INVALID;
	}
	if (!s->has_tick) {
		s->has_tick = 1;
		s->k0 = lvc_ceil_div(ts_us, s->s_us);
		s->kc = s->k0;
		s->t_pend = s->kc * s->s_us;
		s->cur_j = lvc_floor_div(s->k0 - 1, s->r_per);
		s->j_seed = s->cur_j;
		s->cur = price;
		s->last_ts = ts_us;
		s->ticks++;
		return 0;
	}
	if (ts_us > s->t_pend) {
		/* The grid points kc .. kn - 1 are final at the current price:
		 * r_kc (when it exists) and m zero returns for the empty
		 * intervals after it. */
		const int64_t kn = lvc_ceil_div(ts_us, s->s_us);
		const int64_t jn = lvc_floor_div(kn - 1, s->r_per);
		const int64_t m = kn - 1 - s->kc;

		if (s->kc > s->k0 && push_grid(s, lvc_lnratio(s->cur, s->p_prev)) != 0) {
			return LVC_ERR_NOMEM;
		}
		if (m > 0) {
			int64_t keep = m < s->grid_keep ? m : s->grid_keep;

			for (int64_t i = 0; i < keep; i++) {
				if (push_grid(s, 0.0) != 0) {
					return LVC_ERR_NOMEM;
				}
			}
			if (m > keep) {
				s->grid_dropped += (uint64_t)(m - keep);
				s->grid_gaps++;
			}
		}
		s->p_prev = s->cur;
		if (jn > s->cur_j) {
			/* Bar cur_j closes at the current price; the e bars
			 * after it had no tick. */
			const int64_t e = jn - s->cur_j - 1;
			int64_t keep = e < s->bar_keep ? e : s->bar_keep;

			if (s->cur_j != s->j_seed &&
			    push_bar(s, lvc_lnratio(s->cur, s->c_prev), (s->cur_j + 1) * s->b_us,
			             s->cur) != 0) {
				return LVC_ERR_NOMEM;
			}
			s->c_prev = s->cur;
			for (int64_t i = 0; i < keep; i++) {
				if (push_bar(s, 0.0, (s->cur_j + 2 + i) * s->b_us, s->cur) != 0) {
					return LVC_ERR_NOMEM;
				}
			}
			if (e > keep) {
				s->bar_dropped += (uint64_t)(e - keep);
				s->bar_gaps++;
			}
			closed = jn - s->cur_j;
			s->cur_j = jn;
		}
		s->kc = kn;
		s->t_pend = kn * s->s_us;
	}
	s->cur = price;
	s->last_ts = ts_us;
	s->ticks++;
	return closed > INT_MAX ? INT_MAX : (int)closed;
}

int lvc_calib_sampler_finish(lvc_calib_sampler_t *s)
{
	int closed = 0;

	if (s->finished || !s->has_tick) {
		s->finished = 1;
		return 0;
	}
	s->finished = 1;
	/* Every tick is known now: an interval that ends exactly at the last
	 * tick is complete (no later tick can belong to it). */
	if (s->last_ts != s->t_pend) {
		return 0;
	}
	if (s->kc > s->k0 && push_grid(s, lvc_lnratio(s->cur, s->p_prev)) != 0) {
		return LVC_ERR_NOMEM;
	}
	if (s->t_pend == (s->cur_j + 1) * s->b_us) {
		if (s->cur_j != s->j_seed &&
		    push_bar(s, lvc_lnratio(s->cur, s->c_prev), s->t_pend, s->cur) != 0) {
			return LVC_ERR_NOMEM;
		}
		closed = 1;
	}
	return closed;
}

void lvc_calib_sampler_free(lvc_calib_sampler_t *s)
{
	free(s->grid_r);
	free(s->bar_r);
	free(s->bar_t);
	free(s->bar_c);
	s->grid_r = s->bar_r = s->bar_c = NULL;
	s->bar_t = NULL;
	s->grid_n = s->bar_n = s->grid_cap = s->bar_cap = 0;
}

/* ---- model helpers ---------------------------------------------------------------- */

double lvc_calib_expected_rate(const lvc_lev_params_t *lev, int im)
{
	double k = lev->im_multiplier * lvc_margin_z(lev) * (im ? 1.0 : lev->mm_ratio);

	if (!isfinite(k) || k <= 0) {
		return NAN;
	}
	if (lev->tail == LVC_TAIL_STUDENT_T) {
		double nu = lev->tail_nu;

		/* The unit-variance t: P(T sqrt((nu - 2) / nu) > k). */
		return lvc_student_t_cdf(-k * sqrt(nu / (nu - 2.0)), nu);
	}
	return lvc_normal_cdf(-k);
}

int64_t lvc_calib_round_half_life(double half_life_us)
{
	static const int64_t units[] = { INT64_C(86400000000), INT64_C(3600000000),
		                         INT64_C(60000000),    INT64_C(1000000),
		                         INT64_C(1000),        INT64_C(1) };
	int64_t r;

	if (!(half_life_us >= 1.0)) {
		return 1;
	}
	if (half_life_us > 9e18) {
		return INT64_C(9000000000000000000);
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if ((double)units[i] <= half_life_us / 100.0 || units[i] == 1) {
			r = (int64_t)llround(half_life_us / (double)units[i]) * units[i];
			return r >= 1 ? r : 1;
		}
	}
	return 1;
}

/* ---- the run ---------------------------------------------------------------------- */

typedef struct pass_s {
	lvc_calib_run_t *run;
	const lvc_config_t *cfg;
	lvc_symtab_t *syms; /* instrument name -> index into run->ins */
	lvc_codec_t *codec; /* records and limits decoded here */
	int report;         /* keep the report's series */

	/* The tick being processed, so that its own limit is not added twice. */
	const char *pend_name;
	int64_t pend_ts;
	int sink_failed;
	char why[512];
} pass_t;

static void ins_free(lvc_calib_ins_t *ins)
{
	if (ins == NULL) {
		return;
	}
	lvc_calib_sampler_free(&ins->smp);
	free(ins->name);
	free(ins->obs);
	free(ins->lims);
	for (int e = 0; e < LVC_CALIB_NEST; e++) {
		lvc_vol_destroy(ins->vols[e]);
		free(ins->sig[e]);
	}
	free(ins->sig_t);
	free(ins->garch_sigma_ann);
	free(ins);
}

void lvc_calib_run_free(lvc_calib_run_t *run)
{
	for (size_t i = 0; i < run->ins_n; i++) {
		ins_free(run->ins[i]);
	}
	free(run->ins);
	memset(run, 0, sizeof(*run));
}

/* The instrument of name, created on first sight. NULL on allocation
 * failure. */
static lvc_calib_ins_t *ins_get(pass_t *ps, const char *name)
{
	lvc_calib_run_t *run = ps->run;
	size_t len = strlen(name);
	int32_t idx = lvc_symtab_find(ps->syms, name, len);
	lvc_calib_ins_t *ins;
	int inserted = 0;

	if (idx >= 0) {
		return run->ins[idx];
	}
	if (grow((void **)&run->ins, &run->ins_cap, run->ins_n + 1, sizeof(*run->ins)) != 0) {
		return NULL;
	}
	if ((ins = calloc(1, sizeof(*ins))) == NULL) {
		return NULL;
	}
	idx = lvc_symtab_intern(ps->syms, name, len, &inserted);
	if (idx < 0 || (size_t)idx != run->ins_n) {
		/* The table and the array grow together: index i is ins[i]. */
		free(ins);
		return NULL;
	}
	if ((ins->name = strdup(name)) == NULL) {
		free(ins);
		return NULL;
	}
	ins->params = lvc_config_params_for(ps->cfg, ins->name);
	ins->cur_imr = ins->cur_mmr = NAN;
	/* The params passed the config checks, so the intervals are valid. */
	(void)lvc_calib_sampler_init(&ins->smp, ins->params->vol.sample_interval_us,
	                             ins->params->vol.bar_interval_us,
	                             ins->params->lev.stale_after_us);
	if (ps->report) {
		for (int e = 0; e < LVC_CALIB_NEST; e++) {
			lvc_vol_params_t vp = ins->params->vol;

			vp.estimator = (lvc_estimator_t)e;
			vp.max_of_n = 0;
			ins->vols[e] = lvc_vol_new(&vp, ins->params->lev.prior_sigma_ann);
		}
	}
	run->ins[run->ins_n++] = ins;
	return ins;
}

/* Appends an observation; one per timestamp (the last state wins), never
 * before the previous one. */
static int obs_add(lvc_calib_ins_t *ins, int64_t ts_us, double price)
{
	lvc_cov_obs_t *o;

	if (ins->obs_n > 0) {
		o = &ins->obs[ins->obs_n - 1];
		if (ts_us <= o->ts_us) {
			o->price = price;
			o->imr = ins->cur_imr;
			o->mmr = ins->cur_mmr;
			return 0;
		}
	}
	if (grow((void **)&ins->obs, &ins->obs_cap, ins->obs_n + 1, sizeof(*ins->obs)) != 0) {
		return -1;
	}
	o = &ins->obs[ins->obs_n++];
	o->ts_us = ts_us;
	o->price = price;
	o->imr = ins->cur_imr;
	o->mmr = ins->cur_mmr;
	return 0;
}

static int sig_sample(lvc_calib_ins_t *ins, int64_t ts_us)
{
	size_t cap = ins->sig_cap;

	if (ins->sig_n + 1 > ins->sig_cap) {
		size_t c = cap;

		if (grow((void **)&ins->sig_t, &cap, ins->sig_n + 1, sizeof(int64_t)) != 0) {
			return -1;
		}
		for (int e = 0; e < LVC_CALIB_NEST; e++) {
			size_t ce = c;

			if (grow((void **)&ins->sig[e], &ce, cap, sizeof(double)) != 0) {
				return -1;
			}
		}
		ins->sig_cap = cap;
	}
	ins->sig_t[ins->sig_n] = ts_us;
	for (int e = 0; e < LVC_CALIB_NEST; e++) {
		ins->sig[e][ins->sig_n] =
		    ins->vols[e] != NULL ? lvc_vol_sigma_ann_of(ins->vols[e], (lvc_estimator_t)e)
		                         : NAN;
	}
	ins->sig_n++;
	return 0;
}

static int on_limit(pass_t *ps, const lvc_outrec_t *out)
{
	lvc_limit_t lim;
	lvc_calib_ins_t *ins;
	lvc_calib_limit_t *l;
	char why[256];

	if (lvc_codec_decode_limit(ps->codec, out->value, out->value_len, &lim, why, sizeof(why)) !=
	    LVC_OK) {
		snprintf(ps->why, sizeof(ps->why), "decoding a produced LeverageLimit: %s", why);
		return -1;
	}
	if ((ins = ins_get(ps, lim.instrument)) == NULL) {
		snprintf(ps->why, sizeof(ps->why), "out of memory adding instrument %s",
		         lim.instrument);
		return -1;
	}
	if (grow((void **)&ins->lims, &ins->lims_cap, ins->lims_n + 1, sizeof(*ins->lims)) != 0) {
		snprintf(ps->why, sizeof(ps->why), "out of memory");
		return -1;
	}
	l = &ins->lims[ins->lims_n++];
	l->ts_us = lim.ts_us;
	l->max_leverage = lim.max_leverage;
	l->imr = lim.tiers_n > 0 ? lim.tiers[0].imr : lim.imr;
	l->mmr = lim.tiers_n > 0 ? lim.tiers[0].mmr : lim.mmr;
	l->sigma_ann = lim.sigma_ann;
	l->status = (int)lim.status;
	ins->cur_imr = l->imr;
	ins->cur_mmr = l->mmr;
	ps->run->limits++;
	/* A limit caused by the tick being processed is recorded with that
	 * tick below; any other (STALE on the partition clock) is a change of
	 * the limit in force at its own time, at the last price. */
	if (ps->pend_name != NULL && lim.ts_us == ps->pend_ts &&
	    strcmp(lim.instrument, ps->pend_name) == 0) {
		return 0;
	}
	if (ins->smp.has_tick && obs_add(ins, lim.ts_us, ins->smp.cur) != 0) {
		snprintf(ps->why, sizeof(ps->why), "out of memory");
		return -1;
	}
	return 0;
}

static int sink(void *opaque, const lvc_outrec_t *out)
{
	pass_t *ps = opaque;

	switch (out->kind) {
	case LVC_OUT_LIMIT:
		if (on_limit(ps, out) != 0) {
			ps->sink_failed = 1;
			return -1;
		}
		return 0;
	case LVC_OUT_DEAD_LETTER:
		ps->run->dead_letters++;
		return 0;
	default:
		return 0;
	}
}

/* The instrument, time and price of a trade or price record, if it is one
 * that decodes (the engine decides whether it is a source tick). */
static int tick_of(pass_t *ps, const lvc_inrec_t *in, const char **name, int64_t *ts_us,
                   double *price)
{
	char why[256];

	if (in->value == NULL) {
		return 0;
	}
	if (in->input == LVC_IN_TRADES) {
		lvc_trade_t t;

		if (lvc_codec_decode_trade(ps->codec, in->value, in->value_len, &t, why,
		                           sizeof(why)) != LVC_OK) {
			return 0;
		}
		*name = t.instrument;
		*ts_us = t.ts_us;
		*price = t.price;
		return 1;
	}
	if (in->input == LVC_IN_PRICES) {
		lvc_price_t p;

		if (lvc_codec_decode_price(ps->codec, in->value, in->value_len, &p, why,
		                           sizeof(why)) != LVC_OK) {
			return 0;
		}
		*name = p.instrument;
		*ts_us = p.ts_us;
		*price = p.price;
		return 1;
	}
	return 0;
}

/* Applies a tick the engine applied to the instrument's data. */
static int take_tick(pass_t *ps, const char *name, int64_t ts_us, double price)
{
	lvc_calib_ins_t *ins = ins_get(ps, name);
	int closed;

	if (ins == NULL) {
		snprintf(ps->why, sizeof(ps->why), "out of memory adding instrument %s", name);
		return -1;
	}
	closed = lvc_calib_sampler_tick(&ins->smp, ts_us, price);
	if (closed == LVC_ERR_INVALID) {
		/* The engine applied a tick older than this instrument's
		 * newest? Its rule and ours are the same; say so loudly. */
		snprintf(ps->why, sizeof(ps->why),
		         "%s: tick at %" PRId64 " us applied by the engine but older than %" PRId64
		         " us",
		         name, ts_us, ins->smp.last_ts);
		return -1;
	}
	if (closed < 0 || obs_add(ins, ts_us, price) != 0) {
		snprintf(ps->why, sizeof(ps->why), "out of memory");
		return -1;
	}
	if (ps->report) {
		for (int e = 0; e < LVC_CALIB_NEST; e++) {
			if (ins->vols[e] != NULL) {
				(void)lvc_vol_update(ins->vols[e], ts_us, price);
			}
		}
		if (closed > 0 && sig_sample(ins, ts_us) != 0) {
			snprintf(ps->why, sizeof(ps->why), "out of memory");
			return -1;
		}
	}
	return 0;
}

/* ---- progress ------------------------------------------------------------------- */

typedef struct progress_s {
	FILE *f;
	int mode; /* 0 none, 1 redraw (terminal), 2 a line every 5 s */
	double t0, last;
	int drawn;
} progress_t;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_show(progress_t *pg, uint64_t records, int final)
{
	double now = mono_s(), dt = now - pg->t0;
	double rate = dt > 0 ? (double)records / dt : 0.0;

	if (pg->mode == 0) {
		return;
	}
	if (!final && now - pg->last < (pg->mode == 1 ? 0.2 : 5.0)) {
		return;
	}
	if (final && pg->mode == 2 && !pg->drawn) {
		return; /* a short run: the summary says it all */
	}
	pg->last = now;
	if (pg->mode == 1) {
		fprintf(pg->f, "\rlevcal calibrate: %" PRIu64 " records, %.0f records/s, %.1f s%s",
		        records, rate, dt, final ? "\n" : "   ");
	} else {
		fprintf(pg->f, "levcal calibrate: %" PRIu64 " records, %.0f records/s, %.1f s\n",
		        records, rate, dt);
	}
	fflush(pg->f);
	pg->drawn = 1;
}

/* ---- the pass ------------------------------------------------------------------ */

static int read_pass(pass_t *ps, const lvc_calibrate_opts_t *opts, lvc_inputs_t *inp,
                     lvc_pipeline_t *pl)
{
	const lvc_engine_t *eng = lvc_pipeline_engine(pl);
	progress_t pg = { 0 };
	lvc_engine_stats_t before, after;
	char why[512];

	pg.f = opts->err;
	pg.mode = opts->progress == 0 || opts->err == NULL ? 0 : isatty(fileno(opts->err)) ? 1 : 2;
	pg.t0 = pg.last = mono_s();
	for (;;) {
		lvc_inrec_t in;
		int64_t ts_us, tts = 0;
		const char *name = NULL;
		double price = 0;
		int is_tick;
		lvc_err_t err = lvc_inputs_next(inp, &in, &ts_us, why, sizeof(why));

		if (err == LVC_ERR_NOT_FOUND) {
			break;
		}
		if (err != LVC_OK) {
			lvc_error("--input %s", why);
			return 1;
		}
		if (opts->stop != NULL && atomic_load(opts->stop)) {
			lvc_warn("interrupted after %" PRIu64 " record(s): no results written",
			         lvc_inputs_count(inp));
			return 1;
		}
		ps->run->records++;
		is_tick = tick_of(ps, &in, &name, &tts, &price);
		ps->pend_name = is_tick ? name : NULL;
		ps->pend_ts = tts;
		lvc_engine_stats(eng, &before);
		if (lvc_pipeline_process(pl, &in, why, sizeof(why)) != LVC_OK) {
			lvc_error("%s", ps->sink_failed ? ps->why : why);
			return 1;
		}
		lvc_engine_stats(eng, &after);
		ps->run->ticks_late += after.ticks_late - before.ticks_late;
		if (is_tick && after.ticks_applied > before.ticks_applied &&
		    take_tick(ps, name, tts, price) != 0) {
			lvc_error("%s", ps->why);
			return 1;
		}
		ps->pend_name = NULL;
		if ((ps->run->records & 4095) == 0) {
			progress_show(&pg, ps->run->records, 0);
		}
	}
	progress_show(&pg, ps->run->records, 1);
	return 0;
}

/* ---- fits ------------------------------------------------------------------------ */

static double bar_seconds(const lvc_calib_ins_t *ins)
{
	return (double)ins->params->vol.bar_interval_us / 1e6;
}

static void fit_garch(lvc_calib_ins_t *ins)
{
	const lvc_calib_sampler_t *s = &ins->smp;
	double days = ins->params->vol.annualization_days;
	lvc_garch_opts_t go;
	double *z = NULL;
	char why[256];

	lvc_garch_opts_defaults(&go);
	ins->garch_out.err = LVC_ERR_RANGE;
	ins->tail_out.err = LVC_ERR_RANGE;
	snprintf(ins->tail_out.why, sizeof(ins->tail_out.why), "needs the GARCH fit");
	if (s->bar_n < 50) {
		snprintf(ins->garch_out.why, sizeof(ins->garch_out.why),
		         "%zu bar returns: at least 50 are needed", s->bar_n);
		return;
	}
	ins->garch_out.err = lvc_garch_fit(s->bar_r, s->bar_n, &go, &ins->garch, ins->garch_out.why,
	                                   sizeof(ins->garch_out.why));
	if (ins->garch_out.err != LVC_OK) {
		return;
	}
	/* The fitted conditional sigma per bar, annualized, for the report. */
	ins->garch_sigma_ann = malloc(s->bar_n * sizeof(double));
	z = malloc(s->bar_n * sizeof(double));
	if (ins->garch_sigma_ann == NULL || z == NULL) {
		free(ins->garch_sigma_ann);
		ins->garch_sigma_ann = NULL;
		ins->tail_out.err = LVC_ERR_NOMEM;
		snprintf(ins->tail_out.why, sizeof(ins->tail_out.why), "out of memory");
		goto exit;
	}
	if (lvc_garch_filter(s->bar_r, s->bar_n, ins->garch.par, ins->garch.init,
	                     ins->garch_sigma_ann, NULL) == LVC_OK) {
		for (size_t i = 0; i < s->bar_n; i++) {
			ins->garch_sigma_ann[i] =
			    sqrt(ins->garch_sigma_ann[i] / bar_seconds(ins) * days * 86400.0);
		}
	} else {
		free(ins->garch_sigma_ann);
		ins->garch_sigma_ann = NULL;
	}
	/* Student-t nu from the standardized residuals. */
	if (lvc_garch_standardize(s->bar_r, s->bar_n, ins->garch.par, ins->garch.init, z) !=
	    LVC_OK) {
		ins->tail_out.err = LVC_ERR_INVALID;
		snprintf(ins->tail_out.why, sizeof(ins->tail_out.why),
		         "standardizing the returns failed");
		goto exit;
	}
	ins->tail_out.err = lvc_t_fit(z, s->bar_n, &ins->tail, why, sizeof(why));
	snprintf(ins->tail_out.why, sizeof(ins->tail_out.why), "%s",
	         ins->tail_out.err == LVC_OK ? "" : why);
	if (ins->tail_out.err == LVC_OK) {
		ins->tail_lr = 2.0 * (ins->tail.loglik - ins->tail.loglik_normal);
		ins->tail_student = !ins->tail.at_bound && ins->tail.nu < LVC_CALIB_TAIL_NU_MAX &&
		                    ins->tail_lr > LVC_CALIB_TAIL_LR_MIN;
		/* Two decimals, rounded down (a smaller nu is the heavier, more
		 * conservative tail), never at or below 2. */
		ins->tail_nu = floor(ins->tail.nu * 100.0) / 100.0;
		if (ins->tail_nu <= 2.0) {
			ins->tail_nu = 2.01;
		}
	}
exit:
	free(z);
}

static void fit_ewma(lvc_calib_ins_t *ins)
{
	const lvc_calib_sampler_t *s = &ins->smp;

	if (s->grid_n < 10) {
		ins->ewma_out.err = LVC_ERR_RANGE;
		snprintf(ins->ewma_out.why, sizeof(ins->ewma_out.why),
		         "%zu grid returns: at least 10 are needed", s->grid_n);
		return;
	}
	ins->ewma_out.err = lvc_ewma_fit(s->grid_r, s->grid_n, s->s_us, NULL, &ins->ewma,
	                                 ins->ewma_out.why, sizeof(ins->ewma_out.why));
	if (ins->ewma_out.err == LVC_OK) {
		ins->half_life_us =
		    lvc_calib_round_half_life(ins->ewma.half_life_n * (double)s->s_us);
	}
}

static void backtest(lvc_calib_ins_t *ins)
{
	const lvc_lev_params_t *lev = &ins->params->lev;

	ins->cov_opts.horizon_us = lev->horizon_us;
	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		double p = lvc_calib_expected_rate(lev, m == LVC_COV_IM);

		ins->cov_opts.expected[m] = p > 0 && p <= 0.5 ? p : NAN;
	}
	ins->cov_out.err = lvc_coverage_series(ins->obs, ins->obs_n, &ins->cov_opts, &ins->cov,
	                                       ins->cov_out.why, sizeof(ins->cov_out.why));
}

static void pool(lvc_calib_run_t *run)
{
	lvc_cov_result_t *parts = calloc(run->ins_n > 0 ? run->ins_n : 1, sizeof(*parts));
	size_t n = 0;
	int first = 1;

	run->pooled_ok = 1;
	memset(&run->pool_opts, 0, sizeof(run->pool_opts));
	run->pool_opts.expected[LVC_COV_IM] = run->pool_opts.expected[LVC_COV_MM] = NAN;
	if (parts == NULL) {
		run->pooled_ok = 0;
		return;
	}
	for (size_t i = 0; i < run->ins_n; i++) {
		const lvc_calib_ins_t *ins = run->ins[i];

		if (ins->cov_out.err != LVC_OK || ins->obs_n == 0) {
			continue;
		}
		if (first) {
			run->pool_opts = ins->cov_opts;
			first = 0;
		} else {
			for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
				double a = run->pool_opts.expected[m],
				       b = ins->cov_opts.expected[m];

				if (!(a == b || (isnan(a) && isnan(b)))) {
					run->pooled_ok = 0;
				}
			}
			if (ins->cov_opts.horizon_us != run->pool_opts.horizon_us) {
				run->pool_opts.horizon_us = 0; /* mixed: shown as such */
			}
		}
		parts[n++] = ins->cov;
	}
	if (!run->pooled_ok) {
		/* Counts only: the instruments expect different rates. */
		run->pool_opts.expected[LVC_COV_IM] = run->pool_opts.expected[LVC_COV_MM] = NAN;
	}
	lvc_coverage_pool(parts, n, &run->pool_opts, &run->pooled);
	free(parts);
}

/* ---- YAML ----------------------------------------------------------------------- */

/* A YAML mapping key: plain when it is a simple name, else double-quoted. */
static void yaml_key(FILE *out, const char *s)
{
	int plain = s[0] != '\0' && strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) == NULL;

	for (const char *p = s; *p != '\0' && plain; p++) {
		unsigned char c = (unsigned char)*p;

		plain = c > 0x20 && c < 0x7f && strchr(":#,[]{}\"'", c) == NULL;
	}
	/* Words YAML 1.1 reads as booleans or null stay strings when quoted. */
	if (plain && (strcmp(s, "null") == 0 || strcmp(s, "true") == 0 || strcmp(s, "false") == 0 ||
	              strcmp(s, "yes") == 0 || strcmp(s, "no") == 0 || strcmp(s, "on") == 0 ||
	              strcmp(s, "off") == 0 || strcmp(s, "~") == 0)) {
		plain = 0;
	}
	if (plain) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(out, "\\x%02x", c);
		} else {
			fputc(c, out);
		}
	}
	fputc('"', out);
}

/* A comment-safe copy of a name (no newline can end the comment). */
static const char *comment_safe(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; *s != '\0' && i + 1 < size; s++) {
		buf[i++] = (unsigned char)*s < 0x20 ? '?' : *s;
	}
	buf[i] = '\0';
	return buf;
}

/* The shortest of %.10g .. %.17g that reads back as a value within the
 * GARCH constraints together with the others (alpha + beta < 1 must hold
 * for the numbers as written). */
static void garch_strings(const double *par, char om[32], char al[32], char be[32])
{
	for (int digits = 10; digits <= 17; digits++) {
		double a, b, o;

		snprintf(om, 32, "%.*g", digits, par[LVC_GARCH_OMEGA]);
		snprintf(al, 32, "%.*g", digits, par[LVC_GARCH_ALPHA]);
		snprintf(be, 32, "%.*g", digits, par[LVC_GARCH_BETA]);
		o = strtod(om, NULL);
		a = strtod(al, NULL);
		b = strtod(be, NULL);
		if (o > 0 && a >= 0 && b >= 0 && a + b < 1) {
			return;
		}
	}
}

static int garch_writable(const lvc_calib_ins_t *ins)
{
	const double *p = ins->garch.par;

	return ins->garch_out.err == LVC_OK && ins->garch.converged && p[LVC_GARCH_OMEGA] > 0 &&
	       isfinite(p[LVC_GARCH_OMEGA]) && p[LVC_GARCH_ALPHA] >= 0 && p[LVC_GARCH_BETA] >= 0 &&
	       p[LVC_GARCH_ALPHA] + p[LVC_GARCH_BETA] < 1;
}

static void yaml_instrument(const lvc_calib_ins_t *ins, FILE *out)
{
	const lvc_calib_sampler_t *s = &ins->smp;
	const lvc_vol_params_t *vp = &ins->params->vol;
	char d1[64], d2[64], d3[64], nm[256];
	int g_ok = garch_writable(ins), e_ok = ins->ewma_out.err == LVC_OK;

	fprintf(out,
	        "\n  # %s: %" PRIu64
	        " source ticks, %zu grid returns of %s, %zu bar returns of %s\n",
	        comment_safe(ins->name, nm, sizeof(nm)), s->ticks, s->grid_n,
	        lvc_duration_format(vp->sample_interval_us, d1, sizeof(d1)), s->bar_n,
	        lvc_duration_format(vp->bar_interval_us, d2, sizeof(d2)));
	if (s->grid_gaps > 0 || s->bar_gaps > 0) {
		fprintf(out,
		        "  # gaps longer than stale_after (%s): %" PRIu64 " cut, %" PRIu64
		        " empty grid intervals and %" PRIu64 " empty bars left out of the fits\n",
		        lvc_duration_format(ins->params->lev.stale_after_us, d3, sizeof(d3)),
		        s->grid_gaps > s->bar_gaps ? s->grid_gaps : s->bar_gaps, s->grid_dropped,
		        s->bar_dropped);
	}
	if (!g_ok && !e_ok && !ins->tail_student) {
		fputs("  # ", out);
		fputs(comment_safe(ins->name, nm, sizeof(nm)), out);
		fputs(": nothing fitted, so no override is written\n", out);
		if (ins->ewma_out.err != LVC_OK) {
			fprintf(out, "  #   ewma: %s\n",
			        comment_safe(ins->ewma_out.why, nm, sizeof(nm)));
		}
		if (ins->garch_out.err != LVC_OK) {
			fprintf(out, "  #   garch: %s\n",
			        comment_safe(ins->garch_out.why, nm, sizeof(nm)));
		} else if (!g_ok) {
			fputs("  #   garch: the optimiser did not converge\n", out);
		}
		return;
	}
	fputs("  ", out);
	yaml_key(out, ins->name);
	fputs(":\n", out);
	if (g_ok || e_ok) {
		fputs("    volatility:\n", out);
	}
	if (e_ok) {
		const lvc_ewma_fit_t *f = &ins->ewma;
		double hl_s = f->half_life_n * (double)s->s_us / 1e6, se = f->se_log_half_life;

		fprintf(
		    out,
		    "      # EWMA, Gaussian likelihood of the one-step forecast on %zu returns:\n"
		    "      # half-life %.6g s",
		    f->n_used, hl_s);
		if (isfinite(se)) {
			fprintf(out, ", se of ln half-life %.3g (95%% %.4g s .. %.4g s)", se,
			        hl_s * exp(-1.96 * se), hl_s * exp(1.96 * se));
		}
		fprintf(out, ", logL %.6f%s\n", f->loglik,
		        f->at_bound ? "; AT THE END OF THE SEARCH RANGE" : "");
		fprintf(out, "      half_life: %s\n",
		        lvc_duration_format(ins->half_life_us, d1, sizeof(d1)));
	} else {
		fprintf(out, "      # ewma: %s\n", comment_safe(ins->ewma_out.why, nm, sizeof(nm)));
	}
	if (g_ok) {
		const lvc_garch_fit_t *g = &ins->garch;
		char om[32], al[32], be[32];
		double unc =
		    sqrt(g->uncond_var / bar_seconds(ins) * vp->annualization_days * 86400.0);

		garch_strings(g->par, om, al, be);
		fprintf(
		    out,
		    "      # GARCH(1,1), Gaussian ML on %s bar log returns (omega: variance per "
		    "bar): logL %.6f,\n"
		    "      # persistence %.6g, unconditional sigma_ann %.4g%s;\n"
		    "      # mean mu %.10g (se %.6g) estimated, not used by the engine's "
		    "zero-mean filter\n",
		    lvc_duration_format(vp->bar_interval_us, d1, sizeof(d1)), g->loglik,
		    g->persistence, unc, g->at_bound ? ", AT A BOUND" : "", g->par[LVC_GARCH_MU],
		    g->se[LVC_GARCH_MU]);
		fputs("      garch:\n", out);
		fprintf(out, "        omega: %-22s # se %.6g (robust %.6g)\n", om,
		        g->se[LVC_GARCH_OMEGA], g->se_robust[LVC_GARCH_OMEGA]);
		fprintf(out, "        alpha: %-22s # se %.6g (robust %.6g)\n", al,
		        g->se[LVC_GARCH_ALPHA], g->se_robust[LVC_GARCH_ALPHA]);
		fprintf(out, "        beta: %-23s # se %.6g (robust %.6g)\n", be,
		        g->se[LVC_GARCH_BETA], g->se_robust[LVC_GARCH_BETA]);
	} else if (g_ok == 0 && (e_ok || ins->tail_student)) {
		fprintf(out, "      # garch: %s\n",
		        ins->garch_out.err != LVC_OK
		            ? comment_safe(ins->garch_out.why, nm, sizeof(nm))
		            : "the optimiser did not converge: not written");
	}
	if (ins->tail_out.err == LVC_OK) {
		const lvc_t_fit_t *t = &ins->tail;

		if (ins->tail_student && g_ok) {
			fprintf(
			    out,
			    "    leverage:\n"
			    "      # Student-t on the GARCH-standardized returns: nu %.4g (se "
			    "%.3g),\n"
			    "      # 2 (logL_t - logL_normal) = %.4g > %.2f: heavier tails than "
			    "normal\n"
			    "      tail: student_t\n"
			    "      tail_nu: %.2f\n",
			    t->nu, t->se_nu, ins->tail_lr, LVC_CALIB_TAIL_LR_MIN, ins->tail_nu);
		} else {
			fprintf(
			    out,
			    "    # tail: Student-t nu %.4g%s (se %.3g), 2 (logL_t - logL_normal) = "
			    "%.4g: not written\n"
			    "    # (written only when nu < %.0f and the statistic > %.2f)\n",
			    t->nu, t->at_bound ? " (at a bound of the search)" : "", t->se_nu,
			    ins->tail_lr, LVC_CALIB_TAIL_NU_MAX, LVC_CALIB_TAIL_LR_MIN);
		}
	}
}

lvc_err_t lvc_calibrate_yaml(const lvc_calib_run_t *run, FILE *out)
{
	char nm[512];

	fprintf(out, "  # levcal calibrate (levcal %s), config %s (config_id %s), inputs:",
	        lvc_version(),
	        comment_safe(run->cfg->path != NULL ? run->cfg->path : "-", nm, sizeof(nm)),
	        run->cfg->config_id);
	for (size_t i = 0; i < run->inputs_n; i++) {
		fprintf(out, " %s", comment_safe(run->inputs[i], nm, sizeof(nm)));
	}
	fprintf(
	    out,
	    "\n"
	    "  # Paste right after the `instruments:` line of a levcal config: each instrument\n"
	    "  # then overrides only the keys below. Standard errors from the Hessian (robust:\n"
	    "  # Bollerslev-Wooldridge sandwich).\n");
	for (size_t i = 0; i < run->ins_n; i++) {
		yaml_instrument(run->ins[i], out);
	}
	fflush(out);
	return ferror(out) ? LVC_ERR_IO : LVC_OK;
}

/* ---- the summary ------------------------------------------------------------------ */

static const char *verdict(const lvc_cov_test_t *t)
{
	int reject;

	if (isnan(t->p_pof)) {
		return "-";
	}
	reject = t->p_pof < 0.05 || (!isnan(t->p_cc) && t->p_cc < 0.05);
	if (!reject) {
		return "pass";
	}
	if (t->p_pof < 0.05) {
		return t->rate > t->expected ? "REJECT (too many)" : "REJECT (too few)";
	}
	return "REJECT (clustered)";
}

static void cov_rows(FILE *out, const char *name, const lvc_cov_result_t *r)
{
	static const char *const mname[] = { "IM", "MM" };
	static const char *const sname[] = { "long", "short", "either" };
	char b[6][32];

	for (int m = 0; m < LVC_COV_MARGIN__COUNT; m++) {
		for (int s = 0; s < LVC_COV_SIDE__COUNT; s++) {
			const lvc_cov_test_t *t = &r->block[m][s];

			fprintf(out,
			        "  %-16.16s %-2s %-6s %7" PRId64 " %6" PRId64
			        " %9s %9s %9s %9s %9s  %s\n",
			        name, mname[m], sname[s], t->trials, t->exceed,
			        lvc_report_num(t->rate, 4, b[0], sizeof(b[0])),
			        lvc_report_num(t->expected, 4, b[1], sizeof(b[1])),
			        lvc_report_num(t->p_pof, 3, b[2], sizeof(b[2])),
			        lvc_report_num(t->p_ind, 3, b[3], sizeof(b[3])),
			        lvc_report_num(t->p_cc, 3, b[4], sizeof(b[4])), verdict(t));
		}
	}
}

void lvc_calibrate_summary(const lvc_calib_run_t *run, FILE *out)
{
	char b[8][48];

	fprintf(out,
	        "levcal calibrate: %" PRIu64
	        " records from %zu file(s) read and replayed in %.2f s, "
	        "fits and backtests %.2f s; %zu instrument(s), %" PRIu64 " limits, %" PRIu64
	        " dead letters, %" PRIu64 " late ticks\n",
	        run->records, run->inputs_n, run->read_s, run->fit_s, run->ins_n, run->limits,
	        run->dead_letters, run->ticks_late);
	fprintf(out, "  %-16s %9s %8s %11s %12s %9s %9s %9s %7s %s\n", "instrument", "ticks",
	        "bars", "half-life", "omega/bar", "alpha", "beta", "persist", "nu", "tail");
	for (size_t i = 0; i < run->ins_n; i++) {
		const lvc_calib_ins_t *ins = run->ins[i];
		int g = ins->garch_out.err == LVC_OK, t = ins->tail_out.err == LVC_OK;

		fprintf(out, "  %-16.16s %9" PRIu64 " %8zu %11s %12s %9s %9s %9s %7s %s\n",
		        ins->name, ins->smp.ticks, ins->smp.bar_n,
		        ins->ewma_out.err == LVC_OK
		            ? lvc_duration_format(ins->half_life_us, b[0], sizeof(b[0]))
		            : "-",
		        g ? lvc_report_num(ins->garch.par[LVC_GARCH_OMEGA], 6, b[1], sizeof(b[1]))
		          : "-",
		        g ? lvc_report_num(ins->garch.par[LVC_GARCH_ALPHA], 5, b[2], sizeof(b[2]))
		          : "-",
		        g ? lvc_report_num(ins->garch.par[LVC_GARCH_BETA], 5, b[3], sizeof(b[3]))
		          : "-",
		        g ? lvc_report_num(ins->garch.persistence, 5, b[4], sizeof(b[4])) : "-",
		        t ? lvc_report_num(ins->tail.nu, 4, b[5], sizeof(b[5])) : "-",
		        !t                  ? "-"
		        : ins->tail_student ? "student_t"
		                            : "normal");
	}
	fprintf(
	    out,
	    "coverage of the published margins over leverage.horizon, non-overlapping blocks "
	    "(anchors at multiples of the horizon);\n"
	    "expected: one-side rate under the configured model (either: twice); p: Kupiec POF, "
	    "Christoffersen ind and cc; verdict at 5%%\n");
	fprintf(out, "  %-16s %-2s %-6s %7s %6s %9s %9s %9s %9s %9s  %s\n", "instrument", "m",
	        "side", "trials", "exceed", "rate", "expected", "p_pof", "p_ind", "p_cc",
	        "verdict");
	for (size_t i = 0; i < run->ins_n; i++) {
		const lvc_calib_ins_t *ins = run->ins[i];

		if (ins->cov_out.err != LVC_OK) {
			fprintf(out, "  %-16.16s backtest failed: %s\n", ins->name,
			        ins->cov_out.why);
			continue;
		}
		cov_rows(out, ins->name, &ins->cov);
	}
	if (run->ins_n > 1) {
		cov_rows(out, run->pooled_ok ? "ALL (pooled)" : "ALL (counts)", &run->pooled);
	}
	fflush(out);
}

/* ---- the subcommand --------------------------------------------------------------- */

int lvc_calibrate_run(const lvc_config_t *cfg, const lvc_calibrate_opts_t *opts,
                      lvc_calib_run_t *run)
{
	pass_t ps;
	lvc_inputs_t *inp = NULL;
	lvc_pipeline_t *pl = NULL;
	char why[512];
	double t0;
	int rc = 1;

	memset(run, 0, sizeof(*run));
	memset(&ps, 0, sizeof(ps));
	run->cfg = cfg;
	run->inputs = opts->inputs;
	run->inputs_n = opts->inputs_n;
	ps.run = run;
	ps.cfg = cfg;
	ps.report = opts->report_path != NULL;
	if (opts->inputs_n == 0) {
		lvc_error("calibrate from topics (--from/--to) is not available in this version; "
		          "give --input files");
		return 2;
	}
	if ((inp = lvc_inputs_open(opts->inputs, opts->inputs_n, why, sizeof(why))) == NULL) {
		lvc_error("--input %s", why);
		return 2;
	}
	if ((ps.codec = lvc_codec_new(why, sizeof(why))) == NULL ||
	    (ps.syms = lvc_symtab_new(64)) == NULL) {
		lvc_error("%s", ps.codec == NULL ? why : "out of memory");
		goto exit;
	}
	/* Files hold plain Avro; the sink decodes the limits it is given. */
	if ((pl = lvc_pipeline_new_wire(cfg, "", LVC_WIRE_PLAIN, LVC_WIRE_PLAIN, sink, &ps, why,
	                                sizeof(why))) == NULL) {
		lvc_error("%s", why);
		goto exit;
	}
	t0 = mono_s();
	if ((rc = read_pass(&ps, opts, inp, pl)) != 0) {
		goto exit;
	}
	run->read_s = mono_s() - t0;
	rc = 1;
	/* The fits of a long history take a while too (the GARCH optimiser
	 * evaluates the likelihood over every bar thousands of times): say
	 * so after a read that was long enough to show progress. */
	if (opts->progress != 0 && opts->err != NULL && run->read_s >= 2.0) {
		fprintf(opts->err, "levcal calibrate: fitting and backtesting %zu instrument(s)\n",
		        run->ins_n);
		fflush(opts->err);
	}
	t0 = mono_s();
	for (size_t i = 0; i < run->ins_n; i++) {
		lvc_calib_ins_t *ins = run->ins[i];
		int closed = lvc_calib_sampler_finish(&ins->smp);

		if (closed < 0) {
			lvc_error("out of memory");
			goto exit;
		}
		if (ps.report && ins->smp.has_tick && sig_sample(ins, ins->smp.last_ts) != 0) {
			lvc_error("out of memory");
			goto exit;
		}
		fit_garch(ins);
		fit_ewma(ins);
		backtest(ins);
	}
	pool(run);
	run->fit_s = mono_s() - t0;
	if (run->ins_n == 0) {
		lvc_error("--input: %" PRIu64 " record(s) but no tick of the volatility source "
		          "(volatility.source: %s): nothing to calibrate",
		          run->records,
		          cfg->defaults.vol.source == LVC_SOURCE_MARK ? "mark" : "trades");
		goto exit;
	}
	rc = 0;
exit:
	lvc_pipeline_destroy(pl);
	lvc_symtab_destroy(ps.syms);
	lvc_codec_destroy(ps.codec);
	lvc_inputs_close(inp);
	return rc;
}

/* Writes the snippet to path; 0 or -1 (logged). */
static int write_yaml_file(const lvc_calib_run_t *run, const char *path)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL) {
		lvc_error("--write %s: cannot open for writing: %s", path, strerror(errno));
		return -1;
	}
	if (lvc_calibrate_yaml(run, f) != LVC_OK) {
		rc = -1;
	}
	if (fclose(f) != 0) {
		rc = -1;
	}
	if (rc != 0) {
		lvc_error("--write %s: write failed", path);
	}
	return rc;
}

int lvc_calibrate(const lvc_config_t *cfg, const lvc_calibrate_opts_t *opts)
{
	lvc_calib_run_t run;
	char why[512];
	int rc = lvc_calibrate_run(cfg, opts, &run);

	if (rc != 0) {
		goto exit;
	}
	rc = 1;
	if (opts->err != NULL) {
		lvc_calibrate_summary(&run, opts->err);
	}
	if (opts->out != NULL && lvc_calibrate_yaml(&run, opts->out) != LVC_OK) {
		lvc_error("writing the YAML snippet to stdout failed");
		goto exit;
	}
	if (opts->write_path != NULL && write_yaml_file(&run, opts->write_path) != 0) {
		goto exit;
	}
	if (opts->report_path != NULL) {
		double t0 = mono_s();

		if (lvc_report_write(&run, opts->report_path, why, sizeof(why)) != LVC_OK) {
			lvc_error("--report %s", why);
			goto exit;
		}
		lvc_info("report written to %s in %.2f s", opts->report_path, mono_s() - t0);
	}
	rc = 0;
exit:
	lvc_calib_run_free(&run);
	return rc;
}
