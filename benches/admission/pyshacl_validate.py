"""pySHACL side of benches/admission.rs: validates each N-Triples file of a directory against
a shapes file, in name order, and prints one JSON line per file with the seconds it took.

Usage: pyshacl_validate.py SHAPES.ttl DIR [REPEATS]. Parsing is outside the timed part, as on
the ledgraph side (which times building its context and validating, not parsing the batch).
"""

import json
import sys
import time
from pathlib import Path

from pyshacl import validate
from rdflib import Graph


def main() -> None:
    shapes = Graph().parse(sys.argv[1], format="turtle")
    files = sorted(Path(sys.argv[2]).glob("*.nt"))
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for f in files:
        data = Graph().parse(f, format="nt")
        best = None
        conforms = None
        for _ in range(repeats):
            started = time.perf_counter()
            conforms, _, _ = validate(data, shacl_graph=shapes, inference="none", advanced=False)
            took = time.perf_counter() - started
            best = took if best is None else min(best, took)
        print(json.dumps({"file": f.name, "seconds": best, "conforms": bool(conforms), "triples": len(data)}))


if __name__ == "__main__":
    main()
