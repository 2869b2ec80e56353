#!/usr/bin/env bash
# opsdeck bundled installer: mariadb (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/mariadb/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
is_number "$PORT" || fail 1 "port must be a number"
[ "${#ROOT_PASSWORD}" -ge 12 ] || fail 1 "root_password is too short"
if [ "$CREATE_DATABASE" = true ]; then
    case $DATABASE_NAME in '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) fail 1 "database_name must be letters, digits and _" ;; esac
    case $DATABASE_USER in '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) fail 1 "database_user must be letters, digits and _" ;; esac
fi

apt_install mariadb-server mariadb-client

write_file /etc/mysql/mariadb.conf.d/60-opsdeck.cnf 0644 <<CNF
# Managed by opsdeck (installer mariadb); rewritten on every run.
[mysqld]
bind-address = $BIND_ADDRESS
port = $PORT
CNF
service_up mariadb

# Wait for the server to answer on its socket (bounded).
for _ in $(seq 1 60); do
    mariadb-admin --protocol=socket ping >/dev/null 2>&1 && break
    sleep 1
done
mariadb-admin --protocol=socket ping >/dev/null 2>&1 || fail 2 "MariaDB does not answer after start"

# A value as an SQL string literal: backslashes and quotes escaped. Text goes to the server
# on stdin, so no password is ever in a command line.
sql_quote() { local v=${1//\\/\\\\}; v=${v//\'/\\\'}; printf "'%s'" "$v"; }

{
    say "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($(sql_quote "$ROOT_PASSWORD"));"
    if [ "$CREATE_DATABASE" = true ]; then
        say "CREATE DATABASE IF NOT EXISTS \`$DATABASE_NAME\`;"
        say "CREATE USER IF NOT EXISTS '$DATABASE_USER'@'%';"
        say "ALTER USER '$DATABASE_USER'@'%' IDENTIFIED BY $(sql_quote "$DATABASE_PASSWORD");"
        say "GRANT ALL PRIVILEGES ON \`$DATABASE_NAME\`.* TO '$DATABASE_USER'@'%';"
    fi
    say "FLUSH PRIVILEGES;"
} | mariadb --protocol=socket -u root || fail 2 "setting the passwords failed"
say "MariaDB listens on $BIND_ADDRESS:$PORT$([ "$CREATE_DATABASE" = true ] && printf '; database %s owned by %s' "$DATABASE_NAME" "$DATABASE_USER")"
