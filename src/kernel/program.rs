//! The tables the kernel executes: plain-old-data, `#[repr(C)]`, little-endian, no pointers.
//!
//! A compiled descriptor is, for the kernel, a handful of flat arrays indexed by dense `u32`
//! term ids. [`Program`] owns them (what the compiler builds and what tests write by hand);
//! [`ProgramView`] borrows them, so the descriptor loader can hand the kernel slices that point
//! straight into the file bytes ([`cast_slice`]) with no copy and no parse. A view is only ever
//! built by [`ProgramView::new`], which checks every index and range once; the kernel then
//! trusts them on the hot path.
//!
//! Layout of the id space (the compiler's side of the contract):
//! - term ids `0..class_count` are the classes, so a class id is also its bit in a class bitset;
//! - the other interned terms (predicates, constants, literals of `sh:in`/`sh:hasValue`, rule
//!   and shape names, datatypes) follow, up to `term_count`;
//! - ids `>= term_count` are runtime ids the kernel's caller assigns to terms the descriptor
//!   does not know (instance IRIs, other literals). They match no constant and have no rules.
//!
//! What this module does not do: it never interprets an ontology (the compiler does) and never
//! serializes a file (the descriptor format does, with [`as_bytes`] per section).

use std::mem::{align_of, size_of};

/// A dense term id.
pub type TermId = u32;
/// "No term": no class condition, no datatype (IRIs and blank nodes), absent operand.
pub const NO_TERM: TermId = u32::MAX;

/// Bumped whenever a table's layout or a kind's meaning changes; the descriptor records it and
/// the loader refuses another value.
pub const PROGRAM_ABI_VERSION: u32 = 1;

/// Most classes a program may define: a class bitset row is `class_words` u64s, and the node
/// type table holds one row per node.
pub const CLASSES_MAX: u32 = 1 << 20;

/// Types whose every bit pattern is a valid value and that have no padding, so a byte slice of
/// the right length and alignment can be viewed as a slice of them.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers and floats with no implicit padding
/// (each one below has a `size_of` assertion that pins it).
pub unsafe trait Pod: Copy + 'static {}

unsafe impl Pod for u8 {}
unsafe impl Pod for u32 {}
unsafe impl Pod for u64 {}

/// Why bytes cannot be viewed as a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CastError {
    #[error("table of {len} bytes is not a multiple of its {size}-byte entries")]
    Length { len: usize, size: usize },
    #[error("table is not aligned to {align} bytes")]
    Alignment { align: usize },
}

/// Views `bytes` as a slice of `T` in place. The descriptor format keeps every section
/// 8-byte aligned in a buffer that is itself 8-byte aligned (a `Vec<u64>` or an mmap).
pub fn cast_slice<T: Pod>(bytes: &[u8]) -> Result<&[T], CastError> {
    let size = size_of::<T>();
    if bytes.len() % size != 0 {
        return Err(CastError::Length {
            len: bytes.len(),
            size,
        });
    }
    if (bytes.as_ptr() as usize) % align_of::<T>() != 0 {
        return Err(CastError::Alignment {
            align: align_of::<T>(),
        });
    }
    // SAFETY: length and alignment checked above; `T: Pod` makes every bit pattern valid and
    // the lifetime of the result is tied to `bytes`.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// The bytes of a table, as they go into a descriptor section (little-endian hosts only).
pub fn as_bytes<T: Pod>(table: &[T]) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so every byte is initialized.
    unsafe { std::slice::from_raw_parts(table.as_ptr().cast::<u8>(), std::mem::size_of_val(table)) }
}

/// Node kinds, as bits: `Observation::kind` is the bit index, `GuardKind::NODE_KIND` takes a
/// mask (`sh:BlankNodeOrIRI` = `IRI | BLANK`, and so on).
pub mod node_kind {
    pub const IRI: u8 = 0;
    pub const BLANK: u8 = 1;
    pub const LITERAL: u8 = 2;
    pub const MASK_IRI: u32 = 1 << IRI;
    pub const MASK_BLANK: u32 = 1 << BLANK;
    pub const MASK_LITERAL: u32 = 1 << LITERAL;
}

/// One triple change the kernel sees, with its object already analysed by the caller (interning
/// and literal parsing happen once, off the hot path).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub s: TermId,
    pub p: TermId,
    /// The object; a literal is interned as a whole term (lexical form + datatype/language).
    pub o: TermId,
    /// The literal's datatype id, [`NO_TERM`] for an IRI or a blank node.
    pub datatype: TermId,
    /// The literal's numeric value when its datatype is numeric and the lexical form valid,
    /// otherwise NaN (so every numeric comparison fails, as SHACL's do on incomparable values).
    pub num: f64,
    /// Length in characters of the literal's lexical form or of the IRI (`sh:min/maxLength`).
    pub len: u32,
    /// [`Observation::ADD`] or [`Observation::REMOVE`].
    pub op: u8,
    /// A [`node_kind`] bit index of the object.
    pub kind: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(size_of::<Observation>() == 32);

impl Observation {
    pub const ADD: u8 = 0;
    pub const REMOVE: u8 = 1;

    /// The addition `s rdf:type class` (`rdf_type` is the program's id for rdf:type).
    pub fn class_assertion(s: TermId, rdf_type: TermId, class: TermId) -> Self {
        Observation {
            s,
            p: rdf_type,
            o: class,
            datatype: NO_TERM,
            num: f64::NAN,
            len: 0,
            op: Observation::ADD,
            kind: node_kind::IRI,
            _pad: [0; 2],
        }
    }
}

/// Per predicate id: its admission guards and the rules it triggers.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatch {
    /// `guards[guard_start..guard_start + guard_len]`: admission guards of events with this
    /// predicate (each may be conditioned on the subject's class).
    pub guard_start: u32,
    pub guard_len: u32,
    /// `rules[rule_start..rule_start + rule_len]`: rules whose trigger is this predicate.
    pub rule_start: u32,
    pub rule_len: u32,
}
const _: () = assert!(size_of::<Dispatch>() == 16);

/// What a [`Guard`] checks about an observation's object. A `u8` rather than an enum so any
/// byte in a file is a value; [`ProgramView::new`] refuses unknown ones.
pub struct GuardKind;

impl GuardKind {
    /// `sh:datatype`: `datatype == a`.
    pub const DATATYPE: u8 = 1;
    /// `sh:minInclusive`: `num >= value`.
    pub const MIN_INCLUSIVE: u8 = 2;
    /// `sh:minExclusive`: `num > value`.
    pub const MIN_EXCLUSIVE: u8 = 3;
    /// `sh:maxInclusive`: `num <= value`.
    pub const MAX_INCLUSIVE: u8 = 4;
    /// `sh:maxExclusive`: `num < value`.
    pub const MAX_EXCLUSIVE: u8 = 5;
    /// `sh:minLength`: not a blank node and `len >= a`.
    pub const MIN_LENGTH: u8 = 6;
    /// `sh:maxLength`: not a blank node and `len <= a`.
    pub const MAX_LENGTH: u8 = 7;
    /// `sh:in`: `o` is in `sets[a..a + b]` (sorted ascending, binary search).
    pub const IN: u8 = 8;
    /// `sh:hasValue` lowered per value, and rule object guards: `o == a`.
    pub const HAS_VALUE: u8 = 9;
    /// `sh:nodeKind`: the object's kind bit is in the mask `a` (see [`node_kind`]).
    pub const NODE_KIND: u8 = 10;
    /// `sh:class`: the object is an instance of class `a` (subclass closure applied).
    pub const CLASS: u8 = 11;
    /// `sh:pattern` (warm path): the kernel does not run it; it reports a deferred check of
    /// `warm[a]` and the caller runs the regex.
    pub const PATTERN: u8 = 12;
    /// The complement of [`GuardKind::IN`]: `o` is *not* in `sets[a..a + b]` (e.g.
    /// `owl:disjointWith` on `rdf:type`: a D may not be typed with C or any subclass of C).
    pub const NOT_IN: u8 = 13;

    pub fn is_known(kind: u8) -> bool {
        (Self::DATATYPE..=Self::NOT_IN).contains(&kind)
    }
}

/// One check of an observation's object. For admission, a failed guard is a violation named
/// `name` (the shape or rule IRI's id); for a rule, it stops the rule.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    /// A [`GuardKind`] constant.
    pub kind: u8,
    pub _pad: [u8; 3],
    /// The guard applies only when the subject is an instance of this class (`sh:targetClass`);
    /// [`NO_TERM`] = always (`sh:targetSubjectsOf`, rule guards).
    pub subject_class: TermId,
    /// First operand: a term id, a class id, a length, a set start, a node-kind mask or a warm
    /// index, per [`GuardKind`].
    pub a: u32,
    /// Second operand: the set length for [`GuardKind::IN`], else 0.
    pub b: u32,
    /// The bound of numeric comparisons, else 0.
    pub value: f64,
    /// The term id of what to name in a report (the shape or rule).
    pub name: TermId,
    pub _reserved: u32,
}
const _: () = assert!(size_of::<Guard>() == 32);

/// A rule: on an added triple with predicate `Dispatch`'s id, whose subject is an instance of
/// `subject_class` (or any) and whose object passes every guard, run every action.
///
/// The kernel applies rules once per input observation: derived triples do not trigger further
/// rules in the same step. The compiler precomputes closures (super-properties, superclasses)
/// into the actions, and refuses rule cycles.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The rule's IRI id, for reports and receipts.
    pub name: TermId,
    /// [`NO_TERM`] = any subject.
    pub subject_class: TermId,
    /// `guards[guard_start..guard_start + guard_len]`, all must pass.
    pub guard_start: u32,
    pub guard_len: u32,
    /// `actions[action_start..action_start + action_len]`.
    pub action_start: u32,
    pub action_len: u32,
    /// [`Rule::HOT`] or [`Rule::WARM`] (informational for the kernel: a warm rule's guard
    /// list holds a [`GuardKind::PATTERN`] and the rule is reported deferred, not fired).
    pub path: u32,
    /// Which op triggers it: [`Observation::ADD`] (the default) or [`Observation::REMOVE`].
    pub op: u32,
}
const _: () = assert!(size_of::<Rule>() == 32);

impl Rule {
    pub const HOT: u32 = 0;
    pub const WARM: u32 = 1;
}

/// Where a slot of an emitted triple comes from.
pub mod slot {
    /// The constant id in the template.
    pub const CONST: u8 = 0;
    /// The matched observation's subject.
    pub const SUBJECT: u8 = 1;
    /// The matched observation's object.
    pub const OBJECT: u8 = 2;
}

/// What a rule does when it fires.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTemplate {
    /// [`ActionTemplate::EMIT`] or [`ActionTemplate::ALERT`].
    pub kind: u8,
    /// [`slot`] of the emitted subject, predicate and object.
    pub s_from: u8,
    pub p_from: u8,
    pub o_from: u8,
    /// Constants for slots taken from [`slot::CONST`]; for an alert, `p` is the topic id and
    /// `s`/`o` say what the alert carries like an emitted triple would.
    pub s: TermId,
    pub p: TermId,
    pub o: TermId,
}
const _: () = assert!(size_of::<ActionTemplate>() == 16);

impl ActionTemplate {
    /// Emit a derived triple (added).
    pub const EMIT: u8 = 1;
    /// Emit an alert on topic `p` to the bus.
    pub const ALERT: u8 = 2;
}

/// A warm-path check: a regex the caller compiles once at activation and runs on demand.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmEntry {
    /// Id of the string literal holding the pattern (`sh:pattern`).
    pub pattern: TermId,
    /// Id of the flags literal (`sh:flags`), or [`NO_TERM`].
    pub flags: TermId,
}
const _: () = assert!(size_of::<WarmEntry>() == 8);

unsafe impl Pod for Observation {}
unsafe impl Pod for Dispatch {}
unsafe impl Pod for Guard {}
unsafe impl Pod for Rule {}
unsafe impl Pod for ActionTemplate {}
unsafe impl Pod for WarmEntry {}

/// The scalars of a program (one small section of the descriptor).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramHeader {
    /// [`PROGRAM_ABI_VERSION`].
    pub abi_version: u32,
    /// Number of interned terms: ids `0..term_count`.
    pub term_count: u32,
    /// Classes are ids `0..class_count`.
    pub class_count: u32,
    /// `ceil(class_count / 64)`: u64 words per class bitset row.
    pub class_words: u32,
    /// Id of `rdf:type` (class membership comes from its observations), or [`NO_TERM`].
    pub rdf_type: TermId,
    /// Most actions one observation can produce (the largest sum of `action_len` over the
    /// rules of one predicate): callers size [`crate::kernel::Actions`] with it.
    pub actions_per_observation_max: u32,
}
const _: () = assert!(size_of::<ProgramHeader>() == 24);
unsafe impl Pod for ProgramHeader {}

/// The tables of a program, unchecked: what a loader or a builder assembles before
/// [`ProgramView::new`] checks it.
#[derive(Debug, Clone, Copy)]
pub struct ProgramParts<'a> {
    pub header: ProgramHeader,
    /// Indexed by predicate id; predicates `>= dispatch.len()` have nothing.
    pub dispatch: &'a [Dispatch],
    pub guards: &'a [Guard],
    pub rules: &'a [Rule],
    pub actions: &'a [ActionTemplate],
    /// Sorted id slices referenced by [`GuardKind::IN`].
    pub sets: &'a [TermId],
    /// `class_count * class_words` words: row `c` has the bits of `c` and of every superclass.
    pub class_closure: &'a [u64],
    pub warm: &'a [WarmEntry],
    /// Term `i` is `term_bytes[term_offsets[i]..term_offsets[i + 1]]`, in N-Triples syntax
    /// (`<iri>`, `"lexical"^^<datatype>`, `"text"@lang`, `"plain"`); `term_count + 1` offsets.
    /// The caller interns observations with it; the kernel never reads it.
    pub term_offsets: &'a [u32],
    pub term_bytes: &'a [u8],
}

/// Why a set of tables is not a program the kernel may run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    #[error("program ABI version {found}, this kernel runs {PROGRAM_ABI_VERSION}")]
    AbiVersion { found: u32 },
    #[error("{table}[{index}]: {reason}")]
    Invalid {
        table: &'static str,
        index: usize,
        reason: String,
    },
}

/// Checked tables: every range and id in them is within bounds, so the kernel indexes them
/// without failing. Cheap to copy; borrows whatever holds the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ProgramView<'a> {
    parts: ProgramParts<'a>,
}

fn invalid(table: &'static str, index: usize, reason: impl Into<String>) -> ProgramError {
    ProgramError::Invalid {
        table,
        index,
        reason: reason.into(),
    }
}

fn check_range(
    table: &'static str,
    index: usize,
    start: u32,
    len: u32,
    target_len: usize,
) -> Result<(), ProgramError> {
    let end = u64::from(start) + u64::from(len);
    if end > target_len as u64 {
        return Err(invalid(
            table,
            index,
            format!("range {start}+{len} beyond {target_len}"),
        ));
    }
    Ok(())
}

impl<'a> ProgramView<'a> {
    /// Checks every table against the others (ranges, ids, sortedness of sets, the ABI
    /// version), in time linear in their size.
    pub fn new(parts: ProgramParts<'a>) -> Result<ProgramView<'a>, ProgramError> {
        let h = &parts.header;
        if h.abi_version != PROGRAM_ABI_VERSION {
            return Err(ProgramError::AbiVersion {
                found: h.abi_version,
            });
        }
        if h.class_count > CLASSES_MAX || h.class_count > h.term_count {
            return Err(invalid(
                "header",
                0,
                "class_count beyond limits or term_count",
            ));
        }
        if h.class_words != h.class_count.div_ceil(64) {
            return Err(invalid(
                "header",
                0,
                "class_words is not ceil(class_count / 64)",
            ));
        }
        let rows = h.class_count as usize * h.class_words as usize;
        if parts.class_closure.len() != rows {
            return Err(invalid(
                "class_closure",
                0,
                format!("{} words, expected {rows}", parts.class_closure.len()),
            ));
        }
        if parts.dispatch.len() > h.term_count as usize {
            return Err(invalid("dispatch", 0, "longer than term_count"));
        }
        let term = |id: TermId| id < h.term_count;
        let class = |id: TermId| id == NO_TERM || id < h.class_count;
        for (i, d) in parts.dispatch.iter().enumerate() {
            check_range(
                "dispatch",
                i,
                d.guard_start,
                d.guard_len,
                parts.guards.len(),
            )?;
            check_range("dispatch", i, d.rule_start, d.rule_len, parts.rules.len())?;
            let actions: u64 = parts.rules[d.rule_start as usize..][..d.rule_len as usize]
                .iter()
                .map(|r| u64::from(r.action_len))
                .sum();
            if actions > u64::from(h.actions_per_observation_max) {
                return Err(invalid(
                    "dispatch",
                    i,
                    "more actions than actions_per_observation_max",
                ));
            }
        }
        for (i, g) in parts.guards.iter().enumerate() {
            check_guard(&parts, i, g, term, class)?;
        }
        for (i, r) in parts.rules.iter().enumerate() {
            check_range("rules", i, r.guard_start, r.guard_len, parts.guards.len())?;
            check_range(
                "rules",
                i,
                r.action_start,
                r.action_len,
                parts.actions.len(),
            )?;
            if !term(r.name) || !class(r.subject_class) || r.path > Rule::WARM || r.op > 1 {
                return Err(invalid("rules", i, "bad name, subject class, path or op"));
            }
        }
        for (i, a) in parts.actions.iter().enumerate() {
            let ok_slot = |from: u8, id: TermId| match from {
                slot::CONST => term(id),
                slot::SUBJECT | slot::OBJECT => true,
                _ => false,
            };
            let kind_ok = matches!(a.kind, ActionTemplate::EMIT | ActionTemplate::ALERT);
            if !kind_ok
                || !ok_slot(a.s_from, a.s)
                || !ok_slot(a.p_from, a.p)
                || !ok_slot(a.o_from, a.o)
            {
                return Err(invalid("actions", i, "bad kind, slot or constant"));
            }
            if a.kind == ActionTemplate::ALERT && a.p_from != slot::CONST {
                return Err(invalid("actions", i, "an alert's topic must be a constant"));
            }
        }
        for (i, w) in parts.warm.iter().enumerate() {
            if !term(w.pattern) || !(w.flags == NO_TERM || term(w.flags)) {
                return Err(invalid("warm", i, "pattern or flags is not a term"));
            }
        }
        check_terms(&parts)?;
        Ok(ProgramView { parts })
    }

    /// A view of tables a [`ProgramView::new`] already accepted (an owned copy made by
    /// [`Program::from_view`]), without checking them again.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn trusted(parts: ProgramParts<'a>) -> ProgramView<'a> {
        ProgramView { parts }
    }

    pub fn header(&self) -> &ProgramHeader {
        &self.parts.header
    }

    pub fn parts(&self) -> &ProgramParts<'a> {
        &self.parts
    }

    /// Term `id` in N-Triples syntax, if the program interned it.
    pub fn term(&self, id: TermId) -> Option<&'a str> {
        let i = id as usize;
        let bytes: &'a [u8] = self.parts.term_bytes;
        let start = *self.parts.term_offsets.get(i)? as usize;
        let end = *self.parts.term_offsets.get(i + 1)? as usize;
        // Checked once in `new`: offsets are monotonic, in bounds and on char boundaries.
        std::str::from_utf8(bytes.get(start..end)?).ok()
    }

    /// Every interned term with its id (to build the caller's interner at activation).
    pub fn terms(&self) -> impl Iterator<Item = (TermId, &'a str)> + '_ {
        (0..self.parts.header.term_count).filter_map(|id| self.term(id).map(|t| (id, t)))
    }
}

fn check_guard(
    parts: &ProgramParts<'_>,
    i: usize,
    g: &Guard,
    term: impl Fn(TermId) -> bool,
    class: impl Fn(TermId) -> bool,
) -> Result<(), ProgramError> {
    if !GuardKind::is_known(g.kind) {
        return Err(invalid("guards", i, format!("unknown kind {}", g.kind)));
    }
    if !term(g.name) || !class(g.subject_class) {
        return Err(invalid("guards", i, "bad name or subject class"));
    }
    let ok = match g.kind {
        GuardKind::DATATYPE | GuardKind::HAS_VALUE => term(g.a),
        GuardKind::CLASS => g.a != NO_TERM && class(g.a),
        GuardKind::IN | GuardKind::NOT_IN => {
            check_range("guards", i, g.a, g.b, parts.sets.len())?;
            let set = &parts.sets[g.a as usize..][..g.b as usize];
            set.windows(2).all(|w| w[0] < w[1])
        }
        GuardKind::PATTERN => (g.a as usize) < parts.warm.len(),
        GuardKind::NODE_KIND => g.a & !0b111 == 0,
        GuardKind::MIN_INCLUSIVE
        | GuardKind::MIN_EXCLUSIVE
        | GuardKind::MAX_INCLUSIVE
        | GuardKind::MAX_EXCLUSIVE => !g.value.is_nan(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "guards",
            i,
            "operand out of range (or unsorted set)",
        ))
    }
}

fn check_terms(parts: &ProgramParts<'_>) -> Result<(), ProgramError> {
    let n = parts.header.term_count as usize;
    if parts.term_offsets.len() != n + 1 {
        return Err(invalid(
            "term_offsets",
            0,
            "expected term_count + 1 offsets",
        ));
    }
    if parts.term_offsets.first() != Some(&0)
        || parts.term_offsets.last().map(|&e| e as usize) != Some(parts.term_bytes.len())
    {
        return Err(invalid(
            "term_offsets",
            0,
            "must start at 0 and end at term_bytes.len()",
        ));
    }
    if let Some(i) = parts.term_offsets.windows(2).position(|w| w[0] > w[1]) {
        return Err(invalid("term_offsets", i, "not monotonic"));
    }
    let text = std::str::from_utf8(parts.term_bytes)
        .map_err(|e| invalid("term_bytes", e.valid_up_to(), "not UTF-8"))?;
    if let Some(i) = parts
        .term_offsets
        .iter()
        .position(|&o| !text.is_char_boundary(o as usize))
    {
        return Err(invalid("term_offsets", i, "not on a character boundary"));
    }
    Ok(())
}

/// Owned tables: what the compiler builds and tests write by hand. [`Program::view`] checks
/// them like a loaded descriptor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    pub header: ProgramHeader,
    pub dispatch: Vec<Dispatch>,
    pub guards: Vec<Guard>,
    pub rules: Vec<Rule>,
    pub actions: Vec<ActionTemplate>,
    pub sets: Vec<TermId>,
    pub class_closure: Vec<u64>,
    pub warm: Vec<WarmEntry>,
    pub term_offsets: Vec<u32>,
    pub term_bytes: Vec<u8>,
}

impl Program {
    pub fn parts(&self) -> ProgramParts<'_> {
        ProgramParts {
            header: self.header,
            dispatch: &self.dispatch,
            guards: &self.guards,
            rules: &self.rules,
            actions: &self.actions,
            sets: &self.sets,
            class_closure: &self.class_closure,
            warm: &self.warm,
            term_offsets: &self.term_offsets,
            term_bytes: &self.term_bytes,
        }
    }

    pub fn view(&self) -> Result<ProgramView<'_>, ProgramError> {
        ProgramView::new(self.parts())
    }

    /// An owned copy of checked tables (a loaded descriptor outliving its file buffer).
    pub fn from_view(view: &ProgramView<'_>) -> Program {
        let p = view.parts();
        Program {
            header: p.header,
            dispatch: p.dispatch.to_vec(),
            guards: p.guards.to_vec(),
            rules: p.rules.to_vec(),
            actions: p.actions.to_vec(),
            sets: p.sets.to_vec(),
            class_closure: p.class_closure.to_vec(),
            warm: p.warm.to_vec(),
            term_offsets: p.term_offsets.to_vec(),
            term_bytes: p.term_bytes.to_vec(),
        }
    }
}
