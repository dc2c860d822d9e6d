//! Stage 1 of the compiler: read the input Turtle files with `rio_turtle` into one list of
//! triples, and compute the input digest.
//!
//! Each file's blank nodes are renamed `f<index>_<label>` so two files never share one by
//! accident. Syntax errors carry `file:line:column` (both from 1; the column counts
//! characters). The input digest is the SHA-256 of the canonical N-Quads of all inputs: every
//! triple in N-Triples syntax in the default graph, the lines sorted and deduplicated, each
//! ending in `\n`. It does not depend on file names or order of statements, only on the graph
//! (blank node labels aside, which come from the parser and are deterministic per input).
//!
//! What it does not do: fetch anything (`@base`/`@prefix` IRIs are names, not locations), or
//! read RDF/XML or JSON-LD.

use std::path::{Path, PathBuf};

use oxrdf::{BlankNode, Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use rio_api::model as rio;
use rio_api::parser::{ParseError as _, TriplesParser as _};
use rio_turtle::{TurtleError, TurtleParser};
use sha2::{Digest as _, Sha256};

use super::error::CompileError;

/// Largest input file the compiler reads, in bytes.
pub const INPUT_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Most input files in one compile.
pub const INPUT_FILES_MAX: usize = 10_000;

/// One input file: its name in messages and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// The parsed inputs.
#[derive(Debug, Default)]
pub struct Parsed {
    pub triples: Vec<Triple>,
    /// File names in the order read, with the range of `triples` each gave.
    pub files: Vec<(String, std::ops::Range<usize>)>,
}

impl Parsed {
    /// Files that set `lg:admissionMode` to `lg:warn` or `lg:off`: shape sets that must not
    /// refuse events, so the compiler does not lower them (rudof reports them).
    pub fn non_enforcing_files(&self) -> Vec<&str> {
        const MODE: &str = "https://ledgraph.dev/ns#admissionMode";
        self.files
            .iter()
            .filter(|(_, range)| {
                self.triples[range.clone()].iter().any(|t| {
                    t.predicate.as_str() == MODE
                        && matches!(&t.object, Term::NamedNode(n) if n.as_str() != "https://ledgraph.dev/ns#enforce")
                })
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// Lists `path` (a `*.ttl` file, or a directory whose `*.ttl` files are taken, not recursing)
/// in sorted order, and reads them.
pub fn read_sources(path: &Path) -> Result<Vec<Source>, CompileError> {
    let io = |source, path: &Path| CompileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = if path.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| io(e, path))? {
            let entry = entry.map_err(|e| io(e, path))?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "ttl") && p.is_file() {
                files.push(p);
            }
        }
        files
    } else {
        vec![path.to_owned()]
    };
    files.sort();
    if files.len() > INPUT_FILES_MAX {
        return Err(CompileError::Limit {
            what: "input files",
            max: INPUT_FILES_MAX as u64,
        });
    }
    let mut sources = Vec::with_capacity(files.len());
    for file in files {
        let len = std::fs::metadata(&file).map_err(|e| io(e, &file))?.len();
        if len > INPUT_FILE_BYTES_MAX {
            return Err(CompileError::Limit {
                what: "bytes in one input file",
                max: INPUT_FILE_BYTES_MAX,
            });
        }
        let text = std::fs::read_to_string(&file).map_err(|e| io(e, &file))?;
        sources.push(Source {
            name: file.display().to_string(),
            text,
        });
    }
    Ok(sources)
}

/// Parses every source; the first syntax error stops the compile.
pub fn parse(sources: &[Source]) -> Result<Parsed, CompileError> {
    let mut parsed = Parsed::default();
    for (index, source) in sources.iter().enumerate() {
        let start = parsed.triples.len();
        parse_one(index, source, &mut parsed.triples)?;
        parsed
            .files
            .push((source.name.clone(), start..parsed.triples.len()));
    }
    Ok(parsed)
}

fn parse_one(index: usize, source: &Source, out: &mut Vec<Triple>) -> Result<(), CompileError> {
    let mut parser = TurtleParser::new(source.text.as_bytes(), None);
    let mut convert_error: Option<String> = None;
    let result: Result<(), TurtleError> = parser.parse_all(&mut |t| {
        match convert(index, &t) {
            Some(triple) => out.push(triple),
            None => {
                convert_error.get_or_insert_with(|| format!("unsupported term in {t}"));
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        // rio_turtle 0.8 counts lines from 1 and bytes within the line from 0.
        let (line, column) = match error.textual_position() {
            Some(p) => {
                let line = p.line_number().max(1);
                (line, column_of(&source.text, line - 1, p.byte_number()))
            }
            None => (1, 1),
        };
        // Its message repeats the position (" on line L at position B"): keep ours only.
        let message = error.to_string();
        let message = message
            .split(" on line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        return Err(CompileError::Syntax {
            file: source.name.clone(),
            line,
            column,
            message,
        });
    }
    if let Some(message) = convert_error {
        return Err(CompileError::Syntax {
            file: source.name.clone(),
            line: 1,
            column: 1,
            message,
        });
    }
    Ok(())
}

/// The 1-based column, in characters, of byte `byte` of line `line` (both 0-based).
fn column_of(text: &str, line: u64, byte: u64) -> u64 {
    let Some(line_text) = text.split('\n').nth(line as usize) else {
        return byte + 1;
    };
    let byte = (byte as usize).min(line_text.len());
    let chars = line_text
        .char_indices()
        .take_while(|(i, _)| *i < byte)
        .count();
    chars as u64 + 1
}

fn blank(index: usize, id: &str) -> Option<BlankNode> {
    BlankNode::new(format!("f{index}_{id}")).ok()
}

fn convert(index: usize, t: &rio::Triple<'_>) -> Option<Triple> {
    let subject: NamedOrBlankNode = match t.subject {
        rio::Subject::NamedNode(n) => NamedNode::new(n.iri).ok()?.into(),
        rio::Subject::BlankNode(b) => blank(index, b.id)?.into(),
        rio::Subject::Triple(_) => return None,
    };
    let predicate = NamedNode::new(t.predicate.iri).ok()?;
    let object: Term = match t.object {
        rio::Term::NamedNode(n) => NamedNode::new(n.iri).ok()?.into(),
        rio::Term::BlankNode(b) => blank(index, b.id)?.into(),
        rio::Term::Literal(rio::Literal::Simple { value }) => {
            Literal::new_simple_literal(value).into()
        }
        rio::Term::Literal(rio::Literal::LanguageTaggedString { value, language }) => {
            Literal::new_language_tagged_literal(value, language)
                .ok()?
                .into()
        }
        rio::Term::Literal(rio::Literal::Typed { value, datatype }) => {
            Literal::new_typed_literal(value, NamedNode::new(datatype.iri).ok()?).into()
        }
        rio::Term::Triple(_) => return None,
    };
    Some(Triple::new(subject, predicate, object))
}

/// SHA-256 of the canonical N-Quads of `triples` (see the module documentation).
pub fn input_digest(triples: &[Triple]) -> [u8; 32] {
    let mut lines: Vec<String> = triples.iter().map(|t| format!("{t} .\n")).collect();
    lines.sort_unstable();
    lines.dedup();
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let text = "@prefix ex: <https://e/#> .\nex:a ex:b ex:c .\nex:a ex:b ;; .\n";
        let err = parse(&[source("bad.ttl", text)]).expect_err("refused");
        let shown = err.to_string();
        assert!(shown.starts_with("bad.ttl:3:"), "{shown}");
    }

    #[test]
    fn unknown_prefix_is_a_syntax_error() {
        let err = parse(&[source("p.ttl", "nope:a nope:b nope:c .\n")]).expect_err("refused");
        let shown = err.to_string();
        assert!(
            shown.contains("p.ttl:1:") && shown.contains("nope"),
            "{shown}"
        );
    }

    #[test]
    fn blank_nodes_of_two_files_stay_apart() {
        let a = source("a.ttl", "_:x <urn:p> \"1\" .\n");
        let b = source("b.ttl", "_:x <urn:p> \"2\" .\n");
        let parsed = parse(&[a, b]).expect("parses");
        assert_ne!(parsed.triples[0].subject, parsed.triples[1].subject);
    }

    #[test]
    fn digest_ignores_statement_order_and_duplicates() {
        let one = parse(&[source("a", "<urn:a> <urn:p> 1 .\n<urn:b> <urn:p> 2 .\n")]).expect("ok");
        let two = parse(&[source(
            "b",
            "<urn:b> <urn:p> 2 .\n<urn:a> <urn:p> 1 .\n<urn:a> <urn:p> 1 .\n",
        )])
        .expect("ok");
        assert_eq!(input_digest(&one.triples), input_digest(&two.triples));
    }
}
