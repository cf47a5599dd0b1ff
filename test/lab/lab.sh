#!/usr/bin/env bash
# The socksalp lab: the project's own test hosts, in network namespaces.
#
#   salab-client  intranet client          c0 198.18.0.2/24 and 2001:db8:18::2/64; VIP,
#                                          198.19/16 and 203.0.113/24 via 198.18.0.1; VIP6,
#                                          2001:db8:19::/48 and 2001:db8:113::/64 via
#                                          2001:db8:18::1
#   salab-app     the appliance's host     intra0 198.18.0.1/24 and 2001:db8:18::1/64; TUN alp0
#                                          carries the VIPs, 203.0.113/24 and 2001:db8:113::/64
#                                          (the appliance's [routes] take them on);
#                                          per server: bridge br-sX (198.19.N.254/24 and/or
#                                          2001:db8:19:N::254/64, the kernel's own leg) joining
#                                          TAP alp-sX and veth seg-sX; rp_filter loose (replies
#                                          from the internet come back on br-sa, not on alp0);
#                                          forwards IPv4 and IPv6
#   salab-sa      Dante (SOCKS4+5)         198.19.1.2/24, internet leg 203.0.113.11; also the
#                 and the router           intranet's router to the internet (ip_forward): the
#                                          appliance's [routes] 203.0.113.0/24 = alp-sa via
#                                          198.19.1.2; replies go back by sa's route to 198.18/15
#                                          via the kernel's 198.19.1.254 (to the client), or
#                                          straight to the appliance's 198.19.1.1 on the segment
#   salab-sb      Dante (SOCKS4+5)         198.19.2.2/24, internet leg 203.0.113.12
#   salab-sc      microsocks (SOCKS5)      198.19.3.2/24 and 2001:db8:19:3::2/64 (the
#                                          dual-stack segment: one microsocks per address, as it
#                                          binds one), internet leg 203.0.113.13
#   salab-sd      OpenSSH -D (4, 4a, 5)    198.19.4.2/24, internet leg 203.0.113.14; Dante and
#                                          microsocks lack SOCKS4a, ssh's dynamic forwarding has it
#   salab-se      Dante (SOCKS5, RFC 1929  198.19.5.2/24, internet leg 203.0.113.15; accepts only
#                 username/password)       the system user salab-socks with the password in
#                                          $RUN/se.password (0600, new at every up). conf/ does
#                                          not name it; the VM image has no NIC for it
#   salab-sf      Dante (SOCKS4+5)         2001:db8:19:6::2/64 only (the IPv6-only segment; the
#                 and the IPv6 router      appliance's address there is 2001:db8:19:6::1),
#                                          internet leg 203.0.113.16 and 2001:db8:113::16, so
#                                          that it carries IPv4 destinations too; the
#                                          intranet's IPv6 router to the internet
#                                          (forwarding): [routes] 2001:db8:113::/64 = alp-sf via
#                                          2001:db8:19:6::2. conf/ does not name it, nor the VM
#   salab-inet    nginx + socat services   br-inet 203.0.113.80/24 (web.socksalp.test) and, on
#                                          the same bridge, the mirror 203.0.113.81/24
#                                          (mirror.socksalp.test): the same files on 80 and 8080
#                                          at both, each naming itself (X-Mirror header, last
#                                          field of the access log), and on UDP port 7 (node) a reply
#                                          "mirror <address>" to every datagram; nsd, the
#                                          authoritative DNS server of socksalp.test, on UDP and
#                                          TCP 53 of 203.0.113.53/24 (ns.socksalp.test), same
#                                          bridge; 198.18/15 via sa's 203.0.113.11 (the way back
#                                          to the intranet, through the router). Each has an IPv6
#                                          twin serving the same: 2001:db8:113::80 (also
#                                          web6.socksalp.test), ::81 (mirror6.socksalp.test),
#                                          ::53, on 2001:db8:113::/64; every server's internet
#                                          leg has 2001:db8:113::1N; 2001:db8:18::/47 via sf's
#                                          2001:db8:113::16
#
# The zone socksalp.test (TTL 300): SOA and NS ns; A ns 203.0.113.53, web and files 203.0.113.80,
# mirror 203.0.113.81, mirrors both 203.0.113.80 and 203.0.113.81; CNAME www -> web; TXT at the
# apex and at txt; AAAA beside each A (the IPv6 twins), and web6 and mirror6 with AAAA only. The
# namespaces still resolve from /etc/netns/NS/hosts (their resolv.conf names no nameserver):
# tests ask the server itself (dig @203.0.113.53 or @2001:db8:113::53). The hosts files give
# the IPv4 names their IPv4 address only (a SOCKS server resolving web.socksalp.test keeps
# reaching 203.0.113.80) and the IPv6 names, web6 and mirror6, their IPv6 address.
#
# The lab's user salab-socks (no home, no shell, account expired so that login, su and sshd
# refuse it; Dante's "username" method checks only the password, with getspnam and crypt) is
# created by up and deleted by down.
#
# Only 198.18.0.0/15, 203.0.113.0/24 and 2001:db8::/32 (and link-local) are used and no
# namespace has a default route, so nothing leaves the lab. The appliance owns 198.19.N.1 in
# user space (it answers ARP on its TAPs), and 2001:db8:19:N::1 on the IPv6 segments (Neighbor
# Discovery); the kernel's 198.19.N.254 and 2001:db8:19:N::254 give the direct and kernel-NAT
# paths used for comparison. The IPv6 VIP is off the client's subnet (routed to the appliance's
# host, as the IPv4 one), so no proxy NDP is needed. Duplicate address detection is off in
# every lab namespace: no address is tentative once up returns.
#
# With --vm (the VM image's boot test) salab-app holds no appliance: it only bridges each
# segment to a TAP for a VM's NIC, vm-intra (the VM's eth0, facing the client) and vm-sX
# (eth1.., facing server sX), and neither the TUN nor 198.18.0.1 nor 198.19.N.254 exist there
# (nor their IPv6 twins), nor the intranet's way to the internet through sa and sf (the client
# has no route to it, sa and sf do not forward, salab-inet has no route back). The DNS server is
# there in both sorts.
#
# Usage: lab.sh up [--vm] | down | status [--vm] | env | tun | queues multi|single | stop-server NAME | start-server NAME
#        lab.sh ha up | down | keepalived-start a|b | keepalived-stop a|b
#        lab.sh ecmp up | down | bgp-status
#   up      build the lab (idempotent: an intact lab of the same sort is left as it is)
#   down    stop every lab process by pid, delete the namespaces and files (always safe)
#   status  exit 0 when the lab is intact, 1 otherwise, with the reason on stderr
#   env     print the lab's facts as KEY=VALUE lines, for tests and scripts
#   tun     make the TUN alp0 again with its routes, as up does (after a test deleted it)
#   queues multi|single  make alp0 and the TAPs again multi-queue (several workers) or single-queue
#   stop-server / start-server   stop or restart one SOCKS server's process (failure tests)
#   ha up|down  the HA pair's topology on top of the host sort (below, "The HA sort"); down puts
#               the normal lab back. ha keepalived-start|stop a|b: keepalived in A's or B's
#               namespace, by pid. env gives LAB_HA_* while it is up
#   ecmp up|down  three appliances behind an FRR router by BGP and ECMP (below, "The ECMP
#               sort"), exclusive with ha; down puts the normal lab back. ecmp bgp-status: the
#               router's sessions and routes. env gives LAB_ECMP_* while it is up
set -Eeuo pipefail

# The lab's daemons must not inherit the caller's descriptors: a lock held around a test run
# (flock) would stay held by nginx and the rest long after the run. 255 is bash's own script.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

RUN=${SOCKSALP_LAB_RUN:-/run/socksalp-lab}
BIG_MB=${SOCKSALP_LAB_BIG_MB:-64}
PREFIX=salab
NS_CLIENT=$PREFIX-client
NS_APP=$PREFIX-app
NS_INET=$PREFIX-inet
# name index kind families (of its segment: 4, 6 or 46)
SERVERS=("sa 1 dante 4" "sb 2 dante 4" "sc 3 microsocks 46" "sd 4 ssh 4" "se 5 dante-auth 4" "sf 6 dante 6")
# The servers conf/servers.ini names, in its order: the VM image's NICs eth1.. face them.
VM_SERVERS="sa sb sc sd"
# The system user se's clients authenticate as, and where its password is kept.
SOCKS_USER=$PREFIX-socks
SOCKS_PASSWORD=$RUN/se.password
WEB_ADDR=203.0.113.80
WEB_HOST=web.socksalp.test
# The web host's mirror: a second address on br-inet, so every server namespace reaches it on
# its internet leg exactly as it reaches WEB_ADDR (same subnet, no route to add).
MIRROR_ADDR=203.0.113.81
MIRROR_HOST=mirror.socksalp.test
MIRRORS="$WEB_ADDR $MIRROR_ADDR"
# UDP service on each mirror: every datagram is answered by one line naming the mirror.
UDP_PORT=7
# The authoritative DNS server of the lab's zone, on br-inet beside the web host and the mirror.
DNS_ADDR=203.0.113.53
DNS_ZONE=socksalp.test
DNS_HOST=ns.$DNS_ZONE
DNS_TTL=300
# The intranet's router to the internet: sa, on its segment (the gateway of the appliance's
# [routes]) and on its internet leg (salab-inet's way back to 198.18/15).
ROUTER_NAME=sa
ROUTER=198.19.1.2
ROUTER_TAP=alp-sa
ROUTER_INET=203.0.113.11
VIP=198.18.0.100
SERVICES=("ftp 21" "telnet 23" "gopher 70" "ssl 443")
# IPv6, from the documentation prefix: the intranet 2001:db8:18::/64 (the client's segment), the
# VIP off it, the server segments 2001:db8:19:N::/64 and the internet 2001:db8:113::/64. The
# intranet and the segments together are 2001:db8:18::/47, as 198.18.0.0/15 is for IPv4.
CLIENT6=2001:db8:18::2
APP6=2001:db8:18::1
VIP6=2001:db8:18:100::100
INTRANET6=2001:db8:18::/47
SEGMENTS6=2001:db8:19::/48
INET6=2001:db8:113::/64
WEB6=2001:db8:113::80
WEB6_HOST=web6.$DNS_ZONE
MIRROR6=2001:db8:113::81
MIRROR6_HOST=mirror6.$DNS_ZONE
MIRRORS6="$WEB6 $MIRROR6"
DNS6=2001:db8:113::53
# The intranet's IPv6 router to the internet: sf (sa's segment is IPv4-only).
ROUTER6_NAME=sf
ROUTER6=2001:db8:19:6::2
ROUTER6_TAP=alp-sf
ROUTER6_INET=2001:db8:113::16

all_ns() {
  echo "$NS_CLIENT $NS_APP $NS_INET"
  for s in "${SERVERS[@]}"; do set -- $s; echo "$PREFIX-$1"; done
}

log() { printf 'lab: %s\n' "$*" >&2; }

# Whether namespace NAME exists. Not `ip netns list | grep -q`: with pipefail, grep's early exit
# can fail the pipeline (SIGPIPE to ip) and make an existing namespace look absent.
ns_exists() {
  local n
  for n in $(ip netns list | cut -d' ' -f1); do [ "$n" = "$1" ] && return 0; done
  return 1
}

# Runs a long-lived lab process in a namespace, detached from our stdio, and records its pid.
spawn() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# Waits for a listener on ADDR:PORT in NS; PROTO tcp (default) or udp.
wait_listen() {
  local ns=$1 addr=$2 port=$3 proto=${4:-tcp} i
  local flag=-Hltn
  [ "$proto" = udp ] && flag=-Hlun
  # ss reads an IPv6 address in brackets (bare, its last group would be taken for a port).
  [[ $addr == *:* ]] && addr="[$addr]"
  for i in $(seq 1 100); do
    if [ -n "$(ip netns exec "$ns" ss $flag "src $addr and sport = :$port")" ]; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on $proto $addr:$port in $ns; see $RUN/*.log"
  return 1
}

# The IPv4 names keep their IPv4 address only, so that a SOCKS server resolving them reaches
# the same address as before the lab had IPv6; the IPv6 twins have names of their own.
hosts_file() {
  mkdir -p "/etc/netns/$1"
  printf '127.0.0.1 localhost\n%s %s\n%s %s\n%s %s\n%s %s\n' "$WEB_ADDR" "$WEB_HOST" "$MIRROR_ADDR" "$MIRROR_HOST" \
    "$WEB6" "$WEB6_HOST" "$MIRROR6" "$MIRROR6_HOST" >"/etc/netns/$1/hosts"
  # No nameserver: the resolver tries loopback, which refuses at once. Names come from hosts.
  printf 'options timeout:1 attempts:1\n' >"/etc/netns/$1/resolv.conf"
}

# A server's addresses on its segment, where its SOCKS port listens: IDX FAMILIES (4, 6, 46).
segment_addrs() {
  [[ $2 == *4* ]] && echo "198.19.$1.2"
  [[ $2 == *6* ]] && echo "2001:db8:19:$1::2"
  return 0
}

# method: none, or username (RFC 1929, checked against the system's password database). The
# rules' 0/0 is Dante's "any address of either family": clients and destinations may be IPv6,
# which the external interface ext0 reaches from its own IPv6 address.
dante_conf() {
  local name=$1 idx=$2 method=$3 families=$4 addr
  echo "logoutput: $RUN/$name/danted.log"
  for addr in $(segment_addrs "$idx" "$families"); do echo "internal: $addr port = 1080"; done
  cat <<EOF
external: ext0
clientmethod: none
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 0/0 to: 0/0
  log: error
}
socks pass {
  from: 0/0 to: 0/0
  command: connect
  log: connect disconnect error
}
EOF
}

# The user se accepts, with a new random password, kept in a file only root may read. The
# account is expired: Dante compares only the password hash, while PAM (login, su, sshd)
# refuses an expired account, so the lab's password opens nothing but se.
socks_user() {
  local pw
  id -u "$SOCKS_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --gid nogroup "$SOCKS_USER"
  pw=$(head -c 15 /dev/urandom | base64 | tr '+/' '-_')
  (umask 077 && printf '%s\n' "$pw" >"$SOCKS_PASSWORD")
  printf '%s:%s\n' "$SOCKS_USER" "$pw" | chpasswd
  chage -E 0 "$SOCKS_USER"
}

# A SOCKS server from OpenSSH: sshd on the namespace's loopback, and "ssh -D" to it with a
# key made for this lab run. Connections leave from sshd, over the namespace's internet leg.
ssh_socks() {
  local name=$1 idx=$2 ns=$3 dir=$RUN/$1
  mkdir -p /run/sshd  # sshd's privilege separation directory
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding local
PidFile none
EOF
  spawn "$ns" "$name-sshd" "$(command -v sshd)" -D -e -f "$dir/sshd_config"
  wait_listen "$ns" 127.0.0.1 22
  spawn "$ns" "$name" ssh -N -D 198.19.$idx.2:1080 -i "$dir/client_key" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -o ServerAliveInterval=10 -o ExitOnForwardFailure=yes root@127.0.0.1
}

nginx_conf() {
  local m listens=
  for m in $MIRRORS $(printf '[%s] ' $MIRRORS6); do
    listens+="    listen $m:80 reuseport backlog=4096;
    listen $m:8080 reuseport;
"
  done
  cat <<EOF
daemon on;
user root;
worker_processes 2;
pid $RUN/nginx.pid;
error_log $RUN/nginx-error.log;
events { worker_connections 4096; }
http {
  # Fields by position (tests split on spaces): the peer first, the mirror that answered last.
  log_format lab '\$remote_addr \$request_uri \$status \$body_bytes_sent \$server_addr';
  access_log $RUN/nginx-access.log lab;
  client_body_temp_path $RUN/nginx-tmp;
  proxy_temp_path $RUN/nginx-tmp;
  fastcgi_temp_path $RUN/nginx-tmp;
  uwsgi_temp_path $RUN/nginx-tmp;
  scgi_temp_path $RUN/nginx-tmp;
  sendfile on;
  keepalive_requests 100000;
  server {
    # Each mirror (the web host's address, then the mirror's, then their IPv6 twins): 80, and
    # 8080, also HTTP, so that a configuration can give it an ALP of its own (the demo does).
$listens    server_name $WEB_HOST $MIRROR_HOST $WEB6_HOST $MIRROR6_HOST;
    root $RUN/www;
    # The address the request came from: which SOCKS server carried it, told by the far side.
    add_header X-Peer \$remote_addr always;
    # Which mirror answered: the address the request was sent to.
    add_header X-Mirror \$server_addr always;
  }
}
EOF
}

# nsd, authoritative only, in the foreground (-d) as a lab child: every file under $RUN/nsd, no
# database, no remote control, no pidfile (lab.sh keeps the pid), no syslog (its own log file),
# root kept (as nginx's workers). It binds only DNS_ADDR and DNS6, UDP and TCP.
nsd_conf() {
  cat <<EOF
server:
  ip-address: $DNS_ADDR
  ip-address: $DNS6
  port: 53
  do-ip4: yes
  do-ip6: yes
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$RUN/nsd"
  zonelistfile: "$RUN/nsd/zone.list"
  xfrdfile: "$RUN/nsd/xfrd.state"
  xfrdir: "$RUN/nsd"
  pidfile: ""
  logfile: "$RUN/nsd.log"
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: "$DNS_ZONE"
  zonefile: "$RUN/nsd/$DNS_ZONE.zone"
EOF
}

dns_zone() {
  cat <<EOF
\$ORIGIN $DNS_ZONE.
\$TTL $DNS_TTL
@        SOA   $DNS_HOST. hostmaster.$DNS_ZONE. 1 3600 900 604800 $DNS_TTL
@        NS    $DNS_HOST.
@        TXT   "socksalp lab"
ns       A     $DNS_ADDR
ns       AAAA  $DNS6
web      A     $WEB_ADDR
web      AAAA  $WEB6
files    A     $WEB_ADDR
files    AAAA  $WEB6
mirror   A     $MIRROR_ADDR
mirror   AAAA  $MIRROR6
mirrors  A     $WEB_ADDR
mirrors  A     $MIRROR_ADDR
mirrors  AAAA  $WEB6
mirrors  AAAA  $MIRROR6
web6     AAAA  $WEB6
mirror6  AAAA  $MIRROR6
www      CNAME web
txt      TXT   "socksalp lab zone, served by nsd at $DNS_ADDR"
EOF
}

# Waits until the DNS server answers a real query, over UDP and over TCP, at each of its
# addresses, from salab-inet.
wait_dns() {
  local i server q
  for server in $DNS_ADDR $DNS6; do
    q="+short +time=1 +tries=1 @$server $DNS_HOST A"
    for i in $(seq 1 101); do
      if [ "$(ip netns exec "$NS_INET" dig $q 2>/dev/null)" = "$DNS_ADDR" ] &&
        [ "$(ip netns exec "$NS_INET" dig +tcp $q 2>/dev/null)" = "$DNS_ADDR" ]; then
        break
      fi
      [ "$i" = 101 ] && { log "the DNS server does not answer for $DNS_HOST at $server in $NS_INET; see $RUN/nsd.log"; return 1; }
      sleep 0.1
    done
  done
}

# Waits until no address in any lab namespace is tentative (duplicate address detection is off,
# so this is at once; it proves so).
wait_addresses() {
  local ns i
  for ns in $(all_ns); do
    for i in $(seq 1 101); do
      [ -z "$(ip -n "$ns" -6 addr show tentative)" ] && break
      [ "$i" = 101 ] && { log "tentative IPv6 addresses in $ns: $(ip -n "$ns" -6 -br addr show tentative)"; return 1; }
      sleep 0.1
    done
  done
}

# The large file's bytes are an AES-CTR keystream with a fixed key: the same on every
# machine, so its sha256 is a constant of the lab.
make_files() {
  mkdir -p "$RUN/www" "$RUN/nginx-tmp"
  node -e '
    const c = require("crypto").createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16));
    const fs = require("fs"); const fd = fs.openSync(process.argv[1], "w"); const zero = Buffer.alloc(1 << 20);
    for (let i = 0; i < Number(process.argv[2]); i++) fs.writeSync(fd, c.update(zero));
    fs.closeSync(fd);' "$RUN/www/big.bin" "$BIG_MB"
  sha256sum "$RUN/www/big.bin" | cut -d' ' -f1 >"$RUN/www/big.bin.sha256"
  printf 'hello from the socksalp lab\n' >"$RUN/www/hello.txt"
}

# A bridge in an appliance's namespace (NS, the appliance's by default) joining a segment's veth
# and a TAP.
segment_bridge() {
  local br=$1 tap=$2 veth=$3 ns=${4:-$NS_APP} dev
  ip -n "$ns" link add "$br" type bridge
  ip -n "$ns" tuntap add mode tap name "$tap"
  ip -n "$ns" link set "$tap" master "$br"
  ip -n "$ns" link set "$veth" master "$br"
  for dev in "$br" "$tap" "$veth"; do ip -n "$ns" link set "$dev" up; done
}

# The client's routes into the lab, through the appliance's host (198.18.0.1, or keepalived's
# shared address of that number in the HA sort): replaced, so that they follow the intranet's
# addresses from c0 to br-lan and back. $1 host: also the internet, as the host sort routes it.
client_routes() {
  ip -n "$NS_CLIENT" route replace $VIP/32 via 198.18.0.1
  ip -n "$NS_CLIENT" route replace 198.19.0.0/16 via 198.18.0.1
  ip -n "$NS_CLIENT" route replace $VIP6/128 via $APP6
  ip -n "$NS_CLIENT" route replace $SEGMENTS6 via $APP6
  if [ "${1:-}" = host ]; then
    ip -n "$NS_CLIENT" route replace 203.0.113.0/24 via 198.18.0.1
    ip -n "$NS_CLIENT" route replace $INET6 via $APP6
  fi
}

build() {
  local appliance=$1
  mkdir -p "$RUN"
  echo "$appliance" >"$RUN/appliance"
  for ns in $(all_ns); do
    ip netns add "$ns"
    # No duplicate address detection on the devices made next (default) nor on any (all; the
    # kernel skips it when both say so): IPv6 addresses are usable at once, none tentative.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
  done

  # Intranet: client <-> appliance host.
  ip link add c0 netns "$NS_CLIENT" type veth peer name intra0 netns "$NS_APP"
  ip -n "$NS_CLIENT" addr add 198.18.0.2/24 dev c0
  ip -n "$NS_CLIENT" addr add $CLIENT6/64 dev c0
  ip -n "$NS_CLIENT" link set c0 up
  client_routes "$appliance"
  if [ "$appliance" = vm ]; then
    segment_bridge br-intra vm-intra intra0
  else
    ip -n "$NS_APP" addr add 198.18.0.1/24 dev intra0
    ip -n "$NS_APP" addr add $APP6/64 dev intra0
    ip -n "$NS_APP" link set intra0 up
    ip netns exec "$NS_APP" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # The internet through the appliance: the client sends it to the appliance's host
    # (client_routes), whose kernel puts it into the TUN (tun_up); the appliance's [routes]
    # carry it on to the router sa (IPv4) or sf (IPv6).
    tun_up "$NS_APP"
    # Replies from the internet come back asymmetrically: sa sends them to the kernel's leg
    # 198.19.1.254, so 203.0.113.x arrives on br-sa while the route back to it points into alp0.
    # Strict reverse-path filtering (1, which a new namespace inherits from the host's "all" and
    # "default") would drop them; loose (2) only asks for some route back. The value in force
    # is the larger of "all" and the device's, so "all" = 2 covers every device, now and later.
    # IPv6 has no reverse-path filter in the kernel: nothing to loosen.
    ip netns exec "$NS_APP" sysctl -qw net.ipv4.conf.all.rp_filter=2
  fi
  hosts_file "$NS_CLIENT"

  # Internet: one bridge, the web host's address on it.
  ip -n "$NS_INET" link add br-inet type bridge
  ip -n "$NS_INET" addr add $WEB_ADDR/24 dev br-inet
  ip -n "$NS_INET" addr add $MIRROR_ADDR/24 dev br-inet
  ip -n "$NS_INET" addr add $DNS_ADDR/24 dev br-inet
  for a in $WEB6 $MIRROR6 $DNS6; do ip -n "$NS_INET" addr add $a/64 dev br-inet; done
  ip -n "$NS_INET" link set br-inet up

  for s in "${SERVERS[@]}"; do
    set -- $s
    local name=$1 idx=$2 families=$4 ns=$PREFIX-$1
    # Server segment: TAP and veth on one bridge in the appliance's namespace.
    ip link add seg-$name netns "$NS_APP" type veth peer name eth0 netns "$ns"
    if [ "$appliance" = vm ]; then
      segment_bridge br-$name vm-$name seg-$name
    else
      segment_bridge br-$name alp-$name seg-$name
      [[ $families == *4* ]] && ip -n "$NS_APP" addr add 198.19.$idx.254/24 dev br-$name
      [[ $families == *6* ]] && ip -n "$NS_APP" addr add 2001:db8:19:$idx::254/64 dev br-$name
    fi
    [[ $families == *4* ]] && ip -n "$ns" addr add 198.19.$idx.2/24 dev eth0
    [[ $families == *6* ]] && ip -n "$ns" addr add 2001:db8:19:$idx::2/64 dev eth0
    ip -n "$ns" link set eth0 up
    [[ $families == *4* ]] && ip -n "$ns" route add 198.18.0.0/15 via 198.19.$idx.254
    [[ $families == *6* ]] && ip -n "$ns" route add $INTRANET6 via 2001:db8:19:$idx::254
    # Internet leg, dual-stack on every server: each reaches destinations of either family.
    ip link add ext0 netns "$ns" type veth peer name i-$name netns "$NS_INET"
    ip -n "$ns" addr add 203.0.113.1$idx/24 dev ext0
    ip -n "$ns" addr add 2001:db8:113::1$idx/64 dev ext0
    ip -n "$ns" link set ext0 up
    ip -n "$NS_INET" link set i-$name master br-inet
    ip -n "$NS_INET" link set i-$name up
    hosts_file "$ns"
  done
  if [ "$appliance" != vm ]; then
    # sa routes between its segment and the internet. Its reverse-path checks pass whatever
    # rp_filter it inherited: every source arrives on the device its route points to (198.18/15
    # and 198.19.1/24 on eth0, 203.0.113/24 on ext0).
    ip netns exec "$PREFIX-$ROUTER_NAME" sysctl -qw net.ipv4.ip_forward=1
    # The internet's way back to the intranet (the client and the appliance) is through sa.
    ip -n "$NS_INET" route add 198.18.0.0/15 via $ROUTER_INET
    # The same for IPv6 through sf, whose segment is IPv6 (sa's is not).
    ip netns exec "$PREFIX-$ROUTER6_NAME" sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n "$NS_INET" route add $INTRANET6 via $ROUTER6_INET
  fi

  socks_user
  make_files
  nginx_conf >"$RUN/nginx.conf"
  ip netns exec "$NS_INET" nginx -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"
  # Each service names itself and the peer it saw, then echoes: the server side's own
  # account of which SOCKS server carried a connection.
  # socat gives an IPv6 peer in full, in brackets ([2001:0db8:...:0016]); the banner names it
  # as everything else in the lab does, in RFC 5952 form (zeros dropped, the longest run of two
  # or more zero groups, the first of equals, as "::").
  cat >"$RUN/service.sh" <<'EOF'
#!/bin/sh
peer=$SOCAT_PEERADDR
case $peer in
  \[*) peer=$(echo "$peer" | tr -d '[]' | awk -F: '{
    best = 0; at = 0; run = 0
    for (i = 1; i <= NF; i++) {
      g[i] = tolower($i); sub(/^0+/, "", g[i])
      if (g[i] == "") { g[i] = "0"; if (++run > best) { best = run; at = i - run + 1 } } else run = 0
    }
    out = ""
    for (i = 1; i <= NF; i++) {
      if (best > 1 && i == at) { out = out "::"; i += best - 1; continue }
      out = out (out == "" || out ~ /:$/ ? "" : ":") g[i]
    }
    print out
  }') ;;
esac
printf "socksalp-lab %s %s\n" "$1" "$peer"
exec cat
EOF
  for svc in "${SERVICES[@]}"; do
    set -- $svc
    spawn "$NS_INET" "svc-$2" socat "TCP-LISTEN:$2,bind=$WEB_ADDR,reuseaddr,fork,backlog=1024" "EXEC:sh $RUN/service.sh $1"
    spawn "$NS_INET" "svc6-$2" socat "TCP6-LISTEN:$2,bind=[$WEB6],reuseaddr,fork,backlog=1024" "EXEC:sh $RUN/service.sh $1"
  done
  # UDP on each mirror: every datagram is answered, from the mirror's address, with a line naming
  # that address (what a UDP flow's far side saw as its own address). One socket per mirror in
  # one node process: socat's UDP4-RECVFROM,fork leaves each child on the shared socket for a
  # while after its answer, where it swallows the next datagram (about 1 in 10 went unanswered).
  cat >"$RUN/udp-service.js" <<'EOF'
const [port, ...mirrors] = process.argv.slice(2);
for (const addr of mirrors) {
  const s = require('dgram').createSocket(addr.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (_data, peer) => s.send(`mirror ${addr}\n`, peer.port, peer.address));
  s.bind(Number(port), addr);
}
EOF
  spawn "$NS_INET" udp-mirrors node "$RUN/udp-service.js" $UDP_PORT $MIRRORS $MIRRORS6

  mkdir -p "$RUN/nsd"
  nsd_conf >"$RUN/nsd/nsd.conf"
  dns_zone >"$RUN/nsd/$DNS_ZONE.zone"
  nsd-checkzone "$DNS_ZONE" "$RUN/nsd/$DNS_ZONE.zone" >/dev/null
  spawn "$NS_INET" nsd nsd -d -c "$RUN/nsd/nsd.conf"

  for s in "${SERVERS[@]}"; do start_server ${s%% *}; done

  for m in $MIRRORS $MIRRORS6; do wait_listen "$NS_INET" "$m" 80; wait_listen "$NS_INET" "$m" 8080; wait_listen "$NS_INET" "$m" $UDP_PORT udp; done
  for svc in "${SERVICES[@]}"; do set -- $svc; wait_listen "$NS_INET" $WEB_ADDR "$2"; wait_listen "$NS_INET" $WEB6 "$2"; done
  for s in "${SERVERS[@]}"; do wait_server ${s%% *}; done
  wait_dns
  wait_addresses
}

# Waits for a server's SOCKS port on each of its segment's addresses.
wait_server() {
  local entry addr
  entry=$(server_entry "$1")
  set -- $entry
  for addr in $(segment_addrs "$2" "$4"); do wait_listen "$PREFIX-$1" "$addr" 1080; done
}

# A zombie has ended, whoever reaps it; kill -0 would still see it.
alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

server_entry() {
  local s
  for s in "${SERVERS[@]}"; do [ "${s%% *}" = "$1" ] && { echo "$s"; return 0; }; done
  log "no lab server named $1"
  return 1
}

start_server() {
  local entry
  entry=$(server_entry "$1")
  set -- $entry
  local name=$1 idx=$2 kind=$3 families=$4 ns=$PREFIX-$1
  mkdir -p "$RUN/$name"
  if [ "$kind" = dante ] || [ "$kind" = dante-auth ]; then
    dante_conf "$name" "$idx" "$([ "$kind" = dante ] && echo none || echo username)" "$families" >"$RUN/$name/danted.conf"
    ip netns exec "$ns" danted -D -N 2 -f "$RUN/$name/danted.conf" -p "$RUN/$name.pid"
  elif [ "$kind" = microsocks ]; then
    # microsocks listens on one address: one process per family, each bound to the egress
    # address of its family (-b applies only to destinations of the same family; the others
    # leave from the address the kernel picks on ext0, the other one).
    if [[ $families == *4* ]]; then spawn "$ns" "$name" microsocks -i 198.19.$idx.2 -p 1080 -b 203.0.113.1$idx; fi
    if [[ $families == *6* ]]; then spawn "$ns" "$name-v6" microsocks -i 2001:db8:19:$idx::2 -p 1080 -b 2001:db8:113::1$idx; fi
  else
    ssh_socks "$name" "$idx" "$ns"
  fi
}

# Stops a SOCKS server's processes (microsocks has one per family), leaving its host up: its
# kernel then refuses connections.
stop_server() {
  local f
  server_entry "$1" >/dev/null
  for f in "$RUN/$1.pid" "$RUN/$1-v6.pid"; do
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
  done
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 30); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  local f ns pid
  # The HA and ECMP sorts' processes first (lab.sh ha, lab.sh ecmp: their pid files are under
  # $HA and $ECMP).
  for f in "$HA"/*.pid "$ECMP"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && stop_pid "$pid"
  done
  if [ -d "$RUN" ]; then
    for f in "$RUN"/*.pid; do
      [ -e "$f" ] || continue
      pid=$(cat "$f" 2>/dev/null || true)
      [ -n "$pid" ] && stop_pid "$pid"
    done
  fi
  for ns in $(all_ns) $NS_APP2 $NS_APP3 $NS_RTR; do
    ns_exists "$ns" || continue
    # What still runs inside a lab namespace was started there by the lab or its tests.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$pid"; done
    ip netns del "$ns"
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$RUN"
  rmdir /etc/netns 2>/dev/null || true
  if id -u "$SOCKS_USER" >/dev/null 2>&1; then userdel "$SOCKS_USER" || log "could not delete user $SOCKS_USER"; fi
}

status() {
  local appliance=$1 ns f pid
  [ "$(cat "$RUN/appliance" 2>/dev/null)" = "$appliance" ] || { log "no lab for an appliance on the $appliance is up"; return 1; }
  for ns in $(all_ns); do
    ns_exists "$ns" || { log "namespace $ns is missing"; return 1; }
  done
  [ -s "$RUN/www/big.bin.sha256" ] || { log "web files are missing"; return 1; }
  id -u "$SOCKS_USER" >/dev/null 2>&1 && [ -s "$SOCKS_PASSWORD" ] || { log "user $SOCKS_USER or $SOCKS_PASSWORD is missing"; return 1; }
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || { log "no lab process is running"; return 1; }
    pid=$(cat "$f")
    alive "$pid" || { log "$(basename "$f" .pid) (pid $pid) is not running"; return 1; }
  done
}

env_facts() {
  cat <<EOF
LAB_RUN=$RUN
LAB_APPLIANCE=$(cat "$RUN/appliance" 2>/dev/null || true)
LAB_NS_CLIENT=$NS_CLIENT
LAB_NS_APP=$NS_APP
LAB_NS_INET=$NS_INET
LAB_VIP=$VIP
LAB_WEB_ADDR=$WEB_ADDR
LAB_WEB_HOST=$WEB_HOST
LAB_MIRROR_ADDR=$MIRROR_ADDR
LAB_MIRROR_HOST=$MIRROR_HOST
LAB_UDP_PORT=$UDP_PORT
LAB_BIG_URL=http://$WEB_HOST/big.bin
LAB_BIG_SHA256=$(cat "$RUN/www/big.bin.sha256" 2>/dev/null || true)
LAB_NGINX_LOG=$RUN/nginx-access.log
LAB_SE_USER=$SOCKS_USER
LAB_SE_PASSWORD_FILE=$SOCKS_PASSWORD
LAB_DNS_ADDR=$DNS_ADDR
LAB_DNS_ZONE=$DNS_ZONE
LAB_DNS_HOST=$DNS_HOST
LAB_DNS_TTL=$DNS_TTL
LAB_DNS_LOG=$RUN/nsd.log
LAB_ROUTER=$ROUTER
LAB_ROUTER_TAP=$ROUTER_TAP
LAB_ROUTER_SERVER=$ROUTER_NAME
LAB_ROUTER_INET=$ROUTER_INET
LAB_CLIENT6=$CLIENT6
LAB_APP6=$APP6
LAB_VIP6=$VIP6
LAB_WEB6=$WEB6
LAB_WEB6_HOST=$WEB6_HOST
LAB_MIRROR6=$MIRROR6
LAB_MIRROR6_HOST=$MIRROR6_HOST
LAB_BIG_URL6=http://[$WEB6]/big.bin
LAB_DNS6=$DNS6
LAB_INTRANET6=$INTRANET6
LAB_INET6=$INET6
LAB_ROUTER6=$ROUTER6
LAB_ROUTER6_TAP=$ROUTER6_TAP
LAB_ROUTER6_SERVER=$ROUTER6_NAME
LAB_ROUTER6_INET=$ROUTER6_INET
EOF
  # Per server: _SOCKS is its SOCKS port on its segment's IPv4 address when it has one, else on
  # its IPv6 address ([ADDRESS]:PORT); _SOCKS6 the IPv6 one, where there is one. _LOCAL(6) is
  # the address a servers.ini section gives the appliance there, _KERNEL(6) the kernel's own.
  for s in "${SERVERS[@]}"; do
    set -- $s
    local up=${1^^} socks=
    echo "LAB_SERVER_${up}_NS=$PREFIX-$1"
    echo "LAB_SERVER_${up}_KIND=$3"
    echo "LAB_SERVER_${up}_FAMILIES=$4"
    echo "LAB_SERVER_${up}_TAP=alp-$1"
    if [[ $4 == *4* ]]; then
      socks=198.19.$2.2:1080
      echo "LAB_SERVER_${up}_ADDRESS=198.19.$2.2"
      echo "LAB_SERVER_${up}_LOCAL=198.19.$2.1/24"
      echo "LAB_SERVER_${up}_KERNEL=198.19.$2.254"
    fi
    if [[ $4 == *6* ]]; then
      socks=${socks:-[2001:db8:19:$2::2]:1080}
      echo "LAB_SERVER_${up}_SOCKS6=[2001:db8:19:$2::2]:1080"
      echo "LAB_SERVER_${up}_ADDRESS6=2001:db8:19:$2::2"
      echo "LAB_SERVER_${up}_LOCAL6=2001:db8:19:$2::1/64"
      echo "LAB_SERVER_${up}_KERNEL6=2001:db8:19:$2::254"
    fi
    echo "LAB_SERVER_${up}_SOCKS=$socks"
    echo "LAB_SERVER_${up}_EGRESS=203.0.113.1$2"
    echo "LAB_SERVER_${up}_EGRESS6=2001:db8:113::1$2"
  done
  # The VM image is built from conf/, which names sa..sd: se and sf get no NIC in the VM.
  echo "LAB_VM_TAPS=vm-intra$(printf ' vm-%s' $VM_SERVERS)"
  echo "LAB_SERVERS=$(for s in "${SERVERS[@]}"; do set -- $s; printf '%s,' "$1"; done | sed 's/,$//')"
}

# The TUN in an appliance's namespace $1, up, with the routes into it: both VIPs and the lab's
# internet of each family. Also `lab.sh tun`, for a test that deleted it. $2: multi_queue, or none.
tun_up() {
  local ns=$1
  ip -n "$ns" tuntap add mode tun name alp0 ${2:-}
  ip -n "$ns" link set alp0 up
  ip -n "$ns" route add $VIP/32 dev alp0
  ip -n "$ns" route add $VIP6/128 dev alp0
  ip -n "$ns" route add 203.0.113.0/24 dev alp0
  ip -n "$ns" route add $INET6 dev alp0
}

# `lab.sh queues multi|single`: makes the TUN and the servers' TAPs again, multi-queue (for an
# appliance with several workers, one queue each) or single-queue as `up` makes them; a
# single-queue appliance of an older build cannot attach a multi-queue device, so the workers'
# test puts them back. The bridges, addresses and routes are as `up` made them.
queues() {
  local mq=
  [ "$1" = multi ] && mq=multi_queue
  ip -n "$NS_APP" link del alp0 2>/dev/null || true
  tun_up "$NS_APP" $mq
  for s in "${SERVERS[@]}"; do
    set -- $s
    ip -n "$NS_APP" link del alp-$1 2>/dev/null || true
    ip -n "$NS_APP" tuntap add mode tap name alp-$1 $mq
    ip -n "$NS_APP" link set alp-$1 master br-$1
    ip -n "$NS_APP" link set alp-$1 up
  done
}

# --- The HA sort (issue 16): `lab.sh ha up|down|keepalived-start a|b|keepalived-stop a|b`, on
# top of the host sort's lab. A second appliance host, salab-app2 (B; salab-app is A), shares
# the intranet and the server segments with A:
#   salab-client   bridge br-lan carries the client's addresses (taken from c0, now its port)
#                  and joins c0 (to A's intra0) and lan-b (to B's intra0): one L2, without
#                  multicast snooping (VRRP's 224.0.0.18 and ff02::12 reach every port)
#   salab-app  A   intra0 198.18.0.3/24 and 2001:db8:18::3/64 instead of .1 and ::1
#   salab-app2 B   intra0 198.18.0.4/24 and 2001:db8:18::4/64; its own TUN alp0 with the same
#                  routes as A's; per server of conf/ (sa..sd), a bridge br-sX without an
#                  address holding B's TAP alp-sX and veth pa-sX, whose peer pb-sX is a port of
#                  A's br-sX: each segment is one L2 holding both appliances' TAPs. A's kernel
#                  keeps 198.19.N.254 (the way back from the internet through sa); B has none.
#                  Forwards, rp_filter loose, as A
# 198.18.0.1 and 2001:db8:18::1, the client's next hop, become keepalived's shared addresses
# (VRRPv3, router id 18): keepalived in each appliance namespace moves them, A at priority 150,
# B at 100. Each appliance has its configuration directory, a copy of conf/ with its own
# control socket and ha.ini ([sync] between .3 and .4 port 7500, one key made at `ha up`,
# [vrrp]), and keepalived.conf written there by `socksalp keepalived` (this clone's dist/).
# `ha down` (and `down`) stops the keepalived instances by pid and puts the normal lab back as
# `up` made it.
NS_APP2=$PREFIX-app2
HA=$RUN/ha
HA_NIC=intra0
HA_BRIDGE=br-lan
HA_ROUTER_ID=18
HA_SYNC_PORT=7500
# name namespace IPv4 IPv6 priority (the appliances of the pair)
HA_APPLIANCES=("a $NS_APP 198.18.0.3 2001:db8:18::3 150" "b $NS_APP2 198.18.0.4 2001:db8:18::4 100")
REPO=$(cd "$(dirname "$0")/../.." && pwd)

ha_entry() {
  local e
  for e in "${HA_APPLIANCES[@]}"; do [ "${e%% *}" = "$1" ] && { echo "$e"; return 0; }; done
  log "no HA appliance named ${1:-} (a or b)"
  return 1
}

# An appliance's control socket, in a directory of its own: a test's ApplianceProcess removes
# the socket's directory when it stops the appliance.
ha_socket() { echo "$HA/$1-control/control.sock"; }

ha_is_up() { [ -f "$HA/up" ] && ns_exists "$NS_APP2"; }

# $HA/NAME: a copy of conf/'s appliance.ini, alp.ini and servers.ini with the appliance's own
# control socket, its ha.ini and keepalived.conf. NAME ADDR PRIORITY PEER
ha_conf() {
  local name=$1 addr=$2 prio=$3 peer=$4 dir=$HA/$1 f
  mkdir -p "$dir"
  for f in appliance.ini alp.ini servers.ini; do cp "$REPO/conf/$f" "$dir/$f"; done
  sed -i "s|^control_socket = .*|control_socket = $(ha_socket "$name")|" "$dir/appliance.ini"
  install -m 600 "$HA/ha.key" "$dir/ha.key"
  printf '%s\n' '[sync]' "listen = $addr:$HA_SYNC_PORT" "peers = $peer:$HA_SYNC_PORT" 'key_file = ha.key' '' \
    '[vrrp]' "interface = $HA_NIC" "router_id = $HA_ROUTER_ID" "priority = $prio" "address = 198.18.0.1/24, $APP6/64" 'preempt = no' >"$dir/ha.ini"
  node "$REPO/dist/appliance/cli/index.js" keepalived --config "$dir" >"$dir/keepalived.conf"
}

ha_build() {
  local s
  mkdir -p "$HA"
  ip netns add "$NS_APP2"
  ip netns exec "$NS_APP2" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip -n "$NS_APP2" link set lo up

  # The intranet as one L2: the client's addresses move from c0 to br-lan, c0 becomes its port.
  # The bridge takes c0's MAC: the client's addresses keep their MAC as they move onto it and
  # back, so no neighbour (A's kernel) is left with one that no longer answers.
  ip -n "$NS_CLIENT" link add "$HA_BRIDGE" address "$(ip netns exec "$NS_CLIENT" cat /sys/class/net/c0/address)" type bridge mcast_snooping 0
  ip -n "$NS_CLIENT" addr flush dev c0 scope global
  ip -n "$NS_CLIENT" link set c0 master "$HA_BRIDGE"
  ip link add lan-b netns "$NS_CLIENT" type veth peer name "$HA_NIC" netns "$NS_APP2"
  ip -n "$NS_CLIENT" link set lan-b master "$HA_BRIDGE"
  ip -n "$NS_CLIENT" addr add 198.18.0.2/24 dev "$HA_BRIDGE"
  ip -n "$NS_CLIENT" addr add $CLIENT6/64 dev "$HA_BRIDGE"
  ip -n "$NS_CLIENT" link set lan-b up
  ip -n "$NS_CLIENT" link set "$HA_BRIDGE" up
  client_routes host

  # A's own addresses instead of the next hop's, which keepalived now holds.
  ip -n "$NS_APP" addr flush dev "$HA_NIC" scope global
  ip -n "$NS_APP" addr add 198.18.0.3/24 dev "$HA_NIC"
  ip -n "$NS_APP" addr add 2001:db8:18::3/64 dev "$HA_NIC"
  ip -n "$NS_APP2" addr add 198.18.0.4/24 dev "$HA_NIC"
  ip -n "$NS_APP2" addr add 2001:db8:18::4/64 dev "$HA_NIC"
  ip -n "$NS_APP2" link set "$HA_NIC" up

  # B's host as A's: forwarding, loose reverse-path filter (build's reasons), the TUN.
  ip netns exec "$NS_APP2" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=2
  tun_up "$NS_APP2"
  # Each segment of conf/'s servers reaches B's TAP through a veth from A's bridge.
  for s in $VM_SERVERS; do
    ip link add pb-$s netns "$NS_APP" type veth peer name pa-$s netns "$NS_APP2"
    ip -n "$NS_APP" link set pb-$s master br-$s
    ip -n "$NS_APP" link set pb-$s up
    segment_bridge br-$s alp-$s pa-$s "$NS_APP2"
  done

  (umask 077 && head -c 32 /dev/urandom | base64 >"$HA/ha.key")
  ha_conf a 198.18.0.3 150 198.18.0.4
  ha_conf b 198.18.0.4 100 198.18.0.3
  wait_addresses
  touch "$HA/up"
}

# keepalived for appliance a or b in its namespace, in the foreground as a lab child: its pid
# files and log under $HA, only the VRRP process (no checkers, no BFD).
ha_keepalived_start() {
  local entry pid
  entry=$(ha_entry "$1")
  set -- $entry
  pid=$(cat "$HA/keepalived-$1.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && alive "$pid"; then log "keepalived $1 already runs (pid $pid)"; return 0; fi
  spawn "$2" "ha/keepalived-$1" keepalived --dont-fork --log-console --log-detail --vrrp \
    -f "$HA/$1/keepalived.conf" -p "$HA/$1/keepalived.pid" -r "$HA/$1/vrrp.pid"
}

ha_keepalived_stop() {
  local entry f
  entry=$(ha_entry "$1")
  set -- $entry
  f=$HA/keepalived-$1.pid
  if [ -f "$f" ]; then stop_pid "$(cat "$f")"; fi
  rm -f "$f"
}

ha_up() {
  if [ "$(cat "$RUN/appliance" 2>/dev/null)" != host ] || ! status host 2>/dev/null; then
    log "the lab is not up for an appliance on the host: lab.sh up first"
    return 1
  fi
  if ecmp_is_up; then log "the ECMP sort is up: lab.sh ecmp down first"; return 1; fi
  if ha_is_up; then log "ha already up"; return 0; fi
  ha_down
  trap 'log "ha setup failed at line $LINENO: $BASH_COMMAND"; [ -n "${SOCKSALP_LAB_KEEP_FAILED:-}" ] || ha_down' ERR
  ha_build
  trap - ERR
  log "ha up: appliances A in $NS_APP (198.18.0.3) and B in $NS_APP2 (198.18.0.4), sharing 198.18.0.1 and $APP6 on $HA_NIC once keepalived runs (lab.sh ha keepalived-start a|b)"
}

# Stops keepalived and whatever else runs in B's namespace, deletes it (and its veths: lan-b in
# the client, pb-sX in A) and puts the normal lab back: 198.18.0.1 and $APP6 on A's intra0,
# the client's addresses and routes on c0. Safe at any point, and when no HA part is there.
ha_down() {
  local f pid
  for f in "$HA"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ]; then stop_pid "$pid"; fi
  done
  if ns_exists "$NS_APP2"; then
    for pid in $(ip netns pids "$NS_APP2" 2>/dev/null); do stop_pid "$pid"; done
    ip netns del "$NS_APP2"
  fi
  if ns_exists "$NS_CLIENT" && ip -n "$NS_CLIENT" link show "$HA_BRIDGE" >/dev/null 2>&1; then
    ip -n "$NS_CLIENT" link del "$HA_BRIDGE"
    ip -n "$NS_CLIENT" addr replace 198.18.0.2/24 dev c0
    ip -n "$NS_CLIENT" addr replace $CLIENT6/64 dev c0
    client_routes host
  fi
  if ns_exists "$NS_APP" && [[ $(ip -n "$NS_APP" addr show dev "$HA_NIC" 2>/dev/null) == *' 198.18.0.3/'* ]]; then
    ip -n "$NS_APP" addr flush dev "$HA_NIC" scope global
    ip -n "$NS_APP" addr add 198.18.0.1/24 dev "$HA_NIC"
    ip -n "$NS_APP" addr add $APP6/64 dev "$HA_NIC"
  fi
  # The client may still have 198.18.0.1 at B's MAC (B was master last): asked again at once.
  if ns_exists "$NS_CLIENT"; then ip -n "$NS_CLIENT" neigh flush dev c0; fi
  rm -rf "$HA"
}

# The HA sort's facts, when it is up: after env_facts' in `lab.sh env`.
ha_env() {
  ha_is_up || return 0
  local e up
  echo "LAB_HA=up"
  echo "LAB_HA_NIC=$HA_NIC"
  echo "LAB_HA_BRIDGE=$HA_BRIDGE"
  echo "LAB_HA_ROUTER_ID=$HA_ROUTER_ID"
  echo "LAB_HA_SHARED=198.18.0.1"
  echo "LAB_HA_SHARED6=$APP6"
  echo "LAB_HA_KEY_FILE=$HA/ha.key"
  for e in "${HA_APPLIANCES[@]}"; do
    set -- $e
    up=${1^^}
    echo "LAB_HA_${up}_NS=$2"
    echo "LAB_HA_${up}_ADDRESS=$3"
    echo "LAB_HA_${up}_ADDRESS6=$4"
    echo "LAB_HA_${up}_PRIORITY=$5"
    echo "LAB_HA_${up}_CONF=$HA/$1"
    echo "LAB_HA_${up}_SOCKET=$(ha_socket "$1")"
    echo "LAB_HA_${up}_SYNC=$3:$HA_SYNC_PORT"
    echo "LAB_HA_${up}_KEEPALIVED_CONF=$HA/$1/keepalived.conf"
    echo "LAB_HA_${up}_KEEPALIVED_LOG=$HA/keepalived-$1.log"
  done
}

ha() {
  case "${1:-}" in
    up) ha_up ;;
    down) ha_down ;;
    keepalived-start)
      ha_is_up || { log "the HA sort is not up: lab.sh ha up first"; return 1; }
      ha_keepalived_start "${2:?a or b}"
      ;;
    keepalived-stop) ha_keepalived_stop "${2:?a or b}" ;;
    *) log "usage: lab.sh ha up | down | keepalived-start a|b | keepalived-stop a|b"; return 2 ;;
  esac
}

# --- The ECMP sort (issue 16): `lab.sh ecmp up|down|bgp-status`, on top of the host sort's lab,
# never together with the HA sort. Three appliances behind an FRR router that spreads the
# client's flows over them by ECMP, each announcing the VIPs by BGP while its appliance runs:
#   salab-client   unchanged: 198.18.0.2 and 2001:db8:18::2 on c0, its routes via 198.18.0.1
#                  and 2001:db8:18::1
#   salab-rtr      the intranet's router: lan0 198.18.0.1/24 and 2001:db8:18::1/64 (A's intra0,
#                  the client's peer, moved here and renamed: its MAC stays, so the client's
#                  neighbour entry stays right); bridge br-core 198.18.10.1/24 and
#                  2001:db8:18:10::1/64 with a veth to each appliance's intra0 (the core L2);
#                  zebra + bgpd, AS 65100, multipath over eBGP from any AS on the core;
#                  198.19/16, 203.0.113/24 and their IPv6 twins via A (routed traffic goes
#                  through A's kernel, as in the normal lab); L4 flow hashing; the VIP routes
#                  installed by ecmp-follower.js through resilient next-hop groups
#   salab-app  A   intra0 198.18.10.11/24 and 2001:db8:18:10::11/64 (a new veth to br-core)
#   salab-app2 B   intra0 198.18.10.12 and ::12; its own TUN alp0, as ha_build makes B
#   salab-app3 C   intra0 198.18.10.13 and ::13; likewise
# Each appliance routes the client's subnets via the router, runs zebra + staticd + bgpd (AS
# 65101, 65102, 65103) announcing 198.18.0.100/32 and 2001:db8:18:100::100/128 while its TUN has
# carrier, i.e. while an appliance process holds alp0 open. Per server of conf/ (sa..sd), each
# segment is one L2 holding the three TAPs alp-sX: B's and C's bridge br-sX reach A's br-sX by a
# veth each (pa-sX in B and C, pb-sX and pc-sX in A). Each appliance has its configuration
# directory under $RUN/ecmp, a copy of conf/ with its own control socket, its own `local`
# address on each segment (A .1, B .3, C .4) and ha.ini: [sync] to the other two (one key made
# at `ecmp up`) as member 1, 2 or 3 of 3, and [bgp], from which `socksalp frr` (this clone's
# dist/) writes its frr.conf. Every FRR daemon is a lab child started by pid, each instance's
# files (frr.conf, pid files, vty and zserv sockets) in $RUN/ecmp/frr/NAME. `ecmp down` (and
# `down`, and `up`) puts the normal lab back as `up` made it.
NS_APP3=$PREFIX-app3
NS_RTR=$PREFIX-rtr
ECMP=$RUN/ecmp
ECMP_LAN=lan0
ECMP_CORE=br-core
ECMP_RTR4=198.18.10.1
ECMP_RTR6=2001:db8:18:10::1
ECMP_RTR_AS=65100
ECMP_CORE4=198.18.10.0/24
ECMP_CORE6=2001:db8:18:10::/64
# name namespace IPv4 IPv6 AS member-number host-number-on-the-segments (the appliances)
ECMP_APPLIANCES=(
  "a $NS_APP 198.18.10.11 2001:db8:18:10::11 65101 1 1"
  "b $NS_APP2 198.18.10.12 2001:db8:18:10::12 65102 2 3"
  "c $NS_APP3 198.18.10.13 2001:db8:18:10::13 65103 3 4"
)
# The router's next-hop groups (one per family: a group's members are of one family) and each
# member's next hop, id = group + member number. Far above the small ids zebra gives its own.
ECMP_GROUP=18100
ECMP_GROUP6=18600
# Resilient groups (Linux nexthop-group-resilient.rst): 64 buckets, 21 or 22 per appliance. A
# removed member's buckets move at once, whatever the timers; an added member takes buckets
# from the others only as they go idle: a bucket that carried no packet for 1 s (not the
# kernel's 120 s default) holds no flow in mid-transfer in the lab, so a returning member gets
# its share within about a second of the next quiet moment, while busy buckets (a download in
# progress) keep their appliance. unbalanced_timer 0: a busy bucket is never moved by force.
ECMP_BUCKETS=64
ECMP_IDLE_TIMER=1
ECMP_UNBALANCED_TIMER=0
# BGP timers of each session (ha.ini [bgp], the router's peer groups): a dead bgpd, whose
# routes nothing withdraws, is dropped after ECMP_HOLD_S.
ECMP_KEEPALIVE_S=1
ECMP_HOLD_S=3

ecmp_is_up() { [ -f "$ECMP/up" ] && ns_exists "$NS_RTR"; }

# Whether every FRR daemon and the follower still run: an ECMP sort with one gone is built again.
ecmp_alive() {
  local f
  for f in "$ECMP"/*.pid; do
    [ -e "$f" ] && alive "$(cat "$f")" || { log "ecmp: $(basename "$f" .pid) is not running"; return 1; }
  done
}

ecmp_socket() { echo "$ECMP/$1-control/control.sock"; }

# One FRR instance's directory (the router's, rtr, or an appliance's, a|b|c): its daemons'
# configuration files, pid files, zserv socket and vty sockets (vty/, where vtysh finds them).
ecmp_frr_dir() { echo "$ECMP/frr/$1"; }

ecmp_vips_filters() {
  printf '%s\n' "ip prefix-list VIP seq 5 permit $VIP/32" "ipv6 prefix-list VIP6 seq 5 permit $VIP6/128"
}

# $ECMP/NAME: conf/'s appliance.ini, alp.ini and servers.ini with the member's own control
# socket and its own address on each segment (servers answer the member that opened the leg),
# and ha.ini: [sync] to the others as member N of 3, [bgp] to the router for `socksalp frr`.
# NAME ADDR MEMBER HOST AS PEER PEER
ecmp_conf() {
  local name=$1 addr=$2 member=$3 host=$4 as=$5 dir=$ECMP/$1 f
  shift 5
  mkdir -p "$dir"
  for f in appliance.ini alp.ini servers.ini; do cp "$REPO/conf/$f" "$dir/$f"; done
  sed -i "s|^control_socket = .*|control_socket = $(ecmp_socket "$name")|" "$dir/appliance.ini"
  sed -i -e "s|^local = \(198\.19\.[0-9]*\)\.1/|local = \1.$host/|" -e "s|^local = \(2001:db8:19:[0-9a-f]*\)::1/|local = \1::$host/|" "$dir/servers.ini"
  install -m 600 "$ECMP/ha.key" "$dir/ha.key"
  printf '%s\n' '[sync]' "listen = $addr:$HA_SYNC_PORT" "peers = $1:$HA_SYNC_PORT, $2:$HA_SYNC_PORT" 'key_file = ha.key' \
    'role = member' "member = $member" "members = ${#ECMP_APPLIANCES[@]}" '' \
    '[bgp]' "asn = $as" "router_id = $addr" "neighbors = $ECMP_RTR4, $ECMP_RTR6" "neighbor_asn = $ECMP_RTR_AS" \
    "keepalive_s = $ECMP_KEEPALIVE_S" "hold_s = $ECMP_HOLD_S" >"$dir/ha.ini"
}

# The router's frr.conf, for its zebra and bgpd. zebra keeps the VIP routes BGP gives it in its
# RIB but not in the kernel (the route-maps deny them): FRR 8.4 puts BGP's multipath routes in an
# ordinary (hash-threshold) next-hop group, resilience being only for `nexthop-group`
# configurations of sharpd and pbrd; ecmp-follower.js reads the RIB and installs the VIPs
# through resilient groups instead.
ecmp_rtr_frr() {
  {
    printf '%s\n' 'frr defaults traditional' "hostname $NS_RTR" 'log stdout informational'
    # zebra's own next-hop objects off: it learns the kernel's, the follower's among them, and
    # its own ids follow the largest it has seen; installing its own, it could replace them.
    echo 'no zebra nexthop kernel enable'
    ecmp_vips_filters
    printf '%s\n' 'route-map NO-FIB deny 10' ' match ip address prefix-list VIP' 'route-map NO-FIB permit 20' \
      'route-map NO-FIB6 deny 10' ' match ipv6 address prefix-list VIP6' 'route-map NO-FIB6 permit 20' \
      'ip protocol bgp route-map NO-FIB' 'ipv6 protocol bgp route-map NO-FIB6'
    # Dynamic neighbours (any member on the core, any AS: `remote-as external`), so that adding
    # an appliance needs nothing here. RFC 8212 (FRR's ebgp-requires-policy) is kept: a peer's
    # routes are taken through VIPS-IN, the VIPs only, and nothing is sent to the appliances (no
    # outbound policy). multipath-relax: the members' AS paths differ (one AS each), so without
    # it only one would be used. prefer-global: the IPv6 next hop in the RIB is the member's
    # core address, not its link-local one, which the follower could not tell from another.
    local t="timers $ECMP_KEEPALIVE_S $ECMP_HOLD_S"
    printf '%s\n' 'route-map VIPS-IN permit 10' ' match ip address prefix-list VIP' \
      'route-map VIPS6-IN permit 10' ' match ipv6 address prefix-list VIP6' ' set ipv6 next-hop prefer-global' \
      "router bgp $ECMP_RTR_AS" " bgp router-id $ECMP_RTR4" ' no bgp default ipv4-unicast' ' bgp bestpath as-path multipath-relax' \
      ' neighbor APPS peer-group' ' neighbor APPS remote-as external' " neighbor APPS $t" \
      ' neighbor APPS6 peer-group' ' neighbor APPS6 remote-as external' " neighbor APPS6 $t" \
      " bgp listen range $ECMP_CORE4 peer-group APPS" " bgp listen range $ECMP_CORE6 peer-group APPS6" \
      ' address-family ipv4 unicast' '  neighbor APPS activate' '  neighbor APPS route-map VIPS-IN in' '  maximum-paths 8' ' exit-address-family' \
      ' address-family ipv6 unicast' '  neighbor APPS6 activate' '  neighbor APPS6 route-map VIPS6-IN in' '  maximum-paths 8' ' exit-address-family'
  } >"$(ecmp_frr_dir rtr)/frr.conf"
}

# An appliance's frr.conf, for its zebra, staticd and bgpd, is `socksalp frr`'s from its ha.ini
# [bgp]: staticd's routes of the VIPs into alp0 are active only while alp0 has carrier, which
# the kernel gives a persistent TUN only while a process holds it open (the appliance: killed,
# it closes), and bgpd announces them (redistribute static) to the router, and withdraws them
# when zebra takes them away. zebra follows the operational state, which the kernel's linkwatch
# sets from the carrier at most once a second: an appliance's five devices losing carrier
# together, alp0's may wait that second.
ecmp_app_frr() {
  node "$REPO/dist/appliance/cli/index.js" frr --config "$ECMP/$1" >"$(ecmp_frr_dir "$1")/frr.conf"
}

# FRR daemon DAEMON of instance NAME in NS, in the foreground as a lab child: its pid file, vty
# and zserv sockets in the instance's directory, no TCP vty (-P 0), its log to stdout (the lab's
# log file), no configuration of its own (-f /dev/null): the instance's frr.conf is given to
# all its daemons by `vtysh -b` (ecmp_frr_config), as Debian's frr service does with
# /etc/frr/frr.conf. It runs as Debian's user frr, who owns the directory.
ecmp_frr_start() {
  local ns=$1 name=$2 daemon=$3 dir
  dir=$(ecmp_frr_dir "$name")
  spawn "$ns" "ecmp/$name-$daemon" /usr/lib/frr/$daemon -f /dev/null -i "$dir/$daemon.pid" \
    --vty_socket "$dir/vty" -z "$dir/zserv.api" -P 0 --log stdout
}

# Instance NAME's frr.conf, into its running daemons. vtysh.conf (vtysh's own) says that the
# configuration is the integrated one.
ecmp_frr_config() {
  local dir
  dir=$(ecmp_frr_dir "$1")
  echo 'service integrated-vtysh-config' >"$dir/vtysh.conf"
  vtysh --vty_socket "$dir/vty" --config_dir "$dir" -b >>"$ECMP/$1-vtysh.log" 2>&1 ||
    { log "vtysh -b for FRR $1 failed; see $ECMP/$1-vtysh.log"; return 1; }
}

# Waits for DAEMON's vty socket in instance NAME: it is listening once vtysh gets an answer.
ecmp_frr_wait() {
  local name=$1 daemon=$2 dir i
  dir=$(ecmp_frr_dir "$name")
  for i in $(seq 1 100); do
    if vtysh --vty_socket "$dir/vty" -d "$daemon" -c 'show version' >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "FRR $daemon of $name does not answer on $dir/vty; see $ECMP/$name-$daemon.log"
  return 1
}

# The router's BGP sessions that are established, IPv4 and IPv6 together.
ecmp_established() {
  local out n=0
  out=$(vtysh --vty_socket "$(ecmp_frr_dir rtr)/vty" -d bgpd -c 'show bgp summary json' 2>/dev/null) || { echo 0; return 0; }
  while [[ $out == *'"state":"Established"'* ]]; do out=${out#*'"state":"Established"'}; n=$((n + 1)); done
  echo "$n"
}

ecmp_build() {
  local e s ns o others
  mkdir -p "$ECMP"
  for ns in "$NS_RTR" "$NS_APP2" "$NS_APP3"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
  done

  # The client's next hop moves to the router with its device: A's intra0 goes over as lan0.
  ip -n "$NS_APP" link set intra0 netns "$NS_RTR" name "$ECMP_LAN"
  ip -n "$NS_RTR" addr add 198.18.0.1/24 dev "$ECMP_LAN"
  ip -n "$NS_RTR" addr add $APP6/64 dev "$ECMP_LAN"
  ip -n "$NS_RTR" link set "$ECMP_LAN" up
  ip -n "$NS_RTR" link add "$ECMP_CORE" type bridge
  ip -n "$NS_RTR" addr add $ECMP_RTR4/24 dev "$ECMP_CORE"
  ip -n "$NS_RTR" addr add $ECMP_RTR6/64 dev "$ECMP_CORE"
  ip -n "$NS_RTR" link set "$ECMP_CORE" up
  # Forwarding, and ECMP by the L4 hash (addresses, protocol and ports): every connection of
  # the one client has a hash of its own, so connections spread (policy 0 hashes addresses
  # only: one client, one appliance).
  ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  # What only A's kernel carries in the normal lab (the segments, the routed internet).
  ip -n "$NS_RTR" route add 198.19.0.0/16 via 198.18.10.11
  ip -n "$NS_RTR" route add 203.0.113.0/24 via 198.18.10.11
  ip -n "$NS_RTR" route add $SEGMENTS6 via 2001:db8:18:10::11
  ip -n "$NS_RTR" route add $INET6 via 2001:db8:18:10::11

  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    ip link add core-$1 netns "$NS_RTR" type veth peer name intra0 netns "$2"
    ip -n "$NS_RTR" link set core-$1 master "$ECMP_CORE"
    ip -n "$NS_RTR" link set core-$1 up
    ip -n "$2" addr add $3/24 dev intra0
    ip -n "$2" addr add $4/64 dev intra0
    ip -n "$2" link set intra0 up
    # The client's side is the router's: its subnets, and the rest of the lab's intranet.
    ip -n "$2" route add 198.18.0.0/24 via $ECMP_RTR4
    ip -n "$2" route add 2001:db8:18::/64 via $ECMP_RTR6
    if [ "$2" != "$NS_APP" ]; then
      # B's and C's hosts as A's (ha_build's reasons): forwarding, loose reverse-path filter, the TUN.
      ip netns exec "$2" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=2
      tun_up "$2"
      for s in $VM_SERVERS; do
        ip link add p$1-$s netns "$NS_APP" type veth peer name pa-$s netns "$2"
        ip -n "$NS_APP" link set p$1-$s master br-$s
        ip -n "$NS_APP" link set p$1-$s up
        segment_bridge br-$s alp-$s pa-$s "$2"
      done
    fi
    # The VIPs' routes into alp0 are staticd's (ecmp_app_frr): zebra prefers a kernel route
    # (distance 0) to a static one, and the kernel keeps a route on a device without carrier
    # (flagged linkdown), so tun_up's would hide the carrier from BGP.
    ip -n "$2" route del $VIP/32 dev alp0
    ip -n "$2" -6 route del $VIP6/128 dev alp0
  done

  (umask 077 && head -c 32 /dev/urandom | base64 >"$ECMP/ha.key")
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    others=()
    for o in "${ECMP_APPLIANCES[@]}"; do o=${o#* * }; o=${o%% *}; [ "$o" = "$3" ] || others+=("$o"); done
    ecmp_conf "$1" "$3" "$6" "$7" "$5" "${others[@]}"
  done

  # FRR: the router's zebra and bgpd, each appliance's zebra, staticd and bgpd; zebra first
  # (the others connect to its zserv socket), then each instance's frr.conf once all its
  # daemons answer. The instances' directories belong to frr.
  mkdir -p "$(ecmp_frr_dir rtr)/vty"
  ecmp_rtr_frr
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    mkdir -p "$(ecmp_frr_dir "$1")/vty"
    ecmp_app_frr "$1"
  done
  chown -R frr:frr "$ECMP/frr"
  ecmp_frr_start "$NS_RTR" rtr zebra
  for e in "${ECMP_APPLIANCES[@]}"; do set -- $e; ecmp_frr_start "$2" "$1" zebra; done
  ecmp_frr_wait rtr zebra
  ecmp_frr_start "$NS_RTR" rtr bgpd
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    ecmp_frr_wait "$1" zebra
    ecmp_frr_start "$2" "$1" staticd
    ecmp_frr_start "$2" "$1" bgpd
  done
  ecmp_frr_wait rtr bgpd
  ecmp_frr_config rtr
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    ecmp_frr_wait "$1" staticd
    ecmp_frr_wait "$1" bgpd
    ecmp_frr_config "$1"
  done

  # The follower: the router's VIP routes through resilient groups, from zebra's RIB.
  local members=()
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    members+=(--member "$3=$((ECMP_GROUP + $6))" --member "$4=$((ECMP_GROUP6 + $6))")
  done
  spawn "$NS_RTR" ecmp/follower node "$REPO/dist/test/lab/ecmp-follower.js" --vty "$(ecmp_frr_dir rtr)/vty/zebra.vty" \
    --dev "$ECMP_CORE" --buckets $ECMP_BUCKETS --idle-timer $ECMP_IDLE_TIMER --unbalanced-timer $ECMP_UNBALANCED_TIMER \
    --route "$VIP/32=$ECMP_GROUP" --route "$VIP6/128=$ECMP_GROUP6" "${members[@]}"

  # Every member's two sessions up (the appliances announce nothing yet: no appliance runs).
  local i want=$((2 * ${#ECMP_APPLIANCES[@]}))
  for i in $(seq 1 101); do
    [ "$(ecmp_established)" = "$want" ] && break
    [ "$i" = 101 ] && { log "the router has $(ecmp_established) of $want BGP sessions established; see $ECMP/*.log"; return 1; }
    sleep 0.1
  done
  wait_addresses
  touch "$ECMP/up"
}

ecmp_up() {
  if [ "$(cat "$RUN/appliance" 2>/dev/null)" != host ] || ! status host 2>/dev/null; then
    log "the lab is not up for an appliance on the host: lab.sh up first"
    return 1
  fi
  if ha_is_up; then log "the HA sort is up: lab.sh ha down first"; return 1; fi
  if ecmp_is_up && ecmp_alive; then log "ecmp already up"; return 0; fi
  ecmp_down
  trap 'log "ecmp setup failed at line $LINENO: $BASH_COMMAND"; [ -n "${SOCKSALP_LAB_KEEP_FAILED:-}" ] || ecmp_down' ERR
  ecmp_build
  trap - ERR
  log "ecmp up: router $NS_RTR (198.18.0.1, core $ECMP_RTR4), appliances A $NS_APP, B $NS_APP2, C $NS_APP3 ($ECMP_CORE4 .11-.13), each announcing the VIPs while its appliance runs"
}

# Waits until A's intra0, back from the router, is as `up` left it: up (the kernel's link watch
# reports the veth's carrier a moment later) and with its link-local address again.
ecmp_wait_intra0() {
  local i
  for i in $(seq 1 50); do
    if [ "$(ip netns exec "$NS_APP" cat /sys/class/net/intra0/operstate)" = up ] &&
      [ -n "$(ip -n "$NS_APP" -6 addr show dev intra0 scope link)" ]; then return 0; fi
    sleep 0.1
  done
  log "A's intra0 did not come up again"
  return 1
}

# Stops the FRR daemons and the follower by pid and whatever else runs in the ECMP sort's
# namespaces, gives A its intra0 back (the router's lan0) and deletes the router's, B's and C's
# namespaces (and their veths: core-X, pb-sX and pc-sX in A). Safe at any point, and when no
# ECMP part is there.
ecmp_down() {
  local f pid ns
  for f in "$ECMP"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ]; then stop_pid "$pid"; fi
  done
  for ns in "$NS_RTR" "$NS_APP2" "$NS_APP3"; do
    ns_exists "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$pid"; done
  done
  if ns_exists "$NS_RTR" && ip -n "$NS_RTR" link show "$ECMP_LAN" >/dev/null 2>&1 && ns_exists "$NS_APP"; then
    # A's intra0 is the core's veth now; the original (the client's peer) takes its place again.
    ip -n "$NS_APP" link del intra0 2>/dev/null || true
    ip -n "$NS_RTR" link set "$ECMP_LAN" netns "$NS_APP" name intra0
    ip -n "$NS_APP" addr add 198.18.0.1/24 dev intra0
    ip -n "$NS_APP" addr add $APP6/64 dev intra0
    ip -n "$NS_APP" link set intra0 up
    ecmp_wait_intra0
  fi
  if ns_exists "$NS_APP"; then
    # What A's zebra left if it was killed (its static VIP routes use its next-hop objects; the
    # normal lab has none), and the VIP routes tun_up made.
    ip -n "$NS_APP" nexthop flush >/dev/null 2>&1 || true
    if ip -n "$NS_APP" link show alp0 >/dev/null 2>&1; then
      ip -n "$NS_APP" route replace $VIP/32 dev alp0
      ip -n "$NS_APP" -6 route replace $VIP6/128 dev alp0
    fi
  fi
  for ns in "$NS_RTR" "$NS_APP2" "$NS_APP3"; do
    if ns_exists "$ns"; then ip netns del "$ns"; fi
  done
  # c0 lost its carrier while its peer moved: its routes are made again as up makes them (a
  # replace, so nothing changes where they stayed), and neighbours asked again.
  if ns_exists "$NS_CLIENT" && ip -n "$NS_CLIENT" link show c0 >/dev/null 2>&1; then
    client_routes host
    ip -n "$NS_CLIENT" neigh flush dev c0
  fi
  rm -rf "$ECMP"
}

# `lab.sh ecmp bgp-status`: the router's BGP sessions and what the follower installed.
ecmp_bgp_status() {
  ecmp_is_up || { log "the ECMP sort is not up: lab.sh ecmp up first"; return 1; }
  vtysh --vty_socket "$(ecmp_frr_dir rtr)/vty" -c 'show bgp summary' -c "show bgp ipv4 unicast $VIP/32" -c "show bgp ipv6 unicast $VIP6/128"
  echo "--- kernel (salab-rtr):"
  ip -n "$NS_RTR" route show $VIP/32
  ip -n "$NS_RTR" -6 route show $VIP6/128
  ip -n "$NS_RTR" nexthop show id $ECMP_GROUP 2>/dev/null || echo "no group $ECMP_GROUP"
  ip -n "$NS_RTR" nexthop show id $ECMP_GROUP6 2>/dev/null || echo "no group $ECMP_GROUP6"
}

# The ECMP sort's facts, when it is up: after env_facts' in `lab.sh env`.
ecmp_env() {
  ecmp_is_up || return 0
  local e up
  echo "LAB_ECMP=up"
  echo "LAB_ECMP_RTR_NS=$NS_RTR"
  echo "LAB_ECMP_RTR_LAN=$ECMP_LAN"
  echo "LAB_ECMP_RTR_CORE=$ECMP_CORE"
  echo "LAB_ECMP_RTR_ADDRESS=$ECMP_RTR4"
  echo "LAB_ECMP_RTR_ADDRESS6=$ECMP_RTR6"
  echo "LAB_ECMP_RTR_AS=$ECMP_RTR_AS"
  echo "LAB_ECMP_RTR_VTY=$(ecmp_frr_dir rtr)/vty"
  echo "LAB_ECMP_RTR_FRR_CONF=$(ecmp_frr_dir rtr)/frr.conf"
  echo "LAB_ECMP_GROUP=$ECMP_GROUP"
  echo "LAB_ECMP_GROUP6=$ECMP_GROUP6"
  echo "LAB_ECMP_BUCKETS=$ECMP_BUCKETS"
  echo "LAB_ECMP_IDLE_TIMER=$ECMP_IDLE_TIMER"
  echo "LAB_ECMP_UNBALANCED_TIMER=$ECMP_UNBALANCED_TIMER"
  echo "LAB_ECMP_FOLLOWER_LOG=$ECMP/follower.log"
  echo "LAB_ECMP_KEY_FILE=$ECMP/ha.key"
  echo "LAB_ECMP_KEEPALIVE_S=$ECMP_KEEPALIVE_S"
  echo "LAB_ECMP_HOLD_S=$ECMP_HOLD_S"
  echo "LAB_ECMP_MEMBERS=$(for e in "${ECMP_APPLIANCES[@]}"; do printf '%s,' "${e%% *}"; done | sed 's/,$//')"
  for e in "${ECMP_APPLIANCES[@]}"; do
    set -- $e
    up=${1^^}
    echo "LAB_ECMP_${up}_NS=$2"
    echo "LAB_ECMP_${up}_ADDRESS=$3"
    echo "LAB_ECMP_${up}_ADDRESS6=$4"
    echo "LAB_ECMP_${up}_AS=$5"
    echo "LAB_ECMP_${up}_MEMBER=$6"
    echo "LAB_ECMP_${up}_SEGMENT_HOST=$7"
    echo "LAB_ECMP_${up}_NEXTHOP=$((ECMP_GROUP + $6))"
    echo "LAB_ECMP_${up}_NEXTHOP6=$((ECMP_GROUP6 + $6))"
    echo "LAB_ECMP_${up}_CONF=$ECMP/$1"
    echo "LAB_ECMP_${up}_SOCKET=$(ecmp_socket "$1")"
    echo "LAB_ECMP_${up}_SYNC=$3:$HA_SYNC_PORT"
    echo "LAB_ECMP_${up}_VTY=$(ecmp_frr_dir "$1")/vty"
    echo "LAB_ECMP_${up}_FRR_CONF=$(ecmp_frr_dir "$1")/frr.conf"
  done
}

ecmp() {
  case "${1:-}" in
    up) ecmp_up ;;
    down) ecmp_down ;;
    bgp-status) ecmp_bgp_status ;;
    *) log "usage: lab.sh ecmp up | down | bgp-status"; return 2 ;;
  esac
}

appliance=host
case "${2:-}" in
  --vm) appliance=vm ;;
  "") ;;
  *) [ "$1" = stop-server ] || [ "$1" = start-server ] || [ "$1" = queues ] || [ "$1" = ha ] || [ "$1" = ecmp ] || { log "unknown option ${2}"; exit 2; } ;;
esac
case "${1:-}" in
  up)
    # up gives the normal lab: what a run left of the HA or ECMP sort (it ended without ha down
    # or ecmp down) goes first.
    ha_down
    ecmp_down
    if status "$appliance" 2>/dev/null; then log "already up"; exit 0; fi
    down
    trap 'log "setup failed at line $LINENO: $BASH_COMMAND"; [ -n "${SOCKSALP_LAB_KEEP_FAILED:-}" ] || down' ERR
    build "$appliance"
    trap - ERR
    log "up: client $NS_CLIENT, appliance $NS_APP, servers $(for s in "${SERVERS[@]}"; do set -- $s; printf '%s ' "$PREFIX-$1"; done)"
    ;;
  down) down ;;
  stop-server) stop_server "${2:?server name}" ;;
  start-server) start_server "${2:?server name}"; wait_server "$2" ;;
  status) status "$appliance" ;;
  tun) tun_up "$NS_APP" ;;
  queues) queues "${2:?multi or single}" ;;
  env) env_facts; ha_env; ecmp_env ;;
  ha) shift; ha "$@" ;;
  ecmp) shift; ecmp "$@" ;;
  *) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
