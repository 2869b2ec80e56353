#!/usr/bin/env bash
# opsdeck bundled installer: postgresql (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/postgresql/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
is_number "$PORT" || fail 1 "port must be a number"

apt_install postgresql

version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
[ -n "$version" ] && [ -d "/etc/postgresql/$version/main" ] || fail 2 "no PostgreSQL cluster found in /etc/postgresql"
conf=/etc/postgresql/$version/main
mkdir -p "$conf/conf.d"
write_file "$conf/conf.d/60-opsdeck.conf" 0644 <<CONF
# Managed by opsdeck (installer postgresql); rewritten on every run.
listen_addresses = '$LISTEN_ADDRESSES'
port = $PORT
CONF
changed=$WROTE
if [ "$CREATE_DATABASE" = true ]; then
    line="host    $DATABASE_NAME    $DATABASE_OWNER    $CLIENT_NETWORK    scram-sha-256    # opsdeck"
    if ! grep -qxF "$line" "$conf/pg_hba.conf"; then
        printf '%s\n' "$line" >>"$conf/pg_hba.conf"
        say "allowed $DATABASE_OWNER from $CLIENT_NETWORK in pg_hba.conf"
        changed=yes
    fi
fi
if [ "$changed" = yes ]; then
    service_up postgresql
else
    has_systemd && systemctl start postgresql || service postgresql start || true
fi

for _ in $(seq 1 60); do
    su postgres -s /bin/sh -c "pg_isready -q -p $PORT" && break
    sleep 1
done
su postgres -s /bin/sh -c "pg_isready -q -p $PORT" || fail 2 "PostgreSQL does not answer on port $PORT after start"

# A value as an SQL string literal (quotes doubled); sent on stdin, never in a command line.
sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }
{
    say "SET password_encryption = 'scram-sha-256';"
    if [ -n "$POSTGRES_PASSWORD" ]; then
        say "ALTER ROLE postgres PASSWORD $(sql_quote "$POSTGRES_PASSWORD");"
    fi
    if [ "$CREATE_DATABASE" = true ]; then
        say "SELECT 'CREATE ROLE $DATABASE_OWNER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DATABASE_OWNER')\\gexec"
        say "ALTER ROLE $DATABASE_OWNER LOGIN PASSWORD $(sql_quote "$OWNER_PASSWORD");"
        say "SELECT 'CREATE DATABASE $DATABASE_NAME OWNER $DATABASE_OWNER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE_NAME')\\gexec"
    fi
} | su postgres -s /bin/sh -c "psql -q -v ON_ERROR_STOP=1 -p $PORT" || fail 2 "setting roles and databases failed"
say "PostgreSQL $version listens on $LISTEN_ADDRESSES port $PORT"
