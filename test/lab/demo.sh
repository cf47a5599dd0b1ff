#!/usr/bin/env bash
# "npm run lab": the appliance in the lab, with a little demo traffic. Brings the lab up,
# validates conf/ plus the lab's authenticating server (se), runs the appliance in the
# appliance namespace with that, then sends real curl downloads through the VIP in each SOCKS
# dialect (SOCKS4a too, translated for Dante) and a connection to each ALP service,
# showing the sha256 of what arrived and which SOCKS server carried it (as the far side saw
# it), and the appliance's own tables. Everything is stopped and removed at the end unless
# --keep is given (then "bash test/lab/lab.sh down" removes it all). Exits 1 when any check
# line says FAIL.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
keep=
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $a" >&2; exit 2 ;;
  esac
done
LAB=test/lab/lab.sh
# This clone's CLI, whatever /usr/local/bin/socksalp points at; the hints show the command.
SOCKSALP="node dist/appliance/cli/index.js"
app_pid=
failed=0
cleanup() {
  [ -n "$keep" ] && return
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  bash $LAB down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash $LAB up
# The lab's facts are data (KEY=VALUE lines, values may hold anything): read, never evaluated.
facts=$(bash $LAB env)
while IFS= read -r line; do
  key=${line%%=*}
  if [[ ! $key =~ ^LAB_[A-Z0-9_]+$ ]] || [ "$key" = "$line" ]; then
    echo "demo: lab.sh env printed a line that is not LAB_KEY=VALUE: $line" >&2
    exit 1
  fi
  printf -v "$key" '%s' "${line#*=}"
done <<<"$facts"
# The demo's configuration: conf/ plus the lab's authenticating Dante (se), which the appliance
# logs in to with its own username and password and which carries the ALP "http-auth" (port
# 8080); conf/ itself names no lab-only file, so that it stays valid anywhere.
CONF=$LAB_RUN/demo-conf
mkdir -p "$CONF"
cp conf/appliance.ini conf/alp.ini conf/servers.ini "$CONF/"
sed -i 's/^ports = 80, 8080$/ports = 80/' "$CONF/alp.ini"
printf '\n[http-auth]\nports = 8080\npriority = 7\ndiscard_eligible = no\n' >>"$CONF/alp.ini"
printf '\n[se]\naddress = %s\nport = 1080\ntap = alp-se\nlocal = 198.19.5.1/24\ncapacity = 15\nalps = http-auth\nusername = %s\npassword_file = %s\n' \
  "${LAB_SERVER_SE_SOCKS%%:*}" "$LAB_SE_USER" "$LAB_SE_PASSWORD_FILE" >>"$CONF/servers.ini"
# Dual stack: the IPv6 VIP beside the IPv4 one, and sf, the SOCKS server on the IPv6-only
# segment, carrying SSL (port 443) for clients of either family.
sed -i "s/^vip = .*/vip = $LAB_VIP, $LAB_VIP6/" "$CONF/appliance.ini"
sed -i 's/^alps = http, ssl$/alps = http/' "$CONF/servers.ini"
printf '\n[sf]\naddress = %s\nport = 1080\ntap = %s\nlocal = %s\ncapacity = 20\nalps = ssl\n' \
  "$LAB_SERVER_SF_ADDRESS6" "$LAB_SERVER_SF_TAP" "$LAB_SERVER_SF_LOCAL6" >>"$CONF/servers.ini"
# The network monitor's channel, on the appliance's intranet address, with a fresh key.
MONITOR=198.18.0.1:2130
(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CONF/monitor.key")
printf '\n[monitor]\nlisten = %s\nkey_file = monitor.key\n' "$MONITOR" >>"$CONF/appliance.ini"
$SOCKSALP check --config "$CONF"
echo

# Its own descriptors, so that with --keep nothing holds the caller's pipe open (| tee, a test).
ip netns exec "$LAB_NS_APP" $SOCKSALP run --config "$CONF" </dev/null >/dev/null 2>"$LAB_RUN/appliance.log" &
app_pid=$!
for _ in $(seq 1 50); do
  list=$($SOCKSALP ctl --config "$CONF" list 2>/dev/null) && ! grep -q unresolved <<<"$list" && break
  sleep 0.2
done

egress_of() {
  local ip=$1 s v
  for s in ${LAB_SERVERS//,/ }; do
    for v in "LAB_SERVER_${s^^}_EGRESS" "LAB_SERVER_${s^^}_EGRESS6"; do
      [ "${!v:-}" = "$ip" ] && { echo "$s"; return; }
    done
  done
  echo "?"
}

VIP=$LAB_VIP:1080
echo "Through the appliance at $VIP (expected sha256 ${LAB_BIG_SHA256:0:16}…):"
for f in --socks4 --socks4a --socks5 --socks5-hostname; do
  url=$LAB_BIG_URL
  [ "$f" = --socks4 ] || [ "$f" = --socks5 ] && url=http://$LAB_WEB_ADDR/big.bin
  start=$(date +%s%N)
  sha=$(ip netns exec "$LAB_NS_CLIENT" curl -sS --max-time 60 "$f" "$VIP" "$url" | sha256sum | cut -d' ' -f1)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  ok=FAIL; [ "$sha" = "$LAB_BIG_SHA256" ] && ok=ok
  [ $ok = ok ] || failed=$((failed + 1))
  printf '  %-4s curl %-18s http  sha256 %s  carried by %-3s (%d ms)\n' "$ok" "$f" "${sha:0:16}…" \
    "$(egress_of "$(tail -n1 "$LAB_NGINX_LOG" | cut -d' ' -f1)")" "$ms"
done
# SOCKS4a to port 8080: ALP http-auth, so se, which speaks only SOCKS5 with a username and
# password: the appliance translates the request and logs in with its own credentials.
start=$(date +%s%N)
sha=$(ip netns exec "$LAB_NS_CLIENT" curl -sS --max-time 60 --socks4a "$VIP" "http://$LAB_WEB_HOST:8080/big.bin" | sha256sum | cut -d' ' -f1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok=FAIL; [ "$sha" = "$LAB_BIG_SHA256" ] && ok=ok
[ $ok = ok ] || failed=$((failed + 1))
printf '  %-4s curl %-18s :8080 sha256 %s  carried by %-3s (%d ms; SOCKS4a translated, login %s)\n' "$ok" --socks4a "${sha:0:16}…" \
  "$(egress_of "$(tail -n1 "$LAB_NGINX_LOG" | cut -d' ' -f1)")" "$ms" "$LAB_SE_USER"
# The same over IPv6: the client's IPv6 address to the IPv6 VIP, to an IPv6 destination by
# name and by address; sa carries both over its IPv4 segment (the legs' families are apart).
VIP6="[$LAB_VIP6]:1080"
for f in --socks5-hostname --socks5; do
  url=http://$LAB_WEB6_HOST/big.bin
  [ "$f" = --socks5 ] && url=$LAB_BIG_URL6
  start=$(date +%s%N)
  sha=$(ip netns exec "$LAB_NS_CLIENT" curl -sS --max-time 60 "$f" "$VIP6" "$url" | sha256sum | cut -d' ' -f1)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  ok=FAIL; [ "$sha" = "$LAB_BIG_SHA256" ] && ok=ok
  [ $ok = ok ] || failed=$((failed + 1))
  printf '  %-4s curl %-18s ipv6  sha256 %s  carried by %-3s (%d ms; through %s)\n' "$ok" "$f" "${sha:0:16}…" \
    "$(egress_of "$(tail -n1 "$LAB_NGINX_LOG" | cut -d' ' -f1)")" "$ms" "$VIP6"
done
# The diverted-address table (the network-management patent), by the network monitor's signed
# instruction from the client's host: the same download before and after it, and the mirror
# that served each.
monitor() { ip netns exec "$LAB_NS_CLIENT" $SOCKSALP divert --monitor "$MONITOR" --key-file "$CONF/monitor.key" "$@" >/dev/null; }
mirror_of_last() { tail -n1 "$LAB_NGINX_LOG" | awk '{print $NF}'; }
for step in before after; do
  [ $step = after ] && monitor add "$LAB_WEB_ADDR:80" "$LAB_MIRROR_ADDR"
  sha=$(ip netns exec "$LAB_NS_CLIENT" curl -sS --max-time 60 --socks5 "$VIP" "http://$LAB_WEB_ADDR/big.bin" | sha256sum | cut -d' ' -f1)
  served=$(mirror_of_last)
  want=$LAB_WEB_ADDR; [ $step = after ] && want=$LAB_MIRROR_ADDR
  ok=FAIL; [ "$sha" = "$LAB_BIG_SHA256" ] && [ "$served" = "$want" ] && ok=ok
  [ $ok = ok ] || failed=$((failed + 1))
  printf '  %-4s curl %-18s http  sha256 %s  served by %s (%s the monitor: divert add %s:80 %s)\n' "$ok" --socks5 "${sha:0:16}…" "$served" "$step" "$LAB_WEB_ADDR" "$LAB_MIRROR_ADDR"
done
monitor remove "$LAB_WEB_ADDR:80"
# Routed traffic ([routes] through sa) under the same table: a UDP datagram to the web host's
# port 7 answered by the mirror from the web host's address (figure 3: socat accepts replies
# from the address it sent to only), and the name server's answer for a diverted name given
# by the appliance itself (figure 5).
monitor add "$LAB_WEB_ADDR:$LAB_UDP_PORT" "$LAB_MIRROR_ADDR" --mode move
reply=$(echo ping | ip netns exec "$LAB_NS_CLIENT" timeout 5 socat -T 2 - "UDP4:$LAB_WEB_ADDR:$LAB_UDP_PORT" 2>/dev/null | head -n1 || true)
ok=FAIL; [ "$reply" = "mirror $LAB_MIRROR_ADDR" ] && ok=ok
[ $ok = ok ] || failed=$((failed + 1))
printf '  %-4s udp   to %s:%s   answered "%s" from %s (divert add %s:%s %s --mode move)\n' "$ok" "$LAB_WEB_ADDR" "$LAB_UDP_PORT" "$reply" "$LAB_WEB_ADDR" "$LAB_WEB_ADDR" "$LAB_UDP_PORT" "$LAB_MIRROR_ADDR"
monitor remove "$LAB_WEB_ADDR:$LAB_UDP_PORT" --mode move
for step in before after; do
  [ $step = after ] && monitor add "$LAB_WEB_HOST" "$LAB_MIRROR_ADDR"
  answer=$(ip netns exec "$LAB_NS_CLIENT" dig +short +time=2 +tries=1 "@$LAB_DNS_ADDR" "$LAB_WEB_HOST" A 2>/dev/null | head -n1 || true)
  want=$LAB_WEB_ADDR; by=nsd; [ $step = after ] && { want=$LAB_MIRROR_ADDR; by="the appliance"; }
  ok=FAIL; [ "$answer" = "$want" ] && ok=ok
  [ $ok = ok ] || failed=$((failed + 1))
  printf '  %-4s dig   %s @%s  %-13s answered by %s (%s divert add %s %s)\n' "$ok" "$LAB_WEB_HOST" "$LAB_DNS_ADDR" "$answer" "$by" "$step" "$LAB_WEB_HOST" "$LAB_MIRROR_ADDR"
done
monitor remove "$LAB_WEB_HOST"
for svc in "ftp 21" "telnet 23" "gopher 70" "ssl 443"; do
  set -- $svc
  banner=$( (echo hi; sleep 0.3) | ip netns exec "$LAB_NS_CLIENT" timeout 5 socat -T 2 - "SOCKS4:$LAB_VIP:$LAB_WEB_ADDR:$2,socksport=1080" 2>/dev/null | head -n1 || true)
  ok=FAIL; [ -n "$banner" ] && ok=ok
  [ $ok = ok ] || failed=$((failed + 1))
  printf '  %-4s socat --socks4  %-6s %-33s carried by %s\n' "$ok" "$1" "\"$banner\"" "$(egress_of "${banner##* }")"
done
echo
echo "The appliance's own view (socksalp dash --once):"
$SOCKSALP dash --config "$CONF" --once --width "${COLUMNS:-120}"
if [ -n "$keep" ]; then
  echo
  echo "The lab and the appliance (pid $app_pid) keep running:"
  echo "  socksalp dash --config conf           # the live dashboard (q quits)"
  echo "  socksalp ctl --config conf list        # servers, like ipvsadm -L -n"
  echo "  ip netns exec $LAB_NS_CLIENT curl --socks5-hostname $VIP $LAB_BIG_URL -o /dev/null"
  echo "  bash $LAB down                         # stop everything"
else
  echo
  echo "(npm run lab -- --keep leaves the lab and the appliance running, to watch with socksalp dash)"
fi
if [ $failed -gt 0 ]; then
  echo "demo: $failed check(s) failed; the end of the appliance's log:" >&2
  tail -n 20 "$LAB_RUN/appliance.log" >&2
  exit 1
fi
