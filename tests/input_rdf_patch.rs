//! RDF Patch input: every row type, prefixes, transactions and aborts, quads, blank nodes,
//! every error with its line:column, limits, and the round trip of `ledgraph log export`.

mod common;

use std::path::Path;
use std::process::Command;

use ledgraph::event::Op;
use ledgraph::event::input::{INPUT_CHANGES_MAX, InputError, Position};
use ledgraph::event::rdf_patch::{RDF_PATCH_PREFIXES_MAX, parse_rdf_patch};
use oxrdf::vocab::xsd;
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, Quad, Term};

fn parse(text: &str) -> Vec<(Op, Quad)> {
    match parse_rdf_patch(text.as_bytes()) {
        Ok(changes) => changes,
        Err(e) => panic!("{e}\n--- in ---\n{text}"),
    }
}

fn error(text: &str) -> InputError {
    match parse_rdf_patch(text.as_bytes()) {
        Ok(changes) => panic!("accepted {changes:?}\n--- in ---\n{text}"),
        Err(e) => e,
    }
}

/// The error's line and column, and that its message mentions `needle`.
fn error_at(text: &str, needle: &str) -> (u64, u64) {
    let e = error(text);
    assert!(
        e.message.contains(needle),
        "message {:?} should mention {needle:?}",
        e.message
    );
    match e.position {
        Position::LineColumn { line, column } => (line, column),
        other => panic!("expected line:column, got {other:?}"),
    }
}

fn iri(s: &str) -> NamedNode {
    NamedNode::new(s).unwrap()
}

fn triple(s: &str, p: &str, o: impl Into<Term>) -> Quad {
    Quad::new(iri(s), iri(p), o, GraphName::DefaultGraph)
}

#[test]
fn jena_example_with_headers_yields_its_adds() {
    let changes = parse(
        "H id <uuid:0686c69d-8f89-4496-acb5-744f0157a8db> .\n\
         H prev <uuid:3ee0eca0-6d5f-4b4d-85db-f69ab1167eb1> .\n\
         H x-unknown \"anything\" .\n\
         TX .\n\
         PA \"rdf\" \"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" .\n\
         PA \"owl\" \"http://www.w3.org/2002/07/owl#\" .\n\
         A <http://example/SubClass> rdf:type owl:Class .\n\
         A <http://example/SubClass> <http://www.w3.org/2000/01/rdf-schema#label> \"SubClass\" .\n\
         TC .\n",
    );
    assert_eq!(
        changes,
        [
            (
                Op::Add,
                triple(
                    "http://example/SubClass",
                    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
                    iri("http://www.w3.org/2002/07/owl#Class"),
                )
            ),
            (
                Op::Add,
                triple(
                    "http://example/SubClass",
                    "http://www.w3.org/2000/01/rdf-schema#label",
                    Literal::new_simple_literal("SubClass"),
                )
            ),
        ]
    );
}

#[test]
fn prefixes_expand_in_every_position_including_datatypes() {
    let changes = parse(
        "PA ex <http://e.org/> .\n\
         PA xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
         PA \"\" \"http://default.org/\" .\n\
         A ex:s ex:p \"7\"^^xsd:integer ex:g .\n\
         A :s ex:a\\.b ex:o .\n",
    );
    assert_eq!(
        changes[0].1,
        Quad::new(
            iri("http://e.org/s"),
            iri("http://e.org/p"),
            Literal::new_typed_literal("7", xsd::INTEGER),
            iri("http://e.org/g"),
        )
    );
    assert_eq!(
        changes[1].1,
        triple(
            "http://default.org/s",
            "http://e.org/a.b",
            iri("http://e.org/o")
        )
    );
}

#[test]
fn a_redefined_prefix_applies_to_later_rows_only() {
    let changes = parse(
        "PA ex <http://one.org/> .\nA ex:s ex:p ex:o .\nPA ex <http://two.org/> .\nA ex:s ex:p ex:o .\n",
    );
    assert_eq!(changes[0].1.subject.to_string(), "<http://one.org/s>");
    assert_eq!(changes[1].1.subject.to_string(), "<http://two.org/s>");
}

#[test]
fn a_prefix_deleted_with_pd_can_no_longer_be_used() {
    let text = "PA \"ex\" <http://e.org/> .\nA ex:s ex:p ex:o .\nPD \"ex\" .\nA ex:s ex:p ex:o .\n";
    assert_eq!(error_at(text, "undefined prefix \"ex:\""), (4, 3));
    // Some writers repeat the namespace on PD; it is accepted.
    let text = "PA ex <http://e.org/> .\nPD ex <http://e.org/> .\nA ex:s ex:p ex:o .\n";
    assert_eq!(error_at(text, "undefined prefix"), (3, 3));
}

#[test]
fn abort_drops_the_changes_and_prefix_changes_since_its_tx() {
    let changes = parse(
        "PA ex <http://e.org/> .\n\
         TX .\n\
         A ex:kept ex:p 1 .\n\
         TC .\n\
         TX .\n\
         A ex:dropped ex:p 2 .\n\
         PA ex <http://other.org/> .\n\
         D ex:dropped ex:p 3 .\n\
         PD ex .\n\
         PA tmp <http://tmp.org/> .\n\
         TA .\n\
         TX .\n\
         D ex:after ex:p true .\n\
         TC .\n",
    );
    let subjects: Vec<String> = changes
        .iter()
        .map(|(op, q)| format!("{} {}", op.as_str(), q.subject))
        .collect();
    assert_eq!(
        subjects,
        ["add <http://e.org/kept>", "remove <http://e.org/after>"],
        "the aborted block is gone and `ex` is restored to its binding before TX"
    );
    let text = "TX .\nPA tmp <http://tmp.org/> .\nTA .\nA tmp:s tmp:p tmp:o .\n";
    assert_eq!(
        error_at(text, "undefined prefix \"tmp:\""),
        (4, 3),
        "a prefix added in an aborted block is gone"
    );
}

#[test]
fn several_transactions_and_rows_outside_any_are_one_change_list() {
    let changes = parse(
        "A <http://e.org/a> <http://e.org/p> <http://e.org/o> .\n\
         TX .\nA <http://e.org/b> <http://e.org/p> <http://e.org/o> .\nTC .\n\
         TX .\nD <http://e.org/c> <http://e.org/p> <http://e.org/o> .\nTC .\n",
    );
    let ops: Vec<Op> = changes.iter().map(|(op, _)| *op).collect();
    assert_eq!(ops, [Op::Add, Op::Add, Op::Remove]);
}

#[test]
fn quads_in_named_and_blank_graphs_keep_their_graph() {
    let changes = parse(
        "A <http://e.org/s> <http://e.org/p> <http://e.org/o> <http://e.org/g> .\n\
         D <http://e.org/s> <http://e.org/p> \"x\" _:g .\n",
    );
    assert_eq!(
        changes[0].1.graph_name,
        GraphName::from(iri("http://e.org/g"))
    );
    assert_eq!(changes[1].0, Op::Remove);
    assert_eq!(
        changes[1].1.graph_name,
        GraphName::from(BlankNode::new("g").unwrap())
    );
}

#[test]
fn blank_nodes_stay_blank_nodes_in_both_spellings() {
    let changes = parse("A _:b1 <http://e.org/p> <_:b2> .\nA <_:b1> <http://e.org/p> _:b2 .\n");
    for (_, quad) in &changes {
        assert!(quad.subject.is_blank_node(), "{quad}");
        assert!(quad.object.is_blank_node(), "{quad}");
    }
    assert_eq!(
        changes[0].1.subject, changes[1].1.subject,
        "same label, same node"
    );
    assert_eq!(changes[0].1.object, changes[1].1.object);
}

#[test]
fn literals_in_ntriples_syntax_and_turtle_shorthands() {
    let changes = parse(concat!(
        "A <http://e.org/s> <http://e.org/p> \"chat\"@fr .\n",
        "A <http://e.org/s> <http://e.org/p> \"tab\\there \\\"q\\\" \\u00e9 # not a comment\" .\n",
        "A <http://e.org/s> <http://e.org/p> \"2\"^^<http://www.w3.org/2001/XMLSchema#int> .\n",
        "A <http://e.org/s> <http://e.org/p> -12 .\n",
        "A <http://e.org/s> <http://e.org/p> 1.5 .\n",
        "A <http://e.org/s> <http://e.org/p> 1e3 .\n",
        "A <http://e.org/s> <http://e.org/p> false .\n",
    ));
    let objects: Vec<Term> = changes.into_iter().map(|(_, q)| q.object).collect();
    assert_eq!(
        objects,
        [
            Literal::new_language_tagged_literal("chat", "fr")
                .unwrap()
                .into(),
            Literal::new_simple_literal("tab\there \"q\" é # not a comment").into(),
            Literal::new_typed_literal("2", xsd::INT).into(),
            Literal::new_typed_literal("-12", xsd::INTEGER).into(),
            Literal::new_typed_literal("1.5", xsd::DECIMAL).into(),
            Literal::new_typed_literal("1e3", xsd::DOUBLE).into(),
            Literal::new_typed_literal("false", xsd::BOOLEAN).into(),
        ] as [Term; 7]
    );
}

#[test]
fn comments_blank_lines_crlf_and_a_bom_are_ignored() {
    let changes = parse(
        "\u{feff}# a patch\r\n\r\n   \r\nTX . # open\r\n\
         A <http://e.org/s> <http://e.org/p> <http://e.org/o> . # trailing\r\nTC .",
    );
    assert_eq!(changes.len(), 1);
    assert!(parse("").is_empty());
    assert!(parse("# only a comment\n\nTX .\nTC .\n").is_empty());
}

#[test]
fn transaction_errors_name_the_row() {
    assert_eq!(
        error_at(
            "TX .\nA <http://e.org/s> <http://e.org/p> 1 .\n",
            "not committed"
        ),
        (1, 1)
    );
    assert_eq!(
        error_at(
            "A <http://e.org/s> <http://e.org/p> 1 .\nTX .\n",
            "not committed"
        ),
        (2, 1)
    );
    assert_eq!(
        error_at("TX .\nTC .\nTX .\n  TX .\n", "nested TX: the TX on line 3"),
        (4, 3)
    );
    assert_eq!(
        error_at("TX .\nTC .\nTC .\n", "TC without an open TX"),
        (3, 1)
    );
    assert_eq!(error_at("TA .\n", "TA without an open TX"), (1, 1));
    assert_eq!(error_at("TX .\nTC x .\n", "TC takes no arguments"), (2, 4));
    assert_eq!(
        error_at("TX <http://e.org/> .\n", "TX takes no arguments"),
        (1, 4)
    );
    assert_eq!(error_at("TX .\nTA 1 .\n", "TA takes no arguments"), (2, 4));
}

#[test]
fn row_shape_errors_name_line_and_column() {
    let cases: &[(&str, &str, (u64, u64))] = &[
        (
            "TX .\nA <http://e.org/s> <http://e.org/p> <http://e.org/o>\n",
            "must end with \" .\"",
            (2, 53),
        ),
        ("X <http://e.org/s> .\n", "unknown row type \"X\"", (1, 1)),
        ("<http://e.org/s> .\n", "unknown row type", (1, 1)),
        (" .\n", "empty row", (1, 2)),
        (
            "A <http://e.org/s> <http://e.org/p> .\n",
            "A takes 3 terms (a triple) or 4",
            (1, 1),
        ),
        (
            "D <http://e.org/s> <http://e.org/p> 1 <http://e.org/g> 2 .\n",
            "D takes 3 terms",
            (1, 1),
        ),
        (
            "A <http://e.org/s> . <http://e.org/p> 1 .\n",
            "unexpected \".\"",
            (1, 20),
        ),
        ("H .\n", "H takes a header name", (1, 1)),
        (
            "H <http://e.org/id> 1 .\n",
            "header name must be a bare word",
            (1, 3),
        ),
        ("PA ex .\n", "PA takes a prefix and a namespace", (1, 1)),
        ("PD .\n", "PD takes a prefix", (1, 1)),
        (
            "PA <http://e.org/> <http://e.org/> .\n",
            "expected a prefix name",
            (1, 4),
        ),
        (
            "PA \"e x\" <http://e.org/> .\n",
            "invalid prefix name",
            (1, 4),
        ),
        (
            "PA \"ex\"@en <http://e.org/> .\n",
            "expected a plain string",
            (1, 4),
        ),
        ("PA ex 12 .\n", "expected a namespace IRI", (1, 7)),
        ("PA ex \"not an iri\" .\n", "invalid namespace", (1, 7)),
        ("PA ex <relative/> .\n", "invalid namespace", (1, 7)),
    ];
    for (text, needle, at) in cases {
        assert_eq!(error_at(text, needle), *at, "{text:?}");
    }
}

#[test]
fn term_errors_name_the_term() {
    let cases: &[(&str, &str, (u64, u64))] = &[
        (
            "A \"lit\" <http://e.org/p> 1 .\n",
            "subject must be an IRI or blank node",
            (1, 3),
        ),
        (
            "A <http://e.org/s> _:p 1 .\n",
            "predicate must be an IRI",
            (1, 20),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> 1 \"g\" .\n",
            "graph must be an IRI or blank node",
            (1, 39),
        ),
        (
            "A <not an iri> <http://e.org/p> 1 .\n",
            "invalid term",
            (1, 3),
        ),
        ("A <rel> <http://e.org/p> 1 .\n", "invalid term", (1, 3)),
        (
            "A <http://e.org/s> <http://e.org/p .\n",
            "unterminated IRI",
            (1, 20),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> \"open .\n",
            "unterminated string",
            (1, 37),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> \"x\"@ .\n",
            "invalid term",
            (1, 37),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> \"bad \\q escape\" .\n",
            "invalid term",
            (1, 37),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> \"x\"^^ .\n",
            "missing datatype after \"^^\"",
            (1, 40),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> \"x\"^^xsd:int .\n",
            "undefined prefix \"xsd:\"",
            (1, 42),
        ),
        (
            "A ex:s <http://e.org/p> 1 .\n",
            "undefined prefix \"ex:\"; declare it with PA",
            (1, 3),
        ),
        (
            "A http://e.org/s <http://e.org/p> 1 .\n",
            "write IRIs in angle brackets",
            (1, 3),
        ),
        (
            "A word <http://e.org/p> 1 .\n",
            "expected an IRI <…>",
            (1, 3),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> 1.2.3 .\n",
            "invalid literal",
            (1, 37),
        ),
        (
            "A _:a-? <http://e.org/p> 1 .\n",
            "invalid blank node",
            (1, 3),
        ),
        (
            "A <http://e.org/s> <http://e.org/p> << <http://e.org/a> <http://e.org/b> 1 >> .\n",
            "triple terms",
            (1, 37),
        ),
    ];
    for (text, needle, at) in cases {
        assert_eq!(error_at(text, needle), *at, "{text:?}");
    }
}

/// Found by the `rdf_patch` fuzz target: a form feed made the scanner loop without progress.
#[test]
fn control_characters_between_terms_are_errors_not_hangs() {
    for control in ['\u{c}', '\r', '\u{b}', '\0'] {
        let text = format!("A <http://e.org/s>{control}<http://e.org/p> 1 .\nH i{control}x .\n");
        let e = error(&text);
        assert!(
            matches!(e.position, Position::LineColumn { line: 1, .. }),
            "{control:?}: {e}"
        );
    }
    assert!(
        parse("H i\u{c} x .\n").is_empty(),
        "a header value is not checked"
    );
}

#[test]
fn invalid_utf8_is_an_error_at_its_position() {
    let mut bytes = b"TX .\nA <http://e.org/".to_vec();
    bytes.push(0xC3);
    bytes.extend_from_slice(b"> <http://e.org/p> 1 .\nTC .\n");
    let e = parse_rdf_patch(&bytes).unwrap_err();
    assert_eq!(
        e.position,
        Position::LineColumn {
            line: 2,
            column: 17
        }
    );
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn more_prefixes_than_the_limit_is_an_error() {
    let mut text = String::new();
    for i in 0..RDF_PATCH_PREFIXES_MAX {
        text.push_str(&format!("PA p{i} <http://e.org/{i}/> .\n"));
    }
    // Re-binding an existing prefix at the limit is fine; one more name is not.
    text.push_str("PA p0 <http://e.org/again/> .\n");
    assert!(parse(&text).is_empty());
    text.push_str("PA one-too-many <http://e.org/x/> .\n");
    let line = RDF_PATCH_PREFIXES_MAX as u64 + 2;
    assert_eq!(error_at(&text, "prefixes declared at once"), (line, 1));
}

#[test]
fn more_changes_than_the_limit_is_an_error_at_the_first_extra_row() {
    let row = "A _:s <http://e.org/p> 1 .\n";
    let text = row.repeat(INPUT_CHANGES_MAX + 1);
    let line = INPUT_CHANGES_MAX as u64 + 1;
    assert_eq!(error_at(&text, "more than"), (line, 1));
}

fn ledgraph(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LEDGRAPH_DATA")
        .output()
        .expect("run ledgraph");
    assert!(
        out.status.success(),
        "ledgraph {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn log_export_round_trips_through_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_keys(&data);
    let files = [
        (
            "a.nq",
            "<https://e.org/s> <https://e.org/p> \"line\\nbreak \\\"quoted\\\" back\\\\slash\\ttab \\u0001 é ☃\" .\n\
             <https://e.org/s> <https://e.org/p> \"chat\"@fr-CA <https://e.org/g> .\n\
             _:b <https://e.org/p> \"2\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n",
        ),
        (
            "b.rdfp",
            "TX .\nPA ex <https://e.org/> .\nD ex:s ex:p \"chat\"@fr-CA ex:g .\n\
             A ex:s ex:p \"#hash . dot\" .\nTC .\n",
        ),
        (
            "c.json",
            r#"[{"op":"remove","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"<https://e.org/o>"}]"#,
        ),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        ledgraph(&data, &["log", "append", &path.display().to_string()]);
    }
    let patch = ledgraph(&data, &["log", "export", "--format", "rdf-patch"]);
    let parsed = parse(&patch);

    let (log, _) = common::open(&data, ledgraph::log::LogConfig::default());
    let logged: Vec<(Op, Quad)> = (0..log.size())
        .map(|seq| {
            let event = log.event(seq).expect("read event");
            (event.op, event.quad)
        })
        .collect();
    assert_eq!(logged.len(), 6);
    assert_eq!(parsed, logged, "export:\n{patch}");
    assert_eq!(patch.matches("TX .").count(), 3, "{patch}");
}
