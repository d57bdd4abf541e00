"""Prints name==version for camaudit's runtime requirements and theirs, as installed here.

Used by check-arm64.sh so the emulated arm64 run uses the very versions x86 runs with.
"""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement


def closure(root: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
                for extra in req.extras:
                    for sub in dist_extras(req.name, extra):
                        todo.append(sub)
    return seen


def dist_extras(name: str, extra: str) -> list[str]:
    try:
        reqs = metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError:
        return []
    out = []
    for spec in reqs:
        req = Requirement(spec)
        if req.marker is not None and req.marker.evaluate({"extra": extra}):
            out.append(req.name)
    return out


if __name__ == "__main__":
    for key, version in sorted(closure("camaudit").items()):
        if key != "camaudit":
            print(f"{key}=={version}")
