#!/usr/bin/env bash
# opsdeck bundled installer: fail2ban (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/fail2ban/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down fail2ban
rm -f /etc/fail2ban/jail.d/opsdeck.local
if dpkg-query -W -f='${Status}' fail2ban 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove fail2ban
fi
say "fail2ban removed"
