"""``turnout env``: the settings for a shell, with the model chosen from the config."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_main import run


def test_env_prints_what_eval_needs_and_picks_a_routable_model(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "backends:\n  lan: {kind: openai-compat, base_url: 'http://127.0.0.1:9/v1', models: [qwen3:8b]}\n"
        "autodetect: {environment: false, local: false}\n"
    )
    code, out, err = run("env", "claude", "--url", "http://127.0.0.1:9", "-c", str(config))
    assert code == 0, err
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:9" in out and "unset ANTHROPIC_API_KEY" in out
    assert "export ANTHROPIC_MODEL=qwen3:8b" in out and "export ANTHROPIC_DEFAULT_HAIKU_MODEL=qwen3:8b" in out
    assert "nothing answers at http://127.0.0.1:9" in err
    code, out, _ = run("env", "gemini", "--url", "http://127.0.0.1:9", "-c", str(config), "-m", "qwen3:8b")
    assert code == 0 and "export GEMINI_MODEL=qwen3:8b" in out and "GOOGLE_GEMINI_BASE_URL" in out
