#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: bootstrap_stamp
short_description: Prove in one step that a bootstrap would change nothing, or record that it just finished
version_added: 0.1.0
description:
  - The fast path of C(playbooks/bootstrap.yml). After a successful bootstrap, I(state=present) records a stamp
    on the controller, next to the connection manifest. The next run's I(state=query) compares it with now and
    says whether the full bootstrap has anything to do.
  - The stamp holds no secrets, only digests and IDs. It records the digest of the inputs (I(inputs), the
    collection's roles, plugins, playbooks and migrations, and I(paths)) and the digest of each manifest
    file. It also records what M(kubernaut.devinfra.instance_observe) saw on the target. That is the
    container IDs, with their state and labels, the migration history of the application database and of
    each suite database, the installed extensions, and the Redis suite index file.
  - I(state=query) is current only when the inputs and the manifest are unchanged, every container is the
    same one and running, PostgreSQL and Redis answer real queries with the manifest's passwords, and the
    migration histories are as recorded. Otherwise C(reasons) lists every difference found.
  - An action plugin. The stamp and the manifest are read and written on the controller. One run of
    M(kubernaut.devinfra.instance_observe) looks at the target, which may be a remote host.
  - Passwords are never arguments. They are read from the manifest's C(connection.json), the same details
    test suites use.
author:
  - kubernaut developers (@kubernaut)
attributes:
  check_mode:
    description: I(state=query) is read-only. I(state=present) reports whether the stamp would change, without writing it.
    support: full
  diff_mode:
    description: I(state=present) shows the old and new stamp, which holds no secrets.
    support: full
  action:
    description: Runs on the controller and calls M(kubernaut.devinfra.instance_observe) on the target.
    support: full
options:
  state:
    description:
      - C(query) compares the stamp with the inputs and the target now and returns C(current).
      - C(present) looks at the target and writes the stamp. If a service does not answer, it writes none and
        removes an old one, with a warning.
    type: str
    choices: [query, present]
    default: query
  path:
    description: The instance's manifest directory on the controller (C(connection_manifest_dir)/<instance>).
    type: path
    required: true
  instance:
    description: The instance whose labels the containers must carry.
    type: str
    required: true
  inputs:
    description:
      - Any value (usually the variables the run was given). Its JSON form goes into the inputs digest.
    type: raw
    default: {}
  paths:
    description: More controller paths (files or directories) whose content goes into the inputs digest.
    type: list
    elements: path
    default: []
  inputs_digest:
    description:
      - With I(state=present), the C(inputs_digest) the run's I(state=query) returned. This records the inputs
        as they were when the run started, not as the run left them.
    type: str
  observe:
    description:
      - Required with I(state=present). It says what to look at, in M(kubernaut.devinfra.instance_observe)'s
        options C(containers), C(postgres) and C(redis), without passwords. It is kept in the stamp for later
        queries.
    type: dict
seealso:
  - module: kubernaut.devinfra.instance_observe
"""

EXAMPLES = r"""
- name: Is the instance already up and current?
  kubernaut.devinfra.bootstrap_stamp:
    state: query
    path: "{{ playbook_dir }}/../.devinfra/dev"
    instance: dev
    inputs: "{{ my_settings }}"
  register: fast

- name: Nothing to do
  ansible.builtin.meta: end_host
  when: fast.current

# ... the full bootstrap ...

- name: Record what the bootstrap made
  kubernaut.devinfra.bootstrap_stamp:
    state: present
    path: "{{ playbook_dir }}/../.devinfra/dev"
    instance: dev
    inputs_digest: "{{ fast.inputs_digest }}"
    observe:
      containers: [datastorage-postgres, redis-context-api]
      postgres: {port: 5432, user: slm_user, database: action_history}
      redis: {port: 6379}
"""

RETURN = r"""
current:
  description: With I(state=query), whether the full bootstrap would change nothing.
  returned: state=query
  type: bool
reasons:
  description: With I(state=query), why the full bootstrap must run; empty when C(current).
  returned: state=query
  type: list
  elements: str
  sample: ["container datastorage-postgres is not running"]
inputs_digest:
  description: The digest of the inputs, to hand to I(state=present) at the end of the run.
  returned: always
  type: str
stamp:
  description: Path of the stamp file on the controller.
  returned: always
  type: str
"""
