//! Constraints evaluated on constant terms at compile time, with the kernel's semantics
//! (`kernel::program::GuardKind`): the checker uses it to find guards no value can pass, and
//! the builder to decide, for a rule that emits a constant, whether the rules it triggers fire.

use oxrdf::{Literal, Term};

use super::extract::Constraint;

const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const SH: &str = "http://www.w3.org/ns/shacl#";

/// Numeric XSD datatypes: their literals get `Observation::num`.
pub fn is_numeric_datatype(iri: &str) -> bool {
    iri.strip_prefix(XSD).is_some_and(|local| {
        matches!(
            local,
            "integer"
                | "decimal"
                | "double"
                | "float"
                | "long"
                | "int"
                | "short"
                | "byte"
                | "nonNegativeInteger"
                | "positiveInteger"
                | "negativeInteger"
                | "nonPositiveInteger"
                | "unsignedLong"
                | "unsignedInt"
                | "unsignedShort"
                | "unsignedByte"
        )
    })
}

/// The numeric value of a literal of a numeric datatype, as the kernel's caller computes it.
pub fn number(literal: &Literal) -> Option<f64> {
    if !is_numeric_datatype(literal.datatype().as_str()) {
        return None;
    }
    let text = literal.value().trim();
    match text {
        "INF" | "+INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        _ => text.parse::<f64>().ok().filter(|v| !v.is_nan()),
    }
}

/// `kernel::program::node_kind` mask of a `sh:nodeKind` value.
pub fn node_kind_mask(iri: &str) -> Option<u32> {
    const IRI: u32 = 1;
    const BLANK: u32 = 2;
    const LITERAL: u32 = 4;
    Some(match iri.strip_prefix(SH)? {
        "IRI" => IRI,
        "BlankNode" => BLANK,
        "Literal" => LITERAL,
        "BlankNodeOrIRI" => BLANK | IRI,
        "BlankNodeOrLiteral" => BLANK | LITERAL,
        "IRIOrLiteral" => IRI | LITERAL,
        _ => return None,
    })
}

fn kind_bit(term: &Term) -> u32 {
    match term {
        Term::NamedNode(_) => 1,
        Term::BlankNode(_) => 2,
        Term::Literal(_) => 4,
        // RDF-star quoted triples are none of the SHACL node kinds.
        Term::Triple(_) => 0,
    }
}

/// A length constraint's bound, when it is a non-negative integer literal.
pub fn length_bound(term: &Term) -> Option<u32> {
    match term {
        Term::Literal(l) if is_numeric_datatype(l.datatype().as_str()) => {
            l.value().trim().parse::<u32>().ok()
        }
        _ => None,
    }
}

/// Compiles a `sh:pattern` / `lg:pattern` with its XPath flags (`i`, `m`, `s`, `x`; `q` is
/// not supported).
pub fn regex(pattern: &Term, flags: Option<&Term>) -> Result<regex::Regex, String> {
    let Term::Literal(pattern) = pattern else {
        return Err("a pattern is a string literal".into());
    };
    let mut builder = regex::RegexBuilder::new(pattern.value());
    if let Some(flags) = flags {
        let Term::Literal(flags) = flags else {
            return Err("flags are a string literal".into());
        };
        for flag in flags.value().chars() {
            match flag {
                'i' => builder.case_insensitive(true),
                'm' => builder.multi_line(true),
                's' => builder.dot_matches_new_line(true),
                'x' => builder.ignore_whitespace(true),
                other => return Err(format!("unsupported regex flag '{other}'")),
            };
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// Whether `value` passes `constraint`; `None` when it cannot be known without the store
/// (`sh:class` on an IRI, an unknown constraint).
pub fn eval(constraint: &Constraint, value: &Term) -> Option<bool> {
    let num = || match value {
        Term::Literal(l) => number(l),
        _ => None,
    };
    let bound = |l: &Literal| number(l);
    let cmp = |l: &Literal, f: fn(f64, f64) -> bool| match (num(), bound(l)) {
        (Some(v), Some(b)) => Some(f(v, b)),
        _ => Some(false),
    };
    let len = || match value {
        Term::NamedNode(n) => Some(n.as_str().chars().count() as u32),
        Term::Literal(l) => Some(l.value().chars().count() as u32),
        Term::BlankNode(_) | Term::Triple(_) => None,
    };
    match constraint {
        Constraint::Datatype(d) => {
            Some(matches!(value, Term::Literal(l) if l.datatype() == d.as_ref()))
        }
        Constraint::MinInclusive(l) => cmp(l, |v, b| v >= b),
        Constraint::MinExclusive(l) => cmp(l, |v, b| v > b),
        Constraint::MaxInclusive(l) => cmp(l, |v, b| v <= b),
        Constraint::MaxExclusive(l) => cmp(l, |v, b| v < b),
        Constraint::MinLength(b) => Some(len().zip(length_bound(b)).is_some_and(|(v, b)| v >= b)),
        Constraint::MaxLength(b) => Some(len().zip(length_bound(b)).is_some_and(|(v, b)| v <= b)),
        Constraint::In(set) => Some(set.contains(value)),
        Constraint::NotIn(set) => Some(!set.contains(value)),
        Constraint::HasValue(v) => Some(v == value),
        Constraint::NodeKind(k) => {
            Some(node_kind_mask(k.as_str()).is_some_and(|m| m & kind_bit(value) != 0))
        }
        Constraint::Class(_) => match value {
            Term::Literal(_) => Some(false),
            _ => None,
        },
        Constraint::Pattern(p, flags) => {
            let re = regex(p, flags.as_ref()).ok()?;
            Some(match value {
                Term::NamedNode(n) => re.is_match(n.as_str()),
                Term::Literal(l) => re.is_match(l.value()),
                Term::BlankNode(_) | Term::Triple(_) => false,
            })
        }
        Constraint::Unknown(..) => None,
    }
}

/// Whether some value can pass every constraint of `guards`; `Err` explains why not.
pub fn satisfiable(guards: &[Constraint]) -> Result<(), String> {
    // Numeric interval: (bound, exclusive).
    let mut lo: Option<(f64, bool, String)> = None;
    let mut hi: Option<(f64, bool, String)> = None;
    let mut numeric = false;
    for g in guards {
        let (l, is_lo, exclusive) = match g {
            Constraint::MinInclusive(l) => (l, true, false),
            Constraint::MinExclusive(l) => (l, true, true),
            Constraint::MaxInclusive(l) => (l, false, false),
            Constraint::MaxExclusive(l) => (l, false, true),
            _ => continue,
        };
        numeric = true;
        let Some(v) = number(l) else {
            return Err(format!("bound {l} is not a number"));
        };
        let slot = if is_lo { &mut lo } else { &mut hi };
        let tighter = match slot {
            None => true,
            Some((b, ex, _)) if is_lo => v > *b || (v == *b && exclusive && !*ex),
            Some((b, ex, _)) => v < *b || (v == *b && exclusive && !*ex),
        };
        if tighter {
            *slot = Some((v, exclusive, l.to_string()));
        }
    }
    if let (Some((l, lx, ls)), Some((h, hx, hs))) = (&lo, &hi)
        && (l > h || (l == h && (*lx || *hx)))
    {
        return Err(format!("no number is above {ls} and below {hs}"));
    }
    let datatypes: Vec<_> = guards
        .iter()
        .filter_map(|g| match g {
            Constraint::Datatype(d) => Some(d),
            _ => None,
        })
        .collect();
    if let Some(w) = datatypes.windows(2).find(|w| w[0] != w[1]) {
        return Err(format!("datatype both {} and {}", w[0], w[1]));
    }
    if numeric
        && let Some(d) = datatypes.first()
        && !is_numeric_datatype(d.as_str())
    {
        return Err(format!("numeric bounds on the non-numeric datatype {d}"));
    }
    let lengths = |min: bool| {
        guards.iter().filter_map(move |g| match (g, min) {
            (Constraint::MinLength(b), true) | (Constraint::MaxLength(b), false) => Some(b),
            _ => None,
        })
    };
    for b in lengths(true).chain(lengths(false)) {
        if length_bound(b).is_none() {
            return Err(format!("length bound {b} is not a non-negative integer"));
        }
    }
    let min_len = lengths(true).filter_map(length_bound).max();
    let max_len = lengths(false).filter_map(length_bound).min();
    if let (Some(a), Some(b)) = (min_len, max_len)
        && a > b
    {
        return Err(format!(
            "no value is at least {a} and at most {b} characters long"
        ));
    }
    for g in guards {
        if let Constraint::Pattern(p, flags) = g {
            regex(p, flags.as_ref()).map_err(|e| format!("pattern {p}: {e}"))?;
        }
        if let Constraint::NodeKind(k) = g
            && node_kind_mask(k.as_str()).is_none()
        {
            return Err(format!("unknown node kind {k}"));
        }
    }
    // Finite sets: some member must pass every other constraint.
    for (i, g) in guards.iter().enumerate() {
        let candidates: Vec<&Term> = match g {
            Constraint::In(set) => set.iter().collect(),
            Constraint::HasValue(v) => vec![v],
            _ => continue,
        };
        let passes = |t: &Term| {
            guards
                .iter()
                .enumerate()
                .all(|(j, other)| i == j || eval(other, t) != Some(false))
        };
        if !candidates.into_iter().any(passes) {
            let what = match g {
                Constraint::In(set) if set.is_empty() => "the set is empty".to_owned(),
                _ => "no listed value passes the other guards".to_owned(),
            };
            return Err(what);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::NamedNode;

    fn dec(v: &str) -> Literal {
        Literal::new_typed_literal(v, NamedNode::new_unchecked(format!("{XSD}decimal")))
    }

    #[test]
    fn min_above_max_is_unsatisfiable() {
        let g = [
            Constraint::MinInclusive(dec("10")),
            Constraint::MaxInclusive(dec("5")),
        ];
        assert!(satisfiable(&g).is_err());
        let g = [
            Constraint::MinInclusive(dec("5")),
            Constraint::MaxExclusive(dec("5")),
        ];
        assert!(satisfiable(&g).is_err());
        let g = [
            Constraint::MinInclusive(dec("5")),
            Constraint::MaxInclusive(dec("5")),
        ];
        assert!(satisfiable(&g).is_ok());
    }

    #[test]
    fn set_members_must_pass_the_other_guards() {
        let set = Constraint::In(vec![Term::Literal(Literal::new_simple_literal("a"))]);
        let g = [set, Constraint::MinLength(Term::Literal(dec("2")))];
        assert!(satisfiable(&g).is_err());
    }

    #[test]
    fn eval_follows_kernel_semantics() {
        let v = Term::Literal(dec("91.5"));
        assert_eq!(eval(&Constraint::MinExclusive(dec("90")), &v), Some(true));
        assert_eq!(eval(&Constraint::MaxExclusive(dec("90")), &v), Some(false));
        let s = Term::Literal(Literal::new_simple_literal("x"));
        assert_eq!(eval(&Constraint::MinInclusive(dec("0")), &s), Some(false));
    }
}
