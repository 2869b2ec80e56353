#!/usr/bin/env bash
# opsdeck bundled installer: redis (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/redis/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
is_number "$PORT" || fail 1 "port must be a number"
is_number "$MAXMEMORY_MB" || fail 1 "maxmemory_mb must be a number"
case $PASSWORD in *[[:space:]]* | *'"'*) fail 1 "password must not contain spaces or quotes" ;; esac

apt_install redis-server

{
    say "# Managed by opsdeck (installer redis); rewritten on every run."
    say "bind $BIND"
    say "port $PORT"
    say "maxmemory ${MAXMEMORY_MB}mb"
    say "maxmemory-policy $MAXMEMORY_POLICY"
    if [ -n "$PASSWORD" ]; then
        say "requirepass \"$PASSWORD\""
    fi
} | write_file /etc/redis/opsdeck.conf 0640
chown redis:redis /etc/redis/opsdeck.conf
if ! grep -qxF 'include /etc/redis/opsdeck.conf' /etc/redis/redis.conf; then
    printf '\n# opsdeck\ninclude /etc/redis/opsdeck.conf\n' >>/etc/redis/redis.conf
    say "redis.conf includes /etc/redis/opsdeck.conf"
fi
service_up redis-server
for _ in $(seq 1 30); do
    REDISCLI_AUTH=$PASSWORD redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 1
done
REDISCLI_AUTH=$PASSWORD redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG || fail 2 "Redis does not answer on port $PORT after start"
say "Redis listens on $BIND port $PORT"
