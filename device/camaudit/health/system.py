"""What the machine reports about itself: disk free, CPU temperature, Pi throttling.

Everything is optional: a value the machine does not report is None, never an error.
`sys_root` lets tests (and chroots) point at another /sys.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation)
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


@dataclass(frozen=True)
class Throttling:
    raw: int
    flags: tuple[str, ...]


def disk_free(path: Path) -> tuple[int, int] | None:
    """(free bytes, total bytes) of the file system holding `path`."""
    try:
        u = shutil.disk_usage(path)
    except OSError:
        return None
    return u.free, u.total


def cpu_temperature_c(sys_root: Path = Path("/sys")) -> float | None:
    """The CPU's thermal zone in degrees Celsius (the Pi's is 'cpu-thermal'), else zone 0."""
    zones = sorted((sys_root / "class" / "thermal").glob("thermal_zone*"))
    chosen = None
    for z in zones:
        try:
            if (z / "type").read_text().strip() in {"cpu-thermal", "cpu_thermal", "x86_pkg_temp"}:
                chosen = z
                break
        except OSError:
            continue
    if chosen is None and zones:
        chosen = zones[0]
    if chosen is None:
        return None
    try:
        return int((chosen / "temp").read_text().strip()[:12]) / 1000.0
    except (OSError, ValueError):
        return None


def parse_throttled(text: str) -> Throttling | None:
    """`throttled=0x50005` -> the raw value and its named flags."""
    key, _, value = text.strip().partition("=")
    if key != "throttled":
        return None
    try:
        raw = int(value, 16)
    except ValueError:
        return None
    return Throttling(raw, tuple(name for bit, name in THROTTLE_BITS.items() if raw >> bit & 1))


def throttling(vcgencmd: str | None = None) -> Throttling | None:
    """From `vcgencmd get_throttled`, where the Pi firmware tool is installed."""
    exe = vcgencmd or shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("vcgencmd failed: %s", exc)
        return None
    return parse_throttled(out.stdout) if out.returncode == 0 else None
