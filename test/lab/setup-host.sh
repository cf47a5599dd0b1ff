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

# npm dependencies: reinstalled only when the lock file is newer than what is installed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund
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
