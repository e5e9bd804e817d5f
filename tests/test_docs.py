"""The documentation site (mkdocs.yml): every public name has a reference entry, every page of
the navigation exists, and the README points to the site's pages that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import deepsets

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def nav_pages(nav: list) -> list[str]:
    """The file names of mkdocs' nav, flattened (sections are lists of {title: page})."""
    pages: list[str] = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def config() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use mkdocs' own tags (!ENV, !relative); none is needed to read the nav
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)


def test_every_public_name_has_a_reference_entry():
    entries = re.findall(r"^::: deepsets\.(\w+)$", (DOCS / "reference.md").read_text(), re.M)
    assert sorted(entries) == sorted(deepsets.__all__)
    assert len(entries) == len(set(entries)), "a name is listed twice"


def test_every_page_of_the_navigation_exists():
    pages = nav_pages(config()["nav"])
    assert "index.md" in pages and "reference.md" in pages and "walkthrough.ipynb" in pages
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, missing


def test_the_comparison_sees_a_missing_name():
    text = (DOCS / "reference.md").read_text().replace("::: deepsets.train\n", "")
    entries = re.findall(r"^::: deepsets\.(\w+)$", text, re.M)
    assert sorted(entries) != sorted(deepsets.__all__)


def test_the_readme_links_only_to_files_that_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert "docs/studies/exercise.md" in links and "docs/headline.png" in links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
