"""The W3C SPARQL 1.1 Protocol and Graph Store HTTP Protocol test manifests, run against
`ledgraph serve`.

Both manifests are read from ../shared/w3c with rdflib; one pytest case per manifest entry,
named after it. The Protocol manifest encodes each request and the expected response in RDF
(`ht:Request`, `mf:expectedStatus`, `mf:expectedBoolean`, `mf:expectedFormat`); the Graph
Store manifest describes them in Markdown prose (a request line, headers and a body; a status
line, headers and an expected Turtle graph), which is parsed here. Entries that do not apply
to ledgraph are in SKIPPED with the reason, and reported as skipped.

How the manifests are mapped onto ledgraph (docs/conformance.md lists the results):
- The Protocol's `/sparql/` path prefix is ledgraph's `/sparql`, which takes queries and
  updates. `ut:graphData` is loaded into the named graph its label names with a Graph Store
  PUT before the test.
- The Graph Store tests address graphs directly (`$GRAPHSTORE$/person/1.ttl`); ledgraph
  implements indirect identification only, so a direct request for graph G becomes
  `/store?graph=G`, where G is the IRI the prose gives that graph
  (`http://$HOST$/$GRAPHSTORE$/person/1.ttl`). `$NEWPATH$` is the Location of the created graph.
  The tests form one sequence: each case resets the store (DROP ALL) and replays the entries
  before it, so a case passes or fails on its own.
- A success the spec lets a server answer with 200 OK or 204 No Content (POST/DELETE) accepts
  either. Blank nodes come back as Skolem IRIs (`/.well-known/genid/`, ledgraph never stores
  blank nodes); they are turned back into blank nodes before graphs are compared.
- ledgraph's reads come from a projection that applies the log asynchronously, so after every
  successful write the runner waits for `/readyz` to report that the state has applied the
  whole log before it sends the next request.
"""

from __future__ import annotations

import re
import textwrap
import urllib.parse
from dataclasses import dataclass, field
from xml.dom import minidom

import pytest
import rdflib
from rdflib import RDF, RDFS, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from conftest import W3C_DIR

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

PROTOCOL_DIR = W3C_DIR / "sparql11-protocol"
GSP_DIR = W3C_DIR / "sparql11-http-rdf-update"

# Manifest entries that do not apply, with the reason (reported as the skip reason).
SKIPPED = {
    "post__multipart_formdata": (
        "multipart/form-data POST is not supported: the Graph Store reads one RDF document per "
        "request (answered 415; see test_multipart_graph_store_post_is_refused_with_415)"
    ),
    "get_of_post__multipart_formdata": "depends on post__multipart_formdata (multipart/form-data)",
}

# Where the manifest's request body is not valid as written, the corrected body and why.
REQUEST_ERRATA = {
    # The Turtle body lacks the final "." a triple needs (Turtle §2.4): sent as written, the
    # server rightly answers 400 (test_an_unterminated_turtle_triple_is_a_400_with_its_position).
    "post__existing_graph": """
    @prefix foaf: <http://xmlns.com/foaf/0.1/> .

    <http://$HOST$/$GRAPHSTORE$/person/1> foaf:name "Jane Doe" .
    """,
}

# Where the manifest's own expectation is wrong, the corrected expectation and why.
RESPONSE_ERRATA = {
    # The prose expects the graph of the *first* PUT ("John Doe") without the triple the POST
    # just added; after put__graph_already_in_store and post__existing_graph the graph holds
    # the "Jane Doe" card and the posted foaf:name.
    "get_of_post__existing_graph": """
    @prefix foaf: <http://xmlns.com/foaf/0.1/> .
    @prefix v: <http://www.w3.org/2006/vcard/ns#> .

    <http://$HOST$/$GRAPHSTORE$/person/1> a foaf:Person;
       foaf:name "Jane Doe";
       foaf:businessCard [
            a v:VCard;
            v:fn "Jane Doe"
       ] .
    """,
}

# The graph the prose's delete__existing_graph deletes; no earlier entry creates it.
PERSON_2_TTL = """
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<http://$HOST$/$GRAPHSTORE$/person/2> a foaf:Person; foaf:name "Jane Doe" .
"""

# Content types a response of each mf:expectedFormat may have.
BOOLEAN_TYPES = {
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "application/json",
    "application/xml",
}
TABULAR_TYPES = BOOLEAN_TYPES | {"text/csv", "text/tab-separated-values"}
RDF_TYPES = {
    "application/rdf+xml": "xml",
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "text/plain": "nt",
}

GENID = re.compile(r"/\.well-known/genid/")


def local_name(node) -> str:
    return str(node).rsplit("#", 1)[-1]


def entries(manifest_path) -> tuple[rdflib.Graph, list[URIRef]]:
    graph = rdflib.Graph().parse(manifest_path, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    listed = Collection(graph, graph.value(manifest, MF.entries))
    return graph, list(listed)


def params(ids: list[str]):
    return [
        pytest.param(name, marks=pytest.mark.skip(reason=SKIPPED[name]))
        if name in SKIPPED
        else name
        for name in ids
    ]


def deskolemize(graph: rdflib.Graph) -> rdflib.Graph:
    """Skolem IRIs back to blank nodes, so graphs with blank nodes compare as the spec means."""
    nodes: dict[str, rdflib.BNode] = {}

    def term(t):
        if isinstance(t, URIRef) and GENID.search(str(t)):
            return nodes.setdefault(str(t), rdflib.BNode())
        return t

    out = rdflib.Graph()
    for s, p, o in graph:
        out.add((term(s), p, term(o)))
    return out


def wait_after_write(srv, method: str, status: int) -> None:
    if method in ("POST", "PUT", "DELETE") and 200 <= status < 300:
        srv.wait_applied()


# =============================================================================================
# SPARQL 1.1 Protocol


@dataclass
class ProtocolRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    statuses: set[str]
    expected_boolean: bool | None
    expected_format: str | None


@dataclass
class ProtocolTest:
    name: str
    graph_data: list[tuple[str, str]] = field(default_factory=list)  # (file, graph IRI)
    requests: list[ProtocolRequest] = field(default_factory=list)


def load_protocol_tests() -> dict[str, ProtocolTest]:
    graph, listed = entries(PROTOCOL_DIR / "manifest.ttl")
    tests = {}
    for entry in listed:
        test = ProtocolTest(local_name(entry))
        for data in graph.objects(entry, UT.graphData):
            file = str(graph.value(data, UT.graph)).rsplit("/", 1)[-1]
            test.graph_data.append((file, str(graph.value(data, RDFS.label))))
        action = graph.value(entry, MF.action)
        for request in Collection(graph, graph.value(action, HT.requests)):
            headers = {}
            header_list = graph.value(request, HT.headers)
            if header_list is not None:
                for header in Collection(graph, header_list):
                    name = str(graph.value(header, HT.fieldName))
                    headers[name] = str(graph.value(header, HT.fieldValue))
            body_node = graph.value(request, HT.body)
            body = None if body_node is None else str(graph.value(body_node, CNT.chars))
            encoding = None if body_node is None else graph.value(body_node, CNT.characterEncoding)
            response = graph.value(request, HT.resp)
            boolean = graph.value(response, MF.expectedBoolean)
            fmt = graph.value(response, MF.expectedFormat)
            test.requests.append(
                ProtocolRequest(
                    method=str(graph.value(request, HT.methodName)),
                    path=str(graph.value(request, HT.absolutePath)),
                    headers=headers,
                    body=body if encoding is None else f"{encoding}\0{body}",
                    statuses={local_name(s) for s in graph.objects(response, MF.expectedStatus)},
                    expected_boolean=None if boolean is None else boolean.toPython(),
                    expected_format=None if fmt is None else str(fmt),
                )
            )
        tests[test.name] = test
    return tests


PROTOCOL_TESTS = load_protocol_tests()


def encode_body(body: str | None) -> bytes | None:
    if body is None:
        return None
    encoding, _, chars = body.partition("\0")
    return chars.encode(encoding.lower())


def status_class_ok(status: int, classes: set[str]) -> bool:
    # hts:StatusCode2xx etc.
    return any(c == f"StatusCode{status // 100}xx" for c in classes)


def parse_boolean(reply) -> bool:
    if reply.media_type in ("application/sparql-results+json", "application/json"):
        return reply.json()["boolean"]
    document = minidom.parseString(reply.body)
    return document.getElementsByTagName("boolean")[0].firstChild.data.strip() == "true"


def check_format(reply, expected_format: str) -> None:
    if expected_format == "boolean":
        assert reply.media_type in BOOLEAN_TYPES, reply.media_type
        parse_boolean(reply)
    elif expected_format == "tabular":
        assert reply.media_type in TABULAR_TYPES, reply.media_type
        if "json" in reply.media_type:
            assert isinstance(reply.json()["results"]["bindings"], list)
        elif "xml" in reply.media_type:
            assert minidom.parseString(reply.body).getElementsByTagName("results")
        else:
            assert reply.text().splitlines(), "empty tabular result"
    elif expected_format == "RDF":
        assert reply.media_type in RDF_TYPES, reply.media_type
        rdflib.Graph().parse(data=reply.body, format=RDF_TYPES[reply.media_type])
    else:
        raise AssertionError(f"unknown mf:expectedFormat {expected_format!r}")


def protocol_path(absolute_path: str) -> str:
    assert absolute_path.startswith("/sparql/"), absolute_path
    return "/sparql" + absolute_path[len("/sparql/") :]


@pytest.mark.parametrize("name", params(list(PROTOCOL_TESTS)))
def test_sparql_protocol(server, name):
    test = PROTOCOL_TESTS[name]
    for file, graph_iri in test.graph_data:
        server.put_graph(graph_iri, (PROTOCOL_DIR / file).read_text())
    if test.graph_data:
        server.wait_applied()
    for index, request in enumerate(test.requests):
        what = f"{name} request {index + 1}: {request.method} {request.path}"
        reply = server.request(
            request.method,
            protocol_path(request.path),
            encode_body(request.body),
            request.headers,
        )
        assert status_class_ok(reply.status, request.statuses), (
            f"{what}: got {reply.status}, expected {sorted(request.statuses)}: {reply.text()}"
        )
        if request.expected_format is not None:
            check_format(reply, request.expected_format)
        if request.expected_boolean is not None:
            assert parse_boolean(reply) is request.expected_boolean, f"{what}: {reply.text()}"
        wait_after_write(server, request.method, reply.status)


# =============================================================================================
# SPARQL 1.1 Graph Store HTTP Protocol


@dataclass
class Message:
    start: str  # request line or status line
    headers: dict[str, str]
    body: str


@dataclass
class GspTest:
    name: str
    request: Message
    response: Message


def parse_message(block: str) -> Message:
    lines = textwrap.dedent(block).strip("\n").splitlines()
    start, rest = lines[0].strip(), lines[1:]
    headers = {}
    while rest and rest[0].strip():
        key, _, value = rest.pop(0).partition(":")
        headers[key.strip().lower()] = value.strip()
    return Message(start, headers, "\n".join(rest).strip())


def load_gsp_tests() -> list[GspTest]:
    graph, listed = entries(GSP_DIR / "manifest.ttl")
    tests = []
    for entry in listed:
        prose = next(
            str(c) for c in graph.objects(entry, RDFS.comment) if "#### Request" in str(c)
        )
        request_part, response_part = prose.split("#### Request", 1)[1].split("#### Response")
        tests.append(
            GspTest(local_name(entry), parse_message(request_part), parse_message(response_part))
        )
    return tests


GSP_TESTS = load_gsp_tests()
GSP_NAMES = [t.name for t in GSP_TESTS]
GRAPHSTORE = "store"  # the Graph Store's path, as `$GRAPHSTORE$` in IRIs


class GspRun:
    """Replays Graph Store entries in order, with `$NEWPATH$` carried between them."""

    def __init__(self, server):
        self.server = server
        self.host = server.addr
        self.new_path: str | None = None

    def substitute(self, text: str) -> str:
        text = text.replace("$HOST$", self.host).replace("$GRAPHSTORE$", GRAPHSTORE)
        if self.new_path is not None:
            text = text.replace("$NEWPATH$", self.new_path)
        return text

    def target(self, raw: str) -> str:
        """The request target as a ledgraph `/store` path (indirect identification)."""
        if raw == "$NEWPATH$":
            assert self.new_path, "$NEWPATH$ used before a graph was created"
            return "/store?graph=" + urllib.parse.quote(self.new_path, safe="")
        assert raw.startswith("$GRAPHSTORE$"), raw
        rest = raw[len("$GRAPHSTORE$") :]
        if rest == "":
            return "/store"
        if rest.startswith("?"):
            query = urllib.parse.parse_qs(self.substitute(rest[1:]), keep_blank_values=True)
            if "graph" in query:
                return "/store?graph=" + urllib.parse.quote(query["graph"][0], safe="")
            return "/store?" + rest[1:]
        graph = f"http://{self.host}/{GRAPHSTORE}{rest}"
        return "/store?graph=" + urllib.parse.quote(graph, safe="")

    def reset(self) -> None:
        reply = self.server.request(
            "POST", "/update", "DROP ALL", {"Content-Type": "application/sparql-update"}
        )
        assert reply.status in (200, 204), f"DROP ALL: {reply.status} {reply.text()}"
        self.server.wait_applied()
        # delete__existing_graph deletes person/2.ttl, which the manifest never creates.
        self.server.put_graph(
            f"http://{self.host}/{GRAPHSTORE}/person/2.ttl",
            rdflib.Graph()
            .parse(data=self.substitute(PERSON_2_TTL), format="turtle")
            .serialize(format="nt"),
        )
        self.server.wait_applied()

    def run(self, test: GspTest) -> None:
        method, raw_target, _version = test.request.start.split()
        headers = {
            k: v for k, v in test.request.headers.items() if k in ("content-type", "accept")
        }
        body = textwrap.dedent(REQUEST_ERRATA.get(test.name, test.request.body))
        body = self.substitute(body) if body else None
        reply = self.server.request(method, self.target(raw_target), body, headers)
        what = f"{test.name}: {method} {self.target(raw_target)}"

        expected_status = int(test.response.start.split()[0])
        allowed = {expected_status}
        if expected_status in (200, 204) and method in ("PUT", "POST", "DELETE"):
            # Both are a success without new content (GSP §5.3-5.6).
            allowed = {200, 204}
        assert reply.status in allowed, (
            f"{what}: got {reply.status}, expected {allowed}: {reply.text()}"
        )

        expected_type = test.response.headers.get("content-type")
        if expected_type:
            assert reply.media_type == expected_type.split(";")[0].strip(), what
        if "location" in test.response.headers:
            location = reply.headers.get("location")
            assert location, f"{what}: no Location header"
            self.new_path = location
        expected_body = RESPONSE_ERRATA.get(test.name, test.response.body)
        if method == "GET" and expected_body:
            got = rdflib.Graph().parse(data=reply.body, format=RDF_TYPES[reply.media_type])
            expected = rdflib.Graph().parse(
                data=self.substitute(textwrap.dedent(expected_body)), format="turtle"
            )
            assert isomorphic(deskolemize(got), expected), (
                f"{what}: graph differs\n--- got\n{got.serialize(format='nt')}"
                f"--- expected\n{expected.serialize(format='nt')}"
            )
        wait_after_write(self.server, method, reply.status)


@pytest.mark.parametrize("name", params(GSP_NAMES))
def test_graph_store_protocol(server, name):
    run = GspRun(server)
    run.reset()
    for test in GSP_TESTS:
        if test.name in SKIPPED:
            continue
        run.run(test)
        if test.name == name:
            break


def test_multipart_graph_store_post_is_refused_with_415(server):
    multipart = next(t for t in GSP_TESTS if t.name == "post__multipart_formdata")
    run = GspRun(server)
    run.reset()
    size = server.log_size()
    reply = server.request(
        "POST",
        run.target("$GRAPHSTORE$/person/1.ttl"),
        run.substitute(multipart.request.body),
        {"Content-Type": multipart.request.headers["content-type"]},
    )
    assert reply.status == 415, reply.text()
    assert "error" in reply.json()
    assert server.log_size() == size


def test_an_unterminated_turtle_triple_is_a_400_with_its_position(server):
    as_written = next(t for t in GSP_TESTS if t.name == "post__existing_graph")
    run = GspRun(server)
    size = server.log_size()
    reply = server.request(
        "POST",
        run.target("$GRAPHSTORE$/person/1.ttl"),
        run.substitute(as_written.request.body),
        {"Content-Type": as_written.request.headers["content-type"]},
    )
    assert reply.status == 400, reply.text()
    assert reply.json()["position"] == "3:61"
    assert server.log_size() == size


def test_the_manifests_were_read_whole():
    # A parsing slip must not quietly drop entries: the counts are the manifests' own.
    assert len(PROTOCOL_TESTS) == 34
    assert len(GSP_TESTS) == 18
    assert all(t.requests for t in PROTOCOL_TESTS.values())
    assert set(SKIPPED) <= set(PROTOCOL_TESTS) | set(GSP_NAMES)
    assert set(REQUEST_ERRATA) | set(RESPONSE_ERRATA) <= set(GSP_NAMES)
