/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Quantile and distribution functions for the margin maths (SPEC §4): the
 * standard normal quantile, the standard normal CDF, and the Student t
 * quantile and CDF, written here so that the core needs only libm.
 *
 * - Normal quantile: Wichura's Algorithm AS 241 (PPND16, Applied Statistics
 *   37(3), 1988), three rational approximations, about 1e-16 relative.
 * - Normal CDF: 0.5 * erfc(-x / sqrt 2), from C99 <math.h>.
 * - Student t CDF: through the regularized incomplete beta function,
 *   P(T > t) = I_x(nu/2, 1/2) / 2 with x = nu / (nu + t^2), evaluated by its
 *   continued fraction (modified Lentz) on the side where it converges fast.
 *   Both x and 1 - x are formed without cancellation.
 * - Student t quantile: a Cornish-Fisher start (the normal quantile plus the
 *   1/nu, 1/nu^2, 1/nu^3 terms), then Newton steps on the upper tail
 *   probability, safeguarded by a bracket that bisection falls back to, so
 *   that any real nu > 0 converges to full double precision in a few steps.
 *
 * Load: none of these runs per tick. The policy evaluates the quantile once
 * per parameter set and caches z (see policy.c); these functions are pure,
 * allocate nothing and are safe from any thread.
 */
#include <float.h>
#include <math.h>

#include "core/policy.h"

#define LVC_PI    3.14159265358979323846
#define LVC_SQRT2 1.41421356237309504880

double lvc_quantile_normal(double p)
{
	double q, r, x;

	if (!(p > 0 && p < 1)) {
		if (p == 0) {
			return -INFINITY;
		}
		if (p == 1) {
			return INFINITY;
		}
		return NAN;
	}
	q = p - 0.5;
	if (fabs(q) <= 0.425) {
		/* Central region: rational function of r = 0.180625 - q^2. */
		r = 0.180625 - q * q;
		return q *
		       (((((((2.5090809287301226727e+03 * r + 3.3430575583588128105e+04) * r +
		             6.7265770927008700853e+04) *
		                r +
		            4.5921953931549871457e+04) *
		               r +
		           1.3731693765509461125e+04) *
		              r +
		          1.9715909503065514427e+03) *
		             r +
		         1.3314166789178437745e+02) *
		            r +
		        3.3871328727963666080e+00) /
		       (((((((5.2264952788528545610e+03 * r + 2.8729085735721942674e+04) * r +
		             3.9307895800092710610e+04) *
		                r +
		            2.1213794301586595867e+04) *
		               r +
		           5.3941960214247511077e+03) *
		              r +
		          6.8718700749205790830e+02) *
		             r +
		         4.2313330701600911252e+01) *
		            r +
		        1.0);
	}
	/* Tails: rational functions of r = sqrt(-ln(tail probability)). */
	r = q < 0 ? p : 1.0 - p;
	r = sqrt(-log(r));
	if (r <= 5.0) {
		r -= 1.6;
		x = (((((((7.74545014278341407640e-04 * r + 2.27238449892691845833e-02) * r +
		          2.41780725177450611770e-01) *
		             r +
		         1.27045825245236838258e+00) *
		            r +
		        3.64784832476320460504e+00) *
		           r +
		       5.76949722146069140550e+00) *
		          r +
		      4.63033784615654529590e+00) *
		         r +
		     1.42343711074968357734e+00) /
		    (((((((1.05075007164441684324e-09 * r + 5.47593808499534494600e-04) * r +
		          1.51986665636164571966e-02) *
		             r +
		         1.48103976427480074590e-01) *
		            r +
		        6.89767334985100004550e-01) *
		           r +
		       1.67638483018380384940e+00) *
		          r +
		      2.05319162663775882187e+00) *
		         r +
		     1.0);
	} else {
		r -= 5.0;
		x = (((((((2.01033439929228813265e-07 * r + 2.71155556874348757815e-05) * r +
		          1.24266094738807843860e-03) *
		             r +
		         2.65321895265761230930e-02) *
		            r +
		        2.96560571828504891230e-01) *
		           r +
		       1.78482653991729133580e+00) *
		          r +
		      5.46378491116411436990e+00) *
		         r +
		     6.65790464350110377720e+00) /
		    (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-07) * r +
		          1.84631831751005468180e-05) *
		             r +
		         7.86869131145613259100e-04) *
		            r +
		        1.48753612908506148525e-02) *
		           r +
		       1.36929880922735805310e-01) *
		          r +
		      5.99832206555887937690e-01) *
		         r +
		     1.0);
	}
	return q < 0 ? -x : x;
}

double lvc_normal_cdf(double x)
{
	return 0.5 * erfc(-x / LVC_SQRT2);
}

/* Continued fraction of the incomplete beta function (modified Lentz), for
 * x < (a + 1) / (a + b + 2) where it converges quickly. */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double c = 1.0, d, h;

	d = 1.0 - (a + b) * x / (a + 1.0);
	if (fabs(d) < tiny) {
		d = tiny;
	}
	d = 1.0 / d;
	h = d;
	for (int m = 1; m <= 1000; m++) {
		double m2 = 2.0 * m, aa, del;

		/* Even step. */
		aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny) {
			d = tiny;
		}
		c = 1.0 + aa / c;
		if (fabs(c) < tiny) {
			c = tiny;
		}
		d = 1.0 / d;
		h *= d * c;
		/* Odd step. */
		aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny) {
			d = tiny;
		}
		c = 1.0 + aa / c;
		if (fabs(c) < tiny) {
			c = tiny;
		}
		d = 1.0 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < 4 * DBL_EPSILON) {
			break;
		}
	}
	return h;
}

/* Regularized incomplete beta I_x(a, b), given both x and y = 1 - x (each
 * formed by the caller without cancellation). */
static double beta_inc(double a, double b, double x, double y)
{
	double lfront;

	if (x <= 0) {
		return 0.0;
	}
	if (y <= 0) {
		return 1.0;
	}
	lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
	if (x < (a + 1.0) / (a + b + 2.0)) {
		return exp(lfront) * beta_cf(a, b, x) / a;
	}
	return 1.0 - exp(lfront) * beta_cf(b, a, y) / b;
}

/* P(T > t) for t >= 0 under Student's t with nu degrees of freedom. */
static double t_upper(double t, double nu)
{
	double t2 = t * t;

	if (isinf(t)) {
		return 0.0;
	}
	return 0.5 * beta_inc(0.5 * nu, 0.5, nu / (nu + t2), t2 / (nu + t2));
}

static double t_pdf(double t, double nu)
{
	double lc = lgamma(0.5 * (nu + 1.0)) - lgamma(0.5 * nu) - 0.5 * log(nu * LVC_PI);

	return exp(lc - 0.5 * (nu + 1.0) * log1p(t * t / nu));
}

double lvc_student_t_cdf(double t, double nu)
{
	if (isnan(t) || !(nu > 0)) {
		return NAN;
	}
	if (t >= 0) {
		return 1.0 - t_upper(t, nu);
	}
	return t_upper(-t, nu);
}

double lvc_quantile_student_t(double p, double nu)
{
	double tail, z, z2, t, lo = 0.0, hi = INFINITY;

	if (!(p > 0 && p < 1) || !(nu > 0)) {
		if (nu > 0 && p == 0) {
			return -INFINITY;
		}
		if (nu > 0 && p == 1) {
			return INFINITY;
		}
		return NAN;
	}
	if (p == 0.5) {
		return 0.0;
	}
	/* Solve on the upper side, where the tail probability is held exactly. */
	tail = p > 0.5 ? 1.0 - p : p;
	z = -lvc_quantile_normal(tail);
	z2 = z * z;
	t = z + (z2 + 1.0) * z / (4.0 * nu) +
	    ((5.0 * z2 + 16.0) * z2 + 3.0) * z / (96.0 * nu * nu) +
	    (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / (384.0 * nu * nu * nu);
	if (!(t > 0) || !isfinite(t)) {
		t = z;
	}
	for (int i = 0; i < 200; i++) {
		double f = t_upper(t, nu) - tail, next;

		/* The upper tail falls with t: f > 0 means the root lies above. */
		if (f > 0) {
			lo = t;
		} else if (f < 0) {
			hi = t;
		} else {
			break;
		}
		next = t + f / t_pdf(t, nu);
		if (!(next > lo && next < hi)) {
			next = isinf(hi) ? 2.0 * t + 1.0 : 0.5 * (lo + hi);
		}
		if (fabs(next - t) <= 2 * DBL_EPSILON * next) {
			t = next;
			break;
		}
		t = next;
	}
	return p > 0.5 ? t : -t;
}

double lvc_quantile_student_t_unit(double p, double nu)
{
	if (!(nu > 2)) {
		return NAN;
	}
	return lvc_quantile_student_t(p, nu) * sqrt((nu - 2.0) / nu);
}
