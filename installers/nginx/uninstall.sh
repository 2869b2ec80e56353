#!/usr/bin/env bash
# opsdeck bundled installer: nginx (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/nginx/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down nginx
rm -f /etc/nginx/sites-enabled/opsdeck.conf /etc/nginx/sites-available/opsdeck.conf
if dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove nginx nginx-common
fi
say "nginx removed (its logs in /var/log/nginx are kept)"
