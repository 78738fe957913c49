/*
 * stats.c: the slope of memory against messages, robust to allocator steps.
 *
 * Interface (soak.h): stats_theil_sen(), stats_robust_slope(),
 * stats_quantile(), stats_median().
 *
 * Method.  stats_robust_slope() first looks at the increments between
 * consecutive samples.  Each increment is compared with what the median
 * rate predicts for its interval; the residuals get a robust scale
 * (1.4826 x MAD).  An increment further than max(STATS_STEP_K x scale,
 * floor) from its prediction, after which the level stays moved (median
 * of STATS_STEP_SPAN samples after vs before, detrended, shows at least
 * half of it: a spike that comes back is no step), is a step.  If there
 * are at most max_steps
 * such steps they are one-off allocator moves (arena growth, a trim, a
 * cache filling) and their excess is subtracted from every later sample;
 * if there are more, the steps recur and are the signal (a leak that grows
 * in chunks), so nothing is removed.  Then Theil-Sen: the median of the
 * pairwise slopes, with the rank-based 95% interval of Sen (1968): with N
 * pairwise slopes sorted and C = z(0.975) sqrt(Var S), where Var S is
 * Kendall's variance n(n-1)(2n+5)/18 less the tie terms of x and y, the
 * bounds are the slopes of rank (N - C)/2 and (N + C)/2 + 1 (interpolated).
 * Above STATS_PAIRS_MAX pairs, pairs are drawn at random (fixed seed) and
 * the ranks are scaled to the subsample.
 *
 * Limits: n up to SOAK_SAMPLES_MAX; O(min(n^2, STATS_PAIRS_MAX) log) time,
 * memory for one array of pair slopes.
 *
 * Known weaknesses: Sen's interval assumes independent residuals; memory
 * is autocorrelated (a buffer held for a while), so the interval can be
 * too narrow on noisy targets; the threshold and --valid control runs are
 * the defence.  A leak whose growth happens in at most max_steps jumps
 * within the measured window is forgiven as steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
stats_quantile(double *v, size_t n, double q)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), cmp_double);
	if (q <= 0.0)
		return v[0];
	if (q >= 1.0)
		return v[n - 1];
	pos = q * (double)(n - 1);
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + frac * (v[lo + 1] - v[lo]);
}

double
stats_median(double *v, size_t n)
{
	return stats_quantile(v, n, 0.5);
}

/* Sum of t(t-1)(2t+5) over groups of equal values (v sorted in place). */
static double
tie_term(double *v, size_t n)
{
	double sum = 0.0;
	size_t i = 0, j;

	qsort(v, n, sizeof(*v), cmp_double);
	while (i < n) {
		j = i + 1;
		while (j < n && v[j] == v[i])
			j++;
		if (j - i > 1) {
			double t = (double)(j - i);

			sum += t * (t - 1.0) * (2.0 * t + 5.0);
		}
		i = j;
	}
	return sum;
}

/* 1-based rank r (fractional) in sorted s[0..m-1], clamped. */
static double
at_rank(const double *s, size_t m, double r)
{
	double pos = r - 1.0, frac;
	size_t lo;

	if (pos <= 0.0)
		return s[0];
	if (pos >= (double)(m - 1))
		return s[m - 1];
	lo = (size_t)floor(pos);
	frac = pos - (double)lo;
	return s[lo] + frac * (s[lo + 1] - s[lo]);
}

static uint64_t
mix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int
stats_theil_sen(const double *x, const double *y, size_t n, struct soak_fit *f)
{
	double *sl = NULL, *tmp = NULL, total, var, c, nx, m1, m2;
	size_t i, j, m = 0, cap;
	uint64_t rs = 0x5eedULL;

	memset(f, 0, sizeof(*f));
	f->n = n;
	if (n < 3 || n > SOAK_SAMPLES_MAX)
		return -1;
	total = (double)n * (double)(n - 1) / 2.0;
	cap = total > STATS_PAIRS_MAX ? STATS_PAIRS_MAX : (size_t)total;
	sl = malloc(cap * sizeof(*sl));
	tmp = malloc(n * sizeof(*tmp));
	if (sl == NULL || tmp == NULL)
		goto fail;
	if (total <= STATS_PAIRS_MAX) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (x[j] != x[i])
					sl[m++] = (y[j] - y[i]) / (x[j] - x[i]);
	} else {
		size_t tries;

		for (tries = 0; m < cap && tries < 4 * (size_t)cap; tries++) {
			i = (size_t)(mix64(&rs) % n);
			j = (size_t)(mix64(&rs) % n);
			if (i == j || x[i] == x[j])
				continue;
			sl[m++] = (y[j] - y[i]) / (x[j] - x[i]);
		}
	}
	if (m < 1)
		goto fail;
	qsort(sl, m, sizeof(*sl), cmp_double);
	f->pairs = m;
	f->slope = at_rank(sl, m, ((double)m + 1.0) / 2.0);

	/* Kendall's variance of S with tie corrections. */
	var = (double)n * (double)(n - 1) * (2.0 * (double)n + 5.0);
	memcpy(tmp, x, n * sizeof(*tmp));
	var -= tie_term(tmp, n);
	memcpy(tmp, y, n * sizeof(*tmp));
	var -= tie_term(tmp, n);
	var /= 18.0;
	if (var < 0.0)
		var = 0.0;
	c = STATS_Z975 * sqrt(var);
	/* N: pairs with distinct x in the full set. */
	memcpy(tmp, x, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	nx = total;
	for (i = 0; i < n;) {
		j = i + 1;
		while (j < n && tmp[j] == tmp[i])
			j++;
		nx -= (double)(j - i) * (double)(j - i - 1) / 2.0;
		i = j;
	}
	m1 = (nx - c) / 2.0;
	m2 = (nx + c) / 2.0 + 1.0;
	if (nx > 0.0 && (double)m != nx) {
		m1 = m1 / nx * (double)m;
		m2 = m2 / nx * (double)m;
	}
	f->lo = at_rank(sl, m, m1);
	f->hi = at_rank(sl, m, m2);
	if (f->lo > f->slope)
		f->lo = f->slope;
	if (f->hi < f->slope)
		f->hi = f->slope;
	for (i = 0; i < n; i++)
		tmp[i] = y[i] - f->slope * x[i];
	f->intercept = stats_median(tmp, n);
	f->ok = 1;
	free(sl);
	free(tmp);
	return 0;
fail:
	free(sl);
	free(tmp);
	return -1;
}

/* Median of y[a..b) (copied into tmp). */
static double
median_of(const double *y, size_t a, size_t b, double *tmp)
{
	memcpy(tmp, y + a, (b - a) * sizeof(double));
	return stats_median(tmp, b - a);
}

int
stats_robust_slope(const double *x, const double *y, size_t n, unsigned max_steps, double floor_bytes,
    struct soak_fit *f)
{
	double *rate = NULL, *res = NULL, *tmp = NULL, *yc = NULL, med_rate, med_res, scale, thr, shift, total;
	unsigned char *is_step = NULL;
	size_t i, k, nsteps = 0;
	int rc;

	if (n < 4 || n > SOAK_SAMPLES_MAX)
		return stats_theil_sen(x, y, n, f);
	if (max_steps > 4)
		max_steps = 4;
	rate = malloc((n - 1) * sizeof(double));
	res = malloc((n - 1) * sizeof(double));
	tmp = malloc(n * sizeof(double));
	yc = malloc(n * sizeof(double));
	is_step = calloc(n, 1);
	if (rate == NULL || res == NULL || tmp == NULL || yc == NULL || is_step == NULL) {
		rc = -1;
		memset(f, 0, sizeof(*f));
		goto out;
	}
	for (i = 0, k = 0; i + 1 < n; i++) {
		double dx = x[i + 1] - x[i];

		if (dx > 0.0)
			rate[k++] = (y[i + 1] - y[i]) / dx;
	}
	med_rate = stats_median(rate, k);
	for (i = 0; i + 1 < n; i++) {
		res[i] = (y[i + 1] - y[i]) - med_rate * (x[i + 1] - x[i]);
		tmp[i] = res[i];
	}
	med_res = stats_median(tmp, n - 1);
	for (i = 0; i + 1 < n; i++)
		tmp[i] = fabs(res[i] - med_res);
	scale = 1.4826 * stats_median(tmp, n - 1);
	thr = STATS_STEP_K * scale;
	if (thr < floor_bytes)
		thr = floor_bytes;
	/* A step is an outlying increment after which the level stays moved:
	 * the median of the STATS_STEP_SPAN samples after it, less the
	 * median of those before (both detrended), shows at least half of
	 * the jump, same sign.  A spike that comes back is not a step (the
	 * median of pairwise slopes already ignores it). */
	for (i = 0; i + 1 < n; i++) {
		size_t a = i + 1 > STATS_STEP_SPAN ? i + 1 - STATS_STEP_SPAN : 0;
		size_t b = i + 1 + STATS_STEP_SPAN < n ? i + 1 + STATS_STEP_SPAN : n;
		double jump = res[i] - med_res, pre, post, level;
		size_t j;

		if (fabs(jump) <= thr)
			continue;
		for (j = a; j < b; j++)
			yc[j] = y[j] - med_rate * x[j];
		pre = median_of(yc, a, i + 1, tmp);
		post = median_of(yc, i + 1, b, tmp);
		level = post - pre;
		if (level * jump > 0 && fabs(level) >= 0.5 * fabs(jump)) {
			is_step[i] = 1;
			nsteps++;
		}
	}
	shift = 0.0;
	total = 0.0;
	yc[0] = y[0];
	memset(f, 0, sizeof(*f));
	k = 0;
	for (i = 0; i + 1 < n; i++) {
		if (nsteps <= max_steps && is_step[i]) {
			shift += res[i] - med_res;
			total += res[i] - med_res;
			if (k < 4) {
				f->step_x[k] = x[i + 1];
				f->step_y[k] = res[i] - med_res;
				k++;
			}
		}
		yc[i + 1] = y[i + 1] - shift;
	}
	{
		double sx[4], sy[4];

		memcpy(sx, f->step_x, sizeof(sx));
		memcpy(sy, f->step_y, sizeof(sy));
		rc = stats_theil_sen(x, yc, n, f);
		if (nsteps <= max_steps) {
			f->steps = (unsigned)nsteps;
			f->step_total = total;
			memcpy(f->step_x, sx, sizeof(sx));
			memcpy(f->step_y, sy, sizeof(sy));
		}
	}
out:
	free(rate);
	free(res);
	free(tmp);
	free(yc);
	free(is_step);
	return rc;
}
