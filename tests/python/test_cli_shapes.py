"""`ledgraph validate` and `ledgraph publish` against a server enforcing the repository's
shapes: a violating file is reported readably (one line per result) with exit code 1, and
nothing is appended; a conforming file validates with exit code 0."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import REPO, ledgraph_bin, start_server, stop_server

BAD = (
    "@prefix ex: <https://example.org/plant#> .\n"
    'ex:t-90 a ex:TemperatureSensor ; ex:reading "hot" .\n'
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ledgraph_bin()), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_validate_and_publish_print_the_violations_and_append_nothing():
    tmp = Path(tempfile.mkdtemp(prefix="ledgraph-pytest-"))
    server = start_server(tmp, shapes=REPO / "shapes")
    try:
        bad = tmp / "bad.ttl"
        bad.write_text(BAD)
        size = server.log_size()
        for command in ("validate", "publish"):
            done = run(command, str(bad), "--server", server.base)
            assert done.returncode == 1, f"{command}: {done.stdout}\n{done.stderr}"
            said = done.stdout + done.stderr
            assert "DatatypeConstraintComponent" in said or "datatype" in said.lower(), said
            assert "t-90" in said, said
        assert server.log_size() == size, "a refused batch appended events"
        good = tmp / "good.ttl"
        good.write_text(
            "@prefix ex: <https://example.org/plant#> .\n"
            "ex:t-91 a ex:TemperatureSensor ; ex:monitors ex:pump-7 ; ex:reading 12.5 .\n"
            "ex:pump-7 a ex:Pump .\n"
        )
        done = run("validate", str(good), "--server", server.base)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert server.log_size() == size, "validate is a dry run"
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
