#!/usr/bin/env bash
# Records the fuzzing harness's seed corpus (test/fuzz/corpus/*.pcap): what the appliance
# reads from its TUN and from two TAPs while the lab's clients use it in every way the lab
# knows (SOCKS4, 4a, 5 with addresses and names, the ALP services, DNS through the enhanced
# name server, UDP through the diversion, ICMP). Run as root after `npm run build`:
#   bash test/fuzz/record-corpus.sh
# It brings the lab up and down itself and overwrites the corpus.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
LAB=test/lab/lab.sh
OUT=test/fuzz/corpus
SOCKET=/run/socksalp-corpus/control.sock
CONF=$(mktemp -d)
app=
cleanup() {
  [ -n "$app" ] && kill "$app" 2>/dev/null && wait "$app" 2>/dev/null || true
  rm -rf "$CONF"
  bash "$LAB" down >/dev/null
}
trap cleanup EXIT
bash "$LAB" up >/dev/null
cp conf/appliance.ini conf/alp.ini conf/servers.ini "$CONF/"
sed -i "s#^control_socket = .*#control_socket = $SOCKET#" "$CONF/appliance.ini"
printf '[diverted]\n203.0.113.80:7 = 203.0.113.81\nweb.socksalp.test = 203.0.113.81\n' >"$CONF/diverted.ini"
ip netns exec salab-app node dist/appliance/cli/index.js run --config "$CONF" >"$CONF/appliance.log" 2>&1 &
app=$!
for _ in $(seq 1 50); do
  node dist/appliance/cli/index.js ctl --socket "$SOCKET" list 2>/dev/null | grep -q ' up ' && break
  sleep 0.2
done
mkdir -p "$OUT"
pids=()
for dev in alp0 alp-sa alp-sb; do
  ip netns exec salab-app python3 test/lab/inject.py capture "$dev" "$OUT/$dev.pcap" 10 --max 300 >/dev/null &
  pids+=($!)
done
sleep 0.5
client() { ip netns exec salab-client "$@" >>"$CONF/client.log" 2>&1 || true; }
VIP=198.18.0.100:1080
for f in --socks4 --socks5; do client curl -sS --max-time 5 "$f" "$VIP" http://203.0.113.80/hello.txt; done
for f in --socks4a --socks5-hostname; do client curl -sS --max-time 5 "$f" "$VIP" http://web.socksalp.test/hello.txt; done
client curl -sS --max-time 5 --socks5 "$VIP" http://203.0.113.80:8080/hello.txt
for port in 21 23 70 443; do (echo hi; sleep 0.2) | client timeout 3 socat -T 1 - "SOCKS4:198.18.0.100:203.0.113.80:$port,socksport=1080"; done
for name in web.socksalp.test mirror.socksalp.test www.socksalp.test; do client dig +time=1 +tries=1 @203.0.113.53 "$name"; done
client dig +time=1 +tries=1 @203.0.113.53 web.socksalp.test AAAA
for _ in 1 2 3; do echo ping | client timeout 2 socat -T 1 - UDP4:203.0.113.80:7; done
client ping -c 2 -W 1 198.18.0.100
wait "${pids[@]}"
ls -l "$OUT"
tail -5 "$CONF/appliance.log"; tail -20 "$CONF/client.log"
