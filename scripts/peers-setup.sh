#!/bin/sh
# peers-setup.sh: install Debian's xrdp or pptpd, the third-party servers
# the soak benchmarks (bench/soak/run.py --scenario ms01-040 / ms01-009)
# compare holdfast's term and tunnel services with.
#
#     scripts/peers-setup.sh xrdp|pptpd
#
# Idempotent and silent on success; on failure it prints the reason (and
# the apt/dpkg output) on stderr and exits non-zero.  Benchmarks never use
# the system service: they run private instances on 127.0.0.1.  So, as in
# scripts/inn-setup.sh, a policy-rc.d that forbids every service start is in
# place during the install (an existing one is saved and put back), and a
# first install done here disables the service at boot.  The postinst still
# runs (xrdp's generates its RSA keys and TLS certificate).
set -eu

case "${1:-}" in
# xrdp's sessions need Xorg with xorgxrdp; bench/term starts xterm in them.
xrdp) PKG=xrdp BIN=/usr/sbin/xrdp EXTRA="xorgxrdp xterm" ;;
pptpd) PKG=pptpd BIN=/usr/sbin/pptpd EXTRA= ;;
*)
	echo "usage: peers-setup.sh xrdp|pptpd" >&2
	exit 64
	;;
esac

ME=peers-setup
# shellcheck source=scripts/apt-private.sh
. "$(dirname "$0")/apt-private.sh"

all_installed() {
	for p in "$PKG" $EXTRA; do
		installed "$p" || return 1
	done
}

if all_installed && [ -x "$BIN" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "peers-setup.sh: $PKG is not installed (run as root to install it)" >&2
	exit 1
fi

apt_private_begin

fresh=yes
installed "$PKG" && fresh=no

# shellcheck disable=SC2086  # EXTRA is a list
if ! apt_install "$PKG" $EXTRA; then
	apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed"
	# shellcheck disable=SC2086
	if ! apt_install "$PKG" $EXTRA; then
		dpkg --configure -a >>"$log" 2>&1 || true
		# shellcheck disable=SC2086
		apt_install "$PKG" $EXTRA || fail "apt-get install $PKG $EXTRA failed"
	fi
fi
all_installed || fail "$PKG $EXTRA is not fully installed"
[ -x "$BIN" ] || fail "$BIN missing after installing $PKG"

if [ "$fresh" = yes ]; then
	# Installed for private instances only: no system service at boot.
	if [ "$PKG" = xrdp ]; then disable_at_boot xrdp xrdp-sesman; else disable_at_boot "$PKG"; fi
fi
exit 0
