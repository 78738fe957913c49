/*
 * test_nntp_feed.c: unit tests for src/nntp/feed_conf.c, the parser of
 * feeds_file.
 *
 * Good lines with every option, comments and CRLF; each field's errors
 * (name, HOST:PORT, wildmat, options) reported with the file name and
 * line number; limits at limit-1, limit and limit+1 (peers, name length,
 * port, line length); duplicate names; loading (empty path, missing file,
 * numeric host resolved, a failed load keeps the previous table);
 * accept=WILDMAT (parsed, refused when bad, with file and line) and
 * feed_conf_peer_by_addr (port ignored, IPv4-mapped IPv6 equal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "nntp/feed.h"

static struct feed_conf fc;
static char err[512];

static int
parse(const char *text)
{
	err[0] = '\0';
	return feed_conf_parse("/etc/feeds", text, strlen(text), &fc, err, sizeof err);
}

static void
test_good(void **state)
{
	assert_int_equal(parse("# peers\n"
	                       "\n"
	                       "inn 127.0.0.1:119 local.*,!local.secret\n"
	                       "  up.stream-1_x  news.example.org:433 *  mode=ihave max_backlog=100 path=up.example\r\n"
	                       "v6 [::1]:1119 comp.* mode=stream\n"),
	                 0);
	assert_int_equal(fc.npeers, 3);
	assert_string_equal(fc.peer[0].name, "inn");
	assert_string_equal(fc.peer[0].host, "127.0.0.1");
	assert_int_equal(fc.peer[0].port, 119);
	assert_string_equal(fc.peer[0].wildmat, "local.*,!local.secret");
	assert_int_equal(fc.peer[0].mode, FEED_MODE_STREAM);
	assert_true(fc.peer[0].max_backlog == 0);
	assert_string_equal(fc.peer[0].path, "");
	assert_string_equal(fc.peer[1].name, "up.stream-1_x");
	assert_string_equal(fc.peer[1].host, "news.example.org");
	assert_int_equal(fc.peer[1].port, 433);
	assert_int_equal(fc.peer[1].mode, FEED_MODE_IHAVE);
	assert_true(fc.peer[1].max_backlog == 100);
	assert_string_equal(fc.peer[1].path, "up.example");
	assert_string_equal(fc.peer[2].host, "::1");
	assert_int_equal(fc.peer[2].port, 1119);
	/* No peers at all is fine; so is a last line without LF. */
	assert_int_equal(parse(""), 0);
	assert_int_equal(fc.npeers, 0);
	assert_int_equal(parse("# nothing\n   \n\t\n"), 0);
	assert_int_equal(fc.npeers, 0);
	assert_int_equal(parse("a 10.0.0.1:119 *"), 0);
	assert_int_equal(fc.npeers, 1);
}

static void
bad(const char *text, const char *line, const char *why)
{
	assert_int_equal(parse(text), -1);
	if (strstr(err, "/etc/feeds") == NULL || strstr(err, line) == NULL || strstr(err, why) == NULL)
		fail_msg("for %s: error \"%s\" lacks \"%s\" or \"%s\"", text, err, line, why);
}

static void
test_errors(void **state)
{
	bad("ok 1.2.3.4:119 *\nbad!name 1.2.3.4:119 *\n", "line 2", "peer name");
	bad("a 1.2.3.4 *\n", "line 1", "HOST:PORT");
	bad("a 1.2.3.4: *\n", "line 1", "HOST:PORT");
	bad("a :119 *\n", "line 1", "HOST:PORT");
	bad("a 1.2.3.4:0 *\n", "line 1", "HOST:PORT");
	bad("a 1.2.3.4:65536 *\n", "line 1", "HOST:PORT");
	bad("a 1.2.3.4:-1 *\n", "line 1", "HOST:PORT");
	bad("a 1.2.3.4:11x *\n", "line 1", "HOST:PORT");
	bad("a ::1:119 *\n", "line 1", "HOST:PORT");
	bad("a [::1:119 *\n", "line 1", "HOST:PORT");
	bad("a []:119 *\n", "line 1", "HOST:PORT");
	bad("# c\n\na 1.2.3.4:119\n", "line 3", "expected NAME");
	bad("a\n", "line 1", "expected NAME");
	bad("a 1.2.3.4:119 comp.*,,x\n", "line 1", "wildmat");
	bad("a 1.2.3.4:119 * mode\n", "line 1", "option=value");
	bad("a 1.2.3.4:119 * mode=fast\n", "line 1", "mode");
	bad("a 1.2.3.4:119 * max_backlog=0\n", "line 1", "max_backlog");
	bad("a 1.2.3.4:119 * max_backlog=-3\n", "line 1", "max_backlog");
	bad("a 1.2.3.4:119 * max_backlog=99999999999999999999999\n", "line 1", "max_backlog");
	bad("a 1.2.3.4:119 * path=a!b\n", "line 1", "path");
	bad("a 1.2.3.4:119 * colour=blue\n", "line 1", "unknown option");
	bad("a 1.2.3.4:119 *\nb 1.2.3.5:119 *\na 1.2.3.6:119 *\n", "line 3", "named twice");
	{
		static const char nul[] = "a 1.2.3.4:119 *\nb 1.2.3.4:119\0 *\n";

		err[0] = '\0';
		assert_int_equal(feed_conf_parse("/etc/feeds", nul, sizeof nul - 1, &fc, err, sizeof err), -1);
		assert_non_null(strstr(err, "line 2"));
	}
}

static void
test_limits(void **state)
{
	char text[64 * (NNTP_FEED_PEERS_MAX + 1)], name[FEED_NAME_MAX_BYTES + 2];
	char *line;
	size_t off = 0, i;

	/* Peers: the limit, then one more. */
	for (i = 0; i < NNTP_FEED_PEERS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof text - off, "p%zu 10.0.0.1:%zu *\n", i, 100 + i);
	assert_int_equal(parse(text), 0);
	assert_int_equal(fc.npeers, NNTP_FEED_PEERS_MAX);
	snprintf(text + off, sizeof text - off, "extra 10.0.0.1:99 *\n");
	bad(text, "line 17", "more than 16 peers");

	/* Name length: limit-1, limit, limit+1. */
	memset(name, 'n', sizeof name);
	for (i = FEED_NAME_MAX_BYTES - 1; i <= FEED_NAME_MAX_BYTES + 1; i++) {
		name[i] = '\0';
		snprintf(text, sizeof text, "%s 10.0.0.1:119 *\n", name);
		assert_int_equal(parse(text), i <= FEED_NAME_MAX_BYTES ? 0 : -1);
		name[i] = 'n';
	}
	/* Ports at the edges. */
	assert_int_equal(parse("a 10.0.0.1:1 *\n"), 0);
	assert_int_equal(parse("a 10.0.0.1:65535 *\n"), 0);
	assert_int_equal(fc.peer[0].port, 65535);

	/* Line length: limit, limit+1 (the LF not counted). */
	line = malloc(FEED_LINE_MAX_BYTES + 2);
	assert_non_null(line);
	memset(line, ' ', FEED_LINE_MAX_BYTES + 1);
	memcpy(line, "a 10.0.0.1:119 *", 16);
	line[FEED_LINE_MAX_BYTES] = '\n';
	assert_int_equal(feed_conf_parse("/etc/feeds", line, FEED_LINE_MAX_BYTES + 1, &fc, err, sizeof err), 0);
	line[FEED_LINE_MAX_BYTES] = ' ';
	line[FEED_LINE_MAX_BYTES + 1] = '\n';
	assert_int_equal(feed_conf_parse("/etc/feeds", line, FEED_LINE_MAX_BYTES + 2, &fc, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1"));
	free(line);

	/* The whole file. */
	line = calloc(1, FEED_FILE_MAX_BYTES + 1);
	assert_non_null(line);
	memset(line, '\n', FEED_FILE_MAX_BYTES + 1);
	assert_int_equal(feed_conf_parse("/etc/feeds", line, FEED_FILE_MAX_BYTES, &fc, err, sizeof err), 0);
	assert_int_equal(feed_conf_parse("/etc/feeds", line, FEED_FILE_MAX_BYTES + 1, &fc, err, sizeof err), -1);
	free(line);
}

static void
test_accept(void **state)
{
	assert_int_equal(parse("a 10.0.0.1:119 * accept=local.test\n"
	                       "b 10.0.0.2:119 comp.* mode=ihave accept=local.*,!local.secret path=bee\n"
	                       "c 10.0.0.3:119 *\n"),
	                 0);
	assert_int_equal(fc.npeers, 3);
	assert_string_equal(fc.peer[0].accept, "local.test");
	assert_string_equal(fc.peer[1].accept, "local.*,!local.secret");
	assert_int_equal(fc.peer[1].mode, FEED_MODE_IHAVE);
	assert_string_equal(fc.peer[1].path, "bee");
	assert_string_equal(fc.peer[2].accept, "");   /* none: every group */
	bad("a 10.0.0.1:119 *\nb 10.0.0.2:119 * accept=local.*,,x\n", "line 2", "accept wildmat");
	bad("a 10.0.0.1:119 * accept=\n", "line 1", "accept wildmat");
	bad("# c\na 10.0.0.1:119 * accept=,\n", "line 2", "accept wildmat");
}

static void
addr4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;

	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
}

static void
addr6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof *ss);
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/test_nntp_feed.XXXXXX";
	const char good[] = "inn 127.0.0.1:1119 local.*\n";
	const char worse[] = "inn 127.0.0.1:1119 local.*\nx\n";
	int fd;

	assert_int_equal(feed_conf_load("", err, sizeof err), 0);
	assert_int_equal(feed_conf_current()->npeers, 0);
	assert_int_equal(feed_conf_load(NULL, err, sizeof err), 0);
	assert_int_equal(feed_conf_load("/nonexistent/feeds", err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/feeds"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
	close(fd);
	assert_int_equal(feed_conf_load(path, err, sizeof err), 0);
	assert_int_equal(feed_conf_current()->npeers, 1);
	assert_true(feed_conf_current()->peer[0].addrlen > 0);
	{
		struct sockaddr_storage ss;

		addr4(&ss, "127.0.0.1", 40000);   /* any source port */
		assert_ptr_equal(feed_conf_peer_by_addr(&ss), &feed_conf_current()->peer[0]);
		addr6(&ss, "::ffff:127.0.0.1", 40001);
		assert_ptr_equal(feed_conf_peer_by_addr(&ss), &feed_conf_current()->peer[0]);
		addr4(&ss, "127.0.0.2", 1119);
		assert_null(feed_conf_peer_by_addr(&ss));
		addr6(&ss, "::1", 1119);
		assert_null(feed_conf_peer_by_addr(&ss));
		assert_null(feed_conf_peer_by_addr(NULL));
	}

	/* A failed load keeps the table that works. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, worse, sizeof worse - 1), (ssize_t)(sizeof worse - 1));
	close(fd);
	assert_int_equal(feed_conf_load(path, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(feed_conf_current()->npeers, 1);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
