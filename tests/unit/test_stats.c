/* test_stats.c: the shared counters page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "stats.h"

static void
test_page_is_zeroed_and_shared_across_fork(void **state)
{
	struct stats_page *sp = stats_page_new();
	pid_t pid;
	int status;

	assert_non_null(sp);
	assert_int_equal(sp->connections, 0);
	assert_int_equal(sp->rejected[0].name[0], '\0');
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The worker side writes... */
		sp->connections = 7;
		stats_reject(sp, "line_too_long");
		stats_refuse(sp, REFUSE_ADDR_LIMIT);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* ...and the supervisor reads the same page. */
	assert_int_equal(sp->connections, 7);
	assert_string_equal(sp->rejected[0].name, "line_too_long");
	assert_int_equal(sp->rejected[0].count, 1);
	assert_int_equal(sp->refused[REFUSE_ADDR_LIMIT], 1);
	stats_page_reset(sp);
	assert_int_equal(sp->connections, 0);
	stats_page_free(sp);
}

static void
test_reasons_register_once_and_count(void **state)
{
	struct stats_page *sp = stats_page_new();
	int i;

	for (i = 0; i < 5; i++)
		stats_reject(sp, "budget");
	stats_reject(sp, "nul_byte");
	stats_reject(sp, "budget");
	assert_string_equal(sp->rejected[0].name, "budget");
	assert_int_equal(sp->rejected[0].count, 6);
	assert_string_equal(sp->rejected[1].name, "nul_byte");
	assert_int_equal(sp->rejected[1].count, 1);
	assert_int_equal(sp->rejected[2].name[0], '\0');
	stats_page_free(sp);
}

static void
test_overflowing_reasons_share_other(void **state)
{
	struct stats_page *sp = stats_page_new();
	char name[32];
	int i;

	for (i = 0; i < STATS_REASONS_MAX + 10; i++) {
		snprintf(name, sizeof name, "reason_%d", i);
		stats_reject(sp, name);
	}
	assert_string_equal(sp->rejected[STATS_REASONS_MAX - 2].name, "reason_30");
	assert_string_equal(sp->rejected[STATS_REASONS_MAX - 1].name, "other");
	assert_int_equal(sp->rejected[STATS_REASONS_MAX - 1].count, 11);
	stats_page_free(sp);
}

static void
test_long_reason_is_truncated_and_terminated(void **state)
{
	struct stats_page *sp = stats_page_new();
	char longname[100];

	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	stats_reject(sp, longname);
	stats_reject(sp, longname);
	assert_int_equal(strlen(sp->rejected[0].name), STATS_REASON_NAME_MAX - 1);
	assert_int_equal(sp->rejected[0].count, 2);
	stats_page_free(sp);
}

static void
test_null_page_and_bad_reason_are_ignored(void **state)
{
	struct stats_page *sp = stats_page_new();

	stats_reject(NULL, "x");
	stats_refuse(NULL, REFUSE_BUDGET);
	stats_refuse(sp, REFUSE_MAX);
	stats_refuse(sp, REFUSE_BUDGET);
	assert_int_equal(sp->refused[REFUSE_BUDGET], 1);
	assert_string_equal(refuse_reason_names[REFUSE_GLOBAL_LIMIT], "global_limit");
	stats_page_free(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_is_zeroed_and_shared_across_fork),
		cmocka_unit_test(test_reasons_register_once_and_count),
		cmocka_unit_test(test_overflowing_reasons_share_other),
		cmocka_unit_test(test_long_reason_is_truncated_and_terminated),
		cmocka_unit_test(test_null_page_and_bad_reason_are_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
