"""Everything a lineage pair's KNN and candidate stages read from the store, loaded once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from protea_pipelines.export.ground_truth import GroundTruth, compute_ground_truth
from protea_pipelines.export.lineage import LineagePair
from protea_pipelines.export.plan import PairSettings
from protea_pipelines.export.reference_pool import ReferencePool, build_reference_pools
from protea_pipelines.export.statements import Statement, read_statements
from protea_pipelines.ontology import Ontology, load_ontology_graph
from protea_pipelines.store.embedding_store import EmbeddingMatrix, load_embeddings


@dataclass(frozen=True)
class PairInputs:
    pair: LineagePair
    ontology: Ontology
    embeddings: EmbeddingMatrix
    pred_statements: list[Statement]
    ground_truth: GroundTruth
    pools: dict[str, ReferencePool]

    def queries(self, aspect: str) -> list[str]:
        """Proteins with ground truth in this aspect that have an embedding, sorted."""
        index = self.embeddings.row_of
        return sorted(
            accession
            for accession, query_aspect in self.ground_truth.new
            if query_aspect == aspect and accession in index
        )


def load_pair_inputs(session: Session, settings: PairSettings, pair: LineagePair) -> PairInputs:
    ontology = load_ontology_graph(session, settings.ontology_snapshot_id)
    embeddings = load_embeddings(settings.embedding_config)
    pred_statements = read_statements(session, pair.pred.annotation_set_id, ontology)
    statements = read_statements(session, pair.current.annotation_set_id, ontology)
    return PairInputs(
        pair=pair,
        ontology=ontology,
        embeddings=embeddings,
        pred_statements=pred_statements,
        ground_truth=compute_ground_truth(ontology, pred_statements, statements),
        pools=build_reference_pools(pred_statements, embeddings.row_of),
    )
