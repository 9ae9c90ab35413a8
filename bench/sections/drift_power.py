"""Section ``drift_power``: calibrate the partial-shift thresholds, then measure the drift verdict's power.

1. **Calibration**, on the calibration half of the CSV only (``tests/drift/scenarios.py``): 200
   same-distribution splits at each batch size (1,000 / 2,000 / 5,000 posts against 16,000), the 99th
   percentile of each statistic of :mod:`harmwatch.monitoring.partial_shift`, the largest over the sizes,
   rounded up; compared with the constants in ``CALIBRATION``. The Wasserstein noise constant of the
   descriptor checks (``NUM_NOISE``) is measured again the same way (largest normed distance x sqrt(n_eff)).
2. **Power curves**, on the test half (never used above): a 12,000-post reference against 2,000-post
   batches (the pipeline compares a day of a few thousand posts with a 20,000-post sample)
   with TweetEval posts mixed in at 0-50 %, one class grown by 0-20 %, a new term spreading through 0-5 %
   of the posts. The partial-shift statistics run ``RUNS`` times per point (they are cheap); the whole
   verdict (Evidently, descriptors, every signal) ``FULL_RUNS`` times for the foreign mix.
3. **The simulator's daily batches**: a landing zone simulated from the test half (3 days after the
   bulk), the reference a 12,000-post sample of the bulk with the stand-in model's in-sample predictions
   (as ``harmwatch train`` logs them), each day's posts (moderator-labelled and report-only, as the drift
   step reads them) with 0-20 % of the labelled posts replaced by TweetEval posts.

Writes the figure ``drift_power.png`` beside the JSON.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core import Options, load1
from devstack.config import StackConfig

CAL_SIZES, CAL_REF, CAL_RUNS = (1000, 2000, 5000), 16_000, 200
N_REF, N_CUR, RUNS, FULL_RUNS = 12_000, 2_000, 100, 20
FOREIGN = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
CLASS = (0.0, 0.02, 0.05, 0.1, 0.2)
TERM = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.05)
SIM_MIX = (0.0, 0.05, 0.1, 0.2)
SIM_SEEDS, SIM_DAYS = 7, 3


class Counts:
    """Document frequencies of posts by ``post_id``, so a batch costs a column sum instead of tokenising."""

    def __init__(self, frame: pd.DataFrame) -> None:
        from harmwatch.monitoring.partial_shift import term_matrix

        m, self.names = term_matrix(frame["text"].tolist())
        self.m = m.tocsr()
        self.row = pd.Series(np.arange(len(frame)), index=frame["post_id"].to_numpy())

    def df(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.m[self.row.loc[frame["post_id"].to_numpy()].to_numpy()].sum(axis=0)).ravel()


def statistics(counts: Counts, ref: pd.DataFrame, cur: pd.DataFrame, extra: int = 0) -> tuple[float, float]:
    """(emerging_terms, class_mix) scores, as the drift step computes them; ``extra`` posts of the batch
    carry a new term (their other terms are unchanged, so the counts need only one more column)."""
    from harmwatch.monitoring.partial_shift import class_mix_test, emerging_terms_from_counts

    ref_df, cur_df, names = counts.df(ref), counts.df(cur), counts.names
    if extra:
        ref_df, cur_df, names = np.r_[ref_df, 0], np.r_[cur_df, extra], [*names, "<new term>"]
    em = emerging_terms_from_counts(ref_df, cur_df, len(ref), len(cur), names)["score"]
    mix = max(
        class_mix_test(ref[c].tolist(), cur[c].tolist())["score"]
        for c in ("pred_label", "label")
        if cur[c].notna().any()
    )
    return em, mix


def calibrate(pools: Any) -> dict[str, Any]:
    from harmwatch.monitoring.partial_shift import CALIBRATION

    pool = pools.calibration
    counts = Counts(pool)
    out: dict[str, Any] = {"sizes": {}}
    for n_cur in CAL_SIZES:
        rng = np.random.default_rng(n_cur)
        em, mix = [], []
        for _ in range(CAL_RUNS):
            perm = rng.permutation(len(pool))
            e, m = statistics(counts, pool.iloc[perm[:CAL_REF]], pool.iloc[perm[CAL_REF : CAL_REF + n_cur]])
            em.append(e)
            mix.append(m)
        out["sizes"][n_cur] = {
            "emerging_terms_p99": round(float(np.quantile(em, 0.99)), 2),
            "class_mix_p99": round(float(np.quantile(mix, 0.99)), 2),
            "emerging_terms_max": round(float(max(em)), 2),
            "class_mix_max": round(float(max(mix)), 2),
        }
        print(f"  calibration n_cur={n_cur}: {out['sizes'][n_cur]}", flush=True)
    for key in ("emerging_terms", "class_mix"):
        derived = math.ceil(max(v[f"{key}_p99"] for v in out["sizes"].values()) * 2) / 2
        out[key] = {"derived": derived, "in_code": CALIBRATION[key]}
    out["num_noise"] = wasserstein_noise(pool)
    return out


def wasserstein_noise(pool: pd.DataFrame, runs: int = 50) -> dict[str, float]:
    """Largest normed Wasserstein distance x sqrt(n_eff) of any descriptor over same-distribution splits."""
    from scipy.stats import wasserstein_distance

    from harmwatch.monitoring.descriptors import DESCRIPTOR_COLUMNS, describe_pair
    from harmwatch.monitoring.drift_decision import NUM_NOISE, n_eff

    rng, worst = np.random.default_rng(7), 0.0
    for _ in range(runs):
        perm = rng.permutation(len(pool))
        rd, cd = describe_pair(pool["text"].iloc[perm[:4000]], pool["text"].iloc[perm[4000:5000]])
        for col in DESCRIPTOR_COLUMNS:
            sd = float(rd[col].std()) or 1.0
            worst = max(worst, wasserstein_distance(rd[col], cd[col]) / sd * math.sqrt(n_eff(4000, 1000)))
    return {"measured_max": round(worst, 2), "in_code": NUM_NOISE}


def alarms(em: float, mix: float) -> dict[str, bool]:
    from harmwatch.monitoring.partial_shift import CALIBRATION

    out = {"emerging_terms": em > CALIBRATION["emerging_terms"], "class_mix": mix > CALIBRATION["class_mix"]}
    return {**out, "either": any(out.values())}


def curve(
    pools: Any, counts: Counts, build: Any, shares: tuple[float, ...], term: bool = False
) -> list[dict]:
    """Detection rate of each partial-shift statistic and of either at each share (``RUNS`` batches)."""
    rows = []
    for share in shares:
        hits = dict.fromkeys(("emerging_terms", "class_mix", "either"), 0)
        for seed in range(RUNS):
            ref, cur = build(pools, 0.0 if term else share, seed, N_REF, N_CUR)
            found = alarms(*statistics(counts, ref, cur, round(share * N_CUR) if term else 0))
            for k, v in found.items():
                hits[k] += v
        rows.append({"share": share, **{k: v / RUNS for k, v in hits.items()}})
        print(f"  {build.__name__} {share:.4f}: {rows[-1]}", flush=True)
    return rows


def full_verdict(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, bool]:
    """The drift step's whole decision (descriptors, Evidently, partial-shift signals): what fired."""
    from harmwatch.monitoring.drift_decision import compare, with_descriptors
    from harmwatch.monitoring.drift_inputs import exclude_current, prepare

    ref, cur = prepare(ref), prepare(cur)
    verdict, _ = compare(*with_descriptors(exclude_current(ref, cur), cur))
    return {"drift": verdict.drift_detected, **{k: v["drift_detected"] for k, v in verdict.signals.items()}}


def full_curve(pools: Any, build: Any, shares: tuple[float, ...], runs: int) -> list[dict]:
    rows = []
    for share in shares:
        results = [full_verdict(*build(pools, share, seed, N_REF, N_CUR)) for seed in range(runs)]
        keys = sorted({k for r in results for k in r})
        rows.append({"share": share, **{k: sum(r.get(k, False) for r in results) / runs for k in keys}})
        print(f"  full verdict {share:.2f}: {rows[-1]}", flush=True)
    return rows


def simulator_days(pools: Any, full_runs: int) -> dict[str, Any]:
    """Daily batches simulated from the test half, against a bulk sample, with TweetEval mixed in."""
    from datetime import date

    from harmwatch.data.simulation import Population, plan_landing
    from harmwatch.monitoring.drift_inputs import current_frame, prepare
    from harmwatch.monitoring.partial_shift import partial_shift_signals
    from tests.drift.helpers import predict_frame, stand_in_model

    source = pools.test[["text", "label"]]
    rows: dict[float, list[dict[str, bool]]] = {s: [] for s in SIM_MIX}
    full: dict[float, list[dict[str, bool]]] = {0.0: [], 0.1: []}
    sizes = []
    for seed in range(SIM_SEEDS):
        files = plan_landing(source, date(2026, 1, 1), SIM_DAYS, 0.7, seed, Population())
        bulk = files["labelled/dt=2026-01-01/bulk.csv"].iloc[:N_REF]
        model = stand_in_model(bulk)  # the reference carries in-sample predictions, as train logs them
        ref = bulk.assign(pred_label=predict_frame(model, bulk["text"])["label"].to_numpy())
        rng = np.random.default_rng(seed)
        for key in [k for k in files if k.startswith("labelled/") and "bulk" not in k]:
            day = key.split("dt=")[1].split("/")[0]
            labelled = files[key].assign(batch_dt=day)
            reports = files[f"reports/dt={day}/reports.jsonl"].assign(batch_dt=day)
            for share in SIM_MIX:
                lab = labelled.copy()
                k = round(share * len(lab))
                alien = pools.foreign.iloc[rng.choice(len(pools.foreign), k, replace=False)]
                lab.iloc[:k, lab.columns.get_loc("text")] = alien["text"].to_numpy()
                lab.iloc[:k, lab.columns.get_loc("label")] = None
                cur = prepare(current_frame(lab, reports))
                cur = cur.assign(pred_label=predict_frame(model, cur["text"])["label"].to_numpy())
                signals = partial_shift_signals(prepare(ref), cur)
                rows[share].append({k: v["drift_detected"] for k, v in signals.items()})
                if share == 0.0:
                    sizes.append({"posts": len(cur), "labelled": int((cur["source"] == "labelled").sum())})
                if share in full and len(full[share]) < full_runs:
                    full[share].append(full_verdict(ref, cur))
        print(f"  simulator seed {seed}: {len(rows[0.0])} days so far", flush=True)

    def rates(results: list[dict[str, bool]]) -> dict[str, float]:
        keys = sorted({k for r in results for k in r})
        out = {k: sum(r.get(k, False) for r in results) / len(results) for k in keys}
        return {
            **out,
            "either": sum(any(r.values()) for r in results) / len(results),
            "batches": len(results),
        }

    return {
        "curve": [{"share": s, **rates(v)} for s, v in rows.items()],
        "full_verdict": {str(s): rates(v) for s, v in full.items() if v},
        "batch_posts_median": float(np.median([s["posts"] for s in sizes])),
        "batch_labelled_median": float(np.median([s["labelled"] for s in sizes])),
        "reference_posts": N_REF,
    }


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4), sharey=True)
    panels = [
        ("foreign posts (TweetEval) mixed in", result["foreign_mix"], result.get("foreign_mix_full")),
        ("one class grown (religion)", result["class_shift"], None),
        ("a new term spreading", result["new_term"], None),
        (
            f"simulator's days (median {result['simulator']['batch_labelled_median']:.0f} labelled posts)"
            " + TweetEval",
            result["simulator"]["curve"],
            None,
        ),
    ]
    for ax, (title, rows, full) in zip(axes, panels, strict=True):
        x = [100 * r["share"] for r in rows]
        ax.plot(x, [r["either"] for r in rows], "o-", color="black", label="verdict: partial-shift signals")
        for key, style in (("emerging_terms", "--"), ("class_mix", ":")):
            ax.plot(x, [r.get(key, 0) for r in rows], style, label=key)
        if full:
            fx = [100 * r["share"] for r in full]
            ax.plot(fx, [r["drift"] for r in full], "s-", color="tab:red", label="whole verdict")
            ax.plot(fx, [r.get("text_content", 0) for r in full], "^-", label="Evidently domain classifier")
            ax.plot(
                fx,
                [r.get("text_descriptors", 0) for r in full],
                "v-",
                color="tab:purple",
                label="descriptors",
            )
        ax.axhline(0.05, color="grey", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("share of the batch (%)")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("detection rate")
    axes[0].legend(fontsize=7, loc="center right")
    fig.suptitle(
        f"drift power: {N_CUR:,}-post batches (simulator: one day) against a {N_REF:,}-post reference"
        " (grey: 5 %)"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(opts: Options) -> dict[str, Any]:
    from tests.drift import scenarios

    shared = StackConfig.from_env().shared_dir / "data"
    started = time.perf_counter()
    quick = opts.repeats <= 1
    full_runs = 5 if quick else FULL_RUNS
    pools = scenarios.load_pools(opts.source, shared / "tweeteval_offensive")
    print(f"drift_power: calibration (load {load1()})", flush=True)
    out: dict[str, Any] = {"calibration": calibrate(pools)}
    counts = Counts(pd.concat([pools.test, pools.foreign], ignore_index=True))
    print(f"drift_power: curves (load {load1()})", flush=True)
    out["foreign_mix"] = curve(pools, counts, scenarios.foreign_mix, FOREIGN)
    out["class_shift"] = curve(pools, counts, scenarios.class_shift, CLASS)
    out["new_term"] = curve(pools, counts, scenarios.new_term, TERM, term=True)
    out["foreign_mix_full"] = full_curve(pools, scenarios.foreign_mix, FOREIGN, full_runs)
    print(f"drift_power: simulator days (load {load1()})", flush=True)
    out["simulator"] = simulator_days(pools, full_runs)
    out.update(
        n_ref=N_REF, n_cur=N_CUR, runs=RUNS, full_runs=full_runs, seconds=time.perf_counter() - started
    )
    plot(out, opts.results / "drift_power.png")
    return out
