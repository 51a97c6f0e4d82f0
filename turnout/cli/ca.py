"""``turnout ca``: the CA the interception listener (``turnout proxy --intercept``) signs
provider hosts' certificates with. Made on first use with mitmproxy's own machinery, in
turnout's data directory (0700; the key file 0600). The private key is never printed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from turnout.cli._console import err, fail, out
from turnout.core.paths import data_dir

app = typer.Typer(help="The CA of interception mode (turnout proxy --intercept).", no_args_is_help=True)

NSS_NAME = "turnout interception CA"
ConfdirOpt = Annotated[
    Path | None, typer.Option("--confdir", help="Where the CA lives (default: turnout's data dir, certs/).")
]


def ensure_ca(confdir: Path | None = None) -> Path:
    """The CA certificate's path (PEM), the CA made first if there is none (with mitmproxy's
    own machinery, as the proxy makes it, and under the same lock)."""
    from turnout.server import made_once, private_dir

    where = confdir or data_dir() / "certs"
    private_dir(where)
    made_once(where, 2048)
    return where / "mitmproxy-ca-cert.pem"


@app.command("path")
def path(confdir: ConfdirOpt = None) -> None:
    """Print the CA certificate's path (for NODE_EXTRA_CA_CERTS and the like)."""
    out.print(str(ensure_ca(confdir)), highlight=False, soft_wrap=True)


@app.command("show")
def show(confdir: ConfdirOpt = None) -> None:
    """Print the CA certificate (never its key), its SHA-256 fingerprint and validity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = ensure_ca(confdir).read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    fingerprint = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    out.print(f"subject: {cert.subject.rfc4514_string()}", highlight=False)
    out.print(
        f"valid: {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}", highlight=False
    )
    out.print(f"SHA-256: {fingerprint}", highlight=False, soft_wrap=True)
    out.print(pem.decode().strip(), highlight=False, markup=False)


def _nssdb() -> Path:
    return Path.home() / ".pki" / "nssdb"


@app.command("install")
def install(confdir: ConfdirOpt = None) -> None:
    """Trust the CA where that needs no root (the NSS database: Chromium, and tools using
    NSS); otherwise print the variables each runtime reads instead."""
    ca = ensure_ca(confdir)
    certutil = shutil.which("certutil")
    if certutil is None:
        err.print(
            "certutil (Debian: libnss3-tools) is not installed, so there is no user trust store to add "
            'the CA to; tools read it from the environment instead: eval "$(turnout env --intercept)"',
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    db = _nssdb()
    db.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (db / "cert9.db").exists():
        subprocess.run(
            [certutil, "-d", f"sql:{db}", "-N", "--empty-password"], check=True, capture_output=True
        )
    done = subprocess.run(
        [certutil, "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", NSS_NAME, "-i", str(ca)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        fail(f"certutil could not add the CA to {db}: {done.stderr.strip()[:300]}")
    out.print(
        f'trusted in {db} as {NSS_NAME!r}; other tools: eval "$(turnout env --intercept)"', highlight=False
    )


@app.command("uninstall")
def uninstall() -> None:
    """Remove the CA from the NSS database (the files stay: the proxy still uses them)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        out.print("certutil is not installed: nothing was installed with it", highlight=False)
        return
    done = subprocess.run(
        [certutil, "-d", f"sql:{_nssdb()}", "-D", "-n", NSS_NAME], capture_output=True, text=True
    )
    said = "removed from" if done.returncode == 0 else "was not in"
    out.print(f"{NSS_NAME!r} {said} {_nssdb()}", highlight=False)
