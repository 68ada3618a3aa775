"""Runs the molecule scenario `kind` (the kind_cluster role for real) when kind can run here.

Where it cannot - no kind binary, or no node image and no registry to pull it
from - the test is skipped with exactly what is missing, so `make test` shows
the reason instead of a silent pass.
"""

import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import REPO, VENV_BIN

NODE_IMAGE = ("kindest/node:v1.36.1@sha256:"
              "3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def registry_answers():
    try:
        urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=5)
        return True
    except urllib.error.HTTPError as exc:   # 401 is an answer
        return exc.code == 401
    except (urllib.error.URLError, OSError):
        return False


def missing():
    reasons = []
    if not shutil.which("kind"):
        reasons.append("kind binary not found on PATH")
    if not shutil.which("podman"):
        reasons.append("podman not found on PATH")
    elif subprocess.run(["podman", "image", "exists", NODE_IMAGE], check=False).returncode != 0 \
            and not registry_answers():
        reasons.append("node image %s is not in the local Podman store and docker.io does not "
                       "answer" % NODE_IMAGE)
    return reasons


def test_molecule_scenario_kind():
    reasons = missing()
    if reasons:
        pytest.skip("; ".join(reasons) + ": molecule scenario kind not run")
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(["molecule", "test", "-s", "kind"], cwd=os.path.join(REPO, "roles", "kind_cluster"),
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
