#!/usr/bin/env bash
# opsdeck bundled installer: docker (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/docker/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down docker
if dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove docker.io
fi
rm -f /etc/docker/daemon.json
say "docker.io removed; images and volumes in /var/lib/docker are kept"
