"""Decisions of the kind backend, against FakeKindCLI - a TEST DOUBLE of kind's CLI.

These tests show that module_utils/kind.py does the right thing *given kind's
documented behaviour*, as the double emulates it. They are not evidence that
kind itself works here (it cannot run on this machine).
"""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils import kind
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady

from kind_double import FakeKindCLI, PODMAN_INFO_ROOTFUL_V2  # TEST DOUBLE, same directory
from clock_double import FakeClock


def params(tmp_path, **over):
    base = dict(state="present", name="kubernaut-test", provider="podman", kind_path=None, workers=0,
                node_image=kind.DEFAULT_NODE_IMAGE, api_server_address="127.0.0.1", api_server_port=0,
                extra_port_mappings=[], allow_public=False, node_labels={}, kubeconfig=None,
                state_dir=str(tmp_path / "state"), recreate_on_change=False, wait_timeout=30.0)
    base.update(over)
    return base


def api_up(server, ca):
    assert server.startswith("https://") and "TEST DOUBLE CA" in ca
    return "ok"


def api_down(server, ca):
    raise NotReady("connection refused")


def context(double, check=False, api=api_up, diff=True):
    clock = FakeClock()
    return kind.Context(double, "/usr/local/bin/kind", "/usr/bin/podman", check_mode=check, diff=diff,
                        api_probe=api, clock=clock, sleep=clock.sleep)


# ----------------------------------------------------------------- validation

@pytest.mark.parametrize("name", ["Kubernaut", "kubernaut_test", "-lead", ".dot", "", "a b",
                                  "x" * 51, "kubernaut/test"])
def test_invalid_cluster_names_are_refused(name):
    with pytest.raises(DevinfraError) as err:
        kind.validate_cluster_name(name)
    assert "name" in str(err.value)


@pytest.mark.parametrize("name", ["kubernaut-test", "kind", "a.b-c", "0test", "x" * 50])
def test_valid_cluster_names(name):
    kind.validate_cluster_name(name)


def test_negative_workers_refused(tmp_path):
    with pytest.raises(DevinfraError, match="workers must be zero or a positive"):
        kind.validate_cluster_options(params(tmp_path, workers=-1))


@pytest.mark.parametrize("addr", ["0.0.0.0", "::", "192.168.1.10"])
def test_public_listen_address_needs_allow_public(tmp_path, addr):
    p = params(tmp_path, extra_port_mappings=[dict(container_port=80, host_port=18080,
                                                   listen_address=addr, protocol="TCP")])
    with pytest.raises(DevinfraError) as err:
        kind.validate_cluster_options(p)
    assert "beyond this host" in err.value.msg and "allow_public" in err.value.hint
    p["allow_public"] = True
    kind.validate_cluster_options(p)


def test_public_api_server_needs_allow_public(tmp_path):
    with pytest.raises(DevinfraError, match="API server beyond this host"):
        kind.validate_cluster_options(params(tmp_path, api_server_address="0.0.0.0"))


@pytest.mark.parametrize("mapping,match", [
    (dict(container_port=0, host_port=1), "container_port"),
    (dict(container_port=80, host_port=70000), "host_port"),
    (dict(container_port=80, host_port=8080, listen_address="localhost"), "IP address"),
    (dict(container_port=80, host_port=8080, protocol="HTTP"), "protocol"),
])
def test_bad_port_mappings(tmp_path, mapping, match):
    with pytest.raises(DevinfraError, match=match):
        kind.validate_cluster_options(params(tmp_path, extra_port_mappings=[mapping]))


def test_bad_input_makes_no_kind_call(tmp_path):
    double = FakeKindCLI()
    for bad in (dict(workers=-1), dict(name="Bad_Name"),
                dict(extra_port_mappings=[dict(container_port=80, host_port=80,
                                               listen_address="0.0.0.0")])):
        with pytest.raises(DevinfraError):
            kind.ensure_cluster(params(tmp_path, **bad), context(double))
    assert double.calls == []
    assert not os.path.exists(str(tmp_path / "state"))


# ----------------------------------------------------------------- config

def test_config_renders_kind_v1alpha4(tmp_path):
    config, digest = kind.render_config(params(tmp_path, workers=2, extra_port_mappings=[
        dict(container_port=80, host_port=18080, listen_address="127.0.0.1", protocol="tcp")],
        node_labels={"devinfra.kubernaut.io/instance": "dev"}))
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert config["networking"] == {"apiServerAddress": "127.0.0.1"}
    assert config["nodes"][0]["extraPortMappings"] == [
        {"containerPort": 80, "hostPort": 18080, "listenAddress": "127.0.0.1", "protocol": "TCP"}]
    assert all(n["image"] == kind.DEFAULT_NODE_IMAGE for n in config["nodes"])
    for node in config["nodes"]:
        assert node["labels"] == {"devinfra.kubernaut.io/instance": "dev",
                                  kind.CONFIG_HASH_NODE_LABEL: digest}
    assert len(digest) == 16 and kind.config_hash(config) == digest


def test_hash_is_stable_and_sensitive(tmp_path):
    a = kind.render_config(params(tmp_path))[1]
    assert kind.render_config(params(tmp_path))[1] == a
    assert kind.render_config(params(tmp_path, workers=1))[1] != a
    assert kind.render_config(params(tmp_path, node_image="kindest/node:v1.35.0"))[1] != a
    assert kind.render_config(params(tmp_path, api_server_port=6443))[1] != a


def test_default_node_image_is_pinned_by_digest():
    tag, dummy, digest = kind.DEFAULT_NODE_IMAGE.partition("@sha256:")
    assert tag.startswith("kindest/node:v") and len(digest) == 64


def test_node_names_follow_kinds_namer():
    assert kind.expected_node_names("k", 3) == ["k-control-plane", "k-worker", "k-worker2", "k-worker3"]


def test_summarise_changes_names_paths():
    assert kind.summarise_changes({"a": 1, "n": [{"x": 1}]}, {"a": 2, "n": [{"x": 1}]}) == ["a: 1 -> 2"]
    assert kind.summarise_changes({"n": [1]}, {"n": [1, 2]}) == ["n: 1 item(s) -> 2 item(s)"]


# ----------------------------------------------------------------- parsing

def test_parse_version_and_kubeconfig():
    assert kind.parse_version("kind v0.32.0 go1.24.6 linux/amd64") == "0.32.0"
    assert kind.parse_version("kind v0.33.0-alpha+abc go1.25 linux/arm64") == "0.33.0-alpha+abc"
    text = FakeKindCLI().kubeconfig_text("x")
    assert kind.parse_kubeconfig_server(text) == "https://127.0.0.1:40001"
    assert "TEST DOUBLE CA" in kind.parse_kubeconfig_ca(text)


def test_last_error_line_keeps_kinds_error():
    err = "enabling experimental podman provider\nERROR: failed to create cluster: boom\n"
    assert kind.last_error_line(err) == "ERROR: failed to create cluster: boom"


# ----------------------------------------------------------------- preflight

def test_preflight_rootful_v2_ok():
    assert kind.provider_problems(PODMAN_INFO_ROOTFUL_V2, "Linux") == ([], [])


def test_preflight_rootful_v1_warns_only():
    info = {"host": {"cgroupVersion": "v1", "security": {"rootless": False}}}
    problems, warnings = kind.provider_problems(info, "Linux")
    assert problems == [] and "cgroup v1" in warnings[0]


def test_preflight_rootless_v1_fails_with_grub_fix():
    info = {"host": {"cgroupVersion": "v1", "security": {"rootless": True}}}
    problems = kind.provider_problems(info, "Linux")[0]
    assert "systemd.unified_cgroup_hierarchy=1" in problems[0] and "update-grub" in problems[0]


def test_preflight_rootless_without_delegation_fails_with_delegate_fix():
    info = {"host": {"cgroupVersion": "v2", "security": {"rootless": True},
                     "cgroupControllers": ["memory", "pids"]}}
    problems = kind.provider_problems(info, "Linux")[0]
    assert "missing: cpu" in problems[0] and "Delegate=yes" in problems[0]


def test_preflight_rootless_with_delegation_ok():
    info = {"host": {"cgroupVersion": "v2", "security": {"rootless": True},
                     "cgroupControllers": ["cpu", "memory", "pids", "io"]}}
    assert kind.provider_problems(info, "Linux") == ([], [])


def test_preflight_macos_needs_rootful_machine():
    info = {"host": {"cgroupVersion": "v2", "security": {"rootless": True}}}
    problems = kind.provider_problems(info, "Darwin")[0]
    assert "podman machine set --rootful" in problems[0]


@pytest.mark.skipif(not shutil.which("podman"), reason="podman not on PATH")
def test_preflight_reads_this_hosts_real_podman_info():
    """Real input: the JSON this host's Podman prints parses into a verdict."""
    out = subprocess.run(["podman", "info", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    problems, warnings = kind.provider_problems(json.loads(out), "Linux")
    assert isinstance(problems, list) and isinstance(warnings, list)


def test_preflight_problem_stops_before_any_kind_mutation(tmp_path):
    double = FakeKindCLI(podman_info={"host": {"cgroupVersion": "v1", "security": {"rootless": True}}})
    with pytest.raises(DevinfraError, match="cannot run on this Podman"):
        kind.ensure_cluster(params(tmp_path), context(double))
    assert double.mutating_calls() == []


# ----------------------------------------------------------------- decisions

def test_absent_cluster_is_created(tmp_path):
    double = FakeKindCLI()
    res = kind.ensure_cluster(params(tmp_path, workers=1), context(double))
    assert res["changed"] and res["outcome"] == "created"
    assert res["nodes"] == ["kubernaut-test-control-plane", "kubernaut-test-worker"]
    assert res["api_server"] == "https://127.0.0.1:40001" and res["kind_version"] == "0.32.0"
    create = [c for c in double.calls if c["argv"][1:3] == ["create", "cluster"]][0]
    assert create["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
    assert create["argv"][3:] == ["--name", "kubernaut-test", "--config", "-", "--kubeconfig",
                                  res["kubeconfig"], "--wait", "30s"]
    assert json.loads(create["data"]) == res["config"]
    record = json.load(open(res["record"]))
    assert record["status"] == "ready" and record["config_hash"] == res["config_hash"]
    assert oct(os.stat(res["kubeconfig"]).st_mode & 0o777) == "0o600"
    assert res["diff"]["before"] == {} and res["diff"]["after"]["config_hash"] == res["config_hash"]


def test_same_hash_is_unchanged_and_makes_no_mutating_call(tmp_path):
    double = FakeKindCLI()
    first = kind.ensure_cluster(params(tmp_path), context(double))
    before = len(double.mutating_calls())
    second = kind.ensure_cluster(params(tmp_path), context(double))
    assert not second["changed"] and second["outcome"] == "unchanged"
    assert second["executed"] == [] and len(double.mutating_calls()) == before
    assert second["config_hash"] == first["config_hash"] and second["nodes"] == first["nodes"]


def test_unchanged_cluster_still_exports_kubeconfig(tmp_path):
    double = FakeKindCLI()
    res = kind.ensure_cluster(params(tmp_path), context(double))
    os.unlink(res["kubeconfig"])
    again = kind.ensure_cluster(params(tmp_path), context(double))
    assert again["changed"] and again["outcome"] == "unchanged" and again["kubeconfig_changed"]
    assert open(res["kubeconfig"]).read() == double.kubeconfig_text("kubernaut-test")
    assert double.mutating_calls()[-1]["argv"][1] == "create"   # nothing mutating since


def test_different_hash_fails_with_diff_and_touches_nothing(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))
    before = len(double.mutating_calls())
    with pytest.raises(DevinfraError) as err:
        kind.ensure_cluster(params(tmp_path, workers=2), context(double))
    assert "recorded config hash" in err.value.msg and "nodes: 1 item(s) -> 3 item(s)" in err.value.msg
    assert "recreate_on_change" in err.value.hint
    assert err.value.details["diff"]["after"]["config"]["nodes"][2]["role"] == "worker"
    assert len(double.mutating_calls()) == before


def test_different_hash_with_recreate_on_change_replaces(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))
    res = kind.ensure_cluster(params(tmp_path, workers=1, recreate_on_change=True), context(double))
    assert res["changed"] and res["outcome"] == "replaced" and "differs" in res["reason"]
    verbs = [c["argv"][1] for c in double.mutating_calls()]
    assert verbs == ["create", "delete", "create"]
    assert double.clusters["kubernaut-test"]["nodes"] == [
        "kubernaut-test-control-plane", "kubernaut-test-worker"]


def test_cluster_without_record_is_not_adopted(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test")
    with pytest.raises(DevinfraError, match="no record of its config"):
        kind.ensure_cluster(params(tmp_path), context(double))
    assert double.mutating_calls() == []


@pytest.mark.parametrize("setup,reason", [
    (dict(running=False), "`kind get kubeconfig` fails"),
    (dict(kubeadm_done=False), "`kind get kubeconfig` fails"),
])
def test_half_created_cluster_is_replaced(tmp_path, setup, reason):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test", **setup)
    res = kind.ensure_cluster(params(tmp_path), context(double))
    assert res["outcome"] == "replaced" and "half-created" in res["reason"] and reason in res["reason"]
    assert res["diff"]["before"]["state"] == "half-created"
    assert [c["argv"][1] for c in double.mutating_calls()] == ["delete", "create"]
    assert double.clusters["kubernaut-test"]["running"]


def test_missing_control_plane_is_half_created(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test", workers=1)
    double.clusters["kubernaut-test"]["nodes"] = ["kubernaut-test-worker"]
    res = kind.ensure_cluster(params(tmp_path), context(double))
    assert res["outcome"] == "replaced" and "control-plane node container" in res["reason"]


def test_api_not_answering_is_half_created(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))

    def down_until_replaced(server, ca):
        if any(c["argv"][1] == "delete" for c in double.calls):
            return "ok"
        raise NotReady("connection refused")

    res = kind.ensure_cluster(params(tmp_path), context(double, api=down_until_replaced))
    assert res["outcome"] == "replaced" and "does not answer" in res["reason"]
    assert "connection refused" in res["reason"]


def test_killed_create_leaves_half_created_that_next_run_replaces(tmp_path):
    double = FakeKindCLI()
    double.kill_create_after_nodes = True
    with pytest.raises(DevinfraError, match="Creating kind cluster"):
        kind.ensure_cluster(params(tmp_path), context(double))
    assert json.load(open(str(tmp_path / "state" / "kubernaut-test.json")))["status"] == "creating"
    double.kill_create_after_nodes = False
    res = kind.ensure_cluster(params(tmp_path), context(double))
    assert res["outcome"] == "replaced" and "half-created" in res["reason"]
    assert json.load(open(res["record"]))["status"] == "ready"


def test_record_left_creating_is_half_created_even_if_api_answers(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))
    path = str(tmp_path / "state" / "kubernaut-test.json")
    record = json.load(open(path))
    record["status"] = "creating"
    json.dump(record, open(path, "w"))
    res = kind.ensure_cluster(params(tmp_path), context(double))
    assert res["outcome"] == "replaced" and "did not finish" in res["reason"]


def test_create_over_existing_name_reports_kinds_error(tmp_path):
    """If the cluster appears between probe and create, kind's own refusal surfaces."""
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test")
    rc, dummy, err = double(["kind", "create", "cluster", "--name", "kubernaut-test", "--config", "-"],
                            data="{}", environ_update={"KIND_EXPERIMENTAL_PROVIDER": "podman"})
    assert rc == 1 and kind.ALREADY_EXISTS_RE.search(err)


def test_create_failure_is_reported_with_kinds_error(tmp_path):
    double = FakeKindCLI()
    double.fail_create = "failed to pull image kindest/node"
    with pytest.raises(DevinfraError) as err:
        kind.ensure_cluster(params(tmp_path), context(double))
    assert "ERROR: failed to create cluster: failed to pull image" in err.value.msg


def test_wait_timeout_is_not_success(tmp_path):
    double = FakeKindCLI()
    double.wait_times_out = True
    ctx = context(double, api=api_down)
    with pytest.raises(DevinfraError, match="was not ready after"):
        kind.ensure_cluster(params(tmp_path, wait_timeout=2.0), ctx)
    assert any("--wait" in w for w in ctx.warnings)


def test_wait_timeout_warning_when_api_comes_up(tmp_path):
    double = FakeKindCLI()
    double.wait_times_out = True
    ctx = context(double)
    res = kind.ensure_cluster(params(tmp_path), ctx)
    assert res["kind_wait_timed_out"] and res["warnings"]


def test_foreign_kubeconfig_is_refused(tmp_path):
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- name: prod\n  context: {cluster: prod}\n")
    double = FakeKindCLI()
    with pytest.raises(DevinfraError, match="prod"):
        kind.ensure_cluster(params(tmp_path, kubeconfig=str(path)), context(double))
    assert double.mutating_calls() == []


# ----------------------------------------------------------------- check mode

def test_check_mode_plans_create_without_mutating(tmp_path):
    double = FakeKindCLI()
    res = kind.ensure_cluster(params(tmp_path), context(double, check=True))
    assert res["changed"] and res["outcome"] == "created"
    assert res["executed"][0].startswith("KIND_EXPERIMENTAL_PROVIDER=podman /usr/local/bin/kind create cluster")
    assert double.mutating_calls() == [] and double.clusters == {}
    assert not os.path.exists(str(tmp_path / "state"))


def test_check_mode_plans_replace_of_half_created(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test", running=False)
    res = kind.ensure_cluster(params(tmp_path), context(double, check=True))
    assert res["changed"] and res["outcome"] == "replaced"
    assert [e.split()[2] for e in res["executed"]] == ["delete", "create"]
    assert double.mutating_calls() == [] and not double.clusters["kubernaut-test"]["running"]


def test_check_mode_unchanged(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))
    res = kind.ensure_cluster(params(tmp_path), context(double, check=True))
    assert not res["changed"] and res["executed"] == []


def test_check_mode_absent(tmp_path):
    double = FakeKindCLI()
    kind.ensure_cluster(params(tmp_path), context(double))
    n = len(double.mutating_calls())
    res = kind.ensure_cluster(params(tmp_path, state="absent"), context(double, check=True))
    assert res["changed"] and res["outcome"] == "deleted" and len(double.mutating_calls()) == n
    assert "kubernaut-test" in double.clusters


# ----------------------------------------------------------------- absent

def test_absent_deletes_cluster_record_and_kubeconfig(tmp_path):
    double = FakeKindCLI()
    made = kind.ensure_cluster(params(tmp_path), context(double))
    res = kind.ensure_cluster(params(tmp_path, state="absent"), context(double))
    assert res["changed"] and res["outcome"] == "deleted" and double.clusters == {}
    delete = double.mutating_calls()[-1]
    assert delete["argv"][1:] == ["delete", "cluster", "--name", "kubernaut-test", "--kubeconfig",
                                  made["kubeconfig"]]
    assert not os.path.exists(made["record"]) and not os.path.exists(made["kubeconfig"])
    again = kind.ensure_cluster(params(tmp_path, state="absent"), context(double))
    assert not again["changed"] and again["outcome"] == "absent" and again["executed"] == []


def test_absent_keeps_a_shared_kubeconfig(tmp_path):
    path = tmp_path / "shared"
    path.write_text("contexts:\n- name: prod\n")
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test")
    kind.ensure_cluster(params(tmp_path, state="absent", kubeconfig=str(path)), context(double))
    assert path.exists()


# ----------------------------------------------------------------- images

def images_params(*images):
    return dict(name="kubernaut-test", provider="podman", kind_path=None, images=list(images))


def test_image_name_normalisation():
    names = ["localhost/kubernaut-devinfra/redis:7"]
    assert kind.choose_local_name("kubernaut-devinfra/redis:7", names) == names[0]
    assert kind.choose_local_name("localhost/kubernaut-devinfra/redis:7", names) == names[0]
    assert kind.choose_local_name("redis", ["docker.io/library/redis:latest"]) == \
        "docker.io/library/redis:latest"
    assert kind.qualify("redis:7") == "docker.io/library/redis:7"
    assert kind.qualify("localhost/x") == "localhost/x:latest"
    assert kind.normalise_image_id("abc") == "sha256:abc"


def test_images_loaded_only_into_nodes_that_lack_them(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test", workers=1)
    ref = "localhost/kubernaut-devinfra/redis:7"
    double.local_images = {ref: ([ref], "1" * 64), "kubernaut-devinfra/redis:7": ([ref], "1" * 64)}
    double.clusters["kubernaut-test"]["images"] = {"kubernaut-test-control-plane": {ref: "sha256:" + "1" * 64}}
    ctx = context(double)
    res = kind.ensure_images(images_params("kubernaut-devinfra/redis:7"), ctx, str(tmp_path))
    assert res["changed"] and res["images"][0]["name"] == ref
    assert res["images"][0]["loaded_into"] == ["kubernaut-test-worker"]
    load = [c for c in double.calls if c["argv"][1:3] == ["load", "image-archive"]][0]
    assert load["argv"][-2:] == ["--nodes", "kubernaut-test-worker"]
    assert load["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
    assert os.listdir(str(tmp_path)) == []       # archive removed
    again = kind.ensure_images(images_params(ref), context(double), str(tmp_path))
    assert not again["changed"] and again["executed"] == []


def test_images_check_mode_loads_nothing(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test")
    ref = "localhost/app:1"
    double.local_images = {ref: ([ref], "2" * 64)}
    res = kind.ensure_images(images_params(ref), context(double, check=True), str(tmp_path))
    assert res["changed"] and len(res["executed"]) == 2
    assert double.mutating_calls() == []


def test_images_missing_locally_or_no_cluster(tmp_path):
    double = FakeKindCLI()
    with pytest.raises(DevinfraError, match="has no nodes"):
        kind.ensure_images(images_params("x:1"), context(double), str(tmp_path))
    double.add_cluster("kubernaut-test")
    with pytest.raises(DevinfraError, match="not in the local Podman store"):
        kind.ensure_images(images_params("x:1"), context(double), str(tmp_path))
