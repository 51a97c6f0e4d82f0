"""Dialect translation between the Anthropic Messages API and OpenAI Chat Completions.

Pure functions and incremental state machines, free of mitmproxy:

- ``translate``: the entry points the proxy uses (``translate_request``,
  ``translate_response``, ``StreamAdapter`` for ``response.stream``);
- ``to_openai_request``, ``to_anthropic_request``: a request body into the other dialect;
- ``responses``: whole (non-streamed) response bodies, both directions;
- ``stream_to_anthropic``, ``stream_to_openai``: SSE stream translators fed raw bytes at
  any boundary; they never raise;
- ``errors``: upstream error bodies into the client's dialect;
- ``sse``: the incremental SSE parser and writer the streams share;
- ``mapping``: stop reasons, usage, effort levels, tool arguments;
- ``ids``: tool ids and names that survive the trip, unique per response;
- ``schema``: JSON-schema cleanup for backends that accept only a subset;
- ``context``: what the response side of a translation needs to know of its request.
"""
