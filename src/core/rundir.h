/*
 * rundir.h: the runtime and storage directories (MS01-003).
 *
 * Nothing holdfast depends on may be created, held or replaced by an
 * unprivileged local user.  rundir_prepare creates a directory, or accepts
 * an existing one only if it is a real directory (not a symlink) owned by
 * the expected user with no permission wider than asked, and if every
 * ancestor is owned by root (or that user) and not writable by others
 * unless sticky.  Any other state is refused at once with a message naming
 * the offending path; nothing here ever waits.
 *
 * Files inside (lock, pid, control socket) are opened relative to the
 * directory fd with O_NOFOLLOW | O_CLOEXEC; the lock is taken with
 * LOCK_NB, so a held lock is an immediate error, not a hang.
 */
#ifndef HF_RUNDIR_H
#define HF_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

/* An O_DIRECTORY fd for path (created with mode if absent), or -1 with err. */
int rundir_prepare(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err, size_t errlen);

/* Opens or creates dirfd/name as a regular file owned by root (mode 0600),
 * refusing symlinks, other owners and hard links, and takes an exclusive
 * non-blocking flock.  Returns the fd, or -1 with err ("... is locked by
 * another process" when held). */
int rundir_lock(int dirfd, const char *dirpath, const char *name, char *err, size_t errlen);
/* Truncates the (locked) file and writes pid followed by a newline. */
int rundir_write_pid(int fd, pid_t pid);

/* A listening unix stream socket at dirpath/name (mode applied), replacing
 * a stale socket left there; refuses a name that is anything but a socket.
 * Call only while holding the lock.  fd or -1 with err. */
int rundir_listen_unix(int dirfd, const char *dirpath, const char *name, mode_t mode, char *err, size_t errlen);

#endif
