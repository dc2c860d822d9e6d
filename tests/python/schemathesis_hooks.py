"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by test_schemathesis.py).

The SPARQL and RDF request bodies are text under media types schemathesis has no serializer
for; without one it cannot send the documented examples (an error, "Serialization not
possible") and silently leaves those media types out of fuzzing. They go on the wire as text.
"""

import schemathesis

TEXT_MEDIA_TYPES = [
    "application/sparql-query",
    "application/sparql-update",
    "application/n-triples",
    "application/n-quads",
    "application/trig",
    "application/rdf-patch",
    "application/rdf+xml",
]

schemathesis.serializer.alias(TEXT_MEDIA_TYPES, "text/plain")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """An event stream (`GET /v1/subscribe`) never ends by itself: `limit=0` ends it at once,
    so generated requests check the parameters and the answer's status and media type."""
    if case.operation.path == "/v1/subscribe":
        case.query = dict(case.query or {}, limit="0")
