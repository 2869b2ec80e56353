#!/usr/bin/env bash
# opsdeck bundled installer: node-exporter (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/node-exporter/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down prometheus-node-exporter
if dpkg-query -W -f='${Status}' prometheus-node-exporter 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove prometheus-node-exporter
fi
say "node exporter removed"
