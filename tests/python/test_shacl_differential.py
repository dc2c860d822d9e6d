"""Differential test of SHACL admission against pySHACL on a seeded, generated corpus.

A real `ledgraph serve --shapes shapes/demo.ttl` receives batches that mix valid and invalid
events over the demo domain (sensors, pumps, assets, work orders). For each batch, pySHACL
validates the whole state as it would be after the batch (the state is mirrored here: the
accepted batches applied in order). Both must agree: the server appends (201) exactly when
pySHACL says the state conforms, and when it refuses (422) the violated (focus node,
constraint component) pairs are the same.

1,000 batches by default; LEDGRAPH_LONG_TESTS=1 (or LEDGRAPH_SHACL_BATCHES=N) runs 10,000.
The seed is printed; LEDGRAPH_TEST_SEED replays a run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef

from conftest import REPO, start_server, stop_server

EX = Namespace("https://example.org/plant#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SHAPES = REPO / "shapes" / "demo.ttl"


def batches_wanted() -> int:
    if "LEDGRAPH_SHACL_BATCHES" in os.environ:
        return int(os.environ["LEDGRAPH_SHACL_BATCHES"])
    return 10_000 if os.environ.get("LEDGRAPH_LONG_TESTS") == "1" else 1_000


@pytest.fixture(scope="module")
def shapes_server():
    tmp = Path(tempfile.mkdtemp(prefix="ledgraph-shacl-"))
    srv = start_server(tmp, shapes=SHAPES)
    try:
        yield srv
    finally:
        stop_server(srv)
        shutil.rmtree(tmp, ignore_errors=True)


def nt(term) -> str:
    return term.n3()


class Corpus:
    """Generates batches of (op, s, p, o) over a small pool of nodes, so batches interact."""

    def __init__(self, rng: random.Random, state: Graph):
        self.rng = rng
        self.state = state
        self.sensors = [EX[f"s{i}"] for i in range(40)]
        self.pumps = [EX[f"p{i}"] for i in range(15)]
        self.orders = [EX[f"w{i}"] for i in range(25)]
        self.others = [EX[f"x{i}"] for i in range(10)]

    def pick(self, pool):
        return self.rng.choice(pool)

    def reading(self):
        r = self.rng.random()
        if r < 0.75:
            return Literal(f"{self.rng.randint(0, 999)}.{self.rng.randint(0, 9)}", datatype=XSD.decimal)
        if r < 0.85:
            return Literal(str(self.rng.randint(0, 99)), datatype=XSD.integer)
        return Literal("hot")

    def status(self):
        r = self.rng.random()
        if r < 0.85:
            return Literal(self.rng.choice(["open", "in-progress", "closed"]))
        return Literal(self.rng.choice(["lost", "OPEN"]))

    def event(self):
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return ("add", self.pick(self.sensors), RDF.type, rng.choice([EX.TemperatureSensor, EX.Sensor]))
        if r < 0.22:
            return ("add", self.pick(self.pumps), RDF.type, rng.choice([EX.Pump, EX.Asset]))
        if r < 0.34:
            target = rng.choice([self.pick(self.pumps)] * 8 + [self.pick(self.orders), self.pick(self.others)])
            return ("add", self.pick(self.sensors), EX.monitors, target)
        if r < 0.50:
            return ("add", self.pick(self.sensors), EX.reading, self.reading())
        if r < 0.58:
            return ("add", self.pick(self.orders), RDF.type, EX.WorkOrder)
        if r < 0.68:
            target = rng.choice([self.pick(self.pumps)] * 8 + [self.pick(self.sensors)])
            return ("add", self.pick(self.orders), EX.forAsset, target)
        if r < 0.76:
            return ("add", self.pick(self.orders), EX.status, self.status())
        if r < 0.80:
            label = Literal("pump") if rng.random() < 0.85 else EX.someIri
            return ("add", self.pick(self.pumps), RDFS.label, label)
        # A removal of something that is there (or, rarely, is not).
        triples = [t for t in self.state if t[1] != RDFS.subClassOf]
        if triples and rng.random() < 0.95:
            s, p, o = rng.choice(triples)
            return ("remove", s, p, o)
        return ("remove", self.pick(self.sensors), EX.reading, self.reading())

    def batch(self):
        # A "fix-up" batch now and then makes a typed order or sensor valid in one go.
        n = self.rng.choice([1, 1, 2, 3, 5, 8])
        return [self.event() for _ in range(n)]


def after(state: Graph, batch) -> Graph:
    g = Graph()
    for t in state:
        g.add(t)
    for op, s, p, o in batch:
        if op == "add":
            g.add((s, p, o))
        else:
            g.remove((s, p, o))
    return g


def pyshacl_violations(data: Graph, shapes: Graph) -> set[tuple[str, str]]:
    conforms, results, _ = validate(data, shacl_graph=shapes, inference="none", advanced=False)
    found = set()
    for r in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(r, SH.focusNode)
        component = results.value(r, SH.sourceConstraintComponent)
        found.add((nt(focus), "sh:" + str(component).removeprefix(str(SH))))
    assert conforms == (not found)
    return found


def test_admission_agrees_with_pyshacl(shapes_server):
    seed = int(os.environ.get("LEDGRAPH_TEST_SEED", random.SystemRandom().randrange(2**32)))
    print(f"LEDGRAPH_TEST_SEED={seed}")
    rng = random.Random(seed)
    shapes = Graph().parse(SHAPES, format="turtle")
    # The demo ontology's class hierarchy, which sh:class and sh:targetClass go through.
    state = Graph()
    ontology = Graph().parse(REPO / "ontology" / "demo.ttl", format="turtle")
    for t in ontology.triples((None, RDFS.subClassOf, None)):
        state.add(t)
    body = "".join(f"{nt(s)} {nt(p)} {nt(o)} .\n" for s, p, o in state)
    shapes_server.publish(body)

    corpus = Corpus(rng, state)
    accepted = rejected = 0
    for i in range(batches_wanted()):
        batch = corpus.batch()
        expected = pyshacl_violations(after(state, batch), shapes)
        events = [{"op": op, "s": nt(s), "p": nt(p), "o": nt(o)} for op, s, p, o in batch]
        reply = shapes_server.request(
            "POST", "/v1/events", json.dumps(events), {"Content-Type": "application/json"}
        )
        context = f"batch {i} (seed {seed}): {events}"
        if not expected:
            assert reply.status == 201, f"{context}: pySHACL conforms, server {reply.status} {reply.text()}"
            state = after(state, batch)
            corpus.state = state
            accepted += 1
        else:
            assert reply.status == 422, f"{context}: pySHACL {sorted(expected)}, server {reply.status}"
            got = {(r["focus_node"], r["constraint"]) for r in reply.json()["results"]}
            assert got == expected, f"{context}: server {sorted(got)}, pySHACL {sorted(expected)}"
            rejected += 1
    print(f"{accepted} batches accepted, {rejected} rejected")
    assert accepted > 0 and rejected > 0, "the corpus must mix valid and invalid batches"
