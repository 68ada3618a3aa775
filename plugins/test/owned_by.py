# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: owned_by
short_description: Whether a resource's labels say it belongs to kubernaut.devinfra and an instance
version_added: 0.1.0
description:
  - True when the labels carry C(io.kubernaut.devinfra.managed-by=kubernaut.devinfra) and
    C(io.kubernaut.devinfra.instance=<instance>). Cleanup uses it on every item it would remove, because
    Podman ORs repeated label filters for volumes and networks.
positional: instance
options:
  _input:
    description: The resource's labels (a dict; null counts as no labels).
    type: dict
    required: true
  instance:
    description: The instance that must own the resource.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Our volumes only
  ansible.builtin.debug:
    msg: "{{ volumes | selectattr('Labels', 'kubernaut.devinfra.owned_by', 'dev') | map(attribute='Name') }}"
"""

RETURN = r"""
_value:
  description: Whether the resource is ours and the instance's.
  type: bool
"""

from ansible_collections.kubernaut.devinfra.plugins.module_utils.podman import is_owned


class TestModule(object):
    def tests(self):
        return {"owned_by": is_owned}
