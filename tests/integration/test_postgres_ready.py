"""postgres_ready against real containers, including ≥20 cold starts on fresh volumes."""

import time
import uuid

import psycopg2
import pytest

from conftest import POSTGRES_IMAGE, TEST_LABEL, free_port, podman, run_module

from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg

pytestmark = pytest.mark.integration

COLD_STARTS = 20


def test_ready_reports_facts_and_never_changes(postgres_server):
    s = postgres_server
    for check in (True, False):
        res = run_module("postgres_ready", s.args(extensions_available=["vector"], wait_timeout=30), check=check)
        assert not res.get("failed"), res
        assert res["changed"] is False
        assert res["server_version"].startswith("17.")
        assert res["server_version_num"] >= 170000
        assert "plpgsql" in res["extensions"]
        assert res["available_extensions"]["vector"]
        assert res["attempts"] >= 1 and res["elapsed_ms"] >= 0


def test_missing_vector_extension_names_the_image(postgres_server):
    res = run_module("postgres_ready", postgres_server.args(extensions=["vector"], wait_timeout=30))
    assert res.get("failed"), res
    assert "`vector`" in res["msg"] and "docker.io/pgvector/pgvector:pg17" in res["msg"], res["msg"]
    res = run_module("postgres_ready", postgres_server.args(extensions_available=["no_such_ext"], wait_timeout=30))
    assert res.get("failed") and "no_such_ext" in res["msg"]


def test_wrong_password_fails_fast(postgres_server):
    started = time.monotonic()
    res = run_module("postgres_ready", postgres_server.args(password="wrong", wait_timeout=60))
    assert res.get("failed") and "password authentication failed" in res["msg"], res
    assert time.monotonic() - started < 30, "waiting cannot fix a wrong password"


def test_timeout_reports_elapsed_and_last_error():
    port = free_port()  # nothing listens here
    res = run_module("postgres_ready", dict(host="127.0.0.1", port=port, password="x", wait_timeout=1))
    assert res.get("failed"), res
    assert "not ready after" in res["msg"] and "Connection refused" in res["msg"], res["msg"]
    assert res["elapsed_ms"] >= 1000 and res["attempts"] > 1
    assert "refused" in res["last_error"]


def test_port_zero_is_a_clear_error():
    res = run_module("postgres_ready", dict(host="127.0.0.1", port=0, password="x", wait_timeout=1))
    assert res.get("failed") and "port must be between 1 and 65535" in res["msg"], res


@pytest.mark.slow
def test_first_query_after_ready_succeeds_on_cold_starts():
    """Right after `podman run` on a fresh volume, through the image's init restart, ≥20 times."""
    if podman("image", "exists", POSTGRES_IMAGE, check=False).returncode != 0:
        pytest.fail("image %s is missing" % POSTGRES_IMAGE)
    timings = []
    for attempt in range(COLD_STARTS):
        port = free_port()
        name = "devinfra-test-pgcold-%s" % uuid.uuid4().hex[:8]
        volume = name + "-data"
        try:
            podman("run", "-d", "--name", name, "--label", TEST_LABEL + "=1", "-p", "127.0.0.1:%d:5432" % port,
                   "-v", volume + ":/var/lib/postgresql/data",
                   "-e", "POSTGRES_USER=slm_user", "-e", "POSTGRES_PASSWORD=cold", "-e", "POSTGRES_DB=action_history",
                   POSTGRES_IMAGE)
            params = dict(host="127.0.0.1", port=port, user="slm_user", password="cold", database="action_history",
                          connect_timeout=5)
            facts = pg.wait_for_ready(params, extensions_available=["vector"], timeout=60)
            timings.append(facts["elapsed_ms"])
            # The very first query after readiness, on a new connection: no retry allowed.
            conn = psycopg2.connect(host="127.0.0.1", port=port, user="slm_user", password="cold",
                                    dbname="action_history", connect_timeout=5)
            try:
                cur = conn.cursor()
                cur.execute("CREATE TABLE cold (id int); INSERT INTO cold VALUES (%s); SELECT id FROM cold",
                            (attempt,))
                assert cur.fetchone() == (attempt,)
                conn.commit()
            finally:
                conn.close()
        finally:
            podman("rm", "-f", "-v", name, check=False)
            podman("volume", "rm", "-f", volume, check=False)
    assert len(timings) == COLD_STARTS
