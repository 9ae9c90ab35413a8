"""Section ``moderation``: the training recipes tried for a model fit to moderate, on data the behaviour
suite never saw.

The source CSV is deduplicated by text and split by a hash of the text: 85 % to fit on, 15 % as the
anchor (macro-F1). Each option is fitted in this process, one thread, with several seeds; for each fit:
anchor macro-F1, the development set (``moderation_dev``: overall, hateful, non-hateful, worst group's
neutral and positive statements not flagged, worst functionality), the paired fairness templates (worst
BPSN AUC, worst group FPR) and the CPU seconds of the fit. The recipe chosen from this table is the
default of ``harmwatch.model.fitting.RECIPES``.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core import Options, load1

SEEDS = (1, 2, 3)
ANCHOR_SHARE = 15  # percent of the deduplicated source held out for macro-F1
PROXY_ROWS = 12_000  # the cheap proxy: a stratified sample of the fitting split
FIRST = "first `moderate` (first-round templates, no normaliser)"
MODERATE = "`moderate` (first + spelling normaliser, all features)"
JOINED = "moderate + broken pieces joined before correction"


def options(source: Path) -> dict[str, Any]:
    """The options of the table: name -> Recipe (TweetEval from its folder beside the source CSV)."""
    from harmwatch.model.augmentation import SECOND_ROUND_KINDS as ALL_SECOND
    from harmwatch.model.fitting import RECIPES, Recipe

    # the third round's options: ``moderate`` with pieces joined
    joined = replace(RECIPES["moderate"], joins=True)
    chosen = first = replace(RECIPES["moderate"], second_round=(), normalise="none")
    return {
        "baseline (the recipe before)": RECIPES["baseline"],
        "augmentation templates, no head": Recipe("templates", augment=True),
        "identity-blind head on group posts, no augmentation": Recipe("head", harm_mode="group"),
        "templates in stack and head, head on group posts": Recipe("both", augment=True, harm_mode="group"),
        "chosen, misspelt group posts in the stack too": replace(chosen, augment_stack="plain"),
        "chosen, head without the surface counts": replace(chosen, blind_meta=False),
        "chosen, head alone on group posts (share 1.0)": replace(chosen, head_share=1.0),
        "chosen, head share 0.75": replace(chosen, head_share=0.75),
        "chosen, generic words (girl, church, ...) do not send a post to the head": replace(
            chosen, narrow_gate=True
        ),
        "chosen, head benign weight 1.5, augmentation weight 3, share 1.0": replace(
            chosen, blind_benign_weight=1.5, augment_weight=3.0, head_share=1.0
        ),
        "chosen, head on every post": replace(chosen, harm_mode="all"),
        "chosen, head sees function words": replace(chosen, blind_stop_words=False),
        "chosen + TweetEval non-offensive group posts": replace(
            chosen, tweeteval=source.parent / "tweeteval_offensive"
        ),
        # second round, on the development set extended with negated and implicit hate, counter-speech
        # by reference, rude criticism of individuals and misspelt key words ("chosen" above is this one)
        FIRST: first,
        "first + second-round templates": replace(first, second_round=tuple(sorted(ALL_SECOND))),
        "first + spelling normaliser, all features": replace(first, normalise="all"),
        "first + spelling normaliser with glued and broken words, all features": replace(
            first, normalise="all", glued=True
        ),
        "first + spelling normaliser joining broken words (no split of glued ones), all features": replace(
            first, normalise="all", glued=True, split_glued=False
        ),
        "first + second-round templates + spelling normaliser, head only": replace(
            first, second_round=tuple(sorted(ALL_SECOND)), normalise="head"
        ),
        "first + second-round templates + spelling normaliser, all features": replace(
            first, second_round=tuple(sorted(ALL_SECOND)), normalise="all"
        ),
        "normaliser + second round without negated-hate frames": replace(
            first, second_round=tuple(sorted(ALL_SECOND - {"negated_benign"})), normalise="all"
        ),
        "normaliser + second round's benign rows only (reference, individuals, habits)": replace(
            first, second_round=("counter_reference", "individual", "non_protected_more"), normalise="all"
        ),
        # third round, on the development set extended with key words broken anywhere and more sentences
        # written without spaces
        MODERATE: replace(joined, joins=False),
        JOINED: joined,
        "moderate + pieces joined + glued words of 12 letters or more split": replace(
            joined, glued=True, glued_min=12
        ),
        "moderate + pieces joined + negation scope in word n-grams": replace(joined, negation=True),
        "moderate + pieces joined + negation scope + second-round negation templates": replace(
            joined, negation=True, second_round=("negated_benign", "negated_hostile")
        ),
        "moderate + pieces joined, head benign weight 1.5": replace(joined, blind_benign_weight=1.5),
        "moderate + pieces joined, head benign weight 1.4, augmentation weight 3": replace(
            joined, blind_benign_weight=1.4, augment_weight=3.0
        ),
        "moderate + pieces joined, head benign weight 1.5, second round's benign rows": replace(
            joined,
            blind_benign_weight=1.5,
            second_round=("counter_reference", "individual", "non_protected_more"),
        ),
        **fourth_round(),
        **{f"fifth round: {k}": v for k, v in fifth_round().items() if k != BEST},
        f"sixth round: {FIFTH_BEST} + violence marks, head's share 0.95": sixth_round()[
            f"{FIFTH_BEST} + violence marks, head's share 0.95"
        ],
    }


# The fourth round's base: the third round's pieces joined with the head's benign weight 1.5; its best.
J15 = "moderate + pieces joined, head benign weight 1.5"
BEST = "the fourth round's best"


def fourth_round() -> dict[str, Any]:
    """The fourth round's options, on the development set with fresh cases for the functionalities still
    weak and for reclaimed words (1,044 cases): the third round of template rows, negation scope for the
    head alone or for every word feature, the head's share on posts naming no group."""
    from harmwatch.model.augmentation import THIRD_ROUND_KINDS
    from harmwatch.model.fitting import RECIPES
    from harmwatch.model.textmodel import EXCLUSION_WORDS

    before = RECIPES["moderate"]
    j15 = replace(before, joins=True, blind_benign_weight=1.5)
    third = tuple(sorted(THIRD_ROUND_KINDS - {"positive_more"}))
    benign = ("counter_reference_more", "everyday", "habits", "individual_more", "reclaimed")
    head_negation = replace(j15, negation=True, negation_stack=False, second_round=third)
    best = replace(
        head_negation,
        negation_near=True,
        blind_keep=EXCLUSION_WORDS,
        second_round=tuple(sorted(THIRD_ROUND_KINDS)),
    )
    return {
        f"{J15}, head's share 0.3 on posts naming no group": replace(j15, plain_share=0.3),
        f"{J15} + everyday posts": replace(j15, second_round=("everyday",)),
        f"{J15} + third round's benign rows": replace(j15, second_round=benign),
        f"{J15} + exclusion frames": replace(j15, second_round=("exclusion",)),
        f"{J15} + negation pairs": replace(j15, second_round=("negation_pair",)),
        f"{J15} + negation pairs + negation scope": replace(
            j15, negation=True, second_round=("negation_pair",)
        ),
        f"{J15} + everyday posts + negation pairs + negation scope": replace(
            j15, negation=True, second_round=("everyday", "negation_pair")
        ),
        f"{J15} + negation pairs + negation scope in the head only": replace(
            j15, negation=True, negation_stack=False, second_round=("negation_pair",)
        ),
        f"{J15} + third round + negation scope": replace(j15, negation=True, second_round=third),
        f"{J15} + third round + negation scope in the head only": head_negation,
        f"{J15} + third round + negation of the next two words in the head only": replace(
            head_negation, negation_near=True
        ),
        f"{J15} + third round + negation scope in the head only + exclusion words": replace(
            head_negation, blind_keep=EXCLUSION_WORDS
        ),
        f"{J15} + third round + negation of the next two words in the head only + exclusion words": replace(
            head_negation, negation_near=True, blind_keep=EXCLUSION_WORDS
        ),
        f"{J15} + third round + negation of the next two words in the head only + exclusion words, head's"
        " benign weight 1.75": replace(
            head_negation, negation_near=True, blind_keep=EXCLUSION_WORDS, blind_benign_weight=1.75
        ),
        f"{J15} + third round with more warm statements + negation of the next two words in the head only"
        " + exclusion words": best,
        f"{BEST}, head without character 5-grams": replace(best, blind_chars=False),
        f"{BEST}, pieces not joined": replace(best, joins=False),
        "moderate + negation pairs + negation scope": replace(
            before, negation=True, second_round=("negation_pair",)
        ),
        "moderate + third round + negation scope": replace(before, negation=True, second_round=third),
    }


def fifth_round() -> dict[str, Any]:
    """The fifth round's options, from the fourth round's best (``BEST``): the head's benign weight, and the
    fourth round of template rows (``augmentation.FOURTH_ROUND_KINDS``: contempt without an insulting word,
    counter-speech naming the insult beside a post endorsing it, strong words used harmlessly). Measured on
    the development set with neutral statements near the flag line (``neutral_near``), fitted on the bulk
    day's snapshot as well as on the source's fitting split (:func:`run_bulk`)."""
    from harmwatch.model.augmentation import THIRD_ROUND_KINDS
    from harmwatch.model.fitting import RECIPES

    best = fourth_round()[f"{J15} + third round with more warm statements + negation of the next two words in"
                          " the head only + exclusion words"]  # fmt: skip

    def rows(*kinds: str) -> tuple[str, ...]:
        return tuple(sorted(THIRD_ROUND_KINDS | set(kinds)))

    return {
        BEST: best,
        f"{BEST}, head benign weight 1.75": replace(best, blind_benign_weight=1.75),
        f"{BEST}, head benign weight 2": replace(best, blind_benign_weight=2.0),
        f"{BEST} + contempt pairs": replace(best, second_round=rows("contempt_pair")),
        f"{BEST} + contempt pairs + counter-speech naming the insult": replace(
            best, second_round=rows("contempt_pair", "counter_naming")
        ),
        f"{BEST} + strong words used harmlessly": replace(best, second_round=rows("strong_benign")),
        f"{BEST} + contempt pairs + counter-speech naming the insult, head benign weight 1.75": replace(
            best, blind_benign_weight=1.75, second_round=rows("contempt_pair", "counter_naming")
        ),
        f"{BEST} + contempt pairs, head benign weight 1.75": replace(
            best, blind_benign_weight=1.75, second_round=rows("contempt_pair")
        ),
        f"{BEST} + contempt pairs, head benign weight 2": replace(
            best, blind_benign_weight=2.0, second_round=rows("contempt_pair")
        ),
        f"{BEST} + contempt pairs, head benign weight 1.75, the stack on its own rows": replace(
            best, blind_benign_weight=1.75, second_round=rows("contempt_pair"), stack_own_rows=True
        ),
        "`moderate`, the stack on its own rows": replace(RECIPES["moderate"], stack_own_rows=True),
    }


# The sixth round's base: the fifth round's best (the fourth's best + contempt pairs, head benign weight
# 1.75).
FIFTH_BEST = "the fifth round's best"


def sixth_round() -> dict[str, Any]:
    """The sixth round's options, from the fifth round's best, on the development set with fresh threats
    (1,340 cases): threats paired with a harmless verb, aimed at a group (``threat_pair``) or at a person
    (``threat_person``), the head reading one shared token after each violent word (``blind_marks``), and
    the head's share of the harm score on posts naming a group (the stack's share is how far a group's name
    moves the score)."""
    from harmwatch.model.augmentation import THIRD_ROUND_KINDS
    from harmwatch.model.fitting import RECIPES

    best = fifth_round()[f"{BEST} + contempt pairs, head benign weight 1.75"]

    def rows(*kinds: str) -> tuple[str, ...]:
        return tuple(sorted(THIRD_ROUND_KINDS | {"contempt_pair", *kinds}))

    pairs, both = rows("threat_pair"), rows("threat_pair", "threat_person")
    marks = replace(best, blind_marks=True)
    return {
        "`moderate`": RECIPES["moderate"],
        "`moderate` + violence marks": replace(RECIPES["moderate"], blind_marks=True),
        FIFTH_BEST: best,
        f"{FIFTH_BEST}, head's share 0.95": replace(best, head_share=0.95),
        f"{FIFTH_BEST}, head's share 1.0": replace(best, head_share=1.0),
        f"{FIFTH_BEST} + threat pairs + threats at a person": replace(best, second_round=both),
        f"{FIFTH_BEST} + threat pairs + threats at a person, head benign weight 2": replace(
            best, second_round=both, blind_benign_weight=2.0
        ),
        f"{FIFTH_BEST} + violence marks": marks,
        f"{FIFTH_BEST} + threat pairs + threats at a person + violence marks": replace(
            marks, second_round=both
        ),
        f"{FIFTH_BEST} + threat pairs + violence marks": replace(marks, second_round=pairs),
        f"{FIFTH_BEST} + threat pairs + violence marks, head's share 0.95": replace(
            marks, second_round=pairs, head_share=0.95
        ),
        f"{FIFTH_BEST} + violence marks, head's share 0.95": replace(marks, head_share=0.95),
    }


BULK_SEEDS = (42, 1)  # the product seed, and one more


def run_bulk(opts: Options, names: list[str] | None = None) -> dict[str, Any]:
    """The fifth and sixth rounds' options (or ``names`` of them) fitted on the bulk day's training snapshot,
    what the demo and the retrain DAG's first day train on (built by the steps from a simulated landing zone):
    the anchor's macro-F1 on its frozen evaluation snapshot, the development set and the paired fairness
    templates. A recipe whose development figures hold on the whole source can still fall short here, with
    a fifth less data."""
    from bench.core import bulk_day_snapshots
    from bench.sections.moderation_dev import dev_frame, dev_report
    from harmwatch.model.fairness import fairness_report, templates
    from harmwatch.model.fitting import fit_model
    from harmwatch.model.metrics import classification_metrics

    train, ev = bulk_day_snapshots(opts.source)
    dev, pairs = dev_frame(), templates()
    out: dict[str, Any] = {
        "rows_train": len(train),
        "rows_eval": len(ev),
        "dev_cases": len(dev),
        "options": {},
    }
    for name, recipe in {**fifth_round(), **sixth_round()}.items():
        if names and name not in names:
            continue
        runs = []
        for seed in BULK_SEEDS:
            cpu = time.process_time()
            pipeline, _ = fit_model(train, seed, 1, recipe)
            cpu = time.process_time() - cpu
            report = dev_report(dev, pipeline.predict(dev[["text"]])["harmful_score"].to_numpy())
            groups = pd.DataFrame(fairness_report(pairs, pipeline.predict(pairs[["text"]]))["groups"])
            f1 = classification_metrics(ev["label"], pipeline.predict(ev[["text"]]))["macro_f1"]
            runs.append(
                {
                    "seed": seed,
                    "macro_f1": round(float(f1), 4),
                    **{k: report[k] for k in ("overall", "hateful", "non_hateful", "worst_group_np")},
                    **{
                        k: report[k]
                        for k in ("worst_group", "worst_functionality", "worst_functionality_right")
                    },
                    "bpsn_min": round(float(groups["bpsn_auc"].min()), 3),
                    "fit_cpu_s": round(cpu, 1),
                    "functionalities": report["functionalities"],
                    "groups_np": report["groups_np"],
                }
            )
            print(
                f"moderation (bulk day): {name} seed {seed} (load {load1()}): {_brief(runs[-1])}", flush=True
            )
        out["options"][name] = {"median": summarise(runs), "runs": runs}
    return out


def split(source: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, anchor): texts as the lake holds them, one row per text, split by a hash of the text."""
    from harmwatch.data.parsing import normalise_text

    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame = pd.DataFrame({"text": raw["tweet_text"].map(normalise_text), "label": raw["cyberbullying_type"]})
    frame = frame[frame["text"] != ""].drop_duplicates("text").reset_index(drop=True)
    bucket = frame["text"].map(lambda t: int(hashlib.sha256(t.lower().encode()).hexdigest()[:8], 16) % 100)
    anchor = bucket < ANCHOR_SHARE
    return frame[~anchor].reset_index(drop=True), frame[anchor].reset_index(drop=True)


def measure(recipe: Any, fit: pd.DataFrame, anchor: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Fit one recipe with one seed; its anchor, development-set and fairness figures and fit CPU-s."""
    from sklearn.metrics import f1_score

    from bench.sections.moderation_dev import dev_frame, dev_report
    from harmwatch.model.fairness import fairness_report, templates
    from harmwatch.model.fitting import fit_model

    cpu, wall = time.process_time(), time.perf_counter()
    pipeline, _ = fit_model(fit, seed, 1, recipe)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scored = pipeline.predict(anchor[["text"]])
    dev = dev_frame()
    report = dev_report(dev, pipeline.predict(dev[["text"]])["harmful_score"].to_numpy())
    pairs = templates()
    fair = fairness_report(pairs, pipeline.predict(pairs[["text"]]))
    groups = pd.DataFrame(fair["groups"])
    return {
        "macro_f1": round(float(f1_score(anchor["label"], scored["label"], average="macro")), 4),
        **{k: report[k] for k in ("overall", "hateful", "non_hateful", "worst_group", "worst_group_np")},
        "worst_functionality": report["worst_functionality"],
        "worst_functionality_right": report["worst_functionality_right"],
        "bpsn_min": round(float(groups["bpsn_auc"].min()), 3),
        "bpsn_worst_group": str(groups.loc[groups["bpsn_auc"].idxmin(), "group"]),
        "max_group_fpr": round(float(fair["max_group_fpr"]), 3),
        "fit_cpu_s": round(cpu, 1),
        "fit_wall_s": round(wall, 1),
        "functionalities": report["functionalities"],
        "groups_np": report["groups_np"],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over seeds of each figure, and the spread of macro-F1."""
    keys = ("macro_f1", "overall", "hateful", "non_hateful", "worst_group_np", "worst_functionality_right")
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}
    out.update(
        bpsn_min=min(r["bpsn_min"] for r in runs),
        macro_f1_range=[min(r["macro_f1"] for r in runs), max(r["macro_f1"] for r in runs)],
        fit_cpu_s=round(statistics.median(r["fit_cpu_s"] for r in runs), 1),
        worst_groups=sorted({r["worst_group"] for r in runs}),
        worst_functionalities=sorted({r["worst_functionality"] for r in runs}),
    )
    return out


def run(opts: Options, names: list[str] | None = None, rows: int | None = None) -> dict[str, Any]:
    """Every option (or ``names``) over the seeds (two with ``--repeats 1``), on the whole fitting split
    (or a stratified sample of ``rows``)."""
    from bench.sections.moderation_dev import dev_frame
    from harmwatch.model.fitting import stratified_sample

    fit, anchor = split(opts.source)
    if rows:
        fit = stratified_sample(fit, rows, 0).reset_index(drop=True)
    seeds = SEEDS[:2] if opts.repeats <= 1 else SEEDS
    out: dict[str, Any] = {
        "rows_fit": len(fit),
        "rows_anchor": len(anchor),
        "dev_cases": len(dev_frame()),
        "seeds": list(seeds),
        "options": {},
    }
    for name, recipe in options(opts.source).items():
        if names and name not in names:
            continue
        runs = []
        for seed in seeds:
            runs.append(measure(recipe, fit, anchor, seed))
            print(f"moderation: {name} seed {seed} (load {load1()}): {_brief(runs[-1])}", flush=True)
        out["options"][name] = {"recipe": replace(recipe, tweeteval=None).__dict__, "median": summarise(runs),
                                "runs": runs}  # fmt: skip
    return out


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("functionalities", "groups_np")}


def _option_row(name: str, m: dict[str, Any]) -> str:
    """One option's medians as a table row, up to its worst-group, functionality and BPSN columns."""
    return (
        f"| {name} | {m['macro_f1']:.4f} | {m['overall']:.3f} | {m['hateful']:.3f} | {m['non_hateful']:.3f}"
        f" | {m['worst_group_np']:.2f} | {m['worst_functionality_right']:.2f} | {m['bpsn_min']:.2f} |"
    )


def report_lines(result: dict[str, Any]) -> list[str]:
    """The options table for the report (medians over seeds)."""
    lines = [
        "",
        "## Training recipes for moderation (`moderation`)",
        "",
        f"{result['rows_fit']:,} texts fitted, {result['rows_anchor']:,} held out; development set of"
        f" {result.get('dev_cases', '?')} cases; seeds {result['seeds']}."
        + (
            f" The {len(result['fourth_round']['options'])} rows of the fourth round (`fourth_round` in the"
            f" JSON; two of them measured again): development set of {result['fourth_round']['dev_cases']:,}"
            " cases, the seeds each option records."
            if "fourth_round" in result
            else ""
        ),
        "",
        "| option | anchor macro-F1 | dev overall | hateful | non-hateful | worst group (neutral+positive)"
        " | worst functionality | BPSN min | fit CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, opt in result["options"].items():
        lines.append(_option_row(name, opt["median"]) + f" {opt['median']['fit_cpu_s']:.1f} |")
    for key, round_name in (("fifth_round_bulk_day", "fifth"), ("sixth_round_bulk_day", "sixth")):
        lines += _bulk_lines(result.get(key), round_name)
    return lines


def _bulk_lines(bulk: dict[str, Any] | None, round_name: str) -> list[str]:
    """A round's options fitted on the bulk day's snapshot, as a table (none without the record)."""
    lines: list[str] = []
    if bulk:
        lines += [
            "",
            f"The {round_name} round fitted on the bulk day's snapshot ({bulk['rows_train']:,} texts; seeds"
            f" {bulk['seeds']} or an option's own; anchor: its frozen evaluation snapshot;"
            f" development set of {bulk['dev_cases']:,} cases):",
            "",
            "| option | anchor macro-F1 | dev overall | hateful | non-hateful | worst group"
            " | worst functionality | BPSN min |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [_option_row(name, opt["median"]) for name, opt in bulk["options"].items()]
    return lines
