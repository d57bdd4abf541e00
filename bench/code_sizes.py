"""Code sizes: the largest modules, classes and functions of device/camaudit, by lines.

Reads the source with ast (nothing is imported or run) and prints three top-N tables:
modules (physical lines), classes and functions/methods (lines from `def`/`class`, with
decorators, to the last line of the body). Used to show before/after sizes of a refactor.

    .venv/bin/python bench/code_sizes.py [--top 10] [--root device/camaudit] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _span(node: ast.AST) -> int:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])  # type: ignore[attr-defined]
    return int(node.end_lineno) - first + 1  # type: ignore[attr-defined]


def measure(root: Path) -> dict[str, list[tuple[str, int]]]:
    """Return {"modules", "classes", "functions"}: (qualified name, lines), largest first."""
    modules: list[tuple[str, int]] = []
    classes: list[tuple[str, int]] = []
    functions: list[tuple[str, int]] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("").as_posix().replace("/", ".")
        text = path.read_text(encoding="utf-8")
        modules.append((rel, len(text.splitlines())))
        tree = ast.parse(text, filename=str(path))

        def walk(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    name = f"{prefix}.{child.name}"
                    classes.append((name, _span(child)))
                    walk(child, name)
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{prefix}.{child.name}"
                    functions.append((name, _span(child)))
                    walk(child, name)

        walk(tree, rel)
    return {k: sorted(v, key=lambda t: (-t[1], t[0]))
            for k, v in (("modules", modules), ("classes", classes), ("functions", functions))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--root", type=Path, default=ROOT / "device" / "camaudit")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = measure(args.root)
    if args.json:
        print(json.dumps({k: v[: args.top] for k, v in sizes.items()}, indent=1))
        return
    for kind, rows in sizes.items():
        total = sum(n for _, n in rows)
        print(f"{kind} (top {args.top} of {len(rows)}; {total} lines in all)")
        for name, n in rows[: args.top]:
            print(f"  {n:5d}  {name}")


if __name__ == "__main__":
    main()
