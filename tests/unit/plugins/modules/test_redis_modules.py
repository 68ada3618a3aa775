"""The Redis modules' documentation matches what they accept (no Redis needed)."""

import importlib

import pytest
import yaml

from ansible_collections.kubernaut.devinfra.plugins.doc_fragments.redis import ModuleDocFragment as RedisDoc
from ansible_collections.kubernaut.devinfra.plugins.doc_fragments.wait import ModuleDocFragment as WaitDoc

FRAGMENTS = {
    "kubernaut.devinfra.redis": yaml.safe_load(RedisDoc.DOCUMENTATION)["options"],
    "kubernaut.devinfra.redis.db": yaml.safe_load(RedisDoc.DB)["options"],
    "kubernaut.devinfra.wait": yaml.safe_load(WaitDoc.DOCUMENTATION)["options"],
}


def documented_options(name):
    mod = importlib.import_module("ansible_collections.kubernaut.devinfra.plugins.modules." + name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment", []):
        options.update(FRAGMENTS[fragment])
    return doc, options


def accepted_options(name, monkeypatch):
    """Run main() far enough to capture the argument spec it builds."""
    mod = importlib.import_module("ansible_collections.kubernaut.devinfra.plugins.modules." + name)
    captured = {}

    class Stop(Exception):
        pass

    def fake_module(argument_spec, **kwargs):
        captured.update(argument_spec)
        captured["__check_mode__"] = kwargs.get("supports_check_mode")
        raise Stop()

    monkeypatch.setattr(mod, "AnsibleModule", fake_module)
    with pytest.raises(Stop):
        mod.main()
    return captured


@pytest.mark.parametrize("name", ["redis_ready", "redis_suite_indexes"])
def test_docs_match_argument_spec(name, monkeypatch):
    doc, documented = documented_options(name)
    spec = accepted_options(name, monkeypatch)
    assert spec.pop("__check_mode__") is True
    assert set(documented) == set(spec)
    for option, rules in spec.items():
        assert documented[option]["type"] == rules["type"], option
        if "default" in rules:
            assert documented[option].get("default") == rules["default"], option
    assert doc["version_added"] == "0.1.0"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert spec["password"]["no_log"] is True
