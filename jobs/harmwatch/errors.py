"""Errors a step reports as one clear line (no traceback): bad input, missing state, outages."""

from __future__ import annotations


class HarmwatchError(RuntimeError):
    """A failure the user can act on. ``str(exc)`` is one line saying what was wrong and where."""

    exit_code = 2


class DataError(HarmwatchError):
    """Input data failed a check that stops the step (e.g. a batch-level expectation)."""

    exit_code = 3


class ServiceUnavailable(HarmwatchError):
    """A service (S3, MLflow) could not be reached after retries."""

    exit_code = 4
