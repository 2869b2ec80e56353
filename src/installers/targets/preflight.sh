# opsdeck's preflight: what the machine is, as key=value lines. Changes nothing.
export LC_ALL=C
osr=/etc/os-release
[ -r "$osr" ] || osr=/usr/lib/os-release
field() { sed -n "s/^$1=//p" "$osr" 2>/dev/null | head -n 1 | tr -d '"'"'"; }
echo "os_id=$(field ID)"
echo "os_like=$(field ID_LIKE)"
echo "os_version=$(field VERSION_ID)"
echo "ram_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null)"
echo "disk_mb=$(df -Pm / 2>/dev/null | awk 'NR == 2 {print $4}')"
echo "cpu_cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
if command -v aws >/dev/null 2>&1; then echo aws_cli=yes; else echo aws_cli=no; fi
