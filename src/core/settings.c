/*
 * settings.c: the key tables of the [holdfast] section and of the keys
 * common to every service section, and address parsing for "listen".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hf_limits.h"
#include "settings.h"

#define G(f) offsetof(struct global_settings, f)
const struct conf_key global_settings_keys[] = {
	{ "rundir", CONF_PATH, HOLDFAST_DEFAULT_RUNDIR, G(rundir), 0, 0 },
	{ "state_dir", CONF_PATH, "/var/lib/holdfast", G(state_dir), 0, 0 },
	{ "log", CONF_STR, "stderr", G(log), 0, 0 },
	{ "log_level", CONF_STR, "info", G(log_level), 0, 0 },
	{ "memory_cap", CONF_STR, "auto", G(memory_cap), 0, 0 },
	CONF_KEYS_END
};

#define S(f) offsetof(struct service_settings, f)
const struct conf_key service_settings_keys[] = {
	{ "enable", CONF_BOOL, "no", S(enable), 0, 0 },
	{ "listen", CONF_LIST, "", S(listen), 0, 0 },
	{ "listen_tls", CONF_LIST, "", S(listen_tls), 0, 0 },
	{ "user", CONF_STR, "nobody", S(user), 0, 0 },
	{ "memory_max", CONF_SIZE, "256m", S(memory_max), 16 * 1024 * 1024, 64ULL * 1024 * 1024 * 1024 },
	{ "max_connections", CONF_INT, "1024", S(max_connections), 1, 1000000 },
	{ "max_connections_per_address", CONF_INT, "32", S(max_connections_per_address), 1, 1000000 },
	{ "connection_budget", CONF_SIZE, "128k", S(connection_budget), 4096, 1024 * 1024 * 1024 },
	{ "write_budget", CONF_SIZE, "64k", S(write_budget), 4096, 1024 * 1024 * 1024 },
	{ "read_max", CONF_SIZE, "16k", S(read_max), 1024, 64 * 1024 * 1024 },
	{ "idle_timeout", CONF_DURATION, "300s", S(idle_timeout), 100, 0 },
	{ "handshake_timeout", CONF_DURATION, "30s", S(handshake_timeout), 100, 0 },
	{ "tls_cert", CONF_PATH, "", S(tls_cert), 0, 0 },
	{ "tls_key", CONF_PATH, "", S(tls_key), 0, 0 },
	CONF_KEYS_END
};

int
settings_read_global(const char *path, struct global_settings *g, char *err, size_t errlen)
{
	struct conf *c;
	struct conf_binding b = { global_settings_keys, g };
	int rc;

	memset(g, 0, sizeof *g);
	if ((c = conf_load(path, err, errlen)) == NULL)
		return -1;
	rc = conf_apply(c, conf_section_find(c, "holdfast"), &b, 1, err, errlen);
	conf_free(c);
	return rc;
}

int
settings_parse_addr(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
	char host[64];
	const char *colon, *h, *p;
	char *end;
	unsigned long port;
	size_t hl;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		h = s;
		hl = (size_t)(colon - s);
		p = colon + 1;
	}
	if (hl == 0 || hl >= sizeof host || *p == '\0')
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = strtoul(p, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	if (s[0] == '[' || strchr(host, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (strcmp(host, "*") != 0 && inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -1;
		*len = sizeof *a6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0)
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		*len = sizeof *a4;
	}
	return 0;
}
