from ansible_collections.kubernaut.devinfra.plugins.module_utils.diagnostics import REDACTED, redact


def test_known_secret_values_are_removed_everywhere():
    text = 'x slm_password_dev y "Env": ["POSTGRES_PASSWORD=slm_password_dev"]'
    out = redact(text, ["slm_password_dev"])
    assert "slm_password_dev" not in out
    assert out.count(REDACTED) == 2


def test_secret_like_env_pairs_are_removed_without_knowing_the_value():
    out = redact('"REDIS_PASSWORD=hunter2", "PGPASSWORD=abc", "PATH=/usr/bin"', [])
    assert "hunter2" not in out and "abc" not in out and "PATH=/usr/bin" in out


def test_url_passwords_are_removed():
    out = redact("postgresql://slm_user:s3cret@127.0.0.1:5432/db redis://:pw@h:1/0", [])
    assert "s3cret" not in out and ":pw@" not in out
    assert "slm_user" in out
