#!/bin/sh
# inn-setup.sh: install Debian's INN (package inn2) for the news interop
# tests and benchmarks.  Idempotent and silent on success; on failure it
# prints the reason (and the apt/dpkg output) on stderr and exits non-zero.
#
# Tests and benchmarks never use the system INN: they run private instances
# (tests/integration/innlib.py).  So this script keeps the package from
# starting a system innd on port 119: during the install a policy-rc.d that
# forbids every service start is in place (an existing policy-rc.d is saved
# and put back afterwards), and a first install done here disables inn2 at
# boot.
#
# Debian's inn2 postinst fails when the host name has no domain part
# (innconfval cannot work out the FQDN).  inn.conf comes in inn2-inews, so
# that is installed first and, on such a host, given `domain: localdomain`
# before inn2 is configured.
set -eu

INNCONF=/etc/news/inn.conf
ME=inn-setup
# shellcheck source=scripts/apt-private.sh
. "$(dirname "$0")/apt-private.sh"

if installed inn2 && installed inn2-inews && [ -x /usr/lib/news/bin/innd ] &&
	/usr/lib/news/bin/innconfval pathdb >/dev/null 2>&1; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "inn-setup.sh: inn2 is not installed (run as root to install it)" >&2
	exit 1
fi

apt_private_begin

fresh=yes
installed inn2 && fresh=no

if ! apt_install inn2-inews; then
	apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed"
	apt_install inn2-inews || fail "apt-get install inn2-inews failed"
fi
[ -f "$INNCONF" ] || fail "$INNCONF missing after installing inn2-inews"

# Give INN a domain when the host name has none.
fqdn=$(hostname -f 2>/dev/null || true)
case "$fqdn" in
*.*) ;;
*)
	if ! grep -Eq '^[[:space:]]*domain:[[:space:]]*[^[:space:]]' "$INNCONF"; then
		if grep -Eq '^#?[[:space:]]*domain:' "$INNCONF"; then
			sed -i -E '0,/^#?[[:space:]]*domain:.*/s//domain:                      localdomain/' "$INNCONF"
		else
			echo 'domain:                      localdomain' >>"$INNCONF"
		fi
	fi
	;;
esac

if ! apt_install inn2; then
	# An interrupted earlier attempt may have left inn2 unpacked but not
	# configured; finish that now that inn.conf has a domain.
	dpkg --configure -a >>"$log" 2>&1 || true
	apt_install inn2 || fail "apt-get install inn2 failed"
fi
installed inn2 || fail "inn2 is not fully installed"
/usr/lib/news/bin/innconfval pathdb >/dev/null 2>&1 ||
	fail "innconfval cannot read $INNCONF (see domain/pathhost)"

if [ "$fresh" = yes ]; then
	# We installed it for private instances only: no system innd at boot.
	disable_at_boot inn2
fi
exit 0
