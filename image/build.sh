#!/usr/bin/env bash
# npm run image: builds image/out/socksalp.qcow2, a bootable Debian bookworm with the appliance.
#
#   1. mmdebstrap makes the root filesystem from the apt sources configured on this machine
#      (no mirror is named here): kernel, systemd, iproute2, Node.js, tcpdump, ping; kernel
#      modules no appliance VM can use are left out (image/slim-modules.sh).
#   2. The appliance goes to /opt/socksalp (compiled code, production node_modules, the fdwatch
#      addon) and conf/ to /etc/socksalp with the VM's NICs filled in (eth0 the intranet, eth1..
#      the servers' segments, in servers.ini's order); a systemd unit runs it.
#   3. A 2 GiB disk with one ext4 partition (label socksalp-root) gets the tree, through one loop
#      device at the partition's offset (no partition nodes needed), and GRUB for BIOS: the MBR
#      code from boot.img and grub-mkimage's core.img in the gap after the MBR (its built-in
#      block list already points at sector 2, so no grub-bios-setup is needed). Serial console
#      on ttyS0 and VGA on tty1.
#   4. qemu-img turns it into qcow2; socksalp.gns3a is written beside it with its checksum.
# Runs as root; every mount and loop device is undone on exit, failure included.
#
# --ha a|b builds one appliance of the HA pair (issue 16) instead: image/out/socksalp-ha-a.qcow2
# (or -b), with keepalived and socat, ha.ini (image/ha.ini.template: the same for both but for
# the role's own eth0 address, its peer's and its VRRP priority; image/conf.sh) and
# keepalived.conf written from it at every start of keepalived. No sync key is built in.
#
# Reproducible up to timestamps: SOURCE_DATE_EPOCH is the last commit's time (mmdebstrap and
# mkinitramfs honour it), the file system's UUID and hash seed are fixed, the password hash has
# a fixed salt. image/out/manifest.txt lists every file of the root with its mode, owner and
# sha256 but no time: two builds from one commit and one package set give the same manifest.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# The disk is mounted in a mount namespace of the build's own: a namespace another process makes
# meanwhile (ip netns exec, on a host running the lab) copies the host's mounts, and its copy
# keeps the file system alive after our umount, the tree left in its journal (seen twice on
# 2026-12-02: the VM stopped at "grub>", finding no grub.cfg).
if [ -z "${SOCKSALP_IMAGE_OWN_MOUNTS:-}" ] && [ "$(id -u)" = 0 ]; then
  exec env SOCKSALP_IMAGE_OWN_MOUNTS=1 unshare --mount --propagation private bash image/build.sh "$@"
fi
HA=
while [ $# -gt 0 ]; do
  case $1 in
    --ha) HA=${2-?}; shift; [ $# -eq 0 ] || shift ;;
    --ha=*) HA=${1#--ha=}; shift ;;
    *) printf 'image: unknown argument "%s" (usage: build.sh [--ha a|b])\n' "$1" >&2; exit 2 ;;
  esac
  case $HA in
    ''|a|b) ;;
    *) printf 'image: --ha takes a or b (the appliance of the pair), not "%s"\n' "$HA" >&2; exit 2 ;;
  esac
done
OUT=image/out
WORK=$OUT/work
KEEP_TAR=${SOCKSALP_IMAGE_KEEP_ROOTFS:-}
PACKAGES=linux-image-amd64,systemd-sysv,udev,kmod,iproute2,iputils-ping,tcpdump,nodejs,procps,less,nano,ethtool
# The pair's: keepalived for VRRP, socat for its health script (appliance/host/keepalived-health.sh).
[ -z "$HA" ] || PACKAGES=$PACKAGES,keepalived,socat
NAME=socksalp${HA:+-ha-$HA}
ROOTFS=$WORK/rootfs${HA:+-ha}.tar
MANIFEST=$OUT/manifest${HA:+-ha-$HA}.txt
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
FS_UUID=5c0c5a1b-0000-4000-8000-000000000001
VERSION=$(node -p 'require("./package.json").version')

log() { printf 'image: %s\n' "$*" >&2; }

need() {
  local missing=() item
  for item in mmdebstrap:mmdebstrap qemu-img:qemu-utils grub-mkimage:grub-pc-bin sfdisk:fdisk mkfs.ext4:e2fsprogs openssl:openssl; do
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

if [ ! -f "$ROOTFS" ]; then
  log "root filesystem (mmdebstrap, bookworm)"
  # merged-usr: /usr merged by a hook rather than the usrmerge package, which needs Perl.
  mmdebstrap --variant=apt --include="$PACKAGES" --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook="sh $PWD/image/slim-modules.sh \"\$1\"" \
    bookworm "$ROOTFS"
fi

log "disk"
raw=$WORK/disk.raw
rm -f "$raw"
truncate -s 2G "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
loop=$(losetup -o $((2048 * 512)) -f --show "$raw")
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -L socksalp-root -U "$FS_UUID" -E hash_seed="$FS_UUID" "$loop"
mkdir -p "$WORK/mnt"
mount "$loop" "$WORK/mnt"
root=$WORK/mnt
tar -C "$root" -xf "$ROOTFS"

log "the appliance"
app=$root/opt/socksalp
mkdir -p "$app" "$root/etc/socksalp"
cp -r dist package.json package-lock.json "$app/"
# keepalived's health script for an HA pair (socksalp keepalived names it there).
install -D -m 0755 appliance/host/keepalived-health.sh "$app/appliance/host/keepalived-health.sh"
mkdir -p "$app/build/Release"
[ -f build/Release/fdwatch.node ] && cp build/Release/fdwatch.node "$app/build/Release/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
rm -rf "$app/dist/test"
bash image/conf.sh "$root/etc/socksalp" $HA
# eth0's own addresses, for the console's greeting and the GNS3 template.
eth0=$(sed -n 's/^address = //p' "$root/etc/socksalp/appliance.ini")
mkdir -p "$root/usr/local/bin"
printf '#!/bin/sh\nexec node /opt/socksalp/dist/appliance/cli/index.js "$@"\n' >"$root/usr/local/bin/socksalp"
chmod +x "$root/usr/local/bin/socksalp"
install -m 0644 image/socksalp.service "$root/etc/systemd/system/socksalp.service"
ln -sf /etc/systemd/system/socksalp.service "$root/etc/systemd/system/multi-user.target.wants/socksalp.service"
if [ -n "$HA" ]; then
  # The pair: socksalp and keepalived start once the key is there (socksalp-ha-key.service says
  # so at boot while it is not); keepalived.conf comes from ha.ini at each start of keepalived.
  install -D -m 0644 image/socksalp.service.d/ha-key.conf "$root/etc/systemd/system/socksalp.service.d/ha-key.conf"
  install -D -m 0644 image/keepalived.service.d/socksalp.conf "$root/etc/systemd/system/keepalived.service.d/socksalp.conf"
  install -D -m 0755 image/keepalived.conf.sh "$root/usr/local/lib/socksalp/keepalived-conf"
  install -m 0644 image/socksalp-ha-key.service "$root/etc/systemd/system/socksalp-ha-key.service"
  ln -sf /etc/systemd/system/socksalp-ha-key.service "$root/etc/systemd/system/multi-user.target.wants/socksalp-ha-key.service"
  ln -sf /lib/systemd/system/keepalived.service "$root/etc/systemd/system/multi-user.target.wants/keepalived.service"
fi
# tty1 and the serial console show the dashboard; quitting it (q) gives a login prompt.
install -D -m 0755 image/console.sh "$root/usr/local/lib/socksalp/console"
for unit in getty@tty1 serial-getty@ttyS0; do
  mkdir -p "$root/etc/systemd/system/$unit.service.d"
  printf '[Service]\nExecStart=\nExecStart=-/usr/local/lib/socksalp/console %%I\nStandardInput=tty\nStandardOutput=tty\nTTYPath=/dev/%%I\n' \
    >"$root/etc/systemd/system/$unit.service.d/socksalp-dashboard.conf"
done
ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"

log "system settings"
echo "$NAME" >"$root/etc/hostname"
echo 'LABEL=socksalp-root / ext4 defaults,noatime 0 1' >"$root/etc/fstab"
printf 'socksalp %s\n' "$VERSION" >"$root/etc/socksalp-release"
printf 'socksalp %s: the SOCKS ALP dispatcher (\\l)\nLog in as root, password socksalp (change it with passwd). INI files: /etc/socksalp\n\n' \
  "$VERSION" >"$root/etc/issue"
[ -z "$HA" ] || printf 'HA pair, appliance %s (eth0 %s): the pair'"'"'s sync key goes into /etc/socksalp/ha.key (0600); ha.ini says more.\n\n' \
  "$HA" "$eth0" >>"$root/etc/issue"
# The documented default login (image/README.md says how to change it); a fixed salt keeps
# the build reproducible, and the password is meant to be changed anyway.
chroot "$root" usermod -p "$(openssl passwd -6 -salt socksalpimage socksalp)" root
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
  linux /boot/$kernel root=LABEL=socksalp-root ro net.ifnames=0 console=tty1 console=ttyS0,115200n8
  initrd /boot/$initrd
}
EOF
# Every file's type, mode, owner, size and link target, then every regular file's sha256.
(cd "$root" && find . -xdev \( -path ./lost+found -o -path ./proc -o -path ./sys -o -path ./dev \) -prune \
   -o -printf '%y %m %u:%g %s %p -> %l\n' | LC_ALL=C sort -k5 \
 && find . -xdev -path ./lost+found -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$MANIFEST"
grub-mkimage -O i386-pc -o "$WORK/core.img" -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 normal linux configfile search search_label serial terminal echo test
[ "$(stat -c %s "$WORK/core.img")" -lt $((2047 * 512)) ] || { log "core.img does not fit before the partition"; exit 1; }
cleanup
# The file system must be whole in disk.raw now, as GRUB reads it (no journal replay): not
# marked needs_recovery, grub.cfg readable. Checked on a read-only loop device.
sync "$raw"
loop=$(losetup -r -o $((2048 * 512)) -f --show "$raw")
case " $(dumpe2fs -h "$loop" 2>/dev/null | sed -n 's/^Filesystem features: *//p') " in
  *' needs_recovery '*) log "the file system still needs journal recovery after unmounting it"; exit 1 ;;
esac
debugfs -R 'cat /boot/grub/grub.cfg' "$loop" 2>/dev/null | grep -q '^menuentry "socksalp"' \
  || { log "/boot/grub/grub.cfg cannot be read from the disk without its journal"; exit 1; }
losetup -d "$loop"
loop=
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

log "qcow2"
qemu-img convert -c -O qcow2 "$raw" "$OUT/$NAME.qcow2"
ln -f "$OUT/$NAME.qcow2" "$OUT/$NAME-$VERSION.qcow2"
node -e '
  const fs = require("fs");
  const [template, md5sum, filesize, version, name, role, address, out] = process.argv.slice(1);
  const a = JSON.parse(fs.readFileSync(template, "utf8"));
  const filename = `${name}-${version}.qcow2`;  // the hard link beside NAME.qcow2
  if (role) {
    // One appliance of the pair: its own name and id, so that GNS3 holds both.
    a.appliance_id = a.appliance_id.slice(0, -2) + "0" + role;
    a.name = a.product_name = name;
    a.usage = a.usage.replace(/eth0 faces the intranet \([^)]*\)/, `eth0 faces the intranet (${address}; keepalived puts the shared next hop 198.18.0.1 on the master)`) +
      ` HA pair, appliance ${role}: put the pair'"'"'s key (the same on both) into /etc/socksalp/ha.key (chmod 600), then: systemctl start socksalp keepalived.`;
  }
  a.images = [{ filename, version, md5sum, filesize: Number(filesize) }];
  a.versions = [{ name: version, images: { hda_disk_image: filename } }];
  fs.writeFileSync(out, JSON.stringify(a, null, 4) + "\n");' image/socksalp.gns3a \
  "$(md5sum <"$OUT/$NAME.qcow2" | cut -c1-32)" "$(stat -c %s "$OUT/$NAME.qcow2")" "$VERSION" "$NAME" "$HA" \
  "$eth0" "$OUT/$NAME.gns3a"
rm -f "$raw" "$WORK/core.img"
[ -n "$KEEP_TAR" ] || rm -f "$ROOTFS"
log "done in $(( $(date +%s) - started )) s: $OUT/$NAME.qcow2, $(du -h "$OUT/$NAME.qcow2" | cut -f1)"
