import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils import preflight
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError


@pytest.mark.parametrize("port", [0, -1, 65536, "5432", None, True])
def test_ports_outside_range_are_refused(port):
    with pytest.raises(DevinfraError) as err:
        preflight.validate_ports([{"port": port}])
    assert "1 to 65535" in str(err.value)


def test_bind_address_must_be_an_ip():
    with pytest.raises(DevinfraError):
        preflight.validate_ports([{"port": 5432, "address": "localhost; rm -rf /"}])


def test_defaults_to_loopback():
    assert preflight.validate_ports([{"port": 5432}])[0]["address"] == "127.0.0.1"


def test_free_port_is_no_problem():
    fact, issue = preflight.check_port({"port": 5432, "address": "127.0.0.1"}, [], lambda a, p: True,
                                       lambda p: [])
    assert fact["free"] is True and issue is None


def test_port_held_by_our_container_is_expected():
    containers = [{"Names": ["datastorage-postgres"], "Ports": [{"host_port": 5432}]}]
    fact, issue = preflight.check_port({"port": 5432, "address": "127.0.0.1", "container": "datastorage-postgres"},
                                       containers, lambda a, p: False, lambda p: [])
    assert fact["expected_holder"] is True and issue is None


def test_port_held_by_another_container_names_it():
    containers = [{"Names": ["someone-elses"], "Ports": [{"host_port": 5432}]}]
    fact, issue = preflight.check_port({"port": 5432, "address": "127.0.0.1", "container": "datastorage-postgres"},
                                       containers, lambda a, p: False, lambda p: [])
    assert "someone-elses" in issue["message"]


def test_port_held_by_a_process_names_pid_and_command():
    fact, issue = preflight.check_port({"port": 5432, "address": "127.0.0.1"}, [], lambda a, p: False,
                                       lambda p: [("127.0.0.1", 812, "postgres")])
    assert "postgres (pid 812)" in issue["message"]
    assert issue["fix"]


def test_crun_on_hybrid_is_a_runtime_problem():
    problems = preflight.runtime_problems({"runtime": "crun"}, "hybrid", {})
    assert problems and problems[0]["check"] == "runtime"
    assert preflight.runtime_problems({"runtime": "runc"}, "hybrid", {}) == []
    assert preflight.runtime_problems({"runtime": "crun"}, "v2", {}) == []


def test_port_held_by_any_container_of_this_instance_is_expected():
    containers = [{"Names": ["redis-context-api-ci"], "Ports": [{"host_port": 24000}],
                   "Labels": {"io.kubernaut.devinfra.managed-by": "kubernaut.devinfra",
                              "io.kubernaut.devinfra.instance": "ci"}}]
    fact, issue = preflight.check_port({"port": 24000, "address": "127.0.0.1"}, containers,
                                       lambda a, p: False, lambda p: [], instance="ci")
    assert issue is None and fact["expected_holder"] is True
    fact, issue = preflight.check_port({"port": 24000, "address": "127.0.0.1"}, containers,
                                       lambda a, p: False, lambda p: [], instance="other")
    assert issue is not None


def test_container_owners_keeps_only_our_labels_for_every_name():
    containers = [
        {"Names": ["datastorage-postgres"], "Image": "localhost/pg:17",
         "Labels": {"io.kubernaut.devinfra.managed-by": "kubernaut.devinfra", "io.kubernaut.devinfra.instance": "dev",
                    "secret.looking": "x"}},
        {"Names": ["someone-elses"], "Image": "docker.io/library/redis:7", "Labels": None},
    ]
    owners = preflight.container_owners(containers)
    assert owners["datastorage-postgres"] == {
        "Labels": {"io.kubernaut.devinfra.managed-by": "kubernaut.devinfra", "io.kubernaut.devinfra.instance": "dev"},
        "ImageName": "localhost/pg:17"}
    assert owners["someone-elses"] == {"Labels": {}, "ImageName": "docker.io/library/redis:7"}
    assert preflight.container_owners(None) == {}
