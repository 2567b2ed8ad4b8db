"""The release report page of a real release, opened in a real headless Chromium: its
tables and plots are in the rendered DOM, the plots decode, and a screenshot is not blank.

The release is the session's ``released`` project (tests/integration/conftest.py), which
other integration tests share: this test adds no release of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.integration.conftest import SECOND_RECIPE

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="/usr/bin/chromium is missing (Debian package chromium; .ci/run installs it)",
    ),
]

# What the probe copy of the page adds: the page itself runs no script (its policy allows
# none), so a copy without the policy records what the browser decoded of each image.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    img.setAttribute("data-decoded", img.complete ? String(img.naturalWidth) : "0");
  }
  document.body.setAttribute("data-probed", String(document.images.length));
});
</script>"""


class Dom(HTMLParser):
    """The elements of a dumped DOM as (tag, attributes)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def tags(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for name, a in self.elements
            if name == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Let the load event (and the probe's handler) run before the DOM is dumped.
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_report_page_renders_in_chromium(project: Path, tmp_path: Path) -> None:
    site = project / "out" / "site"
    page = site / "index.html"
    assert page.is_file()
    cells = json.loads((project / "out" / "release.json").read_text())["cells"]
    url = page.resolve().as_uri()

    dom = Dom(chromium(tmp_path / "profile", "--dump-dom", url).stdout)
    release = dom.elements.index(("table", {"class": "release"}))
    rows = [e for e in dom.elements[release:] if e[0] in ("tr", "table")]
    # The release table: a header row and one row per cell of the index, up to the next table.
    end = next(i for i, e in enumerate(rows[1:], 1) if e[0] == "table")
    assert end - 2 == len(cells)
    assert len(dom.tags("table", **{"class": "variants"})) == 2  # tiny-llama, tiny-llama-b
    images = dom.tags("img")
    measured = [c for c in cells if (project / "out" / c["path"] / "perf.png").is_file()]
    assert len(images) == len(measured) >= 2
    assert all(str(img["src"]).startswith("data:image/png;base64,") for img in images)
    hrefs = {str(a.get("href")) for a in dom.tags("a")}
    for cell in cells:
        assert f"../{cell['path']}/README.md" in hrefs
        assert (site / f"../{cell['path']}/README.md").is_file()
    assert f"../{SECOND_RECIPE}/{SECOND_RECIPE}.cpu.bf16.transformers/engine.log" in hrefs

    probe = site / "probe.html"
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
    probe.write_text(text.replace("</body>", PROBE + "</body>"))
    probed = Dom(chromium(tmp_path / "profile", "--dump-dom", probe.resolve().as_uri()).stdout)
    assert probed.tags("body", **{"data-probed": str(len(images))})
    widths = [int(str(img.get("data-decoded"))) for img in probed.tags("img")]
    assert widths == [640] * len(images)  # perf_png: 6.4 in at 100 dpi

    shot = tmp_path / "site.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", url)
    check_not_blank(shot)


def check_not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (1280, 2000)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None
    assert len(colors) > 50, "the screenshot is (nearly) one colour"
