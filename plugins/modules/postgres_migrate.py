#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postgres_migrate
short_description: Apply versioned SQL migrations exactly once, under a lock
version_added: 0.1.0
description:
  - Applies the files C(NNN_description.sql) in O(migrations_dir) on the target host, in numeric order, and records
    each one in a history table (version, description, script, checksum, applied_at, applied_by, execution_ms,
    success).
  - A session advisory lock is taken before the history table is created or read, so concurrent runs (several CI
    jobs, two terminals) apply each file exactly once. Waiting for it is bounded by O(lock_timeout); on timeout
    the error names the holder's pid and application_name.
  - Each file and its history row commit in one transaction. A failing file is rolled back entirely, nothing after
    it runs, and the error names the file, the line and the SQLSTATE.
  - A file whose leading comment block holds C(-- devinfra:no-transaction) runs statement by statement outside a
    transaction (for C(CREATE INDEX CONCURRENTLY) and the like); without that header such statements are refused
    before anything runs. A file with its own C(BEGIN)/C(COMMIT) is refused.
  - Refused before anything is applied - never silently skipped - are an applied file whose checksum changed, an
    applied file that disappeared, and a new file older than the newest applied one (unless O(allow_out_of_order)).
  - Checksums are SHA-256 of the content with the BOM removed and line endings normalised to LF.
options:
  migrations_dir:
    description:
      - Directory on the target host holding the C(NNN_description.sql) files. Other C(.sql) names are refused;
        files not ending in C(.sql) are ignored.
    type: path
    required: true
  history_table:
    description:
      - History table, C(name) or C(schema.name) (lower case). Without a schema it is created in the connection's
        current schema.
    type: str
    default: devinfra_schema_migrations
  target_version:
    description:
      - Apply pending files up to and including this version; it must be the version of a file (or 0).
      - Files above it stay pending. Nothing is ever rolled back.
    type: int
  allow_out_of_order:
    description:
      - Apply new files whose version is lower than the newest applied one instead of refusing.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run's migration lock. V(0) fails at once if the lock is held.
    type: float
    default: 120
  require_extensions:
    description:
      - Extensions the migrations must leave installed in I(database), checked right after applying them (C(vector)
        for pgvector). A missing one fails the task and names an image that ships it.
      - In check mode, checked only when no migration is pending (a pending one may be what creates it).
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait, before migrating, until the server accepts connections and answers a query - the check
        M(kubernaut.devinfra.postgres_ready) makes, with I(require_extensions) checked as available on the server -
        so that a server that has just been started needs no separate readiness task.
      - C(0) (the default) connects once and fails at once when the server is not up.
    type: float
    default: 0
attributes:
  check_mode:
    support: full
    description:
      - Returns the pending files with C(changed) true if any; creates no table and takes no lock.
  diff_mode:
    support: full
    description:
      - The current version before and after, and the scripts that are (or would be) applied; never SQL bodies.
extends_documentation_fragment:
  - kubernaut.devinfra.postgres
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: Apply the collection's reference schema
  kubernaut.devinfra.postgres_migrate:
    port: 5432
    password: "{{ postgres_password }}"
    migrations_dir: /home/dev/.local/state/kubernaut-devinfra/dev/migrations

- name: Migrate a server that was just started, waiting for it first (no separate postgres_ready task)
  kubernaut.devinfra.postgres_migrate:
    password: "{{ postgres_password }}"
    migrations_dir: /srv/migrations
    require_extensions: [vector]
    wait_timeout: 60

- name: Apply up to version 3 only
  kubernaut.devinfra.postgres_migrate:
    password: "{{ postgres_password }}"
    migrations_dir: /srv/migrations
    target_version: 3
"""

RETURN = r"""
applied:
  description: Files applied by this run, in order (empty in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"version": 1, "script": "001_create_extension_vector.sql", "checksum": "5e3c...", "transaction": true,
            "execution_ms": 12}]
pending:
  description:
    - In check mode, the files a real run would apply (version, script, checksum, transaction).
    - Otherwise, the files still pending after this run (those above O(target_version)).
  returned: success
  type: list
  elements: dict
extensions:
  description: Installed extensions and their versions, when O(require_extensions) was checked.
  returned: when O(require_extensions) was checked
  type: dict
  sample: {plpgsql: "1.0", vector: "0.8.0"}
ready:
  description: What the readiness wait found (server_version, elapsed_ms, attempts), as M(kubernaut.devinfra.postgres_ready) returns it.
  returned: when I(wait_timeout) is above 0
  type: dict
  sample: {server_version: "17.5", elapsed_ms: 412, attempts: 9}
elapsed_ms:
  description: Milliseconds the module spent waiting for the server, then reading, checking and applying (or planning) the migrations.
  returned: always
  type: int
  sample: 57
current_version:
  description: Highest applied version after the run (in check mode, after the predicted run); null if none.
  returned: success
  type: int
  sample: 999
executed:
  description: Scripts applied (or, in check mode, that would be), in order.
  returned: success
  type: list
  elements: str
failed_script:
  description: The file that failed.
  returned: failure while applying a file
  type: str
sqlstate:
  description: SQLSTATE of the failure.
  returned: failure while applying a file
  type: str
lock_holders:
  description: Sessions holding the migration lock when O(lock_timeout) passed (pid, application_name, user).
  returned: failure on lock timeout
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres_migrations as migrations


def main():
    argument_spec = pg.postgres_argument_spec()
    argument_spec.update(
        migrations_dir=dict(type="path", required=True),
        history_table=dict(type="str", default=migrations.DEFAULT_HISTORY_TABLE),
        target_version=dict(type="int"),
        allow_out_of_order=dict(type="bool", default=False),
        lock_timeout=dict(type="float", default=120),
        require_extensions=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="float", default=0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not pg.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(pg.PSYCOPG2_IMP_ERR))
    run = migrations.plan_migrations if module.check_mode else migrations.apply_migrations
    started = time.monotonic()
    ready = None
    try:
        if module.params["wait_timeout"] > 0:
            ready = pg.wait_for_ready(module.params, extensions_available=module.params["require_extensions"],
                                      timeout=module.params["wait_timeout"])
        result = run(module.params, module.params["migrations_dir"],
                     history_table=module.params["history_table"],
                     target_version=module.params["target_version"],
                     allow_out_of_order=module.params["allow_out_of_order"],
                     lock_timeout=module.params["lock_timeout"])
        if module.params["require_extensions"] and not (module.check_mode and result["changed"]):
            result["extensions"] = migrations.require_extensions(module.params, module.params["require_extensions"])
    except DevinfraError as err:
        fail_from_error(module, err, changed=False, elapsed_ms=int((time.monotonic() - started) * 1000))
    result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    if ready is not None:
        result["ready"] = ready
    diff = result.pop("diff")
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
