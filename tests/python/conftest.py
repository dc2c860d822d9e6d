"""Fixtures for the conformance tests: a real `ledgraph serve` process on a free loopback port.

Each test module gets its own server on a fresh temporary data directory (no demo data), so
one module's `CLEAR ALL` cannot disturb another's. The server is stopped with SIGTERM and must
exit 0: that is the graceful-shutdown check. The binary is `$LEDGRAPH_BIN` (tests/run.sh sets
it), else the debug build in `$CARGO_TARGET_DIR`.

Deliberately not here: building the binary (run.sh does), or any client library — the tests
use the real clients (SPARQLWrapper, rdflib, schemathesis) or plain `http.client`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The W3C manifests live beside the repository (see ../shared/w3c/README.md).
W3C_DIR = Path(os.environ.get("LEDGRAPH_W3C_DIR", REPO.parent / "shared" / "w3c"))

STARTUP_TIMEOUT_S = 60
SHUTDOWN_TIMEOUT_S = 30
PROJECTION_WAIT_S = 20
REQUEST_TIMEOUT_S = 30

# Token secrets in the LEDGRAPH_TOKENS form; publish includes read.
READ_TOKEN = "reader-secret-0000000001"
PUBLISH_TOKEN = "publisher-secret-00000001"
TOKENS_ENV = f"{READ_TOKEN}=read;{PUBLISH_TOKEN}=publish"

LISTENING = re.compile(r"^web UI:\s+http://(?P<addr>\S+?)/\s*$")


def ledgraph_bin() -> Path:
    if "LEDGRAPH_BIN" in os.environ:
        return Path(os.environ["LEDGRAPH_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/ledgraph/target"))
    return Path(target) / "debug" / "ledgraph"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


@dataclass
class Server:
    """One running `ledgraph serve`."""

    process: subprocess.Popen
    data: Path
    addr: str
    token: str | None
    stderr_path: Path
    _stdout_lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.addr}"

    def url(self, path: str) -> str:
        return self.base + path

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        authorized: bool = True,
    ) -> Reply:
        """One request, any status; the token is sent unless `authorized` is false."""
        host, port = self.addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        all_headers = dict(self.auth_headers() if authorized else {})
        all_headers.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, reply_headers, data)
        finally:
            conn.close()

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def publish(self, body: str, media_type: str = "application/n-triples") -> dict:
        reply = self.request("POST", "/v1/events", body, {"Content-Type": media_type})
        assert reply.status == 201, f"publish: {reply.status} {reply.text()}"
        return reply.json()

    def put_graph(self, graph: str, ntriples: str) -> None:
        path = "/store?graph=" + urllib.parse.quote(graph, safe="")
        reply = self.request("PUT", path, ntriples, {"Content-Type": "application/n-triples"})
        assert reply.status in (201, 204), f"PUT {graph}: {reply.status} {reply.text()}"

    def readiness(self) -> dict:
        reply = self.get("/readyz", authorized=False)
        assert reply.status == 200, f"/readyz: {reply.status} {reply.text()}"
        return reply.json()

    def wait_applied(self) -> None:
        """Waits until the state projection has applied the whole log as it is now.

        Reads are served from the projection, which applies the log asynchronously: a read
        right after an acknowledged write may not see it yet.
        """
        target = self.readiness()["log_size"]
        deadline = time.monotonic() + PROJECTION_WAIT_S
        while True:
            ready = self.readiness()
            if ready["state_applied"] >= target:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the state projection did not reach {target} events in "
                    f"{PROJECTION_WAIT_S} s: {ready}"
                )
            time.sleep(0.02)

    def log_entries(self, start: int = 0) -> list[dict]:
        """Every log entry from `start`, following `next` across pages."""
        entries: list[dict] = []
        position: int | None = start
        while position is not None:
            reply = self.get(f"/v1/log/entries?from={position}&limit=1000")
            assert reply.status == 200, f"entries: {reply.status} {reply.text()}"
            page = reply.json()
            entries.extend(page["entries"])
            position = page.get("next")
        return entries

    def log_size(self) -> int:
        return self.readiness()["log_size"]

    def stderr_tail(self, lines: int = 30) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int:
        """SIGTERM, then the exit code (a graceful shutdown exits 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the server did not stop within {SHUTDOWN_TIMEOUT_S} s of SIGTERM\n"
                + self.stderr_tail()
            )


def start_server(
    tmp: Path,
    tokens: str | None = None,
    token: str | None = None,
    shapes: Path | None = None,
) -> Server:
    """Starts `ledgraph serve` on 127.0.0.1:0 and waits for its listening line.

    Without `shapes` the server admits every batch (`--no-shapes`), so the protocol tests do
    not depend on the repository's shapes; with it, those shapes are enforced.
    """
    binary = ledgraph_bin()
    if not binary.exists():
        pytest.fail(f"no ledgraph binary at {binary}: run `cargo build` (or set LEDGRAPH_BIN)")
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGRAPH_")}
    if tokens:
        env["LEDGRAPH_TOKENS"] = tokens
    env.setdefault("RUST_LOG", "info")
    stderr_path = tmp / "server.stderr"
    stderr = open(stderr_path, "wb")
    shapes_args = ["--shapes", str(shapes)] if shapes else ["--no-shapes"]
    process = subprocess.Popen(
        [str(binary), "serve", "--data", str(data), "--bind", "127.0.0.1:0", "--no-demo", *shapes_args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        text=True,
    )
    stderr.close()
    found: list[str] = []
    lines: list[str] = []
    listening = threading.Event()

    def read_stdout() -> None:
        # Keeps draining stdout for the server's whole life so it never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            match = LISTENING.match(line.strip())
            if match and not found:
                found.append(match.group("addr"))
                listening.set()
        listening.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    if not listening.wait(STARTUP_TIMEOUT_S) or not found:
        process.kill()
        process.wait()
        pytest.fail(
            f"ledgraph serve did not print its address within {STARTUP_TIMEOUT_S} s "
            f"(exit {process.returncode}); stdout: {lines}\n"
            + stderr_path.read_text(errors="replace")[-4000:]
        )
    return Server(process, data, found[0], token, stderr_path, lines)


def stop_server(server: Server) -> None:
    code = server.stop()
    assert code == 0, f"ledgraph serve exited {code} after SIGTERM\n{server.stderr_tail()}"


@pytest.fixture(scope="module")
def server():
    """An open server (loopback, no tokens), for the module."""
    tmp = Path(tempfile.mkdtemp(prefix="ledgraph-pytest-"))
    srv = start_server(tmp)
    try:
        yield srv
    finally:
        stop_server(srv)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def token_server():
    """A server with a read and a publish token; requests carry the publish token."""
    tmp = Path(tempfile.mkdtemp(prefix="ledgraph-pytest-"))
    srv = start_server(tmp, tokens=TOKENS_ENV, token=PUBLISH_TOKEN)
    try:
        yield srv
    finally:
        stop_server(srv)
        shutil.rmtree(tmp, ignore_errors=True)
