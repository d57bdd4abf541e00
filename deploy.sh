#!/usr/bin/env bash
# Installs camaudit on Raspberry Pi OS (bookworm or later), run as root on the Pi:
#   sudo ./deploy.sh [path/to/config.yaml]
# - the Pi camera stack from apt (picamera2 needs the Pi's libcamera; not on PyPI)
# - a venv in /opt/camaudit/venv that can see the system picamera2 (--system-site-packages)
# - the shipped int8 models, a systemd unit, a config in /etc/camaudit (yours or the example)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
config="${1:-$here/config/picamera.yaml}"
[ "$(id -u)" -eq 0 ] || { echo "deploy.sh: run as root (sudo)" >&2; exit 1; }
[ -f "$config" ] || { echo "deploy.sh: no such config: $config" >&2; exit 1; }

apt-get update -q
apt-get install -y -q python3-venv python3-picamera2 python3-libcamera
id camaudit >/dev/null 2>&1 || useradd --system --home /var/lib/camaudit --shell /usr/sbin/nologin camaudit
usermod -aG video camaudit

python3 -m venv --system-site-packages /opt/camaudit/venv
/opt/camaudit/venv/bin/pip install -q --upgrade pip
/opt/camaudit/venv/bin/pip install -q "$here"
install -d -m 0755 /usr/share/camaudit/models
install -m 0644 "$here"/models/*.tflite "$here"/models/MODEL.md /usr/share/camaudit/models/

install -d -m 0755 /etc/camaudit
[ -f /etc/camaudit/config.yaml ] || install -m 0640 -g camaudit "$config" /etc/camaudit/config.yaml
/opt/camaudit/venv/bin/camaudit check-config /etc/camaudit/config.yaml
install -d -m 0700 -o camaudit -g camaudit /var/lib/camaudit

install -m 0644 "$here/firmware/camaudit.service" /etc/systemd/system/camaudit.service
systemctl daemon-reload
systemctl enable --now camaudit.service
systemctl --no-pager status camaudit.service || true
echo "camaudit installed: journalctl -u camaudit -f; camaudit log --db /var/lib/camaudit/journal.db"
