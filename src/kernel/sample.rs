//! A hand-built program in the shape of the demo domain (sensors, assets, work orders) and a
//! seeded generator of observations for it: what the kernel's tests and bench run when no
//! compiled descriptor is at hand, and a fixed point for comparing kernel versions.

use super::State;
use super::builder::{ActionSpec, Builder, GuardSpec};
use super::program::{NO_TERM, Observation, Program, ProgramView, TermId, node_kind};

pub const EX: &str = "https://example.org/plant#";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const RDF_TYPE: &str = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>";

fn ex(local: &str) -> String {
    format!("<{EX}{local}>")
}

fn xsd(local: &str) -> String {
    format!("<{XSD}{local}>")
}

fn emit(s: &str, p: &str, o: &str) -> ActionSpec {
    ActionSpec {
        alert: false,
        s: s.to_owned(),
        p: p.to_owned(),
        o: o.to_owned(),
    }
}

/// Five classes with a subclass tree, guards of every hot kind plus one warm pattern, and rules
/// for domain, range, inverse, symmetric properties, a hasValue trigger and an alert.
pub fn program() -> Program {
    let classes = ["Asset", "Pump", "Sensor", "TemperatureSensor", "WorkOrder"].map(ex);
    let c: Vec<&str> = classes.iter().map(String::as_str).collect();
    let mut b = Builder::new(&c, &[(c[1], c[0]), (c[3], c[2])]);
    let (asset, sensor, temp, order) = (c[0], c[2], c[3], c[4]);
    let shape = |s: &str| ex(&format!("{s}Shape"));
    b.guard(
        &ex("reading"),
        None,
        &shape("Reading"),
        GuardSpec::Datatype(xsd("decimal")),
    );
    b.guard(
        &ex("reading"),
        Some(temp),
        &shape("Temperature"),
        GuardSpec::MinInclusive(-50.0),
    );
    b.guard(
        &ex("reading"),
        Some(temp),
        &shape("Temperature"),
        GuardSpec::MaxExclusive(150.0),
    );
    let statuses = ["\"open\"", "\"in-progress\"", "\"closed\""].map(str::to_owned);
    b.guard(
        &ex("status"),
        None,
        &shape("Status"),
        GuardSpec::In(statuses.to_vec()),
    );
    b.guard(
        &ex("monitors"),
        Some(sensor),
        &shape("Sensor"),
        GuardSpec::Class(asset.to_owned()),
    );
    b.guard(
        &ex("monitors"),
        None,
        &shape("Sensor"),
        GuardSpec::NodeKind(1 << node_kind::IRI),
    );
    let label = "<http://www.w3.org/2000/01/rdf-schema#label>";
    b.guard(
        label,
        Some(asset),
        &shape("Asset"),
        GuardSpec::NodeKind(1 << node_kind::LITERAL),
    );
    b.guard(
        label,
        Some(asset),
        &shape("Asset"),
        GuardSpec::MaxLength(64),
    );
    b.guard(
        &ex("serial"),
        None,
        &shape("Serial"),
        GuardSpec::Pattern("\"^[A-Z]{2}-[0-9]+$\"".into(), None),
    );
    let rule = |s: &str| ex(&format!("rule/{s}"));
    b.rule(
        &rule("monitors-domain-range-inverse"),
        &ex("monitors"),
        None,
        vec![],
        vec![
            emit("?s", RDF_TYPE, sensor),
            emit("?o", RDF_TYPE, asset),
            emit("?o", &ex("monitoredBy"), "?s"),
        ],
    );
    b.rule(
        &rule("overheat"),
        &ex("reading"),
        Some(temp),
        vec![GuardSpec::MinExclusive(100.0)],
        vec![ActionSpec {
            alert: true,
            s: "?s".into(),
            p: ex("Overheat"),
            o: "?o".into(),
        }],
    );
    b.rule(
        &rule("closed"),
        &ex("status"),
        Some(order),
        vec![GuardSpec::HasValue("\"closed\"".into())],
        vec![emit(
            "?s",
            &ex("isClosed"),
            &format!("\"true\"^^{}", xsd("boolean")),
        )],
    );
    b.rule(
        &rule("adjacent-symmetric"),
        &ex("adjacentTo"),
        None,
        vec![],
        vec![emit("?o", &ex("adjacentTo"), "?s")],
    );
    b.rule(
        &rule("serial-format"),
        &ex("serial"),
        None,
        vec![GuardSpec::Pattern("\"^[A-Z]{2}-[0-9]+$\"".into(), None)],
        vec![emit(
            "?s",
            &ex("hasSerial"),
            &format!("\"true\"^^{}", xsd("boolean")),
        )],
    );
    b.build()
}

/// A seeded stream of observations for [`program`]: `nodes` instance ids after the program's
/// terms, predicates drawn from the ones the program knows plus one it does not, objects of the
/// right kind most of the time (so every guard both passes and fails).
pub struct Generator {
    state: u64,
    nodes: u32,
    base: TermId,
    ids: Ids,
}

struct Ids {
    rdf_type: TermId,
    classes: u32,
    reading: TermId,
    status: TermId,
    monitors: TermId,
    label: TermId,
    serial: TermId,
    adjacent: TermId,
    decimal: TermId,
    string: TermId,
    statuses: [TermId; 3],
}

impl Generator {
    pub fn new(program: &Program, seed: u64, nodes: u32) -> Generator {
        let view = program.view();
        let find = |t: &str| {
            view.as_ref()
                .ok()
                .and_then(|v| v.terms().find(|(_, s)| *s == t).map(|(id, _)| id))
                .unwrap_or(NO_TERM)
        };
        let ids = Ids {
            rdf_type: find(RDF_TYPE),
            classes: program.header.class_count,
            reading: find(&ex("reading")),
            status: find(&ex("status")),
            monitors: find(&ex("monitors")),
            label: find("<http://www.w3.org/2000/01/rdf-schema#label>"),
            serial: find(&ex("serial")),
            adjacent: find(&ex("adjacentTo")),
            decimal: find(&xsd("decimal")),
            string: find(&xsd("string")),
            statuses: ["\"open\"", "\"in-progress\"", "\"closed\""].map(find),
        };
        Generator {
            state: seed.max(1),
            nodes: nodes.max(1),
            base: program.header.term_count,
            ids,
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// The highest id the generator may produce, plus one (size [`super::State`] with it).
    pub fn id_bound(&self) -> usize {
        self.base as usize + self.nodes as usize + 1
    }

    fn node(&mut self) -> TermId {
        self.base + self.below(u64::from(self.nodes)) as u32
    }

    pub fn observation(&mut self) -> Observation {
        let s = self.node();
        let r = self.next();
        let op = if r % 16 == 0 {
            Observation::REMOVE
        } else {
            Observation::ADD
        };
        let mut o = Observation {
            s,
            p: 0,
            o: self.node(),
            datatype: NO_TERM,
            num: f64::NAN,
            len: 0,
            op,
            kind: node_kind::IRI,
            _pad: [0; 2],
        };
        let ids = &self.ids;
        let (rdf_type, reading, status) = (ids.rdf_type, ids.reading, ids.status);
        match (r >> 8) % 8 {
            0 => {
                o.p = rdf_type;
                o.o = self.below(u64::from(self.ids.classes)) as TermId;
            }
            1 | 2 => {
                o.p = reading;
                o.kind = node_kind::LITERAL;
                o.datatype = if (r >> 20) & 7 == 0 {
                    self.ids.string
                } else {
                    self.ids.decimal
                };
                o.num = (self.below(3000) as f64) / 10.0 - 100.0;
                o.len = 5;
            }
            3 => {
                o.p = status;
                o.kind = node_kind::LITERAL;
                o.datatype = self.ids.string;
                let k = self.below(4) as usize;
                o.o = self
                    .ids
                    .statuses
                    .get(k)
                    .copied()
                    .unwrap_or(self.base + self.nodes);
                o.len = 6;
            }
            4 => {
                o.p = self.ids.monitors;
                o.kind = if (r >> 20) & 7 == 0 {
                    node_kind::BLANK
                } else {
                    node_kind::IRI
                };
            }
            5 => {
                o.p = self.ids.label;
                o.kind = if (r >> 20) & 7 == 0 {
                    node_kind::IRI
                } else {
                    node_kind::LITERAL
                };
                o.len = self.below(100) as u32;
            }
            6 => {
                o.p = if (r >> 20) & 1 == 0 {
                    self.ids.adjacent
                } else {
                    self.ids.serial
                };
                o.kind = node_kind::LITERAL;
            }
            // A predicate the program does not know.
            _ => o.p = self.base + self.nodes,
        }
        o
    }

    pub fn fill(&mut self, batch: &mut Vec<Observation>, n: usize) {
        batch.clear();
        batch.extend((0..n).map(|_| self.observation()));
    }
}

/// A telemetry-like stream for any program: numeric readings on the predicates whose quiet
/// summary is a numeric interval ([`State::quiet_numbers`]), 99% inside it and 1% just outside
/// (a violation or a firing rule), and 0.5% `rdf:type` observations. What a plant's sensors
/// send; the bench reports it next to the adversarial mix of [`Generator`].
pub struct Telemetry {
    state: u64,
    nodes: u32,
    base: TermId,
    rdf_type: TermId,
    classes: u32,
    predicates: Vec<(TermId, f64, f64, TermId)>,
    /// Classes the subjects must assert for their readings to be quiet (typing axioms).
    subject_classes: Vec<TermId>,
}

impl Telemetry {
    /// `None` when no predicate has a numeric quiet interval.
    pub fn new(view: &ProgramView<'_>, state: &State, seed: u64, nodes: u32) -> Option<Telemetry> {
        let h = view.header();
        let decimal = view
            .terms()
            .find(|(_, t)| *t == xsd("decimal"))
            .map_or(NO_TERM, |(id, _)| id);
        let clip = |x: f64| x.clamp(-1e6, 1e6);
        let mut subject_classes = Vec::new();
        let predicates: Vec<_> = (0..view.parts().dispatch.len() as TermId)
            .filter_map(|p| {
                let (lo, hi, dt, class) = state.quiet_numbers(p)?;
                if class != NO_TERM && !subject_classes.contains(&class) {
                    subject_classes.push(class);
                }
                Some((
                    p,
                    clip(lo),
                    clip(hi),
                    if dt == NO_TERM { decimal } else { dt },
                ))
            })
            .collect();
        (!predicates.is_empty()).then_some(Telemetry {
            state: seed.max(1),
            nodes: nodes.max(1),
            base: h.term_count,
            rdf_type: h.rdf_type,
            classes: h.class_count,
            predicates,
            subject_classes,
        })
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// What a plant states once before its sensors stream: every node asserts the classes
    /// the readings' typing axioms give (so their readings are quiet).
    pub fn setup(&self) -> Vec<Observation> {
        let mut out = Vec::new();
        for n in 0..self.nodes {
            for &class in &self.subject_classes {
                out.push(Observation::class_assertion(
                    self.base + n,
                    self.rdf_type,
                    class,
                ));
            }
        }
        out
    }

    /// The highest id the stream may produce, plus one.
    pub fn id_bound(&self) -> usize {
        self.base as usize + self.nodes as usize + 1
    }

    pub fn observation(&mut self) -> Observation {
        let r = self.next();
        let s = self.base + (r % u64::from(self.nodes)) as u32;
        let mut o = Observation {
            s,
            p: 0,
            o: self.base + self.nodes,
            datatype: NO_TERM,
            num: f64::NAN,
            len: 4,
            op: Observation::ADD,
            kind: node_kind::LITERAL,
            _pad: [0; 2],
        };
        let pick = (r >> 32) % 1000;
        if pick < 5 && self.classes > 0 && self.rdf_type != NO_TERM {
            o.p = self.rdf_type;
            o.o = ((r >> 40) % u64::from(self.classes)) as TermId;
            o.kind = node_kind::IRI;
            o.datatype = NO_TERM;
            return o;
        }
        let (p, lo, hi, dt) = self.predicates[((r >> 16) % self.predicates.len() as u64) as usize];
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        o.p = p;
        o.datatype = dt;
        o.num = match pick {
            5..=9 => lo - 1.0,
            10..=14 => hi + 1.0,
            _ => lo + (hi - lo) * u,
        };
        o
    }

    pub fn fill(&mut self, batch: &mut Vec<Observation>, n: usize) {
        batch.clear();
        batch.extend((0..n).map(|_| self.observation()));
    }
}
