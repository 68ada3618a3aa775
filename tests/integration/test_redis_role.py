"""The redis role end to end: refusals before anything exists, password, loopback guard."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import REDIS_IMAGE, free_port, podman, run_playbook

pytestmark = pytest.mark.integration

# Addresses of the throw-away network namespace pair: a /30 used nowhere else.
NETNS_HOST_IP = "10.213.77.1"
NETNS_PEER_IP = "10.213.77.2"


@pytest.fixture
def role_instance(tmp_path):
    """A unique instance for one test; removes exactly its container and volume."""
    instance = "t7-%s" % uuid.uuid4().hex[:6]
    state_dir = tmp_path / "state"
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [{"role": "kubernaut.devinfra.redis"}],
        "post_tasks": [{"name": "connection", "ansible.builtin.debug": {"var": "redis_connection"}}],
    }]))
    info = {
        "instance": instance,
        "container": "redis-context-api-" + instance,
        "volume": "redis-context-api-%s-data" % instance,
        "state_dir": str(state_dir),
        "playbook": str(playbook),
        "port": free_port(),
    }

    def run(verbosity=0, diff=False, **overrides):
        extra = {"redis_instance": instance, "redis_image": REDIS_IMAGE, "redis_port": info["port"],
                 "redis_state_dir": info["state_dir"]}
        extra.update(overrides)
        return run_playbook(info["playbook"], extra_vars=extra, verbosity=verbosity, diff=diff)

    info["run"] = run
    yield info
    podman("rm", "-f", "-v", info["container"], check=False)
    podman("volume", "rm", "-f", info["volume"], check=False)


def nothing_created(inst):
    assert podman("container", "exists", inst["container"], check=False).returncode == 1
    assert podman("volume", "exists", inst["volume"], check=False).returncode == 1
    assert not os.path.exists(inst["state_dir"])


def failure_message(run):
    return "\n".join(res.get("msg", "") for name, res in run.task_results() if res.get("failed"))


@pytest.mark.parametrize("overrides,phrase", [
    ({"redis_suites": ["s%d" % i for i in range(17)]}, "17 suites need 17 databases but the server has 16"),
    ({"redis_suites": ["contextapi", "gateway", "contextapi"]}, "duplicate suite names contextapi"),
    ({"redis_databases": 0}, "redis_databases must be at least 1"),
    ({"redis_bind": "0.0.0.0"}, "not loopback, and redis_password is empty"),
])
def test_bad_input_fails_before_anything_is_created(role_instance, overrides, phrase):
    run = role_instance["run"](**overrides)
    assert run.rc != 0
    assert phrase in failure_message(run), run.stdout[-3000:]
    nothing_created(role_instance)


@pytest.mark.parametrize("labels,with_preflight", [
    ([], False),                                                       # podman_container_info path
    ([], True),                                                        # podman_host's container listing
    (["io.kubernaut.devinfra.managed-by=kubernaut.devinfra",
      "io.kubernaut.devinfra.instance=someone-else"], True),           # ours, but another instance's
])
def test_a_container_with_our_name_that_is_not_ours_is_left_untouched(
        role_instance, tmp_path, labels, with_preflight):
    args = ["create", "--name", role_instance["container"]]
    for label in labels:
        args += ["--label", label]
    cid = podman(*(args + [REDIS_IMAGE, "sleep", "600"])).stdout.strip()
    playbook = role_instance["playbook"]
    if with_preflight:
        playbook = str(tmp_path / "with-preflight.yml")
        with open(playbook, "w") as fh:
            json.dump([{"hosts": "localhost", "gather_facts": False,
                        "roles": [{"role": "kubernaut.devinfra.podman_host", "podman_host_image_source": "build"},
                                  {"role": "kubernaut.devinfra.redis"}]}], fh)
    run = run_playbook(playbook, extra_vars={
        "redis_instance": role_instance["instance"], "redis_image": REDIS_IMAGE, "redis_port": role_instance["port"],
        "redis_state_dir": role_instance["state_dir"]})
    assert run.rc != 0
    message = failure_message(run)
    assert "is not managed by kubernaut.devinfra instance '%s'" % role_instance["instance"] in message, message
    assert "It was left untouched" in message
    ran = [name for name, res in run.task_results() if not res.get("skipped")]
    assert any("Look for a container named" in name for name in ran) is not with_preflight
    after = json.loads(podman("container", "inspect", role_instance["container"]).stdout)[0]
    assert after["Id"] == cid and after["State"]["Status"] == "created"
    assert podman("volume", "exists", role_instance["volume"], check=False).returncode == 1


def test_password_is_required_and_never_logged(role_instance):
    password = 'pa ss"w\\o$rd`x`-%s' % uuid.uuid4().hex[:6]
    run = role_instance["run"](verbosity=3, diff=True, redis_password=password, redis_suites=["a", "b"])
    assert run.rc == 0, run.stdout[-3000:]
    assert password not in run.stdout and password not in run.stderr
    conn = dict(run.task_results())["connection"]["redis_connection"]
    assert conn["suites"] == {"a": 1, "b": 2}
    assert conn["password_required"] is True
    assert password not in json.dumps(conn)
    inspect = podman("inspect", role_instance["container"]).stdout
    assert password not in inspect
    port = role_instance["port"]
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(port).ping()
    assert _client(port, password=password).ping() is True

    again = role_instance["run"](redis_password=password, redis_suites=["a", "b"])
    assert again.rc == 0 and again.stats["changed"] == 0, again.stdout[-3000:]

    # A new password is drift: the container is recreated, the old one stops working.
    changed = role_instance["run"](redis_password=password + "2", redis_suites=["a", "b"])
    assert changed.rc == 0 and changed.stats["changed"] >= 1
    assert _client(port, password=password + "2").ping() is True
    with pytest.raises(redis.exceptions.AuthenticationError):
        _client(port, password=password).ping()


def test_config_drift_recreates_and_keeps_suite_indexes(role_instance):
    first = role_instance["run"](redis_suites=["a", "b"])
    assert first.rc == 0, first.stdout[-3000:]
    drift = role_instance["run"](diff=True, redis_suites=["a", "new", "b"], redis_maxmemory="64mb",
                                 redis_maxmemory_policy="allkeys-lru")
    assert drift.rc == 0, drift.stdout[-3000:]
    results = dict(drift.task_results())
    container = [res for name, res in drift.task_results() if name.endswith("Ensure container " + role_instance["container"])][-1]
    assert container["changed"] is True
    assert "maxmemory" in json.dumps(container.get("diff", {}))
    assert results["connection"]["redis_connection"]["suites"] == {"a": 1, "b": 2, "new": 3}
    cl = _client(role_instance["port"])
    assert cl.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    assert cl.config_get("save")["save"] == ""
    assert cl.config_get("appendonly")["appendonly"] == "no"


def _client(port, password=None, host="127.0.0.1"):
    return redis.Redis(host=host, port=port, password=password, retry=Retry(NoBackoff(), 0),
                       socket_timeout=5, socket_connect_timeout=5, decode_responses=True)


# --- the loopback guard, seen from a client that is not on loopback --------


@pytest.fixture
def netns():
    """A network namespace joined to the host by a veth pair; removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to create a network namespace")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = "kd7ns-" + tag, "kd7h" + tag, "kd7n" + tag
    steps = [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if],
        ["ip", "link", "set", peer_if, "netns", ns],
        ["ip", "addr", "add", NETNS_HOST_IP + "/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "-n", ns, "addr", "add", NETNS_PEER_IP + "/30", "dev", peer_if],
        ["ip", "-n", ns, "link", "set", peer_if, "up"],
        ["ip", "-n", ns, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                pytest.skip("cannot build the test namespace (%s): %s" % (" ".join(step), proc.stderr))
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


# Runs inside the namespace: connect to the host side, optionally AUTH + PING.
NS_CLIENT = r"""
import json, socket, sys
host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
try:
    s = socket.create_connection((host, port), 5)
except OSError as exc:
    out["connect"] = type(exc).__name__
else:
    out["connect"] = "ok"
    s.settimeout(5)
    cmd = b"PING\r\n" if not password else ("AUTH %s\r\nPING\r\n" % password).encode()
    s.sendall(cmd)
    data = b""
    while data.count(b"\r\n") < (1 if not password else 2):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    out["reply"] = data.decode()
print(json.dumps(out))
"""


def from_netns(ns, port, password=""):
    proc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", NS_CLIENT,
                           NETNS_HOST_IP, str(port), password], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_non_loopback_client_cannot_reach_default_publishing(role_instance, netns):
    run = role_instance["run"]()
    assert run.rc == 0, run.stdout[-3000:]
    port = role_instance["port"]
    assert _client(port).ping() is True  # reachable on loopback ...
    assert from_netns(netns, port) == {"connect": "ConnectionRefusedError"}  # ... and nowhere else

    # Control: the namespace does reach the host-side address, when something
    # listens there. Publishing there needs a password, and Redis enforces it.
    password = "netns-" + uuid.uuid4().hex[:8]
    open_run = role_instance["run"](redis_bind=NETNS_HOST_IP, redis_password=password)
    assert open_run.rc == 0, open_run.stdout[-3000:]
    no_auth = from_netns(netns, port)
    assert no_auth["connect"] == "ok"
    assert no_auth["reply"].startswith("-NOAUTH"), no_auth
    with_auth = from_netns(netns, port, password)
    assert with_auth["reply"] == "+OK\r\n+PONG\r\n", with_auth
