// Verification of the signed log in the browser: the checkpoint's signature (C2SP signed note,
// Ed25519), inclusion proofs and consistency proofs (RFC 6962 / RFC 9162 Merkle trees, SHA-256).
//
// Everything here runs on WebCrypto and trusts nothing the server says about the result: a proof
// is checked against the root of a checkpoint whose signature this module verified, never
// against the root the proof response carries. No DOM, no fetch: the views feed it text and
// bytes, so node's test runner can check it too. It does not verify witness cosignatures
// (other keys' lines are ignored, as the signed-note spec asks).

const SIG_PREFIX = "\u2014 "; // em dash, space
const ALG_ED25519 = 0x01;
/** Longest note we parse, as the server's NOTE_BYTES_MAX. */
export const NOTE_BYTES_MAX = 1 << 20;

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    throw new Error(
      "this page has no WebCrypto (not a secure context): open it over https or on localhost",
    );
  }
  return s;
}

export function b64decode(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ entry). */
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

/** RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** A verifier key `<name>+<key id hex>+<base64(0x01 ‖ public key)>` (C2SP signed-note). */
export async function parseVkey(line) {
  const text = line.trim();
  // The name holds no "+"; the base64 key may.
  const m = /^([^+]+)\+([^+]*)\+(.*)$/.exec(text);
  if (!m) throw new Error("verifier key: expected <name>+<key id>+<key>");
  const [, name, idHex, keyB64] = m;
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new Error("verifier key: key id is not 8 hex digits");
  let raw;
  try {
    raw = b64decode(keyB64);
  } catch {
    throw new Error("verifier key: key is not base64");
  }
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) {
    throw new Error("verifier key: not an Ed25519 key (0x01 ‖ 32 bytes)");
  }
  const publicKey = raw.slice(1);
  const id = await keyId(name, publicKey);
  if (hex(id) !== idHex) {
    throw new Error(`verifier key: key id ${idHex} does not match the key (expected ${hex(id)})`);
  }
  return { name, keyId: id, publicKey };
}

/** SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[0..4]. */
export async function keyId(name, publicKey) {
  const digest = await sha256(
    concat(new TextEncoder().encode(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey),
  );
  return digest.slice(0, 4);
}

/** Splits a signed note into its text (final newline included) and its signature lines. */
export function parseNote(note) {
  if (note.length > NOTE_BYTES_MAX) throw new Error("signed note is over 1 MiB");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("signed note: no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2).split("\n");
  if (sigLines[sigLines.length - 1] !== "") throw new Error("signed note: must end with a newline");
  sigLines.pop();
  if (sigLines.length === 0) throw new Error("signed note: no signature lines");
  const signatures = sigLines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX)) {
      throw new Error(`signed note: signature line ${i + 1} does not start with an em dash`);
    }
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space <= 0) throw new Error(`signed note: signature line ${i + 1} has no key name`);
    let raw;
    try {
      raw = b64decode(rest.slice(space + 1));
    } catch {
      throw new Error(`signed note: signature line ${i + 1} is not base64`);
    }
    if (raw.length < 5) throw new Error(`signed note: signature line ${i + 1} is too short`);
    return { name: rest.slice(0, space), keyId: raw.slice(0, 4), signature: raw.slice(4) };
  });
  return { text, signatures };
}

/** The C2SP tlog-checkpoint body: origin, size, root (extension lines are kept). */
export function parseCheckpointText(text) {
  const lines = text.split("\n");
  lines.pop(); // the text ends with "\n"
  if (lines.length < 3) throw new Error("checkpoint: needs origin, size and root lines");
  const [origin, sizeText, rootB64] = lines;
  if (!origin) throw new Error("checkpoint: empty origin");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new Error(`checkpoint: bad size ${sizeText}`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new Error("checkpoint: size beyond 2^53");
  let root;
  try {
    root = b64decode(rootB64);
  } catch {
    throw new Error("checkpoint: root is not base64");
  }
  if (root.length !== 32) throw new Error("checkpoint: root is not 32 bytes");
  return { origin, size, root, extensions: lines.slice(3) };
}

/**
 * Verifies a signed checkpoint against a verifier key. Returns
 * `{ ok, reason, checkpoint }`; `checkpoint` is parsed even when the signature fails, so a view
 * can show what it refused.
 */
export async function verifyCheckpoint(note, vkeyLine) {
  let checkpoint = null;
  try {
    const vkey = await parseVkey(vkeyLine);
    const { text, signatures } = parseNote(note);
    checkpoint = parseCheckpointText(text);
    if (checkpoint.origin !== vkey.name) {
      return fail(`origin ${checkpoint.origin} is not the key's name ${vkey.name}`, checkpoint);
    }
    const mine = signatures.filter(
      (s) => s.name === vkey.name && equalBytes(s.keyId, vkey.keyId),
    );
    if (mine.length === 0) return fail(`no signature by key ${vkey.name}`, checkpoint);
    let key;
    try {
      key = await subtle().importKey("raw", vkey.publicKey, { name: "Ed25519" }, false, [
        "verify",
      ]);
    } catch (e) {
      return fail(`this browser cannot verify Ed25519 (${e.message})`, checkpoint);
    }
    const data = new TextEncoder().encode(text);
    for (const s of mine) {
      const ok = await subtle().verify({ name: "Ed25519" }, key, s.signature, data);
      if (!ok) return fail("the Ed25519 signature does not verify: the note was altered", checkpoint);
    }
    return { ok: true, reason: "Ed25519 signature verified", checkpoint };
  } catch (e) {
    return fail(e.message, checkpoint);
  }
}

function fail(reason, checkpoint = null) {
  return { ok: false, reason, checkpoint };
}

const isOdd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

/** The root an RFC 9162 §2.1.3.2 inclusion proof implies, or an error. */
export async function rootFromInclusionProof(index, size, leaf, path) {
  if (index >= size) throw new Error(`leaf index ${index} is not below the tree size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error("the proof is longer than the tree is deep");
    if (isOdd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
  return r;
}

/**
 * Checks that `entry` (canonical event bytes) is leaf `index` of the tree of `checkpoint`
 * (verified before), given the proof the server sent. Returns `{ ok, reason }`.
 */
export async function verifyInclusion(entry, proof, checkpoint) {
  try {
    if (proof.size !== checkpoint.size) {
      return fail(`the proof is for size ${proof.size}, the checkpoint has size ${checkpoint.size}`);
    }
    const leaf = await leafHash(entry);
    if (proof.leaf_hash !== undefined && !equalBytes(leaf, b64decode(proof.leaf_hash))) {
      return fail("the entry's leaf hash is not the one the proof is for: the entry was altered");
    }
    const path = proof.hashes.map(b64decode);
    if (path.some((h) => h.length !== 32)) return fail("a proof hash is not 32 bytes");
    const root = await rootFromInclusionProof(proof.index, proof.size, leaf, path);
    if (!equalBytes(root, checkpoint.root)) {
      return fail(
        `the proof leads to root ${b64encode(root)}, not the signed root ${b64encode(checkpoint.root)}`,
      );
    }
    return { ok: true, reason: `leaf ${proof.index} is in the signed tree of size ${proof.size}` };
  } catch (e) {
    return fail(e.message);
  }
}

/** RFC 9162 §2.1.4.2: does the tree (`second`) extend the tree (`first`)? Returns `{ ok, reason }`. */
export async function verifyConsistency(first, second, hashesB64) {
  try {
    const path = hashesB64.map(b64decode);
    if (path.some((h) => h.length !== 32)) return fail("a proof hash is not 32 bytes");
    if (first.size > second.size) return fail(`size ${first.size} is after size ${second.size}`);
    if (first.size === 0) return { ok: true, reason: "every tree extends the empty tree" };
    if (first.size === second.size) {
      if (path.length !== 0) return fail("equal sizes need an empty proof");
      return equalBytes(first.root, second.root)
        ? { ok: true, reason: "same size, same root" }
        : fail("same size, different roots: the log forked");
    }
    if (path.length === 0) return fail("the proof is empty");
    // A power of two: the first tree is a complete subtree, its root starts the path.
    if (Number.isInteger(Math.log2(first.size))) path.unshift(first.root);
    let fn = first.size - 1;
    let sn = second.size - 1;
    while (isOdd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return fail("the proof is longer than the trees are deep");
      if (isOdd(fn) || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) return fail("the proof is shorter than the trees are deep");
    if (!equalBytes(fr, first.root)) return fail("the proof does not lead to the older signed root");
    if (!equalBytes(sr, second.root)) return fail("the proof does not lead to the newer signed root");
    return {
      ok: true,
      reason: `the tree of size ${second.size} extends the tree of size ${first.size}`,
    };
  } catch (e) {
    return fail(e.message);
  }
}
