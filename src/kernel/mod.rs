//! The kernel: a compiled descriptor's guards and rules run over interned observations.
//!
//! [`step`] takes one batch of [`Observation`]s (one log transaction, already interned by the
//! caller) and a checked [`ProgramView`], updates the node classes the batch asserts
//! ([`State`]), checks every admission guard of every added triple, fires the rules the
//! batch triggers, and writes violations, deferred warm checks and emitted triples/alerts into a
//! caller-owned, preallocated [`Actions`]. It returns a [`Receipt`]: counts and digests of what
//! went in and what came out.
//!
//! The hot path allocates nothing, takes no lock and makes no syscall (`tests/kernel_no_alloc.rs`
//! proves the first with a counting allocator): buffers are sized before the call
//! ([`Actions::for_batch`], [`State::ensure_nodes`]), and what does not fit is counted in
//! [`Receipt::dropped`] rather than grown. Most observations of a healthy stream are
//! *quiet* — every guard passes, no rule fires — and [`State`] keeps, per predicate, a summary
//! that recognises them with a few compares and no loop; the others go through the guard and
//! rule lists of their predicate (dispatch is one index by predicate id; class membership one
//! bit test in the node's row).
//!
//! What it deliberately does not do: parse RDF, intern strings, run regexes (those are reported
//! as [`Deferred`] for the caller's warm path), read the store, or decide what a violation
//! means for a batch (the HTTP layer does). [`interp`] is the same semantics written the
//! obvious way with hash maps: the reference for differential tests and the bench baseline.

#[cfg(feature = "server")]
pub mod admit;
pub mod alerts;
pub mod builder;
pub mod events;
#[cfg(feature = "server")]
pub mod follow;
pub mod intern;
pub mod interp;
pub mod program;
#[cfg(feature = "server")]
pub mod registry;
#[cfg(feature = "server")]
pub mod runner;
pub mod sample;
mod state;

pub use program::{
    ActionTemplate, Dispatch, Guard, GuardKind, NO_TERM, Observation, Program, ProgramView, Rule,
    TermId,
};
pub use state::State;

/// A guard that failed on an added triple: admission refuses the batch, naming `Guard::name`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Index of the observation in the batch.
    pub obs: u32,
    /// Index of the guard in the program's `guards` table.
    pub guard: u32,
}

/// A warm-path check the kernel did not run (a regex): the caller runs `warm[Guard::a]` on the
/// observation's object. `rule` is the rule's index, or `u32::MAX` for an admission guard.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deferred {
    pub obs: u32,
    pub guard: u32,
    pub rule: u32,
}

/// A triple or alert a rule produced.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Emitted {
    pub obs: u32,
    /// Index of the rule in the program's `rules` table.
    pub rule: u32,
    /// [`ActionTemplate::EMIT`] or [`ActionTemplate::ALERT`] (then `p` is the topic).
    pub kind: u32,
    pub s: TermId,
    pub p: TermId,
    pub o: TermId,
}

/// What one [`step`] produced, in buffers sized before the call. Pushing never grows them.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    pub violations: Vec<Violation>,
    pub deferred: Vec<Deferred>,
    pub emitted: Vec<Emitted>,
    /// Scratch: the observations of the batch that are not quiet, by index.
    pending: Vec<u32>,
}

impl Actions {
    /// Buffers for batches of up to `observations` observations: every guard may fail or defer
    /// and every rule may fire, so nothing is ever dropped for a program whose predicates have
    /// at most `guards_per_predicate` guards.
    pub fn for_batch(program: &ProgramView<'_>, observations: usize) -> Actions {
        let parts = program.parts();
        let guards_max = parts
            .dispatch
            .iter()
            .map(|d| d.guard_len as usize)
            .chain(parts.rules.iter().map(|r| r.guard_len as usize))
            .max()
            .unwrap_or(0)
            .max(1);
        let actions_max = (program.header().actions_per_observation_max as usize).max(1);
        let rules_max = parts
            .dispatch
            .iter()
            .map(|d| d.rule_len as usize)
            .max()
            .unwrap_or(0)
            .max(1);
        Actions {
            violations: Vec::with_capacity(observations.saturating_mul(guards_max)),
            deferred: Vec::with_capacity(
                observations.saturating_mul(guards_max.saturating_add(rules_max)),
            ),
            emitted: Vec::with_capacity(observations.saturating_mul(actions_max)),
            pending: Vec::with_capacity(observations),
        }
    }

    /// Empties the buffers, keeping their capacity.
    pub fn clear(&mut self) {
        self.violations.clear();
        self.deferred.clear();
        self.emitted.clear();
        self.pending.clear();
    }
}

/// Pushes without growing: false (and nothing written) when the buffer is full.
#[inline(always)]
fn push<T>(buf: &mut Vec<T>, item: T) -> bool {
    if buf.len() < buf.capacity() {
        buf.push(item);
        true
    } else {
        false
    }
}

/// What a [`step`] did: counts, and digests of its input and output.
///
/// The digests are 64-bit, order-sensitive and cheap (one multiply per observation); they
/// identify a step's input and output for replay comparison. The receipt recorded in the log hashes the same things with SHA-256 off
/// the hot path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    pub observations: u64,
    pub violations: u64,
    pub deferred: u64,
    pub rules_fired: u64,
    pub emitted: u64,
    pub alerts: u64,
    /// `rdf:type` observations applied to [`State`].
    pub types_applied: u64,
    /// Outputs (or type updates) that did not fit the preallocated buffers: a non-zero value
    /// means the caller sized them wrong, and the step must not be trusted.
    pub dropped: u64,
    pub input_digest: u64,
    pub output_digest: u64,
}

/// A 64-bit finalizer (splitmix64): spreads every input bit over the output.
#[inline(always)]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Folds one observation into the running input digest: one multiply, order-sensitive (the
/// multiply sits between consecutive observations). Its latency chain hides behind the rest of
/// the loop. `s`, `p`, `o` and the op identify an observation: the object's analysis
/// (datatype, value, length, kind) is a function of `o`.
#[inline(always)]
fn fold_observation(digest: u64, o: &Observation) -> u64 {
    let a = (u64::from(o.s) << 32) | u64::from(o.p);
    let b = (u64::from(o.o) << 32) | u64::from(o.op);
    (digest ^ a ^ b.rotate_left(29)).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

#[inline(always)]
fn emitted_word(e: &Emitted) -> u64 {
    let a = (u64::from(e.s) << 32) | u64::from(e.p);
    let b = (u64::from(e.o) << 32) | (u64::from(e.kind) << 24) | u64::from(e.obs);
    mix(a ^ mix(b ^ u64::from(e.rule).rotate_left(40)))
}

/// Observations per chunk of the batch: 32 KiB of them, about an L1 data cache.
const CHUNK_OBSERVATIONS: usize = 1024;

/// Outcome of one guard on one observation.
const PASS: u8 = 0;
const FAIL: u8 = 1;
const DEFER: u8 = 2;

#[inline(always)]
fn eval_guard(program: &ProgramView<'_>, types: &State, g: &Guard, o: &Observation) -> u8 {
    let set = || &program.parts().sets[g.a as usize..][..g.b as usize];
    let pass = match g.kind {
        GuardKind::DATATYPE => o.datatype == g.a,
        GuardKind::MIN_INCLUSIVE => o.num >= g.value,
        GuardKind::MIN_EXCLUSIVE => o.num > g.value,
        GuardKind::MAX_INCLUSIVE => o.num <= g.value,
        GuardKind::MAX_EXCLUSIVE => o.num < g.value,
        GuardKind::MIN_LENGTH => o.kind != program::node_kind::BLANK && o.len >= g.a,
        GuardKind::MAX_LENGTH => o.kind != program::node_kind::BLANK && o.len <= g.a,
        GuardKind::IN => set().binary_search(&o.o).is_ok(),
        GuardKind::NOT_IN => set().binary_search(&o.o).is_err(),
        GuardKind::HAS_VALUE => o.o == g.a,
        GuardKind::NODE_KIND => (g.a >> (o.kind & 31)) & 1 == 1,
        GuardKind::CLASS => types.is_instance(o.o, g.a),
        GuardKind::PATTERN => return DEFER,
        // `ProgramView::new` refused every other kind.
        _ => false,
    };
    if pass { PASS } else { FAIL }
}

/// Runs `program` over one batch. See the module documentation for what it does; `out` is
/// cleared first and must come from [`Actions::for_batch`] for at least `batch.len()`, and
/// `state` must have been built for this program ([`State::new`]).
pub fn step(
    program: &ProgramView<'_>,
    state: &mut State,
    batch: &[Observation],
    out: &mut Actions,
) -> Receipt {
    out.clear();
    let mut r = Receipt {
        observations: batch.len() as u64,
        ..Receipt::default()
    };
    // The batch is streamed from memory once, in chunks that stay in the L1 cache for a
    // second, cheap look: first the digest and the quiet test, then the class changes. The
    // observations that are not quiet are evaluated after the whole batch, so their guards see
    // the classes of the whole batch.
    let h = *program.header();
    // An id no observation has as predicate when the program has no classes or no rdf:type.
    let rdf_type = if h.class_count > 0 {
        h.rdf_type
    } else {
        NO_TERM
    };
    let retracted = scan(program, state, batch, out, &mut r, rdf_type, true);
    if retracted {
        // A class was retracted: the quiet tests that relied on a subject's class may be stale
        // (it can be gone by the end of the batch). Scan again, classes already final, without
        // them. Rare: class retractions are.
        out.pending.clear();
        scan(program, state, batch, out, &mut r, NO_TERM, false);
    }
    let pending = std::mem::take(&mut out.pending);
    for &i in &pending {
        if let Some(o) = batch.get(i as usize) {
            exact(program, state, i as usize, o, out, &mut r);
        }
    }
    out.pending = pending;
    for e in &out.emitted {
        r.output_digest = r.output_digest.wrapping_add(emitted_word(e));
    }
    for v in &out.violations {
        r.output_digest = r
            .output_digest
            .wrapping_add(mix((u64::from(v.obs) << 32) | u64::from(v.guard)) ^ 1);
    }
    r
}

/// One observation through every guard and rule of its predicate.
#[inline(never)]
fn exact(
    program: &ProgramView<'_>,
    state: &State,
    i: usize,
    o: &Observation,
    out: &mut Actions,
    r: &mut Receipt,
) {
    let parts = program.parts();
    let Some(d) = parts.dispatch.get(o.p as usize) else {
        return;
    };
    if o.op == Observation::ADD {
        let guards = &parts.guards[d.guard_start as usize..][..d.guard_len as usize];
        for (gi, g) in guards.iter().enumerate() {
            if g.subject_class != NO_TERM && !state.is_instance(o.s, g.subject_class) {
                continue;
            }
            let guard = d.guard_start + gi as u32;
            match eval_guard(program, state, g, o) {
                PASS => {}
                FAIL => {
                    r.violations += 1;
                    let v = Violation {
                        obs: i as u32,
                        guard,
                    };
                    r.dropped += u64::from(!push(&mut out.violations, v));
                }
                _ => {
                    r.deferred += 1;
                    let def = Deferred {
                        obs: i as u32,
                        guard,
                        rule: u32::MAX,
                    };
                    r.dropped += u64::from(!push(&mut out.deferred, def));
                }
            }
        }
    }
    if d.rule_len != 0 {
        run_rules(program, state, d, i, o, out, r);
    }
}

/// One pass over the batch: digest, quiet test, and (when `rdf_type` is an id) class changes,
/// chunk by chunk. Returns whether a class was retracted.
fn scan(
    program: &ProgramView<'_>,
    state: &mut State,
    batch: &[Observation],
    out: &mut Actions,
    r: &mut Receipt,
    rdf_type: TermId,
    classes: bool,
) -> bool {
    let class_count = program.header().class_count;
    let mut digest = 0u64;
    let mut retracted = false;
    for (c, chunk) in batch.chunks(CHUNK_OBSERVATIONS).enumerate() {
        let first = c * CHUNK_OBSERVATIONS;
        for (k, o) in chunk.iter().enumerate() {
            let i = first + k;
            digest = fold_observation(digest, o);
            if !state.quiet(o, classes) {
                r.dropped += u64::from(!push(&mut out.pending, i as u32));
            }
        }
        for o in chunk {
            if o.p == rdf_type && o.o < class_count {
                retracted |= o.op != Observation::ADD;
                apply_type(program, state, o, r);
            }
        }
    }
    // The final mix spreads the last observation's bits like the others'.
    r.input_digest = mix(digest);
    retracted
}

/// An `rdf:type` change to a class of the program.
#[inline(never)]
fn apply_type(program: &ProgramView<'_>, state: &mut State, o: &Observation, r: &mut Receipt) {
    let done = if o.op == Observation::ADD {
        state.assert_class(program, o.s, o.o)
    } else {
        state.retract_class(program, o.s, o.o)
    };
    r.types_applied += u64::from(done);
    r.dropped += u64::from(!done);
}

#[inline]
fn run_rules(
    program: &ProgramView<'_>,
    types: &State,
    d: &Dispatch,
    i: usize,
    o: &Observation,
    out: &mut Actions,
    r: &mut Receipt,
) {
    let parts = program.parts();
    let rules = &parts.rules[d.rule_start as usize..][..d.rule_len as usize];
    'rules: for (ri, rule) in rules.iter().enumerate() {
        if rule.op != u32::from(o.op)
            || (rule.subject_class != NO_TERM && !types.is_instance(o.s, rule.subject_class))
        {
            continue;
        }
        let rule_index = d.rule_start + ri as u32;
        let guards = &parts.guards[rule.guard_start as usize..][..rule.guard_len as usize];
        for (gi, g) in guards.iter().enumerate() {
            match eval_guard(program, types, g, o) {
                PASS => {}
                FAIL => continue 'rules,
                _ => {
                    r.deferred += 1;
                    let def = Deferred {
                        obs: i as u32,
                        guard: rule.guard_start + gi as u32,
                        rule: rule_index,
                    };
                    r.dropped += u64::from(!push(&mut out.deferred, def));
                    continue 'rules;
                }
            }
        }
        r.rules_fired += 1;
        let actions = &parts.actions[rule.action_start as usize..][..rule.action_len as usize];
        for a in actions {
            let pick = |from: u8, constant: TermId| match from {
                program::slot::SUBJECT => o.s,
                program::slot::OBJECT => o.o,
                _ => constant,
            };
            let e = Emitted {
                obs: i as u32,
                rule: rule_index,
                kind: u32::from(a.kind),
                s: pick(a.s_from, a.s),
                p: pick(a.p_from, a.p),
                o: pick(a.o_from, a.o),
            };
            if a.kind == ActionTemplate::ALERT {
                r.alerts += 1;
            } else if e.p == program.header().rdf_type && types.asserts(e.s, e.o) {
                // The subject asserts the class already: nothing to derive (this is what lets
                // a reading whose property has an `rdfs:domain` be quiet).
                continue;
            } else {
                r.emitted += 1;
            }
            r.dropped += u64::from(!push(&mut out.emitted, e));
        }
    }
}
