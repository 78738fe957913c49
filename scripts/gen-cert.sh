#!/bin/sh
# gen-cert.sh DIR: a self-signed certificate for localhost, for development
# and tests (never for production: nothing verifies it).
#
# Creates DIR (mode 0700) if needed and, when DIR/cert.pem or DIR/key.pem
# is missing, writes a new pair: key.pem (0600) and cert.pem (0644).
# Idempotent: when both files exist it does nothing, so a configured pair
# is never overwritten.
#
# The pair is generated beside its destination and moved into place with
# cert.pem last: cert.pem is the marker of a complete pair, so an
# interrupted run leaves no mismatched pair behind that a later run would
# take as done.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1

if [ ! -d "$dir" ]; then
	# -m applies to DIR only; parents get the usual umask, on purpose.
	# shellcheck disable=SC2174
	mkdir -p -m 0700 -- "$dir"
fi
# An existing DIR keeps its mode: chmod on an arbitrary path (say /tmp)
# would do more harm than a readable directory holding a 0600 key.

if [ -f "$dir/cert.pem" ] && [ -f "$dir/key.pem" ]; then
	exit 0
fi

if ! command -v openssl >/dev/null 2>&1; then
	echo "$0: the openssl command is not installed" >&2
	exit 1
fi

tmpkey="$dir/.key.pem.$$"
tmpcert="$dir/.cert.pem.$$"
tmplog="$dir/.gen-cert.log.$$"
trap 'rm -f -- "$tmpkey" "$tmpcert" "$tmplog"' EXIT
trap 'exit 1' HUP INT TERM

# umask 077: the key is private from the moment the file exists, not only
# after the chmod below.
umask 077
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
	-subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	-keyout "$tmpkey" -out "$tmpcert" >"$tmplog" 2>&1; then
	cat "$tmplog" >&2
	echo "$0: openssl req failed" >&2
	exit 1
fi
chmod 0600 "$tmpkey"
chmod 0644 "$tmpcert"

rm -f -- "$dir/cert.pem"
mv -f -- "$tmpkey" "$dir/key.pem"
mv -f -- "$tmpcert" "$dir/cert.pem"
