#!/usr/bin/env bash
# `systemd-analyze verify` on the units in firmware/, in a throw-away root that holds the
# system's own units and a stand-in for the installed camaudit command (verify checks that
# ExecStart is executable). verify exits 0 even on unknown keys or bad values, so any
# output at all counts as a failure here.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
units=("$@")
[ ${#units[@]} -gt 0 ] || units=("$here"/firmware/*.service)
command -v systemd-analyze >/dev/null || { echo "verify-units: error: systemd-analyze not installed (apt-get install systemd)" >&2; exit 1; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/opt/camaudit/venv/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
printf '#!/bin/sh\nexit 0\n' >"$root/opt/camaudit/venv/bin/camaudit"
chmod 0755 "$root/opt/camaudit/venv/bin/camaudit"
names=()
for unit in "${units[@]}"; do
  cp "$unit" "$root/etc/systemd/system/"
  names+=("$(basename "$unit")")
done
out="$(systemd-analyze --root="$root" verify "${names[@]}" 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "verify-units: error: systemd-analyze verify reported the problems above" >&2
  exit 1
fi
echo "verify-units: OK: ${names[*]}"
