#!/usr/bin/env bash
# opsdeck bundled installer: redis (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/redis/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down redis-server
if dpkg-query -W -f='${Status}' redis-server 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove redis-server
fi
rm -f /etc/redis/opsdeck.conf
say "Redis removed; its data in /var/lib/redis is kept"
