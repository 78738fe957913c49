/*
 * leaky.c: the calibration target of holdfast-soak (issue 4).  A tiny
 * line server on 127.0.0.1 that leaks a planted number of bytes for every
 * malformed line, so the harness can be checked against a known slope.
 *
 *   leaky [--port P] [--leak-bytes N] [--mode arena|malloc] [--leak-max BYTES]
 *         [--max-seconds S] [--burn-us US]
 *
 * Prints "READY PORT" on stdout once listening (--port 0: any free port).
 * Lines: "PING..." is answered "+PONG", "NOOP..." "+OK"; anything else is
 * malformed: answered "-ERR" and leaks N bytes, kept reachable and touched
 * (memset), so RSS grows by N per line.  A line longer than LINE_MAX bytes
 * counts as one malformed line.
 * --mode arena (default): the leaked bytes are carved out of 1 MiB blocks
 * from malloc, so the growth is exactly N bytes per line.  --mode malloc:
 * one malloc(N) per line, linked in a list, so the growth includes the
 * allocator's chunk overhead (e.g. 8 -> 32 bytes, 64 -> 80 bytes with
 * glibc on x86-64).  --leak-max (default 1 GiB) stops leaking there.
 * --burn-us (default 0): spins for that many microseconds of CPU time per
 * malformed line, a planted CPU cost for the harness's CPU per message.
 * --max-seconds (default 600): exits by itself after that long, so a
 * test that forgets it cannot leave it running.
 * Limits: one line buffer of LINE_MAX_ bytes per connection; replies
 * that do not fit the socket are dropped.  Built by the test itself: cc -O2 -o leaky tests/soak/leaky.c
 * Known weaknesses: none that matter for a test target.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define LINE_MAX_ 4096
#define BLOCK (1024 * 1024)

struct conn {
	int fd;
	size_t len;
	int overlong;
	char buf[LINE_MAX_];
};

static size_t leak_bytes;
static size_t leak_max = (size_t)1 << 30;
static size_t leaked;
static int mode_malloc;
static char *block;
static size_t block_used = BLOCK;
static void *blocks;	/* list of blocks, first word links */
static void *chain;	/* malloc mode list */
static volatile sig_atomic_t stop;
static long max_seconds = 600;

static double burn_us;

static double
now_us(void)
{
	struct timespec ts;

	/* CPU time, not wall time: a preempted spin must still cost burn_us. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* --burn-us: a planted CPU cost per malformed line (spins on CPU time). */
static void
burn(void)
{
	double end;

	if (burn_us <= 0)
		return;
	end = now_us() + burn_us;
	while (now_us() < end)
		;
}

static void
leak(void)
{
	burn();
	if (leak_bytes == 0 || leaked + leak_bytes > leak_max)
		return;
	leaked += leak_bytes;
	if (mode_malloc) {
		void **p = malloc(leak_bytes < sizeof(void *) ? sizeof(void *) : leak_bytes);

		if (p == NULL)
			return;
		memset(p, 0xa5, leak_bytes < sizeof(void *) ? sizeof(void *) : leak_bytes);
		*p = chain;
		chain = p;
		return;
	}
	if (block_used + leak_bytes > BLOCK) {
		size_t sz = leak_bytes + sizeof(void *) > BLOCK ? leak_bytes + sizeof(void *) : BLOCK;
		char *b = malloc(sz);

		if (b == NULL)
			return;
		memcpy(b, &blocks, sizeof(void *));
		blocks = b;
		block = b;
		block_used = sizeof(void *);
	}
	memset(block + block_used, 0xa5, leak_bytes);
	block_used += leak_bytes;
}

static void
reply(int fd, const char *s)
{
	(void)!send(fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
line(struct conn *c, const char *l, size_t n)
{
	if (n >= 4 && memcmp(l, "PING", 4) == 0)
		reply(c->fd, "+PONG\n");
	else if (n >= 4 && memcmp(l, "NOOP", 4) == 0)
		reply(c->fd, "+OK\n");
	else {
		leak();
		reply(c->fd, "-ERR\n");
	}
}

/* 0 keep, -1 close */
static int
readable(struct conn *c)
{
	int round;

	for (round = 0; round < 16; round++) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		size_t start = 0, i;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
		for (i = 0; i < c->len; i++) {
			if (c->buf[i] != '\n')
				continue;
			if (c->overlong) {
				c->overlong = 0;
				leak();
				reply(c->fd, "-ERR\n");
			} else {
				line(c, c->buf + start, i - start);
			}
			start = i + 1;
		}
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
		if (c->len == sizeof(c->buf)) {
			c->overlong = 1;
			c->len = 0;
		}
	}
	return 0;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct epoll_event ev, evs[64];
	int lfd, ep, i, port = 0, one = 1;
	time_t end;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--burn-us") == 0 && i + 1 < argc)
			burn_us = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--leak-bytes") == 0 && i + 1 < argc)
			leak_bytes = (size_t)strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--leak-max") == 0 && i + 1 < argc)
			leak_max = (size_t)strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
			max_seconds = atol(argv[++i]);
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			mode_malloc = strcmp(argv[++i], "malloc") == 0;
		else {
			fprintf(stderr, "usage: leaky [--port P] [--leak-bytes N] [--mode arena|malloc] [--leak-max B] "
			    "[--max-seconds S]\n");
			return 64;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(lfd, 128) != 0) {
		perror("leaky: bind/listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("READY %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	end = time(NULL) + max_seconds;
	while (!stop && time(NULL) < end) {
		int n = epoll_wait(ep, evs, 64, 200);

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (readable(c) != 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c);
			}
		}
	}
	fprintf(stderr, "leaky: leaked %zu bytes\n", leaked);
	return 0;
}
