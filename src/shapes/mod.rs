//! SHACL admission: the shapes a batch must satisfy before it reaches the log.
//!
//! The active shapes come from a file or a directory of Turtle files (`shapes/` by default);
//! each file is one *shape set* with its own [`Mode`]: `enforce` (a violating batch is refused
//! whole), `warn` (the batch is appended and its report recorded next to it) or `off`. A set
//! declares its mode in its own file (`[] lg:admissionMode lg:warn .`, default enforce).
//! Loading either yields every set compiled by rudof (`shacl` 0.3) or an error naming the file,
//! the line (for syntax errors) and the reason — the caller keeps its previous shapes then.
//!
//! Validation is incremental ([`admission`]): only the focus nodes a batch can affect are
//! validated, over a small in-memory graph holding the context those nodes need, read from
//! the store and patched with the batch ([`context`]). Reports are the W3C
//! `sh:ValidationReport` vocabulary plus a JSON summary ([`report`]).
//!
//! What this module does not do: it never appends to the log or touches HTTP; the HTTP layer
//! decides what to do with a verdict and records shape changes in the log
//! ([`digest_changes`] gives the events). Quads in named graphs are not validated: the data
//! graph of every shape set is the default graph of the state (see `docs/shapes.md`).

pub mod admission;
pub mod analysis;
pub mod context;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxrdf::{Graph, Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Quad, Term, TermRef};
use oxttl::TurtleParser;
use rudof_rdf::rdf_impl::OxigraphInMemory;
use sha2::{Digest, Sha256};
use shacl::ir::IRSchema;
use shacl::rdf::ShaclParser;

use crate::event::Op;

pub use admission::{Admission, Verdict, context_graph, validate_batch, validate_graph};
pub use analysis::ContextPlan;
pub use report::{BatchReport, ResultSummary};

/// The named graph where ledgraph records which shapes were in force and the reports of
/// batches admitted in `warn` mode. Clients cannot write it; the projections apply it like any
/// other graph, so it is in the store (and replays) with the rest of the log.
pub const SHAPES_GRAPH: &str = "urn:ledgraph:shacl";
/// Subject of the shapes-digest record in [`SHAPES_GRAPH`].
pub const SHAPES_NODE: &str = "urn:ledgraph:shapes";
/// `lg:shapesDigest`: `"sha256:<hex>"` of the active shape files, or `"none"`.
pub const SHAPES_DIGEST: NamedNodeRef<'static> =
    NamedNodeRef::new_unchecked("https://ledgraph.dev/ns#shapesDigest");
/// `lg:admissionMode`: how a shape set is applied (`lg:enforce`, `lg:warn`, `lg:off`).
pub const ADMISSION_MODE: NamedNodeRef<'static> =
    NamedNodeRef::new_unchecked("https://ledgraph.dev/ns#admissionMode");
const ENFORCE: &str = "https://ledgraph.dev/ns#enforce";
const WARN: &str = "https://ledgraph.dev/ns#warn";
const OFF: &str = "https://ledgraph.dev/ns#off";

/// Largest shapes file accepted, in bytes: shapes are configuration, not data.
pub const SHAPES_FILE_BYTES_MAX: u64 = 16 << 20;
/// Most files a shapes directory may hold.
pub const SHAPES_FILES_MAX: usize = 256;

/// How a shape set is applied to incoming batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A violating batch is refused (422) and nothing is appended.
    Enforce,
    /// A violating batch is appended together with its validation report.
    Warn,
    /// Not validated.
    Off,
}

impl Mode {
    fn from_iri(iri: &str) -> Option<Mode> {
        Some(match iri {
            ENFORCE => Mode::Enforce,
            WARN => Mode::Warn,
            OFF => Mode::Off,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Off => "off",
        }
    }
}

/// Errors of the shapes part.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShapesError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not Turtle; `line` and `column` count from 1.
    #[error("{}:{line}:{column}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: u64,
        column: u64,
        reason: String,
    },
    /// The file is Turtle but not a valid shapes graph (rudof refused it).
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Shapes {
        path: PathBuf,
        /// The first line mentioning the offending term, when it can be found.
        line: Option<u64>,
        reason: String,
    },
    #[error("{}: {reason}", path.display())]
    Limit { path: PathBuf, reason: String },
    /// Validation itself failed (not a violation: rudof could not evaluate a constraint).
    #[error("validation failed: {0}")]
    Validation(String),
    /// Reading the validation context from the store failed.
    #[error("reading the store: {0}")]
    Store(String),
}

/// One compiled shapes file.
pub struct ShapeSet {
    /// The file stem, e.g. `demo` for `shapes/demo.ttl`.
    pub name: String,
    pub path: PathBuf,
    pub mode: Mode,
    /// The shapes graph as parsed (for the context analysis and the pySHACL-side of tests).
    pub graph: Graph,
    pub schema: IRSchema,
}

impl std::fmt::Debug for ShapeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShapeSet")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("triples", &self.graph.len())
            .finish()
    }
}

/// The active shapes: every set, the digest of their files, and what validation must read.
#[derive(Debug)]
pub struct Shapes {
    pub sets: Vec<ShapeSet>,
    /// `sha256:<hex>` over the files' names and bytes, in name order.
    pub digest: String,
    pub plan: ContextPlan,
}

impl Shapes {
    /// No shapes: every batch is admitted.
    pub fn none() -> Arc<Shapes> {
        Arc::new(Shapes {
            sets: Vec::new(),
            digest: "none".into(),
            plan: ContextPlan::default(),
        })
    }

    /// Whether any set validates batches.
    pub fn is_active(&self) -> bool {
        self.sets.iter().any(|s| s.mode != Mode::Off)
    }

    /// Loads a Turtle file, or every `*.ttl` file of a directory (not recursing), as shape sets.
    pub fn load(path: &Path) -> Result<Shapes, ShapesError> {
        let io = |source| ShapesError::Io {
            path: path.to_owned(),
            source,
        };
        let files = if path.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path).map_err(io)? {
                let file = entry.map_err(io)?.path();
                if file.extension().is_some_and(|e| e == "ttl") && file.is_file() {
                    files.push(file);
                }
            }
            if files.len() > SHAPES_FILES_MAX {
                return Err(ShapesError::Limit {
                    path: path.to_owned(),
                    reason: format!(
                        "{} shapes files; the limit is {SHAPES_FILES_MAX}",
                        files.len()
                    ),
                });
            }
            files.sort();
            files
        } else {
            vec![path.to_owned()]
        };
        let mut hasher = Sha256::new();
        let mut sets = Vec::with_capacity(files.len());
        for file in files {
            let text = read_limited(&file)?;
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
            sets.push(ShapeSet::parse(name, &file, &text)?);
        }
        Ok(Shapes::from_sets(
            sets,
            format!("sha256:{}", hex::encode(hasher.finalize())),
        ))
    }

    /// Compiles one shapes document given as text (`name` labels it in reports and errors).
    pub fn from_turtle(name: &str, text: &str) -> Result<Shapes, ShapesError> {
        let set = ShapeSet::parse(name.to_owned(), Path::new(name), text)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
        Ok(Shapes::from_sets(vec![set], digest))
    }

    fn from_sets(sets: Vec<ShapeSet>, digest: String) -> Shapes {
        let active: Vec<&Graph> = sets
            .iter()
            .filter(|s| s.mode != Mode::Off)
            .map(|s| &s.graph)
            .collect();
        let plan = ContextPlan::of(&active);
        Shapes { sets, digest, plan }
    }
}

fn read_limited(path: &Path) -> Result<String, ShapesError> {
    let io = |source| ShapesError::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > SHAPES_FILE_BYTES_MAX {
        return Err(ShapesError::Limit {
            path: path.to_owned(),
            reason: format!("{len} bytes; the limit is {SHAPES_FILE_BYTES_MAX}"),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes).map_err(|e| ShapesError::Syntax {
        path: path.to_owned(),
        line: 1,
        column: 1,
        reason: format!("not UTF-8: {e}"),
    })
}

impl ShapeSet {
    fn parse(name: String, path: &Path, text: &str) -> Result<ShapeSet, ShapesError> {
        let base = format!("file:///shapes/{name}.ttl");
        let mut graph = Graph::new();
        let parser = TurtleParser::new()
            .with_base_iri(&base)
            .map_err(|e| ShapesError::Limit {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        for triple in parser.for_slice(text.as_bytes()) {
            let triple = triple.map_err(|e| {
                let at = e.location().start;
                ShapesError::Syntax {
                    path: path.to_owned(),
                    line: at.line + 1,
                    column: at.column + 1,
                    reason: e.message().to_owned(),
                }
            })?;
            graph.insert(&triple);
        }
        let mode = mode_of(&graph, path)?;
        let mut rudof_graph = OxigraphInMemory::new();
        for t in graph.iter() {
            // Cannot fail: the in-memory graph only inserts.
            let _ = rudof_graph.add_triple_ref(t.subject, t.predicate, t.object);
        }
        let shapes_error = |reason: String| ShapesError::Shapes {
            path: path.to_owned(),
            line: line_mentioning(text, &reason),
            reason,
        };
        let ast = ShaclParser::new(rudof_graph)
            .parse()
            .map_err(|e| shapes_error(e.to_string()))?;
        let schema = IRSchema::compile(&ast).map_err(|e| shapes_error(e.to_string()))?;
        Ok(ShapeSet {
            name,
            path: path.to_owned(),
            mode,
            graph,
            schema,
        })
    }
}

fn mode_of(graph: &Graph, path: &Path) -> Result<Mode, ShapesError> {
    let mut modes = graph
        .triples_for_predicate(ADMISSION_MODE)
        .map(|t| match t.object {
            TermRef::NamedNode(n) => Mode::from_iri(n.as_str()).ok_or(n.to_string()),
            other => Err(other.to_string()),
        });
    match (modes.next(), modes.next()) {
        (None, _) => Ok(Mode::Enforce),
        (Some(Ok(mode)), None) => Ok(mode),
        (Some(Err(found)), _) => Err(ShapesError::Shapes {
            path: path.to_owned(),
            line: None,
            reason: format!("lg:admissionMode must be lg:enforce, lg:warn or lg:off, not {found}"),
        }),
        (Some(Ok(_)), Some(_)) => Err(ShapesError::Shapes {
            path: path.to_owned(),
            line: None,
            reason: "more than one lg:admissionMode in one shapes file".into(),
        }),
    }
}

/// The first line (from 1) of `text` that contains a word of `reason` that looks like a term
/// (an IRI's local name or a prefixed name), so a user can find what rudof refused.
fn line_mentioning(text: &str, reason: &str) -> Option<u64> {
    let candidates = reason
        .split(|c: char| c.is_whitespace() || "<>`\"',()[]{}".contains(c))
        .filter(|w| w.len() > 2 && (w.contains(':') || w.contains('#')))
        .map(|w| w.rsplit(['#', '/']).next().unwrap_or(w))
        .filter(|w| w.len() > 1);
    for word in candidates {
        if let Some(i) = text.lines().position(|line| line.contains(word)) {
            return Some(i as u64 + 1);
        }
    }
    None
}

/// The events that record `shapes` as the ones in force, replacing `previous` (the digest the
/// store holds, if any), in [`SHAPES_GRAPH`]. Empty when nothing changed.
pub fn digest_changes(previous: Option<&str>, shapes: &Shapes) -> Vec<(Op, Quad)> {
    if previous == Some(shapes.digest.as_str()) {
        return Vec::new();
    }
    let graph = NamedNode::new_unchecked(SHAPES_GRAPH);
    let node = NamedOrBlankNode::NamedNode(NamedNode::new_unchecked(SHAPES_NODE));
    let quad = |digest: &str| {
        Quad::new(
            node.clone(),
            SHAPES_DIGEST.into_owned(),
            Term::Literal(Literal::new_simple_literal(digest)),
            graph.clone(),
        )
    };
    let mut changes = Vec::with_capacity(2);
    if let Some(old) = previous {
        changes.push((Op::Remove, quad(old)));
    }
    changes.push((Op::Add, quad(&shapes.digest)));
    changes
}
