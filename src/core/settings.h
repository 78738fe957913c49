/*
 * settings.h: the typed configuration shared by holdfastd and holdfastctl:
 * the [holdfast] section, and the keys every service section has.  A
 * service adds its own keys (struct service.keys) to the same section.
 */
#ifndef HF_SETTINGS_H
#define HF_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define HOLDFAST_DEFAULT_CONF "/etc/holdfast/holdfast.conf"
#define HOLDFAST_DEFAULT_RUNDIR "/run/holdfast"
#define HOLDFAST_CONTROL_NAME "control"
#define HOLDFAST_LOCK_NAME "holdfastd.pid"

struct global_settings {
	char *rundir;           /* runtime directory: lock, pid, control socket */
	char *state_dir;        /* storage root; each service gets state_dir/NAME */
	char *log;              /* "stderr" or "syslog" */
	char *log_level;        /* error, warning, info, debug */
	char *memory_cap;       /* auto (cgroup v2, v1, else rlimit) or rlimit */
};
extern const struct conf_key global_settings_keys[];

struct service_settings {
	int enable;
	struct conf_list listen;      /* host:port, [v6]:port */
	struct conf_list listen_tls;  /* implicit TLS */
	char *user;
	uint64_t memory_max;          /* bytes: OS cap and worker region budget */
	uint64_t max_connections;
	uint64_t max_connections_per_address;
	/* The connection region holds the input buffer (read_max), the output
	 * queue (write_budget) and the service's state: the supervisor refuses
	 * a configuration where the two buffers leave less than a quarter of
	 * connection_budget for the rest. */
	uint64_t connection_budget;   /* bytes per connection region */
	uint64_t write_budget;        /* bytes queued per connection */
	uint64_t read_max;            /* bytes buffered unconsumed per connection */
	uint64_t idle_timeout;        /* ms */
	uint64_t handshake_timeout;   /* ms */
	char *tls_cert;               /* empty: no TLS */
	char *tls_key;
};
extern const struct conf_key service_settings_keys[];

/* Reads only [holdfast] of path (for holdfastctl): 0, or -1 with err. */
int settings_read_global(const char *path, struct global_settings *g, char *err, size_t errlen);

/* "127.0.0.1:119", "[::1]:119", "*:119" -> a sockaddr; 0 or -1. */
struct sockaddr_storage;
int settings_parse_addr(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
