"""How learnable the classes are from the flow alone: a linear leave-one-subject-out probe.

Logistic regression (L2, C = 0.1) on ``flow_stats.probe_features`` (the
step-summed key-frame flow (u, v, |F|) pooled to 14 x 14), the features
standardised with statistics of each training fold only; one fold per subject;
UF1 = macro F1 over the pooled predictions of all folds (the MEGC 2019
convention of the kit's LOSO). A probe at 1.0 says the data separates the
classes trivially; chance for three classes is about 0.33.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PROBE_C = 0.1


def loso_predictions(X: np.ndarray, y: np.ndarray, subjects: np.ndarray, C: float = PROBE_C) -> np.ndarray:
    """Each clip's class predicted by a probe trained on the other subjects' clips."""
    X, y, subjects = np.asarray(X), np.asarray(y), np.asarray(subjects)
    if not len(X) == len(y) == len(subjects):
        raise ValueError(f"X, y and subjects differ in length: {len(X)}, {len(y)}, {len(subjects)}")
    if len(np.unique(subjects)) < 2:
        raise ValueError(f"leave-one-subject-out needs at least 2 subjects, got {np.unique(subjects).tolist()}")
    predictions = np.empty_like(y)
    for train, test in LeaveOneGroupOut().split(X, y, subjects):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        model.fit(X[train], y[train])
        predictions[test] = model.predict(X[test])
    return predictions


def loso_uf1(X: np.ndarray, y: np.ndarray, subjects: np.ndarray, C: float = PROBE_C) -> float:
    """Macro F1 over the pooled leave-one-subject-out predictions of the probe."""
    predictions = loso_predictions(X, y, subjects, C)
    return float(f1_score(y, predictions, average="macro"))
