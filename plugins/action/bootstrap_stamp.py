# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin for kubernaut.devinfra.bootstrap_stamp (documented in plugins/modules/).

Controller half: the stamp and the connection manifest live on the controller,
so reading them, hashing the inputs and writing the stamp happen here, in the
controller process. The one thing that must happen on the target, looking at
containers and services, is a single run of kubernaut.devinfra.instance_observe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.kubernaut.devinfra.plugins.module_utils import stamp
from ansible_collections.kubernaut.devinfra.plugins.module_utils.files import write_private_file

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OBSERVE_MODULE = "kubernaut.devinfra.instance_observe"

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["query", "present"], default="query"),
    path=dict(type="path", required=True),
    instance=dict(type="str", required=True),
    inputs=dict(type="raw", default={}),
    paths=dict(type="list", elements="path", default=[]),
    inputs_digest=dict(type="str"),
    observe=dict(type="dict"),
)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    # query only reads; present reports a change without writing in check mode.
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        stamp_path = os.path.join(args["path"], stamp.stamp_name(task_vars.get("inventory_hostname")))
        digest = args["inputs_digest"] or stamp.inputs_digest(
            args["inputs"], stamp.tree_digest(stamp.collection_paths(COLLECTION_ROOT) + args["paths"]))
        result.update(changed=False, inputs_digest=digest, stamp=stamp_path)
        if args["state"] == "query":
            return self._query(result, args, stamp_path, digest, task_vars)
        return self._present(result, args, stamp_path, digest, task_vars)

    # -- helpers --------------------------------------------------------------

    def _passwords(self, path):
        """The passwords test suites use, from the manifest just written (or kept)."""
        try:
            with open(os.path.join(path, "connection.json")) as fh:
                doc = json.load(fh)
        except (IOError, OSError, ValueError):
            return {}
        return dict((service, (doc.get(service) or {}).get("password"))
                    for service in ("postgres", "redis") if doc.get(service))

    def _observe(self, spec, passwords, task_vars):
        module_args = dict(instance=spec["instance"], containers=spec.get("containers") or [])
        for service in ("postgres", "redis"):
            if spec.get(service):
                module_args[service] = dict(spec[service])
                if passwords.get(service):
                    module_args[service]["password"] = passwords[service]
        res = self._execute_module(module_name=OBSERVE_MODULE, module_args=module_args, task_vars=task_vars)
        if res.get("failed"):
            return None, res.get("msg") or "instance_observe failed"
        return res.get("observed") or {}, None

    # -- states ---------------------------------------------------------------

    def _query(self, result, args, stamp_path, digest, task_vars):
        doc = stamp.load_stamp(stamp_path)
        manifest = stamp.file_digests(args["path"])
        reasons = stamp.stale_reasons(doc, digest, manifest)
        if not reasons:
            spec = dict(doc.get("observe") or {}, instance=args["instance"])
            observed, error = self._observe(spec, self._passwords(args["path"]), task_vars)
            if error:
                reasons = ["looking at the instance failed: %s" % error]
            else:
                reasons = stamp.stale_reasons(doc, digest, manifest, observed)
        result.update(current=not reasons, reasons=reasons)
        return result

    def _present(self, result, args, stamp_path, digest, task_vars):
        spec = args["observe"]
        if not spec:
            raise AnsibleActionFail("bootstrap_stamp: state=present needs observe (what the bootstrap made).")
        spec = dict(spec, instance=args["instance"])
        observed, error = self._observe(spec, self._passwords(args["path"]), task_vars)
        problems = [error] if error else stamp.health_problems(observed)
        before = stamp.load_stamp(stamp_path)
        if problems:
            # Not what a finished bootstrap should look like: leave no stamp, so the next run does everything.
            result["warnings"] = ["No bootstrap stamp written, the next run checks every step: %s"
                                  % "; ".join(problems)]
            if before is not None and not self._task.check_mode:
                os.remove(stamp_path)
                result["changed"] = True
            return result
        doc = stamp.make_stamp(digest, dict((k, v) for k, v in spec.items() if k != "instance"),
                               observed, stamp.file_digests(args["path"]))
        if before == doc:
            return result
        result["changed"] = True
        if self._task.diff:
            result["diff"] = dict(before=stamp.render_stamp(before) if before else "",
                                  after=stamp.render_stamp(doc), before_header=stamp_path,
                                  after_header=stamp_path)
        if not self._task.check_mode:
            write_private_file(stamp_path, stamp.render_stamp(doc))
        return result
