"""An independent computation of the demo dataset, straight from export.md.

Nothing here comes from protea_pipelines: the GAF rows are read from data/real with pandas
(the date cuts applied here), the ontology is read with pandas.read_sql from the store's
go_terms / go_term_relations / go_alt_ids tables, the vectors from
PROTEA_HOME/embeddings/<config>/vectors.npy + accessions.txt, and the neighbours come from a
brute-force float64 cosine search with ties broken by accession. If the export and this file
agree, both read export.md the same way; they share no code that could hide a common bug.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
YEAST = REPO_ROOT / "data" / "real" / "yeast_goa198_203"
RELEASE_198 = ("goa_yeast_559292.HTP.release198.gaf", "goa_yeast_559292.EXP_NOT.release198.gaf")
RELEASE_203 = ("goa_yeast_559292.HTP.release203.gaf", "goa_yeast_559292.EXP_NOT.release203.gaf")
# version -> (files, cutoff "YYYYMMDD" or None): three date cuts of 198, then 198 and 203 whole.
DEMO_VERSIONS: dict[int, tuple[tuple[str, ...], str | None]] = {
    20041231: (RELEASE_198, "20041231"),
    20091231: (RELEASE_198, "20091231"),
    20141231: (RELEASE_198, "20141231"),
    20200616: (RELEASE_198, None),
    20210408: (RELEASE_203, None),
}
EXPERIMENTAL = {"EXP", "IDA", "IPI", "IMP", "IGI", "IEP", "HTP", "HDA", "HMP", "HGI", "HEP"}
EXPERIMENTAL |= {"TAS", "IC"}
ROOTS = frozenset({"GO:0008150", "GO:0003674", "GO:0005575"})
ASPECTS = ("C", "F", "P")
GAF_COLUMNS = [
    "db",
    "accession",
    "symbol",
    "qualifier",
    "go_id",
    "reference",
    "evidence",
    "with_from",
    "gaf_aspect",
    "name",
    "synonyms",
    "type",
    "taxon",
    "date",
    "assigned_by",
    "extension",
    "form",
]
COLUMNS = [
    "snapshot_pair",
    "protein_accession",
    "aspect",
    "go_term_id",
    "category",
    "distance",
    "k_position",
    "vote_count",
    "vote_fraction",
    "neighbor_min_distance",
    "neighbor_mean_distance",
    "neighbor_distance_std",
    "go_term_frequency",
    "ref_annotation_density",
    "evidence_code",
    "qualifier",
    "label",
]


def read_gaf(path: Path) -> pd.DataFrame:
    """Every data row of a GAF file, all columns as text. '!' header lines come first."""
    header = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("!"):
                break
            header += 1
    frame = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=GAF_COLUMNS,
        skiprows=header,
        dtype=str,
        keep_default_na=False,
        quoting=3,  # csv.QUOTE_NONE: a '"' in a name is data
    )
    return frame.apply(lambda column: column.str.strip())


@dataclass
class OntologyTables:
    aspect: dict[str, str]
    obsolete: set[str]
    alt: dict[str, str]
    parents: dict[str, list[str]]
    children: dict[str, list[str]]
    _up: dict[str, frozenset[str]] = field(default_factory=dict)
    _down: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_store(cls, database: Path, snapshot_name: str) -> OntologyTables:
        with sqlite3.connect(database) as connection:
            snapshot = pd.read_sql(
                "SELECT id FROM ontology_snapshots WHERE name = ?",
                connection,
                params=[snapshot_name],
            )["id"].item()
            terms = pd.read_sql(
                "SELECT go_id, aspect, is_obsolete FROM go_terms WHERE snapshot_id = ?",
                connection,
                params=[snapshot],
            )
            edges = pd.read_sql(
                "SELECT child_go_id, parent_go_id, relation FROM go_term_relations "
                "WHERE snapshot_id = ?",
                connection,
                params=[snapshot],
            )
            alts = pd.read_sql(
                "SELECT alt_id, primary_go_id FROM go_alt_ids WHERE snapshot_id = ?",
                connection,
                params=[snapshot],
            )
        edges = edges[edges["relation"].isin(["is_a", "part_of"])]
        parents: dict[str, list[str]] = defaultdict(list)
        children: dict[str, list[str]] = defaultdict(list)
        for child, parent in zip(
            edges["child_go_id"].tolist(), edges["parent_go_id"].tolist(), strict=True
        ):
            parents[child].append(parent)
            children[parent].append(child)
        return cls(
            aspect=dict(zip(terms["go_id"].tolist(), terms["aspect"].tolist(), strict=True)),
            obsolete=set(terms.loc[terms["is_obsolete"].astype(bool), "go_id"]),
            alt=dict(zip(alts["alt_id"].tolist(), alts["primary_go_id"].tolist(), strict=True)),
            parents=dict(parents),
            children=dict(children),
        )

    def primary(self, go_id: str) -> str | None:
        if go_id not in self.aspect:
            go_id = self.alt.get(go_id, go_id)
        if go_id not in self.aspect or go_id in self.obsolete:
            return None
        return go_id

    def _closure(self, term: str, edges: dict[str, list[str]], memo: dict) -> frozenset[str]:
        # Breadth-first over one edge direction; the term itself included.
        if term not in memo:
            seen = {term}
            frontier = [term]
            while frontier:
                for nxt in edges.get(frontier.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
            memo[term] = frozenset(seen)
        return memo[term]

    def up(self, term: str) -> frozenset[str]:
        return self._closure(term, self.parents, self._up)

    def down(self, term: str) -> frozenset[str]:
        return self._closure(term, self.children, self._down)

    def propagate(self, terms: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for term in terms:
            out |= self.up(term)
        return out - ROOTS


def release_statements(version: int, ontology: OntologyTables) -> pd.DataFrame:
    """The statements of a demo version: rows (date-cut), terms mapped, one per key."""
    files, cutoff = DEMO_VERSIONS[version]
    rows = pd.concat([read_gaf(YEAST / name) for name in files], ignore_index=True)
    if cutoff is not None:
        rows = rows[rows["date"] <= cutoff]
    rows = rows.assign(
        go_id=rows["go_id"].map(ontology.primary),
        negated=rows["qualifier"].map(lambda q: "NOT" in q.upper().split("|")),
    )
    rows = rows[rows["go_id"].notna()]
    rows = rows.assign(aspect=rows["go_id"].map(ontology.aspect))
    # One statement per (accession, term, evidence, negation); the first line's qualifier.
    rows = rows.drop_duplicates(["accession", "go_id", "evidence", "negated"], keep="first")
    return rows[["accession", "go_id", "aspect", "evidence", "qualifier", "negated"]].reset_index(
        drop=True
    )


@dataclass
class Truth:
    known: dict[tuple[str, str], set[str]]
    new: dict[tuple[str, str], set[str]]
    category: dict[tuple[str, str], str]


def ground_truth(ontology: OntologyTables, pred: pd.DataFrame, cur: pd.DataFrame) -> Truth:
    def positive_experimental(frame: pd.DataFrame) -> dict[tuple[str, str], set[str]]:
        chosen = frame[frame["evidence"].isin(EXPERIMENTAL) & ~frame["negated"]]
        annotated: dict[str, set[str]] = defaultdict(set)
        for accession, term in zip(
            chosen["accession"].tolist(), chosen["go_id"].tolist(), strict=True
        ):
            annotated[accession].add(term)
        by_aspect: dict[tuple[str, str], set[str]] = defaultdict(set)
        for accession, terms in annotated.items():
            for term in ontology.propagate(terms):
                by_aspect[(accession, ontology.aspect[term])].add(term)
        return by_aspect

    known = positive_experimental(pred)
    blocked: dict[str, set[str]] = defaultdict(set)
    negatives = pd.concat([pred, cur])
    for accession, term in negatives.loc[negatives["negated"], ["accession", "go_id"]].itertuples(
        index=False
    ):
        blocked[accession] |= ontology.down(term)
    known_aspects: dict[str, set[str]] = defaultdict(set)
    for accession, aspect in known:
        known_aspects[accession].add(aspect)

    new, category = {}, {}
    for (accession, aspect), terms in positive_experimental(cur).items():
        gained = terms - known.get((accession, aspect), set()) - blocked[accession]
        if not gained:
            continue
        new[(accession, aspect)] = gained
        if aspect in known_aspects[accession]:
            category[(accession, aspect)] = "pk"
        elif known_aspects[accession]:
            category[(accession, aspect)] = "lk"
        else:
            category[(accession, aspect)] = "nk"
    return Truth(dict(known), new, category)


def embeddings(home: Path, config: str) -> tuple[list[str], np.ndarray]:
    folder = home / "embeddings" / config
    accessions = (folder / "accessions.txt").read_text(encoding="utf-8").splitlines()
    return accessions, np.load(folder / "vectors.npy")


def unit64(vectors: np.ndarray) -> np.ndarray:
    rows = vectors.astype(np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def neighbours(
    queries: list[str], pool: list[str], vectors: dict[str, np.ndarray], k: int
) -> dict[str, list[tuple[str, float]]]:
    """The k nearest of the pool (sorted accessions) for each query, itself excluded."""
    q = unit64(np.stack([vectors[a] for a in queries]))
    r = unit64(np.stack([vectors[a] for a in pool]))
    distance = np.maximum(1.0 - q @ r.T, 0.0)
    position = {accession: i for i, accession in enumerate(pool)}
    found = {}
    for i, query in enumerate(queries):
        row = distance[i].copy()
        if query in position:
            row[position[query]] = np.inf
        # Rounding to 1e-12 turns BLAS-level noise into exact ties; a stable sort on a pool in
        # accession order then breaks every tie by accession.
        order = np.argsort(np.round(row, 12), kind="stable")
        kept = [j for j in order[:k] if np.isfinite(row[j])]
        found[query] = [(pool[j], float(row[j])) for j in kept]
    return found


@dataclass
class PairResult:
    name: str
    queries: dict[str, list[str]]
    neighbours: dict[str, dict[str, list[tuple[str, float]]]]
    rows: pd.DataFrame
    truth: Truth


def pair_dataset(
    ontology: OntologyTables,
    statements: dict[int, pd.DataFrame],
    pred_version: int,
    version: int,
    vectors: dict[str, np.ndarray],
    k: int,
    expand: bool = False,
) -> PairResult:
    """The rows of one lineage pair; statements holds every version's statements."""
    name = f"v{pred_version}-v{version}"
    pred = statements[pred_version]
    truth = ground_truth(ontology, pred, statements[version])
    visible = pred[~pred["negated"] & pred["accession"].isin(vectors.keys())]

    rows = []
    all_queries, all_neighbours = {}, {}
    for aspect in ASPECTS:
        in_aspect = visible[visible["aspect"] == aspect]
        terms_of: dict[str, set[str]] = defaultdict(set)
        for accession, term in zip(
            in_aspect["accession"].tolist(), in_aspect["go_id"].tolist(), strict=True
        ):
            terms_of[accession].add(term)
        # Evidence and qualifier of (accession, term): the alphabetically first evidence code.
        first = in_aspect.sort_values(["evidence", "qualifier"]).drop_duplicates(
            ["accession", "go_id"]
        )
        evidence = {
            (accession, term): (code, qualifier)
            for accession, term, code, qualifier in zip(
                first["accession"],
                first["go_id"],
                first["evidence"],
                first["qualifier"],
                strict=True,
            )
        }
        frequency = in_aspect.drop_duplicates(["accession", "go_id"])["go_id"].value_counts()
        pool = sorted(terms_of)
        queries = sorted(a for a, asp in truth.new if asp == aspect and a in vectors)
        all_queries[aspect] = queries
        if not queries or not pool:
            all_neighbours[aspect] = {}
            continue
        found = neighbours(queries, pool, vectors, k)
        all_neighbours[aspect] = found
        for query in queries:
            near = found[query]
            if not near:
                continue
            known = truth.known.get((query, aspect), set())
            std = float(np.std([d for _, d in near]))
            votes: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
            for rank, (ref, dist) in enumerate(near, start=1):
                voted = ontology.propagate(terms_of[ref]) if expand else terms_of[ref] - ROOTS
                for term in voted - known:
                    votes[term].append((rank, ref, dist))
            for term, voters in votes.items():
                rank, closest, dist = voters[0]
                code, qualifier = _evidence_of(ontology, evidence, terms_of, closest, term)
                distances = [d for _, _, d in voters]
                rows.append(
                    (
                        name,
                        query,
                        aspect,
                        term,
                        truth.category[(query, aspect)],
                        dist,
                        rank,
                        len(voters),
                        len(voters) / k,
                        min(distances),
                        float(np.mean(distances)),
                        std,
                        int(frequency.get(term, 0)),
                        len(terms_of[closest]),
                        code,
                        qualifier,
                        int(term in truth.new[(query, aspect)]),
                    )
                )
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    frame = frame.sort_values(["protein_accession", "aspect", "go_term_id"], ignore_index=True)
    return PairResult(name, all_queries, all_neighbours, frame, truth)


def _evidence_of(
    ontology: OntologyTables,
    evidence: dict[tuple[str, str], tuple[str, str]],
    terms_of: dict[str, set[str]],
    voter: str,
    term: str,
) -> tuple[str, str]:
    if term in terms_of[voter]:
        return evidence[(voter, term)]
    # Expanded vote: the first (evidence, qualifier) among the voter's terms below it.
    return min(evidence[(voter, t)] for t in terms_of[voter] if term in ontology.up(t))


def demo_dataset(
    home: Path, pairs: list[tuple[int, int]], k: int, config: str, snapshot: str
) -> dict[str, PairResult]:
    ontology = OntologyTables.from_store(home / "protea.db", snapshot)
    accessions, matrix = embeddings(home, config)
    vectors = dict(zip(accessions, matrix, strict=True))
    versions = sorted({version for pair in pairs for version in pair})
    statements = {version: release_statements(version, ontology) for version in versions}
    return {f"v{p}-v{v}": pair_dataset(ontology, statements, p, v, vectors, k) for p, v in pairs}


def lineage_pairs(versions: list[int]) -> list[tuple[int, int]]:
    """(pred(v), v) for each requested v: pred is the newest demo version below v."""
    return [(max(x for x in DEMO_VERSIONS if x < v), v) for v in versions]
