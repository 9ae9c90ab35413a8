"""Label Studio counts as up only when Label Studio answers: another server on its port (an MLflow server
also answers ``/health``) is named as such, so a caller can pick another port instead of handing the steps
a server that turns their tokens away."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from devstack import labelstudio
from tests.conftest import http_server


def serving(body: bytes) -> contextlib.AbstractContextManager[str]:
    """The URL of a server on 127.0.0.1 that answers every GET with ``body``; stopped on leaving."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return http_server(Health)


@pytest.fixture
def alive() -> Iterator[subprocess.Popen]:
    """A process standing in for a Label Studio still starting (it only has to be alive)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_another_server_on_the_port_is_not_label_studio(alive: subprocess.Popen) -> None:
    refused = pytest.raises(labelstudio.PortTaken, match="another server answers /health")
    with serving(b"OK") as url, refused:  # "OK" is what MLflow's /health says
        labelstudio._wait(url, alive, timeout=10)


def test_label_studio_answering_is_up(alive: subprocess.Popen) -> None:
    with serving(b'{"status": "UP"}') as url:
        labelstudio._wait(url, alive, timeout=10)
