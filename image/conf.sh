#!/usr/bin/env bash
# image/conf.sh DIR [a|b]: writes the image's /etc/socksalp into DIR (build.sh's step 2), and
# `socksalp check` must accept it.
#
# conf/ with the VM's NICs filled in: eth0 faces the intranet (with the address the clients'
# route to the VIP points at), eth1, eth2, .. the servers' segments in servers.ini's order.
# net.ifnames=0 on the kernel's command line keeps these names in PCI slot order, as
# hypervisors number their adapters.
#
# With a role, appliance a or b of the HA pair (issue 16): the same files, but eth0 has the
# role's own address (a 198.18.0.3, b 198.18.0.4; IPv6 ::3 and ::4) and ha.ini is
# image/ha.ini.template filled in for the role; the single image's 198.18.0.1 and
# 2001:db8:18::1 become keepalived's shared next hop. The sync key is not written: each image
# would carry it, and the pair's two must hold the same one. check runs on a copy with a
# throw-away key.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
dir=$1
role=${2:-}
log() { printf 'image: %s\n' "$*" >&2; }
check() { node dist/appliance/cli/index.js check --quiet --config "$1"; }

case $role in
  '') ;;
  a) self=198.18.0.3 self6=2001:db8:18::3 peer=198.18.0.4 priority=150 ;;
  b) self=198.18.0.4 self6=2001:db8:18::4 peer=198.18.0.3 priority=100 ;;
  *) log "the HA role is a or b, not '$role'"; exit 2 ;;
esac

cp conf/*.ini "$dir/"
sed -i -e 's/^; nic = eth0$/nic = eth0/' -e 's|^; address = \(.*\)$|address = \1|' "$dir/appliance.ini"
awk '/^tap = / { print; print "nic = eth" ++n; next } { print }' conf/servers.ini >"$dir/servers.ini"
grep -q '^nic = eth0$' "$dir/appliance.ini" && grep -q '^address = 198.18.0.1/24, 2001:db8:18::1/64$' "$dir/appliance.ini" \
  || { log "conf/appliance.ini no longer has the commented [intranet] nic/address lines (nic = eth0, address = 198.18.0.1/24, 2001:db8:18::1/64)"; exit 1; }
if [ -z "$role" ]; then
  check "$dir"
  exit 0
fi

sed -i "s|^address = 198.18.0.1/24, 2001:db8:18::1/64$|address = $self/24, $self6/64|" "$dir/appliance.ini"
sed -e "s/@SELF@/$self/" -e "s/@PEER@/$peer/" -e "s/@PRIORITY@/$priority/" image/ha.ini.template >"$dir/ha.ini"
if grep -n @ "$dir/ha.ini"; then log "image/ha.ini.template has a placeholder conf.sh does not fill"; exit 1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$dir"/*.ini "$tmp/"
(umask 077 && head -c 32 /dev/urandom | base64 >"$tmp/ha.key")
check "$tmp"
# keepalived.conf is written from these files at every start of keepalived (image/keepalived.conf.d).
node dist/appliance/cli/index.js keepalived --config "$tmp" >/dev/null
