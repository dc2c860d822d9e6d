//! The event graph: the log as RDF, for audit and latency queries.
//!
//! Every quad is in the named graph [`EVENT_GRAPH`](super::EVENT_GRAPH) (`urn:ledgraph:log`).
//! Per event `seq` (8 quads, 9 in a named graph):
//!
//! ```text
//! <urn:ledgraph:event:SEQ> lg:seq         SEQ                       # xsd:integer
//!                          lg:op          lg:add | lg:remove
//!                          lg:subject     <s>
//!                          lg:predicate   <p>
//!                          lg:object      <o> | "literal"
//!                          lg:graph       <g>                       # only for named-graph events
//!                          lg:time        HLC                       # xsd:integer, ms << 16 | counter
//!                          lg:leafHash    "hex"                     # RFC 6962 leaf hash
//!                          lg:transaction <urn:ledgraph:tx:FIRST> .
//! ```
//!
//! Per log transaction (named by its first event's seq):
//!
//! ```text
//! <urn:ledgraph:tx:FIRST>  lg:actor       "hex"                     # Ed25519 public key
//!                          lg:firstSeq    FIRST                     # xsd:integer
//!                          lg:eventCount  N                         # xsd:integer
//!                          lg:receivedAt  "…"^^xsd:dateTime         # run-local, when known
//!                          lg:committedAt "…"^^xsd:dateTime         # run-local, when known
//!                          lg:projectedAt "…"^^xsd:dateTime .       # run-local
//! ```
//!
//! Nodes carry no `rdf:type` (an event node is anything with `lg:seq`) to keep the graph
//! compact: its size per event decides how far this projection lags behind the state.
//! `lg:actor`, `lg:firstSeq` are written with the transaction's first event and
//! `lg:eventCount` and the timing with its last, so a transaction may span batches. The
//! three timing terms come from the wall clock and the [`TimingTable`]; they are left out of
//! the dataset hash, and absent after a replay except `lg:projectedAt`.

use std::sync::Arc;

use oxrdf::{GraphName, Literal, NamedNode, NamedNodeRef, Quad, Term};

use crate::event::{Event, Op, hlc};
use crate::log::LogReader;

use super::StoreError;
use super::timing::TimingTable;
use super::vocab::{self, XSD_DATE_TIME, XSD_INTEGER};

/// Per-transaction latency (committed − received, projected − committed) from the event graph.
pub const INGEST_LATENCY_QUERY: &str = include_str!("../../queries/metrics/transaction-latency.rq");

/// The event node of `seq`.
pub fn event_iri(seq: u64) -> NamedNode {
    NamedNode::new_unchecked(format!("{}{seq}", vocab::EVENT_PREFIX))
}

/// The transaction node of the transaction starting at `first_seq`.
pub fn transaction_iri(first_seq: u64) -> NamedNode {
    NamedNode::new_unchecked(format!("{}{first_seq}", vocab::TX_PREFIX))
}

fn integer(n: u64) -> Term {
    Literal::new_typed_literal(n.to_string(), XSD_INTEGER).into()
}

/// `ms` since the Unix epoch as an `xsd:dateTime` in UTC, millisecond precision.
pub fn date_time(ms: u64) -> Term {
    Literal::new_typed_literal(hlc::rfc3339_from_ms(ms), XSD_DATE_TIME).into()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn quad(s: &NamedNode, p: NamedNodeRef<'_>, o: impl Into<Term>) -> Quad {
    Quad::new(
        s.clone(),
        p,
        o,
        GraphName::NamedNode(vocab::EVENT_GRAPH.into_owned()),
    )
}

/// The quads of one event (see the module docs).
pub fn event_quads(
    seq: u64,
    event: &Event,
    leaf_hash: &[u8; 32],
    tx_first: u64,
    out: &mut impl FnMut(Quad),
) {
    let node = event_iri(seq);
    let op = match event.op {
        Op::Add => vocab::ADD,
        Op::Remove => vocab::REMOVE,
    };
    let q = &event.quad;
    out(quad(&node, vocab::SEQ, integer(seq)));
    out(quad(&node, vocab::OP, op.into_owned()));
    out(quad(&node, vocab::SUBJECT, q.subject.clone()));
    out(quad(&node, vocab::PREDICATE, q.predicate.clone()));
    out(quad(&node, vocab::OBJECT, q.object.clone()));
    match &q.graph_name {
        GraphName::NamedNode(g) => out(quad(&node, vocab::GRAPH, g.clone())),
        GraphName::BlankNode(g) => out(quad(&node, vocab::GRAPH, g.clone())),
        GraphName::DefaultGraph => {}
    }
    out(quad(&node, vocab::TIME, integer(event.time)));
    out(quad(
        &node,
        vocab::LEAF_HASH,
        Literal::new_simple_literal(hex::encode(leaf_hash)),
    ));
    out(quad(&node, vocab::TRANSACTION, transaction_iri(tx_first)));
}

/// Writes the event graph for consecutive events, remembering which transaction is open.
#[derive(Debug)]
pub struct EventGraphWriter {
    tx_first: u64,
    timing: Arc<TimingTable>,
}

impl EventGraphWriter {
    /// A writer continuing after `applied` events: finds where the open transaction began.
    pub fn resume(
        reader: &LogReader,
        applied: u64,
        timing: Arc<TimingTable>,
    ) -> Result<Self, StoreError> {
        let mut tx_first = applied;
        while tx_first > 0 && !reader.ends_transaction(tx_first - 1)? {
            tx_first -= 1;
        }
        Ok(EventGraphWriter { tx_first, timing })
    }

    /// Emits the event-graph quads of events `from..to` (`from` continues the previous call).
    pub fn project(
        &mut self,
        reader: &LogReader,
        from: u64,
        to: u64,
        out: &mut impl FnMut(Quad),
    ) -> Result<(), StoreError> {
        for seq in from..to {
            let event = reader.event(seq)?;
            let leaf = reader.leaf_hash(seq)?;
            let ends = reader.ends_transaction(seq)?;
            self.project_event(seq, &event, &leaf, ends, out);
        }
        Ok(())
    }

    /// Emits the quads of event `seq` (the event after the previous one given to this writer);
    /// `ends_transaction` says whether it is the last of its log transaction.
    pub fn project_event(
        &mut self,
        seq: u64,
        event: &Event,
        leaf_hash: &[u8; 32],
        ends_transaction: bool,
        out: &mut impl FnMut(Quad),
    ) {
        if seq == self.tx_first {
            let tx = transaction_iri(seq);
            out(quad(
                &tx,
                vocab::ACTOR,
                Literal::new_simple_literal(hex::encode(event.actor.0)),
            ));
            out(quad(&tx, vocab::FIRST_SEQ, integer(seq)));
        }
        event_quads(seq, event, leaf_hash, self.tx_first, out);
        if ends_transaction {
            self.end_transaction(seq + 1, out);
        }
    }

    fn end_transaction(&mut self, end: u64, out: &mut impl FnMut(Quad)) {
        let tx = transaction_iri(self.tx_first);
        out(quad(&tx, vocab::EVENT_COUNT, integer(end - self.tx_first)));
        let projected_at_ms = now_ms();
        if let Some(t) = self.timing.take(self.tx_first) {
            out(quad(&tx, vocab::RECEIVED_AT, date_time(t.received_at_ms)));
            out(quad(&tx, vocab::COMMITTED_AT, date_time(t.committed_at_ms)));
            record_latency(&t, projected_at_ms);
        }
        out(quad(&tx, vocab::PROJECTED_AT, date_time(projected_at_ms)));
        self.tx_first = end;
    }
}

/// Observes a timed transaction in the Prometheus histograms `ledgraph_ingest_commit_seconds`
/// (committed − received) and `ledgraph_ingest_projection_seconds` (projected − committed).
/// They are recorded here, where the same millisecond values become `lg:receivedAt`,
/// `lg:committedAt` and `lg:projectedAt`, so the histograms and
/// `queries/metrics/ingest-latency.rq` count exactly the same transactions: a transaction
/// whose timing missed the projection (see [`TimingTable::take`]) is in neither.
fn record_latency(t: &super::timing::Timing, projected_at_ms: u64) {
    let commit_ms = t.committed_at_ms.saturating_sub(t.received_at_ms);
    let projection_ms = projected_at_ms.saturating_sub(t.committed_at_ms);
    metrics::histogram!("ledgraph_ingest_commit_seconds").record(commit_ms as f64 / 1000.0);
    metrics::histogram!("ledgraph_ingest_projection_seconds").record(projection_ms as f64 / 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_formats_utc_with_milliseconds() {
        let Term::Literal(l) = date_time(0) else {
            panic!("not a literal")
        };
        assert_eq!(l.value(), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56.789Z, a leap day.
        let Term::Literal(l) = date_time(1_709_210_096_789) else {
            panic!("not a literal")
        };
        assert_eq!(l.value(), "2024-02-29T12:34:56.789Z");
    }
}
