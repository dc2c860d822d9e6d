//! Binding parameters as RDF terms: a value is parsed into one term of its declared kind,
//! and that term replaces `UNDEF` in the query's placeholder `VALUES` blocks — in the parsed
//! algebra, never in the text.
//!
//! A placeholder is a `VALUES` block with exactly one row whose cells are all `UNDEF`, e.g.
//! `VALUES ?s { UNDEF }` or `VALUES (?from ?to) { (UNDEF UNDEF) }`. Every placeholder that
//! names a parameter gets its term (sub-selects have their own scope, so a query repeats the
//! placeholder in each one that needs it); an optional parameter left out stays `UNDEF`, which
//! joins with anything. Because the value never becomes query text, quotes, braces or
//! `} ; DROP ALL` in it are only ever characters of a literal (or refused as an IRI).
//! Placeholders inside `EXISTS` / `NOT EXISTS` expressions are not reached.

use oxrdf::{Literal, NamedNode};
use spargebra::algebra::GraphPattern;
use spargebra::term::GroundTerm;

use super::{ParamKind, QueryError};
use crate::event::hlc;
use crate::store::as_of::time::parse_rfc3339_ms;
use crate::store::vocab::{XSD_DATE_TIME, XSD_INTEGER};

/// Longest parameter value accepted, in bytes.
pub const PARAM_VALUE_BYTES_MAX: usize = 8_192;

/// Parses `value` as a term of `kind` (`param` names it in errors).
pub fn term(param: &str, kind: ParamKind, value: &str) -> Result<GroundTerm, QueryError> {
    let invalid = |reason: String| QueryError::InvalidValue {
        param: param.to_owned(),
        kind,
        reason,
    };
    if value.len() > PARAM_VALUE_BYTES_MAX {
        return Err(invalid(format!(
            "{} bytes, the limit is {PARAM_VALUE_BYTES_MAX}",
            value.len()
        )));
    }
    Ok(match kind {
        ParamKind::Iri => {
            // `<IRI>` as in N-Triples, or the bare IRI.
            let bare = value
                .strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(value);
            let iri = NamedNode::new(bare).map_err(|e| invalid(format!("<{bare}>: {e}")))?;
            GroundTerm::NamedNode(iri)
        }
        ParamKind::Literal => {
            // An N-Triples literal ("v", "v"@en, "v"^^<dt>); anything else is the text itself.
            let literal = if value.starts_with('"') {
                value
                    .parse::<Literal>()
                    .map_err(|e| invalid(format!("not an N-Triples literal: {e}")))?
            } else {
                Literal::new_simple_literal(value)
            };
            GroundTerm::Literal(literal)
        }
        ParamKind::String => GroundTerm::Literal(Literal::new_simple_literal(value)),
        ParamKind::Integer => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|e| invalid(format!("{value:?}: {e}")))?;
            GroundTerm::Literal(Literal::new_typed_literal(n.to_string(), XSD_INTEGER))
        }
        ParamKind::DateTime => {
            let ms = parse_rfc3339_ms(value.trim()).map_err(|e| invalid(e.to_string()))?;
            let ms = u64::try_from(ms)
                .map_err(|_| invalid(format!("{value:?} is before 1970-01-01T00:00:00Z")))?;
            GroundTerm::Literal(Literal::new_typed_literal(
                hlc::rfc3339_from_ms(ms),
                XSD_DATE_TIME,
            ))
        }
    })
}

/// The `xsd:integer` term of a log size.
pub fn integer(n: u64) -> GroundTerm {
    GroundTerm::Literal(Literal::new_typed_literal(n.to_string(), XSD_INTEGER))
}

/// The pattern of any query form.
pub fn pattern_mut(query: &mut spargebra::Query) -> &mut GraphPattern {
    match query {
        spargebra::Query::Select { pattern, .. }
        | spargebra::Query::Construct { pattern, .. }
        | spargebra::Query::Describe { pattern, .. }
        | spargebra::Query::Ask { pattern, .. } => pattern,
    }
}

/// Calls `f(variable, cell)` for every cell of every placeholder `VALUES` block in `pattern`.
pub fn for_each_placeholder(
    pattern: &mut GraphPattern,
    f: &mut impl FnMut(&str, &mut Option<GroundTerm>),
) {
    match pattern {
        GraphPattern::Values {
            variables,
            bindings,
        } => {
            if let [row] = bindings.as_mut_slice() {
                if row.iter().all(Option::is_none) {
                    for (variable, cell) in variables.iter().zip(row.iter_mut()) {
                        f(variable.as_str(), cell);
                    }
                }
            }
        }
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } => {}
        GraphPattern::Join { left, right }
        | GraphPattern::LeftJoin { left, right, .. }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            for_each_placeholder(left, f);
            for_each_placeholder(right, f);
        }
        GraphPattern::Filter { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Service { inner, .. } => for_each_placeholder(inner, f),
    }
}

/// The variables that have at least one placeholder in `query`.
pub fn placeholder_variables(query: &spargebra::Query) -> std::collections::BTreeSet<String> {
    let mut query = query.clone();
    let mut names = std::collections::BTreeSet::new();
    for_each_placeholder(pattern_mut(&mut query), &mut |variable, _| {
        names.insert(variable.to_owned());
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_parsed_into_one_term_of_their_kind() {
        let t = |kind, v| term("x", kind, v).map(|t| t.to_string());
        assert_eq!(
            t(ParamKind::Iri, "https://e.org/a").unwrap(),
            "<https://e.org/a>"
        );
        assert_eq!(
            t(ParamKind::Iri, "<https://e.org/a>").unwrap(),
            "<https://e.org/a>"
        );
        assert!(t(ParamKind::Iri, "not an iri").is_err());
        assert!(t(ParamKind::Iri, "https://e.org/a> } ; DROP ALL ; <x").is_err());
        assert_eq!(
            t(ParamKind::String, "a\" } DROP ALL #").unwrap(),
            "\"a\\\" } DROP ALL #\""
        );
        assert_eq!(t(ParamKind::Literal, "\"chat\"@fr").unwrap(), "\"chat\"@fr");
        assert_eq!(t(ParamKind::Literal, "plain").unwrap(), "\"plain\"");
        assert!(t(ParamKind::Literal, "\"unterminated").is_err());
        assert_eq!(
            t(ParamKind::Integer, "42").unwrap(),
            "\"42\"^^<http://www.w3.org/2001/XMLSchema#integer>"
        );
        assert!(t(ParamKind::Integer, "4 2").is_err());
        assert_eq!(
            t(ParamKind::DateTime, "2026-12-02T15:04:05+01:00").unwrap(),
            "\"2026-12-02T14:04:05.000Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>"
        );
        assert!(t(ParamKind::DateTime, "yesterday").is_err());
        assert!(t(ParamKind::String, &"x".repeat(PARAM_VALUE_BYTES_MAX + 1)).is_err());
    }
}
