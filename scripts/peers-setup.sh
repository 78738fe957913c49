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
xrdp) PKG=xrdp BIN=/usr/sbin/xrdp ;;
pptpd) PKG=pptpd BIN=/usr/sbin/pptpd ;;
*)
	echo "usage: peers-setup.sh xrdp|pptpd" >&2
	exit 64
	;;
esac

POLICY=/usr/sbin/policy-rc.d
SAVED=/usr/sbin/policy-rc.d.peers-setup-saved

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if installed "$PKG" && [ -x "$BIN" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "peers-setup.sh: $PKG is not installed (run as root to install it)" >&2
	exit 1
fi

log=$(mktemp /tmp/peers-setup.XXXXXX)
fail() {
	echo "peers-setup.sh: $*" >&2
	tail -40 "$log" >&2
	exit 1
}

# Forbid service starts for the duration of the install.
# shellcheck disable=SC2317  # called from the EXIT trap
restore_policy() {
	rm -f "$POLICY"
	if [ -e "$SAVED" ]; then mv -f "$SAVED" "$POLICY"; fi
	rm -f "$log"
}
if [ -e "$SAVED" ]; then
	# A previous run was interrupted: $POLICY is ours, $SAVED the original.
	:
elif [ -e "$POLICY" ]; then
	mv -f "$POLICY" "$SAVED"
fi
trap restore_policy EXIT
trap 'exit 1' INT TERM HUP
printf '#!/bin/sh\n# peers-setup.sh: no service starts while installing %s\nexit 101\n' "$PKG" >"$POLICY"
chmod 755 "$POLICY"

export DEBIAN_FRONTEND=noninteractive
apt_install() {
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >>"$log" 2>&1
}

fresh=yes
installed "$PKG" && fresh=no

if ! apt_install "$PKG"; then
	apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed"
	if ! apt_install "$PKG"; then
		dpkg --configure -a >>"$log" 2>&1 || true
		apt_install "$PKG" || fail "apt-get install $PKG failed"
	fi
fi
installed "$PKG" || fail "$PKG is not fully installed"
[ -x "$BIN" ] || fail "$BIN missing after installing $PKG"

if [ "$fresh" = yes ]; then
	# Installed for private instances only: no system service at boot.
	for svc in $PKG ${PKG}-sesman; do
		[ "$svc" = pptpd-sesman ] && continue
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
		if command -v deb-systemd-helper >/dev/null 2>&1; then
			deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
		fi
	done
fi
exit 0
