/*
 * soak.h: holdfast-soak, the attack harness (issue 4).  Shared types of
 * its parts:
 *   stats.c     robust slope (step removal + Theil-Sen, Sen's rank CI),
 *               quantiles;
 *   measure.c   RSS/PSS of a process tree or a cgroup, host MemAvailable
 *               and Slab;
 *   send.c      the flood (non-blocking, pipelined, several connections,
 *               half-closed, TLS through memory BIOs where a scenario
 *               asks) and the legitimate-client probe (a thread);
 *   raw.c       --raw / --raw-only floods (malformed GRE, bad TCP checksums);
 *   gre_call.c  established PPTP calls the GRE flood aims at;
 *   report.c    text summary, JSON and SVG;
 *   scen_*.c    scenarios: one generator per bulletin;
 *   main.c      options, safety checks, verdict, exit code.
 * A "stats.h" here would be shadowed by src/core/stats.h in some include
 * orders, so every soak part (and tests/unit/test_soak_stats.c) includes
 * this one header.
 */
#ifndef HF_SOAK_H
#define HF_SOAK_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- limits ---- */
#define SOAK_MSG_MAX		(1024u * 1024u + 65536u) /* one generated message */
#define SOAK_BATCH		16384u	/* bytes queued per connection per write round */
#define SOAK_CONN_MAX		64
#define SOAK_PIDS_MAX		256	/* processes followed in a tree */
#define SOAK_SAMPLES_MAX	20000
#define SOAK_PROBES_MAX		100000
#define SOAK_COUNT_MAX		100000000ULL
#define SOAK_DURATION_MAX	86400
#define SOAK_PATHS_MAX		32

/* ---- deterministic PRNG (splitmix64) ---- */
struct soak_rng {
	uint64_t s;
};
void soak_rng_seed(struct soak_rng *r, uint64_t seed);
uint64_t soak_rng_next(struct soak_rng *r);
/* Uniform in [0, n); n > 0. */
uint32_t soak_rng_below(struct soak_rng *r, uint32_t n);

/* ---- output buffer for generators (fixed capacity, truncates) ---- */
struct soak_out {
	uint8_t *p;
	size_t len;
	size_t cap;
};
void out_put(struct soak_out *o, const void *b, size_t n);
void out_str(struct soak_out *o, const char *s);
void out_fmt(struct soak_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_fill(struct soak_out *o, int c, size_t n);
/* n random bytes from [a-z0-9] */
void out_rand_text(struct soak_out *o, struct soak_rng *r, size_t n);
void out_u16be(struct soak_out *o, unsigned v);
void out_u32be(struct soak_out *o, uint32_t v);
/* Room left. */
size_t out_room(const struct soak_out *o);

/* ---- scenarios ---- */
/* Per connection generator state, zeroed then seeded by send.c. */
struct soak_gen {
	struct soak_rng rng;
	uint64_t seed;
	uint64_t conn_serial;	/* which connection (counts reconnects) */
	uint64_t msg_serial;	/* messages generated on this connection */
	unsigned conn_index;	/* slot 0..connections-1 */
	int valid;		/* --valid control mode */
	int state;		/* scenario's own */
	unsigned phase;		/* --phase (ms01-040): SOAK_PHASE_* */
	int tls;		/* set by the preamble: answer awaited, then TLS (send.c) */
	uint64_t counter;	/* shared counter for unique ids (per run) */
};

/* --phase of ms01-040: where the malformed PDUs go */
enum { SOAK_PHASE_BOTH, SOAK_PHASE_PRE, SOAK_PHASE_POST };
#define SOAK_TLS_MSG_MAX	(128u * 1024u)	/* plaintext of one message sent over TLS */
#define SOAK_REPLY_MAX		1024u	/* the server's answer awaited before TLS */

/* message() return flags */
#define SOAK_MSG_CLOSE	1	/* half-close after the message is written, drain the answer (send.c) */

struct soak_scenario {
	const char *name;
	const char *summary;
	int default_port;
	/* Bytes sent right after connecting (may append nothing). */
	void (*preamble)(struct soak_gen *g, struct soak_out *o);
	/* Appends exactly one message (attack or, if g->valid, control). */
	int (*message)(struct soak_gen *g, struct soak_out *o);
	/* Probe: greeting judged by probe_greeting (NULL: none), then
	 * probe_request(); the reply judged by probe_reply: >0 complete and
	 * good, 0 needs more bytes, <0 bad.  probe_reconnect: a new connection
	 * per probe. */
	int (*probe_greeting)(const uint8_t *b, size_t n);
	void (*probe_request)(unsigned serial, struct soak_out *o);
	int (*probe_reply)(const uint8_t *b, size_t n);
	int probe_reconnect;
	/* A connection whose preamble set g->tls waits for the server's
	 * answer, judged by tls_reply (>0 go on with a TLS handshake, 0 needs
	 * more bytes, <0 refused: the connection is dropped and counted);
	 * its messages then go through TLS (send.c).  NULL: never. */
	int (*tls_reply)(const uint8_t *b, size_t n);
	/* Raw side flood for --raw (raw.c): RAW_NONE, RAW_GRE, RAW_TCP_BADSUM. */
	int raw_kind;
	/* Probe: bytes sent right after connecting, before the greeting is
	 * judged (PPTP: SCCRQ, greeting SCCRP).  NULL: none. */
	void (*probe_hello)(struct soak_out *o);
	/* Probe: given the judged reply, 1 when a TLS handshake must follow
	 * (and succeed) for the probe to count as answered (RDP: the
	 * Connection Confirm selected TLS).  NULL: never. */
	int (*probe_wants_tls)(const uint8_t *b, size_t n);
	/* Non-network scenario (ms01-003): runs instead of a flood. */
	int (*local_run)(const struct soak_scenario *sc, void *opts);
};

extern const struct soak_scenario scen_calibrate;
extern const struct soak_scenario scen_ms01_043;
extern const struct soak_scenario scen_ms03_029;
extern const struct soak_scenario scen_ms03_029_rdp;	/* ms03-029 --protocol rdp */
extern const struct soak_scenario scen_ms03_029_pptp;	/* ms03-029 --protocol pptp */
extern const struct soak_scenario scen_ms01_040;
extern const struct soak_scenario scen_ms01_009;
extern const struct soak_scenario scen_ms01_003;

/* Helpers for line protocols: a complete line in b (n bytes)?  1 when its
 * first byte is in good, -1 when not, 0 when no LF yet. */
int soak_line_reply(const uint8_t *b, size_t n, const char *good);

/* RDP and PPTP probes (scen_ms01_040.c, scen_ms01_009.c), shared with ms03-029. */
void rdp_probe_request(unsigned serial, struct soak_out *o);
int rdp_probe_reply(const uint8_t *b, size_t n);
int rdp_probe_wants_tls(const uint8_t *b, size_t n);
void pptp_probe_request(unsigned serial, struct soak_out *o);
int pptp_probe_reply(const uint8_t *b, size_t n);

/* NNTP probe shared by ms01-043 and ms03-029 (scen_ms01_043.c). */
int nntp_probe_greeting(const uint8_t *b, size_t n);
void nntp_probe_request(unsigned serial, struct soak_out *o);
int nntp_probe_reply(const uint8_t *b, size_t n);
void nntp_preamble(struct soak_gen *g, struct soak_out *o);
/* One command with its article; kind < 0: well-formed.  Returns SOAK_MSG_* flags. */
int nntp_article(struct soak_gen *g, struct soak_out *o, int verb, int kind);

/* ---- raw side floods (raw.c) ---- */
enum { RAW_NONE, RAW_GRE, RAW_TCP_BADSUM };
struct sockaddr;
struct raw_report {
	uint64_t sent, errors;
	uint64_t tcp_csum_errors;	/* Tcp InCsumErrors (/proc/net/snmp) during the flood, -1: unknown */
	int csum_known;
	unsigned gre_calls;		/* established calls the GRE is aimed at (RAW_GRE) */
	uint64_t gre_call_setups;	/* calls set up, first ones and re-established */
	uint64_t gre_call_losses;	/* calls the server cleared or whose control connection closed */
	uint64_t gre_to_call;		/* GRE packets carrying an established call's id */
	uint64_t ctl_sent;		/* bad control messages on the calls' own connections */
	uint64_t echo_replies;		/* the server's Echo-Requests we answered */
	/* --raw-window: on/off windows; host Slab per packet from each on
	 * window against the idle drift of the off windows beside it. */
	unsigned pairs;			/* on windows with an off window beside them */
	int paired_ok;			/* at least RAW_PAIRS_MIN of them */
	double paired_slope, paired_lo, paired_hi;	/* median B/packet, 95% CI (order statistics) */
};
#define RAW_MARKS_MAX	20000	/* window boundaries recorded */
#define RAW_PAIRS_MIN	6
/* dst: the target (TCP port: the PPTP control port for RAW_GRE); limit:
 * stop after that many packets (0: none); calls: established calls to set
 * up first (RAW_GRE; 0: random call ids only). */
int raw_start(int kind, const struct sockaddr *dst, unsigned rate, uint64_t seed, uint64_t limit, unsigned calls,
    double window, char *err, size_t errlen);
/* Packets sent so far (any thread). */
uint64_t raw_sent_now(void);
int raw_running(void);
void raw_stop(struct raw_report *rep);

/* ---- established PPTP calls for the GRE flood (gre_call.c) ---- */
#define GRE_CALLS_MAX	16
#define GRE_CALL_SETUP_S 5.0	/* SCCRQ..OCRP must complete within this */
/* Sets up n calls (SCCRQ/SCCRP, OCRQ/OCRP) on n control connections to dst;
 * returns how many were established (err says why when none). */
unsigned gre_calls_open(const struct sockaddr *dst, unsigned n, char *err, size_t errlen);
/* The calls for the GRE sender: count, and the server's call id of call i. */
unsigned gre_calls_count(void);
int gre_call_peer_id(unsigned i, uint16_t *id);
/* Non-blocking upkeep: answers Echo-Requests, notices lost calls and sets
 * them up again (blocking, after a pause); bad: also send one
 * survivable bad control message on a random call's connection. */
void gre_calls_service(struct soak_rng *r, int bad, struct raw_report *rep);
void gre_calls_close(void);

/* ---- statistics ---- */
struct soak_fit {
	int ok;			/* enough points */
	size_t n;		/* points used */
	size_t pairs;		/* pairwise slopes used (subsampled above STATS_PAIRS_MAX) */
	double slope;		/* Theil-Sen slope, y units per x unit */
	double lo, hi;		/* 95% CI (Sen 1968) */
	double intercept;	/* median of y - slope x (after step removal) */
	unsigned steps;		/* one-off steps removed */
	double step_total;	/* their sum (y units) */
	double step_x[4];	/* x of the sample after each removed step */
	double step_y[4];	/* its size */
};
#define STATS_PAIRS_MAX		2000000u
#define STATS_MAX_STEPS		2	/* one-off steps forgiven; more means recurrent (<= 4) */
#define STATS_STEP_SPAN		5	/* samples each side that must show the level shift */
#define STATS_STEP_FLOOR	16384.0	/* a step is at least this many bytes... */
#define STATS_STEP_K		6.0	/* ...and this many robust SDs off the median interval */

/* Theil-Sen with Sen's CI, without step removal. */
int stats_theil_sen(const double *x, const double *y, size_t n, struct soak_fit *f);
/* Removes up to max_steps outlying one-off jumps from y (a copy), then
 * Theil-Sen.  floor: smallest jump treated as a step. */
int stats_robust_slope(const double *x, const double *y, size_t n, unsigned max_steps, double floor,
    struct soak_fit *f);
/* q in [0,1] of v (sorted in place); 0 when n == 0. */
double stats_quantile(double *v, size_t n, double q);
double stats_median(double *v, size_t n);
/* Standard normal quantile for 0.975 used by the CI. */
#define STATS_Z975 1.959963984540054

/* ---- measurement ---- */
enum soak_target_kind { TARGET_NONE, TARGET_PID, TARGET_CGROUP };

struct soak_proc {
	pid_t pid;
	unsigned long long start;	/* /proc/PID/stat starttime: detects reuse */
};

struct soak_target {
	enum soak_target_kind kind;
	pid_t root;
	char cgroup_dir[512];
	char cgroup_file[600];
	struct soak_proc initial[SOAK_PIDS_MAX];
	unsigned ninitial;
	struct soak_proc members[SOAK_PIDS_MAX];	/* cached tree */
	unsigned nmembers;
	double members_next;
	int crashed;
	char crash_reason[256];
};

struct soak_sample {
	double msgs;		/* messages sent when sampled */
	double t;		/* seconds since start */
	double rss, pss;	/* bytes, summed over the tree / cgroup members */
	double uss;		/* private bytes: unlike PSS, not moved by other processes mapping shared pages */
	double cgroup;		/* memory.current (cgroup mode), else 0 */
	double memavail, slab;	/* host, bytes */
	double raw;		/* --raw packets sent when sampled */
	double cpu;		/* CPU seconds of the tree so far (live members + what they reaped) */
	unsigned nprocs;
};

int measure_open_pid(struct soak_target *t, pid_t pid, char *err, size_t errlen);
int measure_open_cgroup(struct soak_target *t, const char *path, char *err, size_t errlen);
/* 0 ok; -1 when the target crashed (t->crashed, t->crash_reason set). */
int measure_sample(struct soak_target *t, struct soak_sample *s);
/* Cheap check of the recorded processes: 0 alive, -1 crashed (t->crashed set). */
int measure_alive(struct soak_target *t);
/* Host-only part (MemAvailable, Slab). */
void measure_host(double *memavail, double *slab);

/* ---- run ---- */
struct soak_opts {
	const struct soak_scenario *sc;
	char host[256];
	char port[16];
	int have_target;
	pid_t pid;
	const char *cgroup;
	uint64_t count;
	double duration;
	unsigned connections;
	int valid;
	double threshold;
	double warmup;		/* fraction of samples discarded */
	unsigned samples;	/* wanted samples over count */
	uint64_t sample_every;	/* 0: count / samples */
	uint64_t seed;
	unsigned probe_ms;	/* probe interval */
	unsigned probe_timeout_ms;
	double probe_p99_limit_ms;
	double probe_fail_pct;
	const char *json;
	const char *svg;
	int allow_remote;
	int progress;		/* TTY progress line */
	int raw;		/* --raw: the scenario's raw side flood */
	int raw_only;		/* --raw-only: the raw packets are the messages, no TCP flood */
	unsigned gre_calls;	/* --gre-calls (ms01-009 --raw): established calls to aim at */
	double baseline;	/* --baseline: seconds of idle Slab sampling before and after a raw flood */
	double raw_window;	/* --raw-window: seconds on, then as many off (0: always on) */
	int probe_no_tls;	/* --probe-no-tls: the RDP probe stops at the Connection Confirm */
	unsigned raw_rate;	/* packets per second */
	/* ms01-003 */
	const char *as_user;
	const char *paths[SOAK_PATHS_MAX];
	unsigned npaths;
	double hold;
	double drain_wait;	/* seconds to wait for the server's close after our half-close */
	unsigned phase;		/* --phase pre|post|both (ms01-040) */
};

struct soak_probe_rec {
	double msgs;
	double ms;	/* latency; < 0 failure */
};

struct soak_result {
	/* sending */
	uint64_t messages_sent;
	uint64_t bytes_sent;
	uint64_t connects;
	uint64_t server_closes;
	uint64_t own_closes;
	uint64_t connect_failures;
	uint64_t drain_timeouts;	/* half-closed connections the server kept open past --drain-wait */
	uint64_t tls_handshakes;	/* completed (connections whose messages went through TLS) */
	uint64_t tls_refused;		/* the server's answer to the preamble refused TLS */
	uint64_t tls_failures;		/* handshake failed or timed out */
	uint64_t tls_timeouts;		/* ...of which timed out (answer or handshake past --drain-wait) */
	int tls_gave_up;		/* --phase both: no handshake ever; pre-TLS only since */
	uint64_t raw_sent, raw_errors;	/* --raw side flood */
	struct raw_report raw;
	struct soak_fit raw_pss_fit, raw_slab_fit;	/* per raw packet (x: raw packets sent) */
	struct soak_fit cpu_fit, raw_cpu_fit;	/* the target's CPU seconds per message / per raw packet */
	double cpu_share;		/* its CPU seconds over the run's seconds (1.0: one core) */
	struct soak_fit raw_slab_uncorrected;		/* raw_slab_fit before the idle drift is taken out */
	struct soak_fit drift_before, drift_after;	/* host Slab while idle, bytes per second */
	double drift;			/* their mean, B/s, taken out of raw_slab_fit (0: none) */
	int drift_ok;
	double elapsed;
	double send_rate;	/* messages into our kernel per second while sending */
	double total_elapsed;	/* including the drain */
	double server_rate;	/* messages read by the server per second, whole run */
	int stopped_by;		/* 0 count, 1 duration, 2 signal, 3 crash, 4 unreachable, 5 no TLS */
	/* measurement */
	struct soak_sample *samples;
	unsigned nsamples;
	unsigned warm_index;	/* first sample used for fitting */
	struct soak_fit pss_fit, rss_fit, uss_fit, cg_fit, avail_fit, slab_fit;
	const struct soak_fit *primary;
	const char *primary_name;
	/* probe */
	struct soak_probe_rec *probes;
	unsigned nprobes;
	unsigned probe_failures;
	double p50, p99, pmax;
	/* verdict */
	const char *memory_verdict;
	const char *verdict;
	int exit_code;
	char crash_reason[256];
	char note[256];
	/* the target's processes recorded at start (crash detection) */
	pid_t pids[SOAK_PIDS_MAX];
	unsigned npids;
};

/* Runs the flood and probe, sampling the target; fills r. 0 or -1 (setup error, err set). */
int soak_flood(const struct soak_opts *o, struct soak_target *t, struct soak_result *r, char *err, size_t errlen);
/* Fits the samples (after warm-up) into r. */
void soak_fit_samples(const struct soak_opts *o, struct soak_result *r);

/* report.c */
void report_text(const struct soak_opts *o, const struct soak_result *r, FILE *out);
int report_json(const struct soak_opts *o, const struct soak_result *r, const char *path);
int report_svg(const struct soak_opts *o, const struct soak_result *r, const char *path);

/* Set by SIGINT/SIGTERM. */
extern volatile int soak_interrupted;
double soak_now(void);

#endif
