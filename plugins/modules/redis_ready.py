#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: redis_ready
short_description: Wait until Redis answers and accepts writes
version_added: 0.1.0
description:
  - Polls a Redis server until it is ready, on a monotonic clock with a short interval.
  - Ready means the TCP connection opens, C(AUTH) succeeds when a password is given, C(PING) answers
    C(PONG) (not C(-LOADING) while a dataset is loaded), and a C(SET)/C(GET)/C(DEL) round trip on a
    scratch key succeeds (C(-MISCONF), a server that cannot persist, is "not ready" with that reason).
  - A wrong or missing password, or protected mode refusing the client, fails at once instead of waiting.
  - Read-only in effect; it never reports C(changed). The scratch key carries a 30 s expiry and is deleted.
extends_documentation_fragment:
  - kubernaut.devinfra.redis
  - kubernaut.devinfra.redis.db
  - kubernaut.devinfra.wait
attributes:
  check_mode:
    support: full
    description: The probe runs in check mode too; it changes nothing but its own scratch key.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
author:
  - kubernaut developers (@kubernaut)
"""

EXAMPLES = r"""
- name: Wait for the suite cache Redis
  kubernaut.devinfra.redis_ready:
    host: 127.0.0.1
    port: 6379
    wait_timeout: 60

- name: Wait for a Redis that requires a password
  kubernaut.devinfra.redis_ready:
    port: 56379
    password: "{{ redis_password }}"
  register: redis_state
"""

RETURN = r"""
ready:
  description: Always true on success.
  returned: success
  type: bool
version:
  description: The server's C(redis_version).
  returned: success
  type: str
  sample: 7.0.15
databases:
  description: Number of databases, from C(CONFIG GET databases); null when CONFIG is disabled.
  returned: success
  type: int
  sample: 16
role:
  description: Replication role, C(master) or C(slave).
  returned: success
  type: str
  sample: master
elapsed_ms:
  description: Milliseconds spent waiting, also on timeout.
  returned: always
  type: int
attempts:
  description: Number of probes made, also on timeout.
  returned: always
  type: int
last_error:
  description:
    - The last reason the server was not ready, for example C(LOADING Redis is loading the dataset in memory).
    - Null when the first probe succeeded.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error
from ansible_collections.kubernaut.devinfra.plugins.module_utils.redis import (
    HAS_REDIS, REDIS_IMPORT_ERROR, redis_argument_spec, wait_for_redis)


def main():
    argument_spec = redis_argument_spec()
    argument_spec.update(
        wait_timeout=dict(type="float", default=60),
        wait_interval=dict(type="float", default=0.02),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis"), exception=REDIS_IMPORT_ERROR)
    try:
        result = wait_for_redis(module.params, module.params["wait_timeout"], module.params["wait_interval"])
    except DevinfraError as err:
        fail_from_error(module, err, changed=False)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
