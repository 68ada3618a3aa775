# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  wait_timeout:
    description:
      - How long to keep probing, in seconds, before failing.
      - The failure names the time waited, the number of attempts and the last error seen.
    type: float
    default: 60
  wait_interval:
    description:
      - First pause between probes, in seconds. It grows gently up to 0.05 s (or stays at this value if it is larger).
    type: float
    default: 0.02
"""
