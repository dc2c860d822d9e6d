//! The boundary between RDF and the kernel: terms to dense ids and back, and an event's object
//! analysed once (datatype id, numeric value, length, node kind) into an [`Observation`].
//!
//! Program terms keep the ids the compiler gave them; any other term gets the next runtime id
//! on first sight. Runtime ids are assigned in order of appearance, so the same log replayed
//! with the same program gives the same ids (receipts depend on them). This is the warm side:
//! it allocates (hash maps, strings) and the kernel never calls it.

use std::collections::HashMap;
use std::sync::Arc;

use oxrdf::vocab::xsd;
use oxrdf::{Term, TermRef};

use super::program::{NO_TERM, Observation, ProgramView, TermId, node_kind};
use crate::event::Op;

/// Most runtime ids an interner hands out before refusing (the node type table holds
/// `class_words` u64s for each).
pub const RUNTIME_TERMS_MAX: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InternError {
    #[error("term {id} of the program is not an N-Triples term: {text}")]
    ProgramTerm { id: TermId, text: String },
    #[error("more than {RUNTIME_TERMS_MAX} distinct terms")]
    Full,
}

/// The program's own terms, shared by every interner of that program.
#[derive(Debug)]
struct ProgramTerms {
    ids: HashMap<String, TermId>,
    terms: Vec<Term>,
}

/// Term ↔ id for one program, plus the runtime ids seen so far. [`Interner::fork`] is cheap
/// (the program's terms are shared), for a batch that must not leave ids behind (admission).
#[derive(Debug, Clone)]
pub struct Interner {
    program: Arc<ProgramTerms>,
    ids: HashMap<String, TermId>,
    terms: Vec<Term>,
}

/// Parses one term in N-Triples syntax (`<iri>`, `"lex"^^<dt>`, `"x"@en`, `_:b`).
pub fn parse_term(text: &str) -> Option<Term> {
    let line = format!("<urn:x:s> <urn:x:p> {text} .\n");
    let mut triples = oxttl::NTriplesParser::new().for_slice(line.as_bytes());
    let triple = triples.next()?.ok()?;
    triples.next().is_none().then_some(triple.object)
}

impl Interner {
    pub fn new(program: &ProgramView<'_>) -> Result<Interner, InternError> {
        let mut ids = HashMap::new();
        let mut terms = Vec::new();
        for (id, text) in program.terms() {
            let term = parse_term(text).ok_or_else(|| InternError::ProgramTerm {
                id,
                text: text.to_owned(),
            })?;
            ids.insert(term.to_string(), id);
            terms.push(term);
        }
        Ok(Interner {
            program: Arc::new(ProgramTerms { ids, terms }),
            ids: HashMap::new(),
            terms: Vec::new(),
        })
    }

    /// The same program's terms with no runtime ids yet.
    pub fn fork(&self) -> Interner {
        Interner {
            program: self.program.clone(),
            ids: HashMap::new(),
            terms: Vec::new(),
        }
    }

    /// Ids handed out so far (program terms included): size [`super::State`] with it.
    pub fn len(&self) -> usize {
        self.program.terms.len() + self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of `term`, assigning the next runtime id to a new one.
    pub fn id(&mut self, term: TermRef<'_>) -> Result<TermId, InternError> {
        let text = term.to_string();
        if let Some(&id) = self.program.ids.get(&text).or_else(|| self.ids.get(&text)) {
            return Ok(id);
        }
        if self.terms.len() >= RUNTIME_TERMS_MAX {
            return Err(InternError::Full);
        }
        let id = self.len() as TermId;
        self.ids.insert(text, id);
        self.terms.push(term.into_owned());
        Ok(id)
    }

    /// The id of `term` if it has one, without assigning.
    pub fn get(&self, term: TermRef<'_>) -> Option<TermId> {
        let text = term.to_string();
        self.program
            .ids
            .get(&text)
            .or_else(|| self.ids.get(&text))
            .copied()
    }

    pub fn term(&self, id: TermId) -> Option<&Term> {
        let i = id as usize;
        let known = self.program.terms.len();
        if i < known {
            self.program.terms.get(i)
        } else {
            self.terms.get(i - known)
        }
    }

    /// One event's triple as the kernel sees it.
    pub fn observe(
        &mut self,
        op: Op,
        subject: TermRef<'_>,
        predicate: TermRef<'_>,
        object: TermRef<'_>,
    ) -> Result<Observation, InternError> {
        let mut o = Observation {
            s: self.id(subject)?,
            p: self.id(predicate)?,
            o: self.id(object)?,
            datatype: NO_TERM,
            num: f64::NAN,
            len: 0,
            op: match op {
                Op::Add => Observation::ADD,
                Op::Remove => Observation::REMOVE,
            },
            kind: node_kind::IRI,
            _pad: [0; 2],
        };
        match object {
            TermRef::NamedNode(n) => o.len = n.as_str().chars().count() as u32,
            TermRef::BlankNode(_) => o.kind = node_kind::BLANK,
            TermRef::Literal(l) => {
                o.kind = node_kind::LITERAL;
                o.len = l.value().chars().count() as u32;
                let dt = Term::from(l.datatype().into_owned());
                o.datatype = self.id(dt.as_ref())?;
                // By IRI: a numeric datatype the program never names is still numeric.
                if NUMERIC.contains(&l.datatype().as_str()) {
                    o.num = numeric_value(l.datatype().as_str(), l.value());
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Ok(o)
    }
}

/// The numeric datatypes whose literals carry a value for `sh:min/max*`.
const NUMERIC: [&str; 16] = [
    xsd::INTEGER.as_str(),
    xsd::DECIMAL.as_str(),
    xsd::DOUBLE.as_str(),
    xsd::FLOAT.as_str(),
    xsd::INT.as_str(),
    xsd::LONG.as_str(),
    xsd::SHORT.as_str(),
    xsd::BYTE.as_str(),
    xsd::NON_NEGATIVE_INTEGER.as_str(),
    xsd::POSITIVE_INTEGER.as_str(),
    xsd::NEGATIVE_INTEGER.as_str(),
    xsd::NON_POSITIVE_INTEGER.as_str(),
    xsd::UNSIGNED_LONG.as_str(),
    xsd::UNSIGNED_INT.as_str(),
    xsd::UNSIGNED_SHORT.as_str(),
    xsd::UNSIGNED_BYTE.as_str(),
];

/// The value of a numeric literal, NaN when its lexical form is not valid for its datatype
/// (an ill-typed literal compares with nothing).
fn numeric_value(datatype: &str, lexical: &str) -> f64 {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = lexical.strip_prefix(['+', '-']).unwrap_or(lexical);
    let valid = if datatype == xsd::DOUBLE.as_str() || datatype == xsd::FLOAT.as_str() {
        matches!(lexical, "INF" | "+INF" | "-INF" | "NaN") || {
            let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
                Some((m, e)) => (m, Some(e)),
                None => (unsigned, None),
            };
            decimal_form(mantissa)
                && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
        }
    } else if datatype == xsd::DECIMAL.as_str() {
        decimal_form(unsigned)
    } else {
        digits(unsigned)
    };
    if !valid {
        return f64::NAN;
    }
    match lexical {
        "INF" | "+INF" => f64::INFINITY,
        "-INF" => f64::NEG_INFINITY,
        _ => lexical.parse().unwrap_or(f64::NAN),
    }
}

fn decimal_form(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() || !frac.is_empty()) && all_digits(int) && all_digits(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_values_follow_xsd_lexical_forms() {
        let dec = xsd::DECIMAL.as_str();
        assert_eq!(numeric_value(dec, "-1.50"), -1.5);
        assert_eq!(numeric_value(dec, ".5"), 0.5);
        assert!(numeric_value(dec, "1e3").is_nan());
        assert!(numeric_value(dec, "inf").is_nan());
        assert_eq!(numeric_value(xsd::DOUBLE.as_str(), "1e3"), 1000.0);
        assert_eq!(
            numeric_value(xsd::DOUBLE.as_str(), "-INF"),
            f64::NEG_INFINITY
        );
        assert!(numeric_value(xsd::INTEGER.as_str(), "1.0").is_nan());
        assert_eq!(numeric_value(xsd::INTEGER.as_str(), "+42"), 42.0);
    }

    #[test]
    fn terms_round_trip_through_n_triples() {
        for text in [
            "<urn:a>",
            "\"x\"",
            "\"1\"^^<http://www.w3.org/2001/XMLSchema#integer>",
            "\"hi\"@en",
        ] {
            let term = parse_term(text).expect(text);
            assert_eq!(term.to_string(), text);
        }
        assert!(parse_term("<urn:a> <urn:b>").is_none());
    }
}
