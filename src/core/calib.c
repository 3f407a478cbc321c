/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One instrument, every model (calib.h): GARCH(1,1), the EWMA half-life and
 * the Student-t nu of the GARCH-standardized returns, from one array of bar
 * returns. This is the entry point `levcal calibrate` calls per instrument.
 *
 * Invariants: each model is fitted independently of the others' success
 * (except nu, which needs the GARCH filter), and each outcome is recorded
 * in its own error field, so one failing model never hides the others.
 * Load: per instrument, a GARCH fit dominates (see calib_garch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calib.h"

void lvc_calib_opts_defaults(lvc_calib_opts_t *o)
{
	lvc_garch_opts_defaults(&o->garch);
	lvc_ewma_opts_defaults(&o->ewma);
}

lvc_err_t lvc_calib_returns(const double *r, size_t n, int64_t interval_us,
                            const lvc_calib_opts_t *opts, lvc_calib_result_t *out, char *errstr,
                            size_t errstr_size)
{
	lvc_calib_opts_t o;
	char es[256];
	double *z = NULL;
	lvc_err_t err = LVC_OK;

	if (out == NULL) {
		snprintf(errstr, errstr_size, "calibrate: no result given");
		return LVC_ERR_INVALID;
	}
	memset(out, 0, sizeof(*out));
	if (opts == NULL) {
		lvc_calib_opts_defaults(&o);
	} else {
		o = *opts;
	}
	if (errstr_size > 0) {
		errstr[0] = '\0';
	}

	out->garch_err = lvc_garch_fit(r, n, &o.garch, &out->garch, es, sizeof(es));
	if (out->garch_err != LVC_OK) {
		err = out->garch_err;
		snprintf(errstr, errstr_size, "%s", es);
	}

	out->ewma_err = lvc_ewma_fit(r, n, interval_us, &o.ewma, &out->ewma, es, sizeof(es));
	if (out->ewma_err != LVC_OK && err == LVC_OK) {
		err = out->ewma_err;
		snprintf(errstr, errstr_size, "%s", es);
	}

	if (out->garch_err != LVC_OK) {
		out->tail_err = LVC_ERR_STATE;
		goto exit;
	}
	z = malloc(n * sizeof(double));
	if (z == NULL) {
		out->tail_err = LVC_ERR_NOMEM;
		err = LVC_ERR_NOMEM;
		snprintf(errstr, errstr_size, "calibrate: out of memory for %zu residuals", n);
		goto exit;
	}
	out->tail_err = lvc_garch_standardize(r, n, out->garch.par, out->garch.init, z);
	if (out->tail_err == LVC_OK) {
		out->tail_err = lvc_t_fit(z, n, &out->tail, es, sizeof(es));
	} else {
		snprintf(es, sizeof(es), "student_t: the GARCH filter failed on the returns");
	}
	if (out->tail_err != LVC_OK && err == LVC_OK) {
		err = out->tail_err;
		snprintf(errstr, errstr_size, "%s", es);
	}
exit:
	free(z);
	return err;
}
