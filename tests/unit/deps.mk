# Objects each unit test and fuzz target links: paths under src/ without
# .c.  A test not listed here links every core object.
UNIT_DEPS_region := core/region core/log
UNIT_DEPS_buf := core/buf core/region core/log
UNIT_DEPS_line := core/line core/buf core/region core/log
UNIT_DEPS_conf := core/conf core/log
UNIT_DEPS_path := core/path core/log
UNIT_DEPS_rundir := core/rundir core/path core/log
UNIT_DEPS_timer := core/timer core/region core/log
UNIT_DEPS_loop := core/loop core/timer core/region core/log
UNIT_DEPS_conn := core/conn core/compress core/loop core/timer core/buf core/line core/region core/tls core/stats core/log
UNIT_DEPS_stats := core/stats core/log
UNIT_DEPS_tls := core/tls core/log
UNIT_DEPS_addr_rate := core/addr_rate core/region core/log

FUZZ_DEPS_path := core/path core/log
FUZZ_DEPS_line := core/line core/buf core/region core/log
FUZZ_DEPS_conf := core/conf core/log
UNIT_DEPS_settings := core/settings core/conf core/log
UNIT_DEPS_nntp_article := nntp/article nntp/nntp_util core/log
UNIT_DEPS_nntp_wildmat := nntp/wildmat
FUZZ_DEPS_nntp_article := nntp/article nntp/nntp_util core/log
FUZZ_DEPS_nntp_wildmat := nntp/wildmat
UNIT_DEPS_nntp_storage := nntp/store_sqlite core/region core/log
UNIT_DEPS_nntp_cmd := nntp/nntp_util core/log
UNIT_DEPS_nntp_feed := nntp/feed_conf nntp/wildmat core/log
UNIT_DEPS_soak_stats := ../tools/soak/stats
# stats.c and the test use libm (sqrt, log); only this test needs it.
$(O)/tests/unit/test_soak_stats: PKG_LIBS += -lm
# tunnel: PPP engine and its crypto (src/pptp)
UNIT_DEPS_pptp_crypto := pptp/ppp_crypto
PPP_OBJS := pptp/ppp pptp/lcp pptp/ppp_auth pptp/ipcp pptp/mppe pptp/ppp_crypto pptp/users \
	core/loop core/timer core/region core/log
UNIT_DEPS_pptp_ppp := $(PPP_OBJS)
FUZZ_DEPS_pptp_ppp := $(PPP_OBJS)
# tunnel: control connection, GRE and the pool (src/pptp)
UNIT_DEPS_pptp_ctrl := pptp/ctrl core/region core/log
UNIT_DEPS_pptp_gre := pptp/gre pptp/pool core/region core/log
FUZZ_DEPS_pptp_ctrl := pptp/ctrl core/region core/log
FUZZ_DEPS_pptp_gre := pptp/gre core/log
UNIT_DEPS_rdp_broker := rdp/broker core/log
$(O)/tests/unit/test_rdp_broker: PKG_LIBS += -lpam -Wl,--no-as-needed -lcrypt -Wl,--as-needed
UNIT_DEPS_rdp_session := rdp/session rdp/broker rdp/screen rdp/font rdp/keymap rdp/rle rdp/planar core/loop core/timer core/region core/log core/addr_rate
$(O)/tests/unit/test_rdp_session: PKG_LIBS += -lpam -Wl,--no-as-needed -lcrypt -Wl,--as-needed
# term screen (src/rdp screen, font, keymap, codecs); libvterm comes from PKG_LIBS.
UNIT_DEPS_rdp_codec := rdp/rle rdp/planar
UNIT_DEPS_rdp_font := rdp/font core/region core/log
UNIT_DEPS_rdp_keymap := rdp/keymap rdp/screen rdp/font rdp/rle rdp/planar core/region core/log
UNIT_DEPS_rdp_screen := rdp/screen rdp/font rdp/keymap rdp/rle rdp/planar core/region core/log
FUZZ_DEPS_rdp_screen := rdp/screen rdp/font rdp/keymap rdp/rle rdp/planar core/region core/log
UNIT_DEPS_rdp_x224 := rdp/x224
UNIT_DEPS_rdp_mcs := rdp/mcs rdp/gcc rdp/x224
UNIT_DEPS_rdp_sec := rdp/rdp_sec rdp/mcs rdp/x224
UNIT_DEPS_rdp_pdu := rdp/pdu rdp/caps rdp/fastpath rdp/update rdp/mcs rdp/x224
FUZZ_DEPS_rdp_handshake := rdp/x224 rdp/mcs rdp/gcc
FUZZ_DEPS_rdp_pdu := rdp/x224 rdp/mcs rdp/rdp_sec rdp/pdu rdp/caps rdp/fastpath rdp/dvc
UNIT_DEPS_rdp_dvc := rdp/dvc
FUZZ_DEPS_rdp_codec := rdp/rle rdp/planar
UNIT_DEPS_rdp_freerdp := rdp/screen rdp/font rdp/keymap rdp/rle rdp/planar core/region core/log
