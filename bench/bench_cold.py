"""Benchmark 5 (opt-in, --cold): cold start without a registry, once.

debootstrap of both Debian bases + both image builds + a bootstrap, through
the real playbook with devinfra_image_source=build. To be cold without
destroying the machine's shared image cache (other suites use it), Podman is
pointed at a throwaway storage root for this run only: CONTAINERS_STORAGE_CONF
names a storage.conf whose graphroot/runroot live in a temp directory, which
every podman call the roles make (containers.podman modules, the collection's
own modules, `podman build`) honours. The shared images are never touched;
the throwaway root, its images and its containers are removed afterwards.
"""

import os
import shutil
import tempfile

import common
from common import fmt_s, table, verdict

INSTANCE = "benchcold"


def storage_env(root):
    conf = os.path.join(root, "storage.conf")
    with open(conf, "w") as fh:
        fh.write('[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n'
                 % (os.path.join(root, "graph"), os.path.join(root, "run")))
    return {"CONTAINERS_STORAGE_CONF": conf}


def run():
    root = tempfile.mkdtemp(prefix="devinfra-bench-cold-", dir="/var/tmp")
    env = storage_env(root)
    state = os.path.join(root, "state")
    extra = {"devinfra_instance": INSTANCE, "devinfra_image_source": "build", "devinfra_state_dir": state}
    probe = common.podman("info", "--format", "{{.Store.GraphRoot}}", env=dict(os.environ, **env)).stdout.strip()
    if not probe.startswith(root):
        raise RuntimeError("podman ignored CONTAINERS_STORAGE_CONF (graph root %s); not running cold" % probe)
    common.log("cold: bootstrap with image builds into %s (takes minutes)" % root)
    try:
        wall, _proc, data = common.ansible_playbook("playbooks/bootstrap.yml", extra, env=env, json_output=True)
        durations = common.task_durations(data)
    finally:
        try:
            common.ansible_playbook("playbooks/cleanup.yml", dict(extra, devinfra_purge=True), env=env)
        except RuntimeError as exc:
            common.log("cold: cleanup failed: %s" % exc)
        podman_env = dict(os.environ, **env)
        out = common.podman("ps", "-a", "--format", "{{.Names}}", env=podman_env, check=False).stdout.split()
        for name in out:  # only the throwaway root's containers are listed here
            common.remove_container(name, env=podman_env)
        # Images are plain files once no container runs; no `podman rmi -a`, which
        # would hit the shared store if the environment were ever lost.
        with open("/proc/mounts") as fh:
            mounted = [line.split()[1] for line in fh if line.split()[1].startswith(root)]
        for point in sorted(mounted, reverse=True):
            common.run(["umount", point], check=False)
        shutil.rmtree(root, ignore_errors=True)
    phases = {}
    for name, secs in durations:
        key = ("debootstrap base images" if "base image" in name else
               "image builds" if "container_images : Build " in name else None)
        if key:
            phases[key] = phases.get(key, 0.0) + secs
    rows = [(k, fmt_s(v)) for k, v in sorted(phases.items())]
    rows.append(("everything else (bootstrap proper, Ansible)", fmt_s(wall - sum(phases.values()))))
    rows.append(("**total, ansible-playbook wall**", "**%s**" % fmt_s(wall)))
    text = ["## 5. Cold start without a registry", "",
            "One `bootstrap.yml -e devinfra_image_source=build` into an empty Podman storage root "
            "(CONTAINERS_STORAGE_CONF), Debian packages from the machine's configured mirror.", "",
            table(["phase", "time"], rows), "",
            "Target ≤ 3 min on 2 cores: %s." % verdict(wall <= 180), ""]
    return "\n".join(text), dict(wall=wall, phases=phases)


if __name__ == "__main__":
    print(run()[0])
