"""Simulated moderators at work in Label Studio: each day they take K tasks and answer them.

Each simulated moderator is a real Label Studio account with its own personal access token
(:func:`devstack.labelstudio.start` creates them). A working day goes as a person's would: the first
moderator (the lead) settles the open adjudication tasks, then the moderators take turns asking Label
Studio for their next review task (``/api/projects/<id>/next``, what the labelling screen calls, so
Label Studio's sampling, task locks and overlap decide who gets what) and submit an answer, until K
tasks are done or none is left. Answers come from the simulator's ground truth with errors and skips
(:mod:`harmwatch.review.moderators` says how, and what they answer for texts the source labels both ways).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from devstack.labelstudio import Account
from harmwatch.data.dataset import text_key
from harmwatch.review.client import ADJUDICATION_SUFFIX
from harmwatch.review.moderators import answer, lead_time


@dataclass(frozen=True)
class Habits:
    per_day: int = 100  # K: tasks the team answers per simulated day
    error_rate: float = 0.05
    skip_rate: float = 0.01
    seed: int = 42


def _client(url: str, account: Account) -> Any:
    from label_studio_sdk.client import LabelStudio

    return LabelStudio(base_url=url, api_key=account.token, timeout=60)


def _project_id(client: Any, title: str) -> int | None:
    return next((int(p.id) for p in client.projects.list(title=title) if p.title == title), None)


def _next(client: Any, project: int) -> dict | None:
    resp = client._client_wrapper.httpx_client.request(f"api/projects/{project}/next", method="GET")
    if resp.status_code == 404:
        return None  # nothing left for this moderator
    resp.raise_for_status()
    return resp.json()


def _submit(client: Any, task: dict, label: str | None, rng: np.random.Generator) -> None:
    if label is None:
        note = {"from_name": "note", "to_name": "text", "type": "textarea"}
        note["value"] = {"text": ["cannot decide without the conversation around it"]}
        client.annotations.create(id=task["id"], result=[note], was_cancelled=True, lead_time=lead_time(rng))
        return
    choice = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
    client.annotations.create(id=task["id"], result=[choice], lead_time=lead_time(rng))


def work_day(
    url: str, project: str, moderators: tuple[Account, ...], truth: dict[str, str], habits: Habits, day: str
) -> dict[str, int]:
    """One simulated day of work; returns counts of what was done."""
    rng = np.random.default_rng([habits.seed, int(day.replace("-", ""))])
    clients = [_client(url, m) for m in moderators]
    review = _project_id(clients[0], project)
    adjudication = _project_id(clients[0], project + ADJUDICATION_SUFFIX)
    done = {"adjudicated": 0, "answered": 0, "skipped": 0, "unknown_text": 0}
    if review is None:
        return done

    def respond(client: Any, task: dict) -> None:
        key = text_key(pd.Series([task["data"]["text"]])).iloc[0]
        true = truth.get(key)
        if true is None:  # not a simulated post: nothing to go on
            done["unknown_text"] += 1
            _submit(client, task, None, rng)
            return
        label = answer(true, habits.error_rate, habits.skip_rate, rng)
        done["skipped" if label is None else "answered"] += 1
        _submit(client, task, label, rng)

    while adjudication is not None and (task := _next(clients[0], adjudication)) is not None:
        respond(clients[0], task)
        done["adjudicated"] += 1
    idle = set()
    turn = 0
    while done["answered"] + done["skipped"] < habits.per_day and len(idle) < len(clients):
        i = turn % len(clients)
        turn += 1
        if i in idle:
            continue
        task = _next(clients[i], review)
        if task is None:
            idle.add(i)
            continue
        respond(clients[i], task)
    return done
