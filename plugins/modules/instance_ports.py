#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: instance_ports
short_description: Stable host ports for an instance of the infrastructure
version_added: 0.1.0
description:
  - The default instance C(dev) uses the ports given in I(defaults) (DD-008's 5432 and 6379).
  - Any other instance gets a free port per component, chosen once on the target host and stored in
    C(ports.json) in the instance's state directory; later runs reuse it, so two instances side by side
    never collide and their connection details do not change between runs.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Chooses the ports it would store, without storing them.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
options:
  instance:
    description: Instance name (lowercase letters, digits, dashes).
    type: str
    required: true
  state_dir:
    description:
      - The instance's state directory on the target host. Created (mode 0700) when missing, also for C(dev), because
        the service roles keep their files there.
    type: path
    required: true
  defaults:
    description: 'Port per component for the default instance, for example C({postgres: 5432, redis: 6379}).'
    type: dict
    required: true
  address:
    description: Bind address the ports are checked on.
    type: str
    default: 127.0.0.1
"""

EXAMPLES = r"""
- name: Ports for this instance
  kubernaut.devinfra.instance_ports:
    instance: "{{ devinfra_instance }}"
    state_dir: /root/.local/state/kubernaut-devinfra/ci-42
    defaults:
      postgres: 5432
      redis: 6379
  register: ports
"""

RETURN = r"""
ports:
  description: Host port per component.
  returned: always
  type: dict
  sample: {postgres: 27311, redis: 24107}
chosen:
  description: Components whose port was chosen in this run.
  returned: always
  type: list
  elements: str
path:
  description: The file that stores the assignment (not written for the default instance).
  returned: always
  type: str
state_dir:
  description: The state directory, with C(~) expanded on the target.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils import host, instance
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instance=dict(type="str", required=True),
            state_dir=dict(type="path", required=True),
            defaults=dict(type="dict", required=True),
            address=dict(type="str", default="127.0.0.1"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, chosen=[], path=os.path.join(p["state_dir"], instance.PORTS_FILE))
    try:
        instance.validate_instance(p["instance"])
        defaults = {}
        for component, port in p["defaults"].items():
            try:
                defaults[component] = int(port)
            except (TypeError, ValueError):
                raise DevinfraError("Default port %r for %s is not a number." % (port, component))
        result["state_dir"] = p["state_dir"]
        if not os.path.isdir(p["state_dir"]):
            result["changed"] = True
            result["diff"] = dict(before={"state_dir": None}, after={"state_dir": p["state_dir"]})
            if not module.check_mode:
                os.makedirs(p["state_dir"], 0o700)
        stored = instance.load_ports(p["state_dir"])
        ports, new = instance.choose_ports(
            p["instance"], defaults, stored, lambda port: host.port_is_free(p["address"], port))
        result.update(ports=ports, chosen=new)
        if new:
            result["changed"] = True
            diff = result.setdefault("diff", dict(before={}, after={}))
            diff["before"]["ports"] = stored
            diff["after"]["ports"] = ports
            if not module.check_mode:
                instance.save_ports(p["state_dir"], p["instance"], ports)
    except DevinfraError as err:
        fail_from_error(module, err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
