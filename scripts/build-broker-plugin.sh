#!/usr/bin/env bash
# Builds the hub's mosquitto plugin (device/camaudit/hub/broker/plugin/camaudit_subscribe_acl.c,
# the bound on subscriptions: docs/hub-security.md) into PREFIX/lib/camaudit/, where the hub
# of the Python environment at PREFIX (a venv) looks for it.
# Usage: scripts/build-broker-plugin.sh PREFIX   (needs gcc, libc6-dev, mosquitto-dev, libmosquitto-dev, libssl-dev)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PREFIX (the hub's venv, e.g. .venv)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/device/camaudit/hub/broker/plugin/camaudit_subscribe_acl.c
out=$1/lib/camaudit/camaudit_subscribe_acl.so
cc=${CC:-gcc}
command -v "$cc" >/dev/null 2>&1 || { echo "build-broker-plugin: no C compiler: apt-get install gcc" >&2; exit 1; }
for h in mosquitto_broker.h mosquitto_plugin.h mosquitto.h openssl/evp.h stdio.h; do
  [ -f "/usr/include/$h" ] || { echo "build-broker-plugin: /usr/include/$h is missing: apt-get install mosquitto-dev libmosquitto-dev libssl-dev libc6-dev" >&2; exit 1; }
done
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$cc" -std=c99 -O2 -Wall -Wextra -Werror -fPIC -shared -o "$tmp" "$src" -lcrypto
chmod 0755 "$tmp"
mv -f "$tmp" "$out"  # a new file: a running mosquitto keeps the copy it loaded
trap - EXIT
echo "build-broker-plugin: $out"
