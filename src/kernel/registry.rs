//! Which descriptors a node knows, which one is active, and how an activation is recorded.
//!
//! An activation is an ordinary log transaction in the reserved graph [`DESCRIPTORS_GRAPH`]:
//! the descriptor node (digest, name, compiler version, rule counts, compile report, and the
//! file itself as `xsd:base64Binary`, the first time that digest is activated), an activation
//! node named by its log position, and the `lg:activeDescriptor` link moved to it. The log
//! therefore says which descriptor was in force at every position, and replaying it into a
//! fresh directory needs nothing else. Rollback is activating an earlier digest again (its
//! bytes come back from the store).
//!
//! [`Registry`] holds the active descriptor in memory; the HTTP layer swaps it under the write
//! gate held alone, right after the activation is acknowledged, so every later batch is
//! admitted by it and no earlier one is.

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use oxigraph::store::Store;
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{
    GraphNameRef, Literal, NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Quad, Term, TermRef,
};
use serde::Serialize;

use super::intern::Interner;
use super::program::{Observation, Program, ProgramView};
use crate::event::Op;

/// The named graph holding descriptors and activations; clients cannot write it.
pub const DESCRIPTORS_GRAPH: &str = "urn:ledgraph:descriptors";
/// Subject of the `lg:activeDescriptor` link.
pub const DESCRIPTORS_NODE: &str = "urn:ledgraph:descriptors";
/// Prefix of descriptor nodes: `urn:ledgraph:descriptor:<sha256 hex>`.
pub const DESCRIPTOR_PREFIX: &str = "urn:ledgraph:descriptor:";
/// Prefix of activation nodes: `urn:ledgraph:activation:<seq>`.
pub const ACTIVATION_PREFIX: &str = "urn:ledgraph:activation:";
/// Largest descriptor accepted for activation, in bytes (it is recorded in the log).
pub const DESCRIPTOR_BYTES_MAX: usize = 16 << 20;

const LG: &str = "https://ledgraph.dev/ns#";

fn lg(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{LG}{local}"))
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("the descriptor is refused: {0}")]
    Invalid(String),
    #[error("no descriptor with digest {0} was ever activated here")]
    Unknown(String),
    #[error("store: {0}")]
    Store(String),
    /// A recorded descriptor cannot be read back (the store holds something ledgraph did not write).
    #[error("recorded descriptor {digest} is corrupt: {reason}")]
    Corruption { digest: String, reason: String },
}

/// What `GET /v1/descriptors` says about one descriptor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DescriptorInfo {
    /// SHA-256 of the whole file, hex.
    pub digest: String,
    pub name: String,
    pub compiler_version: String,
    pub rules: RuleCounts,
    /// The compile report text.
    pub report: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct RuleCounts {
    pub hot: u64,
    pub warm: u64,
}

/// One activation, as recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Activation {
    pub seq: u64,
    pub digest: String,
    /// RFC 3339.
    pub time: String,
}

/// The `GET /v1/descriptors` body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listing {
    pub active: Option<String>,
    pub descriptors: Vec<DescriptorInfo>,
    pub activations: Vec<Activation>,
}

/// A loaded descriptor: its metadata, its program (the tables, copied out of the file once and
/// checked), the interner of its terms, its compiled regexes and the messages of its guards.
#[derive(Debug)]
pub struct Active {
    pub info: DescriptorInfo,
    program: Program,
    pub interner: Interner,
    /// Message of guard `i`, when the shapes gave one.
    pub guard_messages: Vec<Option<String>>,
    /// Message of action `i`, when it is an alert with one.
    pub alert_messages: Vec<Option<String>>,
    /// `warm[i]` compiled; `None` when the pattern is not a regex this engine accepts (the
    /// check then fails closed: the value is refused).
    warm: Vec<Option<regex::Regex>>,
    /// The file, as activated (recorded in the log the first time).
    pub bytes: Vec<u8>,
}

/// Most bytes a compiled `sh:pattern` regex may take (patterns come from descriptors).
pub const REGEX_BYTES_MAX: usize = 1 << 20;

impl Active {
    /// Checks `program` and builds what running it needs.
    pub fn new(
        info: DescriptorInfo,
        program: Program,
        guard_messages: Vec<Option<String>>,
        bytes: Vec<u8>,
    ) -> Result<Active, RegistryError> {
        let view = program
            .view()
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let interner = Interner::new(&view).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let text = |id: u32| match interner.term(id) {
            Some(Term::Literal(l)) => Some(l.value().to_owned()),
            _ => None,
        };
        let warm = view
            .parts()
            .warm
            .iter()
            .map(|w| {
                let pattern = text(w.pattern)?;
                let flags = text(w.flags).unwrap_or_default();
                regex::RegexBuilder::new(&pattern)
                    .case_insensitive(flags.contains('i'))
                    .dot_matches_new_line(flags.contains('s'))
                    .multi_line(flags.contains('m'))
                    .ignore_whitespace(flags.contains('x'))
                    .size_limit(REGEX_BYTES_MAX)
                    .build()
                    .ok()
            })
            .collect();
        Ok(Active {
            info,
            program,
            interner,
            guard_messages,
            alert_messages: Vec::new(),
            warm,
            bytes,
        })
    }

    /// The checked tables.
    pub fn view(&self) -> ProgramView<'_> {
        ProgramView::trusted(self.program.parts())
    }

    /// Whether the object of `o` matches `warm[index]` (`sh:pattern`: the string of an IRI or
    /// a literal; a blank node never matches).
    pub fn warm_matches(&self, index: u32, o: &Observation, interner: &Interner) -> bool {
        let Some(Some(re)) = self.warm.get(index as usize) else {
            return false;
        };
        match interner.term(o.o) {
            Some(Term::NamedNode(n)) => re.is_match(n.as_str()),
            Some(Term::Literal(l)) => re.is_match(l.value()),
            _ => false,
        }
    }
}

/// The active descriptor, swapped atomically.
#[derive(Debug, Default)]
pub struct Registry {
    active: RwLock<Option<Arc<Active>>>,
}

impl Registry {
    pub fn current(&self) -> Option<Arc<Active>> {
        match self.active.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, active: Option<Arc<Active>>) {
        match self.active.write() {
            Ok(mut g) => *g = active,
            Err(poisoned) => *poisoned.into_inner() = active,
        }
    }
}

/// A message as people read it: the descriptor stores the literal's N-Triples text.
fn message_text(term: &str) -> String {
    match <Term as std::str::FromStr>::from_str(term) {
        Ok(Term::Literal(l)) => l.value().to_owned(),
        _ => term.to_owned(),
    }
}

fn graph() -> NamedNode {
    NamedNode::new_unchecked(DESCRIPTORS_GRAPH)
}

fn descriptor_node(digest: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{DESCRIPTOR_PREFIX}{digest}"))
}

fn store_error(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(e.to_string())
}

/// The objects of `(s, p, ?, DESCRIPTORS_GRAPH)`.
fn objects(store: &Store, s: &NamedNode, p: &NamedNode) -> Result<Vec<Term>, RegistryError> {
    let g = graph();
    store
        .quads_for_pattern(
            Some(NamedOrBlankNodeRef::NamedNode(s.as_ref())),
            Some(p.as_ref()),
            None,
            Some(GraphNameRef::NamedNode(g.as_ref())),
        )
        .map(|q| q.map(|q| q.object).map_err(store_error))
        .collect()
}

fn literal_text(term: &Term) -> Option<&str> {
    match term {
        Term::Literal(l) => Some(l.value()),
        _ => None,
    }
}

/// The digest the log last activated, if any.
pub fn recorded_active(store: &Store) -> Result<Option<String>, RegistryError> {
    let node = NamedNode::new_unchecked(DESCRIPTORS_NODE);
    Ok(objects(store, &node, &lg("activeDescriptor"))?
        .into_iter()
        .find_map(|t| match t {
            Term::NamedNode(n) => n
                .as_str()
                .strip_prefix(DESCRIPTOR_PREFIX)
                .map(str::to_owned),
            _ => None,
        }))
}

/// The file of a recorded descriptor (for rollback and restart).
pub fn recorded_bytes(store: &Store, digest: &str) -> Result<Vec<u8>, RegistryError> {
    let node = descriptor_node(digest);
    let Some(text) = objects(store, &node, &lg("descriptorBytes"))?
        .iter()
        .find_map(|t| literal_text(t).map(str::to_owned))
    else {
        return Err(RegistryError::Unknown(digest.to_owned()));
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| RegistryError::Corruption {
            digest: digest.to_owned(),
            reason: e.to_string(),
        })
}

/// The changes that activate `active` at log position `seq` (the first event of the
/// transaction), given what the store already records. `time_ms`: wall-clock of the request,
/// recorded as data (replay reads it back, never the clock).
pub fn activation_changes(
    store: &Store,
    active: &Active,
    seq: u64,
    time_ms: u64,
) -> Result<Vec<(Op, Quad)>, RegistryError> {
    let g = graph();
    let info = &active.info;
    let node = descriptor_node(&info.digest);
    let quad =
        |s: &NamedNode, p: NamedNode, o: Term| (Op::Add, Quad::new(s.clone(), p, o, g.clone()));
    let text = |t: &str| Term::Literal(Literal::new_simple_literal(t));
    let int = |n: u64| Term::Literal(Literal::new_typed_literal(n.to_string(), xsd::INTEGER));
    let mut changes = Vec::new();
    if objects(store, &node, &lg("descriptorDigest"))?.is_empty() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&active.bytes);
        changes.extend([
            quad(&node, rdf::TYPE.into_owned(), lg("Descriptor").into()),
            quad(&node, lg("descriptorDigest"), text(&info.digest)),
            quad(&node, lg("descriptorName"), text(&info.name)),
            quad(&node, lg("compilerVersion"), text(&info.compiler_version)),
            quad(&node, lg("hotRules"), int(info.rules.hot)),
            quad(&node, lg("warmRules"), int(info.rules.warm)),
            quad(&node, lg("compileReport"), text(&info.report)),
            quad(
                &node,
                lg("descriptorBytes"),
                Literal::new_typed_literal(b64, xsd::BASE_64_BINARY).into(),
            ),
        ]);
    }
    let activation = NamedNode::new_unchecked(format!("{ACTIVATION_PREFIX}{seq}"));
    let time = crate::event::hlc::rfc3339_from_ms(time_ms);
    changes.extend([
        quad(&activation, rdf::TYPE.into_owned(), lg("Activation").into()),
        quad(&activation, lg("activates"), node.clone().into()),
        quad(&activation, lg("activationSeq"), int(seq)),
        quad(
            &activation,
            lg("activatedAt"),
            Literal::new_typed_literal(time, xsd::DATE_TIME).into(),
        ),
    ]);
    let link = NamedNode::new_unchecked(DESCRIPTORS_NODE);
    for old in objects(store, &link, &lg("activeDescriptor"))? {
        changes.push((
            Op::Remove,
            Quad::new(link.clone(), lg("activeDescriptor"), old, g.clone()),
        ));
    }
    changes.push(quad(&link, lg("activeDescriptor"), node.into()));
    Ok(changes)
}

/// Every recorded descriptor and activation (activations by log position).
pub fn listing(store: &Store) -> Result<Listing, RegistryError> {
    let g = graph();
    let subjects_of = |class: &str| -> Result<Vec<NamedNode>, RegistryError> {
        let class = lg(class);
        store
            .quads_for_pattern(
                None,
                Some(rdf::TYPE),
                Some(TermRef::NamedNode(class.as_ref())),
                Some(GraphNameRef::NamedNode(g.as_ref())),
            )
            .filter_map(|q| match q {
                Ok(q) => match q.subject {
                    oxrdf::NamedOrBlankNode::NamedNode(n) => Some(Ok(n)),
                    _ => None,
                },
                Err(e) => Some(Err(store_error(e))),
            })
            .collect()
    };
    let one = |s: &NamedNode, p: &str| -> Result<Option<Term>, RegistryError> {
        Ok(objects(store, s, &lg(p))?.into_iter().next())
    };
    let text = |s: &NamedNode, p: &str| -> Result<String, RegistryError> {
        Ok(one(s, p)?
            .as_ref()
            .and_then(literal_text)
            .unwrap_or_default()
            .to_owned())
    };
    let number = |s: &NamedNode, p: &str| -> Result<u64, RegistryError> {
        Ok(text(s, p)?.parse().unwrap_or(0))
    };
    let mut descriptors = Vec::new();
    for node in subjects_of("Descriptor")? {
        descriptors.push(DescriptorInfo {
            digest: text(&node, "descriptorDigest")?,
            name: text(&node, "descriptorName")?,
            compiler_version: text(&node, "compilerVersion")?,
            rules: RuleCounts {
                hot: number(&node, "hotRules")?,
                warm: number(&node, "warmRules")?,
            },
            report: text(&node, "compileReport")?,
        });
    }
    descriptors.sort_by(|a, b| a.name.cmp(&b.name).then(a.digest.cmp(&b.digest)));
    let mut activations = Vec::new();
    for node in subjects_of("Activation")? {
        let digest = match one(&node, "activates")? {
            Some(Term::NamedNode(n)) => n
                .as_str()
                .strip_prefix(DESCRIPTOR_PREFIX)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        activations.push(Activation {
            seq: number(&node, "activationSeq")?,
            digest,
            time: text(&node, "activatedAt")?,
        });
    }
    activations.sort_by_key(|a| a.seq);
    Ok(Listing {
        active: recorded_active(store)?,
        descriptors,
        activations,
    })
}

/// Whether a graph is this module's (refused to clients).
pub fn is_descriptors_graph(graph: GraphNameRef<'_>) -> bool {
    matches!(graph, GraphNameRef::NamedNode(n) if n == NamedNodeRef::new_unchecked(DESCRIPTORS_GRAPH))
}

/// Loads a descriptor file for activation: the loader checks its signature and every offset
/// before the kernel sees a table; the tables are then copied out of the file once.
pub fn load(bytes: Vec<u8>, name: Option<&str>) -> Result<Active, RegistryError> {
    use crate::descriptor::load::{AlignedBytes, Descriptor};
    if bytes.len() > DESCRIPTOR_BYTES_MAX {
        return Err(RegistryError::Invalid(format!(
            "{} bytes; the limit is {DESCRIPTOR_BYTES_MAX}",
            bytes.len()
        )));
    }
    let aligned = AlignedBytes::copy_from(&bytes);
    let d = Descriptor::load(aligned.as_bytes(), None)
        .map_err(|e| RegistryError::Invalid(e.to_string()))?;
    let view = d.program();
    let digest = hex::encode(d.digest());
    let rules = view.parts().rules;
    let warm = rules
        .iter()
        .filter(|r| r.path == super::program::Rule::WARM)
        .count() as u64;
    let info = DescriptorInfo {
        name: name
            .map(str::to_owned)
            .unwrap_or_else(|| format!("descriptor-{}", &digest[..12])),
        digest,
        compiler_version: d.compiler_version().to_owned(),
        rules: RuleCounts {
            hot: rules.len() as u64 - warm,
            warm,
        },
        report: d.report().to_owned(),
    };
    let messages = (0..view.parts().guards.len() as u32)
        .map(|i| d.guard_message(i).map(message_text))
        .collect();
    let alert_messages = (0..view.parts().actions.len() as u32)
        .map(|i| d.alert_message(i).map(message_text))
        .collect();
    let mut active = Active::new(info, Program::from_view(&view), messages, bytes)?;
    active.alert_messages = alert_messages;
    Ok(active)
}
