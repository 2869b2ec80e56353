#!/usr/bin/env bash
# opsdeck bundled installer: chrony (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/chrony/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down chrony
rm -f /etc/chrony/conf.d/opsdeck.conf
if dpkg-query -W -f='${Status}' chrony 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove chrony
fi
say "chrony removed"
