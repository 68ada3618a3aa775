"""podman_host + container_images for real: the build mode this machine needs,
idempotence, auto mode's fallback, the drop-in probe cycle and bad input."""

import os
import socket
import subprocess

import pytest

from conftest import REPO, podman, run_module, run_playbook

IMAGES = os.path.join(REPO, "playbooks", "images.yml")
DROPIN = "/etc/containers/containers.conf.d/50-kubernaut-devinfra.conf"


def changed_tasks(run):
    return [name for name, res in run.task_results() if res.get("changed")]


def test_build_mode_rerun_changes_nothing():
    first = run_playbook(IMAGES, {"devinfra_image_source": "build"})
    assert first.rc == 0, first.stdout + first.stderr
    again = run_playbook(IMAGES, {"devinfra_image_source": "build"})
    assert again.rc == 0, again.stdout
    assert again.stats["changed"] == 0, changed_tasks(again)
    # The preflight's listing of our images answered; no podman_image_info run.
    looked = [res for name, res in again.task_results() if "Look for images built from the same inputs" in name]
    assert looked and all(res.get("skipped") for res in looked)
    # ...and the probe cache the first run left holds: no probe module run either.
    probed = [name for name, res in again.task_results() if "Probe Podman" in name and not res.get("skipped")]
    assert probed == []
    facts = [res["ansible_facts"] for name, res in again.task_results()
             if "devinfra_postgres_image" in res.get("ansible_facts", {})]
    refs = facts[-1]
    assert refs["devinfra_postgres_image"].startswith("localhost/kubernaut-devinfra/postgres-pgvector:17-")
    assert refs["devinfra_redis_image"].startswith("localhost/kubernaut-devinfra/redis:7-")
    for ref in refs.values():
        labels = podman("image", "inspect", "--format", "{{json .Labels}}", ref).stdout
        assert "io.kubernaut.devinfra.inputs-hash" in labels


def test_auto_mode_without_registry_builds_and_says_so_once():
    run = run_playbook(IMAGES, {"devinfra_image_source": "auto"})
    assert run.rc == 0, run.stdout
    messages = [res.get("msg", "") for name, res in run.task_results()
                if "No container registry answered" in str(res.get("msg", ""))]
    if not messages:
        pytest.skip("a registry answered from this host; auto mode pulled instead")
    assert len(messages) == 1
    assert "building the images locally" in messages[0]
    assert run.stats["changed"] == 0


def test_built_postgres_image_answers_a_query(postgres_container):
    import psycopg2
    c = postgres_container(password="built_image_pw")
    with psycopg2.connect(host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.database) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
            cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
            cur.execute("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector")
            assert cur.fetchone()[0] == pytest.approx(1.0)


def test_built_redis_image_answers_ping(redis_container):
    import redis
    c = redis_container()
    assert redis.Redis(host=c.host, port=c.port).ping() is True


def test_unknown_image_source_fails_before_anything():
    run = run_playbook(IMAGES, {"devinfra_image_source": "registry-please"})
    assert run.rc != 0
    out = run.stdout
    assert "podman_host_image_source" in out or "devinfra_image_source" in out
    assert run.stats.get("changed", 0) == 0


@pytest.mark.parametrize("port", [0, 70000])
def test_port_outside_range_fails_before_anything(port):
    run = run_playbook(IMAGES, {"podman_host_ports": [{"port": port}]})
    assert run.rc != 0
    assert "1 to 65535" in run.stdout
    assert run.stats.get("changed", 0) == 0


def test_busy_port_fails_before_anything_and_names_the_holder():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    try:
        run = run_playbook(IMAGES, {"podman_host_ports": [{"port": port}]})
    finally:
        sock.close()
    assert run.rc != 0
    assert "Port %d on 127.0.0.1 is already in use by" % port in run.stdout
    assert "nothing was created" in run.stdout
    assert run.stats.get("changed", 0) == 0


def test_preflight_fails_fast_and_creates_nothing():
    before = podman("ps", "-a", "-q", "--filter", "label=io.kubernaut.devinfra.managed-by").stdout
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        res = run_module("host_preflight", {"ports": [{"port": sock.getsockname()[1]}],
                                            "fail_on_problems": True})
    finally:
        sock.close()
    assert res["failed"] is True
    assert res["elapsed_ms"] < 10000
    assert "Fix:" in res["msg"]
    assert podman("ps", "-a", "-q", "--filter", "label=io.kubernaut.devinfra.managed-by").stdout == before


@pytest.mark.skipif(os.geteuid() != 0, reason="the drop-in cycle edits /etc/containers (root only)")
def test_dropin_is_written_only_when_needed_and_then_left_alone():
    saved = open(DROPIN).read() if os.path.exists(DROPIN) else None
    try:
        if saved is not None:
            os.unlink(DROPIN)
        plain = subprocess.run(["podman", "run", "--rm", "--pull=never", "--net", "none",
                                "localhost/kubernaut-devinfra/probe:latest", "/bin/true"],
                               capture_output=True, text=True, check=False)
        needed = plain.returncode != 0
        check = run_module("podman_host_config", {}, check=True, diff=True)
        assert check["changed"] is needed
        assert not os.path.exists(DROPIN), "check mode wrote the drop-in"
        real = run_module("podman_host_config", {}, diff=True)
        assert real["changed"] is needed
        again = run_module("podman_host_config", {})
        assert again["changed"] is False
        if needed:
            assert os.path.exists(DROPIN)
            assert real["diff"]["after"] == open(DROPIN).read()
            ok = subprocess.run(["podman", "run", "--rm", "--pull=never", "--net", "none",
                                 "localhost/kubernaut-devinfra/probe:latest", "/bin/true"], check=False)
            assert ok.returncode == 0
        else:
            assert not os.path.exists(DROPIN)
    finally:
        if saved is not None and not os.path.exists(DROPIN):
            with open(DROPIN, "w") as fh:
                fh.write(saved)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cache test adds a file under /etc/containers (root only)")
def test_probe_cache_skips_the_probe_until_the_host_changes(tmp_path):
    cache = str(tmp_path / "podman-probe.json")
    args = {"cache_path": cache}
    planned = run_module("podman_host_config", args, check=True)
    assert planned["cached"] is False and planned["probes"]
    assert not os.path.exists(cache), "check mode wrote the cache"
    first = run_module("podman_host_config", args)
    assert first["cached"] is False and first["probes"] and first["probes"][-1]["ok"]
    assert oct(os.stat(cache).st_mode & 0o777) == "0o600"
    again = run_module("podman_host_config", args)
    assert again["cached"] is True and again["probes"] == []
    assert again["changed"] is False and again["settings"] == first["settings"]
    # host_preflight reads the same cache, so that podman_host can skip the probe module altogether.
    seen = run_module("host_preflight", {"probe_cache": cache, "check_registries": False})["preflight"]["probe_cache"]
    assert seen == {"path": cache, "valid": True, "settings": first["settings"]}
    # Any containers.conf change (here a comment-only drop-in of an admin) means probing again.
    extra = "/etc/containers/containers.conf.d/99-devinfra-test.conf"
    with open(extra, "w") as fh:
        fh.write("# kubernaut.devinfra integration test\n")
    try:
        stale = run_module("host_preflight", {"probe_cache": cache, "check_registries": False})
        assert stale["preflight"]["probe_cache"]["valid"] is False
        changed_host = run_module("podman_host_config", args)
        assert changed_host["cached"] is False and changed_host["probes"][-1]["ok"]
    finally:
        os.unlink(extra)
    assert run_module("podman_host_config", args)["cached"] is False  # the file went away: the digest differs again
    assert run_module("podman_host_config", args)["cached"] is True
