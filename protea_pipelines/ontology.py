"""The GO graph of one ontology snapshot, as the export reads it.

Terms are read through this graph: alt ids map to their primary term, obsolete and unknown terms
are dropped, and propagation follows is_a and part_of only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.store.models import GoAltId, GoTerm, GoTermRelation

ASPECT_ROOTS = {"P": "GO:0008150", "F": "GO:0003674", "C": "GO:0005575"}
ROOT_TERMS = frozenset(ASPECT_ROOTS.values())


@dataclass
class Ontology:
    snapshot_id: int
    aspects: dict[str, str]
    parents: dict[str, tuple[str, ...]]
    alt_ids: dict[str, str]
    obsolete: frozenset[str]
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _descendants: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Only edges between known terms of one namespace propagate: GO's part_of links from
        # molecular functions to processes would otherwise turn a function into "known"
        # process terms (go-basic drops them for the same reason), and a parent the file never
        # defines has no aspect to count it in.
        self.parents = {
            child: kept
            for child, parents in self.parents.items()
            if (kept := tuple(p for p in parents if self.aspects.get(p) == self.aspects.get(child)))
        }
        children: dict[str, list[str]] = defaultdict(list)
        for child, parents in self.parents.items():
            for parent in parents:
                children[parent].append(child)
        self._children = dict(children)

    def primary(self, go_id: str) -> str | None:
        """The live primary id of a term, or None when it is unknown or obsolete."""
        go_id = self.alt_ids.get(go_id, go_id)
        if go_id not in self.aspects or go_id in self.obsolete:
            return None
        return go_id

    def aspect(self, go_id: str) -> str:
        return self.aspects[go_id]

    def ancestors(self, go_id: str) -> frozenset[str]:
        """The term and every is_a / part_of ancestor of it."""
        cached = self._ancestors.get(go_id)
        if cached is not None:
            return cached
        # Iterative post-order walk: GO is deep enough that recursion is not worth the risk.
        stack = [go_id]
        on_path: set[str] = set()
        while stack:
            term = stack[-1]
            pending = [p for p in self.parents.get(term, ()) if p not in self._ancestors]
            if pending and term not in on_path:
                on_path.add(term)
                cycle = [p for p in pending if p in on_path]
                if cycle:
                    raise InputError(
                        "ontology_snapshot",
                        self.snapshot_id,
                        f"is_a/part_of cycle: {term} has the ancestor {cycle[0]}, "
                        f"which descends from {term}",
                    )
                stack.extend(pending)
                continue
            on_path.discard(term)
            stack.pop()
            if term in self._ancestors:
                continue
            closure = {term}
            for parent in self.parents.get(term, ()):
                closure |= self._ancestors[parent]
            self._ancestors[term] = frozenset(closure)
        return self._ancestors[go_id]

    def descendants(self, go_id: str) -> frozenset[str]:
        """The term and every term below it through is_a / part_of."""
        cached = self._descendants.get(go_id)
        if cached is not None:
            return cached
        seen = {go_id}
        frontier = [go_id]
        while frontier:
            term = frontier.pop()
            for child in self._children.get(term, ()):
                if child not in seen:
                    seen.add(child)
                    frontier.append(child)
        result = frozenset(seen)
        self._descendants[go_id] = result
        return result

    def propagate(self, terms: Iterable[str]) -> set[str]:
        """Every ancestor of the given terms, the aspect roots left out."""
        closure: set[str] = set()
        for term in terms:
            closure |= self.ancestors(term)
        return closure - ROOT_TERMS


_cache: dict[tuple[str, int], Ontology] = {}


def load_ontology_graph(session: Session, snapshot_id: int) -> Ontology:
    """Read one snapshot's terms, edges and alt ids; cached per database and process."""
    key = (str(session.get_bind().engine.url), snapshot_id)
    cached = _cache.get(key)
    if cached is not None:
        return cached

    aspects: dict[str, str] = {}
    obsolete: set[str] = set()
    for go_id, aspect, is_obsolete in session.execute(
        select(GoTerm.go_id, GoTerm.aspect, GoTerm.is_obsolete).where(
            GoTerm.snapshot_id == snapshot_id
        )
    ):
        aspects[go_id] = aspect
        if is_obsolete:
            obsolete.add(go_id)

    parents: dict[str, list[str]] = defaultdict(list)
    for child, parent in session.execute(
        select(GoTermRelation.child_go_id, GoTermRelation.parent_go_id)
        .where(GoTermRelation.snapshot_id == snapshot_id)
        .order_by(GoTermRelation.child_go_id, GoTermRelation.parent_go_id)
    ):
        if parent not in parents[child]:
            parents[child].append(parent)

    alt_ids = dict(
        session.execute(
            select(GoAltId.alt_id, GoAltId.primary_go_id).where(GoAltId.snapshot_id == snapshot_id)
        ).all()
    )
    graph = Ontology(
        snapshot_id=snapshot_id,
        aspects=aspects,
        parents={child: tuple(ps) for child, ps in parents.items()},
        alt_ids=alt_ids,
        obsolete=frozenset(obsolete),
    )
    _cache[key] = graph
    return graph


def clear_ontology_cache() -> None:
    _cache.clear()
