/*
 * services.c: the services linked into holdfastd.  A service is added here
 * and in SERVICE_DIRS of the Makefile; nothing else in the supervisor
 * names one.
 */
#include <stddef.h>

#include "supervisor.h"
#include "echo/echo.h"
#include "nntp/news.h"
#include "rdp/term.h"
#include "pptp/tunnel.h"

const struct service *const services_linked[] = {
	&echo_service,
	&echo2_service,
	&news_service,
	&term_service,
	&tunnel_service,
	NULL,
};
