"""The pipeline itself, without MLflow: the output contract, DataFrame input, skops round trip."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from harmwatch.config import CLASSES
from harmwatch.errors import DataError
from harmwatch.model.fitting import RECIPES, fit_model, stratified_sample
from harmwatch.model.textmodel import (
    CHAR_HASH_FEATURES,
    META_FEATURES,
    SKOPS_TRUSTED_TYPES,
    IdentityMasker,
    LogCountRatioClassifier,
    SpellingNormaliser,
    _base_learners,
    build_pipeline,
    clean_frame,
    contract_frame,
    for_serving,
    meta_features,
)

CONTRACT = ["label", "harmful_score", *[f"score_{c}" for c in CLASSES]]
# The classes of a model fitted by the baseline recipe (no identity-blind head): what formats 1-4 hold.
BASELINE_TYPES = [
    t
    for t in SKOPS_TRUSTED_TYPES
    if not t.endswith((".IdentityMasker", ".SpellingNormaliser", ".StackRows", ".mark_negation", "_near"))
]


@pytest.fixture(scope="module")
def baseline_model(small_sample):
    """The classifier by the recipe before the identity-blind head (format 4 layout)."""
    return fit_model(small_sample, seed=1, n_jobs=1, recipe="baseline")[0]


@pytest.mark.model
def test_predict_returns_the_pyfunc_contract(small_model, small_sample):
    out = small_model.predict(small_sample[["text"]].head(200))
    assert list(out.columns) == CONTRACT and len(out) == 200
    scores = out[[f"score_{c}" for c in CLASSES]].to_numpy()
    assert np.allclose(scores.sum(axis=1), 1.0) and (scores >= 0).all()
    assert np.allclose(out["harmful_score"], 1 - out["score_not_cyberbullying"])
    # with the identity-blind head the label follows the flag: not_cyberbullying exactly below 0.5,
    # else the most probable harmful class
    assert ((out["label"] == "not_cyberbullying") == (out["harmful_score"] < 0.5)).all()
    harmful = out[out["harmful_score"] >= 0.5]
    top = harmful[[f"score_{c}" for c in CLASSES if c != "not_cyberbullying"]].idxmax(axis=1)
    assert (harmful["label"] == top.str.removeprefix("score_")).all()
    assert (small_model.predict_label(small_sample[["text"]].head(200)) == out["label"]).all()


@pytest.mark.model
def test_baseline_recipe_labels_by_the_most_probable_class(baseline_model, small_sample):
    out = baseline_model.predict(small_sample[["text"]].head(200))
    scores = out[[f"score_{c}" for c in CLASSES]].to_numpy()
    assert (out["label"].to_numpy() == np.array(CLASSES)[scores.argmax(axis=1)]).all()
    assert baseline_model.named_steps["clf"].n_blind == 0


@pytest.mark.model
def test_naming_another_group_moves_the_harm_score_of_a_group_post_at_most_by_the_stacks_share(small_model):
    """On a post that names a group the harm score is ``head_share`` x the identity-blind head (which
    cannot see which group) + the rest x the stack: two posts that differ only in the group's name (of
    as many words: the head counts words) differ by at most the stack's share."""
    frame = pd.DataFrame(
        {
            "text": [
                f"{who} {rest}"
                for rest in ("run the bakery on the corner", "are vile and should leave")
                for who in ("Muslims", "Christians", "Jews", "Immigrants", "Women")
            ]
        }
    )
    clf = small_model.named_steps["clf"]
    assert 0.5 <= clf.head_share <= 1.0
    score = small_model.predict(frame)["harmful_score"].to_numpy().reshape(2, 5)
    assert (score.max(axis=1) - score.min(axis=1) <= 1.0 - clf.head_share + 1e-9).all()
    clf.set_params(head_share=1.0)  # the head alone: the same score whichever group is named
    try:
        alone = small_model.predict(frame)["harmful_score"].to_numpy().reshape(2, 5)
    finally:
        clf.set_params(head_share=RECIPES["moderate"].head_share)
    assert np.allclose(alone, alone[:, :1])


@pytest.mark.model
def test_dataframe_input_ignores_other_columns_and_order(small_model):
    frame = pd.DataFrame({"id": [1, 2], "text": ["you are a worthless loser", "lovely walk in the park"]})
    a = small_model.predict(frame)
    b = small_model.predict(frame[["text"]])
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.model
def test_missing_class_in_training_still_yields_every_score_column(small_sample):
    five = small_sample[small_sample["label"] != "age"]
    model = fit_model(five, seed=1, n_jobs=1)[0]
    out = model.predict(five[["text"]].head(20))
    assert list(out.columns) == CONTRACT and (out["score_age"] == 0).all()


def test_too_few_rows_per_class_is_a_data_error(small_sample):
    tiny = pd.concat(
        [
            small_sample[small_sample["label"] == "age"].head(10),
            small_sample[small_sample["label"] == "gender"].head(2),
        ]
    )
    with pytest.raises(DataError, match=">= 3 texts each"):
        fit_model(tiny, seed=1, n_jobs=1)


@pytest.mark.model
def test_skops_round_trip_with_exactly_the_declared_trusted_types(small_model, small_sample, tmp_path):
    import skops.io as sio

    path = tmp_path / "model.skops"
    sio.dump(small_model, path)
    # every declared type but those only a recipe asks for: ``StackRows`` (``stack_own_rows``) and the
    # negation markers (``negation``)
    default_types = [
        t for t in SKOPS_TRUSTED_TYPES if not t.endswith((".StackRows", ".mark_negation", "_near"))
    ]
    assert sorted(sio.get_untrusted_types(file=path)) == sorted(default_types)
    with pytest.raises(Exception, match=r"[Uu]ntrusted"):
        sio.load(path)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    texts = small_sample[["text"]].head(300)
    pd.testing.assert_frame_equal(loaded.predict(texts), small_model.predict(texts))
    # the word vocabulary is packed into one string instead of one JSON node per term; characters are hashed
    with zipfile.ZipFile(path) as zf:
        schema = zf.read("schema.json").decode()
    # one packed vocabulary per word vectoriser: the stack's and the identity-blind head's
    assert schema.count('"vocabulary_terms_"') == 2 and '"vocabulary_"' not in schema


@pytest.mark.model
def test_every_named_recipe_saves_and_loads_with_the_declared_trusted_types(small_sample, tmp_path):
    """A recipe's parts (negation markers, the stack on its own rows) must load where the registry loads
    models, with the trusted types declared, and score the same."""
    import skops.io as sio

    texts = small_sample[["text"]].head(200)
    for name in RECIPES:
        model = fit_model(small_sample, seed=1, n_jobs=1, recipe=name)[0]
        path = tmp_path / f"{name}.skops"
        sio.dump(model, path)
        loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
        pd.testing.assert_frame_equal(loaded.predict(texts), model.predict(texts))


@pytest.mark.model
def test_model_saved_before_the_learner_layout_was_recorded_still_scores(
    baseline_model, small_sample, tmp_path
):
    """Champions in the registry outlive code changes: a model whose stacker lacks ``learner_specs_``
    (fitted before it existed) loads with the layout of its time and scores as before."""
    import copy

    import skops.io as sio

    old = copy.deepcopy(baseline_model)
    clf = old.named_steps["clf"]
    del clf.learner_specs_, clf.format_version_  # format 2
    for name in (
        "n_blind",
        "harm_mode",
        "blind_alpha",
        "blind_benign_weight",
        "blind_meta",
        "head_share",
        "plain_share",
    ):
        delattr(clf, name)  # parameters added in format 5
    path = tmp_path / "old.skops"
    sio.dump(old, path)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    clf = loaded.named_steps["clf"]
    assert clf.learner_specs_ == [(method, block) for _n, _e, method, block in _base_learners(1)]
    assert clf.format_version_ == 2 and clf.n_blind == 0 and "blind_meta" in clf.get_params()
    texts = small_sample[["text"]].head(300)
    pd.testing.assert_frame_equal(loaded.predict(texts), baseline_model.predict(texts))
    # weights are kept in the order scoring wants (X @ W.T without a copy per call)
    assert all(m.coef_.flags.f_contiguous for m in clf.base_models_ if hasattr(m, "coef_"))


@pytest.mark.model
def test_fitted_model_serves_in_process(small_model):
    params = small_model.get_params()
    assert params["features__n_jobs"] is None and params["clf__n_jobs"] is None
    assert for_serving(build_pipeline(n_jobs=2)).get_params()["clf__n_jobs"] is None


@pytest.mark.model
def test_a_served_model_leaves_out_what_only_further_fitting_reads(small_sample, monkeypatch):
    """The naive Bayes counts and the averaged SGD's sums are dropped, the predictions stay the same."""
    import copy
    import io

    from skops.io import dump

    from harmwatch.model import textmodel

    with monkeypatch.context() as kept:
        kept.setattr(textmodel, "FIT_ONLY_STATE", {})
        full = fit_model(small_sample, seed=1, n_jobs=1)[0]
    served = for_serving(copy.deepcopy(full))
    learners = list(textmodel._learners(served.named_steps["clf"], set()))
    assert {type(m).__name__ for m in learners} >= {"ComplementNB", "SGDClassifier"}
    for learner in learners:
        for kind, names in textmodel.FIT_ONLY_STATE.items():
            assert not (isinstance(learner, kind) and any(hasattr(learner, n) for n in names)), learner
    texts = small_sample[["text"]]
    pd.testing.assert_frame_equal(served.predict(texts), full.predict(texts))

    def saved_bytes(model):
        buffer = io.BytesIO()
        dump(model, buffer)
        return buffer.tell()

    assert saved_bytes(served) < 0.85 * saved_bytes(full)


@pytest.mark.model
def test_feature_layout_is_word_then_hashed_char_then_blind_head_then_meta(small_model, small_sample):
    features = small_model[:-1].transform(small_sample[["text"]].head(50))
    named = small_model.named_steps["features"].named_transformers_
    n_word = len(named["word"].vocabulary_)
    n_blind = len(named["blind"].named_steps["union"].transformer_list[0][1].vocabulary_) + CHAR_HASH_FEATURES
    clf = small_model.named_steps["clf"]
    assert clf.n_blind == n_blind
    assert features.shape[1] == n_word + CHAR_HASH_FEATURES + n_blind + 1 + len(META_FEATURES)
    nbsvm = clf.base_models_[[name for name, *_ in _base_learners(0)].index("nbsvm")]
    assert nbsvm.ratios_.shape == (len(clf.classes_), n_word)  # the NB-SVM sees the word block only
    with pytest.raises(ValueError, match="feature columns"):
        clf.predict_proba(features[:, :100])


@pytest.mark.model
def test_baseline_feature_layout_is_word_then_hashed_char_then_meta(baseline_model, small_sample):
    features = baseline_model[:-1].transform(small_sample[["text"]].head(50))
    n_word = len(baseline_model.named_steps["features"].named_transformers_["word"].vocabulary_)
    assert features.shape[1] == n_word + CHAR_HASH_FEATURES + len(META_FEATURES)


def test_rows_that_train_the_head_alone_leave_the_stacks_features_empty():
    from harmwatch.model.textmodel import fit_features

    frame = pd.DataFrame(
        {"text": ["plain words here", "plain words again", "zebra quokka post", "zebra quokka"]}
    )
    pipe = build_pipeline(harm_mode="group", stack_own_rows=True)
    features = fit_features(pipe, frame, head_only=np.array([False, False, True, True]))
    named = pipe.named_steps["features"].named_transformers_
    assert set(named["word"].transformer_.vocabulary_) == {"plain", "words", "plain words"}
    n_stack = len(named["word"].transformer_.vocabulary_) + CHAR_HASH_FEATURES
    assert features[:2, :n_stack].nnz and not features[2:, :n_stack].nnz  # the head's rows: no stack columns
    assert features[2:, n_stack:].nnz  # but their head columns
    # scoring reads every post; a fit that names no rows uses them all
    assert pipe[:-1].transform(frame)[2:, :n_stack].nnz
    every = build_pipeline(harm_mode="group", stack_own_rows=True)
    fit_features(every, frame)
    assert (
        "zebra quokka" in every.named_steps["features"].named_transformers_["word"].transformer_.vocabulary_
    )


def test_identity_masker_removes_group_words_and_counts_them():
    posts = ["Muslims' mosque opened; JEWISH folks came", "the printer is broken", "a gay man's bike"]
    masked = IdentityMasker(stop_words=("the", "is", "a")).transform(pd.Series(posts))
    assert [" ".join(t.split()) for t in masked] == ["opened; folks came", "printer broken", "bike"]
    counts = IdentityMasker(output="count").transform(posts).ravel()
    assert counts.tolist() == [3, 0, 2]


def test_spelling_normaliser_writes_obfuscated_spellings_of_known_words_plainly():
    known = ["they are stupid and disgusting people", "what a lovely day @anna #sunday"] * 3
    spell = SpellingNormaliser().fit(pd.DataFrame({"text": known}))
    posts = {
        "They are $tup!d": "They are stupid",  # leetspeak read as letters
        "They are st0p!d": "They are st0p!d",  # two edits from a known word: left as written
        "they are s t u p i d": "they are stupid",  # letters spaced out
        "they are stu pid!": "they are stupid!",  # a space inside the word
        "they are stupiddd": "they are stupid",  # a run of a letter
        "they are stupd": "they are stupid",  # a letter dropped
        "they are sutpid": "they are stupid",  # two neighbours swapped
        "they are stuppid": "they are stupid",  # a letter doubled
        "(DISGUSTNIG) people": "(disgusting) people",  # punctuation and a swap
        "What a lovely day @anan #snuday": "What a lovely day @anan #snuday",  # mentions, hashtags kept
        "a brand new sentence": "a brand new sentence",  # unknown words with no known neighbour kept
    }
    out = spell.transform(pd.DataFrame({"text": list(posts), "other": 1}))
    assert out["text"].tolist() == list(posts.values()) and list(out.columns) == ["text", "other"]
    assert spell.transform(np.array(["they are stupd"])).tolist() == ["they are stupid"]
    # with ``glued``: words written without spaces split, a word broken into several pieces joined
    glued = SpellingNormaliser(glued=True).fit(pd.DataFrame({"text": known}))
    assert glued.transform(
        np.array(["theyarestupid!", "they are dis gust ing", "stupid and disgust ing"])
    ).tolist() == [
        "they are stupid!",
        "they are disgusting",
        "stupid and disgusting",
    ]
    assert glued.transform(np.array(["whatalovelyday", "hahahahaha"])).tolist() == [
        "what a lovely day",
        "hahahahaha",  # not made of known words
    ]
    join_only = SpellingNormaliser(glued=True, split_glued=False).fit(pd.DataFrame({"text": known}))
    assert join_only.transform(np.array(["theyarestupid", "they are dis gust ing"])).tolist() == [
        "theyarestupid",
        "they are disgusting",
    ]
    # with ``joins``: pieces that spell a known word together are joined before any is corrected alone
    # ("disgus" alone is one letter from "disgust"), and a short known piece joins a more frequent word;
    # two words of their own stay apart ("dumb ass", "did not"), and mentions never join
    posts = ["they are dumb ass people", "i did not", "high school", "you are @stu pid"] * 4
    joins = SpellingNormaliser(joins=True).fit(pd.DataFrame({"text": known + posts}))
    assert joins.transform(
        np.array(["they are disgus ting", "they are d isgusting!", "they are stupi d", "dis gust ing"])
    ).tolist() == ["they are disgusting", "they are disgusting!", "they are stupid", "disgusting"]
    assert joins.transform(np.array(posts[:4])).tolist() == posts[:4]
    # with ``glued_min``: only unknown words that long are split into known words
    long_only = SpellingNormaliser(glued=True, glued_min=12).fit(pd.DataFrame({"text": known}))
    assert long_only.transform(np.array(["theyarestupid", "arestupid"])).tolist() == [
        "they are stupid",
        "arestupid",
    ]
    # the fitted state is one string: the lookup tables are rebuilt on load
    import pickle

    state = spell.__getstate__()
    assert "known_words_" in state and "_deletes" not in state
    assert pickle.loads(pickle.dumps(spell)).normalise("they are sutpid") == "they are stupid"


def test_negation_scope_reaches_the_end_of_its_clause():
    from harmwatch.model.textmodel import mark_negation

    assert (
        mark_negation("They are NOT vermin, they are neighbours")
        == "they are not not_vermin, they are neighbours"
    )
    assert mark_negation("I won't ever respect them. Ever") == "i won't not_ever not_respect not_them. ever"
    assert (
        mark_negation("I want a student event") == "i want a student event"
    )  # "nt" inside words is no negation


def test_near_negation_reads_only_the_two_words_after_it():
    """An insult later in the clause stays an insult ("nobody wants you filthy ..."), while the words a
    negation governs are read as negated."""
    from harmwatch.model.textmodel import mark_negation_near

    assert (
        mark_negation_near("Nobody wants you filthy people here, go away")
        == "nobody not_wants not_you filthy people here, go away"
    )
    assert mark_negation_near("They are NOT vermin, they are neighbours") == (
        "they are not not_vermin, they are neighbours"
    )
    assert mark_negation_near("never respect. them") == "never not_respect. them"
    assert mark_negation_near("I want a student event") == "i want a student event"


def test_the_head_sees_the_function_words_a_recipe_keeps():
    from harmwatch.model.textmodel import EXCLUSION_WORDS, build_pipeline

    def head_text(keep: tuple[str, ...]) -> str:
        pipe = build_pipeline(harm_mode="group", blind_keep=keep)
        masker = pipe.named_steps["features"].transformers[2][1].named_steps["mask"]
        return " ".join(masker.fit_transform(["Muslims should go back where they came from"])[0].split())

    assert head_text(()) == "came"
    assert head_text(EXCLUSION_WORDS) == "go back came"


def test_the_head_reads_one_shared_token_after_violent_words_when_a_recipe_asks():
    """With ``blind_marks`` the head reads every violent word with one shared token after it, so a threat
    in a verb no training row holds still shares a feature with the threats that trained it."""
    from harmwatch.model.textmodel import VIOLENCE_MARK, build_pipeline

    def head_text(marks: bool) -> str:
        pipe = build_pipeline(harm_mode="group", blind_marks=marks)
        masker = pipe.named_steps["features"].transformers[2][1].named_steps["mask"]
        return " ".join(masker.fit_transform(["Someone should STAB the Muslims knives out"])[0].split())

    assert head_text(False) == "STAB knives"
    assert head_text(True) == f"STAB {VIOLENCE_MARK} knives {VIOLENCE_MARK}"
    # a masker saved before the option scores as it did
    old = IdentityMasker(stop_words=("the",))
    del old.__dict__["marks"]
    assert " ".join(old.transform(["the gun"])[0].split()) == "gun"


def test_character_hashing_per_word_is_the_same_matrix_as_per_post():
    """Hashing each distinct word once must give exactly sklearn's matrix (the stack and the head are fitted
    on it), above and below the size where it switches."""
    from sklearn.feature_extraction.text import HashingVectorizer

    from harmwatch.model.textmodel import WordCharHashing

    words = ["Muslims", "are", "WONDERFUL", "neighbours", "st00pid", "ÀÉÜ", "a", "#tag", "@you", "x.y,z!"]
    rng = np.random.default_rng(0)
    posts = [
        " ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(WordCharHashing.PER_WORD_MIN)
    ]
    posts += ["", "  spaced \t out \n lines  ", "a b"]
    options = dict(analyzer="char_wb", ngram_range=(5, 5), n_features=2**10, alternate_sign=False, norm=None)
    for batch in (posts, posts[:50]):
        expected = HashingVectorizer(**options).transform(batch)
        got = WordCharHashing(**options).transform(batch)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(got, part), getattr(expected, part))


def test_character_blocks_of_one_call_share_their_hashed_words():
    """Inside ``shared_word_hashes`` a block reuses the words another block of the same setting hashed, and
    still gives exactly sklearn's matrix; a block of another setting hashes its own; nothing outlives the
    block."""
    from sklearn.feature_extraction.text import HashingVectorizer

    from harmwatch.model import textmodel
    from harmwatch.model.textmodel import WordCharHashing, shared_word_hashes

    rng = np.random.default_rng(1)
    words = [f"w{i}ord" for i in range(300)]
    posts = [" ".join(rng.choice(words[:200], size=8)) for _ in range(WordCharHashing.PER_WORD_MIN)]
    later = [" ".join(rng.choice(words[100:], size=8)) for _ in range(WordCharHashing.PER_WORD_MIN)]
    options = dict(analyzer="char_wb", ngram_range=(5, 5), n_features=2**10, alternate_sign=False, norm=None)
    hashed: list[int] = []

    class Counting(WordCharHashing):
        def _hashed(self, words):
            hashed.append(len(words))
            return super()._hashed(words)

    with shared_word_hashes():
        got = [Counting(**options).transform(posts), Counting(**options).transform(later)]
        other = Counting(**{**options, "n_features": 2**11}).transform(later)
    assert hashed == [200, 100, 200], "the second block hashes only the 100 words the first did not"
    for batch, matrix in zip((posts, later), got, strict=True):
        expected = HashingVectorizer(**options).transform(batch)
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(matrix, part), getattr(expected, part))
    assert (other != HashingVectorizer(**{**options, "n_features": 2**11}).transform(later)).nnz == 0
    assert textmodel._WORD_HASHES.get() is None


def test_word_counts_through_arrays_are_sklearns_matrix():
    """Counting a fitted vocabulary's 1-2-grams through integer codes must give exactly sklearn's matrix,
    above and below the size where it switches, with and without the negation marks, and after the
    vectoriser is pickled (the codes are not saved with it)."""
    import pickle

    from harmwatch.model.textmodel import CompactTfidfVectorizer, _word_tfidf

    words = [
        "Muslims",
        "are",
        "not",
        "WONDERFUL",
        "neighbours",
        "never",
        "ÀÉÜ",
        "a",
        "#tag",
        "x.y,z!",
        "rare",
    ]
    rng = np.random.default_rng(0)
    posts = [
        " ".join(rng.choice(words, size=rng.integers(0, 12)))
        for _ in range(CompactTfidfVectorizer.ARRAY_COUNTS_MIN)
    ]
    unseen = ["", "unseen words only", "Muslims unseen are", "are are are neighbours never rare"]
    for vectoriser in (_word_tfidf(), _word_tfidf(negation=True), CompactTfidfVectorizer(min_df=2)):
        fitted = vectoriser.fit(posts[:300])
        for batch in (posts + unseen, unseen + posts[:50]):
            for model in (fitted, pickle.loads(pickle.dumps(fitted))):
                got = model.transform(batch)
                model.ARRAY_COUNTS_MIN = 10**9  # sklearn's own loop
                expected = model.transform(batch)
                del model.ARRAY_COUNTS_MIN
                assert type(got) is type(expected) and got.dtype == expected.dtype
                for part in ("indptr", "indices", "data"):
                    assert np.array_equal(getattr(got, part), getattr(expected, part))


def test_a_fit_through_integer_codes_is_sklearns_fit():
    """Numbering a fit's terms through integer codes must give exactly sklearn's vocabulary, IDF and matrix:
    1-grams and 1-2-grams, with the negation marks, posts without a word, terms seen once (left out by
    ``min_df``)."""
    from harmwatch.model.textmodel import CompactTfidfVectorizer, _word_tfidf

    words = ["Muslims", "are", "not", "WONDERFUL", "neighbours", "never", "ÀÉÜ", "a", "#tag", "x.y,z!"]
    rng = np.random.default_rng(2)
    posts = [
        " ".join(rng.choice(words, size=rng.integers(0, 12))) + f" once{i}"
        for i in range(CompactTfidfVectorizer.ARRAY_COUNTS_MIN)
    ]
    posts[::7] = [""] * len(posts[::7])
    for make in (
        _word_tfidf,
        lambda: _word_tfidf(negation=True),
        lambda: CompactTfidfVectorizer(ngram_range=(1, 1), min_df=2),
        lambda: CompactTfidfVectorizer(),
    ):
        fast, slow = make(), make()
        slow.ARRAY_COUNTS_MIN = 10**9  # sklearn's own loop
        got, expected = fast.fit_transform(posts), slow.fit_transform(posts)
        assert fast.vocabulary_ == slow.vocabulary_ and np.array_equal(fast.idf_, slow.idf_)
        assert type(got) is type(expected) and got.dtype == expected.dtype
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(got, part), getattr(expected, part))


def test_contract_frame_can_label_by_the_flag():
    proba = np.array([[0.15, 0.15, 0.15, 0.15, 0.0, 0.4], [0.3, 0.0, 0.0, 0.0, 0.0, 0.7]])
    assert contract_frame(proba, CLASSES)["label"].tolist() == ["not_cyberbullying", "not_cyberbullying"]
    out = contract_frame(proba, CLASSES, flags_at_half=True)
    assert out["label"].tolist() == ["age", "not_cyberbullying"]


def test_log_count_ratio_classifier_separates_distinct_vocabularies():
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]] * 5, dtype=float))
    y = np.array(["a", "a", "b", "b"] * 5)
    model = LogCountRatioClassifier(random_state=0).fit(X, y)
    assert (model.predict(X) == y).all()
    assert model.decision_function(X).shape == (20, 2)
    assert model.ratios_[0, 0] > 0 > model.ratios_[0, 3]  # word 0 marks class a, word 3 class b


def test_links_are_removed_and_structure_is_counted():
    posts = ["RT @a: HELLO  #x http://t.co/abc!! ", "see www.x.org now"]
    cleaned = clean_frame(pd.DataFrame({"text": posts}))
    assert cleaned["text"].tolist() == ["RT @a: HELLO #x", "see now"]
    feats = meta_features(cleaned["text"])
    assert feats.shape == (2, len(META_FEATURES))
    assert dict(zip(META_FEATURES, feats[0], strict=True)) == {
        "words": 4,
        "mentions": 1,
        "hashtags": 1,
        "retweet": 1,
        "starts_mention": 0,
    }


def test_cleaning_and_structure_are_the_pandas_string_methods_on_odd_inputs():
    """Written per post in Python (pandas' string methods cost a fixed part of a millisecond per call,
    paid several times per scored post): the values of the formulation they replace."""
    texts = [
        "RT @x: #a b http://t.co/x  hi",
        "see www.example.org/x now",
        "two https://a.b/c and http://d.e links",
        "  spaced\tout \n text ",
        "ünïcode ✨ #tag @you",
        "@@##",
        "",
        None,
        float("nan"),
        pd.NA,
        3,
    ]
    column = pd.Series(np.asarray(texts, dtype=object)).fillna("").astype(str)
    cleaned = column.str.replace(r"https?://\S+|www\.\S+", " ", regex=True).str.split().str.join(" ")
    pd.testing.assert_frame_equal(clean_frame(pd.DataFrame({"text": texts})), pd.DataFrame({"text": cleaned}))
    counts = (column.str.count(r"\w+"), column.str.count("@"), column.str.count("#"))
    starts = (column.str.startswith("RT "), column.str.startswith("@"))
    expected = np.column_stack([np.asarray(c, dtype=np.float64) for c in (*counts, *starts)])
    assert np.array_equal(meta_features(texts), expected)
    assert meta_features([]).shape == (0, len(META_FEATURES))


def test_contract_frame_orders_columns_and_fills_absent_classes():
    out = contract_frame(np.array([[0.7, 0.3]]), ["religion", "not_cyberbullying"])
    assert list(out.columns) == CONTRACT
    assert out.loc[0, "label"] == "religion" and out.loc[0, "harmful_score"] == pytest.approx(0.7)


def test_stratified_sample_keeps_label_mix_and_is_deterministic(small_sample):
    a = stratified_sample(small_sample, 600, seed=5)
    assert len(a) <= 600 and a.equals(stratified_sample(small_sample, 600, seed=5))
    share = a["label"].value_counts(normalize=True) - small_sample["label"].value_counts(normalize=True)
    assert share.abs().max() < 0.01


@pytest.mark.model
def test_fit_and_measure_returns_the_model_and_its_evidence_as_plain_data(small_sample):
    """train's pure core: a stratified sample is fitted, the evaluation snapshot, the golden set and the
    drift reference are scored, and the record a rerun reads back is plain JSON."""
    import json

    from harmwatch.model.fitting import fit_and_measure, training_record
    from harmwatch.model.textmodel import MODEL_FORMAT

    train, ev = small_sample.iloc[:2400], small_sample.iloc[2400:]
    fitted = fit_and_measure(train, ev, sample_rows=1200, seed=1, n_jobs=1, reference_rows=300)
    assert (
        1100 <= fitted.train_rows <= 1200
        and fitted.pipeline.named_steps["clf"].format_version_ == MODEL_FORMAT
    )
    assert list(fitted.scored.columns) == CONTRACT and len(fitted.scored) == len(ev)
    assert 0.5 < fitted.metrics["macro_f1"] <= 1.0
    assert len(fitted.golden_result) == len(fitted.golden) and fitted.golden_result["passed"].dtype == bool
    assert list(fitted.reference.columns) == ["text", "label", "pred_label", "harmful_score"]
    assert len(fitted.reference) == 300
    record = training_record(fitted, {"harmwatch.date": "2026-01-02"}, {"train_version": "t"}, len(ev), 0, 1)
    assert json.loads(json.dumps(record)) == record
    assert record["summary"]["macro_f1"] == round(fitted.metrics["macro_f1"], 4)
    assert record["summary"]["rows_train"] == fitted.train_rows


@pytest.mark.model
def test_model_saved_under_the_old_module_path_still_loads(
    baseline_model, small_sample, tmp_path, monkeypatch
):
    """Versions registered before format 4 name ``harmwatch.textmodel`` in their skops file (and in the
    trusted types MLflow stored with them); that path still resolves to the classifier."""
    import skops.io as sio

    from harmwatch.model import textmodel

    for name in (
        "CompactTfidfVectorizer",
        "HarmfulContentPipeline",
        "LogCountRatioClassifier",
        "StackedTextClassifier",
        "WordCharHashing",
        "clean_frame",
        "meta_features",
    ):
        monkeypatch.setattr(getattr(textmodel, name), "__module__", "harmwatch.textmodel")
    path = tmp_path / "format3.skops"
    sio.dump(baseline_model, path)
    monkeypatch.undo()
    old_types = [t.replace("harmwatch.model.textmodel.", "harmwatch.textmodel.") for t in BASELINE_TYPES]
    assert sorted(sio.get_untrusted_types(file=path)) == sorted(old_types)
    loaded = sio.load(path, trusted=old_types)
    texts = small_sample[["text"]].head(300)
    pd.testing.assert_frame_equal(loaded.predict(texts), baseline_model.predict(texts))
