#!/bin/bash -e
# pi-gen: copy this camaudit checkout into the image and run deploy.sh inside it.
# ROOTFS_DIR and on_chroot come from pi-gen; CAMAUDIT_SRC / CAMAUDIT_CONFIG from its config.
src="${CAMAUDIT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)}"
config="${CAMAUDIT_CONFIG:-$src/config/picamera.yaml}"
rm -rf "${ROOTFS_DIR}/tmp/camaudit-src"
mkdir -p "${ROOTFS_DIR}/tmp/camaudit-src"
tar -C "$src" --exclude=.git --exclude=.venv --exclude=.cache -cf - . | tar -C "${ROOTFS_DIR}/tmp/camaudit-src" -xf -
install -m 0644 "$config" "${ROOTFS_DIR}/tmp/camaudit-src/site-config.yaml"
on_chroot <<'CHROOT'
/tmp/camaudit-src/deploy.sh --root / --config /tmp/camaudit-src/site-config.yaml --no-start --no-key --skip-camera-check
rm -rf /tmp/camaudit-src
CHROOT
