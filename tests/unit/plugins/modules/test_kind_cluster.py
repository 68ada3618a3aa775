"""kind_cluster's main(): argument handling and failures before kind is involved.

kind's CLI is replaced by FakeKindCLI (a TEST DOUBLE) where a call is reached.
"""

import json
import os
import sys

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubernaut.devinfra.plugins.modules import kind_cluster, kind_load_image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "module_utils"))
from kind_double import FakeKindCLI  # noqa: E402  TEST DOUBLE


def run_main(module, args, monkeypatch, capsys, bins=None, runner=None):
    """Run a module's main(); return its JSON result. ``bins`` is what get_bin_path finds."""
    looked_up = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        looked_up.append(name)
        return (bins or {}).get(name)

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    if runner is not None:
        monkeypatch.setattr(basic.AnsibleModule, "run_command",
                            lambda self, argv, data=None, environ_update=None, **kw:
                            runner(argv, data=data, environ_update=environ_update))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = json.loads(capsys.readouterr().out)
    out["_looked_up"] = looked_up
    return out


@pytest.mark.parametrize("args,match", [
    (dict(name="Not_Valid"), "not a valid kind cluster name"),
    (dict(workers=-1), "workers must be zero or a positive"),
    (dict(extra_port_mappings=[dict(container_port=80, host_port=18080, listen_address="0.0.0.0")]),
     "allow_public"),
    (dict(api_server_address="0.0.0.0"), "allow_public"),
])
def test_bad_input_fails_before_kind_is_looked_for(args, match, monkeypatch, capsys, tmp_path):
    args.setdefault("state_dir", str(tmp_path / "state"))
    res = run_main(kind_cluster, args, monkeypatch, capsys, bins={"kind": "/x/kind"})
    assert res["failed"] and match in res["msg"]
    assert res["_looked_up"] == [] and not res["changed"]
    assert not os.path.exists(str(tmp_path / "state"))


def test_missing_kind_names_how_to_install(monkeypatch, capsys, tmp_path):
    res = run_main(kind_cluster, dict(state_dir=str(tmp_path)), monkeypatch, capsys, bins={})
    assert res["failed"] and "kind binary was not found" in res["msg"]
    assert "kind.sigs.k8s.io" in res["msg"] and "kind_cluster_install: true" in res["msg"]


def test_missing_kind_for_load_image(monkeypatch, capsys):
    res = run_main(kind_load_image, dict(images=["x:1"]), monkeypatch, capsys, bins={})
    assert res["failed"] and "kind_cluster_install" in res["msg"]


def test_main_creates_then_is_idempotent(monkeypatch, capsys, tmp_path):
    double = FakeKindCLI()
    monkeypatch.setattr(kind_cluster, "Context", _context_with_probe(kind_cluster.Context))
    fake_bin = tmp_path / "kind"   # only has to be executable: FakeKindCLI answers the calls
    fake_bin.write_text("#!/bin/sh\nexit 99\n")
    fake_bin.chmod(0o755)
    bins = {"kind": str(fake_bin), "podman": "/usr/bin/podman"}
    args = dict(state_dir=str(tmp_path / "state"), workers=1)
    first = run_main(kind_cluster, args, monkeypatch, capsys, bins=bins, runner=double)
    assert first["changed"] and first["outcome"] == "created", first
    assert first["nodes"] == ["kubernaut-test-control-plane", "kubernaut-test-worker"]
    second = run_main(kind_cluster, args, monkeypatch, capsys, bins=bins, runner=double)
    assert not second["changed"] and second["outcome"] == "unchanged"
    assert second["kubeconfig"] == os.path.join(str(tmp_path / "state"), "kubernaut-test.kubeconfig")


def test_kind_path_that_is_not_executable(monkeypatch, capsys, tmp_path):
    res = run_main(kind_cluster, dict(state_dir=str(tmp_path), kind_path=str(tmp_path / "nope")),
                   monkeypatch, capsys, bins={})
    assert res["failed"] and "is not an executable file" in res["msg"]


def _context_with_probe(cls):
    """The double's API server does not exist; answer its /readyz probe."""
    def make(*a, **kw):
        kw["api_probe"] = lambda server, ca: "ok"
        return cls(*a, **kw)
    return make
