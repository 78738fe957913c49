/*
 * tunnel.h: the tunnel service (PPTP, RFC 2637: control connection on TCP
 * 1723, enhanced GRE, PPP in user space, a TUN device).  See tunnel.c and
 * README.md in this directory.
 */
#ifndef HF_PPTP_TUNNEL_H
#define HF_PPTP_TUNNEL_H

struct service;
extern const struct service tunnel_service;

#endif
