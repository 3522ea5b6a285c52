// The base image recipe as data: the Debian release, the packages, and the files written into
// the root filesystem after debootstrap. Its digest names the cache folder, so changing any
// of it (or the machine's mirror) builds a new image and an unchanged recipe reuses the old.
import { createHash } from 'node:crypto';
import { renderDeb822, type AptSource } from './apt-sources.js';
import { labNetwork, slotCount, userNetDns, vmSlot } from './layout.js';

/** Bump when the build steps change in a way the data below does not show. */
const buildStepsVersion = 1;

export const suite = 'bookworm';

/** What LAB.md lists for a VM the stages can run on, plus the kernel for -kernel/-initrd. */
export const packages = [
  'systemd', 'systemd-sysv', 'dbus', 'udev', 'kmod', 'e2fsprogs', 'netbase',
  'openssh-server', 'openssh-client', 'iproute2', 'iputils-ping', 'procps',
  'ca-certificates', 'curl', 'iptables', 'initramfs-tools', 'linux-image-amd64',
] as const;

/** systemd units enabled (or masked) inside the image. */
export const enabledUnits = ['systemd-networkd.service', 'klab-lab-boot.service'] as const;
/** apt's daily timers would take the dpkg lock in the middle of a stage. */
export const maskedUnits = ['apt-daily.timer', 'apt-daily-upgrade.timer'] as const;

/** Size of the root filesystem; the raw image is sparse, so unused space costs nothing. */
export const imageSize = '8G';

export interface GuestFile {
  path: string;
  mode: number;
  content: string;
}

// Runs on every boot before sshd. Host keys are made here, on first boot, so no two VMs
// share them; the lab's public key comes on the kernel command line, so the cached image
// holds no lab's key; the host keys go to the serial console, where `klab lab` reads and
// pins them before its first SSH connection.
const bootScript = `#!/bin/sh
set -eu
for type in ed25519 ecdsa; do
  file=/etc/ssh/ssh_host_\${type}_key
  [ -e "$file" ] || ssh-keygen -q -t "$type" -N '' -f "$file"
done
key=
for word in $(cat /proc/cmdline); do
  case "$word" in
    klab.authorized_key=*) key=$(printf '%s' "\${word#klab.authorized_key=}" | base64 -d) ;;
  esac
done
if [ -n "$key" ]; then
  install -d -m 700 /root/.ssh
  touch /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  grep -qxF "$key" /root/.ssh/authorized_keys || printf '%s\\n' "$key" >> /root/.ssh/authorized_keys
fi
for pub in /etc/ssh/ssh_host_*_key.pub; do
  printf 'klab-host-key %s\\n' "$(cut -d' ' -f1,2 "$pub")"
done
`;

// Only ed25519 and ECDSA host keys: an RSA key takes tens of seconds to generate under TCG.
const sshdConfig = 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n';

const bootUnit = `[Unit]
Description=klab lab: SSH host keys and the lab's authorized key
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/klab-lab-boot
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target ssh.service
`;

function networkFiles(): GuestFile[] {
  const slots = Array.from({ length: slotCount }, (_, i) => vmSlot(i + 1));
  const nat: GuestFile = {
    path: '/etc/systemd/network/10-klab-nat.network',
    mode: 0o644,
    content: `[Match]\nMACAddress=${slots.map((s) => s.natMac).join(' ')}\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n`,
  };
  const lab = slots.map(
    (s): GuestFile => ({
      path: `/etc/systemd/network/20-klab-lab-${s.slot}.network`,
      mode: 0o644,
      content: `[Match]\nMACAddress=${s.labMac}\n\n[Network]\nAddress=${s.internalAddress}/${labNetwork.prefixLength}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
    }),
  );
  return [nat, ...lab];
}

export function guestFiles(sources: readonly AptSource[]): GuestFile[] {
  return [
    { path: '/etc/fstab', mode: 0o644, content: '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' },
    { path: '/etc/resolv.conf', mode: 0o644, content: `nameserver ${userNetDns}\n` },
    { path: '/etc/hosts', mode: 0o644, content: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' },
    { path: '/etc/apt/sources.list', mode: 0o644, content: '' },
    { path: '/etc/apt/sources.list.d/debian.sources', mode: 0o644, content: renderDeb822(sources) },
    { path: '/etc/ssh/sshd_config.d/10-klab-lab.conf', mode: 0o644, content: sshdConfig },
    { path: '/usr/local/sbin/klab-lab-boot', mode: 0o755, content: bootScript },
    { path: '/etc/systemd/system/klab-lab-boot.service', mode: 0o644, content: bootUnit },
    ...networkFiles(),
  ];
}

export interface Recipe {
  suite: string;
  mirror: string;
  sources: AptSource[];
  packages: readonly string[];
  files: GuestFile[];
  imageSize: string;
}

export function makeRecipe(mirror: string, sources: AptSource[]): Recipe {
  return { suite, mirror, sources, packages, files: guestFiles(sources), imageSize };
}

/** A short, stable name for the recipe: the cache folder of its image. */
export function recipeDigest(recipe: Recipe): string {
  const canonical = JSON.stringify({ buildStepsVersion, enabledUnits, maskedUnits, ...recipe });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
