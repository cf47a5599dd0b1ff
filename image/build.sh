#!/usr/bin/env bash
# npm run image: builds image/out/socksalp.qcow2, a bootable Debian bookworm with the appliance.
#
#   1. mmdebstrap makes the root filesystem from the apt sources configured on this machine
#      (no mirror is named here): kernel, systemd, iproute2, Node.js, tcpdump, ping.
#   2. The appliance goes to /opt/socksalp (compiled code, production node_modules, the fdwatch
#      addon) and conf/ to /etc/socksalp; a systemd unit runs it (check before start and reload).
#   3. A 2 GiB disk with one ext4 partition (label socksalp-root) gets the tree, through one loop
#      device at the partition's offset (no partition nodes needed), and GRUB for BIOS: the MBR
#      code from boot.img and grub-mkimage's core.img in the gap after the MBR (its built-in
#      block list already points at sector 2, so no grub-bios-setup is needed). Serial console
#      on ttyS0 and VGA on tty1.
#   4. qemu-img turns it into qcow2.
# Runs as root; every mount and loop device is undone on exit, failure included.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
OUT=image/out
WORK=$OUT/work
KEEP_TAR=${SOCKSALP_IMAGE_KEEP_ROOTFS:-}
PACKAGES=linux-image-amd64,systemd-sysv,udev,kmod,iproute2,iputils-ping,tcpdump,nodejs,procps,less,nano,ethtool

log() { printf 'image: %s\n' "$*" >&2; }

need() {
  local missing=() item
  for item in mmdebstrap:mmdebstrap qemu-img:qemu-utils grub-mkimage:grub-pc-bin sfdisk:fdisk mkfs.ext4:e2fsprogs; do
    command -v "${item%%:*}" >/dev/null 2>&1 || missing+=("${item#*:}")
  done
  [ -e /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

loop=
cleanup() {
  mountpoint -q "$WORK/mnt" && umount "$WORK/mnt"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  loop=
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || { log "run as root (loop devices, mounts, chroot)"; exit 1; }
need
[ -f dist/appliance/cli/index.js ] || { log "build first: npm run build"; exit 1; }
mkdir -p "$WORK"
started=$(date +%s)

if [ ! -f "$WORK/rootfs.tar" ]; then
  log "root filesystem (mmdebstrap, bookworm)"
  mmdebstrap --variant=apt --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$WORK/rootfs.tar"
fi

log "disk"
raw=$WORK/disk.raw
rm -f "$raw"
truncate -s 2G "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
loop=$(losetup -o $((2048 * 512)) -f --show "$raw")
mkfs.ext4 -q -L socksalp-root "$loop"
mkdir -p "$WORK/mnt"
mount "$loop" "$WORK/mnt"
root=$WORK/mnt
tar -C "$root" -xf "$WORK/rootfs.tar"

log "the appliance"
app=$root/opt/socksalp
mkdir -p "$app" "$root/etc/socksalp"
cp -r dist package.json package-lock.json "$app/"
mkdir -p "$app/build/Release"
[ -f build/Release/fdwatch.node ] && cp build/Release/fdwatch.node "$app/build/Release/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
rm -rf "$app/dist/test"
cp conf/*.ini "$root/etc/socksalp/"
mkdir -p "$root/usr/local/bin"
printf '#!/bin/sh\nexec node /opt/socksalp/dist/appliance/cli/index.js "$@"\n' >"$root/usr/local/bin/socksalp"
chmod +x "$root/usr/local/bin/socksalp"
install -m 0644 image/socksalp.service "$root/etc/systemd/system/socksalp.service"
ln -sf /etc/systemd/system/socksalp.service "$root/etc/systemd/system/multi-user.target.wants/socksalp.service"
# tty1 and the serial console show the dashboard; quitting it (q) gives a login prompt.
install -D -m 0755 image/console.sh "$root/usr/local/lib/socksalp/console"
for unit in getty@tty1 serial-getty@ttyS0; do
  mkdir -p "$root/etc/systemd/system/$unit.service.d"
  printf '[Service]\nExecStart=\nExecStart=-/usr/local/lib/socksalp/console %%I\nStandardInput=tty\nStandardOutput=tty\nTTYPath=/dev/%%I\n' \
    >"$root/etc/systemd/system/$unit.service.d/socksalp-dashboard.conf"
done
ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"

log "system settings"
echo socksalp >"$root/etc/hostname"
echo 'LABEL=socksalp-root / ext4 defaults,noatime 0 1' >"$root/etc/fstab"
# The documented default login (image/README.md says how to change it).
chroot "$root" sh -c 'echo root:socksalp | chpasswd'
kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n1)
initrd=initrd.img-${kernel#vmlinuz-}

log "boot loader"
mkdir -p "$root/boot/grub"
cp -r /usr/lib/grub/i386-pc "$root/boot/grub/"
cat >"$root/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
menuentry "socksalp" {
  search --no-floppy --label --set=root socksalp-root
  linux /boot/$kernel root=LABEL=socksalp-root ro console=tty1 console=ttyS0,115200n8
  initrd /boot/$initrd
}
EOF
grub-mkimage -O i386-pc -o "$WORK/core.img" -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 normal linux configfile search search_label serial terminal echo test
[ "$(stat -c %s "$WORK/core.img")" -lt $((2047 * 512)) ] || { log "core.img does not fit before the partition"; exit 1; }
cleanup
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

log "qcow2"
qemu-img convert -c -O qcow2 "$raw" "$OUT/socksalp.qcow2"
rm -f "$raw" "$WORK/core.img"
[ -n "$KEEP_TAR" ] || rm -f "$WORK/rootfs.tar"
log "done in $(( $(date +%s) - started )) s: $OUT/socksalp.qcow2, $(du -h "$OUT/socksalp.qcow2" | cut -f1)"
