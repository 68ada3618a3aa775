# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: redact
short_description: Remove secrets from a text
version_added: 0.1.0
description:
  - Replaces the given secret values, C(KEY=value) pairs whose key names a password, secret or token,
    and passwords inside URLs with C(<redacted>).
positional: secrets
options:
  _input:
    description: The text.
    type: str
    required: true
  secrets:
    description: Secret values to remove.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: A message without the password in it
  ansible.builtin.debug:
    msg: "{{ result.msg | kubernaut.devinfra.redact([postgres_pgvector_password]) }}"
"""

RETURN = r"""
_value:
  description: The redacted text.
  type: str
"""

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.kubernaut.devinfra.plugins.module_utils.diagnostics import redact


def redact_filter(text, secrets=None):
    return redact(to_text(text), [to_text(s) for s in (secrets or [])])


class FilterModule(object):
    def filters(self):
        return {"redact": redact_filter}
