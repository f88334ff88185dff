#!/usr/bin/env bash
# Copyright The otelcol-exemplar Authors
# SPDX-License-Identifier: Apache-2.0
#
# Makes sure /usr/bin/prometheus (Debian's `prometheus` package, 2.42 on
# bookworm) is installed for the end-to-end tests and `make demo`.
#
# - Idempotent: does nothing when the binary is already there.
# - Never leaves the package's system service running: the tests and the demo
#   start their own Prometheus on free loopback ports with their own storage.
#   Service starts are blocked during the install (policy-rc.d answers 101,
#   "action forbidden", to invoke-rc.d; the same for deb-systemd-invoke), and
#   the service is stopped and disabled afterwards in case anything started it.
# - Fails with a clear message when it cannot install (not root, no apt-get).
set -euo pipefail

PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}

if [ -x "$PROMETHEUS_BIN" ]; then
	echo "ensure-prometheus: $("$PROMETHEUS_BIN" --version 2>&1 | head -n1)"
	exit 0
fi

fail() {
	echo "ensure-prometheus: $*" >&2
	echo "ensure-prometheus: install Debian's 'prometheus' package (apt-get install prometheus) or set PROMETHEUS_BIN" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "$PROMETHEUS_BIN is missing and this is not root, so it cannot be installed"
command -v apt-get >/dev/null 2>&1 || fail "$PROMETHEUS_BIN is missing and apt-get is not available"

export DEBIAN_FRONTEND=noninteractive

# Block service starts during the install; restore whatever was there before.
policy=/usr/sbin/policy-rc.d
policy_backup=""
if [ -e "$policy" ]; then
	policy_backup=$(mktemp)
	cp -p "$policy" "$policy_backup"
fi
restore_policy() {
	if [ -n "$policy_backup" ]; then
		cp -p "$policy_backup" "$policy"
		rm -f "$policy_backup"
	else
		rm -f "$policy"
	fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# written by ensure-prometheus.sh for the duration of the install\nexit 101\n' >"$policy"
chmod 0755 "$policy"

install() {
	apt-get install -y -q --no-install-recommends prometheus
}
echo "ensure-prometheus: installing Debian package prometheus"
if ! install; then
	# A machine whose package lists were never fetched (or are stale)
	# does not know the package yet.
	apt-get update -q || fail "apt-get update failed"
	install || fail "apt-get install prometheus failed"
fi

# Belt and braces: if a service manager started it anyway, stop it and keep
# it from starting at boot, so nothing listens on :9090.
if command -v systemctl >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	else
		# Without a running systemd, disable only removes the boot symlink.
		systemctl disable prometheus.service >/dev/null 2>&1 || true
	fi
fi
if [ -x /etc/init.d/prometheus ]; then
	/etc/init.d/prometheus stop >/dev/null 2>&1 || true
	update-rc.d prometheus disable >/dev/null 2>&1 || true
fi

[ -x "$PROMETHEUS_BIN" ] || fail "package installed but $PROMETHEUS_BIN is still missing"
echo "ensure-prometheus: installed $("$PROMETHEUS_BIN" --version 2>&1 | head -n1)"
