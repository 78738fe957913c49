/* test_settings.c: the shared key tables and listen-address parsing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "settings.h"

static void
test_addresses(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;
	unsigned len;

	assert_int_equal(settings_parse_addr("127.0.0.1:119", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(a4->sin_port), 119);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(settings_parse_addr("[::1]:563", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 563);
	assert_memory_equal(&a6->sin6_addr, &lo6, sizeof lo6);
	assert_int_equal(settings_parse_addr("*:65535", &ss, &len), 0);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_ANY);
}

static void
test_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:12x", ":119",
		"[::1]119", "[::1:119", "::1:119x", "300.0.0.1:1", "localhost:119",
		"1234567890123456789012345678901234567890123456789012345678901234567890:1", "[]:1",
	};
	struct sockaddr_storage ss;
	unsigned len;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (settings_parse_addr(bad[i], &ss, &len) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void
test_service_defaults_are_consistent(void **state)
{
	struct service_settings s;
	struct conf_binding b = { service_settings_keys, &s };
	char err[256];

	memset(&s, 0, sizeof s);
	assert_int_equal(conf_apply(NULL, NULL, &b, 1, err, sizeof err), 0);
	assert_int_equal(s.enable, 0);
	assert_int_equal(s.listen.n, 0);
	assert_string_equal(s.user, "nobody");
	assert_int_equal(s.memory_max, 256ULL << 20);
	/* The default buffers leave a quarter of the connection budget for state,
	 * as the supervisor requires of any configuration. */
	assert_true(s.read_max + s.write_budget <= s.connection_budget - s.connection_budget / 4);
	assert_int_equal(s.idle_timeout, 300000);
	assert_int_equal(s.handshake_timeout, 30000);
	assert_string_equal(s.tls_cert, "");
	conf_free_values(&b, 1);
}

static void
test_read_global(void **state)
{
	char path[] = "/tmp/test_settings_XXXXXX", err[512];
	struct global_settings g;
	int fd = mkstemp(path);
	const char *text = "[holdfast]\nrundir = /tmp/x-run\nlog = syslog\n\n[echo]\nwhatever = ignored here\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(settings_read_global(path, &g, err, sizeof err), 0);
	assert_string_equal(g.rundir, "/tmp/x-run");
	assert_string_equal(g.log, "syslog");
	assert_string_equal(g.log_level, "info");
	free(g.rundir);
	free(g.state_dir);
	free(g.log);
	free(g.log_level);
	assert_string_equal(g.memory_cap, "auto");
	free(g.memory_cap);
	unlink(path);
	assert_int_equal(settings_read_global(path, &g, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_service_defaults_are_consistent),
		cmocka_unit_test(test_read_global),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
