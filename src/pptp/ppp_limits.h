/*
 * ppp_limits.h: the PPP engine's limits, each with its unit and reason.
 */
#ifndef HF_PPTP_PPP_LIMITS_H
#define HF_PPTP_PPP_LIMITS_H

#define PPP_MRU_DEFAULT          1500   /* RFC 1661 6.1 default MRU, bytes */
#define PPP_MRU_MIN              576    /* below this IP fragments too much; we Nak smaller MRUs up to it */
#define PPP_MRU_MAX              1500   /* what one GRE packet on Ethernet carries comfortably */
#define PPP_HEADER_MAX_BYTES     4      /* ff 03 + 2-byte protocol */
#define PPP_MPPE_OVERHEAD_BYTES  4      /* inside the information field: 2-byte coherency count header + 2-byte inner protocol */
#define PPP_FRAME_MAX_BYTES      (PPP_MRU_MAX + PPP_HEADER_MAX_BYTES + PPP_MPPE_OVERHEAD_BYTES + 8)  /* one frame in or out */
#define PPP_RESTART_MS           3000   /* RFC 1661 4.6 restart timer default (3 s) */
#define PPP_MAX_CONFIGURE        10     /* RFC 1661 4.6 Max-Configure */
#define PPP_MAX_TERMINATE        2      /* RFC 1661 4.6 Max-Terminate */
#define PPP_MAX_FAILURE          5      /* RFC 1661 4.6 Max-Failure: Naks before we Reject */
#define PPP_CONF_REQ_MAX         40     /* Configure-Requests received per protocol before we give up (option loops, storms) */
#define PPP_OPTIONS_MAX          32     /* options in one Configure packet */
#define PPP_ECHO_FAILURES        3      /* unanswered LCP Echo-Requests before the link is declared dead */
#define PPP_AUTH_TIMEOUT_MS      30000  /* LCP up to authentication done */
#define PPP_AUTH_ATTEMPTS_MAX    3      /* PAP Authenticate-Requests per link (CHAP/MS-CHAPv2 get one Response: R=0) */
#define PPP_NAME_MAX_BYTES       64     /* a peer's user name (CHAP Name, PAP Peer-ID) */
#define PPP_PASSWORD_MAX_BYTES   128    /* a password in the users file (RFC 2759 allows 256 Unicode chars) */
#define PPP_USERS_MAX            256    /* entries in the users file */
#define PPP_USERS_FILE_MAX_BYTES (64 * 1024)  /* the users file itself */
#define PPP_MPPE_CCOUNT_GAP_MAX  1024   /* RFC 3078 8: packets a stateless receiver may skip (lost) in one step; RFC 3078 allows half the 4096 space */
#define PPP_MPPE_REKEYS_PER_S    4096   /* key changes per second per call beyond one per packet (about 10 ms of CPU): what forged counts can cost us */

#endif
