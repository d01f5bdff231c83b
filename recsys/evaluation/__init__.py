"""Offline evaluation (docs/contract.md section 7): the hetrec2011-lastfm-2k loader, a seeded
per-user split, the ranking / coherence metrics and the report that ``recsys evaluate`` prints;
and the discovery report on a data directory with a holdout, with the builder of such a
directory from hetrec (``recsys generate-world --from-hetrec``)."""

from recsys.evaluation.hetrec import HetrecData, is_hetrec_dir, load_hetrec
from recsys.evaluation.hetrec_data_dir import HetrecWorldConfig, build_hetrec_data_dir
from recsys.evaluation.holdout import (
    discovery_scores,
    evaluate_holdout,
    format_holdout_report,
    has_holdout,
    new_artists,
    read_holdout,
)
from recsys.evaluation.metrics import (
    coherence,
    jaccard,
    list_coherence,
    ndcg_at_k,
    precision_at_k,
    relevant_from_csr,
)
from recsys.evaluation.report import (
    EvaluationData,
    evaluate,
    evaluate_data_dir,
    evaluate_hetrec,
    format_report,
    is_data_dir,
)
from recsys.evaluation.split import n_test_items, train_test_split

__all__ = [
    "EvaluationData",
    "HetrecData",
    "HetrecWorldConfig",
    "build_hetrec_data_dir",
    "coherence",
    "discovery_scores",
    "evaluate",
    "evaluate_data_dir",
    "evaluate_hetrec",
    "evaluate_holdout",
    "format_holdout_report",
    "format_report",
    "has_holdout",
    "is_data_dir",
    "is_hetrec_dir",
    "jaccard",
    "list_coherence",
    "load_hetrec",
    "n_test_items",
    "ndcg_at_k",
    "new_artists",
    "precision_at_k",
    "read_holdout",
    "relevant_from_csr",
    "train_test_split",
]
