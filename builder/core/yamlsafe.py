"""Safe YAML for untrusted recipes: plain data only, with the line of every key kept.

Recipes arrive in pull requests from strangers, so this loader refuses anything beyond plain
data: anchors and aliases (billion-laughs), custom tags, duplicate keys, and documents that
are too large or too deeply nested. Every value keeps its source line for error messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import yaml

from builder.errors import Problem, RecipeError, SourceLoc
from builder.text import shown

MAX_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_NODES = 20_000
MAX_INT = 2**63 - 1

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}

Data: TypeAlias = "bool | int | float | str | list[Data] | dict[str, Data] | None"


@dataclass(frozen=True)
class Located:
    """A parsed document and the source location of every key path in it."""

    data: Data
    locs: dict[str, SourceLoc]
    file: str

    def loc(self, path: str) -> SourceLoc:
        """The location of ``path`` or, failing that, of its nearest parent."""
        while path:
            if path in self.locs:
                return self.locs[path]
            path = _parent(path)
        return self.locs.get("", SourceLoc(file=self.file, line=1))


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


class _PlainComposer:
    """Composes with PyYAML's composer but rejects anchors and aliases before any expansion
    can happen, and stops before Python's recursion limit does."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # The composer recurses once per level: stop before Python's recursion limit does
        # (a 256 KiB file of "[" is 250,000 levels).
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH + 1:
                event = self.peek_event()  # type: ignore[attr-defined]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                )
            return self._compose_plain(parent, index)
        finally:
            self.depth -= 1

    def _compose_plain(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in recipes", event.start_mark
            )
        event = self.peek_event()  # type: ignore[attr-defined]
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors (&name) are not allowed in recipes", event.start_mark
            )
        node: yaml.Node | None = yaml.composer.Composer.compose_node(self, parent, index)  # type: ignore[arg-type]
        return node


class _NoAliasLoader(_PlainComposer, yaml.SafeLoader):
    """SafeLoader (pure Python) that rejects anchors and aliases."""


if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(_PlainComposer, yaml.composer.Composer, yaml.cyaml.CParser):  # type: ignore[misc,name-defined]
        """The same composer over libyaml's scanner and parser (C): the scanning that
        dominates loading hundreds of recipes runs several times faster, and every check
        above still runs on each event."""

        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)  # type: ignore[attr-defined]
            yaml.composer.Composer.__init__(self)

        # The composer resolves scalar tags through the resolver (no constructor needed).
        resolve = yaml.resolver.Resolver.resolve
        yaml_implicit_resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
        yaml_path_resolvers = yaml.resolver.Resolver.yaml_path_resolvers
        descend_resolver = yaml.resolver.Resolver.descend_resolver
        ascend_resolver = yaml.resolver.Resolver.ascend_resolver
        DEFAULT_SCALAR_TAG = yaml.resolver.Resolver.DEFAULT_SCALAR_TAG
        DEFAULT_SEQUENCE_TAG = yaml.resolver.Resolver.DEFAULT_SEQUENCE_TAG
        DEFAULT_MAPPING_TAG = yaml.resolver.Resolver.DEFAULT_MAPPING_TAG

else:  # pragma: no cover - PyYAML without libyaml
    _FastLoader = _NoAliasLoader  # type: ignore[misc,assignment]


# Dates stay strings: a recipe's `revision: 2024-05-01` must not become a datetime object.
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FastLoader.yaml_implicit_resolvers = _NoAliasLoader.yaml_implicit_resolvers
_SCALARS = yaml.SafeLoader("")


def load_text(text: str, file: str) -> Located:
    """Parse ``text`` (the contents of ``file``) into plain data with key locations."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _error(file, 1, "", f"file is larger than {MAX_BYTES // 1024} KiB")
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise _error(file, line, "", f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        message = f"invalid YAML: character U+{code:04X} is not allowed ({exc.reason})"
        raise _error(file, line, "", message) from None
    except yaml.YAMLError as exc:
        raise _error(file, 1, "", f"invalid YAML: {exc}") from None
    locs: dict[str, SourceLoc] = {"": SourceLoc(file=file, line=1)}
    if node is None:
        return Located(data=None, locs=locs, file=file)
    builder = _Builder(file, locs)
    return Located(data=builder.build(node, "", 0), locs=locs, file=file)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of ``text``: through libyaml when it is there, and again through the
    pure-Python loader when that fails, so a refused document gets the same message (and
    line) with either; both run the same checks on every event."""
    try:
        return _single_node(_FastLoader, text)
    except (yaml.YAMLError, ValueError):
        if _FastLoader is _NoAliasLoader:
            raise
    return _single_node(_NoAliasLoader, text)


def _single_node(loader_class: type[_NoAliasLoader], text: str) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
    finally:
        loader.dispose()
    return node


def _error(file: str, line: int, key: str, message: str) -> RecipeError:
    return RecipeError([Problem(loc=SourceLoc(file=file, line=line), key=key, message=message)])


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Builder:
    """Turns a composed node tree into plain data, recording where each key path is."""

    def __init__(self, file: str, locs: dict[str, SourceLoc]) -> None:
        self.file = file
        self.locs = locs
        self.count = 0

    def _loc(self, node: yaml.Node) -> SourceLoc:
        mark = node.start_mark
        return SourceLoc(file=self.file, line=mark.line + 1, column=mark.column + 1)

    def _fail(self, node: yaml.Node, path: str, message: str) -> RecipeError:
        return RecipeError([Problem(loc=self._loc(node), key=path, message=message)])

    def build(self, node: yaml.Node, path: str, depth: int) -> Data:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(node, path, f"document has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise self._fail(node, path, f"nested deeper than {MAX_DEPTH} levels")
        if node.tag not in _PLAIN_TAGS:
            raise self._fail(node, path, f"tag {shown(node.tag)} is not allowed; use plain values")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items: list[Data] = []
            for index, child in enumerate(node.value):
                child_path = f"{path}[{index}]"
                self.locs[child_path] = self._loc(child)
                items.append(self.build(child, child_path, depth + 1))
            return items
        try:
            value: Data = _SCALARS.construct_object(node)
        except (ValueError, yaml.YAMLError) as exc:
            # e.g. an integer of 5,000 digits, over Python's int conversion limit
            reason = str(exc).split(";")[0]
            raise self._fail(node, path, f"cannot read this value: {reason}") from None
        if isinstance(value, str) and not _encodable(value):
            # A YAML escape such as "\ud800" makes a lone surrogate: no file can hold it.
            raise self._fail(node, path, "not valid Unicode (a lone surrogate)")
        if isinstance(value, int) and abs(value) > MAX_INT:
            # 0x followed by 5,000 digits is a valid int that str() later refuses to print.
            raise self._fail(node, path, "integer out of range (64-bit at most)")
        if isinstance(value, float) and not math.isfinite(value):
            # .nan, .inf and 1e999 (which reads as inf) would reach the outputs, and JSON
            # has no way to write them.
            raise self._fail(node, path, f"{shown(node.value)} is not a finite number")
        return value

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Data]:
        result: dict[str, Data] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail(key_node, path, "merge keys (<<) are not allowed in recipes")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise self._fail(key_node, path, "keys must be plain strings")
            key = str(key_node.value)
            child_path = f"{path}.{key}" if path else key
            if key in result:
                first = self.locs[child_path]
                raise self._fail(
                    key_node, child_path, f"duplicate key (first at line {first.line})"
                )
            self.locs[child_path] = self._loc(key_node)
            result[key] = self.build(value_node, child_path, depth + 1)
        return result
