"""The release report page (out/site/index.html): its tables, its links, and everything on
it escaped, from a hostile value in a recipe or in an index entry merged from elsewhere."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from builder.core import report, site
from builder.core.catalog_model import Catalog
from builder.core.cells import Plan
from builder.core.index import index_entry
from builder.core.matrix import Selection, expand
from builder.core.recipes import load_recipes, recipe_files
from builder.effects import fs
from builder.run.site import write_site
from tests.conftest import ROOT
from tests.unit.test_golden import GATES

CELL = "tiny-llama.cpu.bf16.transformers"
PNG = site.PNG_SIGNATURE + b"\x00" * 16
HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


class Page(HTMLParser):
    """The page's elements as (tag, attributes), and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    return expand(load_recipes(recipe_files(ROOT / "recipes"), catalog, ROOT), catalog, Selection())


def entries_of(plan: Plan) -> list[dict[str, Any]]:
    recipes = {r.name: r for r in plan.recipes}
    return [
        index_entry(
            c,
            recipes[c.recipe],
            "passed" if c.chip == "cpu" else "awaiting-runner",
            "",
            GATES if c.chip == "cpu" else {},
        )
        for c in plan.cells
    ]


def render(plan: Plan, catalog: Catalog, entries: list[dict[str, Any]]) -> str:
    files = {CELL: site.CellFiles(plot=PNG, present=frozenset({"README.md", "engine.log"}))}
    return site.site_html(plan, catalog, entries, files)


def test_the_release_and_variant_tables_are_on_the_page(plan: Plan, catalog: Catalog) -> None:
    entries = entries_of(plan)
    page = Page(render(plan, catalog, entries))
    release = [a for a in page.tags("table") if a.get("class") == "release"]
    assert len(release) == 1
    assert len([a for a in page.tags("table") if a.get("class") == "variants"]) == len(plan.recipes)
    text = "".join(page.text)
    # The README's rows, cell for cell: the same values in the same columns.
    for row in report.release_rows(entries):
        for key in ("model", "quantization", "accuracy", "throughput", "name"):
            assert row[key] in text
    assert all(column in text for column in report.RELEASE_COLUMNS)
    assert "Tiny-Llama-GGUF-Q8_0" in text  # a variant table's row
    assert "[-7.2, +1.3] pts" in text  # the accuracy gate's interval
    assert "0.95× [0.91, 1.01]" in text  # the perf gate's, at its point


def test_links_are_relative_and_nothing_is_loaded(plan: Plan, catalog: Catalog) -> None:
    html = render(plan, catalog, entries_of(plan))
    page = Page(html)
    hrefs = [str(a["href"]) for a in page.tags("a")]
    assert f"../tiny-llama/{CELL}/README.md" in hrefs
    assert f"../tiny-llama/{CELL}/engine.log" in hrefs
    # Only files the folder has are linked to.
    assert f"../tiny-llama/{CELL}/lm-eval.log" not in hrefs
    assert all(h.startswith(("../", "#cell-", "#model-", "#release", "#cells")) for h in hrefs)
    anchors = {str(a["id"]) for _, a in page.elements if a.get("id")}
    assert {h[1:] for h in hrefs if h.startswith("#")} <= anchors
    sources = [str(a["src"]) for a in page.tags("img")]
    assert len(sources) == 1
    assert sources[0].startswith("data:image/png;base64,")
    assert not page.tags("script")
    assert not page.tags("link")
    policy = next(a for a in page.tags("meta") if a.get("http-equiv"))
    assert "default-src 'none'" in str(policy["content"])


def test_hostile_values_are_escaped(plan: Plan, catalog: Catalog) -> None:
    """A recipe value past its pattern (defence in depth), and an entry's reason, gate note,
    task and hub URL as a tampered release.json or a merged CI artifact would bring them."""
    loaded = plan.recipes[0]
    bad_model = dataclasses.replace(loaded.recipe.model, name=HOSTILE)
    bad_recipe = dataclasses.replace(
        loaded, recipe=dataclasses.replace(loaded.recipe, model=bad_model)
    )
    hostile_plan = dataclasses.replace(plan, recipes=(bad_recipe, *plan.recipes[1:]))
    entries = entries_of(plan)
    accuracy = {**GATES["accuracy"][0], "task": HOSTILE, "note": HOSTILE}
    entries[0] |= {
        "model": HOSTILE,
        "reason": f"{HOSTILE}\u202e\nsecond line",
        "release_repo": HOSTILE,
        "gates": {**GATES, "reference": HOSTILE, "accuracy": [accuracy]},
        "published": {"hf": {"kind": "huggingface", "url": "javascript:alert(3)"}},
    }
    html = site.site_html(hostile_plan, catalog, entries, {})
    page = Page(html)
    assert "<script" not in html
    assert "<img src=x" not in html
    assert not page.tags("script")
    assert not page.tags("img")
    assert all("onerror" not in attrs for _, attrs in page.elements)
    assert "javascript:" not in html  # not a link, and not shown: only http(s) hubs are
    text = "".join(page.text)
    assert HOSTILE in text  # shown, as text
    assert "\u202e" not in html
    assert "\\u202e" in text
    assert "\nsecond line" in text  # a reason keeps its lines


def test_a_plot_that_is_not_a_png_is_left_out(plan: Plan, catalog: Catalog) -> None:
    files = {CELL: site.CellFiles(plot=b"<svg onload=alert(1)>", present=frozenset())}
    page = Page(site.site_html(plan, catalog, entries_of(plan), files))
    assert not page.tags("img")


def test_hub_links_of_published_cells(plan: Plan, catalog: Catalog) -> None:
    entries = entries_of(plan)
    url = "https://huggingface.co/FlagRelease/Tiny-Llama-cpu-FlagOS"
    entries[-1]["published"] = {"hf": {"kind": "huggingface", "url": url}}
    hrefs = [a["href"] for a in Page(render(plan, catalog, entries)).tags("a")]
    assert url in hrefs


def test_cell_hrefs_are_percent_encoded() -> None:
    assert site.cell_href("r/r.a.b.c", "README.md") == "../r/r.a.b.c/README.md"
    assert site.cell_href("r/x y#?", "") == "../r/x%20y%23%3F/"
    assert site.cell_href("../../etc", "passwd") == "../etc/passwd"


def test_write_site_reads_the_cell_folders(plan: Plan, catalog: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = out / "tiny-llama" / CELL
    folder.mkdir(parents=True)
    (folder / "perf.png").write_bytes(PNG)
    (folder / "README.md").write_text("card")
    entries = entries_of(plan)
    write_site(out, plan, catalog, entries)
    html = (out / site.PAGE).read_text(encoding="utf-8")
    page = Page(html)
    assert len(page.tags("img")) == 1
    hrefs = [a["href"] for a in page.tags("a")]
    assert f"../tiny-llama/{CELL}/README.md" in hrefs
    assert f"../tiny-llama/{CELL}/engine.log" not in hrefs
    # The same index and folders make the same bytes (a rerun changes nothing).
    write_site(out, plan, catalog, entries)
    assert (out / site.PAGE).read_text(encoding="utf-8") == html
    assert fs.read_bytes(out / "missing") is None
