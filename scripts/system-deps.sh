#!/usr/bin/env bash
# Installs the Debian packages the integration tests use, if they are missing:
# mosquitto (real MQTT broker) and what its hub plugin builds with, haproxy (the hub broker's front), chromium (hub web page tests), shellcheck and systemd
# (systemd-analyze verify), postgresql (hub store tests), debootstrap (the deploy.sh test's Debian root).
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/lib/chromium/chromium ] || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)  # report PDF tests (pdftoppm, pdftotext)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)  # hub store on PostgreSQL (tests start their own server)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)  # the boot test: systemd as PID 1 in a container
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)  # the hub's per-address MQTT connection limit, tested in a network namespace
# the hub's mosquitto plugin (scripts/build-broker-plugin.sh): a C compiler and mosquitto's headers
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/include/stdio.h ] || need+=(libc6-dev)
[ -f /usr/include/mosquitto_broker.h ] || need+=(mosquitto-dev)
[ -f /usr/include/mosquitto.h ] || need+=(libmosquitto-dev)
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)  # the plugin's dummy PBKDF2 (OpenSSL's libcrypto)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)  # the hub broker's front (CONNECT delay, per-address and total connection bounds)
/usr/bin/python3 -c "import seccomp" >/dev/null 2>&1 || need+=(python3-seccomp)  # the hub unit's system call filter, reproduced for HAProxy
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the local time-stamp authority (openssl ts) of the trust tests and the demo
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system-deps: please install as root: apt-get install ${need[*]}" >&2; exit 1
  fi
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
