#!/usr/bin/env bash
# shellcheck disable=SC2013,SC2119,SC2120  # as in pi-gen: on_chroot reads stdin; package lists are words
# Runs a pi-gen stage folder into ROOTFS_DIR the way pi-gen's build.sh does (run_stage and
# run_sub_stage): prerun.sh, then per sub-stage NN-packages (apt-get install inside the root)
# and NN-run.sh with ROOTFS_DIR exported and on_chroot defined as in pi-gen's scripts/common:
# /proc, /dev, /dev/pts and /sys bound in, tmpfs on /run and /tmp, then
# `capsh --drop=cap_setfcap --chroot=ROOTFS_DIR -- -e` reading the commands on stdin.
#   tests/deploy/pigen_stage.sh ROOTFS_DIR STAGE_DIR
# Packages that are only in Raspberry Pi OS's archive (python3-picamera2, ...) are left out
# when the root's apt does not know them; they are named in the output.
set -euo pipefail
ROOTFS_DIR="$(cd "${1:?usage: pigen_stage.sh ROOTFS_DIR STAGE_DIR}" && pwd)"
STAGE_DIR="$(cd "${2:?usage: pigen_stage.sh ROOTFS_DIR STAGE_DIR}" && pwd)"
export ROOTFS_DIR STAGE_DIR
export CAMAUDIT_WHEELS="${CAMAUDIT_WHEELS:-}"

is_mounted() { grep -q " $(realpath "$1") " /proc/mounts; }
on_chroot() {
  is_mounted "$ROOTFS_DIR/proc" || mount -t proc proc "$ROOTFS_DIR/proc"
  is_mounted "$ROOTFS_DIR/dev" || mount --bind /dev "$ROOTFS_DIR/dev"
  is_mounted "$ROOTFS_DIR/dev/pts" || mount --bind /dev/pts "$ROOTFS_DIR/dev/pts"
  is_mounted "$ROOTFS_DIR/sys" || mount --bind /sys "$ROOTFS_DIR/sys"
  is_mounted "$ROOTFS_DIR/run" || mount -t tmpfs tmpfs "$ROOTFS_DIR/run"
  is_mounted "$ROOTFS_DIR/tmp" || mount -t tmpfs tmpfs "$ROOTFS_DIR/tmp"
  capsh --drop=cap_setfcap "--chroot=$ROOTFS_DIR/" -- -e "$@"
}
export -f on_chroot is_mounted
unmount_all() {  # pi-gen's `unmount` at the end of every stage
  local m
  for m in $(awk -v r="$ROOTFS_DIR/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" || umount -l "$m"
  done
}
trap unmount_all EXIT

cd "$STAGE_DIR"
if [ -x prerun.sh ]; then ./prerun.sh; fi
on_chroot <<'EOF2'
apt-get update -q >/dev/null
EOF2
for sub in "$STAGE_DIR"/*/; do
  [ -f "$sub/SKIP" ] && continue
  cd "$sub"
  for i in $(seq -w 0 99); do
    if [ -f "$i-packages" ]; then
      keep=()
      for p in $(sed -e 's/#.*//' "$i-packages"); do
        if chroot "$ROOTFS_DIR" apt-cache show "$p" >/dev/null 2>&1; then keep+=("$p")
        else echo "pigen_stage: $p is not in this root's apt sources (Raspberry Pi OS only): left out"; fi
      done
      if [ ${#keep[@]} -gt 0 ]; then
        on_chroot <<EOF2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${keep[*]} >/dev/null
EOF2
      fi
    fi
    if [ -x "$i-run.sh" ]; then echo "pigen_stage: $sub$i-run.sh"; "./$i-run.sh"; fi
    if [ -f "$i-run-chroot.sh" ]; then on_chroot <"$i-run-chroot.sh"; fi
  done
done
echo "pigen_stage: done"
