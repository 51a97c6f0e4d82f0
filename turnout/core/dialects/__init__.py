"""What every dialect shares, and the one entry point the proxy uses.

Pure functions and incremental state machines, free of mitmproxy. The translations
themselves go through the hub (``turnout/core/hub``); here:

- ``translate``: the entry points the proxy uses (``translate_request``,
  ``translate_response``, ``StreamAdapter`` for ``response.stream``), and which requests
  are translated at all;
- ``validate``: the shape a request must have to be translated, and what a backend's
  answers and events must look like;
- ``errors``: upstream error bodies into the client's dialect;
- ``sse``: the incremental SSE parser and writer the streams share;
- ``mapping``: token counts, effort levels, tool arguments;
- ``ids``: tool ids and names that survive the trip, unique per response;
- ``schema``: JSON-schema cleanup for backends that accept only a subset;
- ``context``: what the response side of a translation needs to know of its request.
"""
