#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: instance_observe
short_description: Look at a running instance in one step, read-only
version_added: 0.1.0
description:
  - Reports what an instance looks like right now, without changing anything and without waiting.
  - One C(podman container inspect) for the named containers gives their ID, whether they run and whether
    they carry this instance's labels.
  - One connection to PostgreSQL gives the server version, the installed extensions and a digest of the
    applied migrations; one more per suite database gives that database's migration digest.
  - One C(PING) to Redis after C(AUTH), and a digest of the Redis suite index file.
  - A service that does not answer is reported with C(ready=false) and C(error), not failed on. The module
    answers "is anything different from last time"; M(kubernaut.devinfra.bootstrap_stamp) compares its
    result with the stamp of the last successful bootstrap.
  - To wait until a service is ready, use M(kubernaut.devinfra.postgres_ready) or
    M(kubernaut.devinfra.redis_ready) instead.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to show.
    support: none
options:
  instance:
    description: The instance whose labels the containers must carry.
    type: str
    required: true
  containers:
    description: Container names to inspect.
    type: list
    elements: str
    default: []
  postgres:
    description: PostgreSQL to look at; omit to skip it.
    type: dict
    suboptions:
      host:
        description: Host to connect to.
        type: str
        default: 127.0.0.1
      port:
        description: Port to connect to.
        type: int
        required: true
      user:
        description: Role to connect as.
        type: str
        required: true
      password:
        description: Password of I(user).
        type: str
      database:
        description: The application database.
        type: str
        required: true
      history_table:
        description: Table the migrations are recorded in.
        type: str
        default: devinfra_schema_migrations
      suite_databases:
        description: Suite databases whose migration digests are reported.
        type: list
        elements: str
        default: []
  redis:
    description: Redis to look at; omit to skip it.
    type: dict
    suboptions:
      host:
        description: Host to connect to.
        type: str
        default: 127.0.0.1
      port:
        description: Port to connect to.
        type: int
        required: true
      password:
        description: Password, when the server requires one.
        type: str
      suites_file:
        description: The suite index file on the target (M(kubernaut.devinfra.redis_suite_indexes)).
        type: path
requirements:
  - psycopg2 (with I(postgres))
  - redis (with I(redis))
"""

EXAMPLES = r"""
- name: Look at the dev instance
  kubernaut.devinfra.instance_observe:
    instance: dev
    containers: [datastorage-postgres, redis-context-api]
    postgres:
      port: 5432
      user: slm_user
      password: "{{ postgres_pgvector_password }}"
      database: action_history
    redis:
      port: 6379
  register: seen

- name: Say whether PostgreSQL answers
  ansible.builtin.debug:
    msg: "{{ 'up' if seen.observed.postgres.ready else seen.observed.postgres.error }}"
"""

RETURN = r"""
observed:
  description: What was seen. Keys C(postgres) and C(redis) are present only when asked for.
  returned: always
  type: dict
  contains:
    containers:
      description: Per container name, null when there is no such container, else C(id), C(running), C(owned).
      type: dict
    postgres:
      description: C(ready), C(error) when not, C(version), C(extensions), C(history), C(suite_databases).
      type: dict
    redis:
      description: C(ready), C(error) when not, C(suites_file) (digest, null when there is none).
      type: dict
  sample:
    containers:
      datastorage-postgres: {id: 0b5e..., running: true, owned: true}
    postgres: {ready: true, version: "17.6", extensions: [plpgsql, vector], history: 9f2c..., suite_databases: {}}
    redis: {ready: true, suites_file: null}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernaut.devinfra.plugins.module_utils import podman, postgres
from ansible_collections.kubernaut.devinfra.plugins.module_utils import redis as redis_backend
from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError, fail_from_error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instance=dict(type="str", required=True),
            containers=dict(type="list", elements="str", default=[]),
            postgres=dict(type="dict", options=dict(
                host=dict(type="str", default="127.0.0.1"),
                port=dict(type="int", required=True),
                user=dict(type="str", required=True),
                password=dict(type="str", no_log=True),
                database=dict(type="str", required=True),
                history_table=dict(type="str", default="devinfra_schema_migrations"),
                suite_databases=dict(type="list", elements="str", default=[]),
            )),
            redis=dict(type="dict", options=dict(
                host=dict(type="str", default="127.0.0.1"),
                port=dict(type="int", required=True),
                password=dict(type="str", no_log=True),
                suites_file=dict(type="path"),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    observed = {}
    try:
        cli = podman.PodmanCLI(module)
        observed["containers"] = podman.observe_containers(
            cli.inspect_containers(p["containers"]), p["containers"], p["instance"])
        if p["postgres"]:
            if not postgres.HAS_PSYCOPG2:
                module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(postgres.PSYCOPG2_IMP_ERR))
            pg = dict(p["postgres"], connect_timeout=2)
            observed["postgres"] = postgres.observe(pg, pg["history_table"], pg["suite_databases"])
        if p["redis"]:
            if not redis_backend.HAS_REDIS:
                module.fail_json(msg=missing_required_lib("redis"), exception=redis_backend.REDIS_IMPORT_ERROR)
            rd = dict(p["redis"], connect_timeout=2.0)
            observed["redis"] = redis_backend.observe(rd, rd["suites_file"])
    except DevinfraError as err:
        fail_from_error(module, err, observed=observed)
    module.exit_json(changed=False, observed=observed)


if __name__ == "__main__":
    main()
