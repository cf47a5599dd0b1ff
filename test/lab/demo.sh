#!/usr/bin/env bash
# "npm run lab": the lab with a little demo traffic. Brings the lab up, validates conf/, and
# shows real curl clients downloading through each SOCKS server, with the bytes' sha256 and
# the server that carried them as the web server saw it. The lab is torn down at the end
# unless --keep is given (then "bash test/lab/lab.sh down" removes it).
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
keep=
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $a" >&2; exit 2 ;;
  esac
done
LAB=test/lab/lab.sh
[ -n "$keep" ] || trap 'bash $LAB down' EXIT
trap 'exit 130' INT TERM

bash $LAB up
eval "$(bash $LAB env | sed 's/^/export /')"
node dist/appliance/cli/index.js check --config conf
echo

egress_of() {
  local ip=$1 s
  for s in ${LAB_SERVERS//,/ }; do
    local v="LAB_SERVER_${s^^}_EGRESS"
    [ "${!v}" = "$ip" ] && { echo "$s"; return; }
  done
  echo "?"
}

echo "Direct to each SOCKS server (expected sha256 $LAB_BIG_SHA256):"
for s in ${LAB_SERVERS//,/ }; do
  S=${s^^}; socks_var="LAB_SERVER_${S}_SOCKS"; kind_var="LAB_SERVER_${S}_KIND"
  flags=(--socks5-hostname)
  [ "${!kind_var}" = dante ] && flags=(--socks4 --socks5-hostname)
  for f in "${flags[@]}"; do
    start=$(date +%s%N)
    sha=$(ip netns exec "$LAB_NS_CLIENT" curl -sS --max-time 60 "$f" "${!socks_var}" "$LAB_BIG_URL" | sha256sum | cut -d' ' -f1)
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    carried=$(egress_of "$(tail -n1 "$LAB_NGINX_LOG" | cut -d' ' -f1)")
    ok=FAIL; [ "$sha" = "$LAB_BIG_SHA256" ] && ok=ok
    printf '  %-4s %-18s via %-22s sha256 %s  web server saw: %s  (%d ms)\n' "$ok" "$f" "${!socks_var}" "${sha:0:16}…" "$carried" "$ms"
  done
done
