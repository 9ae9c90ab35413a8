"""MLflow's basic-auth app in this process, driven line by line, counting the password hash checks.

``python tests/jobs/auth_cache_probe.py`` with ``MLFLOW_AUTH_CONFIG_PATH`` pointing at a
``basic_auth.ini`` (and the admin and tracking store in the environment, see
``tests/jobs/test_mlflow_auth_cache.py``). It reads one JSON command per line on stdin and answers one
JSON line on stdout: the HTTP status of the request it made and how many times the password hash was
checked while making it. What is counted is werkzeug's ``check_password_hash`` as MLflow's user store
calls it, so a credential served from the cache counts 0.

The credential cache keeps the TTL and size the ini file gives it, with a clock the commands move
(``advance``), so expiry is tested without sleeping. A separate process keeps MLflow's module-level
server state (read once, at import) out of the test process.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

READ_EXPERIMENT = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def main() -> int:
    import mlflow.server.auth as auth
    import mlflow.server.auth.sqlalchemy_store as user_store
    from cachetools import TTLCache

    hashes = 0
    real_check = user_store.check_password_hash

    def counted_check(pwhash: str, password: str) -> bool:
        nonlocal hashes
        hashes += 1
        return real_check(pwhash, password)

    user_store.check_password_hash = counted_check
    configured = auth._USER_AUTH_CACHE
    clock = Clock()
    if configured is not None:
        auth._USER_AUTH_CACHE = TTLCache(maxsize=configured.maxsize, ttl=configured.ttl, timer=clock)
    app = auth.create_app()
    client = app.test_client()
    admin = (auth.auth_config.admin_username, auth.auth_config.admin_password)

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    def request(method: str, path: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> int:
        return client.open(path, method=method, json=body, headers=basic(*who)).status_code

    hello = {"cache_ttl": configured.ttl if configured is not None else 0}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op, user, password = command["op"], command.get("user", ""), command.get("password", "")
        before = hashes
        status = 200
        if op == "get":  # what a step does: read an experiment, as a non-admin user (a validator runs)
            status = request("GET", READ_EXPERIMENT, (user, password))
        elif op == "create_user":
            body = {"username": user, "password": password}
            status = request("POST", "/api/2.0/mlflow/users/create", admin, body)
        elif op == "update_password":  # through MLflow's API, as an admin
            body = {"username": user, "password": password}
            status = request("PATCH", "/api/2.0/mlflow/users/update-password", admin, body)
        elif op == "delete_user":
            status = request("DELETE", "/api/2.0/mlflow/users/delete", admin, {"username": user})
        elif op == "update_password_in_database":  # what another worker or replica, or a DBA, does
            auth.store.update_user(user, password=password)
        elif op == "advance":
            clock.now += float(command["seconds"])
        else:
            raise SystemExit(f"auth_cache_probe: unknown command {op!r}")
        print(json.dumps({"status": status, "hashes": hashes - before}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
