// Unit tests of web/src/verify.js (the browser's verifier) under node's WebCrypto: the RFC 6962
// reference vectors (shared/testdata/rfc6962-vectors.json, as tests/merkle_rfc6962_vectors.rs
// uses), and signed notes made here with a fresh Ed25519 key, intact and tampered.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { webcrypto } from "node:crypto";

import {
  rootFromInclusionProof,
  verifyConsistency,
  verifyCheckpoint,
  verifyInclusion,
  leafHash,
  keyId,
  b64encode,
  hex,
} from "../../web/src/verify.js";

if (!globalThis.crypto) globalThis.crypto = webcrypto;

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const vectorsPath = [join(repo, "..", "shared/testdata/rfc6962-vectors.json"), "/work/shared/testdata/rfc6962-vectors.json"].find(existsSync);
const vectors = JSON.parse(readFileSync(vectorsPath, "utf8"));
const fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));

test("leaf hashes match the RFC 6962 vectors", async () => {
  for (const [i, leaf] of vectors.leaves_hex.entries()) {
    assert.equal(hex(await leafHash(fromHex(leaf))), vectors.leaf_hashes[i]);
  }
});

test("every RFC 6962 inclusion proof leads to its root", async () => {
  for (const { index, size, proof } of vectors.inclusion) {
    const root = await rootFromInclusionProof(index, size, fromHex(vectors.leaf_hashes[index]), proof.map(fromHex));
    assert.equal(hex(root), vectors.roots[String(size)], `leaf ${index} of ${size}`);
  }
});

test("inclusion fails with a flipped hash, a wrong entry or a wrong size", async () => {
  const { index, size, proof } = vectors.inclusion.find((v) => v.size === 8 && v.index === 5);
  const checkpoint = { size, root: fromHex(vectors.roots["8"]) };
  const entry = fromHex(vectors.leaves_hex[index]);
  const good = { index, size, leaf_hash: b64encode(fromHex(vectors.leaf_hashes[index])), hashes: proof.map((h) => b64encode(fromHex(h))) };
  assert.equal((await verifyInclusion(entry, good, checkpoint)).ok, true);
  const flipped = fromHex(proof[1]);
  flipped[0] ^= 1;
  const tampered = { ...good, hashes: good.hashes.map((h, i) => (i === 1 ? b64encode(flipped) : h)) };
  const bad = await verifyInclusion(entry, tampered, checkpoint);
  assert.equal(bad.ok, false);
  assert.match(bad.reason, /not the signed root/);
  assert.match((await verifyInclusion(fromHex("ff"), good, checkpoint)).reason, /entry was altered/);
  assert.match((await verifyInclusion(entry, { ...good, size: 7 }, checkpoint)).reason, /size 7/);
  assert.equal((await verifyInclusion(entry, { ...good, hashes: good.hashes.slice(1) }, checkpoint)).ok, false);
});

test("every RFC 6962 consistency proof holds, and fails when altered", async () => {
  for (const { from, to, proof } of vectors.consistency) {
    const first = { size: from, root: fromHex(vectors.roots[String(from)]) };
    const second = { size: to, root: fromHex(vectors.roots[String(to)]) };
    const hashes = proof.map((h) => b64encode(fromHex(h)));
    const result = await verifyConsistency(first, second, hashes);
    assert.equal(result.ok, true, `${from} → ${to}: ${result.reason}`);
    if (hashes.length) {
      const bad = fromHex(proof[0]);
      bad[31] ^= 0x80;
      const altered = await verifyConsistency(first, second, [b64encode(bad), ...hashes.slice(1)]);
      assert.equal(altered.ok, false, `${from} → ${to} altered`);
    }
  }
});

async function signedNote(name, text) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pk = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = await keyId(name, pk);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, new TextEncoder().encode(text)));
  const vkey = `${name}+${hex(id)}+${b64encode(Uint8Array.of(1, ...pk))}`;
  const note = `${text}\n\u2014 ${name} ${b64encode(Uint8Array.of(...id, ...sig))}\n`;
  return { note, vkey };
}

test("a verifier key whose base64 holds '+' and '/' parses", async () => {
  const vkey = "ledgraph.local/e2415024e752ee1a+9df38d35+AQFvWRV3mgJSduQc7X4+sNDeMqDAuQ3JR5FuJ54hBP3C";
  const note = [
    "ledgraph.local/e2415024e752ee1a",
    "149",
    "duBBIlZFEgr9Uov876clWOqeG9AFU69mPSVfI9CTYrQ=",
    "",
    "\u2014 ledgraph.local/e2415024e752ee1a nfONNdFBAQz35fuC4ho0NJZ58upqauBIb7rNxOfdVjW8docmTRy2G1jEvcppxNka9vBPma0IcNHERcRf9epd/p/N+g4=",
    "",
  ].join("\n");
  const result = await verifyCheckpoint(note, vkey);
  assert.equal(result.ok, true, result.reason);
  assert.equal(result.checkpoint.size, 149);
});

test("a signed checkpoint verifies; altered text, another key or another origin do not", async () => {
  const name = "ledgraph.local/0123456789abcdef";
  const root = b64encode(fromHex(vectors.roots["8"]));
  const text = `${name}\n8\n${root}\n`;
  const { note, vkey } = await signedNote(name, text);
  const ok = await verifyCheckpoint(note, vkey);
  assert.equal(ok.ok, true, ok.reason);
  assert.equal(ok.checkpoint.size, 8);
  assert.equal(hex(ok.checkpoint.root), vectors.roots["8"]);

  const altered = await verifyCheckpoint(note.replace(`\n8\n`, `\n9\n`), vkey);
  assert.equal(altered.ok, false);
  assert.match(altered.reason, /signature does not verify/);

  const other = await signedNote(name, text);
  assert.equal((await verifyCheckpoint(note, other.vkey)).ok, false);

  const foreign = await signedNote("other.example/log", `other.example/log\n8\n${root}\n`);
  assert.match((await verifyCheckpoint(foreign.note, vkey)).reason, /origin/);
  assert.match((await verifyCheckpoint("garbage", vkey)).reason, /blank line/);
});
