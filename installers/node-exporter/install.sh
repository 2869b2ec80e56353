#!/usr/bin/env bash
# opsdeck bundled installer: node-exporter (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/node-exporter/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
is_number "$PORT" || fail 1 "port must be a number"

apt_install prometheus-node-exporter

args="--web.listen-address=$LISTEN_ADDRESS:$PORT"
if [ -n "$DISABLE_COLLECTORS" ]; then
    IFS=, read -r -a collectors <<<"$DISABLE_COLLECTORS"
    for collector in "${collectors[@]}"; do
        args="$args --no-collector.$collector"
    done
fi
write_file /etc/default/prometheus-node-exporter 0644 <<DEFAULTS
# Managed by opsdeck (installer node-exporter); rewritten on every run.
ARGS="$args"
DEFAULTS
service_up prometheus-node-exporter
for _ in $(seq 1 20); do
    pidof prometheus-node-exporter >/dev/null 2>&1 && break
    sleep 1
done
pidof prometheus-node-exporter >/dev/null 2>&1 || fail 2 "prometheus-node-exporter is not running after start"
say "node exporter serves metrics on ${LISTEN_ADDRESS:-*}:$PORT/metrics"
