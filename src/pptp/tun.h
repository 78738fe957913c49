/*
 * tun.h: the tunnel's TUN device (IFF_TUN | IFF_NO_PI: each read or write
 * is one IP packet).  Opened and configured as root in the service's
 * privileged hook, with ioctls only (no shelling out); the worker keeps
 * the fd after it drops privileges.  The device is not persistent: it
 * disappears when the worker exits, and the next worker makes it again.
 */
#ifndef HF_PPTP_TUN_H
#define HF_PPTP_TUN_H

#include <netinet/in.h>
#include <stddef.h>

/* Opens /dev/net/tun as name (non-blocking, close-on-exec), gives it
 * local/prefix_len, mtu, and brings it up.  The fd, or -1 with err. */
int tun_open(const char *name, struct in_addr local, unsigned prefix_len, unsigned mtu, char *err, size_t errlen);

#endif
