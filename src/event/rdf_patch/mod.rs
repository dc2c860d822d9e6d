//! RDF Patch input (<https://jena.apache.org/documentation/rdf-patch/>): rows of `H`, `TX`,
//! `TC`, `TA`, `PA`, `PD`, `A` and `D`, each ending with ` .`.
//!
//! ```text
//! H id <uuid:0686c69d-8f89-4496-acb5-744f0157a8db> .
//! TX .
//! PA "ex" <http://example.org/> .
//! A ex:s ex:p "o"@en .
//! D ex:s ex:p ex:o ex:graph .
//! TC .
//! ```
//!
//! What one parse means: the whole input is **one** ledgraph transaction, whatever `TX`/`TC`
//! blocks it contains; `TA` drops the rows (changes and prefix changes) since its `TX`. `H`
//! headers (`id`, `prev`, anything else) are accepted and ignored. Prefixes declared with `PA`
//! can be used as prefixed names (`ex:s`) in later rows, including as a literal's datatype.
//! Blank nodes (`_:b`, or Jena's `<_:b>`) are returned as blank nodes; the caller skolemizes.
//!
//! Rows are line-based, as every RDF Patch writer (Jena's, `ledgraph log export`) prints them:
//! one row per line, `#` comments, blank lines allowed. Term syntax is N-Triples (parsed by
//! `oxrdf`'s term parser, which also reads the Turtle shorthands `true`, `false`, `12`, `1.5`,
//! `1e3`) plus prefixed names; a small scanner here only finds where each term ends.
//!
//! Deliberately not supported: a row spanning lines, RDF 1.2 triple terms (`<<…>>`), relative
//! IRIs (a patch has no base), and Turtle's single-quoted and long (`"""`) strings. Every error
//! carries the 1-based line and column (in characters) of the offending token.

use std::collections::HashMap;
use std::str::FromStr;

use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

use super::Op;
use super::input::{INPUT_CHANGES_MAX, InputError, Position};

mod tokens;

use tokens::{At, Token, TokenKind, tokenize};

/// Upper bound of prefixes declared at once in one patch (guards memory on hostile input).
pub const RDF_PATCH_PREFIXES_MAX: usize = 4_096;

/// Parses an RDF Patch into changes (see the module doc).
///
/// ```
/// use ledgraph::event::Op;
/// use ledgraph::event::rdf_patch::parse_rdf_patch;
///
/// let patch = b"TX .\nPA \"ex\" <http://example.org/> .\nA ex:s ex:p \"v\" .\nTC .\n";
/// let changes = parse_rdf_patch(patch).unwrap();
/// assert_eq!(changes.len(), 1);
/// assert_eq!(changes[0].0, Op::Add);
/// assert_eq!(changes[0].1.subject.to_string(), "<http://example.org/s>");
/// ```
pub fn parse_rdf_patch(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    let text = utf8(input)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = PatchParser::default();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        parser.row(index as u64 + 1, line)?;
    }
    parser.finish()
}

fn utf8(input: &[u8]) -> Result<&str, InputError> {
    std::str::from_utf8(input).map_err(|e| {
        let valid = &input[..e.valid_up_to()];
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        // The prefix is valid UTF-8 by construction, so this never falls back.
        let column = std::str::from_utf8(&valid[line_start..]).map_or(0, |s| s.chars().count());
        InputError {
            position: Position::LineColumn {
                line: valid.iter().filter(|b| **b == b'\n').count() as u64 + 1,
                column: column as u64 + 1,
            },
            message: "invalid UTF-8".into(),
        }
    })
}

/// An open `TX`: where it started, and how to undo it on `TA`.
struct Transaction {
    line: u64,
    changes_before: usize,
    /// Previous bindings of the prefixes changed since `TX`, oldest first.
    prefix_undo: Vec<(String, Option<String>)>,
}

#[derive(Default)]
struct PatchParser {
    prefixes: HashMap<String, String>,
    changes: Vec<(Op, Quad)>,
    transaction: Option<Transaction>,
}

impl PatchParser {
    fn row(&mut self, line_no: u64, line: &str) -> Result<(), InputError> {
        let at = At { line_no, line };
        let tokens = tokenize(&at)?;
        let Some((last, body)) = tokens.split_last() else {
            return Ok(());
        };
        if last.kind != TokenKind::Dot {
            return Err(at.error(line.trim_end().len(), "a row must end with \" .\""));
        }
        let Some((keyword, args)) = body.split_first() else {
            return Err(at.error(last.start, "empty row: expected a row type before \".\""));
        };
        if let Some(dot) = args.iter().find(|t| t.kind == TokenKind::Dot) {
            return Err(at.error(dot.start, "unexpected \".\": one row per line"));
        }
        let no_args = |name: &str| match args.first() {
            Some(t) => Err(at.error(t.start, format!("{name} takes no arguments"))),
            None => Ok(()),
        };
        match (keyword.kind, keyword.text) {
            (TokenKind::Word, "H") => header(&at, keyword, args),
            (TokenKind::Word, "TX") => {
                no_args("TX")?;
                self.begin(&at, keyword)
            }
            (TokenKind::Word, "TC") => {
                no_args("TC")?;
                match self.transaction.take() {
                    Some(_) => Ok(()),
                    None => Err(at.error(keyword.start, "TC without an open TX")),
                }
            }
            (TokenKind::Word, "TA") => {
                no_args("TA")?;
                self.abort(&at, keyword)
            }
            (TokenKind::Word, "PA") => self.prefix_add(&at, keyword, args),
            (TokenKind::Word, "PD") => self.prefix_delete(&at, keyword, args),
            (TokenKind::Word, "A") => self.change(&at, Op::Add, keyword, args),
            (TokenKind::Word, "D") => self.change(&at, Op::Remove, keyword, args),
            _ => Err(at.error(
                keyword.start,
                format!(
                    "unknown row type {:?}: expected H, TX, TC, TA, PA, PD, A or D",
                    keyword.text
                ),
            )),
        }
    }

    fn begin(&mut self, at: &At<'_>, keyword: &Token<'_>) -> Result<(), InputError> {
        if let Some(open) = &self.transaction {
            return Err(at.error(
                keyword.start,
                format!(
                    "nested TX: the TX on line {} is not committed (TC) or aborted (TA)",
                    open.line
                ),
            ));
        }
        self.transaction = Some(Transaction {
            line: at.line_no,
            changes_before: self.changes.len(),
            prefix_undo: Vec::new(),
        });
        Ok(())
    }

    fn abort(&mut self, at: &At<'_>, keyword: &Token<'_>) -> Result<(), InputError> {
        let Some(tx) = self.transaction.take() else {
            return Err(at.error(keyword.start, "TA without an open TX"));
        };
        self.changes.truncate(tx.changes_before);
        for (prefix, previous) in tx.prefix_undo.into_iter().rev() {
            match previous {
                Some(namespace) => self.prefixes.insert(prefix, namespace),
                None => self.prefixes.remove(&prefix),
            };
        }
        Ok(())
    }

    fn set_prefix(&mut self, prefix: String, namespace: Option<String>) {
        let previous = match namespace {
            Some(namespace) => self.prefixes.insert(prefix.clone(), namespace),
            None => self.prefixes.remove(&prefix),
        };
        if let Some(tx) = &mut self.transaction {
            tx.prefix_undo.push((prefix, previous));
        }
    }

    fn prefix_add(
        &mut self,
        at: &At<'_>,
        keyword: &Token<'_>,
        args: &[Token<'_>],
    ) -> Result<(), InputError> {
        let [prefix, namespace] = args else {
            return Err(at.error(
                keyword.start,
                format!(
                    "PA takes a prefix and a namespace IRI (PA \"ex\" <http://example.org/> .), found {} arguments",
                    args.len()
                ),
            ));
        };
        let prefix = prefix_name(at, prefix)?;
        let namespace = namespace_iri(at, namespace)?;
        if !self.prefixes.contains_key(&prefix) && self.prefixes.len() == RDF_PATCH_PREFIXES_MAX {
            return Err(at.error(
                keyword.start,
                format!("more than {RDF_PATCH_PREFIXES_MAX} prefixes declared at once"),
            ));
        }
        self.set_prefix(prefix, Some(namespace));
        Ok(())
    }

    fn prefix_delete(
        &mut self,
        at: &At<'_>,
        keyword: &Token<'_>,
        args: &[Token<'_>],
    ) -> Result<(), InputError> {
        // Jena writes `PD "ex" .`; some writers repeat the namespace, which is then ignored.
        let (prefix, namespace) = match args {
            [prefix] => (prefix, None),
            [prefix, namespace] => (prefix, Some(namespace)),
            _ => {
                return Err(at.error(
                    keyword.start,
                    format!(
                        "PD takes a prefix (PD \"ex\" .), found {} arguments",
                        args.len()
                    ),
                ));
            }
        };
        let prefix = prefix_name(at, prefix)?;
        if let Some(namespace) = namespace {
            namespace_iri(at, namespace)?;
        }
        self.set_prefix(prefix, None);
        Ok(())
    }

    fn change(
        &mut self,
        at: &At<'_>,
        op: Op,
        keyword: &Token<'_>,
        args: &[Token<'_>],
    ) -> Result<(), InputError> {
        let (s, p, o, g) = match args {
            [s, p, o] => (s, p, o, None),
            [s, p, o, g] => (s, p, o, Some(g)),
            _ => {
                return Err(at.error(
                    keyword.start,
                    format!(
                        "{} takes 3 terms (a triple) or 4 (a quad in a named graph), found {}",
                        keyword.text,
                        args.len()
                    ),
                ));
            }
        };
        let subject = match self.term(at, s)? {
            Term::NamedNode(n) => NamedOrBlankNode::NamedNode(n),
            Term::BlankNode(b) => NamedOrBlankNode::BlankNode(b),
            _ => return Err(at.error(s.start, "the subject must be an IRI or blank node")),
        };
        let predicate = match self.term(at, p)? {
            Term::NamedNode(n) => n,
            _ => return Err(at.error(p.start, "the predicate must be an IRI")),
        };
        let object = self.term(at, o)?;
        let graph = match g {
            None => GraphName::DefaultGraph,
            Some(g) => match self.term(at, g)? {
                Term::NamedNode(n) => GraphName::NamedNode(n),
                Term::BlankNode(b) => GraphName::BlankNode(b),
                _ => return Err(at.error(g.start, "the graph must be an IRI or blank node")),
            },
        };
        if self.changes.len() == INPUT_CHANGES_MAX {
            return Err(at.error(
                keyword.start,
                format!("more than {INPUT_CHANGES_MAX} changes in one input"),
            ));
        }
        self.changes
            .push((op, Quad::new(subject, predicate, object, graph)));
        Ok(())
    }

    fn term(&self, at: &At<'_>, token: &Token<'_>) -> Result<Term, InputError> {
        let bad = |e: &dyn std::fmt::Display| {
            at.error(token.start, format!("invalid term {}: {e}", token.text))
        };
        match token.kind {
            TokenKind::Iri => match token.text.strip_prefix("<_:") {
                // Jena writes blank nodes as `<_:label>` so labels survive a round trip.
                Some(label) => BlankNode::new(label.trim_end_matches('>'))
                    .map(Term::from)
                    .map_err(|e| bad(&e)),
                None => NamedNode::from_str(token.text)
                    .map(Term::from)
                    .map_err(|e| bad(&e)),
            },
            TokenKind::Literal {
                datatype: Some(offset),
            } if !token.text[offset..].starts_with('<') => {
                let value = Literal::from_str(&token.text[..offset - 2]).map_err(|e| bad(&e))?;
                let datatype =
                    self.prefixed_name(at, token.start + offset, &token.text[offset..])?;
                Ok(Literal::new_typed_literal(value.value(), datatype).into())
            }
            TokenKind::Literal { .. } => Literal::from_str(token.text)
                .map(Term::from)
                .map_err(|e| bad(&e)),
            TokenKind::Word => self.word(at, token),
            TokenKind::Dot => Err(at.error(token.start, "expected a term, found \".\"")),
        }
    }

    /// A bare word in term position: blank node, number, boolean or prefixed name.
    fn word(&self, at: &At<'_>, token: &Token<'_>) -> Result<Term, InputError> {
        let text = token.text;
        if text.starts_with("_:") {
            return BlankNode::from_str(text)
                .map(Term::from)
                .map_err(|e| at.error(token.start, format!("invalid blank node {text}: {e}")));
        }
        let first = text.chars().next().unwrap_or(' ');
        if text == "true" || text == "false" || first.is_ascii_digit() || "+-.".contains(first) {
            return Literal::from_str(text)
                .map(Term::from)
                .map_err(|e| at.error(token.start, format!("invalid literal {text}: {e}")));
        }
        self.prefixed_name(at, token.start, text).map(Term::from)
    }

    fn prefixed_name(
        &self,
        at: &At<'_>,
        start: usize,
        text: &str,
    ) -> Result<NamedNode, InputError> {
        let Some((prefix, local)) = text.split_once(':') else {
            return Err(at.error(
                start,
                format!("unexpected {text:?}: expected an IRI <…>, a literal, a blank node _:b or a prefixed name"),
            ));
        };
        let Some(namespace) = self.prefixes.get(prefix) else {
            let hint = if local.starts_with("//") {
                " (write IRIs in angle brackets)"
            } else {
                ""
            };
            return Err(at.error(
                start,
                format!("undefined prefix \"{prefix}:\"; declare it with PA{hint}"),
            ));
        };
        NamedNode::new(format!("{namespace}{}", unescape_local(local)))
            .map_err(|e| at.error(start, format!("invalid prefixed name {text}: {e}")))
    }

    fn finish(self) -> Result<Vec<(Op, Quad)>, InputError> {
        if let Some(open) = self.transaction {
            return Err(InputError {
                position: Position::LineColumn {
                    line: open.line,
                    column: 1,
                },
                message: "TX is not committed (TC) or aborted (TA) before the end of the input"
                    .into(),
            });
        }
        Ok(self.changes)
    }
}

/// `H key value .`: checked for shape, otherwise ignored.
fn header(at: &At<'_>, keyword: &Token<'_>, args: &[Token<'_>]) -> Result<(), InputError> {
    match args.first() {
        Some(key) if key.kind == TokenKind::Word => Ok(()),
        Some(key) => Err(at.error(key.start, "a header name must be a bare word (H id <…> .)")),
        None => Err(at.error(keyword.start, "H takes a header name and a value")),
    }
}

/// A prefix as Jena writes it (`"ex"`), or as a bare word (`ex` / `ex:`).
fn prefix_name(at: &At<'_>, token: &Token<'_>) -> Result<String, InputError> {
    let name = match token.kind {
        TokenKind::Literal { datatype: None } => simple_string(token.text)
            .map_err(|e| at.error(token.start, format!("invalid prefix {}: {e}", token.text)))?,
        TokenKind::Word => token
            .text
            .strip_suffix(':')
            .unwrap_or(token.text)
            .to_owned(),
        _ => return Err(at.error(token.start, "expected a prefix name (\"ex\")")),
    };
    let valid = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with(['-', '.'])
        && !name.ends_with('.');
    if !valid {
        return Err(at.error(
            token.start,
            format!("invalid prefix name {name:?}: letters, digits, '_', '-' and inner '.' only"),
        ));
    }
    Ok(name)
}

/// A namespace as `<iri>` or as a string (Jena writes `"http://…"`).
fn namespace_iri(at: &At<'_>, token: &Token<'_>) -> Result<String, InputError> {
    let iri = match token.kind {
        TokenKind::Iri => NamedNode::from_str(token.text).map_err(|e| e.to_string()),
        TokenKind::Literal { datatype: None } => simple_string(token.text)
            .and_then(|value| NamedNode::new(value).map_err(|e| e.to_string())),
        _ => return Err(at.error(token.start, "expected a namespace IRI <…>")),
    };
    iri.map(NamedNode::into_string).map_err(|e| {
        at.error(
            token.start,
            format!("invalid namespace {}: {e}", token.text),
        )
    })
}

/// The value of a plain `"…"` string (no language tag, no datatype).
fn simple_string(text: &str) -> Result<String, String> {
    let literal = Literal::from_str(text).map_err(|e| e.to_string())?;
    if literal.datatype() != oxrdf::vocab::xsd::STRING {
        return Err("expected a plain string".into());
    }
    Ok(literal.value().to_owned())
}

/// Turtle's `PN_LOCAL_ESC`: `\` before one of `_~.-!$&'()*+,;=/?#@%` stands for that character.
fn unescape_local(local: &str) -> std::borrow::Cow<'_, str> {
    if !local.contains('\\') {
        return local.into();
    }
    let mut out = String::with_capacity(local.len());
    let mut chars = local.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next)) if "_~.-!$&'()*+,;=/?#@%".contains(next) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(input: &str) -> (u64, u64) {
        match parse_rdf_patch(input.as_bytes()) {
            Err(InputError {
                position: Position::LineColumn { line, column },
                ..
            }) => (line, column),
            other => panic!("expected a line:column error, got {other:?}"),
        }
    }

    #[test]
    fn a_word_ending_the_row_gives_up_its_dot() {
        let changes = parse_rdf_patch(b"PA ex: <http://e.org/> .\nA ex:s ex:p ex:o.\n").unwrap();
        assert_eq!(changes[0].1.object.to_string(), "<http://e.org/o>");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(
            position("A <http://e.org/é> <http://e.org/p> bad ."),
            (1, 37)
        );
    }

    #[test]
    fn invalid_utf8_is_located() {
        let mut bytes = b"TX .\nA <".to_vec();
        bytes.push(0xff);
        match parse_rdf_patch(&bytes) {
            Err(e) => assert_eq!(
                e.position,
                Position::LineColumn { line: 2, column: 4 },
                "{e}"
            ),
            Ok(c) => panic!("accepted {c:?}"),
        }
    }
}
