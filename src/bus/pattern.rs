//! What a subscriber asks for: a triple pattern over committed events, and where to start.
//!
//! A pattern fixes any of subject, predicate, object and op; an absent part matches anything.
//! It does not look at the graph name. A [`Pattern::Topic`] asks for the kernel's alerts of one
//! topic instead: the `lg:topic` triples of alert records in the alerts graph
//! ([`crate::kernel::alerts`]), one per alert.

use oxrdf::{NamedNode, NamedOrBlankNode, Quad, Term};

use crate::event::Op;

/// A subscription's filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pattern {
    /// Committed events whose op and triple match.
    Triple(TriplePattern),
    /// The alerts of one topic: the `lg:topic` triple of each alert record
    /// ([`crate::kernel::alerts`]) whose topic is this string.
    Topic(String),
}

/// A triple pattern; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriplePattern {
    pub subject: Option<NamedOrBlankNode>,
    pub predicate: Option<NamedNode>,
    pub object: Option<Term>,
    pub op: Option<Op>,
}

impl TriplePattern {
    /// The pattern that matches every event.
    pub fn any() -> Self {
        TriplePattern::default()
    }

    pub fn matches(&self, op: Op, quad: &Quad) -> bool {
        self.op.is_none_or(|o| o == op)
            && self.predicate.as_ref().is_none_or(|p| *p == quad.predicate)
            && self.subject.as_ref().is_none_or(|s| *s == quad.subject)
            && self.object.as_ref().is_none_or(|o| *o == quad.object)
    }
}

impl From<TriplePattern> for Pattern {
    fn from(p: TriplePattern) -> Self {
        Pattern::Triple(p)
    }
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this log position (the first event delivered has `seq >= n`).
    Seq(u64),
    /// At the log's size when subscribing: only events committed afterwards.
    Now,
}
