/*
 * config.c: holdfastd's reading of the configuration file and binding of
 * listeners.  Every error names the file and, through conf.c, the line
 * and key; errors found after parsing (users, addresses) name the section
 * and key.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#define LISTEN_BACKLOG 511

int
sup_config_load(struct supervisor *sup, const char *path)
{
	char err[512];
	struct conf_binding gb = { global_settings_keys, &sup->g };
	size_t i;

	if ((sup->conf = conf_load(path, err, sizeof err)) == NULL) {
		log_err("%s", err);
		return -1;
	}
	if (conf_apply(sup->conf, conf_section_find(sup->conf, "holdfast"), &gb, 1, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	sup->nservices = 0;
	for (i = 0; services_linked[i] != NULL; i++) {
		const struct service *svc = services_linked[i];
		struct conf_section *sec = conf_section_find(sup->conf, svc->name);
		struct sup_service *s;
		struct conf_binding b[2];
		struct passwd *pw;

		if (sup->nservices == SERVICES_MAX) {
			log_err("too many services linked (SERVICES_MAX %d)", SERVICES_MAX);
			return -1;
		}
		s = &sup->services[sup->nservices];
		memset(s, 0, sizeof *s);
		s->svc = svc;
		s->sup = sup;
		s->state_dirfd = -1;
		if (svc->conf_size > 0 && (s->conf = calloc(1, svc->conf_size)) == NULL)
			log_fatal("out of memory");
		b[0].keys = service_settings_keys;
		b[0].base = &s->settings;
		b[1].keys = svc->keys;
		b[1].base = s->conf;
		sup->nservices++;
		if (conf_apply(sup->conf, sec, b, svc->keys ? 2 : 1, err, sizeof err) != 0) {
			log_err("%s", err);
			return -1;
		}
		if (!s->settings.enable)
			continue;
		if (s->settings.listen.n + s->settings.listen_tls.n == 0) {
			log_err("%s: [%s] is enabled but has no listen address", path, svc->name);
			return -1;
		}
		if (s->settings.listen.n + s->settings.listen_tls.n > SERVICE_LISTENERS_MAX) {
			log_err("%s: [%s] has more than %d listen addresses", path, svc->name, SERVICE_LISTENERS_MAX);
			return -1;
		}
		if ((s->settings.tls_cert[0] == '\0') != (s->settings.tls_key[0] == '\0')) {
			log_err("%s: [%s] tls_cert and tls_key go together", path, svc->name);
			return -1;
		}
		if (s->settings.listen_tls.n > 0 && s->settings.tls_cert[0] == '\0') {
			log_err("%s: [%s] listen_tls needs tls_cert and tls_key", path, svc->name);
			return -1;
		}
		if (s->settings.read_max + s->settings.write_budget >
		    s->settings.connection_budget - s->settings.connection_budget / 4) {
			log_err("%s: [%s] read_max (%llu) + write_budget (%llu) must leave a quarter of "
			        "connection_budget (%llu) for the connection's own state",
			        path, svc->name, (unsigned long long)s->settings.read_max,
			        (unsigned long long)s->settings.write_budget,
			        (unsigned long long)s->settings.connection_budget);
			return -1;
		}
		if ((pw = getpwnam(s->settings.user)) == NULL) {
			log_err("%s: [%s] key 'user': no such user '%s'", path, svc->name, s->settings.user);
			return -1;
		}
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
		if (svc->check && svc->check(&s->settings, s->conf, err, sizeof err) != 0) {
			log_err("%s: [%s] %s", path, svc->name, err);
			return -1;
		}
	}
	if (conf_check_claimed(sup->conf, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

void
sup_config_free(struct supervisor *sup)
{
	struct conf_binding gb = { global_settings_keys, &sup->g };
	size_t i, j;

	for (i = 0; i < sup->nservices; i++) {
		struct sup_service *s = &sup->services[i];
		struct conf_binding b[2] = { { service_settings_keys, &s->settings }, { s->svc->keys, s->conf } };

		conf_free_values(b, s->svc->keys ? 2 : 1);
		free(s->conf);
		free(s->state_dir);
		for (j = 0; j < s->nlisteners; j++)
			close(s->listeners[j].fd);
		if (s->state_dirfd >= 0)
			close(s->state_dirfd);
	}
	conf_free_values(&gb, 1);
	conf_free(sup->conf);
}

static int
bind_one(const char *svc, const char *addr, int *out)
{
	struct sockaddr_storage ss;
	unsigned len;
	int fd, one = 1;

	if (settings_parse_addr(addr, &ss, &len) != 0) {
		log_err("[%s] key 'listen': bad address '%s' (use HOST:PORT or [V6]:PORT)", svc, addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("[%s] listen %s: socket: %s", svc, addr, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		log_err("[%s] listen %s: %s", svc, addr, strerror(errno));
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

int
sup_bind_listeners(struct supervisor *sup)
{
	size_t i, j;

	for (i = 0; i < sup->nservices; i++) {
		struct sup_service *s = &sup->services[i];

		if (!s->settings.enable)
			continue;
		for (j = 0; j < s->settings.listen.n; j++) {
			if (bind_one(s->svc->name, s->settings.listen.v[j], &s->listeners[s->nlisteners].fd) != 0)
				return -1;
			s->listeners[s->nlisteners++].implicit_tls = 0;
		}
		for (j = 0; j < s->settings.listen_tls.n; j++) {
			if (bind_one(s->svc->name, s->settings.listen_tls.v[j], &s->listeners[s->nlisteners].fd) != 0)
				return -1;
			s->listeners[s->nlisteners++].implicit_tls = 1;
		}
	}
	return 0;
}
