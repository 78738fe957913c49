/*
 * rdp_limits.h: every protocol limit of the term service (RDP), with its
 * unit in its name and its reason beside it.  The screen and session
 * modules keep their own limits in screen.h / session.h.
 *
 * Sizes are what we accept from a peer; anything larger is a protocol
 * violation: the connection is logged (rated), counted and closed (RDP has
 * no error reply beyond the X.224 negotiation failure).
 */
#ifndef HF_RDP_LIMITS_H
#define HF_RDP_LIMITS_H

/* Framing. TPKT length is 16 bits (RFC 1006); a fast-path length is 15
 * bits ([MS-RDPBCGR] 2.2.9.1.2).  No PDU of the connection sequence from a
 * real client comes near 8 KiB (xfreerdp's MCS Connect Initial is about
 * 450 bytes, its Confirm Active about 500); input PDUs are tiny. */
#define RDP_PDU_MAX_BYTES            16384   /* any one TPKT or fast-path PDU we accept */
#define RDP_X224_CR_MAX_BYTES        512     /* a Connection Request with cookie and neg req */
#define RDP_COOKIE_MAX_BYTES         128     /* "Cookie: mstshash=USER\r\n" or a routing token */

/* MCS / GCC ([MS-RDPBCGR] 2.2.1.3, T.125). */
#define RDP_GCC_BLOCKS_MAX           16      /* client data blocks in one Connect Initial */
#define RDP_CHANNELS_MAX             31      /* static virtual channels: CHANNEL_MAX_COUNT, 2.2.1.3.4 */
#define RDP_MCS_IO_CHANNEL           1003    /* MCS_GLOBAL_CHANNEL; static channels and the user
                                              * channel get the ids after it */

/* Client Info PDU ([MS-RDPBCGR] 2.2.1.11.1.1): each of domain, user name,
 * password, alternate shell, working dir is at most 512 bytes of UTF-16 for
 * RDP 5.1 and later; UTF-8 can take 3 bytes per UTF-16 unit. */
#define RDP_INFO_FIELD_MAX_BYTES     512     /* UTF-16LE bytes, without the terminator */
#define RDP_INFO_UTF8_MAX_BYTES      (RDP_INFO_FIELD_MAX_BYTES / 2 * 3 + 1)

/* Capabilities ([MS-RDPBCGR] 2.2.1.13). */
#define RDP_CAPSETS_MAX              48      /* sets in one Confirm Active; real clients send < 25 */
#define RDP_SOURCE_DESCRIPTOR_MAX_BYTES 64   /* lengthSourceDescriptor */

/* Desktop size: the client asks, we clamp (Demand Active carries ours). */
#define RDP_DESKTOP_WIDTH_MIN        200
#define RDP_DESKTOP_HEIGHT_MIN       200
#define RDP_DESKTOP_WIDTH_MAX        4096
#define RDP_DESKTOP_HEIGHT_MAX       2048

/* Output: one update PDU we send is at most this (below the 15-bit
 * fast-path length and below the client's MultifragmentMaxRequestSize,
 * whichever is smaller). */
#define RDP_UPDATE_MAX_BYTES         16000
#define RDP_FASTPATH_MAX_BYTES       0x7fff  /* 15-bit length, 2.2.9.1.2 */

/* Input. */
#define RDP_FASTPATH_EVENTS_MAX      255     /* numEvents (4 bits, or a byte) */
#define RDP_SLOWPATH_EVENTS_MAX      255     /* numEvents of a TS_INPUT_PDU_DATA we act on */

/* Budgets: before TLS and before login a connection region holds only the
 * input buffer, the small replies of the handshake and our parse state;
 * the configured connection_budget applies after login. */
#define RDP_PRELOGIN_BUDGET_BYTES    (64 * 1024)
#define RDP_PRELOGIN_BUDGET_TEXT     "64k"   /* the same, as prelogin_budget's default */
#define RDP_REQUEST_BUDGET_BYTES     (48 * 1024) /* request region per PDU or update batch: one
                                                 * update PDU plus one encoded 64x64 tile */
#define RDP_DRAIN_POLL_MS            5       /* retry of an update batch held back by a full write queue */
#define RDP_FRAME_MIN_MS             16      /* after an update batch, the next no sooner (a flooding
                                              * program is drawn ~60 times a second, not per read);
                                              * the first change after a quiet spell goes at once */

/* Logins: the per-address PAM attempt table (core/addr_rate), 32 bytes a
 * slot; more client addresses than slots share by forgetting the fullest
 * bucket. */
#define RDP_LOGIN_RATE_SLOTS         1024

#endif
