"""Benchmark 1: playbooks/bootstrap.yml vs the hand-written script, and the bootstrap profile.

Ours runs as instance `bench` (never a developer's `dev`): warm bootstrap from
nothing (images present, no containers, no volumes), a no-op re-run, then
cleanup.yml with devinfra_purge=true (containers and volumes, the same work
as the baseline's cleanup). The baseline is bench/baseline/{bootstrap,cleanup}.sh
on the same images with its own names and free ports. Pairs are interleaved,
the order alternating, so both see the same machine.
"""

import collections
import os
import shutil
import tempfile
import time

import common
from common import fmt_ratio, fmt_s, median, table, verdict

INSTANCE = "bench"
BOOTSTRAP = "playbooks/bootstrap.yml"
CLEANUP = "playbooks/cleanup.yml"
OURS_VARS = {"devinfra_instance": INSTANCE}
# The same no-op without the stamp's fast path: every role's steps, each finding nothing to do.
FULL_VARS = {"devinfra_instance": INSTANCE, "devinfra_fast_path": False}
PURGE_VARS = {"devinfra_instance": INSTANCE, "devinfra_purge": True}


def psql_mode():
    """host: the machine's psql on the published port (the faster baseline); exec: psql in the container."""
    forced = os.environ.get("BASELINE_PSQL")
    if forced in ("host", "exec"):
        return forced
    return "host" if shutil.which("psql") else "exec"


class Baseline(object):
    def __init__(self, tag):
        self.tag = tag

    def env(self):
        env = dict(os.environ)
        env.update(BASELINE_NAME="bench-%s" % self.tag, BASELINE_PG_PORT=str(common.free_port()),
                   BASELINE_REDIS_PORT=str(common.free_port()), BASELINE_PSQL=psql_mode(),
                   POSTGRES_IMAGE=common.POSTGRES_IMAGE, REDIS_IMAGE=common.REDIS_IMAGE,
                   MIGRATIONS_DIR=os.path.join(common.REPO, "migrations"))
        return env

    def bootstrap(self):
        env = self.env()
        self._env = env
        start = time.monotonic()
        common.run(["bash", os.path.join(common.BENCH, "baseline", "bootstrap.sh")], env=env)
        return time.monotonic() - start

    def cleanup(self):
        start = time.monotonic()
        common.run(["bash", os.path.join(common.BENCH, "baseline", "cleanup.sh")], env=self._env)
        return time.monotonic() - start

    def force_remove(self):
        name = "bench-%s" % self.tag
        for c in ("baseline-postgres-" + name, "baseline-redis-" + name):
            common.remove_container(c)
            common.podman("volume", "rm", "-f", c + "-data", check=False)


def ours_cleanup_quiet():
    try:
        common.ansible_playbook(CLEANUP, PURGE_VARS)
    except RuntimeError as exc:
        common.log("cleanup of instance %s failed: %s" % (INSTANCE, exc))


def run(pairs):
    s = collections.defaultdict(list)
    baseline = Baseline("b1")
    ours_cleanup_quiet()
    baseline.force_remove()
    try:
        for i in range(pairs):
            def ours():
                s["ours_bootstrap"].append(common.ansible_playbook(BOOTSTRAP, OURS_VARS)[0])
                s["ours_noop"].append(common.ansible_playbook(BOOTSTRAP, OURS_VARS)[0])
                s["ours_noop_full"].append(common.ansible_playbook(BOOTSTRAP, FULL_VARS)[0])
                s["ours_cleanup"].append(common.ansible_playbook(CLEANUP, PURGE_VARS)[0])

            def script():
                s["script_bootstrap"].append(baseline.bootstrap())
                s["script_cleanup"].append(baseline.cleanup())

            for fn in ((ours, script) if i % 2 == 0 else (script, ours)):
                fn()
            common.log("bootstrap: pair %d/%d: ours %.1fs / noop %.1fs / cleanup %.1fs; script %.1fs / %.1fs"
                       % (i + 1, pairs, s["ours_bootstrap"][-1], s["ours_noop"][-1], s["ours_cleanup"][-1],
                          s["script_bootstrap"][-1], s["script_cleanup"][-1]))
    finally:
        ours_cleanup_quiet()
        baseline.force_remove()
    return report(s, pairs)


def report(s, pairs):
    m = dict((k, median(v)) for k, v in s.items())
    r_boot = m["ours_bootstrap"] / m["script_bootstrap"]
    r_noop = m["ours_noop"] / m["script_bootstrap"]
    r_clean = m["ours_cleanup"] / m["script_cleanup"]
    rows = [
        ("warm bootstrap (images present, no containers/volumes)", fmt_s(m["ours_bootstrap"]),
         fmt_s(m["script_bootstrap"]), fmt_ratio(r_boot), "≤ 2.0×", verdict(r_boot <= 2.0)),
        ("no-op re-run (vs the script's bootstrap)", fmt_s(m["ours_noop"]), fmt_s(m["script_bootstrap"]),
         fmt_ratio(r_noop), "≤ 1.5×", verdict(r_noop <= 1.5)),
        ("cleanup incl. volumes (purge)", fmt_s(m["ours_cleanup"]), fmt_s(m["script_cleanup"]),
         fmt_ratio(r_clean), "≤ 3×", verdict(r_clean <= 3.0)),
        ("no-op re-run without the fast path (`devinfra_fast_path=false`, for reference)",
         fmt_s(m["ours_noop_full"]), fmt_s(m["script_bootstrap"]),
         fmt_ratio(m["ours_noop_full"] / m["script_bootstrap"]), "-", "-"),
    ]
    text = ["## 1. Bootstrap vs a hand-written shell script", "",
            "Ours: `ansible-playbook playbooks/bootstrap.yml -e devinfra_instance=%s` (wall time, process start "
            "to exit) and `cleanup.yml -e devinfra_purge=true`. Baseline: `bench/baseline/bootstrap.sh` / "
            "`cleanup.sh` (podman run ×2 with 127.0.0.1 ports and named volumes, a 0.1 s poll loop until "
            "`SELECT 1`/`PING`, migrations/*.sql through psql with ON_ERROR_STOP and one transaction per "
            "file). Baseline psql mode: **%s** (%s). %d interleaved pairs, order alternating."
            % (INSTANCE, psql_mode(), "the host's psql on the published port; Redis PING over bash /dev/tcp"
               if psql_mode() == "host" else "psql and redis-cli inside the containers via podman exec", pairs),
            "",
            table(["measure", "ours (median)", "script (median)", "ratio", "target", "verdict"], rows), "",
            "Raw samples (s): " + "; ".join("%s %s" % (k, " ".join("%.2f" % x for x in v)) for k, v in s.items()),
            ""]
    return "\n".join(text), dict(medians=m)


# --------------------------------------------------------------------------- profile

def classify(action, name):
    if action.startswith("containers.podman.") or "podman" in name.lower() and action == "ansible.builtin.command":
        return "podman calls"
    if action in ("kubernaut.devinfra.postgres_ready", "kubernaut.devinfra.redis_ready"):
        return "readiness waits"
    if action == "kubernaut.devinfra.postgres_migrate":
        return "migrations"
    if action in ("ansible.builtin.set_fact", "ansible.builtin.assert", "ansible.builtin.debug",
                  "ansible.builtin.include_tasks", "ansible.builtin.include_role", "include_tasks",
                  "include_role", "ansible.builtin.validate_argument_spec", "ansible.builtin.fail",
                  "ansible.builtin.meta", ""):
        return "controller-only tasks (set_fact/assert/include)"
    if action in ("ansible.builtin.file", "ansible.builtin.copy", "ansible.builtin.template",
                  "ansible.builtin.find", "ansible.builtin.stat"):
        return "file/copy/template/find"
    return "other modules (%s)" % action.split(".")[-1]


def profile_run(extra_vars, label, playbook=BOOTSTRAP):
    wall, _proc, data = common.ansible_playbook(playbook, extra_vars, json_output=True)
    tasks = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            dur = task["task"].get("duration", {})
            res = task.get("hosts", {}).get("localhost", {})
            if not (dur.get("start") and dur.get("end")):
                continue
            secs = common._iso_seconds(dur["end"]) - common._iso_seconds(dur["start"])
            tasks.append(dict(name=task["task"]["name"], action=res.get("action", ""), secs=secs,
                              skipped=bool(res.get("skipped")), start=common._iso_seconds(dur["start"]),
                              end=common._iso_seconds(dur["end"]), result=res))
    return dict(label=label, wall=wall, tasks=tasks)


def startup_and_overhead(tmp):
    """ansible-playbook start-up (an empty play) and per-task cost of a trivial module and of set_fact."""
    def play(path, tasks):
        with open(path, "w") as fh:
            fh.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + tasks)
        return path
    n = 20
    empty = play(os.path.join(tmp, "empty.yml"), "    []\n")
    pings = play(os.path.join(tmp, "ping.yml"), "".join(
        "    - name: ping %d\n      ansible.builtin.ping:\n" % i for i in range(n)))
    facts = play(os.path.join(tmp, "facts.yml"), "".join(
        "    - name: fact %d\n      ansible.builtin.set_fact:\n        x%d: %d\n" % (i, i, i) for i in range(n)))
    out = collections.defaultdict(list)
    for dummy in range(3):
        out["empty"].append(common.ansible_playbook(empty)[0])
        out["ping"].append(common.ansible_playbook(pings)[0])
        out["facts"].append(common.ansible_playbook(facts)[0])
        # ansible.cfg sets pipelining under [ssh_connection] only; the local connection reads the general setting.
        out["ping_pipelined"].append(common.ansible_playbook(pings, env={"ANSIBLE_PIPELINING": "True"})[0])
    e = median(out["empty"])
    return dict(startup=e, per_module=(median(out["ping"]) - e) / n, per_set_fact=(median(out["facts"]) - e) / n,
                per_module_pipelined=(median(out["ping_pipelined"]) - e) / n)


def profile():
    tmp = tempfile.mkdtemp(prefix="devinfra-bench-profile-")
    try:
        ours_cleanup_quiet()
        try:
            runs = [profile_run(OURS_VARS, "warm bootstrap"), profile_run(OURS_VARS, "no-op re-run"),
                    profile_run(FULL_VARS, "no-op re-run without the fast path"),
                    profile_run(PURGE_VARS, "cleanup (purge)", CLEANUP)]
        except Exception:
            ours_cleanup_quiet()
            raise
        base = startup_and_overhead(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = ["## Profile: where a bootstrap spends its time", "",
             "From one warm bootstrap, one no-op re-run and one cleanup with the `ansible.posix.json` callback (per-task start/end "
             "stamps, like profile_tasks). ansible-playbook start-up = an empty play; per-task cost = 20 "
             "`ansible.builtin.ping` (a module round trip) or 20 `set_fact` tasks, minus the empty play; 3 runs each.",
             "",
             table(["fixed cost", "median"], [
                 ("ansible-playbook start-up and exit (empty play)", fmt_s(base["startup"])),
                 ("per module task (ansible.builtin.ping, local connection)", fmt_s(base["per_module"])),
                 ("per module task with ANSIBLE_PIPELINING=True", fmt_s(base["per_module_pipelined"])),
                 ("per controller-only task (set_fact)", fmt_s(base["per_set_fact"])),
             ]), ""]
    for r in runs:
        tasks = r["tasks"]
        executed = [t for t in tasks if not t["skipped"]]
        in_tasks = sum(t["secs"] for t in tasks)
        by_cat = collections.defaultdict(lambda: [0.0, 0])
        for t in tasks:
            key = "skipped tasks" if t["skipped"] else classify(t["action"], t["name"])
            by_cat[key][0] += t["secs"]
            by_cat[key][1] += 1
        module_runs = sum(len(t["result"].get("results") or [None]) for t in executed
                          if classify(t["action"], t["name"]) != "controller-only tasks (set_fact/assert/include)")
        floor = base["startup"] + module_runs * base["per_module"]
        waits = [t for t in executed if t["action"].endswith("_ready")]
        wait_inside = sum(t["result"].get("elapsed_ms", 0) for t in waits) / 1000.0
        lines += ["### %s: %s wall, %d tasks (%d ran, %d skipped)" % (
            r["label"], fmt_s(r["wall"]), len(tasks), len(executed), len(tasks) - len(executed)), "",
            table(["where", "time", "tasks", "share of wall"],
                  [("outside tasks (start-up, parsing, includes, exit)", fmt_s(r["wall"] - in_tasks), "",
                    "%.0f%%" % (100 * (r["wall"] - in_tasks) / r["wall"]))] +
                  [(k, fmt_s(v[0]), v[1], "%.0f%%" % (100 * v[0] / r["wall"]))
                   for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1][0])]), "",
            "Readiness modules' own waiting (elapsed_ms they report): %s of the %s their tasks took."
            % (fmt_s(wait_inside), fmt_s(sum(t["secs"] for t in waits))), "",
            "Module runs (loop items counted): %d. Start-up plus that many runs at the per-module cost above, with "
            "no work done at all: %s, the floor for this sequence of tasks." % (module_runs, fmt_s(floor)), "",
            "Top tasks:", "",
            table(["task", "module", "time"],
                  [(t["name"], t["action"], fmt_s(t["secs"]))
                   for t in sorted(tasks, key=lambda t: -t["secs"])[:12]]), ""]
    return "\n".join(lines), dict(base=base, runs=[dict(label=r["label"], wall=r["wall"]) for r in runs])


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["profile"]:
        print(profile()[0])
    else:
        print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)[0])
