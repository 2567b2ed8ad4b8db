"""Recipes for property tests: valid ones, and ones made malformed or hostile in one place.

Hostile payloads that would run a command only ever ``touch PWNED`` (never anything
destructive), so a test can run a rendered script and check that nothing ran.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

MARKER = "PWNED"

SHELL = [
    f"$(touch {MARKER})",
    f"`touch {MARKER}`",
    f"; touch {MARKER}",
    f"&& touch {MARKER}",
    f"| touch {MARKER}",
    f"' ; touch {MARKER} ; '",
    f'" ; touch {MARKER} ; "',
    f"\n touch {MARKER}\n",
    f"\\\ntouch {MARKER}",
    "${HOME}",
    "$HF_TOKEN",
    "> /tmp/x",
    "*",
    "~root",
    "#",
    "!!",
    "-x",
    "--trust-remote-code",
    "--host=0.0.0.0",
]
TEMPLATES = [
    "{{ 7*7 }}",
    "{% raw %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{# comment",
    "${oc.env:HF_TOKEN}",
    "${oc.decode:x}",
    "{model}{chip}",
    "{model.__class__}",
    "{0}",
    "{}",
    "%s%n",
]
PATHS = [
    "..",
    ".",
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "a/b",
    "~/.ssh/id_rsa",
    "file:///etc/shadow",
    "C:\\Windows",
]
DOCKER = [
    "x\nRUN touch PWNED",
    "x\r\nRUN touch PWNED",
    "x \\\nRUN touch PWNED",
    'x"\nRUN touch PWNED\n"',
    "x\nFROM evil",
]
MARKDOWN = [
    "# Fake heading",
    "```",
    "---\nlicense: evil\n---",
    "<script>alert(1)</script>",
    "<!-- START:models -->",
    "| a | b |",
    "[link](javascript:alert(1))",
]
UNICODE = [
    "\u202etxt.exe",  # right-to-left override
    "a\u2066b\u2069",  # bidi isolates
    "a\u200bb",  # zero-width space
    "a\u200db",  # zero-width joiner
    "\ufeffbom",
    "a\x00b",
    "a\x85b",  # NEL: a line break for str.splitlines() and YAML 1.1
    "a\u2028b",  # line separator
    "a\u2029b",
    "a\x1bb[31m",  # escape sequence
    "\ud800",  # lone surrogate (not valid UTF-8)
    "Ωmega",
    "模型",
    "e\u0301",
    "\U0001f600",
]
HOSTILE = SHELL + TEMPLATES + PATHS + DOCKER + MARKDOWN + UNICODE

benign = st.text(alphabet="abcXYZ019-_.", min_size=0, max_size=8)
hostile_core = st.sampled_from(HOSTILE)
hostile_text = st.one_of(
    hostile_core,
    st.builds(lambda a, b, c: a + b + c, benign, hostile_core, benign),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.builds(lambda n: "a" * n, st.integers(60, 3000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.integers(-(10**30), 10**30).map(lambda n: n * 10**30),
)
any_value = st.one_of(
    hostile_text,
    scalars,
    st.lists(hostile_text, max_size=3),
    st.dictionaries(hostile_text, hostile_text, max_size=2),
)


def base_recipe() -> dict[str, Any]:
    """A valid recipe with four cells on two engines (both on this repository's catalog)."""
    return {
        "model": {
            "name": "Demo-1.5B",
            "source": "huggingface://org/Demo-1.5B@main",
            "license": "apache-2.0",
            "languages": ["en"],
            "description": "A demo model.",
        },
        "matrix": {
            "chip": ["cpu", "nvidia"],
            "quantization": ["bf16"],
            "engine": ["transformers", "vllm"],
        },
        "serve": {"max_model_len": 4096, "dtype": "bfloat16"},
        "overrides": [{"select": {"chip": "nvidia"}, "serve": {"tensor_parallel_size": 2}}],
        "validate": {"reference": {"chip": "cpu", "quantization": "bf16", "engine": "vllm"}},
        "release": {"org": "Org", "name": "{model}{quant_suffix}-{chip}-{engine}"},
    }


# Where a hostile value goes: a path into the recipe ("*" means a new key of that mapping).
TARGETS = [
    ("model", "name"),
    ("model", "source"),
    ("model", "license"),
    ("model", "languages", 0),
    ("model", "description"),
    ("matrix", "chip", 0),
    ("matrix", "engine", 1),
    ("serve", "dtype"),
    ("serve", "max_model_len"),
    ("serve", "*"),
    ("overrides", 0, "serve", "*"),
    ("overrides", 0, "select", "chip"),
    ("validate", "suites"),
    ("release", "org"),
    ("release", "name"),
    ("*",),
    ("model", "*"),
]


def mutate(recipe: dict[str, Any], target: tuple[Any, ...], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``recipe`` with ``value`` at ``target`` (``key`` names a new key)."""
    result = copy.deepcopy(recipe)
    node: Any = result
    for part in target[:-1]:
        node = node[part]
    last = target[-1]
    if last == "*":
        node[key] = value
    else:
        node[last] = value
    return result


@st.composite
def mutated_recipes(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Any, ...], Any]:
    """A recipe with one, two or three places changed to hostile or wrong-typed values."""
    recipe = base_recipe()
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(TARGETS))
        key = draw(st.one_of(st.sampled_from(["trust_remote_code", "host", "port"]), hostile_text))
        value = draw(st.one_of(hostile_text, hostile_text, any_value))
        recipe = mutate(recipe, target, key, value)
        changes.append((target, key, value))
    return recipe, tuple(changes), None


def dump(recipe: dict[str, Any]) -> str:
    """YAML text for a recipe (any string, control characters included, round-trips)."""
    return yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False)


# Raw YAML documents: things a YAML file can say that a data structure cannot.
RAW_FRAGMENTS = [
    "!!python/object/apply:os.system ['touch PWNED']",
    "!!python/name:os.system",
    "!custom value",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!timestamp 2024-01-01",
    "&a [1, 2]",
    "*a",
    "{<<: {a: 1}}",
    "2024-05-01",
    "0x1F",
    "0o17",
    "1_000",
    "-.inf",
    ".nan",
    "~",
    "yes",
    "'unterminated",
    '"\\x00"',
    "[" * 40 + "]" * 40,
    "{a: {b: {c: {d: {e: {f: {g: {h: {i: {j: {k: {l: {m: {n: {o: {p: {q: 1}}}}}}}}}}}}}}}}}",
    "? [complex, key]\n: value",
    "%TAG ! tag:evil.com,2000:\n---\n",
    "---\na: 1\n---\nb: 2",
    "\t tab",
    "1" * 5000,
    "0x" + "f" * 5000,
    "1e999999",
]
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)


@st.composite
def raw_documents(draw: st.DrawFn) -> str:
    """YAML text: a valid recipe with raw YAML spliced in, or a hostile document outright."""
    text = dump(base_recipe())
    kind = draw(st.sampled_from(["splice", "replace-line", "deep", "wide", "huge", "laughs"]))
    lines = text.splitlines(keepends=True)
    if kind == "splice":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.one_of(st.sampled_from(RAW_FRAGMENTS), st.text())) + text[at:]
    if kind == "replace-line":
        index = draw(st.integers(0, len(lines) - 1))
        indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
        key = lines[index].strip().split(":")[0]
        fragment = draw(st.sampled_from(RAW_FRAGMENTS))
        lines[index] = f"{indent}{key}: {fragment}\n"
        return "".join(lines)
    if kind == "deep":
        # Up to the limit and far past it; 130,000 levels is the most that fits in 256 KiB.
        depth = draw(st.one_of(st.integers(10, 40), st.sampled_from([500, 20_000, 130_000])))
        if draw(st.booleans()):
            return text + "extra: " + "[" * depth + "]" * depth + "\n"
        return text + "extra:\n  " + "- " * depth + "x\n"
    if kind == "wide":
        count = draw(st.integers(100, 30_000))
        return text + "serve:\n" + "".join(f"  a{i}: {i}\n" for i in range(count))
    if kind == "huge":
        size = draw(st.integers(200_000, 400_000))
        return text.replace("A demo model.", "x" * size)
    return text + BILLION_LAUGHS


def _field(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


@st.composite
def pattern_valid_recipes(draw: st.DrawFn) -> dict[str, Any]:
    """Recipes whose every field matches its pattern: they get past the schema, so what
    they hold reaches the plan and the templates (where the odd ones must stay inert)."""
    from builder.core import model as m

    recipe = base_recipe()
    # Hypothesis cannot generate from look-aheads: these regexes cover the same words.
    words = r"[A-Za-z0-9]{1,12}(?:[._-][A-Za-z0-9]{1,12}){0,4}"
    recipe["model"]["name"] = draw(st.one_of(_field(words), _field(m.REPO_PART)))
    recipe["model"]["license"] = draw(_field(m.LICENSE))
    recipe["model"]["languages"] = draw(st.lists(_field(m.LANGUAGE), max_size=2))
    recipe["model"]["description"] = draw(st.one_of(_field(m.SAFE_TEXT), hostile_text))
    recipe["model"]["source"] = draw(st.one_of(_field(m.SOURCE), st.sampled_from(PATHS)))
    recipe["release"]["org"] = draw(_field(m.REPO_PART))
    placeholders = st.sampled_from(["{model}", "{chip}", "{engine}", "{quant_suffix}", ""])
    name = draw(st.one_of(_field(m.RELEASE_NAME), st.sampled_from(["..", ".", "-x", "--help"])))
    recipe["release"]["name"] = draw(placeholders) + name + "{chip}{engine}"
    keys = st.one_of(
        _field(m.ARG_NAME), st.sampled_from(["host", "port", "model", "chat_template"])
    )
    recipe["serve"] = draw(st.dictionaries(keys, st.one_of(hostile_text, scalars), max_size=4))
    return recipe
