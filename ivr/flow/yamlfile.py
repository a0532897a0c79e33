"""Read YAML files keeping the line of every mapping key, for problems that name a line."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):  # type: ignore[type-arg]
    """A dict that remembers the 1-based line of each key and of itself."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        """Return the line where `key` is written, else the line of the mapping."""
        return self.key_lines.get(key, self.line)


# libyaml's parser when PyYAML has it: several times faster on a large flow, same line numbers.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


ALIAS = "an alias (*name) repeats the value of an anchor (&name) written elsewhere: write the value out here"


class _Refused(yaml.constructor.ConstructorError):
    """Readable YAML that a prompts file may not use."""


class _Loader(_Base):  # type: ignore[misc]
    # A node met a second time is an alias (*name) of an anchor (&name): one value shared by two
    # places, which an edit of one would silently change in the other. Refused, at the alias's key
    # (or list) where it can be told, else at the anchor.
    def _once(self, node: yaml.Node, mark: Any) -> None:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Refused(None, None, ALIAS, mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        self._once(node, node.start_mark)
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            # A value YAML's own types cannot hold: a date like 2024-13-45, a number of 5,000 digits.
            shown = str(node.value) if len(str(node.value)) <= 40 else str(node.value)[:37] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"the value {shown!r} cannot be read: {exc}", node.start_mark
            ) from exc

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
        for child in node.value:
            self._once(child, node.start_mark)
        return super().construct_sequence(node, deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            self._once(value_node, key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a word or a number", key_node.start_mark
                )
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice", key_node.start_mark
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


class YamlError(Exception):
    """A file that is not readable YAML; carries the file and line."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        super().__init__(f"{path}:{line or '?'}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


def load(path: Path) -> tuple[Any, bytes]:
    """Load a YAML file; return the data and the raw bytes it was read from."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(path, None, f"cannot read the file: {exc.strerror or exc}") from exc
    # The parse allocates only acyclic objects, but so many that the cyclic collector's passes
    # over them made a 10,000-node flow load in quadratic time; it is paused for the parse only.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return yaml.load(raw, Loader=_Loader), raw  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        mark = exc.problem_mark
        raise YamlError(path, mark.line + 1 if mark else None, str(exc.problem)) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise YamlError(path, line, f"not valid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise YamlError(path, None, f"not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise YamlError(path, None, "not UTF-8 text") from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Nesting too deep to read, or a value that cannot be read and was not marked with its line:
        # the file is refused like any other unreadable one.
        raise YamlError(path, None, f"not valid YAML: {exc}") from exc
    finally:
        if collecting:
            gc.enable()
