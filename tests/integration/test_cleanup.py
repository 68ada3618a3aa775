"""Cleanup removes exactly one instance's labelled resources.

Podman ORs repeated --filter label=... for volumes and networks (it ANDs
them only for containers); a cleanup that trusted the filters once purged
every instance's volumes, and removing a volume in use removes its container.
"""

import json
import uuid

from conftest import REPO, podman, run_playbook

CLEANUP = REPO + "/playbooks/cleanup.yml"
OURS = "io.kubernaut.devinfra.managed-by=kubernaut.devinfra"


def test_purge_of_one_instance_leaves_other_instances_and_unlabelled_things():
    tag = uuid.uuid4().hex[:6]
    mine, other = "cu-a-" + tag, "cu-b-" + tag
    names = {
        "mine": "cu-mine-" + tag,
        "other": "cu-other-" + tag,
        "half": "cu-half-" + tag,       # instance label only: not ours
        "plain": "cu-plain-" + tag,     # no labels at all
    }
    podman("volume", "create", "--label", OURS, "--label", "io.kubernaut.devinfra.instance=" + mine, names["mine"])
    podman("volume", "create", "--label", OURS, "--label", "io.kubernaut.devinfra.instance=" + other, names["other"])
    podman("volume", "create", "--label", "io.kubernaut.devinfra.instance=" + mine, names["half"])
    podman("volume", "create", names["plain"])
    podman("create", "--name", names["other"], "-v", names["other"] + ":/data",
           "--label", OURS, "--label", "io.kubernaut.devinfra.instance=" + other, "localhost/kubernaut-devinfra/redis:7")
    podman("create", "--name", names["half"], "--label", "io.kubernaut.devinfra.instance=" + mine,
           "localhost/kubernaut-devinfra/redis:7")
    try:
        run = run_playbook(CLEANUP, {"devinfra_instance": mine, "devinfra_purge": True})
        assert run.rc == 0, run.stdout[-3000:]
        assert podman("volume", "exists", names["mine"], check=False).returncode == 1
        for key in ("other", "half", "plain"):
            assert podman("volume", "exists", names[key], check=False).returncode == 0, key
        assert podman("container", "exists", names["other"], check=False).returncode == 0
        assert podman("container", "exists", names["half"], check=False).returncode == 0
        again = run_playbook(CLEANUP, {"devinfra_instance": mine, "devinfra_purge": True})
        assert again.rc == 0 and again.stats["changed"] == 0
    finally:
        for key in ("other", "half"):
            podman("rm", "-f", "-v", names[key], check=False)
        for name in names.values():
            podman("volume", "rm", "-f", name, check=False)


def test_purge_refuses_a_volume_a_foreign_container_uses_and_check_mode_removes_nothing():
    tag = uuid.uuid4().hex[:6]
    mine = "cu-c-" + tag
    labels = ["--label", OURS, "--label", "io.kubernaut.devinfra.instance=" + mine]
    volume, ours_ctr, foreign = "cu-vol-" + tag, "cu-ours-" + tag, "cu-foreign-" + tag
    podman(*(["volume", "create"] + labels + [volume]))
    podman(*(["create", "--name", ours_ctr] + labels + ["localhost/kubernaut-devinfra/redis:7"]))
    # The image declares VOLUME /data; nothing mounted there, so the container has an anonymous volume.
    anonymous = [m["Name"] for m in json.loads(podman("inspect", ours_ctr).stdout)[0]["Mounts"]
                 if m.get("Type") == "volume" and m.get("Name") != volume]
    podman("create", "--name", foreign, "-v", volume + ":/data", "localhost/kubernaut-devinfra/redis:7")
    try:
        dry = run_playbook(CLEANUP, {"devinfra_instance": mine, "devinfra_purge": True}, check=True)
        assert dry.rc == 0, dry.stdout[-3000:]
        assert podman("container", "exists", ours_ctr, check=False).returncode == 0
        assert podman("volume", "exists", volume, check=False).returncode == 0

        run = run_playbook(CLEANUP, {"devinfra_instance": mine, "devinfra_purge": True})
        assert run.rc != 0
        assert "left alone on purpose" in run.stdout, run.stdout[-3000:]
        # Our container went; the foreign one and the volume it uses stayed.
        assert podman("container", "exists", ours_ctr, check=False).returncode == 1
        assert podman("container", "exists", foreign, check=False).returncode == 0
        assert podman("volume", "exists", volume, check=False).returncode == 0
        # ...and its anonymous volume went with it instead of lingering, unlabelled, in the store.
        assert anonymous and all(podman("volume", "exists", a, check=False).returncode == 1 for a in anonymous)
    finally:
        for name in (foreign, ours_ctr):
            podman("rm", "-f", "-v", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)
