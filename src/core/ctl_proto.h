/*
 * ctl_proto.h: messages on the control socket between holdfastctl and
 * holdfastd.  Fixed types, exact payload sizes; a message whose length
 * does not match its type is an error, and so are leftover bytes.
 */
#ifndef HF_CTL_PROTO_H
#define HF_CTL_PROTO_H

#include <stdint.h>

#include "hf_limits.h"
#include "stats.h"

#define CTL_MAGIC 0x6866636cu    /* "hfcl" */
#define CTL_VERSION 1

enum ctl_type {
	CTL_REQ_STATUS = 1,
	CTL_REQ_STOP = 2,
	CTL_REQ_SERVICE = 3,         /* payload: struct ctl_service_cmd, forwarded to the worker */
	CTL_RESP_STATUS = 101,
	CTL_RESP_OK = 102,
	CTL_RESP_ERROR = 103,        /* payload: struct ctl_error */
	CTL_RESP_TEXT = 104,         /* payload: struct ctl_text, a worker's answer */
};

struct ctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;                /* payload bytes after this header */
	uint32_t pad;
};

enum ctl_state { CTL_STATE_STOPPED, CTL_STATE_RUNNING, CTL_STATE_BACKOFF };
enum ctl_cap { CTL_CAP_NONE, CTL_CAP_CGROUP2, CTL_CAP_CGROUP1, CTL_CAP_RLIMIT };

struct ctl_service_status {
	char name[32];
	uint32_t state;              /* enum ctl_state */
	uint32_t cap_kind;           /* enum ctl_cap */
	uint32_t pid;
	uint32_t restarts;
	uint64_t uptime_ms;
	uint64_t memory_max;
	uint64_t rss_bytes;
	uint64_t pss_bytes;
	uint64_t fds;
	uint64_t connections;
	uint64_t connections_total;
	uint64_t region_bytes;
	uint64_t region_peak_bytes;
	uint64_t budget_bytes;
	uint64_t refused[REFUSE_MAX];
	struct stats_reason rejected[STATS_REASONS_MAX];
	struct stats_reason gauges[STATS_GAUGES_MAX];   /* the service's own values */
};

struct ctl_status {
	uint32_t supervisor_pid;
	uint32_t nservices;
	uint64_t uptime_ms;
	struct ctl_service_status services[SERVICES_MAX];  /* first nservices valid */
};

struct ctl_error {
	char message[256];
};

/* "holdfastctl news newgroup local.test": service "news", argv {"newgroup",
 * "local.test"}.  The same struct travels from the supervisor to the worker
 * over a SOCK_SEQPACKET pair, one message per datagram. */
#define CTL_ARGS_MAX 8
#define CTL_ARG_MAX_BYTES 256
#define CTL_TEXT_MAX_BYTES (48 * 1024)
struct ctl_service_cmd {
	char service[32];
	uint32_t argc;
	uint32_t pad;
	char argv[CTL_ARGS_MAX][CTL_ARG_MAX_BYTES];
};

/* A worker's answer: status 0 success, else failure; text is NUL-terminated. */
struct ctl_text {
	uint32_t status;
	uint32_t len;                /* bytes of text before its NUL */
	char text[CTL_TEXT_MAX_BYTES];
};

#endif
