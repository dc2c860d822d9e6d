//! The `lg:` terms the store writes (defined in `ontology/ledgraph.ttl`), as Oxigraph refs.
//!
//! Only IRIs live here; their meaning is documented in the ontology file, the shapes of the
//! graphs in [`super::event_graph`] and [`super::cursor`].

use oxrdf::NamedNodeRef;

const fn lg(iri: &'static str) -> NamedNodeRef<'static> {
    NamedNodeRef::new_unchecked(iri)
}

/// `https://ledgraph.dev/ns#`
pub const NS: &str = "https://ledgraph.dev/ns#";

pub const EVENT_GRAPH: NamedNodeRef<'static> = lg(super::EVENT_GRAPH);
pub const META_GRAPH: NamedNodeRef<'static> = lg(super::META_GRAPH);

pub const APPLIED_SIZE: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#appliedSize");
pub const STATE_PROJECTION: NamedNodeRef<'static> = lg("urn:ledgraph:projection:state");
pub const EVENTS_PROJECTION: NamedNodeRef<'static> = lg("urn:ledgraph:projection:events");

pub const SEQ: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#seq");
pub const OP: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#op");
pub const ADD: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#add");
pub const REMOVE: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#remove");
pub const SUBJECT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#subject");
pub const PREDICATE: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#predicate");
pub const OBJECT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#object");
pub const GRAPH: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#graph");
pub const TIME: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#time");
pub const LEAF_HASH: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#leafHash");
pub const TRANSACTION: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#transaction");

pub const ACTOR: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#actor");
pub const FIRST_SEQ: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#firstSeq");
pub const EVENT_COUNT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#eventCount");
pub const RECEIVED_AT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#receivedAt");
pub const COMMITTED_AT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#committedAt");
pub const PROJECTED_AT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#projectedAt");

pub const MIGRATION: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#Migration");
pub const MIGRATION_NAME: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#migrationName");
pub const SHA256: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#sha256");

/// What a selective replay's store holds (see [`super::replay::replay_selected`]).
pub const SELECTION: NamedNodeRef<'static> = lg("urn:ledgraph:selection");
pub const SELECTION_TEXT: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#selection");
pub const SELECTED_EVENTS: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#selectedEvents");
pub const SELECTED_FROM_LOG_SIZE: NamedNodeRef<'static> =
    lg("https://ledgraph.dev/ns#selectedFromLogSize");

/// Rejected-batch counters (see [`super::rejections`]).
pub const REJECTION_MINUTE: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#rejectionMinute");
pub const SHAPE_SET: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#shapeSet");
pub const SOURCE_SHAPE: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#sourceShape");
pub const REJECTED_BATCHES: NamedNodeRef<'static> = lg("https://ledgraph.dev/ns#rejectedBatches");
/// Prefix of rejected-batch counter nodes: `urn:ledgraph:rejections:<minute>:<key>`.
pub const REJECTIONS_PREFIX: &str = "urn:ledgraph:rejections:";

/// Predicates whose values depend on the run (wall-clock timing), not on the log: they are
/// left out of the dataset hash.
pub const RUN_LOCAL: [NamedNodeRef<'static>; 3] = [RECEIVED_AT, COMMITTED_AT, PROJECTED_AT];

/// Prefix of event node IRIs: `urn:ledgraph:event:<seq>`.
pub const EVENT_PREFIX: &str = "urn:ledgraph:event:";
/// Prefix of transaction node IRIs: `urn:ledgraph:tx:<first seq>`.
pub const TX_PREFIX: &str = "urn:ledgraph:tx:";

pub const XSD_INTEGER: NamedNodeRef<'static> = lg("http://www.w3.org/2001/XMLSchema#integer");
pub const XSD_DATE_TIME: NamedNodeRef<'static> = lg("http://www.w3.org/2001/XMLSchema#dateTime");
