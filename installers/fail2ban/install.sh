#!/usr/bin/env bash
# opsdeck bundled installer: fail2ban (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/fail2ban/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
for n in "$BANTIME" "$FINDTIME" "$MAXRETRY"; do is_number "$n" || fail 1 "bantime, findtime and maxretry must be numbers"; done

apt_install fail2ban

{
    say "# Managed by opsdeck (installer fail2ban); rewritten on every run."
    say "[DEFAULT]"
    say "bantime = $BANTIME"
    say "findtime = $FINDTIME"
    say "maxretry = $MAXRETRY"
    say "ignoreip = $IGNOREIP"
    say ""
    say "[sshd]"
    say "enabled = $ENABLE_SSHD"
    if ! has_systemd; then
        # No journal: read the log file syslog writes.
        say "backend = auto"
        say "logpath = /var/log/auth.log"
    fi
} | write_file /etc/fail2ban/jail.d/opsdeck.local 0644
if ! has_systemd && [ ! -e /var/log/auth.log ]; then
    touch /var/log/auth.log
    say "created an empty /var/log/auth.log for the sshd jail"
fi
fail2ban-client -t >/dev/null 2>&1 || { fail2ban-client -t || true; fail 3 "fail2ban rejects the configuration (see above)"; }
service_up fail2ban
for _ in $(seq 1 20); do
    fail2ban-client ping >/dev/null 2>&1 && break
    sleep 1
done
fail2ban-client ping >/dev/null 2>&1 || fail 2 "fail2ban does not answer after start"
say "fail2ban is running: $(fail2ban-client status | sed -n 's/.*Jail list:[[:space:]]*//p')"
