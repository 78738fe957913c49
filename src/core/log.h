/*
 * log.h: diagnostics to stderr or syslog, with fixed levels, and a rate
 * limiter for anything an attacker can trigger (at most one line per
 * LOG_RATE_INTERVAL_MS per call site, with a count of what was suppressed).
 */
#ifndef HF_LOG_H
#define HF_LOG_H

#include <stdint.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: "holdfastd", "news" ...; to_syslog: 0 stderr, 1 syslog. */
void log_init(const char *ident, int to_syslog, enum log_level max_level);
void log_set_ident(const char *ident);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

struct log_rate {
	uint64_t last_ms;
	uint64_t suppressed;
};
/* Logs at most once per interval per struct log_rate (keep it static at the call site). */
void log_rated(struct log_rate *rl, enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Logs and exits(1): for start-up errors only, never on a peer's input. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Monotonic milliseconds. */
uint64_t clock_ms(void);

#endif
