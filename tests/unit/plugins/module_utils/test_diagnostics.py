from ansible_collections.kubernaut.devinfra.plugins.module_utils.diagnostics import REDACTED, redact


def test_known_secret_values_are_removed_everywhere():
    text = 'x slm_password_dev y "Env": ["POSTGRES_PASSWORD=slm_password_dev"]'
    out = redact(text, ["slm_password_dev"])
    assert "slm_password_dev" not in out
    assert out.count(REDACTED) == 2


def test_secret_like_env_pairs_are_removed_without_knowing_the_value():
    out = redact('"REDIS_PASSWORD=hunter2", "PGPASSWORD=abc", "PATH=/usr/bin"', [])
    assert "hunter2" not in out and "abc" not in out and "PATH=/usr/bin" in out


def test_url_passwords_are_removed():
    out = redact("postgresql://slm_user:s3cret@127.0.0.1:5432/db redis://:pw@h:1/0", [])
    assert "s3cret" not in out and ":pw@" not in out
    assert "slm_user" in out


# --- kind: against the TEST DOUBLE of kind's CLI (kind cannot run here) ---

from ansible_collections.kubernaut.devinfra.plugins.module_utils import diagnostics  # noqa: E402
from ansible_collections.kubernaut.devinfra.plugins.module_utils.kind import KindCLI  # noqa: E402

from kind_double import FakeKindCLI  # noqa: E402


class NoContainers(object):
    """Stands in for PodmanCLI when only the kind part is under test."""

    def list_labelled(self, kind, label):
        return []


def test_kind_export_brings_back_node_logs_and_leaves_pods_on_the_target(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("kubernaut-test-ci", workers=1)
    cli = KindCLI(double, "kind")
    dest = str(tmp_path / "export")
    files = diagnostics.collect_kind(cli, "kubernaut-test-ci", dest, log_lines=5)
    assert double.calls[-1]["argv"] == ["kind", "export", "logs", dest, "--name", "kubernaut-test-ci"]
    assert double.calls[-1]["env"] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}
    assert "kind/kind-version.txt" in files and "kind/podman-info.txt" in files
    for node in ("kubernaut-test-ci-control-plane", "kubernaut-test-ci-worker"):
        assert files["kind/%s/kubelet.log" % node].splitlines() == [
            "TEST DOUBLE %s kubelet.log line %d" % (node, i) for i in range(295, 300)]
        assert "kind/%s/inspect.json" % node in files
    assert not any("/pods/" in name for name in files)
    assert files["kind/export.txt"].startswith("kind export logs --name kubernaut-test-ci -> %s: ok" % dest)


def test_kind_export_of_an_unknown_cluster_says_why():
    cli = KindCLI(FakeKindCLI(), "kind")
    files = diagnostics.collect_kind(cli, "nope", "/nonexistent/export")
    assert list(files) == ["kind/export.txt"]
    assert 'failed: ERROR: unknown cluster "nope"' in files["kind/export.txt"]


def test_kind_files_are_redacted_with_the_rest(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("c1")
    files = diagnostics.collect(NoContainers(), "ci", ["double-secret-token"],
                                kind=(KindCLI(double, "kind"), "c1", str(tmp_path / "x")))
    text = files["kind/c1-control-plane/inspect.json"]
    assert "double-secret-token" not in text and REDACTED in text


def test_at_most_max_files_come_back(tmp_path):
    double = FakeKindCLI()
    double.add_cluster("c2", workers=5)
    files = diagnostics.collect_kind(KindCLI(double, "kind"), "c2", str(tmp_path / "x"), max_files=4)
    assert len([n for n in files if n != "kind/export.txt"]) == 4
    assert "more files left on the target" in files["kind/export.txt"]
