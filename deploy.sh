#!/usr/bin/env bash
# Installs the camaudit appliance on Raspberry Pi OS / Debian (bookworm or trixie, 64-bit).
# Run as root from a camaudit checkout; `./deploy.sh --help` lists the options.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix=/opt/camaudit
venv=$prefix/venv
etc=/etc/camaudit
data=/var/lib/camaudit
hubdata=/var/lib/camaudit-hub
models=/usr/share/camaudit/models

usage() {
  cat <<'EOF'
Usage: sudo ./deploy.sh [options]

Installs camaudit (device by default) as a systemd service. Safe to run again.

  --config FILE      config for a new install (default: config/picamera.yaml; --hub: none).
                     An existing /etc/camaudit/config.yaml is never overwritten.
  --hub              install the hub service (with Debian's mosquitto and haproxy) instead of a device
  --tls-cert FILE    hub: certificate for the devices' MQTT TLS listener (port 8883)
  --tls-key FILE     hub: its private key
  --root DIR         install into the Debian root DIR (image builds, tests); no service is
                     started there, and hardware checks are skipped
  --wheels DIR       install Python packages from this folder only (no PyPI access needed)
  --upgrade          update the program of an existing install; config, key and journal stay
  --uninstall        remove the program and its services; config and data stay
  --purge            with --uninstall: also remove config, data (journal, key) and the user
  --no-start         enable the service but do not start it
  --no-key           do not create the device key now (images: each card makes its own)
  --skip-camera-check  install even though no camera is seen (camera attached later)
  --dry-run          print what would be done, change nothing
  -h, --help         this help
EOF
}

mode=device action=install root=/ config="" wheels="" tls_cert="" tls_key=""
dry=0 purge=0 start=1 key=1 camera_check=1
die() { printf 'deploy.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'deploy: %s\n' "$*"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="${2:?--config needs a file}"; shift ;;
    --hub) mode=hub ;;
    --tls-cert) tls_cert="${2:?--tls-cert needs a file}"; shift ;;
    --tls-key) tls_key="${2:?--tls-key needs a file}"; shift ;;
    --root) root="${2:?--root needs a folder}"; shift ;;
    --wheels) wheels="${2:?--wheels needs a folder}"; shift ;;
    --upgrade) action=upgrade ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    --no-start) start=0 ;;
    --no-key) key=0 ;;
    --skip-camera-check) camera_check=0 ;;
    --dry-run) dry=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done
[ "$purge" -eq 0 ] || [ "$action" = uninstall ] || die "--purge goes with --uninstall"
[ -z "$tls_cert$tls_key" ] || [ "$mode" = hub ] || die "--tls-cert/--tls-key are for --hub"
[ -z "$tls_cert" ] || [ -n "$tls_key" ] || die "--tls-cert needs --tls-key"
[ -z "$tls_key" ] || [ -n "$tls_cert" ] || die "--tls-key needs --tls-cert"
for f in "$tls_cert" "$tls_key"; do [ -z "$f" ] || [ -r "$f" ] || die "cannot read $f"; done
[ -d "$root" ] || die "--root $root: no such folder"
root="$(cd "$root" && pwd)"
[ -z "$wheels" ] || [ -d "$wheels" ] || die "--wheels $wheels: no such folder"
[ -z "$wheels" ] || wheels="$(cd "$wheels" && pwd)"
if [ "$mode" = device ] && [ -z "$config" ]; then config="$here/config/picamera.yaml"; fi
[ -z "$config" ] || [ -r "$config" ] || die "--config $config: cannot read it"
[ "$dry" -eq 1 ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo ./deploy.sh), or try --dry-run"
staged=0
[ "$root" = / ] || staged=1
[ "$staged" -eq 0 ] || start=0
R="${root%/}"  # prefix for paths inside the target root ("" for /)

# --- helpers: every change goes through `run` (printed; skipped with --dry-run) --------
run() {
  if [ "$dry" -eq 1 ]; then printf '  would run: %s\n' "$*"; else "$@"; fi
}
inroot() {  # a command inside the target system
  if [ "$staged" -eq 1 ]; then run chroot "$root" "$@"; else run "$@"; fi
}
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
prepare_root() {  # /proc, /sys, /dev and DNS inside a staging root, undone on exit
  [ "$staged" -eq 1 ] && [ "$dry" -eq 0 ] || return 0
  local fs
  for fs in proc sys dev; do
    mkdir -p "$R/$fs"
    mountpoint -q "$R/$fs" && continue
    case "$fs" in
      proc) mount -t proc proc "$R/proc" ;;
      sys) mount -t sysfs sysfs "$R/sys" ;;
      dev) mount --bind /dev "$R/dev" ;;
    esac
    mounted+=("$R/$fs")
  done
  if [ -r /etc/resolv.conf ] && [ ! -s "$R/etc/resolv.conf" ]; then
    cp /etc/resolv.conf "$R/etc/resolv.conf"
  fi
}

# --- checks: one clear line each ------------------------------------------------------
osval() { sed -n "s/^$1=//p" "$R/etc/os-release" | head -n1 | tr -d "\"'"; }
check_os() {
  local id="" like="" codename="" pretty=""
  [ -r "$R/etc/os-release" ] || die "unsupported OS: $R/etc/os-release not found (needs Raspberry Pi OS or Debian, bookworm or trixie)"
  # read, never sourced: the file belongs to the target system
  id="$(osval ID)" like="$(osval ID_LIKE)" codename="$(osval VERSION_CODENAME)" pretty="$(osval PRETTY_NAME)"
  case " $id $like " in *" debian "*|*" raspbian "*) ;; *) die "unsupported OS: $pretty (needs Raspberry Pi OS or Debian, bookworm or trixie)" ;; esac
  case "$codename" in bookworm|trixie) ;; *) die "unsupported OS: $pretty ($codename); needs bookworm or trixie" ;; esac
  say "system: $pretty"
}
check_arch() {
  local arch
  if [ "$staged" -eq 1 ]; then
    arch="$(awk '/^Package: dpkg$/ {f = 1} f && /^Architecture:/ {print $2; exit}' "$R/var/lib/dpkg/status" 2>/dev/null || true)"
  else
    arch="$(dpkg --print-architecture)"
  fi
  case "$arch" in
    arm64|amd64) say "architecture: $arch" ;;
    armhf|armel|i386) die "unsupported architecture: $arch (32-bit); install 64-bit Raspberry Pi OS" ;;
    *) die "unsupported architecture: $arch (needs arm64 or amd64)" ;;
  esac
}
check_network() {  # only the hosts this run needs: apt for missing packages, PyPI without --wheels
  local host hosts=()
  [ "$action" != uninstall ] || return 0
  [ ${#missing[@]} -eq 0 ] || hosts+=(deb.debian.org)
  [ -n "$wheels" ] || hosts+=(pypi.org)
  if [ ${#hosts[@]} -eq 0 ]; then say "network: not needed (system packages present, Python packages from $wheels)"; return 0; fi
  if [ "$dry" -eq 1 ]; then say "network: would be needed for ${hosts[*]} (not checked in a dry run)"; return 0; fi
  for host in "${hosts[@]}"; do
    timeout 10 bash -c "exec 3<>/dev/tcp/$host/443" 2>/dev/null \
      || die "no network: cannot reach $host:443 (needed to install packages; check the cable/Wi-Fi and DNS; or give --wheels DIR and install the system packages first)"
  done
}
yaml_python() {  # a Python that has a YAML parser: the installed program's, else the system's
  local py
  for py in "$R$venv/bin/python" python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then echo "$py"; return 0; fi
  done
  return 1
}
feed_sources() {  # the feeds' `source` values, one a line, read by a YAML parser (any style)
  "$(yaml_python)" -c '
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    cfg = yaml.safe_load(f) or {}
feeds = cfg.get("feeds") if isinstance(cfg, dict) else None
for feed in (feeds.values() if isinstance(feeds, dict) else feeds or []):
    if isinstance(feed, dict) and feed.get("source") is not None:
        print(feed["source"])
' "$1"
}
camera_deferred=0
check_camera() {  # before any change when a YAML parser is at hand, else right after the program is
  [ "$mode" = device ] && [ "$action" != uninstall ] && [ "$camera_check" -eq 1 ] && [ "$staged" -eq 0 ] || return 0
  camera_deferred=0
  if ! yaml_python >/dev/null; then
    if [ "$dry" -eq 1 ]; then printf '  would check: the cameras named in %s, once the program is installed\n' "$config_for_check"
    else camera_deferred=1; fi
    return 0
  fi
  local src
  src="$(feed_sources "$config_for_check")" || die "cannot read the feeds of $config_for_check (camaudit check-config names the problem)"
  while IFS= read -r s; do
    case "$s" in
      picamera2*)
        if command -v rpicam-hello >/dev/null 2>&1; then
          rpicam-hello --list-cameras 2>&1 | grep -q '^[0-9] : ' \
            || die "no camera: the config uses the Pi camera but rpicam-hello lists none (check the ribbon cable; or --skip-camera-check)"
        elif ! ls /dev/video* >/dev/null 2>&1; then
          die "no camera: the config uses the Pi camera but there is no /dev/video* (check the ribbon cable; or --skip-camera-check)"
        fi ;;
      /dev/video*)
        [ -e "$s" ] || die "no camera: $s does not exist (plug the USB camera in; or --skip-camera-check)" ;;
    esac
  done <<<"$src"
}

# --- the steps --------------------------------------------------------------------------
# read-only looks at the target's package database (no chroot: also in a dry run as a user)
have_pkg() { [ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
apt_knows() { cat "$R"/var/lib/apt/lists/*_Packages 2>/dev/null | grep -qx "Package: $1"; }
missing=()
plan_packages() {  # plan_packages EXTRA...: sets `missing`, the packages apt has to install
  # python3-numpy: the venv uses Debian's numpy, the one the Pi camera stack is built against
  local want=(python3-venv python3-pip python3-numpy ca-certificates "$@") p
  if [ "$mode" = device ]; then
    if apt_knows python3-picamera2 || have_pkg python3-picamera2; then
      want+=(python3-picamera2 python3-libcamera)
    else
      say "python3-picamera2 is not in this system's apt sources (not Raspberry Pi OS, or apt-get update never ran): Pi camera feeds will not work; USB, RTSP and file feeds do"
    fi
  fi
  missing=()
  for p in "${want[@]}"; do have_pkg "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then say "system packages: present (${want[*]})"; else say "system packages to install: ${missing[*]}"; fi
}
apt_install() {
  [ ${#missing[@]} -gt 0 ] || return 0
  inroot apt-get update -q
  DEBIAN_FRONTEND=noninteractive inroot apt-get install -y -q --no-install-recommends "${missing[@]}"
}
make_user() {  # make_user NAME HOME GROUPS...
  local user="$1" home="$2" g
  shift 2
  if [ "$dry" -eq 0 ] && chroot "$root" id "$user" >/dev/null 2>&1; then
    say "user $user exists"
  else
    inroot useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  for g in "$@"; do
    if [ "$dry" -eq 1 ] || ! chroot "$root" getent group "$g" >/dev/null; then inroot groupadd --system -f "$g"; fi
    inroot usermod -aG "$g" "$user"
  done
}
install_program() {
  local src pipargs=() np
  if [ "$dry" -eq 1 ] || [ ! -x "$R$venv/bin/python" ]; then
    inroot python3 -m venv --system-site-packages "$venv"
  fi
  # a staging folder of this run's own (the checkout may itself sit in the target's /tmp)
  if [ "$dry" -eq 1 ]; then
    src=/tmp/camaudit-src.XXXXXX
    printf '  would copy: %s/{pyproject.toml,README.md,device,scripts/build-broker-plugin.sh} to %s\n' "$here" "$R$src"
  else
    mkdir -p "$R/tmp"
    src="$(mktemp -d "$R/tmp/camaudit-src.XXXXXX")"
    src="${src#"$R"}"
    # the package's sources only (no .git, venv or caches)
    tar -C "$here" --exclude=__pycache__ --exclude='*.egg-info' -cf - pyproject.toml README.md device \
      scripts/build-broker-plugin.sh | tar -C "$R$src" -xf -
  fi
  if [ -n "$wheels" ]; then
    run cp -r "$wheels" "$R$src/wheels"
    pipargs=(--no-index --find-links "$src/wheels")
  fi
  # Debian's numpy stays the venv's numpy: the camera stack's extensions (simplejpeg, ...) are
  # built against it, and a pip numpy 2 in the venv would break their import (docs/pi-image.md)
  if [ "$dry" -eq 1 ]; then
    say "numpy: would keep the system's (python3-numpy) and install nothing over it"
  else
    np="$(inroot python3 -c 'import numpy; print(numpy.__version__)')" \
      || die "python3-numpy does not import in the target system"
    if compgen -G "$R$venv/lib/python3*/site-packages/numpy" >/dev/null; then
      inroot "$venv/bin/pip" uninstall -q -y --disable-pip-version-check numpy  # an older install's own copy
    fi
    printf 'numpy==%s\n' "$np" >"$R$src/constraints.txt"
    pipargs+=(--constraint "$src/constraints.txt")
    say "numpy: the system's $np (python3-numpy)"
  fi
  inroot "$venv/bin/pip" install -q --disable-pip-version-check "${pipargs[@]}" "$src"
  if [ "$mode" = hub ]; then  # the hub's mosquitto plugin (bound on subscriptions), into the venv
    inroot bash "$src/scripts/build-broker-plugin.sh" "$venv"
  fi
  run rm -rf "$R$src"
  run install -d -m 0755 "$R$models"
  run install -m 0644 "$here"/models/*.tflite "$here"/models/*.onnx "$here/models/MODEL.md" "$R$models/"
  run install -m 0644 "$here/README.md" "$R$prefix/README.md"
  run ln -sfn "$venv/bin/camaudit" "$R/usr/local/bin/camaudit"
  local shipped=("$here"/models/*.tflite "$here"/models/*.onnx)
  say "program: $venv (${#shipped[@]} model file(s) in $models)"
}
install_firmware() {
  run install -d -m 0755 "$R/etc/systemd/system" "$R/etc/systemd/journald.conf.d" "$R/etc/systemd/system.conf.d"
  run install -m 0644 "$here/firmware/journald.conf.d/camaudit.conf" "$R/etc/systemd/journald.conf.d/camaudit.conf"
  if [ "$mode" = device ]; then
    run install -m 0644 "$here/firmware/camaudit.service" "$R/etc/systemd/system/camaudit.service"
    run install -m 0644 "$here/firmware/system.conf.d/camaudit-watchdog.conf" "$R/etc/systemd/system.conf.d/camaudit-watchdog.conf"
    boot_fragment
  else
    run install -m 0644 "$here/firmware/camaudit-hub.service" "$R/etc/systemd/system/camaudit-hub.service"
    # per-address MQTT connection bound, loaded by the unit (ExecStartPre): needs nftables
    run install -d -m 0755 "$R$etc"
    run install -m 0644 "$here/firmware/camaudit-hub.nft" "$R$etc/hub-limits.nft"
  fi
}
boot_fragment() {  # the camera and hardware-watchdog lines in the Pi's config.txt, between markers
  local cfg="$R/boot/firmware/config.txt"
  [ -f "$cfg" ] || { say "no $cfg (not a Pi): boot config unchanged"; return 0; }
  if grep -q '^# >>> camaudit' "$cfg"; then
    run sed -i '/^# >>> camaudit/,/^# <<< camaudit/d' "$cfg"
  fi
  if [ "$dry" -eq 1 ]; then
    printf '  would append: %s to %s\n' "firmware/boot/config.txt.camaudit" "$cfg"
  else
    cat "$here/firmware/boot/config.txt.camaudit" >>"$cfg"
  fi
  say "boot config: camera and hardware watchdog set in $cfg (takes effect after a reboot)"
}
install_config() {
  run install -d -m 0755 "$R$etc"
  if [ "$mode" = device ]; then
    if [ -f "$R$etc/config.yaml" ]; then
      say "config: keeping $etc/config.yaml"
    else
      run install -m 0640 "$config" "$R$etc/config.yaml"
      inroot chgrp camaudit "$etc/config.yaml"
      say "config: $etc/config.yaml from $config (edit it, then: systemctl restart camaudit)"
    fi
    inroot "$venv/bin/camaudit" check-config "$etc/config.yaml"
    inroot install -d -m 0700 -o camaudit -g camaudit "$data"
  else
    inroot install -d -m 0700 -o camaudit-hub -g camaudit-hub "$hubdata"
    local args=""
    if [ -n "$tls_cert" ]; then
      run install -d -m 0750 "$R$etc/hub-tls"
      inroot chgrp camaudit-hub "$etc/hub-tls"
      run install -m 0644 "$tls_cert" "$R$etc/hub-tls/cert.pem"
      run install -m 0640 "$tls_key" "$R$etc/hub-tls/key.pem"
      inroot chgrp camaudit-hub "$etc/hub-tls/key.pem"
      if [ "$dry" -eq 1 ]; then
        printf '  would write: %s\n' "$etc/hub.yaml (broker on 0.0.0.0:8883 with TLS)"
      else
        printf '# written by deploy.sh --hub --tls-cert/--tls-key (camaudit hub --config)\nbroker_listen: "0.0.0.0:8883"\nbroker_certfile: %s\nbroker_keyfile: %s\n' \
          "$etc/hub-tls/cert.pem" "$etc/hub-tls/key.pem" >"$R$etc/hub.yaml"
        chmod 0640 "$R$etc/hub.yaml"
        inroot chgrp camaudit-hub "$etc/hub.yaml"
      fi
      args="--config $etc/hub.yaml"
    else
      say "hub: no --tls-cert given: the broker listens on 127.0.0.1 only (devices elsewhere need TLS)"
    fi
    if [ "$dry" -eq 1 ]; then
      printf '  would write: %s\n' "$etc/hub.env: CAMAUDIT_HUB_ARGS=$args"
    else
      printf '# written by deploy.sh --hub; read by camaudit-hub.service\nCAMAUDIT_HUB_ARGS=%s\n' "$args" >"$R$etc/hub.env"
    fi
  fi
}
device_key() {
  [ "$mode" = device ] && [ "$key" -eq 1 ] || return 0
  say "device key (kept in $data/device.key):"
  inroot setpriv --reuid=camaudit --regid=camaudit --init-groups "$venv/bin/camaudit" device-key --config "$etc/config.yaml"
}
time_wait() {  # time-sync.target waits (bounded) for a synchronised clock where the system offers it
  local unit="" d="$R/etc/systemd/system/systemd-time-wait-sync.service.d"
  if have_pkg systemd-timesyncd && [ -e "$R/lib/systemd/system/systemd-time-wait-sync.service" ]; then
    unit=systemd-time-wait-sync.service
    run install -d -m 0755 "$d"
    run install -m 0644 "$here/firmware/systemd-time-wait-sync.service.d/camaudit.conf" "$d/camaudit.conf"
  elif [ -e "$R/lib/systemd/system/chrony-wait.service" ]; then
    unit=chrony-wait.service
  else
    say "clock: neither systemd-timesyncd nor chrony here: services start without waiting for the clock (records are marked until it is synchronised)"
    return 0
  fi
  if [ "$staged" -eq 1 ]; then run systemctl --root="$root" enable "$unit"; else run systemctl enable "$unit"; fi
  say "clock: services wait for a synchronised clock at boot ($unit)"
}
enable_service() {
  local unit="$1"
  if [ "$staged" -eq 1 ]; then
    run systemctl --root="$root" enable "$unit"
  elif [ ! -d /run/systemd/system ]; then
    run systemctl enable "$unit"  # inside an image build (chroot): enabled, not started
  else
    # re-exec so the hardware-watchdog setting applies; journald re-reads its size limits
    run systemctl daemon-reexec
    run systemctl try-restart systemd-journald.service
    run systemctl enable "$unit"
    if [ "$start" -eq 1 ]; then
      run systemctl restart "$unit"
      say "started $unit: systemctl status $unit; journalctl -u $unit -f; camaudit status"
    fi
  fi
}
uninstall() {
  local unit
  for unit in camaudit.service camaudit-hub.service; do
    [ -f "$R/etc/systemd/system/$unit" ] || continue
    if [ "$staged" -eq 1 ]; then run systemctl --root="$root" disable "$unit"
    elif [ -d /run/systemd/system ]; then run systemctl disable --now "$unit"
    else run systemctl disable "$unit"; fi
    run rm -f "$R/etc/systemd/system/$unit"
  done
  run rm -rf "$R$prefix" "$R/usr/share/camaudit"
  run rm -f "$R/usr/local/bin/camaudit" "$R/etc/systemd/journald.conf.d/camaudit.conf" \
    "$R/etc/systemd/system.conf.d/camaudit-watchdog.conf" \
    "$R/etc/systemd/system/systemd-time-wait-sync.service.d/camaudit.conf"
  if [ -f "$R/boot/firmware/config.txt" ] && grep -q '^# >>> camaudit' "$R/boot/firmware/config.txt"; then
    run sed -i '/^# >>> camaudit/,/^# <<< camaudit/d' "$R/boot/firmware/config.txt"
  fi
  if [ "$purge" -eq 1 ]; then
    run rm -rf "$R$etc" "$R$data" "$R$hubdata"
    for u in camaudit camaudit-hub; do
      if [ "$dry" -eq 1 ] || chroot "$root" id "$u" >/dev/null 2>&1; then inroot userdel "$u"; fi
    done
    say "uninstalled and purged: config, journal, key and users removed"
  else
    say "uninstalled the program; kept $etc (config) and $data, $hubdata (journal, key): --uninstall --purge removes them"
  fi
}

# --- main --------------------------------------------------------------------------------
[ "$dry" -eq 0 ] || say "dry run: nothing is changed"
[ "$staged" -eq 0 ] || say "installing into the root $root (services enabled, not started)"
check_os
check_arch
if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi
if [ "$action" = upgrade ] && [ ! -x "$R$venv/bin/camaudit" ]; then
  die "--upgrade: camaudit is not installed in $root (run without --upgrade first)"
fi
config_for_check="$config"
[ ! -f "$R$etc/config.yaml" ] || config_for_check="$R$etc/config.yaml"
# the hub: mosquitto, nftables (per-address bound), haproxy (the broker's front), gcc and headers for its mosquitto plugin
if [ "$mode" = device ]; then plan_packages; else plan_packages mosquitto nftables haproxy gcc libc6-dev mosquitto-dev libmosquitto-dev libssl-dev; fi
check_network
check_camera
prepare_root
if [ "$mode" = device ]; then
  apt_install
  make_user camaudit "$data" video render
else
  apt_install
  make_user camaudit-hub "$hubdata"
  # the hub runs its own mosquitto, and HAProxy in front of it, from the configs it
  # generates; Debian's instances of both stay off
  if [ "$staged" -eq 1 ]; then run systemctl --root="$root" disable mosquitto.service haproxy.service
  elif [ -d /run/systemd/system ]; then run systemctl disable --now mosquitto.service haproxy.service
  fi
fi
install_program
[ "$camera_deferred" -eq 0 ] || check_camera
install_firmware
time_wait
install_config
if [ "$mode" = device ]; then
  device_key
  enable_service camaudit.service
else
  enable_service camaudit-hub.service
  say "enrol each device on this hub: sudo -u camaudit-hub $venv/bin/camaudit hub --data-dir $hubdata enroll DEVICE PUBKEY"
  say "(deploy.sh on the device prints its DEVICE and PUBKEY; so does: sudo camaudit device-key --config $etc/config.yaml)"
fi
say "done ($action, $mode)"
