/*
 * scen_ms01_003.c: MS01-003, a resource any local user could take and
 * hold.  Runs as an unprivileged user (--as-user, switched to when started
 * as root; refused as root without it) and tries, for every --path given
 * (the target's runtime directory, lock, control socket, spools):
 *   absent path:  plant a symlink there; pre-create it as a file;
 *   regular file: open it, take flock(LOCK_EX|LOCK_NB) on it, open it for
 *                 writing and fill it (FILL_BYTES, size restored after);
 *   directory:    create a file inside and fill it;
 *   socket:       connect to it (a single-client socket can be held);
 *   any path:     is its parent writable without the sticky bit (then the
 *                 path could be replaced)?
 * What it took is held for --hold seconds (so a test can start the
 * daemon meanwhile), then released and removed.  One line per attempt:
 * "taken" or "refused (reason)".  Exit 1 when anything was taken, 0 when
 * nothing was, 64 on usage errors.
 * Interface: scen_ms01_003 (soak.h).  Limits: SOAK_PATHS_MAX paths.
 * Known weaknesses: does not race the daemon (no repeated attempts while
 * it starts); fcntl locks are not tried; only the paths given are tried.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"

#define FILL_BYTES (1024 * 1024)

struct held {
	int fds[4];
	unsigned nfds;
	char created[4][600];
	unsigned ncreated;
	off_t restore_size;
	int restore_fd;
};

static unsigned taken_count;

static void
say(const char *path, const char *what, int ok, int err)
{
	if (ok) {
		taken_count++;
		printf("  %-40s %-28s taken\n", path, what);
	} else {
		printf("  %-40s %-28s refused (%s)\n", path, what, strerror(err));
	}
}

static void
fill(int fd, const char *path, const char *what)
{
	static char zeros[65536];
	size_t done = 0;
	ssize_t w = 0;

	while (done < FILL_BYTES) {
		w = write(fd, zeros, sizeof(zeros));
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	say(path, what, done > 0, w < 0 ? errno : ENOSPC);
}

static void
hold_fd(struct held *h, int fd)
{
	if (h->nfds < 4)
		h->fds[h->nfds++] = fd;
	else
		close(fd);
}

static void
try_path(const char *path, struct held *h)
{
	struct stat st, pst;
	char tmp[600], parent[600];
	int fd;

	memset(h, 0, sizeof(*h));
	h->restore_fd = -1;
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	if (stat(parent, &pst) == 0 && access(parent, W_OK) == 0 && !(pst.st_mode & S_ISVTX))
		say(path, "replace (parent writable)", 1, 0);
	else
		say(path, "replace (parent writable)", 0, errno != 0 ? errno : EACCES);
	errno = 0;
	if (lstat(path, &st) != 0 && errno != ENOENT) {
		say(path, "reach", 0, errno);
		return;
	}
	if (errno == ENOENT) {
		if (symlink("/dev/null", path) == 0) {
			say(path, "plant symlink", 1, 0);
			unlink(path);
		} else {
			say(path, "plant symlink", 0, errno);
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			say(path, "pre-create", 1, 0);
			snprintf(h->created[h->ncreated++], sizeof(h->created[0]), "%s", path);
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				say(path, "lock (created file)", 1, 0);
			hold_fd(h, fd);
		} else {
			say(path, "pre-create", 0, errno);
		}
		return;
	}
	if (S_ISREG(st.st_mode)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			say(path, "open", 0, errno);
		} else if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			say(path, "lock (flock)", 1, 0);
			hold_fd(h, fd);
		} else {
			say(path, "lock (flock)", 0, errno);
			close(fd);
		}
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			say(path, "fill", 0, errno);
		} else {
			h->restore_size = st.st_size;
			h->restore_fd = fd;
			fill(fd, path, "fill");
		}
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(tmp, sizeof(tmp), "%s/.holdfast-soak-%d", path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			say(path, "create inside", 0, errno);
		} else {
			say(path, "create inside", 1, 0);
			snprintf(h->created[h->ncreated++], sizeof(h->created[0]), "%s", tmp);
			fill(fd, path, "fill inside");
			hold_fd(h, fd);
		}
	} else if (S_ISSOCK(st.st_mode)) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path)) {
			say(path, "connect (socket)", 0, ENAMETOOLONG);
			return;
		}
		memcpy(sun.sun_path, path, strlen(path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			say(path, "connect (socket)", 1, 0);
			hold_fd(h, fd);
		} else {
			say(path, "connect (socket)", 0, errno);
			if (fd >= 0)
				close(fd);
		}
	} else {
		say(path, "open (other type)", 0, EINVAL);
	}
}

static void
release(struct held *h)
{
	unsigned i;

	if (h->restore_fd >= 0) {
		if (ftruncate(h->restore_fd, h->restore_size) != 0)
			fprintf(stderr, "holdfast-soak: could not restore size: %s\n", strerror(errno));
		close(h->restore_fd);
	}
	for (i = 0; i < h->nfds; i++)
		close(h->fds[i]);
	for (i = 0; i < h->ncreated; i++)
		unlink(h->created[i]);
}

static int
become(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		fprintf(stderr, "holdfast-soak: --as-user %s: no such user\n", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		fprintf(stderr, "holdfast-soak: --as-user %s: must not be root\n", user);
		return -1;
	}
	if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
		return 0;
	if (geteuid() != 0) {
		fprintf(stderr, "holdfast-soak: --as-user %s: switching users needs root\n", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		fprintf(stderr, "holdfast-soak: --as-user %s: cannot switch: %s\n", user, strerror(errno));
		return -1;
	}
	return 0;
}

static int
m003_run(const struct soak_scenario *sc, void *arg)
{
	const struct soak_opts *o = arg;
	static struct held held[SOAK_PATHS_MAX];
	unsigned i;

	if (o->npaths == 0) {
		fprintf(stderr, "holdfast-soak: ms01-003 needs --path PATH (one or more)\n");
		return 64;
	}
	if (o->as_user != NULL) {
		if (become(o->as_user) != 0)
			return 64;
	} else if (geteuid() == 0) {
		fprintf(stderr, "holdfast-soak: ms01-003 runs as an unprivileged user: give --as-user USER\n");
		return 64;
	}
	printf("holdfast-soak ms01-003 as uid %d\n", (int)getuid());
	for (i = 0; i < o->npaths; i++)
		try_path(o->paths[i], &held[i]);
	fflush(stdout);
	if (o->hold > 0) {
		struct timespec ts = {(time_t)o->hold, (long)((o->hold - (double)(time_t)o->hold) * 1e9)};

		while (nanosleep(&ts, &ts) != 0 && !soak_interrupted)
			;
	}
	for (i = 0; i < o->npaths; i++)
		release(&held[i]);
	printf("verdict: %s (%u taken)\n", taken_count ? "taken" : "nothing taken", taken_count);
	return taken_count ? 1 : 0;
}

const struct soak_scenario scen_ms01_003 = {
	.name = "ms01-003",
	.summary = "local: as an unprivileged user, pre-create, lock, symlink, fill the target's paths (MS01-003)",
	.local_run = m003_run,
};
