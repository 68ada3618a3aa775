"""`ansible-galaxy collection build` ships the collection and nothing else.

Builds the real checkout (what a release would publish) and, to prove that
galaxy.yml's build_ignore really works, a copy of it seeded with one file in every
place that must never be shipped. Then installs the tarball offline and checks that
ansible-doc finds and renders every module from the installed copy.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)

# Must be in the tarball: the collection's content.
REQUIRED = ["MANIFEST.json", "FILES.json", "meta/runtime.yml", "plugins", "roles", "playbooks",
            "migrations"]

# Must never be in the tarball: prefix -> why. Checked on path components, so
# "build/" does not match "roles/x/tasks/build.yml".
FORBIDDEN_DIRS = {
    ".venv": "the developer's virtualenv",
    ".devinfra": "runtime state (secrets, env files) written by the playbooks",
    ".collections": "the in-place symlink back to the checkout",
    "build": "sanity tree copy and built artefacts",
    "tests/output": "ansible-test results",
    ".pytest_cache": "pytest cache",
    "bench/results": "benchmark output",
    ".git": "VCS metadata",
    ".ansible": "ansible/ansible-lint caches",
    ".cache": "tool caches",
}

# Seeded into a copy of the checkout to prove the exclusions (not only that the dirs
# happen to be absent from the real tree right now).
SEEDS = [
    ".venv/lib/seed.py",
    ".devinfra/default/postgres.env",
    "build/ansible_collections/seed.txt",
    "tests/output/bot/seed.json",
    ".pytest_cache/v/cache/seed",
    "tests/unit/.pytest_cache/seed",
    "bench/results/seed.json",
    ".git/seed",
    ".ansible/seed",
    ".cache/seed",
    "plugins/module_utils/__pycache__/errors.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311.pyc",
    "plugins/module_utils/stray.pyc",
    "kubernaut-devinfra-0.0.1.tar.gz",
]


def _run(args, cwd, **env):
    full_env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
                    ANSIBLE_NOCOLOR="1", **env)
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, "%s failed (rc=%d)\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(args), proc.returncode, proc.stdout, proc.stderr)
    return proc


def _build(src, out):
    _run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--force",
          "--output-path", str(out), str(src)], cwd=str(src))
    tarballs = glob.glob(os.path.join(str(out), "kubernaut-devinfra-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(tarballs[0]) as tar:
        names = [m.name.rstrip("/") for m in tar.getmembers()]
    return tarballs[0], names


def _shipped_junk(names):
    junk = []
    for name in names:
        parts = name.split("/")
        for forbidden in FORBIDDEN_DIRS:
            fparts = forbidden.split("/")
            if any(parts[i:i + len(fparts)] == fparts for i in range(len(parts))):
                junk.append("%s (%s)" % (name, FORBIDDEN_DIRS[forbidden]))
        if "__pycache__" in parts or name.endswith(".pyc"):
            junk.append("%s (bytecode)" % name)
        if name.endswith(".tar.gz"):
            junk.append("%s (previously built artefact)" % name)
    return junk


def _copy_checkout(dest):
    """The files git knows about (tracked + untracked-not-ignored), like a fresh clone."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = os.path.join(REPO, rel)
        if rel.startswith(".collections/") or not os.path.isfile(src):
            continue
        target = os.path.join(str(dest), rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tarball built from the real checkout, and its member names."""
    return _build(REPO, tmp_path_factory.mktemp("dist"))


def test_build_contains_the_collection(built):
    names = built[1]
    missing = [req for req in REQUIRED
               if not any(n == req or n.startswith(req + "/") for n in names)]
    assert not missing, "tarball lacks %s" % missing
    modules = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "plugins/modules/*.py")))
    shipped = sorted(os.path.basename(n) for n in names
                     if n.startswith("plugins/modules/") and n.endswith(".py"))
    assert shipped == modules


def test_build_of_checkout_ships_no_junk(built):
    names = built[1]
    assert _shipped_junk(names) == []


def test_build_ignore_excludes_seeded_junk(tmp_path):
    src = tmp_path / "src"
    _copy_checkout(src)
    for rel in SEEDS:
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("must not be shipped\n")
    names = _build(src, tmp_path / "dist")[1]
    assert _shipped_junk(names) == []
    # the copy still ships the collection itself
    assert "meta/runtime.yml" in names


def test_tarball_installs_offline_and_ansible_doc_lists_modules(built, tmp_path):
    tarball = built[0]
    dest = tmp_path / "collections"
    # Hermetic: only `dest` on the collections path, no checkout ansible.cfg (it points at
    # .collections) and no ~/.ansible (a copy installed there, e.g. by molecule, would make
    # ansible-galaxy answer "already installed" and ansible-doc read the wrong files).
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = {"ANSIBLE_COLLECTIONS_PATH": str(dest), "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home")}
    # --offline: no Galaxy; --no-deps: containers.podman etc. come from the `ansible` package.
    _run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
          "--force", "-p", str(dest), tarball], cwd=str(tmp_path), **env)
    installed = dest / "ansible_collections" / "kubernaut" / "devinfra"
    assert (installed / "MANIFEST.json").is_file()

    listed = json.loads(_run([os.path.join(VENV_BIN, "ansible-doc"), "-t", "module", "-l", "-j",
                              "kubernaut.devinfra"], cwd=str(tmp_path), **env).stdout)
    expected = sorted("kubernaut.devinfra." + os.path.basename(p)[:-3]
                      for p in glob.glob(str(installed / "plugins/modules/*.py")))
    assert expected, "no modules in the installed collection"
    assert sorted(listed) == expected
    # every module's documentation renders (doc fragments resolve) from the installed copy
    docs = json.loads(_run([os.path.join(VENV_BIN, "ansible-doc"), "-t", "module", "-j"]
                           + expected, cwd=str(tmp_path), **env).stdout)
    assert sorted(docs) == expected
    for name, doc in docs.items():
        assert doc["doc"]["filename"].startswith(str(installed)), (name, doc["doc"]["filename"])
