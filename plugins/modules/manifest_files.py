#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: manifest_files
short_description: Write the connection manifest's files in one step, secrets kept out of the output
version_added: 0.1.0
description:
  - Writes each file in I(files) under I(path) atomically with I(mode), only when its content or mode differs,
    and removes files in the I(prune) subdirectories that are no longer listed (a suite that was dropped).
  - One call instead of a task per file; file contents are never returned, only names.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details: The diff names the files written and removed, never their content.
options:
  path:
    description: Directory that holds the files; created with mode 0700 when missing.
    type: path
    required: true
  files:
    description: Relative file name to content.
    type: dict
    required: true
  mode:
    description: Mode of every file, as an octal string.
    type: str
    default: "0600"
  prune:
    description: Subdirectories of I(path) whose unlisted files are removed.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write the manifest
  kubernaut.devinfra.manifest_files:
    path: .devinfra/dev
    files:
      connection.json: "{{ manifest | to_nice_json }}"
      env: "DATABASE_URL=...\n"
    prune: [suites]
  delegate_to: localhost
"""

RETURN = r"""
written:
  description: Files (re)written, relative to I(path).
  returned: always
  type: list
  elements: str
removed:
  description: Stale files removed, relative to I(path).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.files import apply_files, plan_existing, plan_files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="dict", required=True, no_log=True),
            mode=dict(type="str", default="0600"),
            prune=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, written=[], removed=[])
    try:
        try:
            mode = int(p["mode"], 8)
        except ValueError:
            raise DevinfraError("mode %r is not an octal file mode such as 0600." % p["mode"])
        for name in p["files"]:
            if name.startswith("/") or ".." in name.split("/"):
                raise DevinfraError("File name %r must stay inside %s." % (name, p["path"]))
        files = dict((k, "%s" % v) for k, v in p["files"].items())
        writes, removals = plan_files(p["path"], files, p["prune"], mode)
        result.update(written=writes, removed=removals, changed=bool(writes or removals))
        if result["changed"]:
            result["diff"] = dict(
                before="".join("%s\n" % name for name in sorted(set(writes) | set(removals))
                               if plan_existing(p["path"], name)),
                after="".join("%s\n" % name for name in writes),
                before_header=p["path"], after_header=p["path"])
            if not module.check_mode:
                apply_files(p["path"], files, writes, removals, mode)
    except DevinfraError as err:
        fail_from_error(module, err, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
