# apt-private.sh: sourced by inn-setup.sh and peers-setup.sh, which install
# third-party servers that tests and benchmarks run as private instances
# only.  Set ME (the calling script's name) before sourcing.  Gives:
#   installed PKG          is PKG fully installed?
#   apt_private_begin      a log file, fail(), and a policy-rc.d that forbids
#                          every service start until the script exits (an
#                          existing policy-rc.d is saved and put back)
#   apt_install PKG...     quiet, no recommends, keeps existing conffiles
#   disable_at_boot SVC... for packages installed here: no system service
# shellcheck shell=sh

POLICY=/usr/sbin/policy-rc.d
SAVED=/usr/sbin/policy-rc.d.$ME-saved
export DEBIAN_FRONTEND=noninteractive

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

fail() {
	echo "$ME: $*" >&2
	[ -n "${log:-}" ] && tail -40 "$log" >&2
	exit 1
}

# shellcheck disable=SC2317  # called from the EXIT trap
restore_policy() {
	rm -f "$POLICY"
	if [ -e "$SAVED" ]; then mv -f "$SAVED" "$POLICY"; fi
	rm -f "$log"
}

apt_private_begin() {
	log=$(mktemp "/tmp/$ME.XXXXXX")
	if [ -e "$SAVED" ]; then
		# A previous run was interrupted: $POLICY is ours, $SAVED the original.
		:
	elif [ -e "$POLICY" ]; then
		mv -f "$POLICY" "$SAVED"
	fi
	trap restore_policy EXIT
	trap 'exit 1' INT TERM HUP
	printf '#!/bin/sh\n# %s: no service starts while installing\nexit 101\n' "$ME" >"$POLICY"
	chmod 755 "$POLICY"
}

apt_install() {
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >>"$log" 2>&1
}

disable_at_boot() {
	for svc in "$@"; do
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
		if command -v deb-systemd-helper >/dev/null 2>&1; then
			deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
		fi
	done
}
