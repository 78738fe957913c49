#!/bin/sh
# deps.sh: install the Debian 12 packages holdfast needs to build, run and
# test.  Idempotent: packages already present are not touched, and apt-get
# update runs only when something is missing.
#   scripts/deps.sh run     what `make run` needs
#   scripts/deps.sh check   what `make check` needs (a superset)
set -eu

# term needs libvterm, PAM and unifont's glyphs; tunnel needs iproute2.
run_pkgs="gcc make pkg-config libssl-dev libsqlite3-dev zlib1g-dev openssl util-linux procps
 libvterm-dev libpam0g-dev unifont iproute2"
# Tests drive real clients: xfreerdp and rdesktop under Xvfb (xdotool types,
# imagemagick's import takes the screenshot, tesseract reads it; its Japanese
# data reads the wide glyphs of the term screen), pptp-linux,
# scapy and tshark for the tunnel (ping through the tunnel: iputils-ping).
# gdb and libc6-dbg: test_term_leak reads the worker's malloc counters
# (mallinfo2) through gdb.
check_pkgs="$run_pkgs clang libclang-rt-14-dev libcmocka-dev python3 python3-pytest sqlite3
 xvfb freerdp2-x11 rdesktop xdotool imagemagick tesseract-ocr tesseract-ocr-eng tesseract-ocr-jpn
 pptp-linux python3-scapy tshark iputils-ping gdb libc6-dbg"

case "${1:-check}" in
run) want=$run_pkgs ;;
check) want=$check_pkgs ;;
*) echo "usage: $0 run|check" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
