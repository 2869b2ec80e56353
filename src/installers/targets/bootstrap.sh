# opsdeck's remote bootstrap for an installer run over ssh. Constant text: no input value is
# ever part of it. stdin carries "<n>\0", n records "NAME=value\0", "<len>\0", then <len>
# bytes of the script, and then stays open: EOF on stdin means "cancel".
set -u
umask 077
exec 3<&0 </dev/null
for v in $(compgen -e); do case $v in HOME | USER | LOGNAME) ;; *) unset "$v" 2>/dev/null ;; esac; done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
d=$(mktemp -d /tmp/opsdeck.XXXXXXXX) || exit 3
trap 'rm -rf -- "$d"' EXIT
IFS= read -r -d '' n <&3 || exit 3
case $n in '' | *[!0-9]*) exit 3 ;; esac
i=0
while [ "$i" -lt "$n" ]; do
    IFS= read -r -d '' kv <&3 || exit 3
    case ${kv%%=*} in '' | [!A-Z_]* | *[!A-Z0-9_]*) exit 3 ;; esac
    export -- "$kv"
    i=$((i + 1))
done
IFS= read -r -d '' len <&3 || exit 3
case $len in '' | *[!0-9]*) exit 3 ;; esac
head -c "$len" <&3 >"$d/install.sh" || exit 3
cd "$d" || exit 3
setsid bash "$d/install.sh" </dev/null 3<&- &
pid=$!
(
    IFS= read -r -n 1 _ <&3
    kill -TERM -- "-$pid"
    sleep 5
    kill -KILL -- "-$pid"
) >/dev/null 2>&1 &
w=$!
wait "$pid"
rc=$?
kill "$w" 2>/dev/null
exit "$rc"
