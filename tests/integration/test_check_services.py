"""make test-integration-dev: fail in seconds with the exact fix, not with
91 connection-refused test failures (DD-008's graceful degradation)."""

import json
import os
import subprocess
import sys
import time

from conftest import REPO, free_port

CHECK = os.path.join(REPO, "tests", "integration", "sample_suite", "check_services.py")


def run_check(tmp_path, instance):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, CHECK, "--instance", instance, "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc, time.monotonic() - start


def test_no_manifest_says_bootstrap(tmp_path):
    proc, elapsed = run_check(tmp_path, "nothing-here")
    assert proc.returncode == 2
    assert "make bootstrap-dev INSTANCE=nothing-here" in proc.stdout
    assert elapsed < 10


def test_services_down_name_the_container_to_start(tmp_path):
    (tmp_path / "ci").mkdir()
    manifest = {
        "instance": "ci",
        "postgres": {"host": "127.0.0.1", "port": free_port(), "user": "u", "password": "p", "database": "d",
                     "container": "datastorage-postgres-ci"},
        "redis": {"host": "127.0.0.1", "port": free_port(), "password": None, "container": "redis-context-api-ci"},
        "suites": {},
    }
    (tmp_path / "ci" / "connection.json").write_text(json.dumps(manifest))
    proc, elapsed = run_check(tmp_path, "ci")
    assert proc.returncode == 1
    assert "podman start datastorage-postgres-ci" in proc.stdout
    assert "podman start redis-context-api-ci" in proc.stdout
    assert elapsed < 10


def test_services_up_pass(tmp_path, postgres_container, redis_container):
    pg = postgres_container(password="check_pw")
    rd = redis_container()
    (tmp_path / "up").mkdir()
    manifest = {
        "instance": "up",
        "postgres": {"host": "127.0.0.1", "port": pg.port, "user": pg.user, "password": pg.password,
                     "database": pg.database, "container": pg.name},
        "redis": {"host": "127.0.0.1", "port": rd.port, "password": None, "container": rd.name},
        "suites": {},
    }
    (tmp_path / "up" / "connection.json").write_text(json.dumps(manifest))
    proc, _elapsed = run_check(tmp_path, "up")
    assert proc.returncode == 0, proc.stdout
    assert "all services answer" in proc.stdout
