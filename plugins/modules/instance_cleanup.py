#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: instance_cleanup
short_description: Remove one instance's labelled containers, networks and (with purge) volumes, in one step
version_added: 0.1.0
description:
  - Lists the containers, networks and volumes labelled with I(instance), one C(podman) listing each. It keeps only
    the items that carry both labels, C(io.kubernaut.devinfra.managed-by=kubernaut.devinfra) and
    C(io.kubernaut.devinfra.instance=<instance>). It removes those by ID, one C(podman) call per kind of resource.
  - Podman ORs repeated label filters for volumes and networks, so each item's labels are checked here. Nothing
    without both labels is ever touched.
  - Containers are removed with their anonymous volumes (C(podman rm --volumes)), so that none are left behind.
    Named volumes are never removed that way.
  - Volumes are removed only with I(purge), and without C(--force). A volume that a container outside this
    instance still uses makes the module fail and leaves that container running.
  - With I(purge) and I(state_dir), the instance's state directory on the target (ports, suite assignments) goes
    too. If it holds kind cluster records, it is kept and the clusters are named in C(kind_clusters), so that
    M(kubernaut.devinfra.kind_cluster) can delete them first.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Lists what would be removed and removes nothing.
    support: full
  diff_mode:
    description: Names the resources before and after.
    support: full
options:
  instance:
    description: The instance to clean up.
    type: str
    required: true
  purge:
    description: Also remove the volumes (the data) and the state directory.
    type: bool
    default: false
  state_dir:
    description: The instance's state directory on the target; removed with I(purge).
    type: path
  remove_paths:
    description:
      - More paths on the target to remove after the resources, files or directories. C(cleanup.yml) passes the
        connection manifest here when the target is the controller itself, which saves a task.
    type: list
    elements: path
    default: []
  stop_timeout:
    description:
      - Seconds each container gets to stop before it is killed.
      - Omitted, a purge kills at once, because its data is removed right after. Without purge, each container's
        own stop timeout applies, so that PostgreSQL shuts down cleanly and its data survives.
    type: int
"""

EXAMPLES = r"""
- name: Remove the ci-7 instance's containers, keep its data
  kubernaut.devinfra.instance_cleanup:
    instance: ci-7

- name: Remove everything of ci-7, data included
  kubernaut.devinfra.instance_cleanup:
    instance: ci-7
    purge: true
    state_dir: ~/.local/state/kubernaut-devinfra/ci-7
"""

RETURN = r"""
removed:
  description: Names of what was removed (or would be, in check mode), per kind.
  returned: always
  type: dict
  sample: {containers: [datastorage-postgres-ci-7, redis-context-api-ci-7], networks: [], volumes: [], paths: []}
state_dir_removed:
  description: Whether the state directory was removed (or would be).
  returned: always
  type: bool
kind_clusters:
  description: Kind clusters recorded in the state directory. With them, the state directory is kept.
  returned: always
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils import instance as instance_utils
from ansible_collections.kubernaut.devinfra.plugins.module_utils import podman
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error

KINDS = ("containers", "networks", "volumes")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instance=dict(type="str", required=True),
            purge=dict(type="bool", default=False),
            state_dir=dict(type="path"),
            stop_timeout=dict(type="int"),
            remove_paths=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, removed=dict((k, []) for k in KINDS), state_dir_removed=False, kind_clusters=[])
    try:
        instance_utils.validate_instance(p["instance"])
        cli = podman.PodmanCLI(module)
        label = "%s=%s" % (podman.INSTANCE_LABEL, p["instance"])
        kinds = KINDS if p["purge"] else KINDS[:2]
        listed = dict((k, cli.list_labelled(k, label)) for k in kinds)
        owned = podman.owned_resources(listed.get("containers"), listed.get("networks"), listed.get("volumes"),
                                       p["instance"])
        state_dir = p["state_dir"]
        kind_dir = os.path.join(state_dir, "kind") if state_dir else None
        if kind_dir and os.path.isdir(kind_dir):
            result["kind_clusters"] = sorted(n[:-5] for n in os.listdir(kind_dir) if n.endswith(".json"))
        remove_state = bool(p["purge"] and state_dir and os.path.isdir(state_dir) and not result["kind_clusters"])
        for kind in KINDS:
            result["removed"][kind] = [item["name"] for item in owned[kind]]
        result["removed"]["paths"] = [path for path in p["remove_paths"] if os.path.lexists(path)]
        result["state_dir_removed"] = remove_state
        result["changed"] = remove_state or any(result["removed"][k] for k in KINDS + ("paths",))
        if module._diff and result["changed"]:
            before = dict((k, result["removed"][k]) for k in KINDS + ("paths",))
            if remove_state:
                before["state_dir"] = state_dir
            result["diff"] = dict(before=before, after=dict((k, []) for k in before))
        if not module.check_mode:
            # Containers first: networks and volumes in use cannot go before them.
            stop_timeout = p["stop_timeout"]
            if stop_timeout is None and p["purge"]:
                stop_timeout = 0
            for kind in KINDS:
                cli.remove(kind, [item["id"] for item in owned[kind]], stop_timeout=stop_timeout)
            if remove_state:
                shutil.rmtree(state_dir)
            for path in result["removed"]["paths"]:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
    except DevinfraError as err:
        fail_from_error(module, err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
