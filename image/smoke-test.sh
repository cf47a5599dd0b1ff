#!/usr/bin/env bash
# npm run image:smoke: boots image/out/socksalp.qcow2 under qemu with software emulation (no
# KVM here), without NICs and without the lab, and waits for the appliance's "running" line and
# the dashboard on the serial console: a quick check that the image boots at all (the appliance
# runs even when the NICs its INI files name are missing). The full test is npm run image:test.
# A copy of the image is booted, and qemu is stopped by its pid whatever happens.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
IMAGE=image/out/socksalp.qcow2
[ -f "$IMAGE" ] || { echo "smoke: no $IMAGE; run npm run image first" >&2; exit 1; }
tmp=$(mktemp -d)
qemu_pid=
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$IMAGE" "$tmp/disk.qcow2"
start=$(date +%s)
qemu-system-x86_64 -m 1024 -smp 1 -display none -no-reboot -net none \
  -drive file="$tmp/disk.qcow2",if=virtio,format=qcow2 -serial file:"$tmp/serial.log" 2>"$tmp/qemu.log" &
qemu_pid=$!
for _ in $(seq 1 300); do
  if grep -aq 'socksalp: running:' "$tmp/serial.log" 2>/dev/null && grep -aq 'conf /etc/socksalp' "$tmp/serial.log"; then
    echo "smoke: booted under TCG; the appliance running and the dashboard on the serial console after $(( $(date +%s) - start )) s"
    grep -a 'socksalp: running:' "$tmp/serial.log" | tail -n1 | sed 's/^.*socksalp: /  socksalp: /'
    exit 0
  fi
  kill -0 "$qemu_pid" 2>/dev/null || break
  sleep 1
done
echo "smoke: the appliance did not come up; the serial console said:" >&2
tail -n 30 "$tmp/serial.log" >&2
exit 1
