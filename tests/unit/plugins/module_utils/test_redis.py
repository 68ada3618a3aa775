"""Suite index assignment and its input checks: pure functions, no Redis."""

import json

import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils import redis as r


def test_first_assignment_skips_index_zero_and_follows_list_order():
    plan = r.plan_suite_indexes({}, ["contextapi", "datastorage", "gateway"], 16)
    assert plan.after == {"contextapi": 1, "datastorage": 2, "gateway": 3}
    assert plan.added == ["contextapi", "datastorage", "gateway"]
    assert plan.changed


def test_index_zero_is_used_when_not_reserved():
    plan = r.plan_suite_indexes({}, ["a", "b"], 16, reserve_index_zero=False)
    assert plan.after == {"a": 0, "b": 1}


def test_adding_a_suite_in_the_middle_keeps_existing_indexes():
    first = r.plan_suite_indexes({}, ["a", "c"], 16).after
    second = r.plan_suite_indexes(first, ["a", "b", "c"], 16)
    assert second.after["a"] == first["a"]
    assert second.after["c"] == first["c"]
    assert second.after["b"] not in (first["a"], first["c"])
    assert second.added == ["b"]
    assert second.moved == [] and second.released == []


def test_same_list_again_changes_nothing():
    first = r.plan_suite_indexes({}, ["a", "b"], 16).after
    again = r.plan_suite_indexes(first, ["b", "a"], 16)
    assert not again.changed
    assert again.after == first
    assert again.added == []


def test_removed_suite_releases_its_index_for_the_next_new_suite():
    first = r.plan_suite_indexes({}, ["a", "b", "c"], 16).after
    plan = r.plan_suite_indexes(first, ["a", "c", "d"], 16)
    assert plan.released == ["b"]
    assert plan.after == {"a": 1, "c": 3, "d": 2}


def test_index_beyond_fewer_databases_moves_only_that_suite():
    plan = r.plan_suite_indexes({"a": 1, "b": 9}, ["a", "b"], 8)
    assert plan.after == {"a": 1, "b": 2}
    assert plan.moved == ["b"]


def test_reserving_zero_again_moves_the_suite_on_zero():
    plan = r.plan_suite_indexes({"a": 0, "b": 1}, ["a", "b"], 16, reserve_index_zero=True)
    assert plan.after == {"a": 2, "b": 1}
    assert plan.moved == ["a"]


def test_exactly_as_many_suites_as_usable_databases_fits():
    suites = ["s%d" % i for i in range(15)]
    plan = r.plan_suite_indexes({}, suites, 16)
    assert sorted(plan.after.values()) == list(range(1, 16))


def test_seventeen_suites_in_sixteen_databases_names_both_numbers():
    suites = ["s%d" % i for i in range(17)]
    with pytest.raises(DevinfraError) as exc:
        r.plan_suite_indexes({}, suites, 16, reserve_index_zero=False)
    assert "17 suites" in str(exc.value)
    assert "has 16" in str(exc.value)


def test_reserved_zero_counts_against_the_limit():
    suites = ["s%d" % i for i in range(16)]
    with pytest.raises(DevinfraError) as exc:
        r.plan_suite_indexes({}, suites, 16)
    msg = str(exc.value)
    assert "16 suites" in msg and "has 16" in msg and "15 usable" in msg and "index 0 is reserved" in msg


def test_duplicate_names_are_rejected_by_name():
    with pytest.raises(DevinfraError) as exc:
        r.plan_suite_indexes({}, ["a", "b", "a", "c", "b"], 16)
    assert "duplicate suite names a, b" in str(exc.value)


@pytest.mark.parametrize("databases", [0, -1, True, "16"])
def test_databases_must_be_a_positive_whole_number(databases):
    with pytest.raises(DevinfraError) as exc:
        r.plan_suite_indexes({}, [], databases)
    assert "at least 1" in str(exc.value)


@pytest.mark.parametrize("name", ["", "has space", "-leading", "a/b", 3])
def test_invalid_suite_names(name):
    with pytest.raises(DevinfraError) as exc:
        r.validate_suites([name], 16, True)
    assert "invalid suite names" in str(exc.value)


def test_normalize_reset():
    suites = ["a", "b", "c"]
    assert r.normalize_reset(False, suites) == []
    assert r.normalize_reset(None, suites) == []
    assert r.normalize_reset(True, suites) == suites
    assert r.normalize_reset(["c", "a", "c"], suites) == ["a", "c"]
    with pytest.raises(DevinfraError) as exc:
        r.normalize_reset(["a", "zz"], suites)
    assert "zz is not in the suite list" in str(exc.value)
    with pytest.raises(DevinfraError):
        r.normalize_reset("maybe", suites)


def test_flush_commands_only_name_the_reset_suites():
    assert r.flush_commands({"a": 1, "b": 2, "c": 3}, ["a", "c"]) == ["SELECT 1; FLUSHDB", "SELECT 3; FLUSHDB"]


def test_state_round_trip(tmp_path):
    path = str(tmp_path / "s.json")
    assert r.load_suite_state(path) == {}
    (tmp_path / "s.json").write_text(r.render_suite_state({"a": 1, "b": 2}))
    assert r.load_suite_state(path) == {"a": 1, "b": 2}
    assert json.loads((tmp_path / "s.json").read_text())["format"] == r.STATE_FORMAT


@pytest.mark.parametrize("content", ["not json", "[]", '{"suites": {"a": "1"}}', '{"suites": {"a": true}}'])
def test_corrupt_state_is_a_clear_error(tmp_path, content):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(DevinfraError) as exc:
        r.load_suite_state(str(path))
    assert str(path) in str(exc.value)
    assert "removing it renumbers" in str(exc.value)


def test_argument_spec_keeps_password_out_of_logs():
    spec = r.redis_argument_spec()
    assert spec["password"]["no_log"] is True
    assert "db" in spec and "db" not in r.redis_argument_spec(with_db=False)
