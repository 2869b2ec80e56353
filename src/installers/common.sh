# --- opsdeck common: the helpers every bundled installer starts with. The catalog puts this
# block where a script has the line `# --- opsdeck common ---` (src/installers/catalog.rs), so
# the script that is hashed, confirmed and run is whole and stands alone on the target.
# Inputs arrive as environment variables; stdin is not a terminal. Exit codes: 0 done,
# 1 an input is invalid, 2 the installation failed, 3 the machine is not as required.
export DEBIAN_FRONTEND=noninteractive
umask 022

say() { printf '%s\n' "$*"; }
fail() { local code=$1; shift; printf 'error: %s\n' "$*" >&2; exit "$code"; }

need_root() {
    [ "$(id -u)" -eq 0 ] || fail 3 "this installer must run as root (log in as root, e.g. ssh User root)"
}

# Debian or Ubuntu, by /etc/os-release.
need_debian_like() {
    [ -r /etc/os-release ] || fail 3 "no /etc/os-release: this installer supports Debian and Ubuntu"
    local id like
    id=$(. /etc/os-release && printf '%s' "${ID:-}")
    like=$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")
    case " $id $like " in
        *" debian "* | *" ubuntu "*) ;;
        *) fail 3 "this installer supports Debian and Ubuntu, not ${id:-an unknown OS}" ;;
    esac
    command -v apt-get >/dev/null 2>&1 || fail 3 "apt-get not found"
}

is_number() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# apt-get that waits for the dpkg and lists locks another process holds (up to
# APT_WAIT_SECONDS, default 300), then fails clearly. `apt-get update` ignores
# DPkg::Lock::Timeout, hence the loop.
apt_get() {
    local wait=${APT_WAIT_SECONDS:-300} deadline out rc
    is_number "$wait" || fail 1 "apt_wait_seconds must be a whole number"
    deadline=$(($(date +%s) + wait))
    while :; do
        rc=0
        out=$(apt-get -o DPkg::Lock::Timeout=10 -o Dpkg::Options::=--force-confdef \
            -o Dpkg::Options::=--force-confold -y -q "$@" 2>&1) || rc=$?
        if [ "$rc" -eq 0 ]; then
            [ -z "$out" ] || printf '%s\n' "$out"
            return 0
        fi
        case $out in
            *"Could not get lock"* | *"Unable to acquire the dpkg frontend lock"* | *"Unable to lock directory"* | *"is another process using it"*)
                if [ "$(date +%s)" -ge "$deadline" ]; then
                    printf '%s\n' "$out" >&2
                    fail 2 "apt is locked by another process (an upgrade running?); gave up after ${wait}s"
                fi
                say "apt is locked by another process; waiting"
                sleep 5
                ;;
            *)
                printf '%s\n' "$out" >&2
                fail 2 "apt-get $* failed (exit $rc)"
                ;;
        esac
    done
}

# Install packages (no recommends); refresh the package lists first if they are older
# than a day or missing.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        say "already installed: $*"
        return 0
    fi
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
        say "refreshing the package lists"
        apt_get update
    fi
    say "installing: ${missing[*]}"
    apt_get install --no-install-recommends "${missing[@]}"
}

has_systemd() { [ -d /run/systemd/system ]; }

# Start a service now and at boot, or restart it when it runs already. Without systemd
# (a container), through its init script.
service_up() {
    local name=$1
    if has_systemd; then
        systemctl enable "$name" >/dev/null 2>&1 || true
        systemctl restart "$name" || fail 2 "systemctl restart $name failed; see journalctl -u $name"
    elif [ -x "/etc/init.d/$name" ]; then
        say "no systemd: using /etc/init.d/$name"
        if "/etc/init.d/$name" status >/dev/null 2>&1; then
            "/etc/init.d/$name" restart || fail 2 "/etc/init.d/$name restart failed"
        else
            "/etc/init.d/$name" start || fail 2 "/etc/init.d/$name start failed"
        fi
    else
        fail 3 "no systemd and no /etc/init.d/$name: cannot start $name"
    fi
}

service_down() {
    local name=$1
    if has_systemd; then
        systemctl disable --now "$name" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$name" ]; then
        "/etc/init.d/$name" stop >/dev/null 2>&1 || true
    fi
}

# Replace a file (from stdin) only when its content differs; WROTE says whether it did.
WROTE=no
write_file() {
    local path=$1 mode=$2 tmp
    tmp=$(mktemp "${path}.opsdeck.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        WROTE=no
        say "unchanged: $path"
    else
        mv -f "$tmp" "$path"
        WROTE=yes
        say "wrote $path"
    fi
}
# --- end opsdeck common ---
