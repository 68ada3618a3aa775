"""The bootstrap stamp's pure half: digests and the reasons a run is not a no-op."""

import json
import os

from ansible_collections.kubernaut.devinfra.plugins.module_utils import podman, stamp


def _observed(**overrides):
    observed = {
        "containers": {"pg": {"id": "a1", "running": True, "owned": True},
                       "rd": {"id": "b2", "running": True, "owned": True}},
        "postgres": {"ready": True, "version": "17.6", "extensions": ["plpgsql", "vector"],
                     "history": "h1", "suite_databases": {"app_alpha": "h1"}},
        "redis": {"ready": True, "suites_file": "f1"},
    }
    for key, value in overrides.items():
        observed[key] = value
    return observed


def _stamp(observed=None, digest="d", manifest=None):
    return stamp.make_stamp(digest, {"containers": ["pg", "rd"]}, observed or _observed(),
                            manifest if manifest is not None else {"connection.json": "m1"})


def test_tree_digest_follows_names_and_contents(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.sql").write_text("SELECT 1;")
    first = stamp.tree_digest([str(tmp_path / "a")])
    assert stamp.tree_digest([str(tmp_path / "a")]) == first
    (tmp_path / "a" / "one.sql").write_text("SELECT 2;")
    second = stamp.tree_digest([str(tmp_path / "a")])
    assert second != first
    (tmp_path / "a" / "two.sql").write_text("")
    assert stamp.tree_digest([str(tmp_path / "a")]) != second


def test_tree_digest_ignores_bytecode_and_counts_missing_paths(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.py").write_text("x = 1\n")
    before = stamp.tree_digest([str(tmp_path / "m")])
    (tmp_path / "m" / "__pycache__").mkdir()
    (tmp_path / "m" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert stamp.tree_digest([str(tmp_path / "m")]) == before
    missing = stamp.tree_digest([str(tmp_path / "nope")])
    (tmp_path / "nope").mkdir()
    assert stamp.tree_digest([str(tmp_path / "nope")]) != missing


def test_inputs_digest_is_order_independent_and_value_sensitive():
    a = stamp.inputs_digest({"x": 1, "y": [1, 2]}, "t")
    assert a == stamp.inputs_digest({"y": [1, 2], "x": 1}, "t")
    assert a != stamp.inputs_digest({"x": 2, "y": [1, 2]}, "t")
    assert a != stamp.inputs_digest({"x": 1, "y": [1, 2]}, "t2")


def test_file_digests_leave_the_stamps_out(tmp_path):
    (tmp_path / "connection.json").write_text("{}")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "alpha.env").write_text("A=1\n")
    (tmp_path / stamp.stamp_name("localhost")).write_text("{}")
    assert sorted(stamp.file_digests(str(tmp_path))) == ["connection.json", os.path.join("suites", "alpha.env")]
    assert stamp.file_digests(str(tmp_path / "absent")) == {}


def test_stamp_name_is_a_safe_file_name():
    assert stamp.stamp_name("runner-1.example.com") == ".bootstrap-stamp-runner-1.example.com.json"
    assert "/" not in stamp.stamp_name("../../etc/passwd")
    assert stamp.stamp_name(None) == ".bootstrap-stamp-localhost.json"


def test_load_stamp_refuses_garbage_and_other_formats(tmp_path):
    path = tmp_path / "s.json"
    assert stamp.load_stamp(str(path)) is None
    path.write_text("not json")
    assert stamp.load_stamp(str(path)) is None
    path.write_text(json.dumps({"format": 99}))
    assert stamp.load_stamp(str(path)) is None
    path.write_text(stamp.render_stamp(_stamp()))
    assert stamp.load_stamp(str(path)) == _stamp()


def test_unchanged_everything_is_current():
    assert stamp.stale_reasons(_stamp(), "d", {"connection.json": "m1"}, _observed()) == []


def test_every_difference_is_a_reason():
    cases = [
        (dict(digest="other"), "inputs changed"),
        (dict(manifest={"connection.json": "m2"}), "manifest differs"),
        (dict(manifest={}), "manifest differs"),
        (dict(observed=_observed(containers={"pg": None, "rd": {"id": "b2", "running": True, "owned": True}})),
         "pg is gone"),
        (dict(observed=_observed(containers={"pg": {"id": "a1", "running": False, "owned": True},
                                             "rd": {"id": "b2", "running": True, "owned": True}})),
         "pg is not running"),
        (dict(observed=_observed(containers={"pg": {"id": "a1", "running": True, "owned": False},
                                             "rd": {"id": "b2", "running": True, "owned": True}})),
         "labels"),
        (dict(observed=_observed(containers={"pg": {"id": "zz", "running": True, "owned": True},
                                             "rd": {"id": "b2", "running": True, "owned": True}})),
         "pg was replaced"),
        (dict(observed=_observed(postgres={"ready": False, "error": "refused"})), "postgres does not answer: refused"),
        (dict(observed=_observed(postgres={"ready": True, "extensions": ["plpgsql", "vector"], "history": "h2",
                                           "suite_databases": {"app_alpha": "h1"}})), "migration history"),
        (dict(observed=_observed(postgres={"ready": True, "extensions": ["plpgsql", "vector"], "history": "h1",
                                           "suite_databases": {"app_alpha": None}})), "suite databases"),
        (dict(observed=_observed(postgres={"ready": True, "extensions": ["plpgsql"], "history": "h1",
                                           "suite_databases": {"app_alpha": "h1"}})), "extensions"),
        (dict(observed=_observed(redis={"ready": False, "error": "NOAUTH"})), "redis does not answer"),
        (dict(observed=_observed(redis={"ready": True, "suites_file": None})), "suite index file"),
    ]
    for now, expected in cases:
        reasons = stamp.stale_reasons(_stamp(), now.get("digest", "d"),
                                      now.get("manifest", {"connection.json": "m1"}),
                                      now.get("observed", _observed()))
        assert any(expected in r for r in reasons), (expected, reasons)


def test_a_version_upgrade_alone_is_not_a_reason():
    observed = _observed()
    observed["postgres"] = dict(observed["postgres"], version="17.7")
    assert stamp.stale_reasons(_stamp(), "d", {"connection.json": "m1"}, observed) == []


def test_no_stamp_says_so_without_observing():
    reasons = stamp.stale_reasons(None, "d", {})
    assert len(reasons) == 1 and "no bootstrap stamp" in reasons[0]


def test_observe_containers_reads_inspect_output():
    inspected = [{"Name": "pg", "Id": "a1", "State": {"Running": True},
                  "Config": {"Labels": {podman.MANAGED_BY_LABEL: podman.MANAGED_BY, podman.INSTANCE_LABEL: "dev"}}},
                 {"Name": "/rd", "Id": "b2", "State": {"Running": False}, "Config": {"Labels": None}}]
    seen = podman.observe_containers(inspected, ["pg", "rd", "gone"], "dev")
    assert seen == {"pg": {"id": "a1", "running": True, "owned": True},
                    "rd": {"id": "b2", "running": False, "owned": False},
                    "gone": None}
    assert podman.observe_containers(inspected, ["pg"], "other")["pg"]["owned"] is False


def test_health_problems_ignore_the_stamp_and_name_what_is_down():
    assert stamp.health_problems(_observed()) == []
    observed = _observed(containers={"pg": None, "rd": {"id": "b2", "running": False, "owned": True}},
                         redis={"ready": False, "error": "refused"})
    assert stamp.health_problems(observed) == [
        "container pg is gone", "container rd is not running", "redis does not answer: refused"]
