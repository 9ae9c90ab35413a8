"""Label Studio for the local stack: the moderators' review tool, started and stopped by PID.

The server runs from its own virtual environment (``.venv-labelstudio``, ``make labelstudio`` creates it
from PyPI with ``label-studio==1.23.2``): its dependencies (Django and a pinned stack) would clash with
Airflow's, and harmwatch only needs the client, ``label-studio-sdk``. Its state is SQLite under
``$HARMWATCH_HOME/labelstudio/``; it binds to 127.0.0.1 only, and everything that would call out is off
(usage analytics, the PyPI version check, Sentry error reporting in the server and the browser).

A fresh home starts from a copy of an empty database with Label Studio's migrations applied
(:func:`migrated_database`), built once per machine and Label Studio lock under
``~/.cache/harmwatch/labelstudio/``: the migrations are about 34 CPU-s, most of a fresh start.

After the server answers, :func:`bootstrap` creates the accounts (an admin and simulated moderators)
and one personal access token each through ``devstack/labelstudio_bootstrap.py``, run by the Label Studio
environment's Python. Credentials go to ``$HARMWATCH_HOME/run/labelstudio.json`` (mode 0600): the URL
and the admin's token there are what :class:`harmwatch.config.Settings` falls back to when
``HARMWATCH_LABEL_STUDIO_URL``/``_TOKEN`` are unset.

:func:`push_queue` sends the newest review queue (after ``make demo``: the demo's) to the review
project with ``harmwatch review-push``, whole and in review order, so a moderator finds it waiting.

As a command (``scripts/up.sh`` and ``down.sh``): ``python -m devstack.labelstudio start|stop|push``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import run_checked
from devstack.config import REPO, StackConfig

VERSION = "1.23.2"
VENV = REPO / ".venv-labelstudio"
BOOTSTRAP = Path(__file__).with_name("labelstudio_bootstrap.py")
ORGANIZATION = "harmwatch"
ADMIN = "admin@harmwatch.local"
PID_FILE, CREDENTIALS = "labelstudio.pid", "labelstudio.json"
DATABASE = "label_studio.sqlite3"  # Label Studio's SQLite file in its data directory
# Keyed by what was installed (Label Studio's lock pins Django too, whose own migrations are among them).
LOCK = REPO / "requirements-labelstudio.lock"
MIGRATED = (
    Path.home()
    / ".cache"
    / "harmwatch"
    / "labelstudio"
    / f"{VERSION}-{hashlib.sha1(LOCK.read_bytes()).hexdigest()[:12] if LOCK.is_file() else 'unlocked'}"
    / DATABASE
)
MIGRATE = (
    "import django; from django.core.management import call_command; django.setup(); "
    "call_command('migrate', '--no-color', verbosity=0)"
)


def moderator_email(i: int) -> str:
    return f"moderator-{i}@harmwatch.local"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str


@dataclass(frozen=True)
class Server:
    """A running Label Studio: its URL, process, and the accounts :func:`bootstrap` made."""

    url: str
    pid: int
    admin: Account
    moderators: tuple[Account, ...]


def executable() -> Path:
    exe = VENV / "bin" / "label-studio"
    if not exe.exists():
        raise RuntimeError(f"Label Studio is not installed in {VENV}; run `make labelstudio`")
    return exe


def server_env(home: Path, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: data under ``home``, bound to 127.0.0.1, nothing that phones home."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("DJANGO")}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(home / "labelstudio"),
        DJANGO_DB="sqlite",
        LABEL_STUDIO_HOST=f"http://127.0.0.1:{port}",
        COLLECT_ANALYTICS="false",
        LATEST_VERSION_CHECK="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        DEBUG="false",
        LOG_LEVEL="WARNING",
    )
    return env


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


class PortTaken(RuntimeError):
    """Another server answers on the port Label Studio was to listen on."""


def _wait(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Until Label Studio itself answers ``/health`` (``{"status": "UP"}``). Another server on the port
    (an MLflow server also answers ``/health``, and turns the steps' tokens away with 401) is
    :class:`PortTaken`, not a Label Studio that is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Label Studio exited with code {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                body = resp.read(200)
        except OSError:
            time.sleep(0.5)
            continue
        try:
            if json.loads(body).get("status") == "UP":
                return
        except (ValueError, AttributeError):
            pass
        raise PortTaken(f"{url}: another server answers /health ({body[:40]!r}), not Label Studio")
    raise RuntimeError(f"Label Studio did not answer {url}/health within {timeout:.0f}s")


def bootstrap(home: Path, env: dict[str, str], moderators: int) -> tuple[Account, tuple[Account, ...]]:
    """Accounts and personal access tokens (kept in ``run/labelstudio.json``; reused on a restart)."""
    path = home / "run" / CREDENTIALS
    known = json.loads(path.read_text()) if path.is_file() else {}
    saved = {a["email"]: a for a in [known.get("admin", {}), *known.get("moderators", [])] if a}
    emails = [ADMIN, *(moderator_email(i) for i in range(1, moderators + 1))]
    accounts = [
        {"email": e, "password": saved.get(e, {}).get("password") or secrets.token_urlsafe(12)}
        for e in emails
    ]
    package = _package()
    proc = subprocess.run(
        [str(VENV / "bin" / "python"), str(BOOTSTRAP)],
        input=json.dumps({"organization": ORGANIZATION, "accounts": accounts}),
        env={**env, "PYTHONPATH": str(package)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"Label Studio bootstrap failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
        )
    tokens = json.loads(proc.stdout.strip().splitlines()[-1])
    out = []
    for a in accounts:
        token = tokens.get(a["email"]) or saved.get(a["email"], {}).get("token")
        if not token:
            raise RuntimeError(f"Label Studio account {a['email']} has a token this stack did not keep")
        out.append(Account(a["email"], a["password"], token))
    return out[0], tuple(out[1:])


def _package() -> Path:
    """Label Studio's package folder: its modules import each other as top-level packages."""
    return next(VENV.glob("lib/python3*/site-packages/label_studio"))


def migrated_database(target: Path = MIGRATED, timeout: float = 600) -> Path:
    """An empty Label Studio database with every migration applied (built once into ``target``).

    Applying the migrations to a new database is the same work for every fresh home: about 34 CPU-s,
    more than the rest of a start. The database holds only what the migrations write (content types,
    permissions, the status of Label Studio's own data migrations), nothing of a home: its secret key
    stays in the home's ``.env``. Built in a scratch folder and renamed into place, so two stacks
    starting at once never see half a file.
    """
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        env = server_env(Path(scratch), 0)
        env.update(
            DJANGO_SETTINGS_MODULE="label_studio.core.settings.label_studio", PYTHONPATH=str(_package())
        )
        run_checked([str(VENV / "bin" / "python"), "-c", MIGRATE], env, timeout, "Label Studio's migrations")
        os.replace(Path(scratch) / "labelstudio" / DATABASE, target)
    return target


def start(home: Path, port: int, moderators: int = 3, timeout: float = 300) -> Server:
    """Start Label Studio on 127.0.0.1:``port`` (own session; PID in ``run/labelstudio.pid``); a fresh
    home starts from :func:`migrated_database`."""
    run = home / "run"
    (run / "logs").mkdir(parents=True, exist_ok=True)
    env = server_env(home, port)
    database = home / "labelstudio" / DATABASE
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # no writable cache: Label Studio migrates the home itself
            shutil.copyfile(migrated_database(), database)
    log = open(run / "logs" / "labelstudio.log", "ab")  # noqa: SIM115 - handed to the server process
    proc = subprocess.Popen(
        [str(executable()), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    (run / PID_FILE).write_text(f"{proc.pid} {proc.pid}\n")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc, timeout)
        admin, mods = bootstrap(home, env, moderators)
    except Exception:
        stop(home)
        raise
    record = {
        "url": url,
        "token": admin.token,
        "admin": admin.__dict__,
        "moderators": [m.__dict__ for m in mods],
    }
    _write_private(run / CREDENTIALS, json.dumps(record, indent=2))
    return Server(url, proc.pid, admin, mods)


def stop(home: Path, timeout: float = 20) -> bool:
    """Stop the server recorded in ``run/labelstudio.pid`` (its process group); False if none ran."""
    pid_file = home / "run" / PID_FILE
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().split()[0])
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _group_gone(pid):
            return True
        time.sleep(0.3)
    os.killpg(pid, signal.SIGKILL)
    return True


def _group_gone(pid: int) -> bool:
    """Whether no process of the group led by ``pid`` is left. A leader this process started is reaped
    here first: until its parent waits for it, a leader that exited is a zombie, still in its group, and
    the wait above would last its whole timeout."""
    with contextlib.suppress(ChildProcessError):  # started by another process (make up), which reaps it
        os.waitpid(pid, os.WNOHANG)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def push_queue(env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, Any]:
    """Send the newest review queue to Label Studio: ``harmwatch review-push --max-open 0``.

    The push is dated with the logical date of the training snapshot that points to the queue (the
    demo's last simulated day), not today's. A text already in Label Studio is never sent again, so a
    second ``make up`` adds nothing. Returns the step's summary; RuntimeError with its last line if it
    failed.
    """
    from harmwatch.cli import parse_summary
    from harmwatch.config import settings_for
    from harmwatch.data import catalog
    from harmwatch.storage import open_store

    env = dict(os.environ if env is None else env)
    settings = settings_for(env)
    lake = open_store(settings.lake_uri, settings)
    if not lake.exists(catalog.TRAIN_LATEST):
        return {"pushed": 0, "skipped": "no training snapshot yet (run make demo first)"}
    day = lake.read_json(catalog.TRAIN_LATEST).get("date")
    harmwatch = env.get("HARMWATCH_BIN") or str(Path(sys.executable).parent / "harmwatch")
    args = [harmwatch, "review-push", "--max-open", "0", *(["--date", day] if day else [])]
    return parse_summary(run_checked(args, env, timeout, "harmwatch review-push"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "push"])
    parser.add_argument("--home", type=Path, help="HARMWATCH_HOME (default: from the environment)")
    parser.add_argument("--moderators", type=int, default=3, help="simulated moderator accounts")
    args = parser.parse_args(argv)
    from harmwatch.config import load_settings

    home = args.home.resolve() if args.home else load_settings().home
    if args.command == "stop":
        print("labelstudio: stopped" if stop(home) else "labelstudio: not running")
        return 0
    if args.command == "push":
        try:
            print(json.dumps(push_queue()))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"labelstudio: review queue not pushed: {exc}", file=sys.stderr)
            return 1
        return 0
    server = start(home, StackConfig.from_env().label_studio_port, args.moderators)
    print(json.dumps({"url": server.url, "pid": server.pid, "admin": server.admin.email}))
    return 0


def credentials(home: Path) -> dict[str, Any]:
    """What :func:`start` recorded in ``run/labelstudio.json``."""
    return json.loads((home / "run" / CREDENTIALS).read_text())


if __name__ == "__main__":
    sys.exit(main())
