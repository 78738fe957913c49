/*
 * nntpload.c: the bench's NNTP client in C, so that the client's own cost
 * does not cap what is measured (a Python client tops out near 15,000
 * round trips per second here, about what either server answers).
 *
 *   nntpload article PORT GROUP MAX_OPS MAX_SECONDS QUICKACK
 *       MODE READER, GROUP, then ARTICLE n one at a time, cycling over the
 *       group, until MAX_OPS answers or MAX_SECONDS.
 *   nntpload ingest PORT FILE WINDOW MAX_SECONDS QUICKACK
 *       MODE STREAM, then per window all CHECKs in one write, their
 *       answers, all wanted TAKETHIS in one write, their answers.  FILE
 *       holds the articles as "MSGID LENGTH\n" followed by LENGTH bytes
 *       of wire format (dot-stuffed, ending ".\r\n").
 *
 * Prints one line of JSON: {"ops": N, "seconds": S, ...}.  Exits 1 with a
 * message on stderr on any unexpected answer.  Loopback only: it connects
 * to 127.0.0.1.  Built by bench/news/run.py with the system cc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RBUF (1 << 20)

struct client {
	int fd;
	int quickack;
	char *buf;
	size_t off, len;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("nntpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
client_open(struct client *c, int port, int quickack)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect: %s", strerror(errno));
	c->quickack = quickack;
	if ((c->buf = malloc(RBUF)) == NULL)
		die("out of memory");
	c->off = c->len = 0;
}

static void
client_fill(struct client *c)
{
	ssize_t n;
	int one = 1;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == RBUF)
		die("answer longer than %d bytes", RBUF);
	if (c->quickack)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	n = read(c->fd, c->buf + c->len, RBUF - c->len);
	if (n < 0)
		die("read: %s", strerror(errno));
	if (n == 0)
		die("server closed the connection");
	c->len += (size_t)n;
}

/* The next line without its CRLF, NUL-terminated in place. */
static char *
client_line(struct client *c)
{
	for (;;) {
		char *p = memmem(c->buf + c->off, c->len - c->off, "\r\n", 2);

		if (p) {
			char *line = c->buf + c->off;

			*p = '\0';
			c->off = (size_t)(p + 2 - c->buf);
			return line;
		}
		client_fill(c);
	}
}

/* Skips a multi-line block up to and including its ".\r\n" line. */
static size_t
client_skip_block(struct client *c)
{
	size_t bytes = 0;

	for (;;) {
		char *l = client_line(c);

		if (strcmp(l, ".") == 0)
			return bytes;
		bytes += strlen(l) + 2;
	}
}

static void
client_send(struct client *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

static char *
client_cmd(struct client *c, const char *cmd)
{
	char line[600];
	int n = snprintf(line, sizeof line, "%s\r\n", cmd);

	client_send(c, line, (size_t)n);
	return client_line(c);
}

static int
run_article(int port, const char *group, long max_ops, double max_seconds, int quickack)
{
	struct client c;
	char cmd[600], *r;
	long first, last, n, ops = 0;
	size_t bytes = 0;
	double t0, el;

	client_open(&c, port, quickack);
	r = client_line(&c);
	if (r[0] != '2')
		die("greeting: %s", r);
	r = client_cmd(&c, "MODE READER");
	if (strncmp(r, "200", 3) != 0 && strncmp(r, "201", 3) != 0)
		die("MODE READER -> %s", r);
	snprintf(cmd, sizeof cmd, "GROUP %s", group);
	r = client_cmd(&c, cmd);
	if (sscanf(r, "211 %*s %ld %ld", &first, &last) != 2 || last < first)
		die("GROUP -> %s", r);
	n = first;
	t0 = now();
	while (ops < max_ops && now() - t0 < max_seconds) {
		snprintf(cmd, sizeof cmd, "ARTICLE %ld", n);
		r = client_cmd(&c, cmd);
		if (strncmp(r, "220", 3) != 0)
			die("ARTICLE %ld -> %s", n, r);
		bytes += client_skip_block(&c);
		ops++;
		n = n < last ? n + 1 : first;
	}
	el = now() - t0;
	client_send(&c, "QUIT\r\n", 6);
	close(c.fd);
	printf("{\"ops\": %ld, \"seconds\": %.6f, \"bytes\": %zu, \"range\": [%ld, %ld]}\n", ops, el, bytes, first,
	       last);
	return 0;
}

struct article {
	char mid[256];
	const char *data;
	size_t len;
};

static struct article *
load_articles(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *all, *p, *end;
	struct article *a = NULL;
	size_t n = 0, cap = 0;

	if (!f || fstat(fileno(f), &st) != 0)
		die("%s: %s", path, strerror(errno));
	if ((all = malloc((size_t)st.st_size + 1)) == NULL)
		die("out of memory");
	if (fread(all, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		die("%s: short read", path);
	fclose(f);
	p = all;
	end = all + st.st_size;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		unsigned long len;
		int used;

		if (!nl)
			die("%s: bad record", path);
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((a = realloc(a, cap * sizeof *a)) == NULL)
				die("out of memory");
		}
		*nl = '\0';
		if (sscanf(p, "%255s %lu%n", a[n].mid, &len, &used) != 2 || len > (unsigned long)(end - nl - 1))
			die("%s: bad record header", path);
		a[n].data = nl + 1;
		a[n].len = len;
		p = nl + 1 + len;
		n++;
	}
	*count = n;
	return a;
}

static int
run_ingest(int port, const char *path, size_t window, double max_seconds, int quickack)
{
	struct client c;
	struct article *arts;
	size_t count, i = 0, accepted = 0, refused = 0, rejected = 0;
	size_t *want;
	char *out, *r;
	size_t outcap = 0;
	double t0, el;

	arts = load_articles(path, &count);
	if ((want = malloc(window * sizeof *want)) == NULL)
		die("out of memory");
	for (i = 0; i < count; i++)
		outcap += arts[i].len + 300;
	if ((out = malloc(outcap)) == NULL)
		die("out of memory");
	client_open(&c, port, quickack);
	r = client_line(&c);
	if (r[0] != '2')
		die("greeting: %s", r);
	r = client_cmd(&c, "MODE STREAM");
	if (strncmp(r, "203", 3) != 0)
		die("MODE STREAM -> %s", r);
	t0 = now();
	i = 0;
	while (i < count && now() - t0 < max_seconds) {
		size_t w = count - i < window ? count - i : window;
		size_t o = 0, nw = 0, j;

		for (j = 0; j < w; j++)
			o += (size_t)sprintf(out + o, "CHECK %s\r\n", arts[i + j].mid);
		client_send(&c, out, o);
		for (j = 0; j < w; j++) {
			r = client_line(&c);
			if (strncmp(r, "238", 3) == 0)
				want[nw++] = i + j;
			else if (strncmp(r, "438", 3) == 0 || strncmp(r, "431", 3) == 0)
				refused++;
			else
				die("CHECK %s -> %s", arts[i + j].mid, r);
		}
		o = 0;
		for (j = 0; j < nw; j++) {
			const struct article *a = &arts[want[j]];

			o += (size_t)sprintf(out + o, "TAKETHIS %s\r\n", a->mid);
			memcpy(out + o, a->data, a->len);
			o += a->len;
		}
		if (o > 0)
			client_send(&c, out, o);
		for (j = 0; j < nw; j++) {
			r = client_line(&c);
			if (strncmp(r, "239", 3) == 0)
				accepted++;
			else if (strncmp(r, "439", 3) == 0)
				rejected++;
			else
				die("TAKETHIS %s -> %s", arts[want[j]].mid, r);
		}
		i += w;
	}
	el = now() - t0;
	client_send(&c, "QUIT\r\n", 6);
	close(c.fd);
	printf("{\"ops\": %zu, \"seconds\": %.6f, \"offered\": %zu, \"refused\": %zu, \"rejected\": %zu, "
	       "\"time_bounded\": %s}\n",
	       accepted, el, i, refused, rejected, i < count ? "true" : "false");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "article") == 0)
		return run_article(atoi(argv[2]), argv[3], atol(argv[4]), atof(argv[5]), atoi(argv[6]));
	if (argc == 7 && strcmp(argv[1], "ingest") == 0)
		return run_ingest(atoi(argv[2]), argv[3], (size_t)atol(argv[4]), atof(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: nntpload article PORT GROUP MAX_OPS MAX_SECONDS QUICKACK\n"
	                "       nntpload ingest PORT FILE WINDOW MAX_SECONDS QUICKACK\n");
	return 2;
}
