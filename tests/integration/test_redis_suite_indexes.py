"""redis_suite_indexes: stable assignment in a file on the target, reset by FLUSHDB."""

import json
import os

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import run_module

pytestmark = pytest.mark.integration


def client(port, db):
    return redis.Redis(host="127.0.0.1", port=port, db=db, retry=Retry(NoBackoff(), 0),
                       decode_responses=True)


def args(path, suites, **extra):
    out = {"path": str(path), "suites": suites, "databases": 16}
    out.update(extra)
    return out


def stored(path):
    with open(str(path)) as fh:
        return json.load(fh)["suites"]


def test_check_then_real_then_rerun(tmp_path):
    path = tmp_path / "redis-suite-indexes.json"
    suites = ["contextapi", "datastorage"]

    check = run_module("redis_suite_indexes", args(path, suites), check=True, diff=True)
    assert not check.get("failed"), check
    assert check["changed"] is True
    assert check["suites"] == {"contextapi": 1, "datastorage": 2}
    assert check["added"] == suites
    assert "datastorage" in check["diff"]["after"]
    assert not path.exists()

    real = run_module("redis_suite_indexes", args(path, suites))
    assert real["changed"] is True
    assert real["suites"] == check["suites"]
    assert stored(path) == real["suites"]
    assert oct(os.stat(str(path)).st_mode & 0o777) == "0o600"

    again = run_module("redis_suite_indexes", args(path, suites))
    assert again["changed"] is False
    assert again["suites"] == real["suites"]
    assert again["added"] == [] and again["executed"] == []


def test_adding_a_suite_in_the_middle_keeps_existing_indexes(tmp_path):
    path = tmp_path / "s.json"
    first = run_module("redis_suite_indexes", args(path, ["alpha", "gamma", "delta"]))["suites"]
    second = run_module("redis_suite_indexes", args(path, ["alpha", "beta", "gamma", "delta"]))
    assert second["changed"] is True
    assert second["added"] == ["beta"]
    for name, index in first.items():
        assert second["suites"][name] == index
    assert second["suites"]["beta"] not in first.values()
    assert stored(path) == second["suites"]
    # Reordering is not a change either.
    third = run_module("redis_suite_indexes", args(path, ["delta", "gamma", "beta", "alpha"]))
    assert third["changed"] is False and third["suites"] == second["suites"]


def test_reset_flushes_exactly_the_named_suites(tmp_path, redis_container):
    c = redis_container()
    path = tmp_path / "s.json"
    suites = ["a", "b", "c"]
    assignment = run_module("redis_suite_indexes", args(path, suites, port=c.port))["suites"]
    for db in [0] + list(assignment.values()):
        client(c.port, db).set("probe", "db%d" % db)

    check = run_module("redis_suite_indexes", args(path, suites, port=c.port, reset=["b"]), check=True)
    assert check["changed"] is True
    assert check["reset"] == ["b"]
    assert check["executed"] == ["SELECT %d; FLUSHDB" % assignment["b"]]
    assert client(c.port, assignment["b"]).get("probe") == "db%d" % assignment["b"]

    real = run_module("redis_suite_indexes", args(path, suites, port=c.port, reset=["b"]))
    assert real["changed"] is True and real["executed"] == check["executed"]
    assert client(c.port, assignment["b"]).dbsize() == 0
    for name in ("a", "c"):
        assert client(c.port, assignment[name]).get("probe") == "db%d" % assignment[name]
    assert client(c.port, 0).get("probe") == "db0"

    # reset: true flushes every listed suite and still never index 0.
    run_module("redis_suite_indexes", args(path, suites, port=c.port, reset=True))
    for index in assignment.values():
        assert client(c.port, index).dbsize() == 0
    assert client(c.port, 0).get("probe") == "db0"

    # Without reset nothing happens.
    again = run_module("redis_suite_indexes", args(path, suites, port=c.port))
    assert again["changed"] is False


def test_databases_from_the_server_when_not_given(tmp_path, redis_container):
    c = redis_container(args=("--databases", "3"))
    path = tmp_path / "s.json"
    res = run_module("redis_suite_indexes", {"path": str(path), "suites": ["a", "b"], "port": c.port})
    assert res["databases"] == 3 and res["suites"] == {"a": 1, "b": 2}
    too_many = run_module("redis_suite_indexes", {"path": str(path), "suites": ["a", "b", "c"],
                                                  "port": c.port})
    assert too_many.get("failed")
    assert "3 suites" in too_many["msg"] and "has 3" in too_many["msg"]


@pytest.mark.parametrize("suites,databases,phrase", [
    (["s%d" % i for i in range(17)], 16, "17 suites need 17 databases but the server has 16"),
    (["a", "b", "a"], 16, "duplicate suite names a"),
    (["a"], 0, "at least 1"),
    (["a", "unknown reset"], 16, "invalid suite names"),
])
def test_bad_input_fails_and_writes_nothing(tmp_path, suites, databases, phrase):
    path = tmp_path / "s.json"
    res = run_module("redis_suite_indexes", args(path, suites, databases=databases))
    assert res.get("failed"), res
    assert phrase in res["msg"], res["msg"]
    assert not path.exists()


def test_reset_of_an_unlisted_suite_is_refused(tmp_path):
    path = tmp_path / "s.json"
    res = run_module("redis_suite_indexes", args(path, ["a"], reset=["zz"]))
    assert res.get("failed") and "zz is not in the suite list" in res["msg"]
    assert not path.exists()


def test_wait_timeout_waits_for_redis_then_assigns(tmp_path, redis_container):
    c = redis_container()
    path = tmp_path / "redis-suite-indexes.json"
    res = run_module("redis_suite_indexes", args(path, ["contextapi"], port=c.port, wait_timeout=30))
    assert res.get("failed") is not True, res.get("msg")
    assert res["ready"]["ready"] is True and res["ready"]["attempts"] >= 1
    assert stored(path) == {"contextapi": 1}


def test_wait_timeout_on_a_closed_port_fails_and_writes_nothing(tmp_path):
    from conftest import free_port
    path = tmp_path / "redis-suite-indexes.json"
    res = run_module("redis_suite_indexes", args(path, ["contextapi"], port=free_port(), wait_timeout=1))
    assert res["failed"] is True
    assert "127.0.0.1" in res["msg"], res["msg"]
    assert not path.exists()
