"""The kind_cluster role on this machine, where kind cannot run.

What is real here: Ansible, the role's tasks, argument validation, Podman's
`podman info`, the network (for the opt-in install). What is not: kind - the
last test puts the executable kind TEST DOUBLE on PATH, so it shows the role's
wiring up to the API check, not that kind works.
"""

import os

import pytest

from conftest import REPO, VENV_BIN, run_playbook

PLAYBOOK = os.path.join(REPO, "tests", "integration", "playbooks", "kind_role.yml")
DOUBLE_DIR = os.path.join(REPO, "tests", "integration", "kind_double")
NO_KIND_PATH = os.pathsep.join([VENV_BIN, "/usr/sbin", "/usr/bin", "/sbin", "/bin"])

pytestmark = pytest.mark.integration


def failure(run):
    """The task that ended the run (the last failed one; a rescued failure comes before it)."""
    for name, res in reversed(run.task_results()):
        if res.get("failed"):
            return name.split(" : ", 1)[-1], res.get("msg", "")
    raise AssertionError("no task failed:\n%s\n%s" % (run.stdout[-3000:], run.stderr[-2000:]))


def base_vars(tmp_path, **over):
    v = dict(devinfra_instance="kindtest", kind_cluster_state_dir=str(tmp_path / "state"))
    v.update(over)
    return v


def test_missing_kind_fails_with_install_instructions(tmp_path):
    run = run_playbook(PLAYBOOK, base_vars(tmp_path), env={"PATH": NO_KIND_PATH})
    assert run.rc != 0
    name, msg = failure(run)
    assert name == "Fail when kind is missing"
    assert "kind_cluster_install: true" in msg and "go install sigs.k8s.io/kind@v0.32.0" in msg
    assert not (tmp_path / "state").exists()


def test_bad_suite_name_fails_before_anything(tmp_path):
    run = run_playbook(PLAYBOOK, base_vars(tmp_path, kind_cluster_suites=["ok", "Not_OK"]),
                       env={"PATH": NO_KIND_PATH})
    name, msg = failure(run)
    assert "Not_OK" in msg and "Nothing was created" in msg


@pytest.mark.parametrize("extra,match", [
    (dict(kind_cluster_workers=-1), "workers must be zero or a positive"),
    (dict(kind_cluster_name="Bad_Name"), "not a valid kind cluster name"),
    (dict(kind_cluster_extra_port_mappings=[dict(container_port=80, host_port=18080,
                                                 listen_address="0.0.0.0")]),
     "kind_cluster_allow_public"),
])
def test_bad_input_fails_in_the_module_before_kind(tmp_path, extra, match):
    state = str(tmp_path / "double.json")
    run = run_playbook(PLAYBOOK, base_vars(tmp_path, **extra),
                       env={"PATH": os.pathsep.join([DOUBLE_DIR, NO_KIND_PATH]),
                            "KIND_DOUBLE_STATE": state})
    name, msg = failure(run)
    assert match in msg
    # the double logs every kind call except the role's own `kind version` probe... which it also logs:
    calls = open(state + ".calls").read().splitlines() if os.path.exists(state + ".calls") else []
    assert all('"version"' in c for c in calls), calls
    assert not (tmp_path / "state").exists()


def test_opt_in_install_says_so_when_offline(tmp_path):
    run = run_playbook(PLAYBOOK, base_vars(tmp_path, kind_cluster_install=True,
                                           kind_cluster_install_dir=str(tmp_path / "bin")),
                       env={"PATH": NO_KIND_PATH})
    name, msg = failure(run)
    if name != "Explain the failed download":
        pytest.fail("expected the download to fail here (no GitHub access): %s %s" % (name, msg))
    assert "github.com failed" in msg and "offline" in msg
    assert not (tmp_path / "bin" / "kind").exists()


def test_role_against_kind_double_stops_at_the_api_check(tmp_path):
    """The role's wiring with the kind TEST DOUBLE: the module 'creates' the cluster, then the role's
    real kubernetes.core check finds no Kubernetes API behind the double's kubeconfig and says so."""
    state = str(tmp_path / "double.json")
    run = run_playbook(PLAYBOOK, base_vars(tmp_path, kind_cluster_wait_timeout=2,
                                           kind_cluster_ready_timeout=2),
                       env={"PATH": os.pathsep.join([DOUBLE_DIR, NO_KIND_PATH]),
                            "KIND_DOUBLE_STATE": state})
    name, msg = failure(run)
    # The double's API server (https://127.0.0.1:40001) does not exist: the module's /readyz wait fails.
    assert name == "Ensure the state of kind cluster kubernaut-test-kindtest"
    assert "API server https://127.0.0.1:40001 of the new kind cluster kubernaut-test-kindtest" in msg
