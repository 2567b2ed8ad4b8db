"""Property: a host path anywhere inside an engine argument value (after any separator a
value may hold: ``=``, ``,``, ``:``, ``+``, ``@``, ``%``, a space, JSON's quotes and
brackets) is refused at its line unless it is under ``settings.local_model_roots``; values
made only of names (``Qwen/Qwen3-8B``, ``a=b,c=d``) still load."""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from builder.core.catalog_model import Catalog
from builder.core.recipes import parse_recipe
from builder.core.values import host_path_problems
from builder.errors import RecipeError
from tests.unit.test_untrusted_recipes import ONE_CELL

SEPARATORS = ["=", ",", ":", "+", "@", "%", " ", '"', "{", "[", '": "', "=file://", "://"]
OUTSIDE = [
    "/etc/passwd",
    "/root/.cache/huggingface/token",
    "/var/run/docker.sock",
    "/data/modelsX/w",  # a sibling of the allowed root, not under it
    "/data",
    "/",
    "//169.254.169.254/latest",
    "/proc/self/environ",
    "/home/runner/.ssh/id_rsa",
]
names = st.from_regex(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}(?:/[A-Za-z0-9_-]{1,8}){0,2}", fullmatch=True
)
tails = st.from_regex(r"(?:[ ,=\]}\"][A-Za-z0-9_ ]{0,8}){0,2}", fullmatch=True)


def load(value: str, catalog: Catalog) -> None:
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    text = ONE_CELL.replace("{max_model_len: 4096}", f'{{speculative_config: "{quoted}"}}')
    parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)


@given(head=names, sep=st.sampled_from(SEPARATORS), path=st.sampled_from(OUTSIDE), tail=tails)
def test_a_host_path_after_any_separator_is_refused(
    catalog: Catalog, head: str, sep: str, path: str, tail: str
) -> None:
    value = head + sep + path + tail
    event(f"separator {sep!r}")
    with pytest.raises(RecipeError) as info:
        load(value, catalog)
    problem = info.value.problems[0]
    assert (problem.loc.file, problem.loc.line) == ("recipes/r.yaml", 7), str(info.value)
    assert "serve.speculative_config" in str(info.value)


@given(
    parts=st.lists(names, min_size=1, max_size=4),
    seps=st.lists(st.sampled_from(["=", ",", ":", " "]), min_size=4, max_size=4),
)
def test_values_made_of_names_hold_no_host_path(parts: list[str], seps: list[str]) -> None:
    value = "".join(p + s for p, s in zip(parts, seps, strict=False)).rstrip(",: =")
    assert list(host_path_problems(value, ["/data/models"])) == []


@given(sub=st.from_regex(r"[A-Za-z0-9_-]{1,10}(?:/[A-Za-z0-9_-]{1,10}){0,2}", fullmatch=True))
def test_paths_under_an_allowed_root_pass(sub: str) -> None:
    for value in (
        f"/data/models/{sub}",
        f'{{"model": "/data/models/{sub}"}}',
        f"a=/data/models/{sub}",
    ):
        assert list(host_path_problems(value, ["/data/models"])) == [], value
