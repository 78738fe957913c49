/*
 * pptp_limits.h: the tunnel service's limits (control connection, GRE,
 * TUN, pool), each with its unit in its name and its reason.  PPP's own
 * limits live beside the ppp module.  Per-call and per-connection values
 * that an operator may want to change are defaults of configuration keys.
 */
#ifndef HF_PPTP_LIMITS_H
#define HF_PPTP_LIMITS_H

/* Control connection (RFC 2637 section 2). */
#define PPTP_CTRL_HDR_BYTES          12       /* 2.1: length, type, magic, control type, reserved0 */
#define PPTP_CTRL_MSG_MAX_BYTES      220      /* 2.8: Incoming-Call-Request, the largest fixed size */
#define PPTP_CTRL_ERRORS_MAX         16       /* protocol errors per control connection, then StopCCRQ */
#define PPTP_CTRL_PRE_ERRORS_MAX     1        /* errors before Start-Control-Connection: pre-auth budget */
#define PPTP_CTRL_PHONE_MAX_BYTES    64       /* 2.7: phone number field */
#define PPTP_CALLS_PER_CONN_DEFAULT  4        /* calls_max: one is what every real client opens */
#define PPTP_CALLS_PER_CONN_MAX      64       /* hard cap for calls_max */
#define PPTP_CALLS_MAX               4096     /* live calls per worker: call ids and the GRE table */
#define PPTP_RECV_WINDOW_PKTS        64       /* 2.8 OCRP Packet Recv. Window Size we announce */
#define PPTP_PEER_WINDOW_MAX_PKTS    256      /* we never keep more than this unacknowledged towards a peer */
#define PPTP_PEER_WINDOW_MIN_PKTS    32       /* floor for data: pptp-linux announces 3 yet acks lazily; Linux's
                                                 kernel PPTP and accel-ppp ignore the window altogether */
#define PPTP_CALL_BUDGET_BYTES       (48 * 1024)  /* one call: PPP state, MPPE keys, GRE state */

/* GRE (RFC 2637 section 4.1). */
#define PPTP_GRE_HDR_MAX_BYTES       16       /* 8 + sequence + acknowledgement */
#define PPTP_GRE_PAYLOAD_MAX_BYTES   1600     /* one PPP frame: MRU 1500 + protocol/MPPE/ACFC slack */
#define PPTP_GRE_PKT_MAX_BYTES       2048     /* one datagram read from the raw socket, IP header included */
#define PPTP_GRE_BATCH_PKTS          64       /* datagrams read per loop round (recvmmsg), bounds a round */
#define PPTP_GRE_RCVBUF_BYTES        (4 << 20) /* raw GRE socket receive buffer (kernel memory) */
#define PPTP_GRE_RATE_DEFAULT        2000     /* gre_rate: packets/s accepted per call */
#define PPTP_GRE_ACK_DELAY_MS        100      /* an ack-only packet if no data carried the ack by then */

/* TUN device and pool. */
#define PPTP_TUN_MTU_BYTES           1396     /* clients ask MRU 1400; MPPE takes 4 of it (the usual PPTP MTU) */
#define PPTP_TUN_BATCH_PKTS          64       /* packets read from the TUN per loop round */
#define PPTP_POOL_MAX_ADDRS          4096     /* pool_start..pool_end; also bounded by PPTP_CALLS_MAX */

#endif
