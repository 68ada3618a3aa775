# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""The one exception type that library code raises.

Only a module's ``main()`` turns it into ``fail_json``; the message says what
was being done and what failed, ``hint`` says what the user can do next.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DevinfraError(Exception):
    """A failure with a message for the user and, ideally, the next step."""

    def __init__(self, msg, hint=None, **details):
        super(DevinfraError, self).__init__(msg)
        self.msg = msg
        self.hint = hint
        self.details = details

    def __str__(self):
        if self.hint:
            return "%s %s" % (self.msg, self.hint)
        return self.msg


def fail_from_error(module, err, **result):
    """Turn a DevinfraError into fail_json, keeping its structured details."""
    result.update(err.details)
    module.fail_json(msg=str(err), **result)
