"""The manual (mkdocs.yml, docs/): it builds strictly, its references come from the code,
and a broken link fails the build."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from camaudit.cli import cli
from camaudit.config import Config
from camaudit.config.hub import HubConfig

ROOT = Path(__file__).resolve().parents[2]


def build(repo: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def text_of(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT, out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def commands(cmd: click.Command, ctx: click.Context) -> list[tuple[click.Command, click.Context]]:
    found = [(cmd, ctx)]
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            found += commands(sub, click.Context(sub, info_name=name, parent=ctx))
    return found


def test_the_cli_reference_has_every_command_and_option(site: Path) -> None:
    page = (site / "cli.html").read_text()
    words = text_of(site / "cli.html")
    every = commands(cli, click.Context(cli, info_name="camaudit"))
    assert len(every) > 20
    for cmd, ctx in every:
        assert f'id="cli-{ctx.command_path.replace(" ", "-")}"' in page, ctx.command_path
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in words, f"{ctx.command_path} {opt}"


def _keys(schema: dict) -> set[str]:
    keys = set(schema.get("properties", {}))
    for sub in schema.get("$defs", {}).values():
        keys |= set(sub.get("properties", {}))
    return keys


def test_the_config_reference_has_every_key_of_both_schemas(site: Path) -> None:
    page = (site / "config-reference.html").read_text()
    for schema in (Config.model_json_schema(), HubConfig.model_json_schema()):
        for key in _keys(schema):
            assert f"<code>{key}</code>" in page, key
    # a described default, as the schema states it
    assert "Prune acknowledged events older than this" in page


def test_the_config_examples_and_privacy_page_are_the_repository_files(site: Path) -> None:
    words = text_of(site / "configuration.html")
    for example in sorted((ROOT / "config").glob("*.yaml")):
        assert f"# config/{example.name}" in words
        first = next(ln for ln in example.read_text().splitlines() if ln.strip())
        assert first.strip() in words
    privacy = text_of(site / "privacy.html")
    assert "The design: a safe view that does not depend on the detector" in privacy


def _copy_manual(dest: Path) -> Path:
    dest.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copy(ROOT / "PRIVACY.md", dest / "PRIVACY.md")
    shutil.copytree(ROOT / "docs", dest / "docs")
    shutil.copytree(ROOT / "config", dest / "config")
    return dest


@pytest.mark.parametrize("link", ["[x](nowhere.md)", "[x](hub.md#no-such-anchor)"])
def test_a_broken_link_fails_the_strict_build(tmp_path: Path, link: str) -> None:
    repo = _copy_manual(tmp_path / "repo")
    page = repo / "docs" / "journal.md"
    page.write_text(page.read_text() + f"\nSee {link}.\n")
    done = build(repo, tmp_path / "site")
    assert done.returncode != 0
    assert "journal.md" in done.stderr and link.split("(")[1].rstrip(")") in done.stderr


def test_an_unknown_generated_part_fails_the_build(tmp_path: Path) -> None:
    repo = _copy_manual(tmp_path / "repo")
    page = repo / "docs" / "cli.md"
    page.write_text(page.read_text().replace("<!-- generated: cli -->", "<!-- generated: clii -->"))
    done = build(repo, tmp_path / "site")
    assert done.returncode != 0
    assert "unknown generated part 'clii'" in done.stderr


def test_the_readme_is_short_and_says_how_to_run_it() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250
    first_screen = "\n".join(lines[:30])
    assert "make demo" in first_screen and "make test" in first_screen


def test_the_readmes_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    local = [ln for ln in links if "://" not in ln]
    assert len(local) > 10
    missing = [ln for ln in local if not (ROOT / ln).exists()]
    assert missing == []
