#!/usr/bin/env bash
# make check-arm64: camaudit on emulated arm64 (qemu user mode, no binfmt registration)
# gives the same face boxes (within 1 px), the same captures, and fed the same input tensors
# the same boxes as camaudit reports them (0.1 px; float64 bits need not match) as this x86 machine.
#   scripts/check-arm64.sh [PYTHON] [IMAGES]
# Builds, once, under .cache/: a Debian bookworm arm64 root (debootstrap --foreign: no arm64
# binary runs while building it), the arm64 wheels of the exact versions this venv runs
# (pip --platform --only-binary=:all: --target), and qemu 10 from bookworm-backports
# (bookworm's own qemu 7.2 crashes inside ai-edge-litert 2.3.0's allocate_tensors; measured).
# Needs root (debootstrap). Emulated speed is not Raspberry Pi speed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${1:-$here/.venv/bin/python}"
images="${2:-20}"
cache="$here/.cache"
root="$cache/debian-bookworm-arm64"
site="$cache/arm64-site"
qemu_dir="$cache/qemu-bookworm-backports"
qemu="$qemu_dir/usr/bin/qemu-aarch64"
t0=$(date +%s)

"$here/scripts/debian-root.sh" "$root" arm64

if [ ! -x "$qemu" ]; then
  echo "check-arm64: fetching qemu-user from bookworm-backports (apt, private lists; nothing installed)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/dl"
  echo "deb http://deb.debian.org/debian bookworm-backports main" >"$tmp/sources.list"
  opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$tmp/lists" -o "APT::Sandbox::User=root")
  apt-get "${opts[@]}" update -q >/dev/null
  (cd "$tmp/dl" && apt-get "${opts[@]}" download -q qemu-user/bookworm-backports >/dev/null)
  rm -rf "$qemu_dir.part"
  dpkg-deb -x "$tmp"/dl/qemu-user_*.deb "$qemu_dir.part"
  rm -rf "$qemu_dir"
  mv "$qemu_dir.part" "$qemu_dir"
fi
"$qemu" --version | head -n1

pins="$("$py" "$here/scripts/runtime-pins.py" | grep -v '^pip==')"
if [ ! -f "$site/.pins" ] || [ "$(cat "$site/.pins")" != "$pins" ]; then
  echo "check-arm64: arm64 wheels for: $(echo "$pins" | tr '\n' ' ')"
  rm -rf "$site.part"
  printf '%s\n' "$pins" >"$cache/arm64-pins.txt"
  "$py" -m pip install -q --disable-pip-version-check --target "$site.part" --no-deps \
    --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 \
    -r "$cache/arm64-pins.txt"
  printf '%s\n' "$pins" >"$site.part/.pins"
  rm -rf "$site"
  mv "$site.part" "$site"
fi
t1=$(date +%s)
echo "check-arm64: arm64 root, qemu and wheels ready in $((t1 - t0)) s"
"$py" "$here/scripts/arm64_compare.py" --root "$root" --site "$site" --qemu "$qemu" --images "$images"
echo "check-arm64: OK in $(($(date +%s) - t0)) s in all ($(($(date +%s) - t1)) s comparing)"
