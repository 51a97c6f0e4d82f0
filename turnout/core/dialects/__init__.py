"""Dialect translation between the Anthropic Messages API and OpenAI Chat Completions.

Pure functions and incremental state machines, free of mitmproxy:

- ``requests``: a request body from one dialect to the other (``anthropic_to_openai``,
  ``openai_to_anthropic``), returning the body and a ``Context`` the response side needs;
- ``responses``: non-streaming response bodies, both directions;
- ``streams``: SSE stream translators fed raw bytes at any boundary; they never raise;
- ``errors``: upstream error bodies into the client's dialect;
- ``sse``: the incremental SSE parser and writer the streams share;
- ``quirks``: per-backend settings (token parameter, reasoning field, schema cleanup…).
"""
