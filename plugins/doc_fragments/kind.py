# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches kind_argument_spec() in plugins/module_utils/kind.py.
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Name of the kind cluster.
      - kind's rule applies (lowercase letters, digits, C(.) and C(-), C(^[a-z0-9.-]+$)); it must also
        start with a letter or digit and be at most 50 characters, because kind names the node
        containers C(<name>-control-plane), C(<name>-worker), ... after it.
    type: str
    default: kubernaut-test
  provider:
    description:
      - Container engine kind drives, passed as C(KIND_EXPERIMENTAL_PROVIDER).
    type: str
    default: podman
    choices: [podman]
  kind_path:
    description:
      - Absolute path of the C(kind) binary. By default it is looked up on C(PATH).
      - When it cannot be found the module fails and says how to install kind.
    type: path
requirements:
  - kind (tested against the CLI of kind v0.32.0)
  - podman
"""
