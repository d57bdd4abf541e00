"""MkDocs hook: the parts of the manual that the code already holds, generated at build time.

A page asks for a generated part with a marker on a line of its own:

    <!-- generated: device-config -->     the device config's JSON Schema (`camaudit config-schema`)
    <!-- generated: hub-config -->        the hub config file's JSON Schema
    <!-- generated: cli -->               `--help` of every `camaudit` command, walked from the click group
    <!-- include: PATH -->                a Markdown file of the repository (PATH from the repo root)
    <!-- include-code: PATH -->           a file of the repository as a code block (config examples)

Nothing here is written twice: the tables come from the pydantic models and click's help.
A command that cannot be imported, an unknown marker, a missing file or a generated marker
that no page uses fails the build, so the references cannot silently fall behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- (generated|include|include-code): (\S+) -->$", re.M)
HELP_WIDTH = 100

_used: set[str] = set()


# --- the JSON Schema as tables ---------------------------------------------------------------

def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow a $ref, and an `anyOf` of one schema and null (an optional section)."""
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1 and "$ref" in options[0]:
        return _resolve(options[0], defs)
    return node


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        return "section"
    if "anyOf" in node:
        kinds = [_type(o, defs) for o in node["anyOf"] if o.get("type") != "null"]
        nullable = any(o.get("type") == "null" for o in node["anyOf"])
        return " or ".join(kinds) + (" (optional)" if nullable else "")
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_type(i, defs) for i in node["prefixItems"]) + "]"
        return "list of " + _type(node.get("items", {}), defs)
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return "map of name to " + _type(extra, defs)
        return "section" if "properties" in node else "mapping"
    return str(kind)


def _limits(node: dict[str, Any]) -> list[str]:
    """The constraints the schema states, in words (from every branch of an optional field)."""
    out: list[str] = []
    for branch in [node, *node.get("anyOf", [])]:
        for key, words in (("minimum", ">= {}"), ("maximum", "<= {}"), ("exclusiveMinimum", "> {}"),
                           ("exclusiveMaximum", "< {}"), ("minLength", "at least {} characters"),
                           ("maxLength", "at most {} characters"), ("minItems", "at least {} items"),
                           ("maxItems", "at most {} items"), ("minProperties", "at least {} entries"),
                           ("pattern", "matches `{}`")):
            if key in branch and not (key.endswith("Items") and "prefixItems" in branch):
                out.append(words.format(branch[key]))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(node: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in node:
        return ""
    return f"`{json.dumps(node['default'])}`"


def _child(node: dict[str, Any], path: str, defs: dict[str, Any]) -> str | None:
    """The key path of the section a property opens (`feeds.<name>`), or None for a value."""
    node = _resolve(node, defs)
    if node.get("properties"):
        return path
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and node.get("type") == "object":
        return _child(extra, f"{path}.<name>", defs)
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _child(node["items"], f"{path}[]", defs)
    return None


def _sections(node: dict[str, Any], path: str, defs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the schema that has properties, with its key path (`feeds.<name>`)."""
    node = _resolve(node, defs)
    yield path, node
    for key, prop in node["properties"].items():
        child = _child(prop, f"{path}.{key}" if path else key, defs)
        if child is not None:
            yield from _sections(_resolve_path(prop, defs), child, defs)


def _resolve_path(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The object schema under a property, through maps and lists."""
    node = _resolve(node, defs)
    if node.get("properties"):
        return node
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and node.get("type") == "object":
        return _resolve_path(extra, defs)
    return _resolve_path(node["items"], defs)


def _slug(prefix: str, path: str) -> str:
    return prefix + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "top")


def schema_tables(schema: dict[str, Any], prefix: str) -> str:
    """One table per section of the schema; a key that opens a section links to its table."""
    defs = schema.get("$defs", {})
    parts: list[str] = []
    for path, node in _sections(schema, "", defs):
        required = set(node.get("required", []))
        title = f"`{path}`" if path else "Top level"
        parts.append(f"### {title} {{ #{_slug(prefix, path)} }}\n")
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        for key, prop in node["properties"].items():
            meaning = prop.get("description") or _resolve(prop, defs).get("description", "")
            limits = _limits(prop)
            if limits:
                meaning = f"{meaning} ({'; '.join(limits)})" if meaning else "; ".join(limits)
            kind = _type(prop, defs)
            child = _child(prop, f"{path}.{key}" if path else key, defs)
            if child is not None:
                kind = f"{kind}: [`{child}`](#{_slug(prefix, child)})"
            parts.append(f"| `{key}` | {kind} | {_default(prop, key in required)} | {_cell(meaning)} |")
        parts.append("")
    return "\n".join(parts)


def device_config() -> str:
    from camaudit.config import Config

    return schema_tables(Config.model_json_schema(), "device-config-")


def hub_config() -> str:
    from camaudit.config.hub import HubConfig

    return schema_tables(HubConfig.model_json_schema(), "hub-config-")


# --- click's help, walked ----------------------------------------------------------------------

def _commands(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    yield cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            if (sub.help or "").startswith("(unavailable"):
                raise PluginError(f"docs/cli.md: `camaudit {name}` cannot be imported: {sub.help}")
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, max_content_width=HELP_WIDTH,
                                    terminal_width=HELP_WIDTH)
            yield from _commands(sub, sub_ctx)


def _anchor(ctx: click.Context) -> str:
    return "cli-" + ctx.command_path.replace(" ", "-")


def cli_reference() -> str:
    from camaudit.cli import cli

    root = click.Context(cli, info_name="camaudit", max_content_width=HELP_WIDTH,
                         terminal_width=HELP_WIDTH)
    found = list(_commands(cli, root))
    rows = ["| command | what it does |", "|---|---|"]
    pages: list[str] = []
    for cmd, ctx in found:
        summary = cmd.get_short_help_str(limit=120)
        rows.append(f"| [`{ctx.command_path}`](#{_anchor(ctx)}) | {_cell(summary)} |")
        pages.append(f"### `{ctx.command_path}` {{ #{_anchor(ctx)} }}\n\n```text\n{cmd.get_help(ctx)}\n```\n")
    return "\n".join(rows) + "\n\n" + "\n".join(pages)


GENERATED: dict[str, Callable[[], str]] = {
    "device-config": device_config,
    "hub-config": hub_config,
    "cli": cli_reference,
}


# --- mkdocs events -----------------------------------------------------------------------------

def _repo_file(config: Any, name: str, page: str) -> Path:
    root = Path(config["config_file_path"]).resolve().parent
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        raise PluginError(f"{page}: include {name!r}: no such file in the repository")
    return path


def on_pre_build(config: Any) -> None:
    _used.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    where = page.file.src_uri

    def expand(m: re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "generated":
            if arg not in GENERATED:
                raise PluginError(f"{where}: unknown generated part {arg!r} (known: {', '.join(GENERATED)})")
            _used.add(arg)
            return GENERATED[arg]()
        path = _repo_file(config, arg, where)
        if kind == "include":
            return path.read_text(encoding="utf-8")
        lang = {".yaml": "yaml", ".yml": "yaml", ".py": "python", ".sh": "sh"}.get(path.suffix, "text")
        return f"```{lang}\n# {arg}\n{path.read_text(encoding='utf-8').rstrip()}\n```"

    return MARKER.sub(expand, markdown)


def on_post_build(config: Any) -> None:
    missing = sorted(set(GENERATED) - _used)
    if missing:
        raise PluginError(f"generated parts no page shows: {', '.join(missing)}")
