//! The header comment of a named query: its title, description and parameters.
//!
//! ```text
//! # title: Subject history
//! # description: Every event whose triple has the subject s, …   (may repeat: lines are joined)
//! # param: s iri — the subject
//! # param: from dateTime optional — only events at or after this instant
//! # wait: none                                                  (optional, see below)
//! ```
//!
//! `# wait: none` tells the runner not to wait for the event-graph projection to reach the
//! log's size before running the query — for queries that observe the projections
//! themselves (`metrics/projection-lag`), which would otherwise block exactly when they matter.
//!
//! The header is the run of `#` lines at the top of the file; other comment lines in it are
//! free text and ignored. The separator before a parameter's description is an em dash `—`
//! (or ` - `). This module only reads the header; binding is [`super::bind`].

use super::{ParamKind, ParamSpec, QueryError};

/// What a header declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub title: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    /// Whether the runner waits for the event graph first (`# wait: none` says no).
    pub waits: bool,
}

/// Most parameters one query may declare.
pub const PARAMS_MAX: usize = 32;

/// Reads the header of `text` (the query named `name`, for error messages).
pub fn parse(name: &str, text: &str) -> Result<Header, QueryError> {
    let mut header = Header {
        waits: true,
        ..Header::default()
    };
    let mut description: Vec<&str> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let comment = comment.trim();
        let error = |reason: String| QueryError::Header {
            name: name.to_owned(),
            line: index + 1,
            reason,
        };
        if let Some(title) = comment.strip_prefix("title:") {
            header.title = title.trim().to_owned();
        } else if let Some(text) = comment.strip_prefix("description:") {
            description.push(text.trim());
        } else if let Some(wait) = comment.strip_prefix("wait:") {
            header.waits = match wait.trim() {
                "none" => false,
                "event-graph" => true,
                other => {
                    return Err(error(format!(
                        "`# wait:` takes none or event-graph, not {other:?}"
                    )));
                }
            };
        } else if let Some(param) = comment.strip_prefix("param:") {
            let param = parse_param(param.trim()).map_err(error)?;
            if header.params.iter().any(|p| p.name == param.name) {
                return Err(error(format!("parameter {} declared twice", param.name)));
            }
            if param.name == super::LOG_SIZE_VAR {
                return Err(error(format!(
                    "{} is bound by the runner, not declared",
                    super::LOG_SIZE_VAR
                )));
            }
            header.params.push(param);
            if header.params.len() > PARAMS_MAX {
                return Err(error(format!("more than {PARAMS_MAX} parameters")));
            }
        }
    }
    header.description = description.join(" ");
    if header.title.is_empty() {
        return Err(QueryError::Header {
            name: name.to_owned(),
            line: 1,
            reason: "no `# title:` line".into(),
        });
    }
    Ok(header)
}

/// `NAME KIND [optional] — description`.
fn parse_param(text: &str) -> Result<ParamSpec, String> {
    let (spec, description) = match text.split_once('—') {
        Some((spec, description)) => (spec, description.trim()),
        None => match text.split_once(" - ") {
            Some((spec, description)) => (spec, description.trim()),
            None => (text, ""),
        },
    };
    let mut words = spec.split_whitespace();
    let (Some(name), Some(kind)) = (words.next(), words.next()) else {
        return Err(format!(
            "expected `# param: NAME KIND [optional] — description`, got {text:?}"
        ));
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "parameter name {name:?} is not a SPARQL variable name"
        ));
    }
    let kind: ParamKind = kind.parse()?;
    let required = match words.next() {
        None => true,
        Some("optional") => false,
        Some(other) => return Err(format!("expected `optional` or `—`, got {other:?}")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} before the description"));
    }
    Ok(ParamSpec {
        name: name.to_owned(),
        kind,
        required,
        description: description.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_give_title_joined_description_and_params() {
        let text = "# title: T\n# description: one\n# free text\n# description: two\n\
                    # param: s iri — the subject\n# param: from dateTime optional - start\n\
                    SELECT * {}\n# title: ignored after the header\n";
        let h = parse("x/y", text).unwrap();
        assert_eq!(h.title, "T");
        assert_eq!(h.description, "one two");
        assert_eq!(h.params.len(), 2);
        assert_eq!(h.params[0].name, "s");
        assert_eq!(h.params[0].kind, ParamKind::Iri);
        assert!(h.params[0].required);
        assert_eq!(h.params[0].description, "the subject");
        assert_eq!(h.params[1].kind, ParamKind::DateTime);
        assert!(!h.params[1].required);
        assert!(h.waits);
        assert!(!parse("x/y", "# title: T\n# wait: none\n").unwrap().waits);
        assert!(parse("x/y", "# title: T\n# wait: later\n").is_err());
    }

    #[test]
    fn bad_headers_name_the_line() {
        for (text, line) in [
            ("# title: T\n# param: s uri — x\n", 2),
            ("# title: T\n# param: s\n", 2),
            ("# title: T\n# param: 1s iri\n", 2),
            ("# title: T\n# param: s iri maybe — x\n", 2),
            ("# title: T\n# param: s iri\n# param: s string\n", 3),
            ("# title: T\n# param: logSize integer\n", 2),
            ("# description: no title\n", 1),
        ] {
            match parse("x/y", text) {
                Err(QueryError::Header { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
