#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postgres_suite_databases
short_description: One database per test suite, cloned from the migrated application database
version_added: 0.1.0
description:
  - DD-008 isolates parallel suites with unique offsets; this module gives each suite a real database instead,
    named C(<database>_<suite>) and created with C(CREATE DATABASE ... TEMPLATE <database>).
  - A suite database whose migration history differs from the template's (the template got newer migrations) is
    dropped and cloned again. O(reset=true) re-clones every listed suite on demand; connections to a clone are
    ended first (C(DROP DATABASE ... WITH (FORCE))).
  - Only databases this module created (marked by a comment on the database) are ever dropped; a same-named
    database without the mark fails the task and is left untouched.
  - Suite names are validated (C(^[a-z][a-z0-9_]{0,39}$)) before anything changes; identifiers are always quoted.
  - PostgreSQL copies a template only while nobody else is connected to it. Idle sessions left by this
    collection's modules are ended; anybody else's are named in the error.
  - Suites no longer listed are left alone.
options:
  suites:
    description:
      - Suite names, for example C([contextapi, datastorage]).
    type: list
    elements: str
    required: true
  reset:
    description:
      - Drop and re-clone every listed suite database, even when it is current.
    type: bool
    default: false
  history_table:
    description:
      - History table that O(database) and the clones are compared by (see M(kubernaut.devinfra.postgres_migrate)).
    type: str
    default: devinfra_schema_migrations
  maintenance_database:
    description:
      - Database to connect to for C(CREATE DATABASE) and C(DROP DATABASE), which cannot run while connected to the
        template.
    type: str
    default: postgres
  strategy:
    description:
      - How C(CREATE DATABASE) copies the template (PostgreSQL 15 or newer for anything but V(default)).
      - V(default) leaves it to the server (C(WAL_LOG) since PostgreSQL 15), which needs no checkpoint and is
        gentlest on a server other suites are busy on.
      - V(file_copy) copies the template's files and checkpoints before and after. With the data directory on
        a tmpfs the checkpoints cost nothing and the copy is faster (0.14 s instead of 0.21 s for a 1,000-table
        schema in this collection's benchmark); on disk the two took the same time.
      - V(wal_log) asks for C(WAL_LOG) explicitly.
    type: str
    choices: [default, wal_log, file_copy]
    default: default
attributes:
  check_mode:
    support: full
    description: Returns the statements that would run, with C(changed) true if any.
  diff_mode:
    support: none
    description: The C(suites) result shows each suite's action.
extends_documentation_fragment:
  - kubernaut.devinfra.postgres
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: One database per suite
  kubernaut.devinfra.postgres_suite_databases:
    password: "{{ postgres_password }}"
    database: action_history
    suites: [contextapi, datastorage]

- name: Start the datastorage suite from a clean copy
  kubernaut.devinfra.postgres_suite_databases:
    password: "{{ postgres_password }}"
    suites: [datastorage]
    reset: true

- name: Clone by copying files, for a server whose data directory is on a tmpfs
  kubernaut.devinfra.postgres_suite_databases:
    password: "{{ postgres_password }}"
    suites: [contextapi, datastorage]
    strategy: file_copy
"""

RETURN = r"""
suites:
  description:
    - Per suite, its database, a DSN with the password redacted, and the action taken (or that would be)
      C(create), C(reclone), C(reset) or C(unchanged).
  returned: success
  type: dict
  sample: {"contextapi": {"database": "action_history_contextapi", "action": "create",
           "dsn": "postgresql://slm_user:********@127.0.0.1:5432/action_history_contextapi"}}
executed:
  description: Statements executed (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: ['CREATE DATABASE "action_history_contextapi" TEMPLATE "action_history"']
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg


def main():
    argument_spec = pg.postgres_argument_spec()
    argument_spec.update(
        suites=dict(type="list", elements="str", required=True),
        reset=dict(type="bool", default=False),
        history_table=dict(type="str", default="devinfra_schema_migrations"),
        maintenance_database=dict(type="str", default="postgres"),
        strategy=dict(type="str", default="default", choices=sorted(pg.CLONE_STRATEGIES)),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not pg.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(pg.PSYCOPG2_IMP_ERR))
    try:
        result = pg.ensure_suite_databases(module.params, module.params["suites"], reset=module.params["reset"],
                                           history_table=module.params["history_table"],
                                           maintenance_database=module.params["maintenance_database"],
                                           check_mode=module.check_mode,
                                           strategy=module.params["strategy"])
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
