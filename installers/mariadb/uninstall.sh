#!/usr/bin/env bash
# opsdeck bundled installer: mariadb (uninstall). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/mariadb/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
service_down mariadb
rm -f /etc/mysql/mariadb.conf.d/60-opsdeck.cnf
if dpkg-query -W -f='${Status}' mariadb-server 2>/dev/null | grep -q 'install ok installed'; then
    apt_get remove mariadb-server
fi
say "MariaDB removed; its data in /var/lib/mysql is kept"
