"""Decide whether the challenger may replace the champion, and record the decision and its evidence.

Both versions are loaded from the registry by alias and scored on the same frozen evaluation snapshot.
Gates: absolute floors (macro-F1, every class F1), calibration (ECE), the golden set (must-flag,
identity-term counterfactuals, benign posts), a smoke test that loads the challenger by its ``models:/``
URI in a fresh process, and, when a champion exists, no per-class F1 regression beyond a tolerance and a
paired-bootstrap confidence interval on the macro-F1 difference whose lower end stays above
``-max_regression`` (non-inferiority). The first model has no champion: floors only. The decision
(``promote``, ``reject`` or ``pending_approval``) goes on the challenger version as tags and into the
artifact ``evaluation/decision.json`` of its run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harmwatch.config import CLASSES, Settings
from harmwatch.errors import HarmwatchError, ServiceUnavailable
from harmwatch.faults import checkpoint
from harmwatch.golden import golden_frame
from harmwatch.modelcard import golden_check, paired_bootstrap_delta

DECISION_ARTIFACT = "evaluation/decision.json"
CONTRACT = ["label", "harmful_score", *[f"score_{c}" for c in CLASSES]]


@dataclass(frozen=True)
class Thresholds:
    min_macro_f1: float = 0.85  # published TF-IDF + LR on this data: 0.874
    min_class_f1: float = 0.65  # not_cyberbullying, the weakest class, sits near 0.73
    max_regression: float = 0.02  # macro-F1: lower end of the 95% CI of (challenger - champion)
    max_class_regression: float = 0.02  # per-class F1 drop vs champion (seed-to-seed spread ~0.01)
    max_ece: float = 0.05
    # Per kind of golden post. A minimum-functionality floor on this data, not a quality bar: full-data
    # models get 62-80% of the set right, the weakest kind near 50% (README). It rejects degenerate
    # models: flagging everything gets 0% of benign posts right, flagging nothing 0% of must-flag.
    min_golden_pass: float = 0.40
    n_boot: int = 1000


def decide(ch: dict[str, float], champ: dict[str, float] | None, delta: dict[str, float] | None,
           golden_ch: pd.DataFrame, smoke: dict[str, Any], t: Thresholds,
           approval: bool) -> tuple[str, dict[str, dict[str, Any]]]:
    """Apply every gate; returns (decision, {gate: {passed, value, threshold}}).

    The golden set is an absolute floor only: on this data about a fifth of it flips between retrains
    of equally good models (see README), so "no new golden failures" would reject on noise.
    """
    weak = [c for c in CLASSES if ch[f"f1_{c}"] < t.min_class_f1]
    by_kind = {k: float(v) for k, v in golden_ch.groupby("kind")["passed"].mean().items()}
    gates = {
        "macro_f1_floor": {"passed": ch["macro_f1"] >= t.min_macro_f1, "value": ch["macro_f1"],
                           "threshold": t.min_macro_f1},
        "class_f1_floor": {"passed": not weak, "value": weak, "threshold": t.min_class_f1},
        "calibration": {"passed": max(ch["ece"], ch["harmful_ece"]) <= t.max_ece, "threshold": t.max_ece,
                        "value": {"top_label": ch["ece"], "harmful_score": ch["harmful_ece"]}},
        "golden": {"passed": min(by_kind.values()) >= t.min_golden_pass, "threshold": t.min_golden_pass,
                   "value": {"overall": float(golden_ch["passed"].mean()), **by_kind}},
        "smoke": {"passed": bool(smoke["ok"]), "value": smoke["detail"], "threshold": "loads and scores"},
    }
    if champ is not None and delta is not None:
        drops = {c: round(champ[f"f1_{c}"] - ch[f"f1_{c}"], 4) for c in CLASSES
                 if ch[f"f1_{c}"] < champ[f"f1_{c}"] - t.max_class_regression}
        gates["class_regression"] = {"passed": not drops, "value": drops, "threshold": t.max_class_regression}
        gates["macro_f1_delta_ci"] = {"passed": delta["lo"] >= -t.max_regression, "value": delta,
                                      "threshold": -t.max_regression}
    for gate in gates.values():
        gate["passed"] = bool(gate["passed"])
    if not all(g["passed"] for g in gates.values()):
        return "reject", gates
    return ("pending_approval" if approval else "promote"), gates


def start_smoke(model_uri: str, golden: Path | None = None) -> subprocess.Popen:
    """Load ``model_uri`` and score the golden set in a fresh interpreter (runs while we work).

    ``golden`` is a CSV replacing the built-in set, as with ``--golden``.
    """
    extra = [str(golden)] if golden is not None else []
    return subprocess.Popen([sys.executable, "-m", "harmwatch.evaluate", model_uri, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def finish_smoke(proc: subprocess.Popen, expected: pd.DataFrame, timeout: float = 300) -> dict[str, Any]:
    """The fresh process must return the contract and the same labels as this process."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"ok": False, "detail": f"no answer within {timeout:.0f}s"}
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["failed"])[-1][:300]
        if "ServiceUnavailable" in last and "unreachable" in last:  # an outage, not a broken model
            raise ServiceUnavailable(last.split(": ", 1)[-1])
        return {"ok": False, "detail": last}
    got = json.loads(out.strip().splitlines()[-1])
    if got["columns"] != CONTRACT:
        return {"ok": False, "detail": f"output columns {got['columns']} != contract"}
    if got["labels"] != expected["label"].tolist():
        return {"ok": False, "detail": "labels differ from the in-process model"}
    return {"ok": True, "detail": f"scored {len(got['labels'])} golden posts in a fresh process"}


def _smoke_main(argv: list[str]) -> int:
    from harmwatch.config import load_settings
    from harmwatch.registry import configure_mlflow, load_pyfunc

    configure_mlflow(load_settings())
    golden = golden_frame(Path(argv[1]) if len(argv) > 1 else None)
    out = load_pyfunc(argv[0]).predict(golden[["text"]])
    ok_scores = bool(out["harmful_score"].between(0, 1).all())
    print(json.dumps({"columns": list(out.columns), "labels": out["label"].tolist(), "scores_ok": ok_scores}))
    return 0 if ok_scores else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = Thresholds()
    parser.add_argument("--min-macro-f1", type=float, default=d.min_macro_f1)
    parser.add_argument("--min-class-f1", type=float, default=d.min_class_f1)
    parser.add_argument("--max-regression", type=float, default=d.max_regression,
                        help="largest drop vs the champion allowed in macro-F1 (lower end of the paired "
                        "bootstrap 95%% CI) and in any class's F1")
    parser.add_argument("--max-class-regression", type=float,
                        help="per-class F1 tolerance if it should differ from --max-regression")
    parser.add_argument("--date", help="logical date YYYY-MM-DD, recorded with the decision")
    parser.add_argument("--max-ece", type=float, default=d.max_ece)
    parser.add_argument("--min-golden-pass", type=float, default=d.min_golden_pass,
                        help="share of each kind of golden post (must_flag, identity_counterfactual, "
                        "benign) the challenger must get right")
    parser.add_argument("--n-boot", type=int, default=d.n_boot)
    parser.add_argument("--golden", type=Path,
                        help="CSV (text, expect, kind, note) replacing the built-in golden set")
    parser.add_argument("--approval", action="store_true",
                        help="never promote automatically: a passing challenger becomes pending_approval")


def _score(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    return model.predict(frame[["text"]]).reset_index(drop=True)


def _scores_artifact(eval_version: str) -> str:
    return f"evaluation/scores-{eval_version}.parquet"


def _log_scores(client: Any, run_id: str, eval_version: str, ev: pd.DataFrame, golden: pd.DataFrame,
                scored: pd.DataFrame, golden_scored: pd.DataFrame) -> None:
    """Keep this version's scores on the snapshot: when it is champion, the next evaluation reuses them."""
    import tempfile

    rows = pd.concat([ev[["text"]].assign(part="eval"), golden[["text"]].assign(part="golden")],
                     ignore_index=True)
    frame = pd.concat([rows, pd.concat([scored, golden_scored], ignore_index=True)], axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(_scores_artifact(eval_version)).name
        frame.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), "evaluation")


def _cached_scores(client: Any, run_id: str, eval_version: str, ev: pd.DataFrame,
                   golden: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The champion's own scores on this snapshot and golden set, if its evaluation stored them."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmp:
            frame = pd.read_parquet(client.download_artifacts(run_id, _scores_artifact(eval_version), tmp))
    except Exception:
        return None
    parts = {p: frame[frame["part"] == p].reset_index(drop=True) for p in ("eval", "golden")}
    if not (parts["eval"]["text"].equals(ev["text"].reset_index(drop=True))
            and parts["golden"]["text"].equals(golden["text"].reset_index(drop=True))):
        return None
    return parts["eval"][CONTRACT], parts["golden"][CONTRACT]


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.registry import configure_mlflow, mlflow_calls, require_alias_version, version_uri

    class_tolerance = args.max_regression if args.max_class_regression is None else args.max_class_regression
    t = Thresholds(args.min_macro_f1, args.min_class_f1, args.max_regression, class_tolerance,
                   args.max_ece, args.min_golden_pass, args.n_boot)
    golden_file = Path(args.golden) if args.golden else None
    if golden_file is not None and not golden_file.is_file():
        raise HarmwatchError(f"golden set not found at {golden_file}")
    golden = golden_frame(golden_file)
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
        challenger = require_alias_version(client, settings, "challenger")
        smoke_proc = start_smoke(version_uri(settings.model_name, challenger.version), golden_file)
        try:
            return _evaluate(settings, client, challenger, smoke_proc, golden, golden_file, t, args)
        finally:
            if smoke_proc.poll() is None:  # failed before its answer was read
                smoke_proc.kill()
                smoke_proc.wait()


def _evaluate(settings: Settings, client: Any, challenger: Any, smoke_proc: subprocess.Popen,
              golden: pd.DataFrame, golden_file: Path | None, t: Thresholds,
              args: argparse.Namespace) -> dict[str, Any]:
    from harmwatch.modelcard import classification_metrics
    from harmwatch.registry import get_alias_version, load_pyfunc, set_version_tags, version_uri
    from harmwatch.storage import open_store

    name = settings.model_name
    champion = get_alias_version(client, name, "champion")
    eval_version = challenger.tags.get("harmwatch.eval_version")
    store = open_store(settings.lake_uri)
    eval_key = f"datasets/eval/v={eval_version}/eval.parquet"
    if not eval_version or not store.exists(eval_key):
        raise HarmwatchError(f"evaluation snapshot {eval_version!r} of challenger version "
                             f"{challenger.version} not found at {store.url(eval_key)}")
    ev = store.read_parquet(eval_key)

    ch_model = load_pyfunc(version_uri(name, challenger.version))
    ch_scored, ch_golden = _score(ch_model, ev), _score(ch_model, golden)
    ch_metrics = classification_metrics(ev["label"], ch_scored)
    golden_ch = golden_check(golden, ch_golden)
    champ_metrics = delta = golden_champ = None
    _log_scores(client, challenger.run_id, eval_version, ev, golden, ch_scored, ch_golden)
    checkpoint("scores")
    if champion is not None:
        cached = _cached_scores(client, champion.run_id, eval_version, ev, golden)
        if cached is None:
            champ_model = load_pyfunc(version_uri(name, champion.version))
            cached = _score(champ_model, ev), _score(champ_model, golden)
        champ_scored = cached[0]
        champ_metrics = classification_metrics(ev["label"], champ_scored)
        golden_champ = golden_check(golden, cached[1])
        delta = paired_bootstrap_delta(ev["label"], ch_scored["label"], champ_scored["label"],
                                       n_boot=t.n_boot, seed=settings.seed)
    smoke = finish_smoke(smoke_proc, ch_golden)
    decision, gates = decide(ch_metrics, champ_metrics, delta, golden_ch, smoke, t, args.approval)
    failed = sorted(k for k, g in gates.items() if not g["passed"])
    evidence = {
        "decision": decision, "failed_gates": failed, "gates": gates, "thresholds": asdict(t),
        "approval_required": bool(args.approval), "eval_version": eval_version, "eval_rows": len(ev),
        "date": args.date,
        "challenger": {"version": challenger.version, "run_id": challenger.run_id, "metrics": ch_metrics},
        "champion": None if champion is None else
        {"version": champion.version, "run_id": champion.run_id, "metrics": champ_metrics},
        "delta_ci": delta, "smoke": smoke,
        "golden": {"file": str(golden_file or "built-in (harmwatch.golden)"),
                   "passed": int(golden_ch["passed"].sum()), "total": len(golden_ch),
                   "failures": golden_ch[~golden_ch["passed"]].to_dict("records"),
                   "champion_passed": None if golden_champ is None else int(golden_champ["passed"].sum())},
    }
    # The evidence goes first, the tags promote acts on last (decision first among them): a kill in between
    # leaves this version without a decision, or with its previous one and the champion it was taken against
    # (promote refuses a stale one), and a rerun writes both again.
    client.log_text(challenger.run_id, json.dumps(evidence, indent=2, default=str), DECISION_ARTIFACT)
    checkpoint("decision")
    set_version_tags(client, name, challenger.version, {
        "harmwatch.decision": decision, "harmwatch.macro_f1": round(ch_metrics["macro_f1"], 4),
        "harmwatch.evaluated_against": str(champion.version) if champion is not None else "none",
        "harmwatch.eval_version": eval_version, "harmwatch.failed_gates": ",".join(failed) or "none",
        "harmwatch.delta_ci": "n/a" if delta is None else f"[{delta['lo']:.4f}, {delta['hi']:.4f}]",
        "harmwatch.golden_passed": f"{int(golden_ch['passed'].sum())}/{len(golden_ch)}",
    })
    checkpoint("decided")
    return {
        "decision": decision, "failed_gates": failed, "challenger_version": str(challenger.version),
        "champion_version": str(champion.version) if champion is not None else None,
        "challenger_macro_f1": round(ch_metrics["macro_f1"], 4),
        "champion_macro_f1": None if champ_metrics is None else round(champ_metrics["macro_f1"], 4),
        "delta_ci": None if delta is None else [round(delta["lo"], 4), round(delta["hi"], 4)],
        "golden_passed": int(golden_ch["passed"].sum()), "golden_total": len(golden_ch),
        "eval_version": eval_version, "run_id": challenger.run_id,
    }


if __name__ == "__main__":
    sys.exit(_smoke_main(sys.argv[1:]))
