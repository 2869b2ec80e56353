#!/usr/bin/env bash
# opsdeck bundled installer: docker (install). Non-interactive and idempotent; runs as root on
# Debian or Ubuntu, with or without systemd. See installers/docker/manifest.yml for the inputs.
set -euo pipefail

# --- opsdeck common ---

need_root
need_debian_like
case $LOG_DRIVER in json-file | local | journald | syslog | none) ;; *) fail 1 "log_driver $LOG_DRIVER is not supported" ;; esac

apt_install docker.io

mkdir -p /etc/docker
{
    say "{"
    if [ -n "$REGISTRY_MIRRORS" ]; then
        printf '  "registry-mirrors": ['
        sep=""
        IFS=, read -r -a mirrors <<<"$REGISTRY_MIRRORS"
        for mirror in "${mirrors[@]}"; do
            case $mirror in http://* | https://*) ;; *) fail 1 "registry mirror $mirror is not an http(s) URL" ;; esac
            case $mirror in *'"'* | *'\'* | *' '*) fail 1 "registry mirror $mirror has characters a URL cannot have" ;; esac
            printf '%s"%s"' "$sep" "$mirror"
            sep=", "
        done
        say "],"
    fi
    if [ "$LOG_DRIVER" = json-file ]; then
        is_number "$LOG_MAX_FILES" || fail 1 "log_max_files must be a number"
        printf '  "log-driver": "json-file",\n  "log-opts": {"max-size": "%s", "max-file": "%s"}\n' "$LOG_MAX_SIZE" "$LOG_MAX_FILES"
    else
        printf '  "log-driver": "%s"\n' "$LOG_DRIVER"
    fi
    say "}"
} | write_file /etc/docker/daemon.json 0644

if [ "$WROTE" = yes ] || ! docker info >/dev/null 2>&1; then
    service_up docker
fi
for _ in $(seq 1 30); do
    docker info >/dev/null 2>&1 && break
    sleep 1
done
docker info >/dev/null 2>&1 || fail 2 "dockerd does not answer after start (see its log)"
say "Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?') is running, log driver $LOG_DRIVER"
