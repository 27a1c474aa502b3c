"""Reader of GO OBO files: [Term] stanzas with their is_a / part_of parents and alt ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from protea_pipelines.errors import ParseError
from protea_pipelines.parsers import open_text

ASPECT_OF_NAMESPACE = {
    "biological_process": "P",
    "molecular_function": "F",
    "cellular_component": "C",
}


@dataclass(frozen=True)
class OboTerm:
    go_id: str
    name: str
    aspect: str
    is_obsolete: bool
    alt_ids: tuple[str, ...]
    is_a: tuple[str, ...]
    part_of: tuple[str, ...]


@dataclass(frozen=True)
class OboHeader:
    format_version: str | None
    data_version: str | None


@dataclass
class _Stanza:
    line_number: int
    tags: dict[str, list[str]] = field(default_factory=dict)


def read_obo_header(path: Path) -> OboHeader:
    """The header tags before the first stanza (format-version, data-version)."""
    values: dict[str, str] = {}
    with open_text(path) as handle:
        for line in handle:
            if line.startswith("["):
                break
            tag, sep, value = line.partition(":")
            if sep:
                values.setdefault(tag.strip(), value.strip())
    return OboHeader(values.get("format-version"), values.get("data-version"))


def iter_obo_terms(path: Path) -> Iterator[OboTerm]:
    """Every [Term] stanza of the file, in file order; other stanza types are passed over."""
    for stanza in _iter_term_stanzas(path):
        yield _term_of(path, stanza)


def _iter_term_stanzas(path: Path) -> Iterator[_Stanza]:
    current: _Stanza | None = None
    in_term = False
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line.startswith("["):
                if current is not None:
                    yield current
                in_term = line == "[Term]"
                current = _Stanza(line_number) if in_term else None
                continue
            if not in_term or current is None or not line or line.startswith("!"):
                continue
            tag, sep, value = line.partition(":")
            if sep:
                current.tags.setdefault(tag.strip(), []).append(value.strip())
    if current is not None:
        yield current


def _strip_comment(value: str) -> str:
    # "GO:0048308 ! organelle inheritance" and trailing {qualifiers} carry no data we use; names
    # are left as written since they may hold "!".
    value = value.split("!", 1)[0].strip()
    if value.endswith("}") and " {" in value:
        value = value.rsplit(" {", 1)[0]
    return value.strip()


def _missing_tag(path: Path, line_number: int, problem: str) -> ParseError:
    """A ParseError for a tag that is absent: there is no value to quote, so the message is
    the file, the stanza's line and the problem, without a "(got '')" that would say nothing."""
    error = ParseError(str(path), line_number, problem)
    error.args = (f"{path}:{line_number}: {problem}",)
    return error


def _term_of(path: Path, stanza: _Stanza) -> OboTerm:
    tags = stanza.tags

    def first(tag: str) -> str:
        values = tags.get(tag)
        if not values:
            raise _missing_tag(path, stanza.line_number, f"[Term] stanza without {tag}")
        return _strip_comment(values[0])

    def references(tag: str) -> list[str]:
        return [_strip_comment(value) for value in tags.get(tag, [])]

    go_id = first("id")
    namespace = first("namespace")
    aspect = ASPECT_OF_NAMESPACE.get(namespace)
    if aspect is None:
        raise ParseError(
            str(path),
            stanza.line_number,
            f"term {go_id} has a namespace other than {', '.join(ASPECT_OF_NAMESPACE)}",
            f"namespace: {namespace}",
        )
    part_of = []
    for relationship in references("relationship"):
        words = relationship.split()
        if len(words) >= 2 and words[0] == "part_of":
            part_of.append(words[1])
    return OboTerm(
        go_id=go_id,
        name=tags.get("name", [""])[0],
        aspect=aspect,
        is_obsolete=references("is_obsolete")[:1] == ["true"],
        alt_ids=tuple(references("alt_id")),
        is_a=tuple(references("is_a")),
        part_of=tuple(part_of),
    )
