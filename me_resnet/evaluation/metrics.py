"""Accuracy, UF1 and UAR from a LOSO predictions table (paper §3.1, MEGC 2019 convention; docs/method.md).

The predictions of all folds of a dataset are concatenated first, then

- accuracy = correct / clips;
- UF1 = mean over the 3 classes of F1 = 2TP / (2TP + FP + FN);
- UAR = mean over the 3 classes of recall TP / (TP + FN) (the paper's eq. 18
  divides by TP+FP+TN+FN, a typo: docs/interpretations.md).

Computed with scikit-learn (``f1_score`` / ``recall_score``, ``average="macro"``,
``labels=[0, 1, 2]``, ``zero_division=0``): a class that a dataset's ground truth
lacks counts as 0 in the mean, never silently dropped, and a warning names it.
"composite" is the same over the concatenation of all datasets. The 95 %
interval resamples subjects (``dataset/subject``) with replacement.
``uf1_subject_averaged`` is the other convention some papers use (mean of
per-subject UF1, each over the classes present in that subject's truth or
predictions, sklearn's default) — reported beside, labelled, never mixed up.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from me_resnet.data.records import CLASS_NAMES

LABELS = list(range(len(CLASS_NAMES)))
REQUIRED_COLUMNS = ("dataset", "subject", "y_true", "y_pred")
COMPOSITE = "composite"


def _check(predictions: pd.DataFrame) -> pd.DataFrame:
    missing = [name for name in REQUIRED_COLUMNS if name not in predictions.columns]
    if missing:
        raise ValueError(f"predictions table lacks column(s) {missing}; has {list(predictions.columns)}")
    if len(predictions) == 0:
        raise ValueError("predictions table is empty")
    for name in ("y_true", "y_pred"):
        values = pd.to_numeric(predictions[name], errors="coerce")
        bad = values.isna() | ~values.isin(LABELS)
        if bad.any():
            raise ValueError(
                f"predictions.{name} holds values outside {LABELS}: {predictions[name][bad].unique()[:5].tolist()}"
            )
    return predictions


def _scores(y_true, y_pred) -> tuple[float, float, float]:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    accuracy = accuracy_score(y_true, y_pred)
    uf1 = f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    uar = recall_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
    return float(accuracy), float(uf1), float(uar)


def _confusion_counts(y_true, y_pred) -> np.ndarray:
    counts = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return counts


def uf1_uar_from_confusion(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UF1 and UAR of (..., K, K) confusion matrices (rows = truth), 0/0 → 0 like ``zero_division=0``."""
    tp = np.diagonal(matrices, axis1=-2, axis2=-1).astype(np.float64)
    support = matrices.sum(axis=-1)
    predicted = matrices.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
    return f1.mean(axis=-1), recall.mean(axis=-1)


def bootstrap_interval(predictions: pd.DataFrame, resamples: int, seed: int, level: float = 0.95) -> dict:
    """Subject-level bootstrap percentile interval of UF1 and UAR.

    Each resample draws the table's subjects (``dataset/subject``) with
    replacement and pools their clips (one confusion matrix per subject, summed
    with the draw counts, so metrics equal sklearn's on the pooled clips).
    """
    if resamples <= 0:
        return {"uf1_ci_low": np.nan, "uf1_ci_high": np.nan, "uar_ci_low": np.nan, "uar_ci_high": np.nan}
    groups = predictions["dataset"].astype(str) + "/" + predictions["subject"].astype(str)
    names = groups.unique()
    per_subject = np.stack(
        [_confusion_counts(part["y_true"], part["y_pred"]) for _, part in predictions.groupby(groups, sort=False)]
    )  # same order as names (groupby sort=False keeps first appearance)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(resamples, len(names)))
    weights = np.zeros((resamples, len(names)), dtype=np.int64)
    np.add.at(weights, (np.arange(resamples)[:, None], draws), 1)
    pooled = np.einsum("bs,sij->bij", weights, per_subject)
    uf1, uar = uf1_uar_from_confusion(pooled)
    tail = 100 * (1 - level) / 2
    return {
        "uf1_ci_low": float(np.percentile(uf1, tail)),
        "uf1_ci_high": float(np.percentile(uf1, 100 - tail)),
        "uar_ci_low": float(np.percentile(uar, tail)),
        "uar_ci_high": float(np.percentile(uar, 100 - tail)),
    }


def _subject_averaged_uf1(predictions: pd.DataFrame) -> float:
    from sklearn.metrics import f1_score

    values = [
        f1_score(part["y_true"], part["y_pred"], average="macro", zero_division=0)
        for _, part in predictions.groupby(["dataset", "subject"], sort=False)
    ]
    return float(np.mean(values))


def _warn_absent(predictions: pd.DataFrame, dataset: str) -> None:
    present = set(predictions["y_true"].astype(int))
    for label in LABELS:
        if label not in present:
            warnings.warn(
                f"dataset {dataset!r} has no ground-truth clip of class {CLASS_NAMES[label]!r}: "
                f"its recall and F1 count as 0 in UAR/UF1 (zero_division=0)",
                stacklevel=4,
            )


def _row(predictions: pd.DataFrame, dataset: str, resamples: int, seed: int) -> dict:
    _warn_absent(predictions, dataset)
    accuracy, uf1, uar = _scores(predictions["y_true"].astype(int), predictions["y_pred"].astype(int))
    row = {
        "dataset": dataset,
        "n": len(predictions),
        "n_subjects": predictions.groupby(["dataset", "subject"]).ngroups,
        "accuracy": accuracy,
        "uf1": uf1,
        "uar": uar,
    }
    row.update(bootstrap_interval(predictions, resamples, seed))
    row["uf1_subject_averaged"] = _subject_averaged_uf1(predictions)
    if "optimistic" in predictions.columns:
        row["optimistic"] = bool(predictions["optimistic"].astype(bool).any())
    return row


def compute_metrics(predictions: pd.DataFrame, bootstrap_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per dataset plus ``"composite"`` (all datasets pooled).

    Columns: dataset, n, n_subjects, accuracy, uf1, uar, uf1_ci_low/high,
    uar_ci_low/high (subject bootstrap, ``bootstrap_resamples`` draws seeded by
    ``seed``), uf1_subject_averaged, and ``optimistic`` when the table says so
    (early stopping on the test subject).
    """
    predictions = _check(predictions)
    rows = [
        _row(part, str(dataset), bootstrap_resamples, seed)
        for dataset, part in predictions.groupby("dataset", sort=True)
    ]
    rows.append(_row(predictions, COMPOSITE, bootstrap_resamples, seed))
    return pd.DataFrame(rows)


def confusion(predictions: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """3x3 confusion matrix (rows = true class, columns = predicted), all datasets if ``dataset`` is None."""
    from sklearn.metrics import confusion_matrix

    predictions = _check(predictions)
    if dataset is not None:
        if dataset not in set(predictions["dataset"]):
            raise ValueError(f"no predictions for dataset {dataset!r}; have {sorted(set(predictions['dataset']))}")
        predictions = predictions[predictions["dataset"] == dataset]
    matrix = confusion_matrix(predictions["y_true"].astype(int), predictions["y_pred"].astype(int), labels=LABELS)
    return pd.DataFrame(
        matrix, index=pd.Index(CLASS_NAMES, name="true"), columns=pd.Index(CLASS_NAMES, name="predicted")
    )


def per_subject_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, subject) = per LOSO fold: n, accuracy, uf1, uar (labels 0-2, zero_division=0)."""
    predictions = _check(predictions)
    rows = []
    for (dataset, subject), part in predictions.groupby(["dataset", "subject"], sort=True):
        accuracy, uf1, uar = _scores(part["y_true"].astype(int), part["y_pred"].astype(int))
        rows.append(
            {"dataset": dataset, "subject": subject, "n": len(part), "accuracy": accuracy, "uf1": uf1, "uar": uar}
        )
    return pd.DataFrame(rows)
