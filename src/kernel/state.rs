//! What the kernel keeps between steps for one program: the classes of every node, and a
//! one-line summary per predicate that lets most observations skip the guard and rule loops.
//!
//! Node classes: two rows of `class_words` u64s per node id, the asserted classes (so a
//! removal is undone exactly) and their superclass closure (what guards test, one bit).
//! Growing happens only in [`State::ensure_nodes`], off the hot path; a node beyond capacity
//! has no classes.
//!
//! Quiet summaries: for each predicate, the region of object values in which *nothing* can
//! happen — every admission guard passes and no rule fires — as a numeric interval, a datatype,
//! a node-kind mask and a length range. An observation inside it is done after a few compares
//! and one well-predicted branch; anything else (a violation, a firing rule, a guard the
//! summary cannot express such as `sh:in` or `sh:class`) takes the exact path. The summary is
//! conservative: "quiet" implies the exact path would produce nothing, never the converse. It
//! is derived from the program's tables when the state is built (activation), so descriptors
//! need not carry it.

use super::program::{GuardKind, NO_TERM, Observation, ProgramView, Rule, TermId, node_kind};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Quiet {
    /// Quiet numbers are in `lo..=hi` (when `numeric`).
    lo: f64,
    hi: f64,
    /// The one datatype allowed, or [`NO_TERM`] for any.
    datatype: TermId,
    /// `u32::MAX` when `datatype` is one, 0 for any (one compare on the hot path).
    datatype_mask: u32,
    /// Node kinds (bits of [`node_kind`]) allowed.
    kinds: u32,
    len_min: u32,
    len_max: u32,
    /// The object must be a number in `lo..=hi`.
    numeric: bool,
    /// Additions are never quiet (a guard or rule the summary cannot express).
    add_slow: bool,
    /// Removals are never quiet (a rule triggers on removal).
    remove_slow: bool,
    /// Which test [`Quiet::holds`] runs on additions, from the fields above.
    shape: Shape,
    /// A class the predicate's typing axiom (`rdfs:domain`) gives the subject: quiet only when
    /// the subject already asserts it (the kernel does not re-emit an asserted class).
    subject_class: TermId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No guard, no rule on additions.
    Anything,
    /// A datatype (or any) and numbers in `lo..=hi`: sensor readings.
    Numbers,
    /// Every field.
    General,
    /// Never quiet.
    Never,
}

impl Quiet {
    const ANYTHING: Quiet = Quiet {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
        datatype: NO_TERM,
        datatype_mask: 0,
        kinds: 0b111,
        len_min: 0,
        len_max: u32::MAX,
        numeric: false,
        add_slow: false,
        remove_slow: false,
        shape: Shape::Anything,
        subject_class: NO_TERM,
    };

    /// Whether nothing can happen for `o`. The common shapes (nothing to check, numbers in a
    /// range) get a short test of their own; the branch on `shape` is predictable in a
    /// telemetry stream.
    #[inline(always)]
    pub(super) fn holds(&self, o: &Observation) -> bool {
        if o.op != Observation::ADD {
            return !self.remove_slow;
        }
        // `datatype_mask` is 0 for "any datatype", all ones otherwise.
        let datatype = (o.datatype ^ self.datatype) & self.datatype_mask == 0;
        let number = (o.num >= self.lo) & (o.num <= self.hi);
        if self.shape == Shape::Numbers {
            return datatype & number;
        }
        match self.shape {
            Shape::Anything => true,
            Shape::General => {
                datatype
                    & ((self.kinds >> (o.kind & 31)) & 1 == 1)
                    & (o.len >= self.len_min)
                    & (o.len <= self.len_max)
                    & ((!self.numeric) | number)
            }
            _ => false,
        }
    }

    /// The summary of one predicate's admission guards and rules.
    fn of(program: &ProgramView<'_>, p: usize) -> Quiet {
        let parts = program.parts();
        let Some(d) = parts.dispatch.get(p) else {
            return Quiet::ANYTHING;
        };
        let mut q = Quiet::ANYTHING;
        for g in &parts.guards[d.guard_start as usize..][..d.guard_len as usize] {
            q.admit(g.kind, g.a, g.value);
        }
        for r in &parts.rules[d.rule_start as usize..][..d.rule_len as usize] {
            if r.op == u32::from(Observation::REMOVE) {
                q.remove_slow = true;
                continue;
            }
            q.exclude_rule(program, r);
        }
        if q.lo > q.hi {
            q.add_slow = true;
        }
        q.datatype_mask = if q.datatype == NO_TERM { 0 } else { u32::MAX };
        let any_value = q.kinds == 0b111 && q.len_min == 0 && q.len_max == u32::MAX;
        q.shape = if q.add_slow {
            Shape::Never
        } else if any_value && !q.numeric && q.datatype == NO_TERM {
            Shape::Anything
        } else if any_value && q.numeric {
            Shape::Numbers
        } else {
            Shape::General
        };
        q
    }

    /// Narrows the quiet region to where guard `kind` passes.
    fn admit(&mut self, kind: u8, a: u32, value: f64) {
        match kind {
            GuardKind::DATATYPE if self.datatype == NO_TERM || self.datatype == a => {
                self.datatype = a;
            }
            GuardKind::MIN_INCLUSIVE => self.at_least(value),
            GuardKind::MIN_EXCLUSIVE => self.at_least(next_up(value)),
            GuardKind::MAX_INCLUSIVE => self.at_most(value),
            GuardKind::MAX_EXCLUSIVE => self.at_most(next_down(value)),
            GuardKind::MIN_LENGTH => {
                self.len_min = self.len_min.max(a);
                self.kinds &= !(1 << node_kind::BLANK);
            }
            GuardKind::MAX_LENGTH => {
                self.len_max = self.len_max.min(a);
                self.kinds &= !(1 << node_kind::BLANK);
            }
            GuardKind::NODE_KIND => self.kinds &= a,
            // sh:in, sh:class, sh:hasValue, patterns, a second datatype: the exact path.
            _ => self.add_slow = true,
        }
    }

    /// Narrows the quiet region to where rule `r` cannot fire: outside one of its numeric
    /// guards. A rule with no numeric guard may fire on anything: additions go the exact way.
    fn exclude_rule(&mut self, program: &ProgramView<'_>, r: &Rule) {
        let parts = program.parts();
        let guards = &parts.guards[r.guard_start as usize..][..r.guard_len as usize];
        if let Some(class) = typing_class(program, r) {
            // Quiet for subjects that already assert the class (one class per predicate).
            if self.subject_class == NO_TERM || self.subject_class == class {
                self.subject_class = class;
            } else {
                self.add_slow = true;
            }
            return;
        }
        let numeric = guards.iter().find(|g| {
            matches!(
                g.kind,
                GuardKind::MIN_INCLUSIVE
                    | GuardKind::MIN_EXCLUSIVE
                    | GuardKind::MAX_INCLUSIVE
                    | GuardKind::MAX_EXCLUSIVE
            )
        });
        match numeric.map(|g| (g.kind, g.value)) {
            // The rule fails where the guard fails: below a minimum, above a maximum.
            Some((GuardKind::MIN_INCLUSIVE, v)) => self.at_most(next_down(v)),
            Some((GuardKind::MIN_EXCLUSIVE, v)) => self.at_most(v),
            Some((GuardKind::MAX_INCLUSIVE, v)) => self.at_least(next_up(v)),
            Some((GuardKind::MAX_EXCLUSIVE, v)) => self.at_least(v),
            _ => self.add_slow = true,
        }
    }

    /// Whether `o`'s subject asserts the class the summary needs (always, if none).
    #[inline(always)]
    fn subject_ok(&self, state: &State, o: &Observation) -> bool {
        self.subject_class == NO_TERM || state.asserts(o.s, self.subject_class)
    }

    fn at_least(&mut self, v: f64) {
        self.numeric = true;
        self.lo = self.lo.max(v);
    }

    fn at_most(&mut self, v: f64) {
        self.numeric = true;
        self.hi = self.hi.min(v);
    }
}

/// The class a rule types its subject with, when the rule is a bare typing axiom: no guard,
/// no subject condition, one action emitting `(?s rdf:type C)`.
pub(super) fn typing_class(program: &ProgramView<'_>, r: &Rule) -> Option<TermId> {
    let h = program.header();
    if r.guard_len != 0 || r.subject_class != NO_TERM || r.action_len != 1 {
        return None;
    }
    let a = program.parts().actions.get(r.action_start as usize)?;
    let typing = a.kind == super::ActionTemplate::EMIT
        && a.s_from == super::program::slot::SUBJECT
        && a.p_from == super::program::slot::CONST
        && a.p == h.rdf_type
        && a.o_from == super::program::slot::CONST
        && a.o < h.class_count;
    typing.then_some(a.o)
}

/// The smallest float above `x` (`f64::next_up`, stable only since Rust 1.86).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// The largest float below `x`.
fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// Node classes and predicate summaries for one program (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct State {
    words: usize,
    asserted: Vec<u64>,
    closure: Vec<u64>,
    quiet: Vec<Quiet>,
}

impl State {
    /// Allocates the summaries (one per dispatch entry); no node room yet.
    pub fn new(program: &ProgramView<'_>) -> State {
        let predicates = program.parts().dispatch.len();
        State {
            words: program.header().class_words as usize,
            asserted: Vec::new(),
            closure: Vec::new(),
            quiet: (0..predicates).map(|p| Quiet::of(program, p)).collect(),
        }
    }

    /// Makes room for node ids `0..nodes` (allocates; call before [`super::step`]).
    pub fn ensure_nodes(&mut self, nodes: usize) {
        let len = nodes.saturating_mul(self.words);
        if self.asserted.len() < len {
            self.asserted.resize(len, 0);
            self.closure.resize(len, 0);
        }
    }

    /// Node ids with room for classes.
    pub fn capacity_nodes(&self) -> usize {
        self.asserted.len().checked_div(self.words).unwrap_or(0)
    }

    /// Whether nothing can happen for `o` (a predicate the program does not know included).
    #[inline(always)]
    pub(super) fn quiet(&self, o: &Observation, classes: bool) -> bool {
        let q = self.quiet.get(o.p as usize).unwrap_or(&Quiet::ANYTHING);
        // Without `classes` (a batch that retracts classes), a summary that needs one is not
        // trusted: the class may be gone by the end of the batch.
        q.holds(o)
            && (if classes {
                q.subject_ok(self, o)
            } else {
                q.subject_class == NO_TERM
            })
    }

    /// Whether `node` asserts `class` itself (not through a subclass).
    #[inline(always)]
    pub fn asserts(&self, node: TermId, class: TermId) -> bool {
        bit(&self.asserted, self.words, node, class)
    }

    /// For predicate `p`: the numbers (and datatype, [`NO_TERM`] for any) its additions are
    /// quiet for, when its summary is a plain numeric interval. For stream generators.
    /// The last element is the class the subject must assert, or [`NO_TERM`].
    pub fn quiet_numbers(&self, p: TermId) -> Option<(f64, f64, TermId, TermId)> {
        let q = self.quiet.get(p as usize)?;
        let plain = q.shape == Shape::Numbers;
        plain.then_some((q.lo, q.hi, q.datatype, q.subject_class))
    }

    /// Whether `node` is an instance of `class` (subclasses included); false for
    /// [`NO_TERM`], unknown nodes and nodes beyond capacity.
    #[inline(always)]
    pub fn is_instance(&self, node: TermId, class: TermId) -> bool {
        bit(&self.closure, self.words, node, class)
    }

    /// The node's asserted-class and closure bitset rows; `None` when `node` is beyond capacity.
    #[inline]
    fn rows_mut(&mut self, node: TermId) -> Option<(&mut [u64], &mut [u64])> {
        let w = self.words;
        let at = node as usize * w;
        Some((
            self.asserted.get_mut(at..at + w)?,
            self.closure.get_mut(at..at + w)?,
        ))
    }

    /// Records `node rdf:type class`; false when `node` is beyond capacity.
    #[inline]
    pub(super) fn assert_class(
        &mut self,
        program: &ProgramView<'_>,
        node: TermId,
        class: TermId,
    ) -> bool {
        let w = self.words;
        let Some((asserted, closure)) = self.rows_mut(node) else {
            return false;
        };
        asserted[class as usize / 64] |= 1 << (class % 64);
        let row = &program.parts().class_closure[class as usize * w..][..w];
        for (c, r) in closure.iter_mut().zip(row) {
            *c |= r;
        }
        true
    }

    /// Removes `node rdf:type class` and recomputes the node's closure from what remains.
    #[inline]
    pub(super) fn retract_class(
        &mut self,
        program: &ProgramView<'_>,
        node: TermId,
        class: TermId,
    ) -> bool {
        let w = self.words;
        let Some((asserted, closure)) = self.rows_mut(node) else {
            return false;
        };
        asserted[class as usize / 64] &= !(1 << (class % 64));
        closure.fill(0);
        let table = program.parts().class_closure;
        for (wi, &bits) in asserted.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let c = wi * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                for (cw, r) in closure.iter_mut().zip(&table[c * w..][..w]) {
                    *cw |= r;
                }
            }
        }
        true
    }
}

/// Bit `class` of `node`'s row in a table of `words` words per node; false beyond the table.
#[inline(always)]
fn bit(table: &[u64], words: usize, node: TermId, class: TermId) -> bool {
    let word = (node as usize)
        .wrapping_mul(words)
        .wrapping_add(class as usize / 64);
    table
        .get(word)
        .is_some_and(|w| (w >> (class % 64)) & 1 == 1)
}
