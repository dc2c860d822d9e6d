//! The canonical event encoding: the documented example, round trips, and hostile bytes.

use ledgraph::event::encoding::{decode_event_trusted, encode_event};
use ledgraph::event::{ActorKey, Event, Op, decode_event};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use proptest::prelude::*;

#[test]
fn canonical_example_matches_module_doc() {
    let event = Event {
        op: Op::Add,
        quad: Quad::new(
            NamedNode::new_unchecked("http://e/s"),
            NamedNode::new_unchecked("http://e/p"),
            Literal::new_simple_literal("v"),
            GraphName::DefaultGraph,
        ),
        time: 0x0000_0190_0000_0001,
        actor: ActorKey([0x11; 32]),
    };
    let bytes = event.to_canonical().unwrap();
    let expected = concat!(
        "0101",
        "0000019000000001",
        "1111111111111111111111111111111111111111111111111111111111111111",
        "01",
        "0000000a",
        "687474703a2f2f652f73",
        "01",
        "0000000a",
        "687474703a2f2f652f70",
        "02",
        "00000001",
        "76",
        "00"
    );
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(bytes.len(), 79);
    assert_eq!(decode_event(&bytes).unwrap(), event);
}

fn iri() -> impl Strategy<Value = NamedNode> {
    "[a-z]{1,8}(/[a-zA-Z0-9_é]{0,6}){0,3}"
        .prop_map(|p| NamedNode::new_unchecked(format!("https://example.org/{p}")))
}

fn object() -> impl Strategy<Value = oxrdf::Term> {
    prop_oneof![
        iri().prop_map(Into::into),
        ".{0,40}".prop_map(|v| Literal::new_simple_literal(v).into()),
        (".{0,20}", "[a-z]{2}(-[a-z]{2})?")
            .prop_map(|(v, l)| Literal::new_language_tagged_literal_unchecked(v, l).into()),
        (".{0,20}", iri()).prop_map(|(v, d)| Literal::new_typed_literal(v, d).into()),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        any::<bool>(),
        iri(),
        iri(),
        object(),
        proptest::option::of(iri()),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(add, s, p, o, g, time, actor)| Event {
            op: if add { Op::Add } else { Op::Remove },
            quad: Quad::new(s, p, o, g.map(GraphName::NamedNode).unwrap_or_default()),
            time,
            actor: ActorKey(actor),
        })
}

proptest! {
    #[test]
    fn every_event_round_trips_through_its_canonical_bytes(e in event()) {
        let mut bytes = Vec::new();
        encode_event(&e, &mut bytes).unwrap();
        let decoded = decode_event(&bytes).unwrap();
        prop_assert_eq!(&decoded, &e);
        let mut again = Vec::new();
        encode_event(&decoded, &mut again).unwrap();
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_event(&bytes);
        let _ = decode_event_trusted(&bytes);
    }

    #[test]
    fn any_truncation_or_trailing_byte_is_rejected(e in event(), extra in any::<u8>()) {
        let bytes = e.to_canonical().unwrap();
        for cut in 0..bytes.len() {
            prop_assert!(decode_event(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(decode_event(&longer).is_err());
    }
}
