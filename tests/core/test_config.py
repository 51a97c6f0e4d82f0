from __future__ import annotations

from pathlib import Path

import pytest

from turnout.core.config import backends_from_env, load_config, load_user_config, read_config_file
from turnout.core.credentials import CredentialStore
from turnout.core.errors import ConfigError
from turnout.core.models import Backend


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_full_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
backends:
  groq:
    kind: openai-compat
    base_url: https://api.groq.com/openai/v1/
    key: ${GROQ_KEY}
    headers: {X-Title: me}
    models: [llama-3.3-70b]
    timeout: 30
  anthropic: {kind: anthropic, key: sk-ant-inline}
routes:
  - {match: "claude-*", backend: anthropic}
  - {regex: "^big-.*", backend: groq, model: llama-3.3-70b}
aliases: {fast: "groq:llama-3.3-70b", sonnet: claude-sonnet-4-6}
limits: {max_body_mb: 2}
autodetect: {environment: false}
""",
    )
    cfg = load_config(path, env={"GROQ_KEY": "gsk-123"})
    groq = cfg.backends["groq"]
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.key == "gsk-123" and groq.headers == (("X-Title", "me"),) and groq.timeout == 30
    assert cfg.backends["anthropic"].base_url == "https://api.anthropic.com"
    assert [r.describe() for r in cfg.routes] == ["glob claude-*", "regex ^big-.*"]
    assert cfg.aliases["fast"] == "groq:llama-3.3-70b" and cfg.aliases["sonnet"] == "claude-sonnet-4-6"
    assert cfg.aliases["opus"].startswith("claude-opus-")
    assert cfg.limits.max_body_bytes == 2 * 1024 * 1024
    assert cfg.source == str(path)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("backends: {x: {kind: gorq}}", "backends.x.kind: must be one of anthropic, openai, openai-compat"),
        ("backends: {x: {kind: openai-compat}}", "backends.x.base_url: required"),
        (
            "backends: {x: {kind: openai, base_url: ftp://x}}",
            "backends.x.base_url: must be an http:// or https",
        ),
        (
            "backends: {x: {kind: openai, base_url: 'http://h:99999/v1'}}",
            "backends.x.base_url: Port out of range 0-65535",
        ),
        ("backends: {x: {kind: openai, base_url: 'http://h /v1'}}", "backends.x.base_url: must be an http"),
        ("backends: {x: {kind: openai, timeout: .nan}}", "backends.x.timeout: must be a number of seconds"),
        ("backends: {x: {kind: openai, timeout: .inf}}", "backends.x.timeout: must be a number of seconds"),
        ("backends: {x: {kind: openai, read_timeout: 0}}", "backends.x.read_timeout: must be a number"),
        ("backends: {x: {kind: openai, max_concurrent: 2.5}}", "max_concurrent: must be a whole number"),
        ("backends: {x: {kind: openai, min_interval_ms: -5}}", "min_interval_ms: must be a number of ms"),
        (
            "backends: {x: {kind: openai, quirks: {max_tokens_cap: -1}}}",
            "quirks.max_tokens_cap: must be a whole",
        ),
        (
            "backends: {x: {kind: openai, quirks: {reasoning_effort: yes-please}}}",
            "must be one of true, false",
        ),
        ("backends: {x: {kind: openai, headers: {'X Bad': v}}}", "not a valid HTTP header name"),
        ("pool: {attempts: 0}", "pool.attempts: must be a whole number of attempts from 1 to 10"),
        ("pool: {queue_timeout: .nan}", "pool.queue_timeout: must be a number of seconds from 0 to 86400"),
        ("analytics: {retention_days: 0}", "analytics.retention_days: must be a number of days more than 0"),
        ("limits: {max_body_mb: .inf}", "limits.max_body_mb: must be a number of MB"),
        (
            "backends: {x: {kind: openai, key: '${NOPE}'}}",
            "backends.x.key: environment variable NOPE is not set",
        ),
        ("backends: {x: {kind: openai, colour: red}}", "backends.x.colour: unknown key"),
        (
            "backends: {x: {kind: openai, timeout: -1}}",
            "backends.x.timeout: must be a number of seconds more than 0",
        ),
        ("backends: {x: {kind: openai, models: llama}}", "backends.x.models: must be a list"),
        ("backends: {'bad name': {kind: openai}}", "backends.bad name: backend names use"),
        ("backends: [a]", "backends: must be a mapping"),
        ("routes: [{match: 'a*', backend: ghost}]", "routes[0].backend: unknown backend 'ghost'"),
        ("routes: [{backend: x}]", "routes[0]: give one of match: (a glob) or regex:, or when:"),
        (
            "backends: {x: {kind: openai}}\nroutes: [{regex: '(', backend: x}]",
            "routes[0].regex: invalid regular",
        ),
        ("aliases: {a: [1]}", "aliases.a: must be a model id"),
        ("limits: {max_body_mb: 0}", "limits.max_body_mb: must be a number of MB more than 0"),
        ("colour: red", "colour: unknown key"),
        ("- a\n- b", "the top level must be a mapping"),
        ("backends: {x: [", "not valid YAML (line"),
    ],
)
def test_validation_errors_name_file_path_and_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path, env={})
    assert str(path) in str(e.value)
    assert needle in str(e.value)


def test_missing_file_means_environment_only(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "absent.yaml", env={"OPENAI_API_KEY": "sk-o", "GROQ_API_KEY": "gsk"})
    assert list(cfg.backends) == ["openai", "groq"]
    assert cfg.backends["groq"].base_url == "https://api.groq.com/openai/v1"
    assert cfg.backends["openai"].source == "env OPENAI_API_KEY"
    assert cfg.source == "environment"


def test_base_url_overrides_and_self_loop_excluded() -> None:
    env = {
        "ANTHROPIC_API_KEY": "k",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:3456",
        "OPENAI_API_KEY": "k",
        "OPENAI_BASE_URL": "http://127.0.0.1:34567/v1",
    }
    cfg = load_config(None, env=env, exclude_urls=("http://127.0.0.1:3456",))
    assert "anthropic" not in cfg.backends  # pointing at turnout itself would loop
    assert cfg.backends["openai"].base_url == "http://127.0.0.1:34567/v1"


def test_config_file_wins_over_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "backends: {openai: {kind: openai-compat, base_url: 'http://h/v1'}}")
    cfg = load_config(path, env={"OPENAI_API_KEY": "sk"})
    assert cfg.backends["openai"].kind == "openai-compat"


def test_stored_keys_fill_only_the_backend_and_url_they_were_stored_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CredentialStore(tmp_path / "creds")
    store.set("mine", "sk-stored-mine", base_url="http://h/v1/")
    store.set("anthropic", "sk-ant-stored", base_url="http://127.0.0.1:9102")
    path = write(tmp_path, "backends: {mine: {kind: openai, base_url: 'http://h/v1'}}")
    cfg = load_config(path, env={}, store=store)
    assert cfg.backends["mine"].key == "sk-stored-mine"
    # A config without that backend: the key never reappears under a provider's default URL.
    assert "anthropic" not in cfg.backends
    moved = write(tmp_path, "backends: {mine: {kind: openai, base_url: 'http://elsewhere/v1'}}")
    assert load_config(moved, env={}, store=store).backends["mine"].key is None
    assert "belongs to http://h/v1, not http://elsewhere/v1" in caplog.text
    assert "sk-stored-mine" not in caplog.text


def test_keys_stored_by_turnout_0_1_still_fill_their_config_backend(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mine").write_text("sk-legacy\n")
    (tmp_path / "creds" / "anthropic").write_text("sk-ant-legacy\n")
    path = write(tmp_path, "backends: {mine: {kind: openai, base_url: 'http://h/v1'}}")
    cfg = load_config(path, env={}, store=CredentialStore(tmp_path / "creds"))
    assert cfg.backends["mine"].key == "sk-legacy"
    assert "anthropic" not in cfg.backends


def test_discovery_is_used_unless_turned_off(tmp_path: Path) -> None:
    found = [Backend("ollama", "openai-compat", "http://127.0.0.1:11434/v1", models=("llama3:8b",))]
    assert "ollama" in load_config(None, env={}, discover=lambda: found).backends
    path = write(tmp_path, "autodetect: {local: false}")
    assert "ollama" not in load_config(path, env={}, discover=lambda: found).backends


def test_backends_from_env_skips_empty_values() -> None:
    assert backends_from_env({"OPENAI_API_KEY": ""}) == []


def test_read_config_file_empty_and_unreadable(tmp_path: Path) -> None:
    assert read_config_file(write(tmp_path, "")) == {}
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_file(tmp_path)  # a directory


def test_load_user_config_honours_turnout_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "backends: {a: {kind: openai, key: k}}\nautodetect: {local: false}")
    monkeypatch.setenv("TURNOUT_CONFIG", str(path))
    assert list(load_user_config(discover=False).backends) == ["a"]


def test_the_annotated_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
    cfg = load_config(example, env={"ANTHROPIC_API_KEY": "a", "GROQ_API_KEY": "g"})
    assert list(cfg.backends) == ["anthropic", "groq", "ollama"]
    assert cfg.aliases["fast"] == "groq:llama-3.3-70b-versatile"


def test_pools_fallbacks_governor_and_settings(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "creds")
    store.set_pool_key("groq", "stored", "gsk-stored", base_url="https://api.groq.com/openai/v1")
    store.set_pool_key("groq", "moved", "gsk-moved", base_url="https://old.example.com/v1")
    path = write(
        tmp_path,
        """
backends:
  groq:
    kind: openai-compat
    base_url: https://api.groq.com/openai/v1
    keys:
      - {alias: work, key: gsk-work}
      - {alias: eu, key: gsk-eu, base_url: https://eu.example.com/v1}
    max_concurrent: 4
    min_interval_ms: 250
  single: {kind: openai, key: sk-one}
routes:
  - {match: "big-*", backend: single, fallbacks: ["groq/llama-3.3-70b", groq]}
pool: {queue_timeout: 5, queue_max: 8, attempts: 4, error_cooldown: 1}
analytics: {path: /tmp/x.sqlite3, retention_days: 7}
prices: {"my-*": {input: 1, output: 2}}
autodetect: {environment: false, local: false}
""",
    )
    cfg = load_config(path, env={}, store=store)
    groq = cfg.backends["groq"]
    assert [(k.alias, k.key, k.base_url, k.source) for k in groq.members] == [
        ("work", "gsk-work", None, "config"),
        ("eu", "gsk-eu", "https://eu.example.com/v1", "config"),
        ("stored", "gsk-stored", None, "stored"),
    ]
    assert (groq.max_concurrent, groq.min_interval) == (4, 0.25)
    assert [m.alias for m in cfg.backends["single"].members] == ["default"]
    assert cfg.routes[0].fallbacks == (("groq", "llama-3.3-70b"), ("groq", None))
    assert (cfg.pool.queue_timeout, cfg.pool.queue_max, cfg.pool.attempts) == (5, 8, 4)
    assert cfg.analytics.retention_days == 7 and cfg.prices == (("my-*", {"input": 1.0, "output": 2.0}),)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "backends: {x: {kind: openai, keys: [{alias: a}, {alias: a}]}}",
            "backends.x.keys[1].alias: aliases are unique",
        ),
        ("backends: {x: {kind: openai, keys: [{key: k}]}}", "backends.x.keys[0].alias: must be a name"),
        (
            "backends: {x: {kind: openai, max_concurrent: 0}}",
            "backends.x.max_concurrent: must be a whole number of requests from 1",
        ),
        (
            "backends: {x: {kind: openai}}\nroutes: [{match: a, backend: x, fallbacks: [nope/m]}]",
            "routes[0].fallbacks[0]: unknown backend 'nope'",
        ),
        ("pool: {queue_timeout: -1}", "pool.queue_timeout: must be a number of seconds from 0"),
        ("pool: {patience: 3}", "pool.patience: unknown key"),
        ("analytics: {enabled: maybe}", "analytics.enabled: must be true or false"),
        ("prices: {m: {input: cheap}}", "prices.m.input: must be a number of dollars per million tokens"),
        ("prices: {m: {tax: 1}}", "prices.m.tax: unknown key"),
    ],
)
def test_pool_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert needle in str(e.value)


@pytest.mark.parametrize(
    "text",
    [
        "backends: {x: {kind: openai, key: [sk-in-a-list-123456]}}",
        'backends: {x: {kind: openai, key: "sk-abc\\r\\nX-Injected: 1"}}',
        'backends: {x: {kind: openai, headers: {X-T: "v\\nX-Injected: 1"}}}',
        'backends: {x: {kind: openai, keys: [{alias: a, key: "sk-abc\\r\\nx: 1"}]}}',
        "backends: {x: {kind: openai, key: {nested: sk-in-a-map-123456}}}",
    ],
)
def test_secrets_with_control_characters_or_wrong_types_are_refused_unechoed(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert "sk-" not in e.value.message and "Injected" not in e.value.message, e.value.message


def test_credentials_in_a_base_url_are_masked_in_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, "backends: {x: {kind: openai, base_url: 'http://user:hunter2@h:99999/v1?key=sekrit'}}"
    )
    with pytest.raises(ConfigError) as e:
        load_config(path, env={})
    assert "hunter2" not in e.value.message and "sekrit" not in e.value.message and "…@h" in e.value.message


def test_the_hub_quirks_and_backend_kinds_read_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        """
backends:
  resp: {kind: openai-responses, key: k}
  gem: {kind: gemini, key: AIza-k}
  local:
    kind: openai-compat
    base_url: "http://127.0.0.1:9/v1"
    quirks: {responses_api: true, sampling: false}
autodetect: {environment: false, local: false}
"""
    )
    cfg = load_config(path, env={})
    assert (
        cfg.backends["resp"].base_url == "https://api.openai.com/v1"
        and cfg.backends["resp"].wire == "responses"
    )
    assert cfg.backends["gem"].base_url.endswith("/v1beta") and cfg.backends["gem"].wire == "gemini"
    quirks = cfg.backends["local"].quirks
    assert quirks.responses_api is True and quirks.sampling is False
    path.write_text(path.read_text().replace("sampling: false", "sampling: maybe"))
    with pytest.raises(ConfigError, match=r"quirks\.sampling: must be one of true, false, null"):
        load_config(path, env={})
