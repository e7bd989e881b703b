"""Fixtures: a real cueballd on a fresh database of the test PostgreSQL
(CUEBALL_TEST_DATABASE_URL, as the C++ tests use), the binaries from
CUEBALL_BUILD_DIR, and the package from PYTHONPATH (build/python)."""

import os
import re
import signal
import subprocess
import time
import urllib.parse
import uuid

import pytest

import cueball

BUILD = os.environ.get("CUEBALL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))


def _admin_url() -> str:
    url = os.environ.get("CUEBALL_TEST_DATABASE_URL")
    if not url:
        pytest.skip("CUEBALL_TEST_DATABASE_URL is not set")
    return url


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


class Daemon:
    def __init__(self, database_url: str, extra=()):
        self.log_path = f"/tmp/cueball-py-{uuid.uuid4().hex[:8]}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "cueballd"), "--database-url", database_url, "--listen", "127.0.0.1:0",
             "--metrics-listen", "127.0.0.1:0", *extra],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.address = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            text = open(self.log_path).read()
            m = re.search(r"main serving address=(127\.0\.0\.1:\d+)", text)
            if m:
                self.address = m.group(1)
                break
            time.sleep(0.05)
        if not self.address:
            raise RuntimeError("cueballd did not start:\n" + open(self.log_path).read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def database():
    admin = _admin_url()
    name = "cueball_py_" + uuid.uuid4().hex[:12]
    _psql(admin, f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(admin)
    url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    yield url
    _psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def daemon(database):
    d = Daemon(database, ["--workers", "2"])
    yield d
    d.stop()


@pytest.fixture
def client(daemon):
    c = cueball.Client(daemon.address)
    yield c
    c.close()


def wait_until(predicate, timeout=30.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
