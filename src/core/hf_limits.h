/*
 * hf_limits.h: every runtime limit (named so that it never shadows the
 * system <limits.h>), with its unit in its name and its reason
 * beside it.  Services keep their protocol limits in their own limits
 * header (src/nntp/nntp_limits.h ...); this file holds only what the runtime
 * itself enforces.  Configuration may lower (and, within the hard caps
 * below, raise) the defaults.
 */
#ifndef HF_HF_LIMITS_H
#define HF_HF_LIMITS_H

/* Configuration file (src/core/conf.c). */
#define CONF_LINE_MAX_BYTES        4096     /* a config line longer than this is an error, not truncated */
#define CONF_FILE_MAX_BYTES        (1024 * 1024) /* a config file is small; refuse anything larger */
#define CONF_SECTIONS_MAX          64
#define CONF_ENTRIES_MAX           1024
#define CONF_NAME_MAX_BYTES        64       /* section and key names */
#define CONF_LIST_MAX_ITEMS        32       /* items in a comma-separated value */

/* Path API (src/core/path.c), MS03-029. */
#define PATH_NAME_MAX_BYTES        1024     /* a whole relative name, excluding NUL; below PATH_MAX (4096) on purpose */
#define PATH_COMPONENT_MAX_BYTES   255      /* NAME_MAX on Linux filesystems */
#define PATH_COMPONENTS_MAX        32       /* depth of a name; a walk never recurses */

/* Connections (src/core/conn.c). */
#define CONN_READ_CHUNK_BYTES      16384    /* one read(2); also the TLS record size */
/* The connection region holds both buffers and the service's state: the
 * buffers may take at most three quarters of it (settings.h). */
#define CONN_DEFAULT_BUDGET_BYTES  (128 * 1024)  /* per-connection region, buffers included */
#define CONN_DEFAULT_READ_MAX_BYTES (16 * 1024)  /* input buffered but not consumed */
#define CONN_DEFAULT_WQUEUE_BYTES  (64 * 1024)   /* write queue budget per connection */
#define CONN_DEFAULT_MAX           1024     /* global live connections per worker */
#define CONN_DEFAULT_MAX_PER_ADDR  32       /* live connections from one source address */
#define CONN_DEFAULT_IDLE_MS       (300 * 1000)
#define CONN_DEFAULT_HANDSHAKE_MS  (30 * 1000)  /* accept to first complete line/PDU (incl. TLS) */
#define CONN_CLOSE_LINGER_MS       (5 * 1000)   /* graceful close: time to flush before a hard close */
#define CONN_FD_RESERVE            32       /* fds kept free below RLIMIT_NOFILE for files, logs, TLS */

/* Supervisor (src/supervisor). */
#define SUPERVISOR_RESTART_MIN_MS  100      /* first restart delay; doubles per quick death */
#define SUPERVISOR_RESTART_MAX_MS  (30 * 1000)
#define SUPERVISOR_STABLE_MS       (10 * 1000)  /* a worker alive this long resets its backoff */
#define SUPERVISOR_STOP_GRACE_MS   (3 * 1000)   /* SIGTERM to SIGKILL for workers at shutdown */
#define SERVICE_LISTENERS_MAX      8        /* listen addresses per service */
#define SERVICES_MAX               8

/* Control socket (src/supervisor/control.c, src/ctl). */
#define CTL_MSG_MAX_BYTES          (64 * 1024)
#define CTL_CLIENTS_MAX            8
#define CTL_IO_TIMEOUT_MS          (2 * 1000)

/* Stats page shared between a worker and the supervisor (src/core/stats.h). */
#define STATS_REASONS_MAX          32
#define STATS_REASON_NAME_MAX      24       /* including NUL */
#define STATS_GAUGES_MAX           8        /* a service's own current values (tunnel: calls, pool) */

/* Logging. */
#define LOG_LINE_MAX_BYTES         1024
#define LOG_RATE_INTERVAL_MS       1000     /* attacker-triggerable messages: at most one per interval */

#endif
