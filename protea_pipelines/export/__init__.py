"""The research-dataset export: payload, lineage pairs, ground truth, candidates and output."""
