"""The OBO reader on an excerpt of the GO 2019-01-27 release."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from protea_pipelines.errors import ParseError
from protea_pipelines.parsers.obo import iter_obo_terms, read_obo_header

FIXTURES = Path(__file__).parent.parent / "fixtures"
OBO = FIXTURES / "go_2019_excerpt.obo"


def test_header_gives_data_version() -> None:
    header = read_obo_header(OBO)
    assert header.data_version == "releases/2019-01-27"
    assert header.format_version == "1.2"


def test_counts_match_the_excerpt_text() -> None:
    terms = list(iter_obo_terms(OBO))
    # grep -c on the excerpt: 665 [Term], 988 is_a, 82 "relationship: part_of", 227 alt_id,
    # 4 "is_obsolete: true"; the one [Typedef] stanza (part_of) is not a term.
    assert len(terms) == 665
    assert sum(len(term.is_a) for term in terms) == 988
    assert sum(len(term.part_of) for term in terms) == 82
    assert sum(len(term.alt_ids) for term in terms) == 227
    assert sorted(term.go_id for term in terms if term.is_obsolete) == [
        "GO:0003840",
        "GO:0004871",
        "GO:0006184",
        "GO:0006200",
    ]
    assert {term.aspect for term in terms} == {"P", "F", "C"}


def test_term_fields_and_only_is_a_and_part_of_parents() -> None:
    terms = {term.go_id: term for term in iter_obo_terms(OBO)}
    reproduction = terms["GO:0000003"]
    assert reproduction.name == "reproduction"
    assert reproduction.aspect == "P"
    assert reproduction.alt_ids == ("GO:0019952", "GO:0050876")
    assert reproduction.is_a == ("GO:0008150",)
    assert not reproduction.is_obsolete
    checkpoint = terms["GO:0000075"]
    assert checkpoint.is_a == ("GO:0009987", "GO:0045786")
    assert checkpoint.part_of == ()
    roots = {go_id: terms[go_id].aspect for go_id in ("GO:0008150", "GO:0003674", "GO:0005575")}
    assert roots == {"GO:0008150": "P", "GO:0003674": "F", "GO:0005575": "C"}


def test_relationships_other_than_part_of_are_ignored() -> None:
    terms = {term.go_id: term for term in iter_obo_terms(OBO)}
    # cytokinesis: "relationship: has_part GO:0090148" then "relationship: part_of GO:0051301".
    assert terms["GO:0000910"].part_of == ("GO:0051301",)
    assert terms["GO:0000910"].is_a == ("GO:0022402",)
    # GTPase activator activity: part_of GO:0043547 and positively_regulates GO:0003924.
    assert terms["GO:0005096"].part_of == ("GO:0043547",)
    assert terms["GO:0005096"].is_a == ("GO:0008047", "GO:0030695")
    assert len(terms["GO:0005096"].alt_ids) == 9


def test_gzipped_file_reads_the_same(tmp_path: Path) -> None:
    packed = tmp_path / "go.obo.gz"
    packed.write_bytes(gzip.compress(OBO.read_bytes()))
    assert list(iter_obo_terms(packed)) == list(iter_obo_terms(OBO))
    assert read_obo_header(packed).data_version == "releases/2019-01-27"


def test_unknown_namespace_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.obo"
    broken.write_text("format-version: 1.2\n\n[Term]\nid: GO:0000001\nname: x\nnamespace: bogus\n")
    with pytest.raises(ParseError) as caught:
        list(iter_obo_terms(broken))
    assert str(caught.value) == (
        f"{broken}:3: term GO:0000001 has a namespace other than biological_process, "
        "molecular_function, cellular_component (got 'namespace: bogus')"
    )


@pytest.mark.parametrize("tag", ["id", "namespace"])
def test_a_missing_tag_names_file_and_line_without_an_empty_got(tmp_path: Path, tag: str) -> None:
    tags = {"id": "id: GO:0000001", "namespace": "namespace: biological_process"}
    del tags[tag]
    broken = tmp_path / "broken.obo"
    broken.write_text("format-version: 1.2\n\n[Term]\nname: x\n" + "\n".join(tags.values()) + "\n")
    with pytest.raises(ParseError) as caught:
        list(iter_obo_terms(broken))
    assert str(caught.value) == f"{broken}:3: [Term] stanza without {tag}"
    assert (caught.value.path, caught.value.line_number) == (str(broken), 3)
