#!/usr/bin/env bash
# Run `ansible-test sanity` for kubernaut.devinfra offline (only PyPI reachable).
#
# Usage: tests/sanity/run.sh [extra ansible-test sanity args, e.g. --test pylint -v]
#   Env: PYTHON   interpreter whose ansible-test is used (default: `python` on PATH,
#                 i.e. the project venv when called from the Makefile)
#        BUILD    work dir (default: <repo>/build/sanity)
#
# What it does, and why:
#  1. ansible-test only accepts a collection whose real path (os.getcwd(), symlinks
#     resolved) ends in ansible_collections/<ns>/<name>. The checkout's
#     .collections/... symlink does not count, so the tracked + untracked-not-ignored
#     files are copied into $BUILD/ansible_collections/kubernaut/devinfra (fresh each
#     run, so deleted files never linger), made its own git work tree, and
#     ansible-test runs from there.
#  2. ansible-test creates one venv per sanity test (python -m venv --without-pip) and
#     bootstraps pip in it with get-pip-<ver>.py downloaded from
#     https://ci-files.testing.ansible.com (ansible_test/_util/target/setup/requirements.py,
#     bootstrap()), unless ~/.ansible/test/cache/get_pip_<ver>.py already exists. That
#     host is unreachable here, so we put there a stand-in that does what get-pip does:
#     run pip from the pip-<ver> wheel (fetched once from PyPI with `pip download`) to
#     install that same wheel, no network needed. The pinned sanity requirements
#     (ansible_test/_data/requirements/sanity.*.txt) then come from PyPI as usual.
#  3. HOME is pointed at $BUILD/home for ansible-test, so its cache and venvs
#     (~/.ansible/test/...) and pip's cache stay inside the build dir and the
#     developer's own ~/.ansible is never touched. Venvs are keyed by a hash of their
#     requirements, so re-runs reuse them (fast) and a new ansible-core re-creates them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
PYTHON="${PYTHON:-python}"
BUILD="${BUILD:-$REPO/build/sanity}"
NAMESPACE=kubernaut
NAME=devinfra
DEST="$BUILD/ansible_collections/$NAMESPACE/$NAME"
SANDBOX_HOME="$BUILD/home"

say() { printf 'sanity: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

command -v "$PYTHON" >/dev/null || die "no '$PYTHON' on PATH; activate the project venv (make venv)"
PYBIN="$(cd "$(dirname "$(command -v "$PYTHON")")" && pwd)"
ANSIBLE_TEST="$PYBIN/ansible-test"
[ -x "$ANSIBLE_TEST" ] || die "$ANSIBLE_TEST missing; install requirements-dev.txt into the venv"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
CORE_VER="$("$PYTHON" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')"
# ansible-test runs its sanity venvs from `pythonX.Y` found on PATH; make it this venv's.
export PATH="$PYBIN:$PATH"

mkdir -p "$BUILD"
# one run at a time per build dir: a second run would delete the tree under the first
exec 9>"$BUILD/.lock"
flock -n 9 || { say "another sanity run holds $BUILD/.lock; waiting"; flock 9; }

# --- 1. collection tree -------------------------------------------------------------
say "copying the checkout into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
(
  cd "$REPO"
  # tracked + new files, minus ignored ones (.venv, build/, caches) and the
  # .collections self-symlink (it would loop). Files deleted in the work tree are skipped.
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do
        case "$f" in .collections/*) continue ;; esac
        [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
      done \
    | tar --null -T - -cf - | tar -xf - -C "$DEST"
)
# Own (empty) git repo: otherwise ansible-test's git source provider finds the outer
# checkout, where build/ is ignored, and sees no files at all. Untracked files count.
git -c init.defaultBranch=main init -q "$DEST"

# --- 2. offline pip bootstrap for ansible-test's venvs -------------------------------
PIP_VER="$("$PYTHON" - <<'EOF'
import sys
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2]))["pip"])
EOF
)"
CACHE="$SANDBOX_HOME/.ansible/test/cache"
SHIM="$CACHE/get_pip_${PIP_VER//./_}.py"
WHEEL="$CACHE/pip-$PIP_VER-py3-none-any.whl"
mkdir -p "$CACHE"
if [ ! -s "$WHEEL" ]; then
  say "fetching pip $PIP_VER wheel from PyPI (once) for ansible-test's venv bootstrap"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$CACHE" "pip==$PIP_VER"
fi
cat >"$SHIM.tmp" <<'EOF'
# Stand-in for https://ci-files.testing.ansible.com/ansible-test/get-pip-<ver>.py,
# written by kubernaut.devinfra tests/sanity/run.sh: like get-pip.py, run pip from
# its wheel to install pip itself into the (pip-less) venv, from the local wheel.
import glob
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
version = os.path.basename(__file__)[len("get_pip_"):-len(".py")].replace("_", ".")
wheel = os.path.join(here, "pip-%s-py3-none-any.whl" % version)
if not os.path.exists(wheel):
    sys.exit("get-pip stand-in: %s missing; re-run tests/sanity/run.sh" % wheel)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(["install", "--upgrade", "--force-reinstall", "--no-index",
               "--find-links", here] + args))
EOF
mv "$SHIM.tmp" "$SHIM"

# --- 3. run -------------------------------------------------------------------------
# Sanity tests that cannot run here; each with what blocks it.
SKIPS=()
skip() { SKIPS+=(--skip-test "$1"); say "skipping $1: $2"; }
if ! command -v shellcheck >/dev/null; then
  skip shellcheck "no shellcheck binary (Debian: apt-get install shellcheck)"
fi
if ! command -v pwsh >/dev/null; then
  # ansible-test skips it by itself when no .ps1/.psm1 exist; say so when it matters
  if find "$DEST/plugins" -name '*.ps*1' 2>/dev/null | grep -q .; then
    skip pslint "no pwsh (PowerShell is not in Debian's archive)"
  fi
fi

IGNORE="$DEST/tests/sanity/ignore-$CORE_VER.txt"
[ -f "$IGNORE" ] || say "note: no tests/sanity/ignore-$CORE_VER.txt for ansible-core $CORE_VER (fine while ignore files are empty)"

say "ansible-test sanity --python $PYVER (ansible-core $CORE_VER) in $DEST"
start=$(date +%s)
cd "$DEST"
set +e
HOME="$SANDBOX_HOME" "$ANSIBLE_TEST" sanity --python "$PYVER" --color no "${SKIPS[@]}" "$@"
rc=$?
set -e
say "ansible-test sanity exited $rc after $(( $(date +%s) - start ))s (results: $DEST/tests/output/bot)"
exit $rc
