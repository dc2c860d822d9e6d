//! Alerts as log records: how the kernel writes the alerts of a step into its derived
//! transaction, so that the bus delivers them from the log like any event (in order, with
//! resume, replayed byte for byte by `ledgraph receipts verify`).
//!
//! One alert is one node `urn:ledgraph:alert:<input seq>:<k>` (the `k`-th alert raised by the
//! event at `<input seq>`) in the maintained graph [`ALERTS_GRAPH`], written as these triples,
//! contiguous and in this order:
//!
//! ```text
//! <node> rdf:type     lg:Alert
//! <node> lg:message   "…"              (when the descriptor gives one)
//! <node> lg:subject   <matched subject>
//! <node> lg:object    <matched object>
//! <node> lg:rule      <rule IRI>
//! <node> lg:inputSeq  N                (xsd:integer: the event that raised it)
//! <node> lg:topic     "plant/alarms"   (last: the event a topic subscription receives)
//! ```
//!
//! The `lg:topic` triple comes last so that a subscriber that receives it finds the whole
//! record just before it in the log ([`read`]); its position is the alert's position.
//! This module does not decide which alerts fire (the kernel's [`super::step`] does).

use oxrdf::vocab::{rdf, xsd};
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

/// The named graph of alert records (only the kernel writes it).
pub const ALERTS_GRAPH: &str = "urn:ledgraph:alerts";
/// Prefix of alert nodes: `urn:ledgraph:alert:<input seq>:<k>`.
pub const ALERT_PREFIX: &str = "urn:ledgraph:alert:";
/// The predicate a topic subscription is indexed on.
pub const TOPIC: &str = "https://ledgraph.dev/ns#topic";
/// Triples of one alert record: what [`read`] looks back over, at most.
pub const ALERT_TRIPLES_MAX: u64 = 7;

const LG: &str = "https://ledgraph.dev/ns#";

fn lg(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{LG}{local}"))
}

/// One alert, as recorded and as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Log position of the record's `lg:topic` triple (the SSE `id:` of the delivery).
    pub seq: u64,
    pub topic: String,
    pub message: Option<String>,
    pub subject: Option<Term>,
    pub object: Option<Term>,
    pub rule: Option<NamedNode>,
    /// Log position of the event that raised it.
    pub input_seq: Option<u64>,
}

/// The triples of alert `k` raised by the event at `input_seq` (see the module docs).
pub fn quads(
    input_seq: u64,
    k: u64,
    topic: &str,
    message: Option<&str>,
    subject: &Term,
    object: &Term,
    rule: Option<&NamedNode>,
) -> Vec<Quad> {
    let g = GraphName::NamedNode(NamedNode::new_unchecked(ALERTS_GRAPH));
    let node = node(input_seq, k);
    let q = |p: NamedNode, o: Term| Quad::new(node.clone(), p, o, g.clone());
    let mut out = vec![q(rdf::TYPE.into_owned(), lg("Alert").into())];
    if let Some(m) = message {
        out.push(q(lg("message"), Literal::new_simple_literal(m).into()));
    }
    out.push(q(lg("subject"), subject.clone()));
    out.push(q(lg("object"), object.clone()));
    if let Some(r) = rule {
        out.push(q(lg("rule"), r.clone().into()));
    }
    out.push(q(
        lg("inputSeq"),
        Literal::new_typed_literal(input_seq.to_string(), xsd::INTEGER).into(),
    ));
    out.push(q(
        NamedNode::new_unchecked(TOPIC),
        Literal::new_simple_literal(topic).into(),
    ));
    out
}

/// Whether `quad` is the `lg:topic` triple of an alert record (what topic subscribers get).
pub fn is_topic_triple(quad: &Quad) -> bool {
    quad.predicate.as_str() == TOPIC
        && matches!(&quad.graph_name, GraphName::NamedNode(g) if g.as_str() == ALERTS_GRAPH)
}

/// The alert whose `lg:topic` triple is `topic_quad` at `seq`, from the record's triples before
/// it: `event(i)` reads log position `i`. Fields the record lacks stay `None`.
pub fn read<E>(
    seq: u64,
    topic_quad: &Quad,
    mut event: impl FnMut(u64) -> Result<Quad, E>,
) -> Result<Alert, E> {
    let topic = match &topic_quad.object {
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    };
    let mut alert = Alert {
        seq,
        topic,
        message: None,
        subject: None,
        object: None,
        rule: None,
        input_seq: None,
    };
    let first = seq.saturating_sub(ALERT_TRIPLES_MAX - 1);
    for at in (first..seq).rev() {
        let quad = event(at)?;
        if quad.subject != topic_quad.subject || quad.graph_name != topic_quad.graph_name {
            break;
        }
        let o = quad.object;
        match quad.predicate.as_str().strip_prefix(LG) {
            Some("message") => {
                if let Term::Literal(l) = &o {
                    alert.message = Some(l.value().to_owned());
                }
            }
            Some("subject") => alert.subject = Some(o),
            Some("object") => alert.object = Some(o),
            Some("rule") => {
                if let Term::NamedNode(n) = o {
                    alert.rule = Some(n);
                }
            }
            Some("inputSeq") => {
                if let Term::Literal(l) = &o {
                    alert.input_seq = l.value().parse().ok();
                }
            }
            _ => {}
        }
    }
    Ok(alert)
}

/// The alert records of one step: for every [`super::ActionTemplate::ALERT`] in `emitted`
/// (in order), [`quads`] with the topic, message and rule the descriptor gives. `inputs` are
/// the batch's events in order (observation `i` of the batch is `inputs[i]`); alerts whose
/// terms are unknown are skipped (they cannot be, for an interner the step used).
#[cfg(feature = "server")]
pub fn of_step(
    active: &super::registry::Active,
    interner: &super::intern::Interner,
    emitted: &[super::Emitted],
    inputs: &[u64],
) -> Vec<Quad> {
    let view = active.view();
    let parts = view.parts();
    let mut out = Vec::new();
    // Alerts of one input so far (`k`), and of one rule firing (which alert action it is).
    let (mut last_input, mut k) = (None, 0u64);
    let (mut last_firing, mut nth) = (None, 0usize);
    for e in emitted
        .iter()
        .filter(|e| e.kind == u32::from(super::ActionTemplate::ALERT))
    {
        let Some(&input_seq) = inputs.get(e.obs as usize) else {
            continue;
        };
        if last_input != Some(input_seq) {
            (last_input, k) = (Some(input_seq), 0);
        }
        if last_firing != Some((e.obs, e.rule)) {
            (last_firing, nth) = (Some((e.obs, e.rule)), 0);
        }
        let rule = parts.rules.get(e.rule as usize);
        // The n-th alert of a firing is the rule's n-th alert action (alerts are never skipped).
        let message = rule
            .and_then(|r| {
                (r.action_start..r.action_start + r.action_len)
                    .filter(|&a| {
                        parts.actions.get(a as usize).map(|t| t.kind)
                            == Some(super::ActionTemplate::ALERT)
                    })
                    .nth(nth)
            })
            .and_then(|a| active.alert_messages.get(a as usize).cloned().flatten());
        nth += 1;
        let rule = match rule.and_then(|r| interner.term(r.name)) {
            Some(Term::NamedNode(n)) => Some(n),
            _ => None,
        };
        let (Some(Term::Literal(topic)), Some(s), Some(o)) =
            (interner.term(e.p), interner.term(e.s), interner.term(e.o))
        else {
            continue;
        };
        out.extend(quads(
            input_seq,
            k,
            topic.value(),
            message.as_deref(),
            s,
            o,
            rule,
        ));
        k += 1;
    }
    out
}

/// The subject of an alert record as a triple subject (a literal cannot be one).
pub fn node(input_seq: u64, k: u64) -> NamedOrBlankNode {
    NamedNode::new_unchecked(format!("{ALERT_PREFIX}{input_seq}:{k}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_from_the_triples_before_its_topic() {
        let s: Term = NamedNode::new_unchecked("https://e.org/s1").into();
        let o: Term = Literal::new_typed_literal("95.5", xsd::DECIMAL).into();
        let rule = NamedNode::new_unchecked("https://e.org/rules#Hot");
        let mut log = vec![Quad::new(
            NamedNode::new_unchecked("https://e.org/x"),
            NamedNode::new_unchecked(TOPIC),
            Literal::new_simple_literal("spoof"),
            GraphName::DefaultGraph,
        )];
        log.extend(quads(
            3,
            0,
            "plant/alarms",
            Some("hot"),
            &s,
            &o,
            Some(&rule),
        ));
        let last = log.len() as u64 - 1;
        assert!(is_topic_triple(&log[last as usize]));
        assert!(!is_topic_triple(&log[0]));
        let alert = read(last, &log[last as usize], |i| {
            Ok::<_, ()>(log[i as usize].clone())
        })
        .unwrap();
        assert_eq!(
            alert,
            Alert {
                seq: last,
                topic: "plant/alarms".into(),
                message: Some("hot".into()),
                subject: Some(s),
                object: Some(o),
                rule: Some(rule),
                input_seq: Some(3),
            }
        );
        assert_eq!(log[1].subject, node(3, 0));
    }
}
