"""``turnout ca`` and ``turnout env/run --intercept``: the CA made once and kept private,
the variables each runtime reads, and a real tool run through the interception listener."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.proxy_process import cli_env, run_cli
from tests.fakes.upstream import FakeUpstream


def test_the_ca_is_made_once_private_and_shown_without_its_key(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    first = run_cli("ca", "path", env=env)
    assert first.returncode == 0, first.stderr
    ca = Path(first.stdout.strip())
    assert ca == tmp_path / "data" / "turnout" / "certs" / "mitmproxy-ca-cert.pem" and ca.exists()
    assert ca.parent.stat().st_mode & 0o777 == 0o700
    assert (ca.parent / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    made = ca.read_bytes()
    assert run_cli("ca", "path", env=env).stdout.strip() == str(ca) and ca.read_bytes() == made  # kept
    shown = run_cli("ca", "show", env=env)
    assert shown.returncode == 0 and "BEGIN CERTIFICATE" in shown.stdout and "SHA-256: " in shown.stdout
    assert "PRIVATE KEY" not in shown.stdout + shown.stderr


def test_install_uses_the_nss_database_or_says_what_to_do(tmp_path: Path) -> None:
    stand_in, nothing = tmp_path / "bin", tmp_path / "empty"
    stand_in.mkdir()
    nothing.mkdir()
    (tmp_path / "home").mkdir()
    env = cli_env(tmp_path, HOME=str(tmp_path / "home"), PATH=str(nothing))  # no certutil anywhere
    missing = run_cli("ca", "install", env=env)
    assert missing.returncode == 1 and 'eval "$(turnout env --intercept)"' in missing.stderr
    calls = tmp_path / "calls.txt"
    (stand_in / "certutil").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (stand_in / "certutil").chmod(0o755)
    env["PATH"] = f"{stand_in}:/usr/bin:/bin"
    done = run_cli("ca", "install", env=env)
    assert done.returncode == 0, done.stderr
    said = calls.read_text()
    assert "-N --empty-password" in said and "-A -t C,, -n turnout interception CA -i " in said
    assert f"sql:{tmp_path / 'home' / '.pki' / 'nssdb'}" in said
    assert (
        run_cli("ca", "uninstall", env=env).returncode == 0
        and "-D -n turnout interception CA" in calls.read_text()
    )


def exported(lines: str) -> dict[str, str]:
    """The variables ``lines`` set, as bash sees them."""
    names = "HTTPS_PROXY NO_PROXY NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE"
    script = lines + f'\nfor v in {names}; do echo "$v=${{!v}}"; done'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def test_env_intercept_prints_what_each_runtime_reads(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    printed = run_cli("env", "--intercept", env=env)
    assert printed.returncode == 0, printed.stderr
    values = exported(printed.stdout)
    assert values["HTTPS_PROXY"] == "http://127.0.0.1:3457" and "127.0.0.1" in values["NO_PROXY"]
    ca, bundle = Path(values["NODE_EXTRA_CA_CERTS"]), Path(values["SSL_CERT_FILE"])
    assert values["REQUESTS_CA_BUNDLE"] == values["CURL_CA_BUNDLE"] == str(bundle)
    assert ca.read_text().strip() in bundle.read_text()  # turnout's CA, and the system's before it
    assert bundle.read_text().count("BEGIN CERTIFICATE") > 10
    assert "no turnout HTTPS proxy answers" in printed.stderr
    keyed = exported(run_cli("env", "--intercept", env={**env, "TURNOUT_API_KEY": "k 'quoted'"}).stdout)
    assert keyed["HTTPS_PROXY"] == "http://turnout:k 'quoted'@127.0.0.1:3457"


def test_run_intercept_starts_a_proxy_for_a_tool_on_its_default_base_url(tmp_path: Path) -> None:
    """No turnout running: `turnout run --intercept` starts one with its HTTPS proxy, and a
    Python program using the openai SDK on api.openai.com is routed to the upstream."""
    with FakeUpstream() as up:
        config = tmp_path / "config.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "{up.url}/v1", key: sk-backend-1,\n'
            "  models: [gpt-4o-mini]}}\n"
            "autodetect: {environment: false, local: false}\n"
        )
        program = (
            "import openai\n"
            "c = openai.OpenAI(api_key='sk-the-tools-own', max_retries=0)\n"
            "print(c.chat.completions.create(model='gpt-4o-mini', messages=[]).choices[0].message.content)\n"
        )
        env = cli_env(tmp_path, TURNOUT_INTERCEPT_URL="http://127.0.0.1:1")  # nothing there: start one
        done = run_cli(
            "run", "--intercept", "-c", str(config), sys.executable, "-c", program, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "hello from gpt-4o-mini"
        assert "started one" in done.stderr
        assert up.last().headers["authorization"] == "Bearer sk-backend-1"
        assert "sk-the-tools-own" not in str(up.last().headers)


def test_the_config_can_turn_the_https_proxy_on(tmp_path: Path) -> None:
    from tests.cli.proxy_process import proxy_process
    from turnout.settings import free_port

    port = free_port("127.0.0.1")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"intercept: {{enabled: true, port: {port}}}\nautodetect: {{environment: false, local: false}}\n"
    )
    for workers in ("1", "2"):
        with proxy_process("-c", str(config), "--workers", workers, env=cli_env(tmp_path)) as proxy:
            assert f"HTTPS proxy (--intercept) on http://127.0.0.1:{port}" in proxy.banner
    bad = run_cli("proxy", "-p", "0", "-c", str(config), "--intercept-port", "99999", env=cli_env(tmp_path))
    assert bad.returncode == 1 and "--intercept-port 99999 is not a port number" in bad.stderr
