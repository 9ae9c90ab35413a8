"""Scoring a few posts on the direct path (harmwatch.model.fastscore) gives scikit-learn's numbers, bit for
bit: each part against the scikit-learn method it stands in for, and the fitted classifier whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from harmwatch.model import fastscore
from harmwatch.model.textmodel import LogCountRatioClassifier, clean_frame, meta_features

POSTS = [
    "you are all idiots and should leave",
    "RT @someone: what a lovely day at the park #sunday",
    "@friend no, I never said that about them",
    "people like that are vermin http://t.co/abc get them out",
    "i love my neighbours, they are kind",
    "this phone is garbage, worst purchase ever",
    "=cmd| ' /C calc'!A0 is not a post",
    "",
    "go back where you came from",
    "thanks for sharing, great thread!!",
]
ODD = ["", None, float("nan"), 3, "RT @x: #a b http://t.co/x  hi", "  spaced\tout \n text ", "@@##", pd.NA]


def _sparse(rng: np.random.Generator, rows: int, cols: int) -> sp.csr_matrix:
    return sp.random(rows, cols, density=0.2, format="csr", random_state=rng) * 3


def test_linear_scores_are_the_models_own_methods():
    rng = np.random.default_rng(0)
    X, y3 = _sparse(rng, 120, 40), rng.integers(0, 3, 120)
    y2 = (y3 > 0).astype(int)
    cases = [
        (SGDClassifier(loss="modified_huber", random_state=0).fit(X, y3), "decision_function"),
        (SGDClassifier(loss="modified_huber", random_state=0).fit(X, y2), "decision_function"),
        (SGDClassifier(loss="log_loss", average=True, random_state=0).fit(X, y2), "predict_proba"),
        (SGDClassifier(loss="log_loss", random_state=0).fit(X, y3), "predict_proba"),
        (ComplementNB(alpha=0.3).fit(X, y3), "predict_log_proba"),
    ]
    for model, method in cases:
        for rows in (X[:1], X[3:5], X):
            assert np.array_equal(fastscore.linear_scores(model, method, rows), getattr(model, method)(rows))


def test_the_nb_svm_scores_the_ratio_scaled_features_as_scipy_scales_them():
    rng = np.random.default_rng(1)
    X, y = _sparse(rng, 150, 30), rng.integers(0, 3, 150)
    model = LogCountRatioClassifier(random_state=0).fit(X, y)
    expected = np.column_stack(
        [
            m.decision_function(X.multiply(r).tocsr())
            for m, r in zip(model.models_, model.ratios_, strict=True)
        ]
    )
    assert np.array_equal(model.decision_function(X), expected)
    assert np.array_equal(fastscore.linear_scores(model, "decision_function", X[:1]), expected[:1])


@pytest.mark.parametrize("classes", [2, 4])
def test_the_boosted_trees_walked_as_arrays_are_the_stackers_probabilities(classes):
    rng = np.random.default_rng(classes)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] * 2 + X[:, 1] - X[:, 2] + rng.normal(size=400) > 0).astype(int)
    if classes > 2:
        y = y + (X[:, 3] > 0.5) * 2
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the side each split learnt
    stacker = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    probe = rng.normal(size=(40, 6))
    probe[::4, 1] = np.nan
    splits = [n for trees in stacker._predictors for t in trees for n in t.nodes if not n["is_leaf"]]
    for row, node in zip(probe[20:], splits[::7], strict=False):  # a value right on a split goes left
        row[node["feature_idx"]] = node["num_threshold"]
    for rows in (probe[:1], probe[5:7], probe):
        assert np.array_equal(fastscore.boosted_proba(stacker, rows), stacker.predict_proba(rows))


def test_a_walked_pipeline_transforms_as_scikit_learn_does():
    frame = pd.DataFrame({"text": POSTS * 3, "other": range(len(POSTS) * 3)})
    chars = Pipeline(
        [
            (
                "hash",
                HashingVectorizer(analyzer="char_wb", ngram_range=(3, 3), alternate_sign=False, norm=None),
            ),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )
    union = FeatureUnion([("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)), ("char", chars)])
    pipe = Pipeline(
        [
            ("clean", FunctionTransformer(clean_frame)),
            (
                "features",
                ColumnTransformer(
                    [
                        ("word", TfidfVectorizer(min_df=2), "text"),
                        ("union", union, "text"),
                        ("meta", FunctionTransformer(meta_features), "text"),
                    ],
                    sparse_threshold=1.0,
                ),
            ),
        ]
    ).fit(frame)
    for rows in (frame.head(1), frame.iloc[3:5], frame):
        walked, expected = fastscore.transform(pipe, rows), pipe.transform(rows)
        assert walked.shape == expected.shape and (walked != expected).nnz == 0


@pytest.mark.model
def test_a_few_posts_score_on_the_direct_path_exactly_as_through_scikit_learn(
    small_model, small_sample, monkeypatch
):
    """The fitted classifier (identity-blind head, spelling normaliser, stacker) one post at a time and in
    small batches, against the same model scored through scikit-learn's own methods."""
    frames = [small_sample[["text"]].iloc[[i]] for i in range(0, 600, 7)]
    frames += [small_sample[["text"]].iloc[i : i + 9] for i in range(0, 300, 50)]
    frames += [pd.DataFrame({"text": ODD})]
    direct = [small_model.predict_proba(f) for f in frames]
    with monkeypatch.context() as m:
        m.setattr(fastscore, "FEW", 0)
        m.setattr(fastscore, "linear_scores", lambda model, method, X: getattr(model, method)(X))
        through = [small_model.predict_proba(f) for f in frames]
    for a, b in zip(direct, through, strict=True):
        assert np.array_equal(a, b)


def test_a_step_asked_for_dataframe_output_is_left_to_scikit_learn():
    import sklearn

    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    step = FunctionTransformer(np.log1p, feature_names_out="one-to-one").fit(frame)
    assert isinstance(fastscore.transform(step, frame.to_numpy()), np.ndarray)
    with sklearn.config_context(transform_output="pandas"):
        pd.testing.assert_frame_equal(fastscore.transform(step, frame), step.transform(frame))
    pd.testing.assert_frame_equal(
        fastscore.transform(step.set_output(transform="pandas"), frame), step.transform(frame)
    )
