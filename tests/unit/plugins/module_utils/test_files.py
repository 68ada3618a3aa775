import os

from ansible_collections.kubernaut.devinfra.plugins.module_utils.files import apply_files, plan_files


def test_first_write_then_nothing_then_prune(tmp_path):
    root = str(tmp_path / "m")
    files = {"connection.json": "{}\n", "env": "A=1\n", "suites/a.env": "X=1\n", "suites/b.env": "X=2\n"}
    writes, removals = plan_files(root, files, ["suites"], 0o600)
    assert writes == sorted(files) and removals == []
    apply_files(root, files, writes, removals, 0o600)
    assert oct(os.stat(os.path.join(root, "env")).st_mode & 0o777) == "0o600"
    assert plan_files(root, files, ["suites"], 0o600) == ([], [])
    del files["suites/b.env"]
    files["env"] = "A=2\n"
    writes, removals = plan_files(root, files, ["suites"], 0o600)
    assert writes == ["env"] and removals == ["suites/b.env"]
    apply_files(root, files, writes, removals, 0o600)
    assert not os.path.exists(os.path.join(root, "suites", "b.env"))


def test_mode_drift_is_a_change(tmp_path):
    root = str(tmp_path)
    apply_files(root, {"env": "A=1\n"}, ["env"], [], 0o644)
    assert plan_files(root, {"env": "A=1\n"}, [], 0o600) == (["env"], [])
