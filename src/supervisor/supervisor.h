/*
 * supervisor.h: holdfastd's own state.  The supervisor reads the
 * configuration, prepares the runtime and storage directories, binds every
 * listener, forks one worker per enabled service, restarts workers that
 * die (with backoff), answers the control socket and stops everything on
 * SIGTERM.  It does nothing on the data path.
 */
#ifndef HF_SUPERVISOR_H
#define HF_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "ctl_proto.h"
#include "hf_limits.h"
#include "loop.h"
#include "service.h"
#include "settings.h"

struct sup_service {
	const struct service *svc;
	struct service_settings settings;
	void *conf;                          /* service-specific, malloc'd */
	uid_t uid;
	gid_t gid;
	struct worker_listener listeners[SERVICE_LISTENERS_MAX];
	size_t nlisteners;
	char *state_dir;                     /* state_dir/NAME */
	int state_dirfd;
	struct stats_page *stats;

	pid_t pid;                           /* 0 when not running */
	enum ctl_state state;
	uint64_t started_ms;
	uint32_t restarts;
	uint64_t backoff_ms;
	struct timer restart_timer;

	enum ctl_cap cap_kind;
	char cgroup[256];                    /* cgroup directory, or "" */
	struct supervisor *sup;

	/* Operator commands: a SOCK_SEQPACKET pair per worker (typed, fixed
	 * size), one command in flight, answered to the waiting client. */
	int ctl_fd;                          /* our end, or -1 */
	int ctl_child_fd;                    /* the worker's end, only during fork */
	struct loop_io ctl_io;
	struct ctl_client *ctl_pending;
};

struct supervisor {
	struct conf *conf;
	char *conf_path;
	struct global_settings g;
	struct sup_service services[SERVICES_MAX];
	size_t nservices;

	struct region *region;
	struct loop *loop;
	int rundir_fd;
	int lock_fd;
	int ctl_fd;
	int sig_fd;
	struct loop_io ctl_io;
	struct loop_io sig_io;
	struct timer stop_timer;
	uint64_t started_ms;
	int stopping;
};

/* services.c */
extern const struct service *const services_linked[];

/* config.c: loads and checks everything; 0 or -1 (logged). */
int sup_config_load(struct supervisor *sup, const char *path);
void sup_config_free(struct supervisor *sup);
int sup_bind_listeners(struct supervisor *sup);

/* spawn.c */
int sup_cap_prepare(struct sup_service *s);
void sup_cap_cleanup(struct sup_service *s);
int sup_spawn(struct sup_service *s);
void sup_reaped(struct sup_service *s, int status);
void sup_close_inherited(struct supervisor *sup, const struct sup_service *keep);

/* control.c */
struct ctl_client;
void sup_service_ctl_attach(struct sup_service *s);
void sup_service_ctl_detach(struct sup_service *s);
int sup_control_start(struct supervisor *sup);
void sup_status(struct supervisor *sup, struct ctl_status *st);
void sup_stop(struct supervisor *sup);

#endif
