#!/usr/bin/env bash
# opsdeck bundled installer: chrony (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/chrony/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like

apt_install chrony

mkdir -p /etc/chrony/conf.d
{
    say "# Managed by opsdeck (installer chrony); rewritten on every run."
    for server in $SERVERS; do
        say "pool $server iburst"
    done
    if [ "$STEP_AT_START" = true ]; then
        say "makestep 1 3"
    fi
    for network in $ALLOW_CLIENTS; do
        say "allow $network"
    done
} | write_file /etc/chrony/conf.d/opsdeck.conf 0644
if ! grep -qE '^[[:space:]]*confdir[[:space:]]+/etc/chrony/conf.d' /etc/chrony/chrony.conf; then
    printf '\n# opsdeck\nconfdir /etc/chrony/conf.d\n' >>/etc/chrony/chrony.conf
    say "chrony.conf reads /etc/chrony/conf.d"
fi
if ! has_systemd; then
    # Without systemd this is most likely a container, where setting the clock is not
    # allowed: run chronyd without touching it (-x) unless it can.
    opts='-F 1'
    if ! grep -qs 'CapEff:.*' /proc/self/status || [ $(( 0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) >> 25 & 1 )) -ne 1 ]; then
        opts='-F 1 -x'
        say "this machine may not set the clock (no CAP_SYS_TIME): chronyd will not touch it"
    fi
    write_file /etc/default/chrony 0644 <<DEFAULTS
# Managed by opsdeck (installer chrony).
DAEMON_OPTS="$opts"
DEFAULTS
fi
service_up chrony
for _ in $(seq 1 20); do
    chronyc -n tracking >/dev/null 2>&1 && break
    sleep 1
done
chronyc -n tracking >/dev/null 2>&1 || fail 2 "chronyd does not answer after start"
say "chrony follows: $SERVERS"
