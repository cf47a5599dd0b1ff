#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, and nothing that is there already:
# the lab's Debian packages (real SOCKS servers, web server, tools) and the npm dependencies.
# Idempotent; run by "npm run lab" and "npm test" before anything else. As root it also installs
# the `socksalp` command (/usr/local/bin/socksalp, for this clone), as the VM image does. With
# --image, also what the VM image's boot test needs (npm run image:test): qemu.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."

# command-that-proves-it-is-installed:debian-package
NEEDED=(
  ip:iproute2
  ss:iproute2
  bridge:iproute2
  danted:dante-server
  microsocks:microsocks
  nginx:nginx-light
  socat:socat
  curl:curl
  nft:nftables
  ping:iputils-ping
  tmux:tmux
  ssh:openssh-client
  ssh-keygen:openssh-client
  sshd:openssh-server
  sha256sum:coreutils
  dig:bind9-dnsutils
  nsd:nsd
  nsd-checkzone:nsd
  tcpdump:tcpdump
  promtool:prometheus
  tshark:tshark
  nfcapd:nfdump
  nfdump:nfdump
  strace:strace
  perf:linux-perf
  ndisc6:ndisc6
  keepalived:keepalived
  vtysh:frr
)
[ "${1:-}" != --image ] || NEEDED+=(qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils)
missing=()
for item in "${NEEDED[@]}"; do
  cmd=${item%%:*} pkg=${item#*:}
  if ! PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1; then
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  # The lab starts its own servers inside namespaces; the packages' services stay off.
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; made_policy=1; fi
  trap '[ -z "$made_policy" ] || rm -f $policy' EXIT
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian services the lab's packages bring, kept off: the lab runs its own nsd in salab-inet,
# its own keepalived in each appliance namespace (lab.sh ha) and its own FRR daemons in the
# router's and the appliances' namespaces (lab.sh ecmp), and of prometheus only promtool is
# wanted (the metrics test checks the appliance's text with it). Debian enables nsd (listening
# on every address's port 53), keepalived (when /etc/keepalived/keepalived.conf exists), frr
# (watchfrr with zebra and staticd, which would manage the host's own routes) and prometheus
# (a server on port 9090 scraping localhost); policy-rc.d keeps them from starting at install,
# and here they are also kept from starting at boot and stopped if something started them
# anyway. Idempotent: nothing is done once a service is disabled and stopped.
# keep_off NAME WHY DAEMON PIDFILE [DAEMON PIDFILE ...]: each daemon the service starts.
keep_off() {
  local name=$1 why=$2
  [ "$(id -u)" = 0 ] || return 0
  [ -e "/etc/init.d/$name" ] || [ -e "/lib/systemd/system/$name.service" ] || return 0
  if [ -d /run/systemd/system ]; then
    if systemctl is-enabled -q "$name" 2>/dev/null || systemctl is-active -q "$name" 2>/dev/null; then
      echo "setup: disabling and stopping the system $name ($why)" >&2
      systemctl disable --now -q "$name"
    fi
  else
    # No systemd running: the sysvinit links and systemd's (update-rc.d removes both), and the
    # daemon its init script would have started.
    if compgen -G "/etc/rc[2345].d/S*$name" >/dev/null || compgen -G "/etc/systemd/system/*.wants/$name.service" >/dev/null; then
      echo "setup: disabling the system $name at boot ($why)" >&2
      update-rc.d "$name" disable >/dev/null 2>&1 || true
    fi
    local pid daemon pidfile
    shift 2
    while [ $# -ge 2 ]; do
      daemon=$1 pidfile=$2
      shift 2
      pid=$(cat "$pidfile" 2>/dev/null || true)
      if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$daemon" ]; then
        echo "setup: stopping the system $name's ${daemon##*/}, pid $pid ($why)" >&2
        kill -TERM "$pid"
      fi
    done
  fi
}
keep_off nsd 'the lab runs its own' /usr/sbin/nsd /run/nsd/nsd.pid
keep_off keepalived 'the lab runs its own, in its namespaces' /usr/sbin/keepalived /run/keepalived.pid
# watchfrr first: it would start again the daemons stopped after it.
keep_off frr 'the lab runs its own, in its namespaces' /usr/lib/frr/watchfrr /run/frr/watchfrr.pid \
  /usr/lib/frr/zebra /run/frr/zebra.pid /usr/lib/frr/staticd /run/frr/staticd.pid /usr/lib/frr/bgpd /run/frr/bgpd.pid
keep_off prometheus 'the lab needs only promtool' /usr/bin/prometheus /run/prometheus/prometheus.pid

# Debian's nfdump starts an nfcapd only for each /etc/nfdump/*.conf, and ships none: nothing to
# stop. The IPFIX lab test runs its own nfcapd in a namespace, by pid.

# npm dependencies: reinstalled only when package-lock.json differs from the one they were
# installed from (its hash, kept beside them; a fresh checkout's mtimes say nothing). A
# node_modules that is a symlink is another clone's, lent: never reinstalled from here.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  echo "setup: node_modules is a link to $(readlink -f node_modules); leaving it as it is" >&2
elif [ "$(cat node_modules/.socksalp-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund
  echo "$lock_sum" > node_modules/.socksalp-lock-sha256
fi

# The `socksalp` command the README's lines use, for this clone (the last one set up wins).
cmd=/usr/local/bin/socksalp
want=$(printf '#!/bin/sh\n# socksalp for the clone at %s, written by its test/lab/setup-host.sh\nexec node %q "$@"\n' "$PWD" "$PWD/dist/appliance/cli/index.js")
if [ "$(id -u)" = 0 ]; then
  if [ "$(cat "$cmd" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" >"$cmd.new" && chmod 755 "$cmd.new" && mv "$cmd.new" "$cmd"
    echo "setup: $cmd now runs the socksalp of $PWD" >&2
  fi
elif ! command -v socksalp >/dev/null 2>&1; then
  echo "setup: not root, so no socksalp command was installed; use: node $PWD/dist/appliance/cli/index.js" >&2
fi
