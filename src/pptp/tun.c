/*
 * tun.c: opening and configuring the TUN device (tun.h) with the
 * TUNSETIFF ioctl and the classic SIOCSIF* interface ioctls on a
 * throw-away AF_INET socket.  The prefix the device gets covers the
 * server's address and the whole pool, so the kernel's connected route
 * sends every pool address to the device and no route needs adding.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pptp/tun.h"

static int
tun_ifreq_addr(int s, const char *name, unsigned long req, uint32_t addr_net, const char *what, char *err,
               size_t errlen)
{
	struct ifreq ifr;
	struct sockaddr_in sin;

	memset(&ifr, 0, sizeof ifr);
	memset(&sin, 0, sizeof sin);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr_net;
	memcpy(&ifr.ifr_addr, &sin, sizeof sin);
	if (ioctl(s, req, &ifr) != 0) {
		snprintf(err, errlen, "%s: %s: %s", name, what, strerror(errno));
		return -1;
	}
	return 0;
}

/* IPv4 only: without this the kernel gives the device a link-local
 * address and sends router solicitations and MLD reports into it, which
 * no call can take.  Best effort (no IPv6 in the kernel is fine). */
static void
tun_no_ipv6(const char *name)
{
	char path[96];
	int fd;

	snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (write(fd, "1\n", 2) != 2) {
		/* nothing to do: the device still works for IPv4 */
	}
	close(fd);
}

int
tun_open(const char *name, struct in_addr local, unsigned prefix_len, unsigned mtu, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, s = -1;
	uint32_t mask = prefix_len == 0 ? 0 : prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);

	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tun_name '%s': 1 to %d characters", name, IFNAMSIZ - 1);
		return -1;
	}
	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		snprintf(err, errlen, "%s: TUNSETIFF: %s", name, strerror(errno));
		goto fail;
	}
	tun_no_ipv6(name);
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	if (tun_ifreq_addr(s, name, SIOCSIFADDR, local.s_addr, "SIOCSIFADDR", err, errlen) != 0 ||
	    tun_ifreq_addr(s, name, SIOCSIFNETMASK, htonl(mask), "SIOCSIFNETMASK", err, errlen) != 0)
		goto fail;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) != 0) {
		snprintf(err, errlen, "%s: SIOCSIFMTU: %s", name, strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
		snprintf(err, errlen, "%s: SIOCGIFFLAGS: %s", name, strerror(errno));
		goto fail;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
		snprintf(err, errlen, "%s: SIOCSIFFLAGS: %s", name, strerror(errno));
		goto fail;
	}
	close(s);
	return fd;
fail:
	if (s >= 0)
		close(s);
	close(fd);
	return -1;
}
