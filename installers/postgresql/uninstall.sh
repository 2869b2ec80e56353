#!/usr/bin/env bash
# opsdeck bundled installer: postgresql (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/postgresql/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down postgresql
if dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove postgresql
fi
say "PostgreSQL removed; its data in /var/lib/postgresql is kept"
