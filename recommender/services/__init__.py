"""The recommender's write path: one module per concern.

- pairs_import: Certhelper's (run, reference) pairs written as labels;
- feedback: a shifter's accept or reject and its labels, a shift leader's reopening;
- declarations: the shift leaders' declared references;
- recommendations: the active model's rankings stored for the pages to read.

The modules import no sibling: importing one runs this file, which imports them all
(a cycle tests/test_import_graph.py refuses).

Training a model version is the model life cycle's, in recommender.training. The
names below are the public services, importable from `recommender.services`.
"""

from .declarations import declaration_check, declared_reference_declare, declared_reference_end
from .feedback import feedback_record, run_reconstruction_reopen
from .pairs_import import certhelper_pairs_file_import, reference_pairs_import, reference_pairs_upsert
from .recommendations import recommendations_refresh, recommendations_store

__all__ = [
    "certhelper_pairs_file_import",
    "declaration_check",
    "declared_reference_declare",
    "declared_reference_end",
    "feedback_record",
    "recommendations_refresh",
    "recommendations_store",
    "reference_pairs_import",
    "reference_pairs_upsert",
    "run_reconstruction_reopen",
]
