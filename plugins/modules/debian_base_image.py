#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: debian_base_image
short_description: Build a Debian base image with debootstrap and podman import
version_added: 0.1.0
description:
  - Creates a minimal Debian root filesystem with C(debootstrap) and imports it into Podman's image
    store, so the collection can build its PostgreSQL and Redis images where no container registry answers.
  - The image carries a label with the hash of its inputs (suite, variant, mirror, extra packages).
    An image whose label matches is left alone, so a re-run builds nothing.
author:
  - kubernaut developers (@kubernaut)
requirements:
  - podman
  - debootstrap
  - root on the target host
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Reports whether the image would be built, without running debootstrap.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
options:
  name:
    description: Image reference to create, for example C(localhost/kubernaut-devinfra/debian:trixie).
    type: str
    required: true
  suite:
    description: Debian suite or codename, for example C(trixie) or C(bookworm).
    type: str
    required: true
  mirror:
    description: Debian mirror that debootstrap downloads from.
    type: str
    default: http://deb.debian.org/debian
  variant:
    description: debootstrap variant.
    type: str
    default: minbase
    choices: [minbase, buildd, fakechroot]
  include:
    description: Extra packages to install into the base.
    type: list
    elements: str
    default: [ca-certificates]
  labels:
    description: Extra image labels.
    type: dict
    default: {}
  force:
    description: Rebuild even when an image with the same inputs exists.
    type: bool
    default: false
  workdir:
    description: Directory for the scratch root filesystem (needs about 300 MB free). Defaults to the system temporary directory.
    type: path
"""

EXAMPLES = r"""
- name: Debian trixie base for the PostgreSQL image
  kubernaut.devinfra.debian_base_image:
    name: localhost/kubernaut-devinfra/debian:trixie
    suite: trixie
"""

RETURN = r"""
image:
  description: The image reference.
  returned: always
  type: str
  sample: localhost/kubernaut-devinfra/debian:trixie
inputs_hash:
  description: SHA-256 of the inputs, stored in the image label C(io.kubernaut.devinfra.inputs-hash).
  returned: always
  type: str
state:
  description: What was found before the run - C(absent), C(stale) (other inputs) or C(current).
  returned: always
  type: str
executed:
  description: Commands that were run (or would be, in check mode).
  returned: always
  type: list
  elements: str
elapsed_ms:
  description: Time the module spent, in milliseconds.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.debootstrap import (
    build_base_image, debootstrap_argv, inputs_hash, plan)
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import INPUTS_HASH_LABEL, PodmanCLI


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            suite=dict(type="str", required=True),
            mirror=dict(type="str", default="http://deb.debian.org/debian"),
            variant=dict(type="str", default="minbase", choices=["minbase", "buildd", "fakechroot"]),
            include=dict(type="list", elements="str", default=["ca-certificates"]),
            labels=dict(type="dict", default={}),
            force=dict(type="bool", default=False),
            workdir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    started = time.monotonic()
    wanted = inputs_hash(p["suite"], p["variant"], p["mirror"], p["include"])
    result = dict(changed=False, image=p["name"], inputs_hash=wanted, executed=[])
    try:
        podman = PodmanCLI(module)
        podman.require()
        state = plan(podman.image_labels(p["name"]), wanted, p["force"])
        result["state"] = state
        if state != "current":
            result["changed"] = True
            result["executed"] = [
                " ".join(debootstrap_argv("debootstrap", p["suite"], "<scratch>", p["variant"], p["mirror"], p["include"])),
                "podman import <scratch>.tar %s" % p["name"],
            ]
            result["diff"] = dict(before={"image": p["name"], "inputs_hash": None if state == "absent" else "other"},
                                  after={"image": p["name"], "inputs_hash": wanted})
            if not module.check_mode:
                labels = dict(p["labels"])
                labels[INPUTS_HASH_LABEL] = wanted
                build_base_image(module, podman, p["name"], p["suite"], p["variant"], p["mirror"],
                                 p["include"], labels, p["workdir"])
    except DevinfraError as err:
        fail_from_error(module, err, **result)
    result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
