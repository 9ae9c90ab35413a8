"""The harmful-content classifier: a scikit-learn pipeline from a ``text`` column to the pyfunc contract.

Why this shape: on this data nearly all errors are ``other_cyberbullying`` vs ``not_cyberbullying``,
two classes that differ partly in *how* a post is written (mentions, hashtags, retweet form) rather
than in its words. Word and character TF-IDF carry the wording; five structural counts carry the form.
Linear learners are fast and strong on the sparse part (SGD and Complement Naive Bayes on words and
characters, an NB-SVM on the words); a small gradient-boosted stacker learns the interactions between
their out-of-fold scores and the structural counts and returns probabilities (fit on log-loss, so close
to calibrated). Character 5-grams are hashed (no vocabulary to build or store): that is what pays for
the NB-SVM. Together they add ~0.004 macro-F1 (paired medians: +0.0035 on the frozen evaluation
snapshot, better in 10 of 10 seeds; +0.0043 in 5-fold cross-validation on training data, 4 of 5 folds).

Links are removed before anything else, and length, case, emoji and punctuation counts are not used:
in this data they mark which source collection a tweet came from, and using them made 10% of labels
flip when a link was appended to a post (+0.004 macro-F1 on the benchmark, bought with brittleness).
Everything is plain scikit-learn plus small classes, so the fitted object serialises with skops.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import ThreadpoolController

from harmwatch.config import BENIGN_CLASS, CLASSES

# What the model is, in the words of its model card.
METHOD = (
    "Links removed; word 1-2-gram TF-IDF and hashed character 5-gram TF-IDF (2^17 buckets); "
    "SGD (modified Huber) and Complement Naive Bayes on both, and an NB-SVM (log-count-ratio "
    "SGD) on the words, stacked with five structural counts by a gradient-boosted classifier "
    "trained on 2-fold out-of-fold scores (probabilities from log-loss)."
)

# Structural cues used in the cyberbullying literature (e.g. Chatzakou et al. 2017) that survive the
# invariance tests (tests/model/test_behaviour.py).
META_FEATURES: tuple[str, ...] = ("words", "mentions", "hashtags", "retweet", "starts_mention")

# Types skops must be told to trust when loading the fitted pipeline (checked by a test).
SKOPS_TRUSTED_TYPES: list[str] = [
    "harmwatch.model.textmodel.CompactTfidfVectorizer",
    "harmwatch.model.textmodel.HarmfulContentPipeline",
    "harmwatch.model.textmodel.LogCountRatioClassifier",
    "harmwatch.model.textmodel.StackedTextClassifier",
    "harmwatch.model.textmodel.clean_frame",
    "harmwatch.model.textmodel.meta_features",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

# Version of the saved model's layout; models of every earlier format still load and score the same.
#   1: SGD and Complement NB, both on all sparse columns (no ``n_char``, no recorded layout)
#   2: an NB-SVM learner on the word columns added (``n_char`` present, layout not recorded)
#   3: the learner layout recorded on the model (``learner_specs_``)
#   4: the classes live in ``harmwatch.model.textmodel`` (earlier files name ``harmwatch.textmodel``, which
#      still resolves to this module)
MODEL_FORMAT = 4

# Buckets of the hashed character 5-grams (~75k distinct 5-grams occur at least twice in 30k posts).
# In the stack 2^17 scores as well as 2^18 and as the vocabulary did (paired seeds on the evaluation
# snapshot), and the linear models fit faster on fewer columns.
CHAR_HASH_FEATURES = 2**17

_URL = re.compile(r"https?://\S+|www\.\S+")


def clean_frame(frame: Any) -> pd.DataFrame:
    """The ``text`` column with links removed and whitespace collapsed (other columns are dropped)."""
    text = frame["text"] if isinstance(frame, pd.DataFrame) else pd.Series(np.asarray(frame).ravel())
    text = pd.Series(np.asarray(text, dtype=object)).fillna("").astype(str)
    return pd.DataFrame({"text": text.str.replace(_URL, " ", regex=True).str.split().str.join(" ")})


def meta_features(texts: Any) -> np.ndarray:
    """Structure of each post: words (runs of letters/digits, so emoji do not count), mentions, hashtags,
    retweet form, reply form, as a dense matrix."""
    s = pd.Series(np.asarray(texts, dtype=object).ravel()).fillna("").astype(str)
    cols = [
        s.str.count(r"\w+"),
        s.str.count("@"),
        s.str.count("#"),
        s.str.startswith("RT "),
        s.str.startswith("@"),
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


class CompactTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer whose vocabulary is stored as one string.

    skops writes a dict as one JSON node per entry: a 200k-term vocabulary becomes ~200 MB of schema and
    seconds of loading. Packing the terms (ordered by column index) into a single string keeps the
    model file small; ``__setstate__`` rebuilds the dict on load.
    """

    _SEP = "\x00"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        vocab = state.get("vocabulary_")
        if isinstance(vocab, dict) and not any(self._SEP in t for t in vocab):
            terms = sorted(vocab, key=vocab.__getitem__)
            state.pop("vocabulary_")
            state["vocabulary_terms_"] = self._SEP.join(terms)
        state.pop("stop_words_", None)  # introspection only, can be huge
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {t: i for i, t in enumerate(terms.split(self._SEP))} if terms else {}
        super().__setstate__(state)


class LogCountRatioClassifier(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang & Manning 2012): per class, a linear model on the features scaled by the Naive Bayes
    log-count ratio of that class against the rest (computed on binarised features); one-vs-rest."""

    def __init__(self, alpha: float = 1.0, reg: float = 1e-4, random_state: int = 42) -> None:
        self.alpha = alpha
        self.reg = reg
        self.random_state = random_state

    def fit(self, X, y) -> LogCountRatioClassifier:
        X = sp.csr_matrix(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        present = X.copy()
        present.data = (present.data > 0).astype(np.float64)
        ratios, models = [], []
        for c in self.classes_:
            pos = np.asarray(present[y == c].sum(axis=0)).ravel() + self.alpha
            neg = np.asarray(present[y != c].sum(axis=0)).ravel() + self.alpha
            r = np.log((pos / pos.sum()) / (neg / neg.sum()))
            ratios.append(r)
            models.append(
                SGDClassifier(loss="modified_huber", alpha=self.reg, random_state=self.random_state).fit(
                    X.multiply(r).tocsr(), (y == c).astype(np.int64)
                )
            )
        self.ratios_ = np.vstack(ratios)
        self.models_ = models
        return self

    def decision_function(self, X) -> np.ndarray:
        X = sp.csr_matrix(X)
        return np.column_stack(
            [
                m.decision_function(X.multiply(r).tocsr())
                for m, r in zip(self.models_, self.ratios_, strict=True)
            ]
        )

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _base_learners(seed: int) -> list[tuple[str, BaseEstimator, str, str]]:
    """(name, estimator, scoring method, block): cheap, complementary views of the sparse features;
    block ``all`` is words and characters, ``word`` the word n-grams alone."""
    return [
        (
            "sgd",
            SGDClassifier(loss="modified_huber", alpha=1e-4, random_state=seed),
            "decision_function",
            "all",
        ),
        ("cnb", ComplementNB(alpha=0.3), "predict_log_proba", "all"),
        ("nbsvm", LogCountRatioClassifier(random_state=seed), "decision_function", "word"),
    ]


# Learner layout of format-1 models (before the NB-SVM learner): SGD and Complement NB, both on all sparse
# columns. Loaded champions of that age must keep scoring.
_LEGACY_SPECS: list[tuple[str, str]] = [("decision_function", "all"), ("predict_log_proba", "all")]
_threadpools: ThreadpoolController | None = None


def _one_openmp_thread() -> Any:
    """Context limiting OpenMP to one thread. The controller is built once: ``threadpool_limits`` rescans
    every loaded library on each call, a large share of a single post's latency."""
    global _threadpools
    if _threadpools is None:
        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1, user_api="openmp")


def _weights_for_scoring(models: list[Any]) -> None:
    """Linear weights in Fortran order: scoring computes ``X @ W.T``, and a C-ordered ``W`` made scipy copy
    the transposed matrix on every call (a few ms per post)."""
    for model in models:
        for attr in ("coef_", "feature_log_prob_"):
            if isinstance(getattr(model, attr, None), np.ndarray):
                setattr(model, attr, np.asfortranarray(getattr(model, attr)))


def _fit_one(learner: BaseEstimator, X, y, rows):
    return clone(learner).fit(X[rows], y[rows]) if rows is not None else clone(learner).fit(X, y)


class StackedTextClassifier(ClassifierMixin, BaseEstimator):
    """Linear learners on the sparse TF-IDF columns, stacked by gradient boosting together with the
    last ``n_meta`` (surface-feature) columns. Columns are laid out as ``build_pipeline`` makes them:
    word n-grams, then ``n_char`` hashed character columns, then the ``n_meta`` surface features.

    The stacker is trained on out-of-fold scores (``n_folds`` splits) so it learns how far to trust each
    learner on posts it has not seen; the base learners are then refit on all rows, as in scikit-learn's
    ``StackingClassifier``. Written out because the stacker also needs the surface features, and the
    folds reuse one feature matrix instead of re-vectorising text per fold.
    """

    def __init__(
        self,
        n_meta: int = len(META_FEATURES),
        n_char: int = CHAR_HASH_FEATURES,
        n_folds: int = 2,
        max_iter: int = 200,
        learning_rate: float = 0.15,
        n_jobs: int | None = None,
        random_state: int = 42,
    ) -> None:
        self.n_meta = n_meta
        self.n_char = n_char
        self.n_folds = n_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _split(self, X) -> tuple[dict[str, Any], np.ndarray]:
        """({block: sparse columns}, dense surface features)."""
        X = sp.csr_matrix(X)
        n_sparse = X.shape[1] - self.n_meta
        if n_sparse < self.n_char:
            raise ValueError(f"expected >= {self.n_char + self.n_meta} feature columns, got {X.shape[1]}")
        blocks = {"all": X[:, :n_sparse], "word": X[:, : n_sparse - self.n_char]}
        return blocks, X[:, n_sparse:].toarray()

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "stacker_" in state and "learner_specs_" not in state:  # formats 1 and 2: layout not recorded
            if "n_char" in state:  # format 2: with the NB-SVM learner
                state["learner_specs_"] = [(m, b) for _n, _e, m, b in _base_learners(42)]
                state.setdefault("format_version_", 2)
            else:  # format 1: two learners on all columns
                state["learner_specs_"], state["n_char"] = list(_LEGACY_SPECS), 0
                state.setdefault("format_version_", 1)
        elif "stacker_" in state:
            state.setdefault("format_version_", 3)
        super().__setstate__(state)
        _weights_for_scoring(getattr(self, "base_models_", []))

    def _scores(self, blocks, models) -> np.ndarray:
        return np.hstack(
            [
                getattr(m, method)(blocks[block])
                for m, (method, block) in zip(models, self.learner_specs_, strict=True)
            ]
        )

    def fit(self, X, y) -> StackedTextClassifier:
        from joblib import Parallel, delayed

        blocks, meta = self._split(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        learners = _base_learners(self.random_state)
        splitter = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        folds = list(splitter.split(meta, y))
        jobs = [
            (est, block, rows)
            for _n, est, _m, block in learners
            for rows in [*(tr for tr, _te in folds), None]
        ]
        # liblinear/SGD/NumPy release the GIL: threads parallelise without copying the matrix.
        fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_one)(est, blocks[block], y, rows) for est, block, rows in jobs
        )
        per = self.n_folds + 1
        oof = np.zeros((meta.shape[0], len(learners) * len(self.classes_)))
        for i, (_n, _e, method, block) in enumerate(learners):
            cols = slice(i * len(self.classes_), (i + 1) * len(self.classes_))
            for model, (_tr, te) in zip(fitted[i * per : i * per + self.n_folds], folds, strict=True):
                oof[te, cols] = getattr(model, method)(blocks[block][te])
        self.base_models_ = [fitted[i * per + self.n_folds] for i in range(len(learners))]
        self.learner_specs_ = [(method, block) for _n, _e, method, block in learners]
        self.format_version_ = MODEL_FORMAT
        _weights_for_scoring(self.base_models_)
        # Early stopping on a held-out tenth also for small data: without it the stacker overfits and its
        # probabilities turn overconfident (ECE ~0.10 on a 4k-row sample instead of ~0.01).
        stacker = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            early_stopping=True,
            random_state=self.random_state,
        )
        # One OpenMP thread: the stacker is small, and OpenMP spin-waiting on a busy node (or a pod whose
        # CPU limit is below the node's core count) made this step 10-20x slower.
        with _one_openmp_thread():
            self.stacker_ = stacker.fit(np.hstack([oof, meta]), y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        blocks, meta = self._split(X)
        with _one_openmp_thread():
            return self.stacker_.predict_proba(np.hstack([self._scores(blocks, self.base_models_), meta]))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class HarmfulContentPipeline(Pipeline):
    """The registered model: ``predict`` returns the pyfunc contract (docs/architecture.md)
    (``label``, ``harmful_score``, ``score_<class>``) for a DataFrame with a ``text`` column.
    Use :meth:`predict_label` for plain labels."""

    def predict_label(self, X) -> np.ndarray:
        return super().predict(X)

    def predict(self, X, **params) -> pd.DataFrame:
        return contract_frame(self.predict_proba(X), self.classes_)


def contract_frame(proba: np.ndarray, classes: Any) -> pd.DataFrame:
    """Class probabilities -> the output contract, columns in the fixed order of ``CLASSES``."""
    # Built from NumPy columns in one go: a few DataFrame operations per call dominated single-post latency.
    index = {str(c): i for i, c in enumerate(classes)}
    proba = np.asarray(proba, dtype=np.float64)
    zeros = np.zeros(len(proba))
    cols = {c: proba[:, index[c]] if c in index else zeros for c in CLASSES}
    scores = np.column_stack([cols[c] for c in CLASSES])
    return pd.DataFrame(
        {
            "label": np.asarray(CLASSES, dtype=object)[np.argmax(scores, axis=1)],
            "harmful_score": np.clip(1.0 - cols[BENIGN_CLASS], 0.0, 1.0),
            **{f"score_{c}": cols[c] for c in CLASSES},
        }
    )


def build_pipeline(seed: int = 42, n_jobs: int | None = None) -> HarmfulContentPipeline:
    """Unfitted pipeline; the ColumnTransformer picks the ``text`` column so a DataFrame goes straight in.

    ``n_jobs`` threads fit the stacker's base learners; call :func:`for_serving` before saving.
    """
    features = ColumnTransformer(
        [
            ("word", CompactTfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
            (
                "char",
                Pipeline(
                    [
                        (
                            "hash",
                            HashingVectorizer(
                                analyzer="char_wb",
                                ngram_range=(5, 5),
                                n_features=CHAR_HASH_FEATURES,
                                alternate_sign=False,
                                norm=None,
                            ),
                        ),
                        ("tfidf", TfidfTransformer(sublinear_tf=True)),
                    ]
                ),
                "text",
            ),
            ("meta", FunctionTransformer(meta_features), "text"),
        ],
        # One process: vectorising is pure Python, and shipping ~100 MB of sparse blocks back from
        # worker processes cost more than it saved whenever the node was busy. Character 5-grams alone
        # scored as well as 4-5-grams (and 2-5-grams only +0.002 macro-F1) at half the fitting time;
        # hashing them costs 1.2 s of CPU instead of 3.0 s for a vocabulary. The column order (word,
        # char, meta) is what StackedTextClassifier expects.
        sparse_threshold=1.0,
    )
    return HarmfulContentPipeline(
        [
            ("clean", FunctionTransformer(clean_frame)),
            ("features", features),
            ("clf", StackedTextClassifier(n_jobs=n_jobs, random_state=seed)),
        ]
    )


def for_serving(pipeline: HarmfulContentPipeline) -> HarmfulContentPipeline:
    """Drop fit-time parallelism: a served model must not spawn worker processes per request."""
    return pipeline.set_params(clf__n_jobs=None)
