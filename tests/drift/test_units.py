"""Unit tests of the drift step's pure parts: descriptors, thresholds, the rule, inputs, HTML safety."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from harmwatch.htmlreport import UnsafeReport, safe_evidently_html
from harmwatch.monitoring import drift_inputs as inputs
from harmwatch.monitoring.descriptors import DESCRIPTOR_COLUMNS, describe_pair, surface_descriptors, words
from harmwatch.monitoring.drift_decision import (
    ColumnCheck,
    auc_threshold,
    cat_threshold,
    drift_verdict,
    num_threshold,
    plan_checks,
)
from harmwatch.monitoring.partial_shift import class_mix_test, partial_shift_signals, terms


def test_surface_descriptors_count_what_they_say():
    length, n_words, non_letter, url, mention, hashtag = surface_descriptors(
        "@bob look https://x.io #wow 42!"
    )
    assert length == 31 and n_words == 5
    assert (url, mention, hashtag) == (1 / 5, 1 / 5, 1 / 5)
    visible = len("@boblookhttps://x.io#wow42!")
    assert non_letter == pytest.approx(len("@://.#42!") / visible)
    assert surface_descriptors("") == (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert surface_descriptors("a@b #") == (5.0, 2.0, 0.5, 0.0, 0.0, 0.0)  # not token-initial / no word


def test_words_skip_links_handles_and_tags_and_keep_other_scripts():
    assert words("@Bob Don't GO to www.x.com #now, Привет 123!") == ["don't", "go", "to", "привет"]


def test_oov_is_leave_one_out_for_the_reference():
    ref = pd.Series(["the cat sat", "the dog sat", "unique zebra"])
    cur = pd.Series(["the cat ran", "zebra"])
    rd, cd = describe_pair(ref, cur)
    assert list(rd.columns) == list(DESCRIPTOR_COLUMNS)
    # "cat" and "dog" occur in one reference post only: unknown to the *other* posts.
    assert rd["oov_share"].tolist() == pytest.approx([1 / 3, 1 / 3, 1.0])
    # Current posts are scored against the whole reference: "ran" is new, "zebra" is known.
    assert cd["oov_share"].tolist() == pytest.approx([1 / 3, 0.0])
    assert list(cd.index) == list(cur.index)


def test_thresholds_are_effect_size_floors_raised_for_small_batches():
    assert num_threshold(40_000, 10_000) == 0.1
    assert cat_threshold(40_000, 10_000, 6) == 0.1
    assert auc_threshold(40_000, 10_000) == 0.55
    assert num_threshold(5000, 100) == pytest.approx(4 / math.sqrt(5000 * 100 / 5100))
    assert cat_threshold(5000, 100, 6) > 0.15 > cat_threshold(5000, 1000, 6)
    assert auc_threshold(5000, 60) > 0.6
    assert num_threshold(5000, 50) > num_threshold(5000, 500) > num_threshold(5000, 5000) - 1e-12


def _checks():
    desc = [ColumnCheck(c, "num", "wasserstein", 0.1, "text_descriptors") for c in DESCRIPTOR_COLUMNS]
    return [
        ColumnCheck("text", "text", "abs_text_content_drift", 0.55, "text_content"),
        *desc,
        ColumnCheck("label", "cat", "jensenshannon", 0.1, "label"),
    ]


def test_rule_needs_half_of_the_descriptors_and_one_content_or_label_column():
    checks = _checks()
    calm = {c.column: 0.0 for c in checks} | {"text": 0.5}
    assert drift_verdict(checks, calm).drift_detected is False
    three = calm | {"length_chars": 0.2, "word_count": 0.2, "oov_share": 0.3}
    assert drift_verdict(checks, three).drift_detected is False  # 3 of 7 descriptors: noise-tolerant
    four = three | {"url_share": 0.1}  # distances reach the threshold
    v = drift_verdict(checks, four)
    assert v.drift_detected and v.signals["text_descriptors"]["drifted_columns"] == 4
    assert v.drift_score == pytest.approx(4 / 9)
    assert drift_verdict(checks, calm | {"text": 0.55}).drift_detected is False  # the AUC must exceed it
    assert drift_verdict(checks, calm | {"text": 0.56}).signals["text_content"]["drift_detected"]
    assert drift_verdict(checks, calm | {"label": 0.2}).signals["label"]["drift_detected"]


def test_plan_adds_prediction_and_label_checks_only_when_both_sides_have_them():
    ref = pd.DataFrame({"text": ["a"] * 50, "label": ["age"] * 50, "pred_label": ["age"] * 50})
    cur = pd.DataFrame({"text": ["b"] * 30, "label": [None] * 30, "pred_label": ["age"] * 30})
    cols = {c.column: c for c in plan_checks(ref, cur)}
    assert "label" not in cols and "harmful_score" not in cols
    assert cols["pred_label"].method == "jensenshannon"
    assert cols["text"].threshold == auc_threshold(50, 30)


def test_current_frame_one_row_per_post_labels_win_over_reports():
    labelled = pd.DataFrame(
        {"post_id": ["a", "b"], "text": ["ta", "tb"], "label": ["age", "not_cyberbullying"], "batch_dt": "d"}
    )
    reports = pd.DataFrame(
        {
            "post_id": ["b", "c", "c", "c"],
            "text": ["tb", "tc", "tc", "tc"],
            "batch_dt": "d",
            "report_id": list("1234"),
        }
    )
    cur = inputs.current_frame(labelled, reports)
    assert cur["post_id"].tolist() == ["a", "b", "c"]
    assert cur["label"].tolist() == ["age", "not_cyberbullying", None]
    assert cur["source"].tolist() == ["labelled", "labelled", "reports"]


def test_volume_anomaly_uses_robust_history():
    days = inputs.window("2026-01-20", 15)
    counts = {d: 100 + (i % 3) for i, d in enumerate(days[:-1])}
    assert inputs.volume_anomaly(counts | {days[-1]: 103}, days[-1], 14)["anomaly"] is False
    spike = inputs.volume_anomaly(counts | {days[-1]: 400}, days[-1], 14)
    assert spike["anomaly"] and spike["direction"] == "spike"
    assert inputs.volume_anomaly(counts | {days[-1]: 0}, days[-1], 14)["direction"] == "drop"
    # A past brigade in the history does not mask today's spike (median/MAD, not mean/std).
    brigade = counts | {days[3]: 5000, days[-1]: 400}
    assert inputs.volume_anomaly(brigade, days[-1], 14)["anomaly"]
    short = inputs.volume_anomaly({"2026-01-01": 10, "2026-01-02": 500}, "2026-01-02", 14)
    assert short["anomaly"] is False and "previous days" in short["reason"]
    assert inputs.volume_anomaly({}, "2026-01-02", 14)["reason"] == "no user reports in the lake"


def _page(payload: str) -> str:
    data = json.dumps({"widgets": [{"text": payload}]})
    extra = json.dumps({"g": payload})
    return (
        "<html><head><style>x{}</style><script>\n"
        f"    var metric_{'a' * 32} = {data};\n    var additional_graphs_metric_{'a' * 32} = {extra};\n"
        "</script></head><body><div></div><script>var global = globalThis</script></body></html>"
    )


@pytest.mark.parametrize(
    "payload",
    ["</script><img src=x onerror=alert(1)>", "<!--<script>", '"};</script>\n    var x = 1;', "a\u2028b & c"],
)
def test_safe_evidently_html_makes_embedded_data_inert_and_keeps_it(payload):
    page = _page(payload)
    safe = safe_evidently_html(page)
    head = safe[: safe.index("</head>")]
    data = head[head.index("<script>") + len("<script>") : head.rindex("</script>")]
    assert "<" not in data and ">" not in data and "&" not in data
    start = data.index("= ") + 2
    decoded, _ = json.JSONDecoder().raw_decode(data, start)
    assert decoded == {"widgets": [{"text": payload}]}
    assert safe.endswith(page[page.index("</head>") :])


def test_safe_evidently_html_fails_closed_on_an_unknown_shape():
    with pytest.raises(UnsafeReport):
        safe_evidently_html("<html><script>alert(1)</script></html>")
    with pytest.raises(UnsafeReport):
        safe_evidently_html(_page("x").replace(";\n    var additional", "; var additional"))


def test_terms_are_words_and_hashtags_without_handles_or_links():
    assert terms("@Bob loves #NewTopic, see https://x.io now") == ["loves", "see", "now", "#newtopic"]


def test_emerging_terms_need_a_share_a_ratio_and_surprise():
    from harmwatch.monitoring.partial_shift import MIN_TERM_POSTS, emerging_terms_from_counts

    names = ["old", "new", "rare"]
    # "old": as common as in the reference; "new": never seen; "rare": new but in too few posts.
    found = emerging_terms_from_counts([1000, 0, 0], [100, 50, MIN_TERM_POSTS - 1], 10_000, 1_000, names)
    assert [t["term"] for t in found["terms"]] == ["new"] and found["score"] > 16.5
    assert found["min_posts"] == MIN_TERM_POSTS
    # A term whose share rose 1.5x is not emerging, however many posts carry it (ratio floor).
    assert emerging_terms_from_counts([1000], [150], 10_000, 1_000, ["x"])["terms"] == []


def test_class_mix_needs_an_effect_as_well_as_significance():
    ref = ["a"] * 5000 + ["b"] * 5000
    small = ["a"] * 5100 + ["b"] * 4900  # 1 % moved: significant at this size, but below the floor
    out = class_mix_test(ref, small)
    assert out["raw_score"] > 0 and out["score"] == 0.0 and out["tvd"] == pytest.approx(0.01)
    big = ["a"] * 600 + ["b"] * 400  # 10 % moved
    out = class_mix_test(ref, big)
    assert out["score"] > 2 and out["moved"]["a"] == pytest.approx(0.1)
    assert class_mix_test(ref, [None] * 10)["score"] == 0.0


def test_report_only_posts_are_left_out_of_the_partial_shift_batch():
    ref = pd.DataFrame({"text": ["the cat sat on the mat"] * 200, "pred_label": ["age"] * 200})
    cur = pd.DataFrame(
        {
            "text": ["the cat sat on the mat"] * 100 + ["zorbcore zorbcore"] * 100,
            "pred_label": ["age"] * 100 + ["religion"] * 100,
            "source": ["labelled"] * 100 + ["reports"] * 100,
        }
    )
    signals = partial_shift_signals(ref, cur)
    assert not any(s["drift_detected"] for s in signals.values())
    assert signals["emerging_terms"]["posts"] == 100
    assert partial_shift_signals(ref, cur.assign(source="labelled"))["class_mix"]["drift_detected"]
