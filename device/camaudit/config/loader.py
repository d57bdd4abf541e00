"""YAML loading with errors that name the file, line and key (never a traceback)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from camaudit.config.model import Config
from camaudit.config.references import Problem, ReferenceProblems, reference_problems
from camaudit.errors import ConfigError

log = logging.getLogger(__name__)

KeyPath = tuple[str | int, ...]


def _line_map(node: yaml.Node, path: KeyPath, out: dict[KeyPath, int]) -> None:
    """Record the 1-based line of every key / item in a composed YAML node tree."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)


def _nearest_line(lines: dict[KeyPath, int], loc: KeyPath) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _field_description(loc: KeyPath) -> str | None:
    """The `description` of the config field at `loc` (dict keys and list indexes skipped)."""
    model: Any = Config
    info = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if isinstance(part, str) and fields is not None and part in fields:
            info = fields[part]
            model = _item_model(info.annotation)
        # else: a dict key or a list index, on the way to the item's fields
    return info.description if info is not None else None


def _item_model(annotation: Any) -> Any:
    """The pydantic model inside `Model`, `Model | None`, `dict[str, Model]`, `list[Model]`."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _item_model(arg)
        if found is not None:
            return found
    return None


def _where(source: str, lines: dict[KeyPath, int], loc: KeyPath) -> tuple[int, str]:
    line = _nearest_line(lines, loc)
    return line or 0, f"{source}:{line}" if line else source


def format_problems(problems: list[Problem], source: str, lines: dict[KeyPath, int]) -> list[tuple[int, str]]:
    """(line, `FILE:LINE: key.path: message`) of each cross-field problem."""
    out = []
    for p in problems:
        line, where = _where(source, lines, p.at)
        out.append((line, f"{where}: {p.key}: {p.message}"))
    return out


def format_validation_error(
    exc: ValidationError, source: str, lines: dict[KeyPath, int], extra: list[Problem] | None = None
) -> str:
    """One line per problem: `FILE:LINE: key.path: message`, in file order, plus the
    cross-field `extra` problems (those a model validator that did not run would find)."""
    out: list[tuple[int, str]] = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ReferenceProblems):
            out.extend(format_problems(cause.problems, source, lines))
            continue
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc) or "(top level)"
        line, where = _where(source, lines, loc)
        msg = err["msg"]
        if err["type"] == "value_error":  # our own validators' words, without pydantic's "Value error, "
            msg = str(cause) if cause is not None else msg.removeprefix("Value error, ")
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see `camaudit config-schema`)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "string_pattern_mismatch":
            desc = _field_description(loc)
            msg = f"{err.get('input')!r} is not allowed here" + (f": {desc}" if desc else "")
        out.append((line, f"{where}: {key}: {msg}"))
    for item in format_problems(extra or [], source, lines):
        if item not in out:
            out.append(item)
    return "\n".join(text for _, text in sorted(out, key=lambda p: p[0]))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping of sections (device, feeds, ...)")
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # Config's own cross-field check runs only once every field is valid: check the
        # raw data too, so that every problem is listed in one go.
        extra = reference_problems(data)
        raise ConfigError(format_validation_error(exc, source, lines, extra)) from None


def locate(path: Path, loc: KeyPath) -> str:
    """`FILE:LINE` of the key `loc` in the YAML file at `path` (`FILE` if not found)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return str(path)
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    return _where(str(path), lines, loc)[1]


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    cfg = parse_config(text, str(path))
    log.info("config loaded from %s: %d feed(s), %d notice(s)", path, len(cfg.feeds), len(cfg.notices))
    return cfg
