/* echo.h: the internal test service (see echo.c). */
#ifndef HF_ECHO_H
#define HF_ECHO_H

#include "service.h"

extern const struct service echo_service;
extern const struct service echo2_service;

#endif
