/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Special functions for calibration and backtests: log-gamma, the
 * regularized incomplete gamma functions, the chi-square distribution and
 * the unit-variance Student-t log-density.
 *
 * All functions are pure (no state, no allocation, no errno reliance) and
 * safe to call from any thread. Our own log-gamma exists because libm's
 * lgamma() writes the global `signgam` (not re-entrant) and lgamma_r() is not
 * C11. Domain errors return NaN.
 */
#ifndef LVC_CORE_STATS_H
#define LVC_CORE_STATS_H

/* ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; absolute
 * error below 1e-14 for x in (0, 1e6], relative error below 1e-14 away from
 * the roots at x = 1 and x = 2). NaN for x <= 0 or NaN. */
double lvc_stats_lgamma(double x);

/* Regularized lower incomplete gamma P(a, x) = gamma(a, x) / Gamma(a), for
 * a > 0, x >= 0 (series for x < a + 1, Lentz continued fraction otherwise;
 * relative accuracy about 1e-14). NaN outside the domain. */
double lvc_stats_gamma_p(double a, double x);

/* Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), computed
 * directly so that small tail probabilities keep their relative accuracy. */
double lvc_stats_gamma_q(double a, double x);

/* Chi-square CDF with df > 0 degrees of freedom at x (0 for x <= 0). */
double lvc_stats_chi2_cdf(double x, double df);

/* Chi-square survival function 1 - CDF: the p-value of a likelihood-ratio
 * statistic x with df degrees of freedom (1 for x <= 0). */
double lvc_stats_chi2_sf(double x, double df);

/* Log-density of the standard normal at z. */
double lvc_stats_normal_logpdf(double z);

/* Log-density at z of Student's t with nu > 2 degrees of freedom scaled to
 * unit variance: ln Gamma((nu+1)/2) - ln Gamma(nu/2) - ln(pi (nu-2)) / 2
 * - (nu+1)/2 ln(1 + z^2 / (nu-2)). NaN for nu <= 2. */
double lvc_stats_t_unit_logpdf(double z, double nu);

#endif
