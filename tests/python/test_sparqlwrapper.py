"""Real SPARQL clients against `ledgraph serve`: SPARQLWrapper and rdflib's SPARQLStore /
SPARQLUpdateStore, authenticated with a bearer token as a deployment would be.

Queries in every result format the clients ask for; updates sent the way each client sends
them, then found in the log (`/v1/log/entries`) and, once the projection has applied them, in
query results. Reads are eventually consistent (the store applies the log asynchronously), so
checks after a write poll briefly.
"""

from __future__ import annotations

import csv
import io
import time
import urllib.error

import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore, SPARQLUpdateStore
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, Unauthorized

from conftest import READ_TOKEN

EX = "http://example.org/sw/"
FOAF = "http://xmlns.com/foaf/0.1/"
PEOPLE_TTL = f"""
@prefix foaf: <{FOAF}> .
@prefix ex: <{EX}> .
ex:alice foaf:name "Alice" ; foaf:knows ex:bob .
ex:bob foaf:name "Bob" ; foaf:age 42 .
ex:carol foaf:name "Carol"@en .
"""
NAMES_QUERY = f"SELECT ?person ?name WHERE {{ ?person <{FOAF}name> ?name }} ORDER BY ?name"
EXPECTED_NAMES = [(EX + "alice", "Alice"), (EX + "bob", "Bob"), (EX + "carol", "Carol")]
CONSTRUCT_QUERY = (
    f"CONSTRUCT {{ ?a <{FOAF}knows> ?b . ?b <{FOAF}name> ?n }} "
    f"WHERE {{ ?a <{FOAF}knows> ?b . ?b <{FOAF}name> ?n }}"
)
EXPECTED_CONSTRUCT_NT = (
    f"<{EX}alice> <{FOAF}knows> <{EX}bob> .\n<{EX}bob> <{FOAF}name> \"Bob\" .\n"
)
EVENTUALLY_S = 10


@pytest.fixture(scope="module")
def srv(token_server):
    token_server.publish(PEOPLE_TTL, "text/turtle")
    token_server.wait_applied()
    return token_server


def wrapper(srv, path: str = "/sparql", token: str | None = "default") -> SPARQLWrapper:
    client = SPARQLWrapper(srv.url(path), updateEndpoint=srv.url(path))
    bearer = srv.token if token == "default" else token
    if bearer:
        client.addCustomHttpHeader("Authorization", f"Bearer {bearer}")
    return client


def eventually(check, what: str, timeout_s: float = EVENTUALLY_S):
    """Polls `check` until it returns a truthy value (the projection applies writes shortly
    after they are acknowledged)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.05)


def ask(srv, query: str) -> bool:
    client = wrapper(srv)
    client.setQuery(query)
    client.setReturnFormat(JSON)
    return client.queryAndConvert()["boolean"]


def entries_matching(srv, subject: str, start: int = 0) -> list[dict]:
    return [e for e in srv.log_entries(start) if e["s"] == f"<{subject}>"]


# ---------------------------------------------------------------------------------------------
# Queries


@pytest.mark.parametrize("method", ["GET", "POST-form", "POST-direct"])
def test_select_json_via_every_request_method(srv, method):
    client = wrapper(srv)
    client.setQuery(NAMES_QUERY)
    client.setReturnFormat(JSON)
    if method != "GET":
        client.setMethod(POST)
        client.setRequestMethod(URLENCODED if method == "POST-form" else POSTDIRECTLY)
    result = client.query()
    assert result.info()["content-type"].startswith("application/sparql-results+json")
    bindings = result.convert()["results"]["bindings"]
    got = [(b["person"]["value"], b["name"]["value"]) for b in bindings]
    assert got == EXPECTED_NAMES
    assert bindings[2]["name"].get("xml:lang") == "en"


def test_select_xml_results_parse_as_sparql_results_xml(srv):
    client = wrapper(srv)
    client.setQuery(NAMES_QUERY)
    client.setReturnFormat(XML)
    result = client.query()
    assert result.info()["content-type"].startswith("application/sparql-results+xml")
    document = result.convert()
    names = [
        b.getElementsByTagName("literal")[0].firstChild.data
        for b in document.getElementsByTagName("binding")
        if b.getAttribute("name") == "name"
    ]
    assert names == ["Alice", "Bob", "Carol"]


def test_select_csv_results_have_a_header_and_plain_values(srv):
    client = wrapper(srv)
    client.setQuery(NAMES_QUERY)
    client.setReturnFormat(CSV)
    result = client.query()
    assert result.info()["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(result.convert().decode("utf-8"))))
    assert rows[0] == ["person", "name"]
    assert [tuple(r) for r in rows[1:]] == EXPECTED_NAMES


def test_select_tsv_results_carry_rdf_terms(srv):
    client = wrapper(srv)
    client.setQuery(NAMES_QUERY)
    client.setReturnFormat(TSV)
    result = client.query()
    assert result.info()["content-type"].startswith("text/tab-separated-values")
    lines = result.convert().decode("utf-8").splitlines()
    assert lines[0] == "?person\t?name"
    assert lines[1:] == [
        f'<{EX}alice>\t"Alice"',
        f'<{EX}bob>\t"Bob"',
        f'<{EX}carol>\t"Carol"@en',
    ]


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize("expected", [True, False])
def test_ask_in_every_results_format(srv, fmt, expected):
    subject = "alice" if expected else "nobody"
    client = wrapper(srv)
    client.setQuery(f"ASK {{ <{EX}{subject}> <{FOAF}name> ?n }}")
    client.setReturnFormat(fmt)
    converted = client.queryAndConvert()
    if fmt == JSON:
        assert converted["boolean"] is expected
    elif fmt == XML:
        boolean = converted.getElementsByTagName("boolean")[0].firstChild.data
        assert boolean == str(expected).lower()
    else:
        assert converted.decode("utf-8").strip().lower() == str(expected).lower()


@pytest.mark.parametrize(
    "fmt,media_type,rdflib_format",
    [
        (TURTLE, "text/turtle", "turtle"),
        (N3, "text/turtle", "turtle"),
        (RDFXML, "application/rdf+xml", None),
        (JSONLD, "application/ld+json", None),
    ],
)
def test_construct_in_every_graph_format(srv, fmt, media_type, rdflib_format):
    client = wrapper(srv)
    client.setQuery(CONSTRUCT_QUERY)
    client.setReturnFormat(fmt)
    result = client.query()
    assert result.info()["content-type"].split(";")[0] == media_type
    converted = result.convert()
    if rdflib_format is not None:
        graph = rdflib.Graph().parse(data=converted, format=rdflib_format)
    else:
        graph = converted  # SPARQLWrapper parses RDF/XML and JSON-LD into an rdflib Graph
    expected = rdflib.Graph().parse(data=EXPECTED_CONSTRUCT_NT, format="nt")
    assert isomorphic(graph, expected), graph.serialize(format="nt")


def test_describe_returns_the_resource_description(srv):
    client = wrapper(srv)
    client.setQuery(f"DESCRIBE <{EX}bob>")
    client.setReturnFormat(TURTLE)
    graph = rdflib.Graph().parse(data=client.queryAndConvert(), format="turtle")
    assert (rdflib.URIRef(EX + "bob"), rdflib.URIRef(FOAF + "name"), rdflib.Literal("Bob")) in graph
    assert (
        rdflib.URIRef(EX + "bob"),
        rdflib.URIRef(FOAF + "age"),
        rdflib.Literal(42),
    ) in graph


def test_a_syntax_error_is_reported_to_the_client_as_a_bad_query(srv):
    client = wrapper(srv)
    client.setQuery("SELECT * WHERE { ?s ?p ")
    client.setReturnFormat(JSON)
    with pytest.raises(QueryBadFormed):
        client.query()


def test_a_client_without_a_token_is_unauthorized(srv):
    client = wrapper(srv, token=None)
    client.setQuery(NAMES_QUERY)
    client.setReturnFormat(JSON)
    with pytest.raises(Unauthorized):
        client.query()


def test_a_read_token_cannot_update(srv):
    size = srv.log_size()
    client = wrapper(srv, token=READ_TOKEN)
    client.setMethod(POST)
    client.setQuery(f"INSERT DATA {{ <{EX}mallory> <{FOAF}name> \"Mallory\" }}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        client.query()
    assert refused.value.code == 403
    assert srv.log_size() == size


# ---------------------------------------------------------------------------------------------
# Updates


@pytest.mark.parametrize(
    "path,request_method",
    [("/sparql", URLENCODED), ("/sparql", POSTDIRECTLY), ("/update", URLENCODED), ("/update", POSTDIRECTLY)],
)
def test_insert_data_then_delete_where_are_logged_and_queryable(srv, path, request_method):
    subject = f"{EX}dave-{path.strip('/')}-{request_method}"
    start = srv.log_size()
    client = wrapper(srv, path)
    client.setMethod(POST)
    client.setRequestMethod(request_method)
    client.setReturnFormat(JSON)  # the appended transaction comes back as JSON
    client.setQuery(
        f'INSERT DATA {{ <{subject}> <{FOAF}name> "Dave" . <{subject}> <{FOAF}knows> <{EX}alice> }}'
    )
    result = client.query()
    assert result.response.status == 200
    appended = result.convert()
    assert appended["count"] == 2 and appended["first_seq"] == start

    logged = entries_matching(srv, subject, start)
    assert sorted((e["op"], e["p"], e["o"]) for e in logged) == [
        ("add", f"<{FOAF}knows>", f"<{EX}alice>"),
        ("add", f"<{FOAF}name>", '"Dave"'),
    ]
    assert [e["seq"] for e in logged] == [start, start + 1]
    assert logged[-1]["ends_transaction"] is True
    eventually(
        lambda: ask(srv, f"ASK {{ <{subject}> <{FOAF}name> \"Dave\" }}"),
        f"{subject} is queryable after INSERT DATA",
    )

    after_insert = srv.log_size()
    client.setQuery(f"DELETE WHERE {{ <{subject}> ?p ?o }}")
    result = client.query()
    assert result.response.status == 200
    removed = entries_matching(srv, subject, after_insert)
    assert sorted((e["op"], e["p"]) for e in removed) == [
        ("remove", f"<{FOAF}knows>"),
        ("remove", f"<{FOAF}name>"),
    ]
    eventually(
        lambda: not ask(srv, f"ASK {{ <{subject}> ?p ?o }}"),
        f"{subject} is gone after DELETE WHERE",
    )


def test_an_update_with_no_effect_appends_nothing(srv):
    size = srv.log_size()
    client = wrapper(srv)
    client.setMethod(POST)
    client.setReturnFormat(JSON)
    client.setQuery(f"DELETE WHERE {{ <{EX}nobody> ?p ?o }}")
    result = client.query()
    assert result.response.status == 204
    assert srv.log_size() == size


# ---------------------------------------------------------------------------------------------
# rdflib


def rdflib_headers(srv) -> dict:
    return {"headers": {"Authorization": f"Bearer {srv.token}"}}


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
def test_rdflib_sparqlstore_queries(srv, method):
    store = SPARQLStore(query_endpoint=srv.url("/sparql"), method=method, **rdflib_headers(srv))
    graph = rdflib.Graph(store=store)
    rows = [(str(r.person), str(r.name)) for r in graph.query(NAMES_QUERY)]
    assert rows == EXPECTED_NAMES
    # Triple patterns become SELECT queries too.
    names = {str(o) for _, _, o in graph.triples((None, rdflib.URIRef(FOAF + "name"), None))}
    assert {"Alice", "Bob", "Carol"} <= names
    assert bool(graph.query(f"ASK {{ <{EX}alice> ?p ?o }}"))


def test_rdflib_sparqlupdatestore_adds_and_removes_in_a_named_graph(srv):
    graph_iri = EX + "graphs/rdflib"
    subject = rdflib.URIRef(EX + "erin")
    name = rdflib.URIRef(FOAF + "name")
    store = SPARQLUpdateStore(
        query_endpoint=srv.url("/sparql"),
        update_endpoint=srv.url("/update"),
        **rdflib_headers(srv),
    )
    graph = rdflib.Graph(store=store, identifier=rdflib.URIRef(graph_iri))
    start = srv.log_size()

    graph.add((subject, name, rdflib.Literal("Erin")))
    logged = entries_matching(srv, str(subject), start)
    assert [(e["op"], e["o"], e.get("g")) for e in logged] == [
        ("add", '"Erin"', f"<{graph_iri}>")
    ]
    eventually(
        lambda: (subject, name, rdflib.Literal("Erin")) in graph,
        "the added triple is in the named graph",
    )
    # Queries through the graph are scoped to it (default-graph-uri).
    eventually(
        lambda: [str(r.n) for r in graph.query(f"SELECT ?n {{ <{subject}> <{name}> ?n }}")]
        == ["Erin"],
        "the added triple is found by a query on the graph",
    )

    graph.update(f'INSERT DATA {{ <{subject}> <{FOAF}nick> "E" }}')
    eventually(
        lambda: (subject, rdflib.URIRef(FOAF + "nick"), rdflib.Literal("E")) in graph,
        "Graph.update inserts into the graph",
    )

    after_add = srv.log_size()
    graph.remove((subject, None, None))
    removed = entries_matching(srv, str(subject), after_add)
    assert sorted((e["op"], e["p"], e.get("g")) for e in removed) == [
        ("remove", f"<{FOAF}name>", f"<{graph_iri}>"),
        ("remove", f"<{FOAF}nick>", f"<{graph_iri}>"),
    ]
    eventually(lambda: (subject, None, None) not in graph, "the triples are removed")
