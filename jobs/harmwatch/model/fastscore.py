"""Scoring a few posts without scikit-learn's per-call machinery, with the same numbers.

One post through the fitted pipeline cost about 11 ms, and most of it was not the model: each of the
two dozen ``transform`` and ``decision_function`` calls checks its input (``check_array``, the DataFrame
library probes), wraps its output for ``set_output`` and, in the stacker, walks its few hundred trees one
Python call each. For a call of at most :data:`FEW` posts the pipeline is walked here instead (one post:
about 4.5 ms; docs/benchmarks.md, "Scoring a few posts"):

- :func:`transform` runs a fitted ``Pipeline``, ``FeatureUnion`` or ``ColumnTransformer`` by calling its
  parts directly and stacking their outputs as CSR rows, and applies TF-IDF weighting as scikit-learn does;
- :func:`linear_scores` is a linear model's ``decision_function``, ``predict_proba`` or
  ``predict_log_proba`` as scikit-learn computes them, without the checks (used for every call size);
- :func:`boosted_proba` runs a gradient-boosted stacker's trees all at once, as arrays, adding each
  tree's value in the order scikit-learn adds them.

The outputs are the same floating-point numbers as scikit-learn's (``tests/model/test_fastscore.py``
compares them bit for bit); anything these functions do not know how to walk goes to scikit-learn. Some
of what they read is scikit-learn's private state (a stacker's trees, baseline and loss; its log-sum-exp):
the lock pins scikit-learn, and an upgrade that changes it fails those tests rather than a score.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn import get_config
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._array_api import _logsumexp  # what ComplementNB's own method calls
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
from sklearn.utils.validation import check_array

FEW = 64  # posts in a call up to which the direct path is taken (larger batches amortise the checks)


def _configured(step: Any) -> bool:
    """Whether ``step`` (or scikit-learn's global configuration) asks for DataFrame output
    (``set_output``): then its wrapping is not skipped."""
    config = getattr(step, "_sklearn_output_config", {})
    return get_config()["transform_output"] != "default" or any(
        v not in (None, "default") for v in config.values()
    )


def transform(step: Any, X: Any) -> Any:
    """``step.transform(X)`` for a fitted step, composites walked without their checks."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return X
    if _configured(step):
        return step.transform(X)
    if isinstance(step, Pipeline):
        for _name, part in step.steps:
            X = transform(part, X)
        return X
    if isinstance(step, FeatureUnion) and not step.transformer_weights:
        parts = [transform(t, X) for _n, t in step.transformer_list if not _dropped(t)]
        return _csr_hstack(parts) if any(sp.issparse(p) for p in parts) else np.hstack(parts)
    if isinstance(step, ColumnTransformer) and _plain_columns(step):
        parts = [transform(t, X[c]) for _n, t, c in step.transformers_ if not _dropped(t)]
        return _csr_hstack([p if sp.issparse(p) else check_array(p, ensure_all_finite=False) for p in parts])
    if isinstance(step, FunctionTransformer) and not step.validate:
        return step.func(X, **(step.kw_args or {})) if step.func is not None else X
    if isinstance(step, TfidfVectorizer) and _plain_tfidf(step._tfidf):
        return _tfidf(step._tfidf, CountVectorizer.transform(step, X), copy=False)
    if isinstance(step, TfidfTransformer) and _plain_tfidf(step):
        return _tfidf(step, X, copy=True)
    inner = getattr(step, "scoring_transformer", None)
    if inner is not None:
        return transform(inner(), X)
    return step.transform(X)


def _plain_tfidf(step: TfidfTransformer) -> bool:
    return (
        step.norm in ("l2", None) and hasattr(step, "idf_") and get_config()["sparse_interface"] == "spmatrix"
    )


def _tfidf(step: TfidfTransformer, X: Any, copy: bool) -> Any:
    """``step.transform(X, copy)`` for sparse counts: log-scaled, weighted by the IDF, rows to unit
    length, in place on a CSR copy as scikit-learn does it."""
    if X.dtype not in (np.float64, np.float32):
        X, copy = X.astype(np.float64), False
    X = sp.csr_matrix(X, copy=copy)
    if step.sublinear_tf:
        np.log(X.data, X.data)
        X.data += 1.0
    X.data *= step.idf_[X.indices]
    if step.norm == "l2":
        inplace_csr_row_normalize_l2(X)
    return X


def _csr_hstack(parts: list[Any]) -> sp.csr_matrix:
    """``sparse.hstack(parts).tocsr()`` with dense parts made CSR first, so scipy stacks CSR rows
    directly instead of going through one COO matrix of every entry (about 1 ms for one post): the same
    entries in the same order (a dense part's nonzeros by column, as its COO form has them)."""
    return sp.hstack([p if sp.issparse(p) else sp.csr_matrix(p) for p in parts], format="csr")


def _dropped(step: Any) -> bool:
    return isinstance(step, str) and step == "drop"


def _plain_columns(columns: ColumnTransformer) -> bool:
    """A ColumnTransformer the direct path reproduces: every part reads one named column, sparse output,
    no weights, nothing passed through."""
    return (
        getattr(columns, "sparse_output_", False)
        and not columns.transformer_weights
        and all(
            isinstance(c, str) and not isinstance(t, str)
            for _n, t, c in columns.transformers_
            if not _dropped(t)
        )
    )


def linear_scores(model: Any, method: str, X: Any) -> np.ndarray:
    """``getattr(model, method)(X)`` for the linear models of the stack, computed as scikit-learn does."""
    sgd = isinstance(model, SGDClassifier)
    binary_logistic = (
        sgd and method == "predict_proba" and model.loss == "log_loss" and len(model.classes_) == 2
    )
    if sgd and (method == "decision_function" or binary_logistic):
        scores = X @ model.coef_.T + model.intercept_
        if scores.shape[1] == 1:
            scores = scores.reshape(-1)
        if method == "decision_function":
            return scores
        scores = expit(scores)  # binary: the logistic of the score
        return np.stack([1 - scores, scores], axis=1)
    if isinstance(model, ComplementNB) and method == "predict_log_proba" and len(model.classes_) > 1:
        jll = X @ model.feature_log_prob_.T
        return jll - np.atleast_2d(_logsumexp(jll, axis=1)).T
    return getattr(model, method)(X)


# The stacker's trees as flat arrays, per fitted stacker (not stored with the model).
_FORESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forest(stacker: HistGradientBoostingClassifier) -> dict[str, np.ndarray] | None:
    """Every tree's nodes in one set of arrays (child indices offset to point into them), the root of
    each tree, and the depth to walk; None when a tree splits on a category."""
    if stacker in _FORESTS:
        return _FORESTS[stacker]
    trees = [p for iteration in stacker._predictors for p in iteration]
    if any(p.nodes["is_categorical"].any() for p in trees):
        _FORESTS[stacker] = None
        return None
    offsets = np.cumsum([0, *(len(p.nodes) for p in trees)])
    nodes = np.concatenate([p.nodes for p in trees])
    shift = np.repeat(offsets[:-1], [len(p.nodes) for p in trees])
    leaf = nodes["is_leaf"].astype(bool)
    forest = {
        "roots": offsets[:-1].astype(np.intp),
        "feature": nodes["feature_idx"].astype(np.intp),
        "threshold": nodes["num_threshold"].astype(np.float64),
        "missing_left": nodes["missing_go_to_left"].astype(bool),
        # a leaf points at itself, so walking on past it stays there
        "left": np.where(leaf, np.arange(len(nodes)), nodes["left"] + shift).astype(np.intp),
        "right": np.where(leaf, np.arange(len(nodes)), nodes["right"] + shift).astype(np.intp),
        "value": nodes["value"].astype(np.float64),
        "depth": int(nodes["depth"].max()),
    }
    _FORESTS[stacker] = forest
    return forest


def boosted_proba(stacker: HistGradientBoostingClassifier, X: np.ndarray) -> np.ndarray:
    """``stacker.predict_proba(X)`` for numerical features: every tree walked at once, one level per
    step; the raw score is the baseline plus each iteration's tree values in turn (``np.cumsum`` adds
    them one after another, as scikit-learn's loop does), then the loss's own link."""
    forest = _forest(stacker)
    if forest is None or getattr(stacker, "_preprocessor", None) is not None:
        return stacker.predict_proba(X)
    X = np.asarray(X, dtype=np.float64)
    node = np.broadcast_to(forest["roots"], (X.shape[0], len(forest["roots"]))).copy()
    rows = np.arange(X.shape[0])[:, None]
    for _ in range(forest["depth"]):
        x = X[rows, forest["feature"][node]]
        left = np.where(np.isnan(x), forest["missing_left"][node], x <= forest["threshold"][node])
        node = np.where(left, forest["left"][node], forest["right"][node])
    per_tree = forest["value"][node]  # rows x trees, trees in iteration order, classes within
    k = stacker.n_trees_per_iteration_
    steps = per_tree.reshape(X.shape[0], -1, k)
    baseline = np.broadcast_to(stacker._baseline_prediction, (X.shape[0], k))
    raw = np.cumsum(np.concatenate([baseline[:, None, :], steps], axis=1), axis=1)[:, -1, :]
    return stacker._loss.predict_proba(raw)
