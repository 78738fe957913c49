#!/bin/sh
# run.sh: what `make run` does after building: a self-signed TLS pair for
# the default configuration (once), then holdfastd in the foreground with
# etc/holdfast.conf.  From another shell: build/release/holdfastctl status
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make run: holdfastd must start as root (it prepares /run/holdfast and drops each worker to its user)" >&2
	exit 1
fi
mkdir -p var
chmod 0755 var
scripts/gen-cert.sh var/tls
# The term service checks logins with PAM service "holdfast".
install -m 0644 etc/pam.d/holdfast /etc/pam.d/holdfast
echo "holdfastd: starting in the foreground; stop with Ctrl-C or: build/release/holdfastctl stop" >&2
exec build/release/holdfastd -f -c etc/holdfast.conf
