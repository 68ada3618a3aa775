"""The real kind_cluster module, run through ansible-playbook, against the kind TEST DOUBLE.

tests/integration/kind_double/kind is an executable TEST DOUBLE of kind (not
kind). It is first on PATH, so this covers what the unit tests cannot: the
module's discovery of `kind` via PATH, the argv and the KIND_EXPERIMENTAL_PROVIDER
environment it really passes, the config it really writes on stdin, files on
disk, and check/diff mode through Ansible. Podman is the real one (`podman
info` for the preflight). The API server's /readyz is answered by a local HTTP
server started here. None of this is evidence that kind itself works.
"""

import http.server
import json
import os
import threading

import pytest

from conftest import REPO, VENV_BIN, run_module

DOUBLE_DIR = os.path.join(REPO, "tests", "integration", "kind_double")

pytestmark = pytest.mark.integration


class Readyz(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/readyz" else b"not found"
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def kind_double(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), Readyz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = str(tmp_path / "kind-double.json")
    with open(state, "w") as fh:
        json.dump({"clusters": {}, "server": "http://127.0.0.1:%d" % server.server_port}, fh)

    class Double(object):
        env = {"KIND_DOUBLE_STATE": state,
               "PATH": os.pathsep.join([DOUBLE_DIR, VENV_BIN, os.environ.get("PATH", "")])}
        state_dir = str(tmp_path / "kind-state")

        @staticmethod
        def calls():
            if not os.path.exists(state + ".calls"):
                return []
            with open(state + ".calls") as fh:
                return [json.loads(line) for line in fh]

        @staticmethod
        def clusters():
            with open(state) as fh:
                return json.load(fh)["clusters"]

    yield Double
    server.shutdown()


def mutating(calls):
    return [c for c in calls if c["argv"][0] in ("create", "delete", "load")]


def test_module_against_kind_double_end_to_end(kind_double):
    args = dict(name="devinfra-double", workers=1, state_dir=kind_double.state_dir,
                extra_port_mappings=[dict(container_port=80, host_port=18080)], wait_timeout=5)

    planned = run_module("kind_cluster", args, check=True, diff=True, env=kind_double.env)
    assert planned["changed"] and planned["outcome"] == "created", planned
    assert "create cluster --name devinfra-double --config -" in planned["executed"][0]
    assert mutating(kind_double.calls()) == [] and kind_double.clusters() == {}
    assert not os.path.exists(kind_double.state_dir)

    made = run_module("kind_cluster", args, diff=True, env=kind_double.env)
    assert made["changed"] and made["outcome"] == "created", made.get("msg")
    assert made["nodes"] == ["devinfra-double-control-plane", "devinfra-double-worker"]
    create = mutating(kind_double.calls())[0]
    assert create["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
    assert create["argv"][:6] == ["create", "cluster", "--name", "devinfra-double", "--config", "-"]
    config = json.loads(create["stdin"])
    assert config["nodes"][0]["extraPortMappings"][0]["listenAddress"] == "127.0.0.1"
    assert all(c["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"} for c in kind_double.calls())
    assert oct(os.stat(made["kubeconfig"]).st_mode & 0o777) == "0o600"
    assert made["kind_version"] == "0.32.0" and made["api_server"].startswith("http://127.0.0.1:")

    again = run_module("kind_cluster", args, env=kind_double.env)
    assert not again["changed"] and again["outcome"] == "unchanged", again
    assert len(mutating(kind_double.calls())) == 1

    drift = run_module("kind_cluster", dict(args, workers=2), env=kind_double.env)
    assert drift["failed"] and "recreate_on_change" in drift["msg"]
    assert len(mutating(kind_double.calls())) == 1

    gone = run_module("kind_cluster", dict(args, state="absent"), env=kind_double.env)
    assert gone["changed"] and gone["outcome"] == "deleted" and kind_double.clusters() == {}
    assert not os.path.exists(made["kubeconfig"])


def test_bad_input_calls_no_kind(kind_double):
    for bad in (dict(name="Bad_Name"), dict(workers=-1),
                dict(extra_port_mappings=[dict(container_port=80, host_port=18080,
                                               listen_address="0.0.0.0")])):
        res = run_module("kind_cluster", dict(bad, state_dir=kind_double.state_dir),
                         env=kind_double.env)
        assert res["failed"], res
    assert kind_double.calls() == [] and not os.path.exists(kind_double.state_dir)


def test_collect_diagnostics_exports_kind_logs_through_the_double(kind_double, tmp_path):
    made = run_module("kind_cluster", dict(name="devinfra-diag", state_dir=kind_double.state_dir, wait_timeout=5),
                      env=kind_double.env)
    assert made["changed"], made.get("msg")
    logs_dir = str(tmp_path / "kind-logs")
    kind = dict(name="devinfra-diag", logs_dir=logs_dir)
    res = run_module("collect_diagnostics", dict(instance="diag-double", kind=kind), env=kind_double.env)
    assert not res.get("failed"), res
    export = [c for c in kind_double.calls() if c["argv"][:2] == ["export", "logs"]]
    assert export and export[0]["argv"] == ["export", "logs", logs_dir, "--name", "devinfra-diag"]
    assert export[0]["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
    assert "kind/devinfra-diag-control-plane/kubelet.log" in res["files"]
    assert os.path.isdir(os.path.join(logs_dir, "devinfra-diag-control-plane", "pods"))  # left on the target
    # Without kind on PATH the module says so instead of failing.
    plain = run_module("collect_diagnostics", dict(instance="diag-double", kind=dict(name="x", logs_dir=logs_dir)))
    assert "no kind binary" in plain["files"]["kind/export.txt"]
