"""What a secret looks like: the detectors the scrubber (``core/scrub.py``) runs.

Each detector names a *kind* (``aws_access_key``, ``github_token``, …), the literal
*anchors* every one of its secrets starts with, and a pattern matched where an anchor is
found. Anchors are found in one pass of an Aho-Corasick automaton over the bytes
(``ahocorasick_rs``, leftmost-first so that its SIMD prefilter runs: ~50 µs for 200 KB
with the 62 anchors here; past 64 it falls back to a search 6x slower), so text with no
anchor costs nothing more; only an anchor's neighbourhood meets a regular expression.
Tokens have the case their issuers give them; names (``password``, ``API_KEY``,
``apiKey``) are anchored in their lower, UPPER, Capitalized and camelCase forms.
Everything is compiled once: the built-in detectors at import, the user's patterns and
allowlist when the config is read.

The scan works on bytes, and the patterns match in JSON text too (a request body before
parsing: ``\\"password\\": \\"…\\"``, a key file's ``\\n``), so a body whose bytes hold
no finding holds none in any of its strings either: that is the scrubber's fast path.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ahocorasick_rs

__all__ = ["BUILTIN", "KINDS", "Detector", "Finding", "Scanner", "UserPattern", "allow_regex", "entropy"]

_PLACEHOLDERS = re.compile(
    rb"(?i)^(?:\$|\{|<|%|\[\[)|x{4}|\*{3}|\.\.\.|your[_-]|example|changeme|placeholder|dummy|redacted|"
    rb"^(?:true|false|null|none|undefined|password|passwd|pass|pwd|secret|token|key|apikey)$"
)
_DOTTED = re.compile(rb"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")  # request.headers.get
# A token starts where its alphabet does not go on, or right after a JSON escape (the
# body's bytes: a key at the start of a line follows the two characters \n).
_START = rb"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{4}))"
_QUOTE = rb"(?:\\{0,3}[\"'])?"  # a quote, perhaps escaped (once, or more in JSON in JSON)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int  # in the bytes scanned
    end: int
    value: bytes


@dataclass(frozen=True)
class Detector:
    kind: str
    anchors: tuple[bytes, ...]  # every secret of this kind starts with one
    pattern: re.Pattern[bytes]  # matched at the anchor; group ``v`` (else the whole match) is the secret
    check: Callable[[bytes], bool] | None = None  # a last word on the value (entropy, placeholders)


def entropy(value: bytes) -> float:
    """Shannon entropy, bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _random_looking(value: bytes) -> bool:
    """A value assigned to a ``password``/``token`` name that looks like a real secret: long
    enough, letters and digits, varied, and not a placeholder or a code reference."""
    if len(value) < 8 or _PLACEHOLDERS.search(value) or _DOTTED.match(value):
        return False
    if not any(48 <= c <= 57 for c in value) or not any(65 <= c <= 90 or 97 <= c <= 122 for c in value):
        return False
    return entropy(value) >= 3.0


def _real_password(value: bytes) -> bool:
    """A password in a URL (``https://user:pw@host``) that is not a placeholder."""
    return len(value) >= 6 and not _PLACEHOLDERS.search(value) and len(set(value)) > 2


def _mixed(value: bytes) -> bool:
    """A generated token: upper and lower case letters and digits."""
    return (
        any(48 <= c <= 57 for c in value)
        and any(65 <= c <= 90 for c in value)
        and any(97 <= c <= 122 for c in value)
    )


def _token(
    kind: str, anchors: Iterable[str], body: str, check: Callable[[bytes], bool] | None = None
) -> Detector:
    """A token with a prefix of its own, bounded on both sides by characters it never holds."""
    pattern = _START + body.encode() + rb"(?![A-Za-z0-9_\-])"
    return Detector(kind, tuple(a.encode() for a in anchors), re.compile(pattern), check)


_KEYWORDS = (
    "password", "passwd", "passphrase", "secret", "token", "api_key", "apikey", "api-key",
    "access_key", "accesskey", "private_key", "credential",
)  # fmt: skip
_NAMES = {
    *_KEYWORDS, *(k.upper() for k in _KEYWORDS),
    "Password", "Secret", "Token", "Credential", "apiKey", "accessKey", "privateKey",
}  # fmt: skip
# A name that says secret (``db_password``, ``API_KEY_ID``), and the value given to one.
_SECRET_NAME = (
    rb"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"
    rb"(?:[_.-][A-Za-z0-9]+){0,3}"
)
_SECRET_VALUE = rb"[^\s\"'`\\,;<>(){}\[\]]{8,256}"
_ASSIGNMENT = re.compile(
    rb"(?i)(?<!\[\[)" + _SECRET_NAME + _QUOTE + rb"[ \t]{0,4}(?::=|=>|[:=])[ \t]{0,4}" + _QUOTE
    + rb"(?P<v>" + _SECRET_VALUE + rb")"
)  # fmt: skip

BUILTIN: tuple[Detector, ...] = (
    _token("anthropic_key", ["sk-"], r"sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_\-]{32,300}"),
    _token("openrouter_key", ["sk-"], r"sk-or-v1-[0-9a-f]{64}"),
    _token("openai_key", ["sk-"], r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,300}"),
    _token("openai_key", ["sk-"], r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
    _token("api_key", ["sk-"], r"sk-[A-Za-z0-9]{32,128}", _mixed),  # DeepSeek, Moonshot, older OpenAI…
    _token("api_key", ["sk-"], r"sk-[a-f0-9]{32,64}"),
    _token("groq_key", ["gsk_"], r"gsk_[A-Za-z0-9]{48,60}"),
    _token("xai_key", ["xai-"], r"xai-[A-Za-z0-9]{60,100}"),
    _token("google_api_key", ["AIza"], r"AIza[0-9A-Za-z_\-]{35}"),
    _token("huggingface_token", ["hf_"], r"hf_[A-Za-z0-9]{34,40}"),
    _token("aws_access_key", ["AKIA", "ASIA", "ABIA", "ACCA"], r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"),
    _token("github_token", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], r"gh[pousr]_[A-Za-z0-9]{36,255}"),
    _token("github_token", ["github_pat_"], r"github_pat_[A-Za-z0-9_]{60,255}"),
    _token("gitlab_token", ["glpat-"], r"glpat-[A-Za-z0-9_\-]{20,64}"),
    _token("slack_token", ["xox"], r"xox[abprs]-[A-Za-z0-9\-]{10,250}"),
    Detector(
        "slack_webhook",
        (b"hooks.slack.com",),
        re.compile(rb"hooks\.slack\.com/services/(?P<v>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})"),
    ),
    _token(
        "stripe_key",
        ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,250}",
    ),
    _token("stripe_key", ["whsec_"], r"whsec_[A-Za-z0-9]{24,100}"),
    _token("npm_token", ["npm_"], r"npm_[A-Za-z0-9]{36}"),
    _token("pypi_token", ["pypi-AgE"], r"pypi-AgE[A-Za-z0-9_\-]{50,300}"),
    _token("jwt", ["eyJ"], r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    Detector(
        "private_key",
        (b"-----BEGIN",),
        re.compile(
            rb"-----BEGIN (?:[A-Z0-9]{1,12} ){0,2}PRIVATE KEY(?: BLOCK)?-----"
            rb".{16,20000}?-----END (?:[A-Z0-9]{1,12} ){0,2}PRIVATE KEY(?: BLOCK)?-----",
            re.DOTALL,
        ),
    ),
    Detector(
        "azure_key",
        (b"AccountKey=", b"SharedAccessKey="),
        re.compile(rb"(?i)(?:Account|SharedAccess)Key=(?P<v>[A-Za-z0-9+/]{30,100}={0,2})"),
    ),
    Detector(
        "url_password",
        (b"://",),
        re.compile(rb"://[^\s/:@\"'\\]{1,64}:(?P<v>[^\s/@\"'\\]{1,128})@[A-Za-z0-9\[]"),
        _real_password,
    ),
    Detector("secret_assignment", tuple(k.encode() for k in sorted(_NAMES)), _ASSIGNMENT, _random_looking),
)
_NAME = re.compile(rb"(?i)" + _SECRET_NAME + rb"$")
_VALUE = re.compile(_SECRET_VALUE)
KINDS = frozenset(d.kind for d in BUILTIN) | {"aws_secret_key"}

_ESCAPE = b"\\u00"  # plain ASCII escaped (\u0041 for A) hides it from a search of the bytes
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9a-fA-F]")

# The examples in AWS's documentation: everywhere, and nobody's.
_DOCUMENTED = frozenset({b"AKIAIOSFODNN7" + b"EXAMPLE", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + b"EXAMPLEKEY"})

# An AWS secret access key has no prefix of its own: 40 characters near its key id.
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_NEAR = 300


@dataclass(frozen=True)
class UserPattern:
    """``scrub.patterns`` in the config: the user's own kinds of secret."""

    kind: str
    pattern: re.Pattern[bytes]


class Scanner:
    """The detectors, the user's patterns and the allowlist, compiled once per config."""

    def __init__(
        self,
        patterns: Iterable[UserPattern] = (),
        allow: Iterable[str] = (),
        detectors: tuple[Detector, ...] = BUILTIN,
    ) -> None:
        self.patterns = tuple(patterns)
        allow = tuple(allow)
        self._allow_values = frozenset(a.encode() for a in allow if allow_regex(a) is None)
        allowed = [regex for a in allow if (regex := allow_regex(a)) is not None]
        self._allow = re.compile("|".join(f"(?:{a})" for a in allowed).encode()) if allowed else None
        anchors: dict[bytes, list[Detector]] = {_ESCAPE: []}
        for detector in detectors:
            for anchor in detector.anchors:
                anchors.setdefault(anchor, []).append(detector)
        self._anchors = sorted(anchors, key=len, reverse=True)  # the longest anchor at a position wins
        self._escape = self._anchors.index(_ESCAPE)
        self._by_anchor = [anchors[a] for a in self._anchors]
        # Leftmost-first lets the automaton use its SIMD prefilter (10x faster than "standard").
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            self._anchors, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
        )

    def allowed(self, value: bytes) -> bool:
        return (
            value in _DOCUMENTED
            or value in self._allow_values
            or (self._allow is not None and self._allow.fullmatch(value) is not None)
        )

    def find(self, data: bytes) -> list[Finding]:
        """Every secret in ``data`` (a string's text), in order, none overlapping (the
        longer one wins)."""
        return self._find(data, 0, True)[0]

    def scan(self, data: bytes, start: int = 0) -> tuple[list[Finding], bool]:
        """``find`` for a JSON body, from ``start`` on, without the user's patterns (they
        match strings, not JSON text); and whether it writes plain ASCII as ``\\u00XX``,
        which hides text from a search of the bytes."""
        return self._find(data, start, False)

    def _find(self, data: bytes, start: int, patterns: bool) -> tuple[list[Finding], bool]:
        found: list[Finding] = []
        escaped = False
        if len(data) - start < 6:
            return found, escaped
        rest = data[start:] if start else data
        for index, at, _ in self._automaton.find_matches_as_indexes(rest):
            if index == self._escape:
                escaped = escaped or _ESCAPED_ASCII.match(data, start + at) is not None
                continue
            for detector in self._by_anchor[index]:
                if (finding := self._at(detector, data, start + at)) is not None:
                    found.append(finding)
                    break
        if patterns:
            for user in self.patterns:
                for m in user.pattern.finditer(data):
                    if m.end() > m.start() and not self.allowed(m.group(0)):
                        found.append(Finding(user.kind, m.start(), m.end(), m.group(0)))
        if any(f.kind == "aws_access_key" for f in found):
            found += self._aws_secrets(data, found)
        return _without_overlaps(found), escaped

    def assigned(self, name: str, value: bytes) -> str | None:
        """The kind of secret a JSON member is (``{"password": "…"}`` in a tool call's
        arguments: the name and the value are two strings there), or None."""
        key = name.encode("utf-8", "surrogatepass")
        if not _NAME.search(key) or not _VALUE.fullmatch(value) or not _random_looking(value):
            return None
        if self.allowed(value):
            return None
        return "aws_secret_key" if b"aws_secret" in key.lower() else "secret_assignment"

    def _at(self, detector: Detector, data: bytes, start: int) -> Finding | None:
        m = detector.pattern.match(data, start)
        if m is None:
            return None
        group = "v" if "v" in detector.pattern.groupindex else 0
        value = m.group(group)
        if not value or (detector.check is not None and not detector.check(value)) or self.allowed(value):
            return None
        kind = detector.kind
        if kind == "secret_assignment" and data[max(0, start - 4) : start + 6].lower() == b"aws_secret":
            kind = "aws_secret_key"  # AWS_SECRET_ACCESS_KEY=…
        return Finding(kind, m.start(group), m.end(group), value)

    def _aws_secrets(self, data: bytes, found: list[Finding]) -> list[Finding]:
        """The secret access key that goes with a key id: 40 characters nearby."""
        more = []
        for key_id in [f for f in found if f.kind == "aws_access_key"]:
            lo, hi = max(0, key_id.start - _AWS_NEAR), min(len(data), key_id.end + _AWS_NEAR)
            for m in _AWS_SECRET.finditer(data, lo, hi):
                if _mixed(m.group(0)) and not self.allowed(m.group(0)):
                    more.append(Finding("aws_secret_key", m.start(), m.end(), m.group(0)))
        return more


def allow_regex(entry: str) -> str | None:
    """The regular expression of an allowlist entry written ``/between slashes/``; None
    for a literal value."""
    return entry[1:-1] if len(entry) > 2 and entry.startswith("/") and entry.endswith("/") else None


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    if len(found) < 2:
        return found
    # At one place the longer finding wins, then a kind of its own over a mere assignment.
    found.sort(key=lambda f: (f.start, -(f.end - f.start), f.kind == "secret_assignment"))
    kept = [found[0]]
    for f in found[1:]:
        if f.start >= kept[-1].end:
            kept.append(f)
    return kept
