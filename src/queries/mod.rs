//! Named queries: the SPARQL in `queries/metrics/`, `queries/audit/` and `queries/replay/`,
//! compiled into the binary, with their parameters bound as RDF terms.
//!
//! A query's name is its path under `queries/` without `.rq` (`audit/subject-history`). Its
//! header comment ([`header`]) gives a title, a description and typed parameters; binding
//! ([`bind`]) parses each value into one term of its kind and puts it in the query's
//! placeholder `VALUES` blocks in the parsed algebra — values are never spliced into query
//! text. One variable is bound by the runner rather than the caller: `?logSize`
//! ([`LOG_SIZE_VAR`]), the log size the answer is for (the log's size, or the `asOf` size),
//! which the event-graph queries use to leave out later events, so `asOf` works on them
//! exactly (the event graph only grows).
//!
//! This module does not evaluate queries nor know HTTP: `http::queries` and `cli` run them.
//! Files are embedded (`include_str!`) so the binary works from any directory; a test keeps
//! [`BUILTIN`] equal to the files on disk.

pub mod bind;
pub mod header;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Serialize;
use spargebra::SparqlParser;

/// The variable the runner binds to the log size the query answers for.
pub const LOG_SIZE_VAR: &str = "logSize";
/// Most parameters one request may pass.
pub const REQUEST_PARAMS_MAX: usize = 64;

/// `lg:hlcDateTime(?hlc)`: the `xsd:dateTime` (UTC, milliseconds) of a hybrid-logical-clock
/// time (`lg:time`, milliseconds << 16 | counter). A function rather than SPARQL date
/// arithmetic: Oxigraph 0.5 answers nothing for some `xsd:dateTime + xsd:dayTimeDuration` sums.
pub const HLC_DATE_TIME_FN: &str = "https://ledgraph.dev/ns#hlcDateTime";
/// `lg:hlcMinute(?hlc)`: the same, truncated to the minute.
pub const HLC_MINUTE_FN: &str = "https://ledgraph.dev/ns#hlcMinute";

/// The evaluator named queries run with: the `lg:` functions above registered.
pub fn evaluator() -> oxigraph::sparql::SparqlEvaluator {
    oxigraph::sparql::SparqlEvaluator::new()
        .with_custom_function(oxrdf::NamedNode::new_unchecked(HLC_DATE_TIME_FN), |args| {
            hlc_date_time(args, 1)
        })
        .with_custom_function(oxrdf::NamedNode::new_unchecked(HLC_MINUTE_FN), |args| {
            hlc_date_time(args, 60_000)
        })
}

/// `args[0]` (an integer literal, an HLC time) as an `xsd:dateTime`, truncated to `unit_ms`.
fn hlc_date_time(args: &[oxrdf::Term], unit_ms: u64) -> Option<oxrdf::Term> {
    let [oxrdf::Term::Literal(hlc)] = args else {
        return None;
    };
    // An integer, or a decimal with a zero fraction (what FLOOR and friends give back).
    let digits = hlc.value().split('.').next()?;
    let ms = crate::event::hlc::millis(digits.parse().ok()?);
    let ms = ms - ms % unit_ms;
    Some(
        oxrdf::Literal::new_typed_literal(
            crate::event::hlc::rfc3339_from_ms(ms),
            crate::store::vocab::XSD_DATE_TIME,
        )
        .into(),
    )
}

/// Every built-in query: (name, text). `queries/compiler/` is the compiler's, not listed.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "audit/actor-activity",
        include_str!("../../queries/audit/actor-activity.rq"),
    ),
    (
        "audit/provenance",
        include_str!("../../queries/audit/provenance.rq"),
    ),
    (
        "audit/subject-history",
        include_str!("../../queries/audit/subject-history.rq"),
    ),
    (
        "metrics/events-per-minute-per-actor",
        include_str!("../../queries/metrics/events-per-minute-per-actor.rq"),
    ),
    (
        "metrics/ingest-latency",
        include_str!("../../queries/metrics/ingest-latency.rq"),
    ),
    (
        "metrics/projection-lag",
        include_str!("../../queries/metrics/projection-lag.rq"),
    ),
    (
        "metrics/rejected-batches-by-shape",
        include_str!("../../queries/metrics/rejected-batches-by-shape.rq"),
    ),
    (
        "metrics/transaction-latency",
        include_str!("../../queries/metrics/transaction-latency.rq"),
    ),
    (
        "replay/by-actor",
        include_str!("../../queries/replay/by-actor.rq"),
    ),
    (
        "replay/by-predicate",
        include_str!("../../queries/replay/by-predicate.rq"),
    ),
    (
        "replay/except-actor",
        include_str!("../../queries/replay/except-actor.rq"),
    ),
    (
        "replay/time-range",
        include_str!("../../queries/replay/time-range.rq"),
    ),
];

/// Errors of the catalog and of binding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("no named query {0:?}; GET /v1/queries lists them")]
    UnknownQuery(String),
    #[error("{query} takes no parameter {param:?} (it takes: {known})")]
    UnknownParam {
        query: String,
        param: String,
        known: String,
    },
    #[error("{query} needs the parameter {param:?}")]
    MissingParam { query: String, param: String },
    #[error("parameter {0:?} is given more than once")]
    DuplicateParam(String),
    #[error("more than {REQUEST_PARAMS_MAX} parameters")]
    TooManyParams,
    #[error("parameter {param:?} ({kind}): {reason}")]
    InvalidValue {
        param: String,
        kind: ParamKind,
        reason: String,
    },
    /// The query file's header is malformed.
    #[error("{name}: header line {line}: {reason}")]
    Header {
        name: String,
        line: usize,
        reason: String,
    },
    #[error("{name}: {source}")]
    Syntax {
        name: String,
        source: spargebra::SparqlSyntaxError,
    },
    /// A declared parameter has no `VALUES ?name { UNDEF }` placeholder to be bound in.
    #[error("{name}: parameter {param:?} has no placeholder `VALUES ?{param} {{ UNDEF }}`")]
    NoPlaceholder { name: String, param: String },
    #[error("{name} does not support asOf (it has no ?{LOG_SIZE_VAR} placeholder)")]
    NoAsOf { name: String },
}

impl QueryError {
    /// Whether the caller's request is at fault (400/404), not the query file.
    pub fn is_caller_error(&self) -> bool {
        !matches!(
            self,
            QueryError::Header { .. }
                | QueryError::Syntax { .. }
                | QueryError::NoPlaceholder { .. }
        )
    }
}

/// What a parameter's value is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ParamKind {
    /// An absolute IRI, bare or in `<…>`.
    Iri,
    /// An N-Triples literal (`"v"`, `"v"@en`, `"v"^^<dt>`), or plain text as a simple literal.
    Literal,
    /// An `xsd:integer`.
    Integer,
    /// An RFC 3339 date-time, bound as an `xsd:dateTime` in UTC (millisecond precision).
    DateTime,
    /// The text as a simple literal (`xsd:string`).
    String,
}

impl std::fmt::Display for ParamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParamKind::Iri => "iri",
            ParamKind::Literal => "literal",
            ParamKind::Integer => "integer",
            ParamKind::DateTime => "dateTime",
            ParamKind::String => "string",
        })
    }
}

impl std::str::FromStr for ParamKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "iri" => ParamKind::Iri,
            "literal" => ParamKind::Literal,
            "integer" => ParamKind::Integer,
            "dateTime" => ParamKind::DateTime,
            "string" => ParamKind::String,
            other => {
                return Err(format!(
                    "unknown kind {other:?} (iri, literal, integer, dateTime or string)"
                ));
            }
        })
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub description: String,
}

/// One parsed named query.
#[derive(Debug, Clone)]
pub struct NamedQuery {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    query: spargebra::Query,
    takes_log_size: bool,
    waits: bool,
}

impl NamedQuery {
    /// Parses a query file: its header, its SPARQL, and a placeholder for every parameter.
    pub fn parse(name: &str, text: &str) -> Result<Self, QueryError> {
        let header = header::parse(name, text)?;
        let query = SparqlParser::new()
            .parse_query(text)
            .map_err(|source| QueryError::Syntax {
                name: name.to_owned(),
                source,
            })?;
        let placeholders = bind::placeholder_variables(&query);
        for param in &header.params {
            if !placeholders.contains(&param.name) {
                return Err(QueryError::NoPlaceholder {
                    name: name.to_owned(),
                    param: param.name.clone(),
                });
            }
        }
        Ok(NamedQuery {
            name: name.to_owned(),
            title: header.title,
            description: header.description,
            params: header.params,
            takes_log_size: placeholders.contains(LOG_SIZE_VAR),
            waits: header.waits,
            query,
        })
    }

    /// Whether the query leaves out events past `?logSize` (and so answers `asOf`).
    pub fn takes_log_size(&self) -> bool {
        self.takes_log_size
    }

    /// Whether the runner should wait for the event graph to reach `?logSize` first (the
    /// header's `# wait:`; yes unless it says `none`).
    pub fn waits_for_event_graph(&self) -> bool {
        self.waits
    }

    /// The query with `params` (name, value) bound and `?logSize` set to `log_size`.
    /// `as_of` says the log size comes from `asOf`, which needs a `?logSize` placeholder.
    pub fn bind(
        &self,
        params: &[(String, String)],
        log_size: u64,
        as_of: bool,
    ) -> Result<spargebra::Query, QueryError> {
        if as_of && !self.takes_log_size {
            return Err(QueryError::NoAsOf {
                name: self.name.clone(),
            });
        }
        if params.len() > REQUEST_PARAMS_MAX {
            return Err(QueryError::TooManyParams);
        }
        let mut terms = BTreeMap::new();
        for (name, value) in params {
            let Some(spec) = self.params.iter().find(|p| &p.name == name) else {
                return Err(QueryError::UnknownParam {
                    query: self.name.clone(),
                    param: name.clone(),
                    known: self.param_names(),
                });
            };
            if terms.contains_key(name.as_str()) {
                return Err(QueryError::DuplicateParam(name.clone()));
            }
            terms.insert(name.as_str(), bind::term(name, spec.kind, value)?);
        }
        if let Some(missing) = self
            .params
            .iter()
            .find(|p| p.required && !terms.contains_key(p.name.as_str()))
        {
            return Err(QueryError::MissingParam {
                query: self.name.clone(),
                param: missing.name.clone(),
            });
        }
        terms.insert(LOG_SIZE_VAR, bind::integer(log_size));
        let mut query = self.query.clone();
        bind::for_each_placeholder(bind::pattern_mut(&mut query), &mut |variable, cell| {
            if let Some(term) = terms.get(variable) {
                *cell = Some(term.clone());
            }
        });
        Ok(query)
    }

    fn param_names(&self) -> String {
        if self.params.is_empty() {
            return "none".into();
        }
        self.params
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The named queries, by name.
#[derive(Debug, Default)]
pub struct Catalog {
    queries: BTreeMap<String, NamedQuery>,
}

impl Catalog {
    /// Parses every `(name, text)`.
    pub fn parse(files: &[(&str, &str)]) -> Result<Self, QueryError> {
        let mut queries = BTreeMap::new();
        for (name, text) in files {
            queries.insert((*name).to_owned(), NamedQuery::parse(name, text)?);
        }
        Ok(Catalog { queries })
    }

    /// The built-in catalog ([`BUILTIN`]), parsed once. An error here is a broken query file
    /// shipped in the binary (a unit test parses them all).
    pub fn builtin() -> Result<&'static Catalog, &'static QueryError> {
        static CATALOG: OnceLock<Result<Catalog, QueryError>> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(BUILTIN)).as_ref()
    }

    pub fn get(&self, name: &str) -> Result<&NamedQuery, QueryError> {
        self.queries
            .get(name)
            .ok_or_else(|| QueryError::UnknownQuery(name.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &NamedQuery> {
        self.queries.values()
    }

    pub fn names(&self) -> BTreeSet<&str> {
        self.queries.keys().map(String::as_str).collect()
    }
}

/// The JSON of `GET /v1/queries` for one query.
#[derive(Debug, Serialize)]
pub struct QueryInfo<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub params: &'a [ParamSpec],
}

impl<'a> From<&'a NamedQuery> for QueryInfo<'a> {
    fn from(q: &'a NamedQuery) -> Self {
        QueryInfo {
            name: &q.name,
            title: &q.title,
            description: &q.description,
            params: &q.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_query_parses_with_a_placeholder_per_parameter() {
        let catalog = Catalog::builtin().unwrap();
        assert_eq!(catalog.iter().count(), BUILTIN.len());
        for q in catalog.iter() {
            assert!(!q.description.is_empty(), "{} has a description", q.name);
        }
    }

    #[test]
    fn the_builtin_list_is_the_files_on_disk() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk = BTreeSet::new();
        for group in ["audit", "metrics", "replay"] {
            for entry in std::fs::read_dir(root.join(group)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "rq") {
                    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                    on_disk.insert(format!("{group}/{stem}"));
                }
            }
        }
        let listed: BTreeSet<String> = BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn parameters_are_checked_before_binding() {
        let catalog = Catalog::builtin().unwrap();
        let q = catalog.get("audit/subject-history").unwrap();
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert!(matches!(
            q.bind(&[], 0, false),
            Err(QueryError::MissingParam { .. })
        ));
        assert!(matches!(
            q.bind(&[p("s", "https://e.org/a"), p("x", "1")], 0, false),
            Err(QueryError::UnknownParam { .. })
        ));
        assert!(matches!(
            q.bind(
                &[p("s", "https://e.org/a"), p("s", "https://e.org/b")],
                0,
                false
            ),
            Err(QueryError::DuplicateParam(_))
        ));
        assert!(matches!(
            q.bind(&[p("s", "not an IRI")], 0, false),
            Err(QueryError::InvalidValue { .. })
        ));
        let bound = q.bind(&[p("s", "https://e.org/a")], 7, true).unwrap();
        let text = bound.to_string();
        assert!(text.contains("<https://e.org/a>"), "{text}");
        assert!(text.contains("\"7\"^^"), "{text}");
        let lag = catalog.get("metrics/ingest-latency").unwrap();
        assert!(matches!(
            lag.bind(&[], 0, true),
            Err(QueryError::NoAsOf { .. })
        ));
    }
}
