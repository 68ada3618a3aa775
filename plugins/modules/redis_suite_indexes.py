#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: redis_suite_indexes
short_description: Give each test suite its own, stable Redis database index
version_added: 0.1.0
description:
  - Assigns every suite in O(suites) a database index and stores the assignment in a JSON file on the
    target (O(path)), so the same suite gets the same index on every run.
  - Adding a suite never renumbers the others; it takes the lowest free index. A suite removed from the
    list releases its index (its keys stay until someone flushes them).
  - Index 0 stays unassigned for ad-hoc use unless O(reserve_index_zero=false).
  - More suites than usable databases, duplicate names or O(databases=0) fail before anything is written.
  - O(reset) flushes the named suites' indexes with C(FLUSHDB), one by one; never the whole server.
extends_documentation_fragment:
  - kubernaut.devinfra.redis
options:
  path:
    description:
      - JSON file holding the assignment, normally in the instance's state directory.
      - Created with mode C(0600) when missing.
    type: path
    required: true
  suites:
    description:
      - Suite names, each once. Letters, digits, C(_), C(.) and C(-); first character a letter or digit.
    type: list
    elements: str
    required: true
  databases:
    description:
      - Number of databases the server has (its C(databases) setting).
      - When omitted, the module asks the server with C(CONFIG GET databases), which needs it running.
    type: int
  reserve_index_zero:
    description:
      - Keep index 0 out of the assignment, for ad-hoc use.
    type: bool
    default: true
  reset:
    description:
      - V(true) flushes every listed suite's index, a list flushes only those suites'. V(false) flushes nothing.
      - Needs the server; in check mode the flushes are only reported in RV(executed).
    type: raw
    default: false
  wait_timeout:
    description:
      - Seconds to wait first until Redis answers (the check M(kubernaut.devinfra.redis_ready) makes - PING with the
        password, and no dataset still loading), so that a server that has just been started needs no separate
        readiness task. Also in check mode, which only reads.
      - C(0) (the default) does not wait, and talks to Redis only when I(databases) is omitted or I(reset) flushes.
    type: float
    default: 0
attributes:
  check_mode:
    support: full
    description: Predicts the assignment and the flushes without writing the file or touching Redis.
  diff_mode:
    support: full
    description: Shows the assignment before and after.
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: Wait for a Redis that was just started, then assign the indexes
  kubernaut.devinfra.redis_suite_indexes:
    path: "{{ state_dir }}/redis-suite-indexes.json"
    suites: [contextapi, datastorage]
    databases: 16
    password: "{{ redis_password }}"
    wait_timeout: 60

- name: Assign database indexes to the integration suites
  kubernaut.devinfra.redis_suite_indexes:
    path: "{{ state_dir }}/redis-suite-indexes.json"
    suites: [contextapi, datastorage, gateway]
    databases: 16
  register: redis_suites

- name: Start the contextapi suite from an empty database
  kubernaut.devinfra.redis_suite_indexes:
    path: "{{ state_dir }}/redis-suite-indexes.json"
    suites: [contextapi, datastorage, gateway]
    databases: 16
    port: 6379
    reset: [contextapi]
"""

RETURN = r"""
ready:
  description: What the readiness wait found, as M(kubernaut.devinfra.redis_ready) returns it (elapsed_ms, attempts, ...).
  returned: when I(wait_timeout) is above 0
  type: dict
suites:
  description: The assignment, suite name to database index.
  returned: success
  type: dict
  sample: {contextapi: 1, datastorage: 2}
added:
  description: Suites that got an index in this run.
  returned: success
  type: list
  elements: str
moved:
  description: Suites whose stored index no longer exists (fewer databases, index 0 now reserved) and got a new one.
  returned: success
  type: list
  elements: str
released:
  description: Suites in the file but no longer listed; their indexes are free again.
  returned: success
  type: list
  elements: str
reset:
  description: Suites whose index was flushed (or would be, in check mode).
  returned: success
  type: list
  elements: str
executed:
  description: Redis commands run for the reset (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: ["SELECT 2; FLUSHDB"]
databases:
  description: Number of databases the assignment was made for.
  returned: success
  type: int
path:
  description: The assignment file.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.redis import (
    HAS_REDIS, REDIS_IMPORT_ERROR, ensure_suite_indexes, redis_argument_spec, reset_needs_server, wait_for_redis)
from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import DEFAULT_INTERVAL as WAIT_INTERVAL


def main():
    argument_spec = redis_argument_spec(with_db=False)
    argument_spec.update(
        path=dict(type="path", required=True),
        suites=dict(type="list", elements="str", required=True),
        databases=dict(type="int"),
        reserve_index_zero=dict(type="bool", default=True),
        reset=dict(type="raw", default=False),
        wait_timeout=dict(type="float", default=0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        wait = module.params["wait_timeout"] > 0
        if not HAS_REDIS and (wait or reset_needs_server(module)):
            module.fail_json(msg=missing_required_lib("redis"), exception=REDIS_IMPORT_ERROR)
        ready = wait_for_redis(module.params, module.params["wait_timeout"], WAIT_INTERVAL) if wait else None
        result = ensure_suite_indexes(module)
        if ready is not None:
            result["ready"] = ready
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
