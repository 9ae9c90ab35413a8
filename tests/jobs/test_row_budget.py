"""The training row budget: at most the budget, the label mix kept, newer posts favoured, and the snapshot
read in batches keeping only the chosen rows (train's memory follows the budget, not the snapshot)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harmwatch.config import load_settings
from harmwatch.data.tables import read_selected
from harmwatch.model.fitting import budget_mask
from harmwatch.steps.train import read_training
from harmwatch.storage import open_store


def snapshot(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.date_range("2026-01-01", periods=200, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "key": [f"k{i:06d}" for i in range(n)],
            "text": [f"post number {i}" for i in range(n)],
            "label": rng.choice(["age", "gender", "not_cyberbullying"], size=n, p=[0.2, 0.3, 0.5]),
            "label_source": "moderator",
            "post_id": [f"p{i}" for i in range(n)],
            "batch_dt": rng.choice(days, size=n),
        }
    )


def test_budget_keeps_the_label_mix_and_favours_recent_posts():
    frame = snapshot(20_000)
    keep = budget_mask(frame["label"], frame["batch_dt"], 2_000, seed=1, half_life_days=30)
    kept = frame[keep]
    assert len(kept) == 2_000
    mix, kept_mix = frame["label"].value_counts(normalize=True), kept["label"].value_counts(normalize=True)
    assert (kept_mix - mix).abs().max() < 0.002  # quotas by label, largest remainders
    assert (
        pd.to_datetime(kept["batch_dt"]).median() > pd.to_datetime(frame["batch_dt"]).median()
    )  # newer first
    newest = frame["batch_dt"].max()
    assert (kept["batch_dt"] == newest).mean() > 3 * (frame["batch_dt"] == newest).mean()
    again = budget_mask(frame["label"], frame["batch_dt"], 2_000, seed=1, half_life_days=30)
    assert (again == keep).all()  # seeded


def test_no_budget_or_a_small_snapshot_keeps_everything():
    frame = snapshot(500)
    assert budget_mask(frame["label"], frame["batch_dt"], 0, seed=1, half_life_days=30).all()
    assert budget_mask(frame["label"], frame["batch_dt"], 500, seed=1, half_life_days=30).all()
    uniform = budget_mask(frame["label"], None, 100, seed=1, half_life_days=30)
    assert uniform.sum() == 100


def test_read_selected_streams_only_the_chosen_rows(tmp_path):
    frame = snapshot(3_000)
    store = open_store(str(tmp_path))
    store.write_parquet("t/train.parquet", frame)
    seen = []

    def select(head: pd.DataFrame) -> np.ndarray:
        seen.append(list(head.columns))
        return (head["label"].astype(str) == "age").to_numpy()

    got = read_selected(store, "t/train.parquet", select, ["label", "batch_dt", "missing"], batch_rows=256)
    assert seen == [["label", "batch_dt"]]  # the decision reads two columns, never the text
    pd.testing.assert_frame_equal(got, frame[frame["label"] == "age"].reset_index(drop=True))


def test_train_reads_the_snapshot_within_the_settings_budget(tmp_path):
    frame = snapshot(5_000)
    store = open_store(str(tmp_path))
    store.write_parquet("datasets/train/v=1/train.parquet", frame)
    manifest = store.commit("datasets/train/v=1", ["train.parquet"], {"rows": len(frame)})
    budgeted = read_training(store, manifest, load_settings(home=tmp_path, train_row_budget=1_000))
    assert len(budgeted) == 1_000 and set(budgeted.columns) == set(frame.columns)
    whole = read_training(store, manifest, load_settings(home=tmp_path, train_row_budget=0))
    assert len(whole) == 5_000
