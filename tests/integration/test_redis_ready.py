"""redis_ready against real Redis containers: ready, loading, MISCONF, auth, timeout."""

import socket
import threading
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import REDIS_IMAGE, TEST_LABEL, free_port, podman, run_module, wait_port  # noqa: F401

pytestmark = pytest.mark.integration


def client(port, password=None, db=0, timeout=10):
    """A test-side client that never retries on its own."""
    return redis.Redis(host="127.0.0.1", port=port, password=password, db=db,
                       retry=Retry(NoBackoff(), 0), socket_timeout=timeout, decode_responses=True)


def test_ready_reports_version_databases_and_role(redis_container):
    c = redis_container(args=("--databases", "8"))
    res = run_module("redis_ready", {"port": c.port, "wait_timeout": 30})
    assert not res.get("failed"), res
    assert res["changed"] is False
    assert res["ready"] is True
    assert res["version"].startswith("7.")
    assert res["databases"] == 8
    assert res["role"] == "master"
    assert res["attempts"] >= 1 and res["elapsed_ms"] >= 0
    # The scratch key is gone.
    assert client(c.port).keys("kubernaut-devinfra:*") == []


def test_check_mode_probes_too_and_changes_nothing(redis_container):
    c = redis_container()
    res = run_module("redis_ready", {"port": c.port}, check=True)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["ready"] is True
    assert client(c.port).dbsize() == 0


def test_password_is_used_and_wrong_or_missing_fails_at_once(redis_container):
    c = redis_container(args=("--requirepass", "s3cret-pw"))
    ok = run_module("redis_ready", {"port": c.port, "password": "s3cret-pw"})
    assert not ok.get("failed"), ok
    assert ok["ready"] is True
    assert "s3cret-pw" not in repr(ok)

    for args, phrase in (({"password": "wrong"}, "rejected the password"), ({}, "requires a password")):
        res = run_module("redis_ready", dict(args, port=c.port, wait_timeout=60))
        assert res.get("failed"), res
        assert phrase in res["msg"], res["msg"]
        # A permanent refusal does not sit out the 60 s timeout.
        assert "not ready after" not in res["msg"]


def test_timeout_reports_elapsed_attempts_and_last_error():
    port = free_port()  # nothing listens here
    res = run_module("redis_ready", {"port": port, "wait_timeout": 1, "connect_timeout": 0.5})
    assert res.get("failed"), res
    assert res["elapsed_ms"] >= 1000
    assert res["attempts"] > 1
    assert "not ready after 1." in res["msg"]
    assert "127.0.0.1:%d" % port in res["last_error"]
    assert "refused" in res["last_error"].lower()


def test_misconf_is_not_ready_with_that_reason(redis_container):
    # A server that must snapshot (save 3600 1) but cannot write its dir (/):
    # after a failed BGSAVE it refuses writes with -MISCONF.
    c = redis_container(args=("--save", "3600 1", "--dir", "/"))
    cl = client(c.port)
    cl.set("x", "1")
    cl.bgsave()
    # Test-side wait for the failed snapshot, polled (no fixed sleep).
    run_until(lambda: cl.info("persistence")["rdb_last_bgsave_status"] == "err"
              and cl.info("persistence")["rdb_bgsave_in_progress"] == 0)
    res = run_module("redis_ready", {"port": c.port, "wait_timeout": 1})
    assert res.get("failed"), res
    assert res["last_error"].startswith("MISCONF"), res["last_error"]
    assert "MISCONF" in res["msg"]


def run_until(predicate, timeout=30):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in %ss" % timeout)


@pytest.mark.slow
def test_not_ready_while_loading_a_large_dataset_then_first_command_succeeds():
    keys = 3000000  # about 450 MB in memory, 100 MB RDB: 2-3 s of LOADING on 2 cores
    tag = uuid.uuid4().hex[:8]
    volume = "devinfra-test-redis-load-%s" % tag
    names = ["devinfra-test-redis-populate-%s" % tag, "devinfra-test-redis-load-%s" % tag]
    port = free_port()
    podman("volume", "create", "--label", TEST_LABEL + "=1", volume)
    try:
        podman("run", "-d", "--name", names[0], "--label", TEST_LABEL + "=1",
               "-p", "127.0.0.1:%d:6379" % port, "-v", volume + ":/data", REDIS_IMAGE,
               "redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no",
               "--enable-debug-command", "yes")
        wait_port(port)
        run_until(lambda: _pings(port))
        seed = client(port, timeout=300)  # POPULATE and SAVE take seconds, more on a busy host
        seed.execute_command("DEBUG", "POPULATE", keys, "k", 64)
        seed.save()
        seed.close()
        podman("rm", "-f", "-v", names[0])

        # Start redis_ready first and learn that it is polling: it connects to
        # a placeholder listener on the port. Only then does Redis start, so the
        # module sees the whole start-up, LOADING included, whatever the
        # start-up time of ansible-playbook.
        placeholder = socket.socket()
        placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        placeholder.bind(("127.0.0.1", port))
        placeholder.listen(8)
        placeholder.settimeout(60)
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(
            res=run_module("redis_ready", {"port": port, "wait_timeout": 180})))
        runner.start()
        try:
            conn = placeholder.accept()[0]
            conn.close()
        finally:
            placeholder.close()
        podman("run", "-d", "--name", names[1], "--label", TEST_LABEL + "=1",
               "-p", "127.0.0.1:%d:6379" % port, "-v", volume + ":/data", REDIS_IMAGE,
               "redis-server", "--protected-mode", "no", "--save", "3600 1", "--appendonly", "no")
        runner.join(240)
        res = outcome["res"]
        assert not res.get("failed"), res
        assert res["changed"] is False
        assert res["attempts"] > 1
        assert res["last_error"].startswith("LOADING"), res
        # The first command after ready succeeds, and the dataset is all there.
        after = client(port)
        assert after.get("k:0") is not None
        assert after.dbsize() == keys
        assert after.info("persistence")["loading"] == 0
    finally:
        for name in names:
            podman("rm", "-f", "-v", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def _pings(port):
    try:
        return client(port).ping()
    except redis.exceptions.RedisError:
        return False
