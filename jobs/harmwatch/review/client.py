"""Label Studio through ``label-studio-sdk``: the two projects of the loop, their tasks and annotators.

The one place that talks to Label Studio (as :mod:`harmwatch.registry` is for MLflow). The review project
serves the queue with *sequential sampling*, so a moderator's next task is the oldest one not yet done;
review-push creates tasks in review order, which makes that the highest expected value first. A share
of tasks (``overlap_percent``) gets two annotations, which measures agreement between moderators; the
adjudication project takes the texts where they disagreed. The SDK is imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError, ServiceUnavailable
from harmwatch.review.tasks import ADJUDICATION_CONFIG, LABEL_CONFIG

ADJUDICATION_SUFFIX = " - adjudication"


@dataclass
class Projects:
    client: Any  # label_studio_sdk.client.LabelStudio
    review: int
    adjudication: int


@contextlib.contextmanager
def calls(settings: Settings) -> Iterator[None]:
    """Turn a Label Studio that cannot be reached into one line (exit 4), and a refused token into one."""
    import httpx

    try:
        yield
    except httpx.TransportError as exc:
        raise ServiceUnavailable(
            f"Label Studio at {settings.label_studio_url} unreachable ({type(exc).__name__}); "
            "the step can be rerun once it answers"
        ) from None
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            raise HarmwatchError(
                f"Label Studio at {settings.label_studio_url} refused the token (HTTP {status}); "
                "check HARMWATCH_LABEL_STUDIO_TOKEN (a personal access token)"
            ) from None
        raise


def connect(settings: Settings) -> Any:
    from label_studio_sdk.client import LabelStudio

    if not settings.label_studio_url or not settings.label_studio_token.get_secret_value():
        raise HarmwatchError(
            "no Label Studio configured: set HARMWATCH_LABEL_STUDIO_URL and HARMWATCH_LABEL_STUDIO_TOKEN "
            "(make up starts one locally)"
        )
    return LabelStudio(
        base_url=settings.label_studio_url,
        api_key=settings.label_studio_token.get_secret_value(),
        timeout=60,
    )


def _project(client: Any, title: str, **create: Any) -> int:
    for project in client.projects.list(title=title):
        if project.title == title:
            return int(project.id)
    return int(client.projects.create(title=title, **create).id)


def projects(settings: Settings, overlap_percent: int = 10) -> Projects:
    """The review and adjudication projects, created on first use."""
    client = connect(settings)
    common = {"sampling": "Sequential sampling", "show_skip_button": True, "show_collab_predictions": False}
    review = _project(
        client,
        settings.label_studio_project,
        label_config=LABEL_CONFIG,
        description="harmwatch review queue: texts the training data cannot decide, highest value first.",
        maximum_annotations=2,
        overlap_cohort_percentage=overlap_percent,
        **common,
    )
    adjudication = _project(
        client,
        settings.label_studio_project + ADJUDICATION_SUFFIX,
        label_config=ADJUDICATION_CONFIG,
        description="harmwatch: texts on which moderators disagreed. The answer here is final.",
        maximum_annotations=1,
        **common,
    )
    return Projects(client, review, adjudication)


def tasks(client: Any, project: int) -> list[dict[str, Any]]:
    """Every task of a project with its annotations, as plain dicts (id, overlap, data, annotations)."""
    out = []
    for task in client.tasks.list(project=project, fields="all", page_size=500):
        annotations = [a if isinstance(a, dict) else a.dict() for a in (task.annotations or [])]
        out.append(
            {
                "id": int(task.id),
                "overlap": int(task.overlap or 1),
                "data": dict(task.data or {}),
                "annotations": annotations,
                "created_at": str(task.created_at or ""),
            }
        )
    return out


def annotator_emails(client: Any) -> dict[int, str]:
    """Label Studio user id -> email (pseudonymised before anything is written)."""
    return {int(u.id): str(u.email) for u in client.users.list()}


def create_tasks(client: Any, project: int, data: list[dict[str, str]]) -> list[int]:
    """Import tasks in the given order (their ids follow it); returns the new task ids."""
    if not data:
        return []
    result = client.projects.import_tasks(id=project, request=data, return_task_ids=True)
    return [int(i) for i in (result.task_ids or [])]
