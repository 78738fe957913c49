/*
 * log.c: diagnostics to stderr or syslog.  Lines are formatted into a
 * fixed buffer (LOG_LINE_MAX_BYTES, truncated beyond) and written with one
 * write(2), so lines from several processes sharing stderr do not mix.
 * log_rated() is for messages a peer can trigger: once per interval per
 * call site, with the number suppressed since.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hf_limits.h"
#include "log.h"

static char log_ident[32] = "holdfast";
static int log_to_syslog;
static enum log_level log_max = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_syslog[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof log_ident, "%s", ident);
	if (log_to_syslog) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_init(const char *ident, int to_syslog, enum log_level max_level)
{
	log_to_syslog = to_syslog;
	log_max = max_level;
	log_set_ident(ident);
}

static void
log_emit(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX_BYTES];
	int n, saved = errno;

	if (lvl > log_max)
		return;
	if (log_to_syslog) {
		vsnprintf(line, sizeof line, fmt, ap);
		syslog(level_syslog[lvl], "%s", line);
		errno = saved;
		return;
	}
	n = snprintf(line, sizeof line, "%s[%ld]: %s: ", log_ident, (long)getpid(), level_names[lvl]);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	n = (int)strlen(line);
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(lvl, fmt, ap);
	va_end(ap);
}

void
log_rated(struct log_rate *rl, enum log_level lvl, const char *fmt, ...)
{
	uint64_t now = clock_ms();
	va_list ap;

	if (rl->last_ms != 0 && now - rl->last_ms < LOG_RATE_INTERVAL_MS) {
		rl->suppressed++;
		return;
	}
	if (rl->suppressed > 0)
		log_msg(lvl, "(%llu similar messages suppressed)", (unsigned long long)rl->suppressed);
	rl->last_ms = now ? now : 1;
	rl->suppressed = 0;
	va_start(ap, fmt);
	log_emit(lvl, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
