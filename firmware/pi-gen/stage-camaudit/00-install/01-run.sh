#!/bin/bash -e
# pi-gen: copy this camaudit checkout into the image and run deploy.sh inside it.
# ROOTFS_DIR and on_chroot come from pi-gen; CAMAUDIT_SRC / CAMAUDIT_CONFIG from its config,
# and CAMAUDIT_WHEELS (optional): a folder of wheels to install from instead of PyPI.
# The checkout goes to /root/camaudit-checkout: not /tmp, which pi-gen's on_chroot covers
# with a tmpfs, and not deploy.sh's own staging folder (it makes a fresh one in /tmp).
src="${CAMAUDIT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)}"
config="${CAMAUDIT_CONFIG:-$src/config/picamera.yaml}"
dest="${ROOTFS_DIR}/root/camaudit-checkout"
rm -rf "$dest"
mkdir -p "$dest"
tar -C "$src" --exclude=.git --exclude=.venv --exclude=.cache -cf - . | tar -C "$dest" -xf -
install -m 0644 "$config" "$dest/site-config.yaml"
if [ -n "${CAMAUDIT_WHEELS:-}" ]; then cp -r "$CAMAUDIT_WHEELS" "$dest/wheels"; fi
on_chroot <<'CHROOT'
/root/camaudit-checkout/deploy.sh --root / --config /root/camaudit-checkout/site-config.yaml --no-start --no-key --skip-camera-check \
  $([ -d /root/camaudit-checkout/wheels ] && echo --wheels /root/camaudit-checkout/wheels)
rm -rf /root/camaudit-checkout
CHROOT
