#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postgres_ready
short_description: Wait until PostgreSQL serves the application database
version_added: 0.1.0
description:
  - Polls on a monotonic clock until PostgreSQL accepts a TCP connection on O(host):O(port), authenticates
    O(user), runs C(SELECT 1) on O(database) and, optionally, has the listed extensions.
  - Tolerates the image's first-start restart (the temporary init server, then the real one) and
    C(the database system is starting up) (SQLSTATE 57P03). Errors that waiting cannot fix (wrong password,
    missing database, missing extension) fail at once.
  - Read-only; never reports a change.
options:
  extensions:
    description:
      - Extensions that must be installed (C(CREATE EXTENSION) done) in O(database).
      - pgvector is called C(vector).
    type: list
    elements: str
    default: []
  extensions_available:
    description:
      - Extensions that must be available on the server (packaged in the image), installed or not.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Runs the same read-only probe in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
extends_documentation_fragment:
  - kubernaut.devinfra.postgres
  - kubernaut.devinfra.wait
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: Wait for the DD-008 database, with pgvector packaged in the image
  kubernaut.devinfra.postgres_ready:
    host: 127.0.0.1
    port: 5432
    user: slm_user
    password: "{{ postgres_password }}"
    database: action_history
    extensions_available: [vector]
    wait_timeout: 60

- name: After migrations, require the vector extension to be installed
  kubernaut.devinfra.postgres_ready:
    password: "{{ postgres_password }}"
    extensions: [vector]
"""

RETURN = r"""
server_version:
  description: The server's C(server_version) setting.
  returned: success
  type: str
  sample: "17.12 (Debian 17.12-1)"
server_version_num:
  description: The server's C(server_version_num) setting.
  returned: success
  type: int
  sample: 170012
extensions:
  description: Extensions installed in O(database), name to version.
  returned: success
  type: dict
  sample: {"plpgsql": "1.0", "vector": "0.8.0"}
available_extensions:
  description: For the names in O(extensions_available), the version the server would install.
  returned: success
  type: dict
  sample: {"vector": "0.8.0"}
elapsed_ms:
  description: Milliseconds from the first probe until the server was ready (or until the deadline).
  returned: always
  type: int
  sample: 840
attempts:
  description: Number of probes made.
  returned: always
  type: int
  sample: 9
last_error:
  description: The last error seen, on timeout.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils import postgres as pg


def main():
    argument_spec = pg.postgres_argument_spec()
    argument_spec.update(
        extensions=dict(type="list", elements="str", default=[]),
        extensions_available=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="float", default=60),
        wait_interval=dict(type="float", default=0.02),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not pg.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(pg.PSYCOPG2_IMP_ERR))
    try:
        facts = pg.wait_for_ready(module.params, extensions=module.params["extensions"],
                                  extensions_available=module.params["extensions_available"],
                                  timeout=module.params["wait_timeout"], interval=module.params["wait_interval"])
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
