#!/usr/bin/env bash
# opsdeck bundled installer: nginx (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/nginx/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
is_number "$HTTP_PORT" || fail 1 "http_port must be a number"
case $WORKER_PROCESSES in auto | [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;; *) fail 1 "worker_processes must be auto or a number" ;; esac
if [ "$ENABLE_TLS" = true ]; then
    is_number "$HTTPS_PORT" || fail 1 "https_port must be a number"
    [ "$HTTPS_PORT" != "$HTTP_PORT" ] || fail 1 "https_port and http_port must differ"
    [ -r "$TLS_CERTIFICATE" ] || fail 3 "certificate file $TLS_CERTIFICATE does not exist or cannot be read"
    [ -r "$TLS_CERTIFICATE_KEY" ] || fail 3 "key file $TLS_CERTIFICATE_KEY does not exist or cannot be read"
fi

apt_install nginx

# IPv6 listeners only where the kernel has IPv6.
listen() {
    local port=$1 extra=${2:-}
    printf '    listen %s%s default_server;\n' "$port" "$extra"
    if [ -e /proc/net/if_inet6 ]; then
        printf '    listen [::]:%s%s default_server;\n' "$port" "$extra"
    fi
}

{
    say "# Managed by opsdeck (installer nginx); rewritten on every run."
    say "server {"
    listen "$HTTP_PORT"
    if [ "$ENABLE_TLS" = true ]; then
        listen "$HTTPS_PORT" " ssl"
        say "    ssl_certificate $TLS_CERTIFICATE;"
        say "    ssl_certificate_key $TLS_CERTIFICATE_KEY;"
        say "    ssl_protocols TLSv1.2 TLSv1.3;"
    fi
    say "    server_name $SERVER_NAME;"
    say "    root /var/www/html;"
    say "    index index.html index.htm index.nginx-debian.html;"
    say "    location / {"
    say "        try_files \$uri \$uri/ =404;"
    say "    }"
    say "}"
} | write_file /etc/nginx/sites-available/opsdeck.conf 0644

ln -sfn ../sites-available/opsdeck.conf /etc/nginx/sites-enabled/opsdeck.conf
if [ -e /etc/nginx/sites-enabled/default ]; then
    rm -f /etc/nginx/sites-enabled/default
    say "disabled the packaged default site"
fi
sed -i -E "s/^([[:space:]]*)worker_processes[[:space:]]+[^;]*;/\1worker_processes $WORKER_PROCESSES;/" /etc/nginx/nginx.conf

nginx -t 2>&1 || fail 3 "nginx rejects the configuration (see above)"
service_up nginx
pidof nginx >/dev/null 2>&1 || fail 2 "nginx is not running after start"
say "nginx serves /var/www/html on port $HTTP_PORT$([ "$ENABLE_TLS" = true ] && printf ' and %s (TLS)' "$HTTPS_PORT")"
