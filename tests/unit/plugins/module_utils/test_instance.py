import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils import instance
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError

DEFAULTS = {"postgres": 5432, "redis": 6379}


def test_dev_keeps_dd008_ports():
    assert instance.choose_ports("dev", DEFAULTS, {}, lambda p: True) == (DEFAULTS, [])


def test_other_instance_gets_free_ports_once():
    ports, new = instance.choose_ports("ci-1", DEFAULTS, {}, lambda p: True)
    assert sorted(new) == ["postgres", "redis"]
    assert all(instance.RANGE_START <= p < instance.RANGE_START + instance.RANGE_SIZE for p in ports.values())
    assert ports["postgres"] != ports["redis"]
    again, new_again = instance.choose_ports("ci-1", DEFAULTS, ports, lambda p: False)
    assert again == ports and new_again == []


def test_busy_ports_are_skipped():
    first = instance.first_candidate("ci-2", "postgres")
    ports = instance.choose_ports("ci-2", {"postgres": 5432}, {}, lambda p: p != first)[0]
    assert ports["postgres"] != first


def test_adding_a_component_keeps_existing_ports():
    stored = {"postgres": 23456}
    ports, new = instance.choose_ports("x", DEFAULTS, stored, lambda p: True)
    assert ports["postgres"] == 23456 and new == ["redis"]


@pytest.mark.parametrize("name", ["", "Dev", "a b", "x;rm", "-x", "a" * 31])
def test_bad_instance_names(name):
    with pytest.raises(DevinfraError):
        instance.validate_instance(name)


def test_store_round_trip(tmp_path):
    path = instance.save_ports(str(tmp_path / "i"), "i", {"postgres": 21000})
    assert instance.load_ports(str(tmp_path / "i")) == {"postgres": 21000}
    assert oct(__import__("os").stat(path).st_mode & 0o777) == "0o600"
