#!/bin/sh
# Leaves out the kernel modules a lab VM never needs, then rebuilds the module index and the
# initramfs. $1: the root filesystem (an mmdebstrap customize hook).
#
# Kept: what qemu, GNS3, EVE-NG, libvirt, VMware and Hyper-V offer as disks and NICs (virtio,
# e1000/e1000e/igb, rtl8139/r8169, pcnet, vmxnet3, netvsc; IDE/SATA/SCSI/NVMe), bridges,
# TUN/TAP, VLANs, netfilter, and keyboards for the VGA console. Dropped: sound, GPUs, wireless,
# media, exotic buses and file systems, host RAID and fibre-channel adapters, test modules, and
# whatever needs one of those.
set -eu
root=$1
for kernel in "$root"/usr/lib/modules/*; do
  k=$kernel/kernel
  for tree in sound drivers/gpu drivers/media drivers/infiniband drivers/net/wireless drivers/bluetooth \
      drivers/staging drivers/iio drivers/isdn drivers/mtd drivers/input/touchscreen drivers/input/joystick \
      drivers/hwmon drivers/thunderbolt drivers/fpga drivers/nfc drivers/comedi drivers/platform drivers/video \
      drivers/mmc drivers/md drivers/atm drivers/edac drivers/ufs drivers/soundwire drivers/nvdimm drivers/w1 \
      drivers/pcmcia drivers/firewire drivers/accessibility drivers/message drivers/crypto drivers/target \
      drivers/usb/serial drivers/usb/gadget drivers/usb/misc drivers/net/usb drivers/net/can drivers/net/wwan \
      drivers/net/arcnet drivers/net/wan drivers/net/hamradio drivers/net/ieee802154 drivers/net/fddi \
      drivers/net/hippi drivers/net/appletalk drivers/net/plip drivers/net/slip drivers/net/fjes \
      net/wireless net/mac80211 net/bluetooth net/nfc net/can net/sunrpc net/ceph net/tipc net/rxrpc \
      net/atm net/rds net/smc net/6lowpan net/ieee802154 net/mac802154 net/batman-adv net/x25 net/appletalk \
      fs/nfs fs/nfsd fs/lockd fs/ceph fs/ocfs2 fs/gfs2 fs/xfs fs/btrfs fs/smb fs/cifs fs/f2fs fs/ubifs \
      fs/afs fs/jfs fs/reiserfs fs/nilfs2 fs/ntfs3 fs/dlm fs/orangefs fs/coda fs/cachefiles fs/fscache; do
    rm -rf "${k:?}/$tree"
  done
  # Ethernet: the emulated and paravirtual adapters only.
  find "$k/drivers/net/ethernet" -mindepth 1 -maxdepth 1 ! -name intel ! -name realtek ! -name amd \
    ! -name 8390 -exec rm -rf {} +
  find "$k/drivers/net/ethernet/intel" -mindepth 1 -maxdepth 1 ! -name e1000 ! -name e1000e ! -name igb \
    ! -name igbvf ! -name e100.ko -exec rm -rf {} +
  # SCSI: the core, disks, CD-ROMs and the virtual adapters, not host bus adapters.
  find "$k/drivers/scsi" -mindepth 1 -maxdepth 1 -type d ! -name device_handler -exec rm -rf {} +
  find "$k/drivers/scsi" -maxdepth 1 -name '*.ko' ! -name scsi_mod.ko ! -name sd_mod.ko ! -name sr_mod.ko \
    ! -name sg.ko ! -name virtio_scsi.ko ! -name vmw_pvscsi.ko ! -name hv_storvsc.ko ! -name scsi_common.ko \
    ! -name 'scsi_transport_*.ko' ! -name ses.ko ! -name ch.ko -exec rm -f {} +
  rm -f "$k"/lib/test_*.ko "$k"/lib/*/test_*.ko
  # A module that needs a dropped one goes too, until none is left wanting (the package's
  # modules.dep, still the old one, names every module's dependencies).
  while :; do
    orphans=$(cd "$kernel" && while IFS=: read -r module deps; do
      [ -e "$module" ] || continue
      for dep in $deps; do [ -e "$dep" ] || { echo "$module"; break; }; done
    done <modules.dep)
    [ -n "$orphans" ] || break
    (cd "$kernel" && echo "$orphans" | xargs rm -f)
  done
  # What the appliance and the hypervisors' usual devices need must have survived.
  for module in virtio_net virtio_blk virtio_scsi virtio_pci e1000 e1000e 8139cp vmxnet3 pcnet32 ext4 \
      bridge tun 8021q af_packet sd_mod sr_mod ata_piix ahci nvme; do
    grep -q "/$module.ko" "$kernel/modules.builtin" \
      || [ -n "$(find "$k" -name "$module.ko*" -print -quit)" ] \
      || { echo "slim-modules: $module is gone" >&2; exit 1; }
  done
  chroot "$root" depmod -a "${kernel##*/}"
done
chroot "$root" update-initramfs -u -k all
