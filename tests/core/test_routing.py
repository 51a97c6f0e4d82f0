from __future__ import annotations

import re
from pathlib import Path

import pytest

from turnout.core.config import load_config
from turnout.core.errors import ConfigError, NoRouteError
from turnout.core.models import Backend, Config, Facts, Route
from turnout.core.providers import DEFAULT_ALIASES
from turnout.core.routing import Resolver, upstream_url

ANTH = Backend("anthropic", "anthropic", "https://api.anthropic.com", "k")
OAI = Backend("openai", "openai", "https://api.openai.com/v1", "k")
GROQ = Backend("groq", "openai-compat", "https://api.groq.com/openai/v1", "k", models=("llama-3.3-70b",))
OLLAMA = Backend("ollama", "openai-compat", "http://127.0.0.1:11434/v1", models=("llama3:8b", "gpt-oss"))


def router(
    *backends: Backend, routes: tuple[Route, ...] = (), aliases: dict[str, str] | None = None
) -> Resolver:
    return Resolver(Config({b.name: b for b in backends}, routes, {**DEFAULT_ALIASES, **(aliases or {})}))


@pytest.mark.parametrize(
    ("model", "backend", "served", "rule"),
    [
        ("claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6", "default claude-*"),
        ("gpt-4o", "openai", "gpt-4o", "default openai models"),
        ("o3-mini", "openai", "o3-mini", "default openai models"),
        ("chatgpt-4o-latest", "openai", "chatgpt-4o-latest", "default openai models"),
        ("text-embedding-3-small", "openai", "text-embedding-3-small", "default openai models"),
        ("llama-3.3-70b", "groq", "llama-3.3-70b", "listed by groq"),
        ("llama3:8b", "ollama", "llama3:8b", "listed by ollama"),  # a colon that is not a prefix
        ("groq:anything-new", "groq", "anything-new", "prefix groq:"),
        ("sonnet", "anthropic", DEFAULT_ALIASES["sonnet"], "alias sonnet, default claude-*"),
        ("fast", "groq", "llama-3.3-70b", "alias fast, prefix groq:"),
    ],
)
def test_defaults_prefixes_and_aliases(model: str, backend: str, served: str, rule: str) -> None:
    d = router(ANTH, OAI, GROQ, OLLAMA, aliases={"fast": "groq:llama-3.3-70b"}).resolve(model)
    assert (d.backend.name, d.model, d.rule) == (backend, served, rule)
    assert d.requested == model


def test_rules_come_first_in_order_and_may_rewrite() -> None:
    routes = (
        Route("claude-haiku*", "groq", re.compile(r"claude-haiku.*"), "llama-3.3-70b", "glob"),
        Route("^claude-.*$", "openai", re.compile(r"^claude-.*$"), None, "regex"),
    )
    r = router(ANTH, OAI, GROQ, routes=routes)
    haiku = r.resolve("claude-haiku-4-5")
    assert (haiku.backend.name, haiku.model, haiku.rewritten) == ("groq", "llama-3.3-70b", True)
    assert haiku.describe() == "claude-haiku-4-5 → groq as llama-3.3-70b (rule glob claude-haiku*)"
    opus = r.resolve("claude-opus-5")
    assert (opus.backend.name, opus.rewritten) == ("openai", False)
    assert opus.describe() == "claude-opus-5 → openai (rule regex ^claude-.*$)"


def test_no_route_names_routable_models_and_what_to_do() -> None:
    with pytest.raises(NoRouteError) as e:
        router(GROQ).resolve("mystery")
    assert "llama-3.3-70b" in e.value.message and "backend:model" in e.value.message
    with pytest.raises(NoRouteError, match="set ANTHROPIC_API_KEY"):
        router(GROQ).resolve("claude-x")
    with pytest.raises(NoRouteError, match="set OPENAI_API_KEY"):
        router(GROQ).resolve("gpt-5")
    with pytest.raises(NoRouteError, match="No backend lists any model"):
        router().resolve("x")


def test_openai_compat_listing_preferred_over_others() -> None:
    lister = Backend("openai", "openai", "https://api.openai.com/v1", models=("shared",))
    compat = Backend("compat", "openai-compat", "http://h/v1", models=("shared",))
    assert router(lister, compat).resolve("shared").backend.name == "compat"


def test_routable_models_lists_models_and_resolvable_aliases() -> None:
    assert router(GROQ).routable_models() == ["llama-3.3-70b"]
    assert router(ANTH, GROQ).routable_models() == ["llama-3.3-70b", "opus", "sonnet", "haiku"]


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://api.anthropic.com", "/v1/messages", "https://api.anthropic.com/v1/messages"),
        (
            "https://api.groq.com/openai/v1",
            "/v1/chat/completions",
            "https://api.groq.com/openai/v1/chat/completions",
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "/v1/chat/completions",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        ("http://127.0.0.1:11434", "/v1/embeddings", "http://127.0.0.1:11434/v1/embeddings"),
    ],
)
def test_upstream_url(base: str, path: str, url: str) -> None:
    assert upstream_url(Backend("b", "openai-compat", base), path) == url


def test_decisions_are_remembered_per_name_and_the_memory_is_bounded() -> None:
    r = router(ANTH, OAI, GROQ)
    first = r.resolve("gpt-4o")
    assert r.resolve("gpt-4o") is first  # resolved once
    with pytest.raises(NoRouteError):
        r.resolve("nobody-serves-this")
    with pytest.raises(NoRouteError):  # an unknown name stays unknown, and stays an error
        r.resolve("nobody-serves-this")
    r.CACHE_SIZE = 3
    for name in ("gpt-a", "gpt-b", "gpt-c", "gpt-d"):
        r.resolve(name)
    assert len(r._decisions) <= 3 and r.resolve("gpt-4o").backend.name == "openai"


def test_when_rules_route_by_what_a_request_is(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        """
backends:
  anthropic: {kind: anthropic, key: k}
  groq: {kind: openai-compat, base_url: "https://api.groq.com/openai/v1", key: k}
  long: {kind: gemini, key: k}
routes:
  - {when: {request_class: subagent}, backend: groq, model: llama-3.3-70b}
  - {match: "claude-*", when: {tokens_over: 60000}, backend: long, model: gemini-2.5-pro}
  - {when: {api: gemini, tools: true}, backend: anthropic, model: claude-sonnet-5-5}
  - {match: "claude-*", when: {thinking: true, agent_type: planner}, backend: long}
autodetect: {environment: false, local: false}
"""
    )
    r = Resolver(load_config(config, env={}))
    plain = r.resolve("claude-sonnet-5-5", Facts(api="messages"))
    assert (plain.backend.name, plain.rule) == ("anthropic", "default claude-*")
    sub = r.resolve("claude-sonnet-5-5", Facts(api="messages", request_class="subagent"))
    assert (sub.backend.name, sub.model) == ("groq", "llama-3.3-70b")
    assert sub.rule == "rule glob * when request_class: subagent"
    big = r.resolve("claude-sonnet-5-5", Facts(api="messages", tokens=60001))
    assert (big.backend.name, big.model) == ("long", "gemini-2.5-pro")
    assert r.resolve("claude-sonnet-5-5", Facts(tokens=60000)).backend.name == "anthropic"  # "over" is strict
    tools = r.resolve("gemini-2.5-flash", Facts(api="gemini", tools=True))
    assert (tools.backend.name, tools.model) == ("anthropic", "claude-sonnet-5-5")
    with pytest.raises(NoRouteError):
        r.resolve("gemini-2.5-flash", Facts(api="gemini", tools=False))
    planner = r.resolve("claude-opus-5-5", Facts(thinking=True, agent_type="planner"))
    assert planner.backend.name == "long" and "thinking: True" in planner.rule
    # decisions are remembered per name and per which conditions held, never mixed up
    assert r.resolve("claude-sonnet-5-5", Facts(api="messages")).backend.name == "anthropic"
    assert r.resolve("claude-sonnet-5-5", Facts(request_class="subagent")).backend.name == "groq"


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("{}", "name at least one condition"),
        ("{request_class: 5}", "request_class: must be a name"),
        ("{tokens_over: -1}", "tokens_over: must be a whole number"),
        ("{tokens_over: 1.5}", "tokens_over: must be a whole number"),
        ("{api: soap}", "api: must be one of messages, chat, responses, gemini"),
        ("{thinking: maybe}", "thinking: must be true or false"),
        ("{colour: red}", "unknown key"),
    ],
)
def test_when_rules_are_checked(tmp_path: Path, when: str, problem: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"backends: {{a: {{kind: anthropic, key: k}}}}\nroutes:\n  - {{when: {when}, backend: a}}\n"
    )
    with pytest.raises(ConfigError, match=problem):
        load_config(config, env={})


def test_a_bare_name_a_backend_lists_routes_there_after_the_configs_own_lists() -> None:
    lan = Backend("lan", "openai-compat", "http://127.0.0.1:11434/v1")
    resolver = Resolver(
        Config({"groq": GROQ, "lan": lan}), {"lan": ("qwen3:8b", "llama-3.3-70b"), "gone": ("x",)}
    )
    d = resolver.resolve("qwen3:8b")
    assert d.backend is lan and d.model == "qwen3:8b" and d.rule == "in lan's model list"
    assert resolver.resolve("llama-3.3-70b").backend is GROQ  # the config's list comes first
    assert resolver.model_owners() == {"llama-3.3-70b": "groq", "qwen3:8b": "lan"}
    with pytest.raises(NoRouteError, match="qwen3:8b"):  # the hint names what lists hold
        resolver.resolve("nobody-has-it")
