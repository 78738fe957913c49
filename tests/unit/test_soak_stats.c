/* test_soak_stats.c: holdfast-soak's slope estimator (tools/soak/stats.c):
 * a perfect line, a flat line with one big allocator step, a line with a
 * step, pure noise, a staircase leak (recurring steps are kept), ties,
 * the rank interval's coverage, quantiles. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/soak/soak.h"

#define N 200

static uint64_t rs = 12345;

/* Deterministic standard normal (Box-Muller over splitmix64). */
static double
gauss(void)
{
	uint64_t z;
	double u1, u2;

	z = (rs += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	u1 = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
	z = (rs += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	u2 = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void
test_perfect_line(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 1000.0 * i;
		y[i] = 5e6 + 3.0 * x[i];
	}
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_true(f.ok);
	assert_true(fabs(f.slope - 3.0) < 1e-9);
	assert_true(fabs(f.lo - 3.0) < 1e-9);
	assert_true(fabs(f.hi - 3.0) < 1e-9);
	assert_true(fabs(f.intercept - 5e6) < 1e-3);
	assert_int_equal(f.steps, 0);
}

/* Flat memory with one 512 KiB jump in the middle: plain Theil-Sen puts
 * it about 11 B/message; the step is set aside and the slope is zero. */
static void
test_flat_with_one_step_is_not_a_leak(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 250.0 * i;
		y[i] = 4e6 + (i >= N / 2 ? 524288.0 : 0.0) + 4096.0 * (i % 3 == 0);
	}
	assert_int_equal(stats_theil_sen(x, y, N, &f), 0);
	assert_true(f.slope > 5.0);	/* the trap the robust estimator avoids */
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_int_equal(f.steps, 1);
	assert_true(fabs(f.step_total - 524288.0) < 8192.0);
	assert_true(fabs(f.slope) < 0.5);
	assert_true(f.hi < 1.0);
}

/* A real 8 B/message leak with page-sized noise and one downward trim. */
static void
test_line_with_one_step(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 1000.0 * i;
		y[i] = 1e7 + 8.0 * x[i] + 4096.0 * floor(fabs(gauss())) - (i >= 120 ? 1048576.0 : 0.0);
	}
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_int_equal(f.steps, 1);
	assert_true(f.slope > 7.5 && f.slope < 8.5);
	assert_true(f.lo <= 8.0 + 0.2 && f.hi >= 8.0 - 0.2);
	assert_true(f.lo > 1.0);
}

static void
test_pure_noise(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 250.0 * i;
		y[i] = 3e6 + 4096.0 * gauss();
	}
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_true(f.lo <= 0.0 && f.hi >= 0.0);
	assert_true(f.hi < 1.0);
	assert_true(f.lo > -1.0);
}

/* A spike (memory up for one sample, then back) is not a step; a short
 * plateau (3 samples) is an up and a down step that cancel.  Either way
 * nothing net is set aside and the slope stays flat. */
static void
test_spike_is_not_a_step(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 250.0 * i;
		y[i] = 8e6 + (i == 77 ? 38e6 : 0.0) + (i >= 150 && i < 153 ? 20e6 : 0.0) + 4096.0 * (i % 2);
	}
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_true(f.steps == 0 || f.steps == 2);
	assert_true(fabs(f.step_total) < 65536.0);
	assert_true(fabs(f.slope) < 0.5);
	assert_true(f.hi < 1.0 && f.lo > -1.0);
	y[150] = y[151] = y[152] = y[149];	/* the spike alone */
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_int_equal(f.steps, 0);
	assert_true(fabs(f.slope) < 0.5);
}

/* A leak that grows in 64 KiB chunks every 10 samples: the steps recur,
 * so none is removed and the slope is the chunked growth. */
static void
test_staircase_leak_is_kept(void **state)
{
	double x[N], y[N];
	struct soak_fit f;
	int i;

	for (i = 0; i < N; i++) {
		x[i] = 1000.0 * i;
		y[i] = 2e6 + 65536.0 * (i / 10);
	}
	assert_int_equal(stats_robust_slope(x, y, N, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_int_equal(f.steps, 0);
	assert_true(f.slope > 5.0 && f.slope < 8.0);	/* 65536 / 10000 = 6.55 */
	assert_true(f.lo > 1.0);
}

/* Coverage of Sen's interval on independent noise: about 95%. */
static void
test_interval_coverage(void **state)
{
	double x[60], y[60];
	struct soak_fit f;
	int i, rep, covered = 0;

	for (rep = 0; rep < 400; rep++) {
		for (i = 0; i < 60; i++) {
			x[i] = i;
			y[i] = 2.0 * i + 5.0 * gauss();
		}
		assert_int_equal(stats_theil_sen(x, y, 60, &f), 0);
		if (f.lo <= 2.0 && f.hi >= 2.0)
			covered++;
	}
	assert_true(covered >= 360 && covered <= 395);
}

static void
test_ties_and_small_inputs(void **state)
{
	double x[5] = {0, 1, 2, 3, 4}, y[5] = {7, 7, 7, 7, 7};
	struct soak_fit f;

	assert_int_equal(stats_theil_sen(x, y, 5, &f), 0);
	assert_true(f.slope == 0.0 && f.lo == 0.0 && f.hi == 0.0);
	assert_int_equal(stats_theil_sen(x, y, 2, &f), -1);
	assert_false(f.ok);
	x[1] = x[2] = x[3] = x[4] = 0;
	assert_int_equal(stats_theil_sen(x, y, 5, &f), -1);
}

static void
test_quantiles(void **state)
{
	double v[5] = {5, 1, 4, 2, 3}, e[1];

	assert_true(stats_median(v, 5) == 3.0);
	assert_true(stats_quantile(v, 5, 0.0) == 1.0);
	assert_true(stats_quantile(v, 5, 1.0) == 5.0);
	assert_true(fabs(stats_quantile(v, 5, 0.99) - 4.96) < 1e-9);
	assert_true(stats_quantile(e, 0, 0.5) == 0.0);
}

/* Many samples: pairs are subsampled and the answer stays right. */
static void
test_subsampled_pairs(void **state)
{
	size_t n = 4000, i;
	double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
	struct soak_fit f;

	assert_non_null(x);
	assert_non_null(y);
	for (i = 0; i < n; i++) {
		x[i] = (double)i * 50.0;
		y[i] = 1e6 + 64.0 * x[i] + 8192.0 * gauss();
	}
	assert_int_equal(stats_robust_slope(x, y, n, STATS_MAX_STEPS, STATS_STEP_FLOOR, &f), 0);
	assert_true(f.pairs <= STATS_PAIRS_MAX);
	assert_true(fabs(f.slope - 64.0) < 0.5);
	assert_true(f.lo < 64.0 + 0.5 && f.hi > 64.0 - 0.5);
	free(x);
	free(y);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perfect_line),
		cmocka_unit_test(test_flat_with_one_step_is_not_a_leak),
		cmocka_unit_test(test_line_with_one_step),
		cmocka_unit_test(test_pure_noise),
		cmocka_unit_test(test_spike_is_not_a_step),
		cmocka_unit_test(test_staircase_leak_is_kept),
		cmocka_unit_test(test_interval_coverage),
		cmocka_unit_test(test_ties_and_small_inputs),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_subsampled_pairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
