"""What local servers say about their context windows, read the way each one says it."""

from __future__ import annotations

from tests.fakes.upstream import FakeUpstream
from turnout.core.probe import ServerFacts, probe_server, window_of


def test_llama_cpp_reports_n_ctx_in_props() -> None:
    with FakeUpstream(n_ctx=4096, models=("smollm2",)) as up:
        facts = probe_server(up.url + "/v1")
    assert facts == ServerFacts(("smollm2",), {}, 4096)
    assert window_of(facts, "smollm2") == window_of(facts, "anything") == 4096


def test_vllm_reports_max_model_len_in_its_model_list() -> None:
    with FakeUpstream(models=("qwen", "llama"), list_windows={"qwen": 32768}) as up:
        facts = probe_server(up.url + "/v1")
    assert facts.windows == {"qwen": 32768} and facts.window is None
    assert window_of(facts, "qwen") == 32768 and window_of(facts, "llama") is None


def test_ollama_reports_context_length_in_api_show() -> None:
    with FakeUpstream(models=("llama3:8b", "tiny"), ollama_windows={"llama3:8b": 8192}) as up:
        facts = probe_server(up.url + "/v1")
        shown = [r for r in up.requests if r.path == "/api/show"]
    assert facts.windows == {"llama3:8b": 8192}
    assert [r.json()["model"] for r in shown] == ["llama3:8b", "tiny"]


def test_a_server_that_reports_nothing_or_is_down_is_not_known() -> None:
    with FakeUpstream() as up:
        assert probe_server(up.url + "/v1").windows == {}
    assert probe_server("http://127.0.0.1:1/v1", timeout=0.5) == ServerFacts()
    assert window_of(None, "m") is None
