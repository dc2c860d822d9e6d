//! The kernel on hand-built programs: each guard kind passes and fails where it should, classes
//! follow the subclass closure and the batch's own `rdf:type` events, rules emit from their
//! templates, buffers never grow, and `step` agrees with the hash-map interpreter on random
//! batches.

mod common;

use ledgraph::kernel::builder::{ActionSpec, Builder, GuardSpec};
use ledgraph::kernel::interp::Interpreter;
use ledgraph::kernel::program::{Program, ProgramView, node_kind};
use ledgraph::kernel::{Actions, NO_TERM, Observation, State, TermId, sample, step};

const RDF_TYPE: &str = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>";
const DECIMAL: &str = "<http://www.w3.org/2001/XMLSchema#decimal>";

/// A node id no program below interns.
const N1: TermId = 1000;
const N2: TermId = 1001;

fn obs(s: TermId, p: TermId, o: TermId) -> Observation {
    Observation {
        s,
        p,
        o,
        datatype: NO_TERM,
        num: f64::NAN,
        len: 0,
        op: Observation::ADD,
        kind: node_kind::IRI,
        _pad: [0; 2],
    }
}

fn literal(s: TermId, p: TermId, datatype: TermId, num: f64, len: u32) -> Observation {
    Observation {
        datatype,
        num,
        len,
        kind: node_kind::LITERAL,
        ..obs(s, p, N2 + 1)
    }
}

struct Run {
    program: Program,
}

impl Run {
    fn new(program: Program) -> Run {
        Run { program }
    }

    fn id(&self, term: &str) -> TermId {
        let view = self.program.view().expect("valid program");
        view.terms()
            .find(|(_, t)| *t == term)
            .map(|(id, _)| id)
            .unwrap_or_else(|| panic!("{term} not interned"))
    }

    /// Runs one batch on fresh state and returns (violated guard names, emitted triples).
    fn run(&self, batch: &[Observation]) -> (Vec<String>, Vec<(TermId, TermId, TermId)>) {
        let view = self.program.view().expect("valid program");
        let mut types = State::new(&view);
        types.ensure_nodes(2000);
        let mut out = Actions::for_batch(&view, batch.len());
        let receipt = step(&view, &mut types, batch, &mut out);
        assert_eq!(receipt.dropped, 0);
        let names = out
            .violations
            .iter()
            .map(|v| {
                let g = view.parts().guards[v.guard as usize];
                view.term(g.name).unwrap_or("?").to_owned()
            })
            .collect();
        let triples = out.emitted.iter().map(|e| (e.s, e.p, e.o)).collect();
        (names, triples)
    }
}

fn one_guard(subject_class: Option<&str>, spec: GuardSpec) -> Run {
    let mut b = Builder::new(&["<C>", "<D>"], &[("<D>", "<C>")]);
    b.guard("<p>", subject_class, "<shape>", spec);
    Run::new(b.build())
}

#[test]
fn numeric_bounds_compare_inclusive_and_exclusive() {
    for (spec, pass, fail) in [
        (GuardSpec::MinInclusive(5.0), 5.0, 4.99),
        (GuardSpec::MinExclusive(5.0), 5.01, 5.0),
        (GuardSpec::MaxInclusive(5.0), 5.0, 5.01),
        (GuardSpec::MaxExclusive(5.0), 4.99, 5.0),
    ] {
        let r = one_guard(None, spec.clone());
        let p = r.id("<p>");
        assert!(
            r.run(&[literal(N1, p, 0, pass, 1)]).0.is_empty(),
            "{spec:?} {pass}"
        );
        assert_eq!(
            r.run(&[literal(N1, p, 0, fail, 1)]).0,
            ["<shape>"],
            "{spec:?} {fail}"
        );
        // Not a number (a string, an ill-typed literal): every comparison fails, like SHACL's.
        assert_eq!(r.run(&[literal(N1, p, 0, f64::NAN, 1)]).0, ["<shape>"]);
    }
}

#[test]
fn datatype_length_node_kind_in_and_has_value() {
    let r = one_guard(None, GuardSpec::Datatype(DECIMAL.into()));
    let (p, dt) = (r.id("<p>"), r.id(DECIMAL));
    assert!(r.run(&[literal(N1, p, dt, 1.0, 1)]).0.is_empty());
    assert_eq!(r.run(&[literal(N1, p, dt + 1, 1.0, 1)]).0.len(), 1);
    assert_eq!(
        r.run(&[obs(N1, p, N2)]).0.len(),
        1,
        "an IRI has no datatype"
    );

    let r = one_guard(None, GuardSpec::MaxLength(3));
    let p = r.id("<p>");
    assert!(r.run(&[literal(N1, p, 0, f64::NAN, 3)]).0.is_empty());
    assert_eq!(r.run(&[literal(N1, p, 0, f64::NAN, 4)]).0.len(), 1);
    let blank = Observation {
        kind: node_kind::BLANK,
        ..obs(N1, p, N2)
    };
    assert_eq!(r.run(&[blank]).0.len(), 1, "a blank node has no length");

    let r = one_guard(None, GuardSpec::NodeKind(1 << node_kind::IRI));
    let p = r.id("<p>");
    assert!(r.run(&[obs(N1, p, N2)]).0.is_empty());
    assert_eq!(r.run(&[literal(N1, p, 0, 1.0, 1)]).0.len(), 1);

    let r = one_guard(None, GuardSpec::In(vec!["\"a\"".into(), "\"b\"".into()]));
    let (p, a, b) = (r.id("<p>"), r.id("\"a\""), r.id("\"b\""));
    assert!(r.run(&[obs(N1, p, a), obs(N1, p, b)]).0.is_empty());
    assert_eq!(r.run(&[obs(N1, p, N2)]).0.len(), 1);

    let r = one_guard(None, GuardSpec::HasValue("<v>".into()));
    let (p, v) = (r.id("<p>"), r.id("<v>"));
    assert!(r.run(&[obs(N1, p, v)]).0.is_empty());
    assert_eq!(r.run(&[obs(N1, p, N2)]).0.len(), 1);
}

#[test]
fn class_guard_follows_subclasses_and_the_batch_own_types() {
    let r = one_guard(None, GuardSpec::Class("<C>".into()));
    let (p, ty, c, d) = (r.id("<p>"), r.id(RDF_TYPE), r.id("<C>"), r.id("<D>"));
    assert_eq!(r.run(&[obs(N1, p, N2)]).0.len(), 1, "untyped object");
    // The type comes after the edge in the batch: the state after the batch counts.
    assert!(
        r.run(&[obs(N1, p, N2), obs(N2, ty, d)]).0.is_empty(),
        "D ⊑ C"
    );
    let removed = Observation {
        op: Observation::REMOVE,
        ..obs(N2, ty, d)
    };
    assert_eq!(r.run(&[obs(N2, ty, d), removed, obs(N1, p, N2)]).0.len(), 1);
    assert!(
        r.run(&[obs(N2, ty, c), obs(N2, ty, d), removed, obs(N1, p, N2)])
            .0
            .is_empty()
    );
}

#[test]
fn subject_class_conditions_a_guard_and_removals_are_not_checked() {
    let r = one_guard(Some("<C>"), GuardSpec::MaxInclusive(1.0));
    let (p, ty, d) = (r.id("<p>"), r.id(RDF_TYPE), r.id("<D>"));
    assert!(
        r.run(&[literal(N1, p, 0, 9.0, 1)]).0.is_empty(),
        "N1 is not a C"
    );
    assert_eq!(
        r.run(&[obs(N1, ty, d), literal(N1, p, 0, 9.0, 1)]).0.len(),
        1
    );
    let remove = Observation {
        op: Observation::REMOVE,
        ..literal(N1, p, 0, 9.0, 1)
    };
    assert!(r.run(&[obs(N1, ty, d), remove]).0.is_empty());
}

#[test]
fn rules_emit_from_templates_when_guards_pass() {
    let mut b = Builder::new(&["<C>"], &[]);
    let emit = |s: &str, p: &str, o: &str| ActionSpec {
        alert: false,
        s: s.into(),
        p: p.into(),
        o: o.into(),
    };
    b.rule(
        "<inverse>",
        "<p>",
        None,
        vec![],
        vec![emit("?o", "<q>", "?s")],
    );
    b.rule(
        "<big>",
        "<p>",
        Some("<C>"),
        vec![GuardSpec::MinInclusive(10.0)],
        vec![emit("?s", RDF_TYPE, "<C>")],
    );
    let r = Run::new(b.build());
    let (p, q, ty, c) = (r.id("<p>"), r.id("<q>"), r.id(RDF_TYPE), r.id("<C>"));
    let small = Observation {
        num: 1.0,
        ..obs(N1, p, N2)
    };
    let big = Observation {
        num: 11.0,
        ..obs(N1, p, N2)
    };
    assert_eq!(r.run(&[big]).1, [(N2, q, N1)], "N1 is not a C yet");
    assert_eq!(r.run(&[obs(N1, ty, c), small]).1, [(N2, q, N1)]);
    // The rule fires, but N1 asserts C already: a class a subject asserts is not derived again.
    assert_eq!(r.run(&[obs(N1, ty, c), big]).1, [(N2, q, N1)]);
}

#[test]
fn full_buffers_count_drops_instead_of_growing() {
    let program = sample::program();
    let view = program.view().expect("valid");
    let mut generator = sample::Generator::new(&program, 7, 100);
    let mut batch = Vec::new();
    generator.fill(&mut batch, 1000);
    let mut types = State::new(&view);
    types.ensure_nodes(generator.id_bound());
    let mut out = Actions::for_batch(&view, 10);
    let receipt = step(&view, &mut types, &batch, &mut out);
    assert!(receipt.dropped > 0);
    assert_eq!(
        out.emitted.capacity(),
        Actions::for_batch(&view, 10).emitted.capacity()
    );
}

#[test]
fn malformed_tables_are_refused() {
    let mut program = sample::program();
    program.guards[0].kind = 200;
    assert!(program.view().is_err());
    let mut program = sample::program();
    if let Some(last) = program.dispatch.last_mut() {
        last.rule_len = 1000;
    }
    assert!(program.view().is_err());
    let mut program = sample::program();
    program.term_offsets.pop();
    assert!(program.view().is_err());
}

fn differential(view: &ProgramView<'_>, program: &Program, seed: u64) {
    let mut generator = sample::Generator::new(program, seed, 50);
    let mut types = State::new(view);
    types.ensure_nodes(generator.id_bound());
    let mut interp = Interpreter::new(view);
    let mut batch = Vec::new();
    let mut out = Actions::for_batch(view, 64);
    let mut expected = Actions::default();
    for round in 0..2000 {
        let n = 1 + (round * 7) % 64;
        generator.fill(&mut batch, n);
        let receipt = step(view, &mut types, &batch, &mut out);
        interp.run(&batch, &mut expected);
        assert_eq!(receipt.dropped, 0);
        assert_eq!(out.violations, expected.violations, "round {round}");
        assert_eq!(out.deferred, expected.deferred, "round {round}");
        assert_eq!(out.emitted, expected.emitted, "round {round}");
        assert_eq!(receipt.violations as usize, out.violations.len());
    }
}

#[test]
fn step_agrees_with_the_hash_map_interpreter() {
    let seed = common::Rng::from_env("step_agrees_with_the_hash_map_interpreter").next();
    let program = sample::program();
    let view = program.view().expect("valid");
    differential(&view, &program, seed);
}

#[test]
fn step_agrees_with_the_interpreter_on_a_telemetry_stream() {
    let seed =
        common::Rng::from_env("step_agrees_with_the_interpreter_on_a_telemetry_stream").next();
    let program = sample::program();
    let view = program.view().expect("valid");
    let mut state = State::new(&view);
    let mut telemetry =
        sample::Telemetry::new(&view, &state, seed, 200).expect("numeric predicates");
    state.ensure_nodes(telemetry.id_bound());
    let mut interp = Interpreter::new(&view);
    let (mut batch, mut out, mut expected) = (
        Vec::new(),
        Actions::for_batch(&view, 5000),
        Actions::default(),
    );
    let mut fired = 0;
    for round in 0..20 {
        telemetry.fill(&mut batch, 5000);
        let receipt = step(&view, &mut state, &batch, &mut out);
        interp.run(&batch, &mut expected);
        assert_eq!(receipt.dropped, 0);
        assert_eq!(out.violations, expected.violations, "round {round}");
        assert_eq!(out.emitted, expected.emitted, "round {round}");
        fired += out.emitted.len() + out.violations.len();
    }
    assert!(
        fired > 0,
        "excursions outside the quiet range violate or fire"
    );
}

#[test]
fn receipts_are_deterministic_and_order_sensitive() {
    let program = sample::program();
    let view = program.view().expect("valid");
    let mut generator = sample::Generator::new(&program, 11, 100);
    let mut batch = Vec::new();
    generator.fill(&mut batch, 500);
    let run = |batch: &[Observation]| {
        let mut types = State::new(&view);
        types.ensure_nodes(generator.id_bound());
        let mut out = Actions::for_batch(&view, batch.len());
        step(&view, &mut types, batch, &mut out)
    };
    let a = run(&batch);
    assert_eq!(a, run(&batch));
    batch.swap(3, 4);
    let b = run(&batch);
    assert_ne!(a.input_digest, b.input_digest);
}

/// A reading property with a domain (a bare typing axiom) and a threshold rule: readings of
/// subjects that assert the domain class are quiet; batches that retract the class fall back
/// to the exact path. Kernel and interpreter agree on random batches with adds and removals.
#[test]
fn typing_axioms_quiet_and_class_retractions_agree_with_the_interpreter() {
    let mut rng = common::Rng::from_env("typing_axioms_quiet_and_class_retractions");
    let mut b = Builder::new(&["<Sensor>", "<Other>"], &[]);
    let emit = |s: &str, p: &str, o: &str| ActionSpec {
        alert: false,
        s: s.into(),
        p: p.into(),
        o: o.into(),
    };
    b.rule(
        "<domain>",
        "<reading>",
        None,
        vec![],
        vec![emit("?s", RDF_TYPE, "<Sensor>")],
    );
    b.rule(
        "<hot>",
        "<reading>",
        Some("<Sensor>"),
        vec![GuardSpec::MinExclusive(90.0)],
        vec![emit("?s", "<condition>", "<Hot>")],
    );
    b.guard(
        "<reading>",
        None,
        "<shape>",
        GuardSpec::MaxInclusive(1000.0),
    );
    let program = b.build();
    let view = program.view().expect("valid");
    let id = |t: &str| {
        view.terms()
            .find(|(_, s)| *s == t)
            .map(|(i, _)| i)
            .expect(t)
    };
    let (reading, ty, sensor, other) =
        (id("<reading>"), id(RDF_TYPE), id("<Sensor>"), id("<Other>"));
    let mut state = State::new(&view);
    state.ensure_nodes(2000);
    let mut interp = Interpreter::new(&view);
    let mut out = Actions::for_batch(&view, 300);
    let mut expected = Actions::default();
    let mut emitted = 0;
    for round in 0..300 {
        let batch: Vec<Observation> = (0..1 + rng.range(0, 300) as usize)
            .map(|_| {
                let s = N1 + rng.range(0, 20) as u32;
                match rng.range(0, 20) {
                    0 => obs(s, ty, if rng.range(0, 2) == 0 { sensor } else { other }),
                    1 => Observation {
                        op: Observation::REMOVE,
                        ..obs(s, ty, sensor)
                    },
                    _ => literal(s, reading, 0, rng.range(0, 1200) as f64, 3),
                }
            })
            .collect();
        let receipt = step(&view, &mut state, &batch, &mut out);
        interp.run(&batch, &mut expected);
        assert_eq!(receipt.dropped, 0);
        assert_eq!(out.violations, expected.violations, "round {round}");
        assert_eq!(out.emitted, expected.emitted, "round {round}");
        emitted += out.emitted.len();
    }
    assert!(emitted > 0);
}
