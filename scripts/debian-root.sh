#!/usr/bin/env bash
# Builds a minimal Debian root for the deploy tests and the arm64 check, once, and caches it:
#   scripts/debian-root.sh DEST [ARCH] [SUITE]
# ARCH amd64 (default): a complete root (debootstrap), usable with chroot.
# ARCH arm64: `debootstrap --foreign` (first stage only: the packages are unpacked, none of
# their binaries run on this machine), usable with `qemu-aarch64-static -L DEST`.
# Built into DEST.part and renamed at the end, so an interrupted build is never reused.
set -euo pipefail
dest="${1:?usage: debian-root.sh DEST [ARCH] [SUITE]}"
arch="${2:-amd64}"
suite="${3:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
include="python3,python3-venv,ca-certificates"
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  # python3-pip, systemd-timesyncd: present as on Raspberry Pi OS; systemd: booted as PID 1 in a container
  # (tests/deploy/test_boot.py); python3-numpy, python3-scipy: Debian's numpy and an extension
  # built against it, the Pi camera stack's situation (tests/deploy/test_pi_gen.py);
  # iproute2: `ip` for the offline upgrade test
  include="$include,python3-pip,systemd,systemd-sysv,systemd-timesyncd,dbus,python3-numpy,python3-scipy,iproute2"
fi
if [ -e "$dest/.complete" ] && grep -qxF "include=$include" "$dest/.complete"; then
  echo "debian-root: reusing $dest"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "debian-root: error: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debian-root: error: debootstrap is not installed" >&2; exit 1; }
part="$dest.part"
rm -rf "$part"
mkdir -p "$(dirname "$dest")"
start=$(date +%s)
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  debootstrap --variant=minbase --include="$include" "$suite" "$part" "$mirror" >"$part.log" 2>&1 \
    || { tail -n 20 "$part.log" >&2; echo "debian-root: error: debootstrap failed (log: $part.log)" >&2; exit 1; }
else
  debootstrap --foreign --arch="$arch" --variant=minbase --include="$include" "$suite" "$part" "$mirror" \
    >"$part.log" 2>&1 \
    || { tail -n 20 "$part.log" >&2; echo "debian-root: error: debootstrap failed (log: $part.log)" >&2; exit 1; }
  # second stage would run the packages' scripts (needs emulation); unpack them instead
  for deb in "$part"/var/cache/apt/archives/*.deb; do
    dpkg-deb -x "$deb" "$part"
  done
fi
rm -rf "$dest"
mv "$part" "$dest"
mv "$part.log" "$dest.log"
printf 'built in %s s\ninclude=%s\n' "$(( $(date +%s) - start ))" "$include" >"$dest/.complete"
echo "debian-root: built $dest ($arch $suite) in $(( $(date +%s) - start )) s"
