/*
 * users.c: the tunnel's users file, read once as root into static memory.
 * See users.h for the format and the rules.
 *
 * The file is opened with O_NOFOLLOW and checked with fstat on the open
 * descriptor (no race between check and read): a regular file, owned by
 * root, no group/other bits.  It is read whole into a bounded static
 * buffer; a longer file is an error, never a truncated table.
 *
 * Weakness: passwords are kept in clear in the worker's memory, because
 * CHAP and MS-CHAPv2 need them (or their MD4 hash, which is as good as
 * the password for MS-CHAPv2).  users_clear wipes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ppp_limits.h"
#include "users.h"

struct user_entry {
	char name[PPP_NAME_MAX_BYTES + 1];
	char pw[PPP_PASSWORD_MAX_BYTES + 1];
	size_t namelen, pwlen;
};

static struct user_entry users[PPP_USERS_MAX];
static size_t nusers;

void
users_clear(void)
{
	explicit_bzero(users, sizeof users);
	nusers = 0;
}

size_t
users_count(void)
{
	return nusers;
}

const char *
users_lookup(const char *name, size_t namelen, size_t *pwlen)
{
	size_t i;

	for (i = 0; i < nusers; i++) {
		if (users[i].namelen == namelen && memcmp(users[i].name, name, namelen) == 0) {
			*pwlen = users[i].pwlen;
			return users[i].pw;
		}
	}
	return NULL;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
users_load_buf(const char *text, size_t len, char *err, size_t errlen)
{
	static struct user_entry tmp[PPP_USERS_MAX];
	size_t ntmp = 0, off = 0, lineno = 0;

	if (len > PPP_USERS_FILE_MAX_BYTES) {
		snprintf(err, errlen, "users file larger than %d bytes", PPP_USERS_FILE_MAX_BYTES);
		return -1;
	}
	while (off < len) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		size_t i = 0, ns, ne, ps, pe;

		off += ll + (nl ? 1 : 0);
		lineno++;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		while (i < ll && is_blank(line[i]))
			i++;
		if (i == ll || line[i] == '#' || line[i] == ';')
			continue;
		ns = i;
		while (i < ll && !is_blank(line[i]))
			i++;
		ne = i;
		while (i < ll && is_blank(line[i]))
			i++;
		ps = i;
		pe = ll;
		while (pe > ps && is_blank(line[pe - 1]))
			pe--;
		if (ps == pe) {
			snprintf(err, errlen, "line %zu: expected \"name password\"", lineno);
			goto fail;
		}
		if (memchr(line + ps, ' ', pe - ps) || memchr(line + ps, '\t', pe - ps)) {
			snprintf(err, errlen, "line %zu: the password has a blank in it", lineno);
			goto fail;
		}
		if (ne - ns > PPP_NAME_MAX_BYTES) {
			snprintf(err, errlen, "line %zu: name longer than %d bytes", lineno, PPP_NAME_MAX_BYTES);
			goto fail;
		}
		if (pe - ps > PPP_PASSWORD_MAX_BYTES) {
			snprintf(err, errlen, "line %zu: password longer than %d bytes", lineno,
			    PPP_PASSWORD_MAX_BYTES);
			goto fail;
		}
		if (memchr(line, '\0', ll)) {
			snprintf(err, errlen, "line %zu: NUL byte", lineno);
			goto fail;
		}
		if (ntmp == PPP_USERS_MAX) {
			snprintf(err, errlen, "line %zu: more than %d users", lineno, PPP_USERS_MAX);
			goto fail;
		}
		for (i = 0; i < ntmp; i++) {
			if (tmp[i].namelen == ne - ns && memcmp(tmp[i].name, line + ns, ne - ns) == 0) {
				snprintf(err, errlen, "line %zu: user listed twice", lineno);
				goto fail;
			}
		}
		memset(&tmp[ntmp], 0, sizeof tmp[ntmp]);
		memcpy(tmp[ntmp].name, line + ns, ne - ns);
		tmp[ntmp].namelen = ne - ns;
		memcpy(tmp[ntmp].pw, line + ps, pe - ps);
		tmp[ntmp].pwlen = pe - ps;
		ntmp++;
	}
	users_clear();
	memcpy(users, tmp, ntmp * sizeof tmp[0]);
	nusers = ntmp;
	explicit_bzero(tmp, sizeof tmp);
	return 0;
fail:
	explicit_bzero(tmp, sizeof tmp);
	return -1;
}

int
users_load(const char *path, char *err, size_t errlen)
{
	static char buf[PPP_USERS_FILE_MAX_BYTES + 1];
	struct stat st;
	size_t got = 0;
	int fd, rc;
	char e[200];

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "users file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "users file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "users file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0) {
		snprintf(err, errlen, "users file %s: owned by uid %u, must be owned by root",
		    path, (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "users file %s: mode %04o, must be 0600 or narrower",
		    path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof buf - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "users file %s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof buf);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof buf)
			break;
	}
	close(fd);
	if (got > PPP_USERS_FILE_MAX_BYTES) {
		snprintf(err, errlen, "users file %s: larger than %d bytes", path,
		    PPP_USERS_FILE_MAX_BYTES);
		explicit_bzero(buf, sizeof buf);
		return -1;
	}
	rc = users_load_buf(buf, got, e, sizeof e);
	explicit_bzero(buf, sizeof buf);
	if (rc != 0)
		snprintf(err, errlen, "users file %s: %s", path, e);
	return rc;
}
