"""Offline evaluation (docs/contract.md section 7): the hetrec2011-lastfm-2k loader, a seeded
per-user split, the ranking / coherence metrics and the report that ``recsys evaluate`` prints."""

from recsys.evaluation.hetrec import HetrecData, is_hetrec_dir, load_hetrec
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
    "coherence",
    "evaluate",
    "evaluate_data_dir",
    "evaluate_hetrec",
    "format_report",
    "is_data_dir",
    "is_hetrec_dir",
    "jaccard",
    "list_coherence",
    "load_hetrec",
    "n_test_items",
    "ndcg_at_k",
    "precision_at_k",
    "relevant_from_csr",
    "train_test_split",
]
