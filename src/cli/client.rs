//! HTTP clients of a ledgraph server: `ledgraph publish`, `ledgraph query --server` and the
//! plumbing `ledgraph verify-remote` ([`super::verify_remote`]) shares.
//!
//! The client is deliberately thin: the server parses and judges input (its 4xx answer, with
//! the position in the input, is printed as the error), and the client only picks the media
//! type, adds the bearer token and prints the answer. It speaks plain `http://` only — the
//! binary carries no TLS stack; put a TLS-terminating proxy in front of a remote server, or
//! tunnel. Every request has a connect and an overall timeout, and every response read into
//! memory has a size bound ([`RESPONSE_BYTES_MAX`]); query results printed as JSON/CSV/TSV
//! stream to stdout without one.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ureq::Body;
use ureq::http::Response;

use super::log_cmd::{InputFormat, detect_format, is_json_array};

/// How long to wait for a TCP connection to the server.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// How long one request may take from start to the last byte of the answer.
pub const REQUEST_TIMEOUT_MS: u64 = 300_000;
/// Largest answer read into memory (log pages, proofs, results rendered as a table).
pub const RESPONSE_BYTES_MAX: u64 = 64 << 20;
/// Largest error body read to show the server's message (a 422 carries a validation report).
pub const ERROR_BODY_BYTES_MAX: u64 = 4 << 20;
/// Most validation results `publish` prints; the rest are counted.
pub const PRINTED_RESULTS_MAX: usize = 50;
/// Longest URL-encoded query sent with GET; longer ones are POSTed (SPARQL 1.1 Protocol §2.1).
pub const QUERY_GET_BYTES_MAX: usize = 2_000;
/// Widest table cell, in characters; longer values are cut with `…`.
pub const TABLE_CELL_CHARS_MAX: usize = 80;

/// A non-2xx answer, with the server's message and (for bad input) where in the input.
#[derive(Debug, thiserror::Error)]
#[error("{}{message} (HTTP {status})", position.as_deref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct ServerError {
    pub status: u16,
    pub message: String,
    pub position: Option<String>,
    /// The validation results of a refused batch (422), one readable line each.
    pub details: Vec<String>,
}

/// One line per SHACL validation result of a 422 or `/v1/validate` answer.
pub fn result_lines(results: &[Value]) -> Vec<String> {
    let field = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut lines: Vec<String> = results
        .iter()
        .take(PRINTED_RESULTS_MAX)
        .map(|r| {
            let event = match r.get("event").and_then(Value::as_u64) {
                Some(i) => format!("event {i}"),
                None => "(no single event)".to_owned(),
            };
            let mut line = format!(
                "{event}: {} {}",
                field(r, "focus_node").unwrap_or_default(),
                field(r, "path")
                    .map(|p| format!("path {p} "))
                    .unwrap_or_default()
            );
            line.push_str(&format!(
                "[{}, {} set {}]: {}",
                field(r, "constraint").unwrap_or_default(),
                field(r, "mode").unwrap_or_default(),
                field(r, "shape_set").unwrap_or_default(),
                field(r, "message").unwrap_or_default()
            ));
            if let Some(v) = field(r, "value") {
                line.push_str(&format!(" (value {v})"));
            }
            line
        })
        .collect();
    if results.len() > PRINTED_RESULTS_MAX {
        lines.push(format!(
            "… and {} more",
            results.len() - PRINTED_RESULTS_MAX
        ));
    }
    lines
}

/// A connection to one server, with its bearer token.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    /// `server` is `http://host:port` (optionally with a path prefix).
    pub fn new(server: &str, token: Option<&str>) -> anyhow::Result<Self> {
        Self::with_timeout(
            server,
            token,
            Some(Duration::from_millis(REQUEST_TIMEOUT_MS)),
        )
    }

    /// For answers that stream as long as the client wants (`/v1/subscribe`): a connect
    /// timeout only.
    pub fn streaming(server: &str, token: Option<&str>) -> anyhow::Result<Self> {
        Self::with_timeout(server, token, None)
    }

    fn with_timeout(
        server: &str,
        token: Option<&str>,
        global: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/');
        if base.starts_with("https://") {
            bail!(
                "{server}: https is not supported by this build (no TLS stack); use http:// behind a TLS-terminating proxy or a tunnel"
            );
        }
        if !base.starts_with("http://") || base.len() == "http://".len() {
            bail!("{server}: expected a server URL like http://localhost:8080");
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)))
            .timeout_global(global)
            .build();
        Ok(Client {
            agent: config.into(),
            base: base.to_owned(),
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// GET `path?query`, failing with [`ServerError`] on a non-2xx answer.
    pub fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        accept: &str,
    ) -> anyhow::Result<Response<Body>> {
        let mut request = self
            .auth(self.agent.get(self.url(path)))
            .header("Accept", accept);
        for (key, value) in query {
            request = request.query(*key, value);
        }
        let response = request
            .call()
            .with_context(|| format!("GET {}", self.url(path)))?;
        success(response)
    }

    /// POST `body` as `content_type` to `path`, failing with [`ServerError`] on a non-2xx answer.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        accept: &str,
    ) -> anyhow::Result<Response<Body>> {
        let response = self
            .auth(self.agent.post(self.url(path)))
            .header("Content-Type", content_type)
            .header("Accept", accept)
            .send(body)
            .with_context(|| format!("POST {}", self.url(path)))?;
        success(response)
    }

    /// GET a JSON document (at most [`RESPONSE_BYTES_MAX`]).
    pub fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let mut response = self.get(path, query, "application/json")?;
        let bytes = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("the answer of GET {path} is not the expected JSON"))
    }

    /// GET a text document of at most `bytes_max` bytes.
    pub fn get_text(&self, path: &str, bytes_max: u64) -> anyhow::Result<String> {
        let mut response = self.get(path, &[], "text/plain")?;
        let bytes = read_limited(&mut response, bytes_max)?;
        String::from_utf8(bytes).with_context(|| format!("the answer of GET {path} is not UTF-8"))
    }
}

pub(crate) fn read_limited(
    response: &mut Response<Body>,
    bytes_max: u64,
) -> anyhow::Result<Vec<u8>> {
    response
        .body_mut()
        .with_config()
        .limit(bytes_max)
        .read_to_vec()
        .with_context(|| format!("reading the answer (at most {bytes_max} bytes)"))
}

/// Passes a 2xx answer through; turns anything else into a [`ServerError`].
fn success(mut response: Response<Body>) -> anyhow::Result<Response<Body>> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_limited(&mut response, ERROR_BODY_BYTES_MAX).unwrap_or_default();
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        position: Option<String>,
        #[serde(default)]
        results: Vec<Value>,
    }
    let mut details = Vec::new();
    let (message, position) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => {
            details = result_lines(&e.results);
            (e.error, e.position)
        }
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let reason = status.canonical_reason().unwrap_or("error");
            let message = if first.is_empty() {
                reason
            } else {
                first.trim()
            };
            (message.to_owned(), None)
        }
    };
    Err(ServerError {
        status: status.as_u16(),
        message,
        position,
        details,
    }
    .into())
}

/// The media type `publish` sends a file as: from `--format`, else from its name.
pub(crate) fn publish_media_type(
    file: &Path,
    format: Option<InputFormat>,
    bytes: &[u8],
) -> anyhow::Result<&'static str> {
    let format = match format {
        Some(f) => f,
        None => detect_format(file)?,
    };
    Ok(match format {
        InputFormat::Nt => "application/n-triples",
        InputFormat::Nq => "application/n-quads",
        InputFormat::Ttl => "text/turtle",
        InputFormat::Json => "application/json",
        InputFormat::Patch => "application/rdf-patch",
        InputFormat::Cloudevents if is_json_array(bytes) => "application/cloudevents-batch+json",
        InputFormat::Cloudevents => "application/cloudevents+json",
    })
}

/// What `POST /v1/events` answers (201).
#[derive(Debug, Deserialize)]
struct Appended {
    first_seq: u64,
    count: u64,
    last_seq: Option<u64>,
    tree_size: u64,
    checkpoint: String,
}

/// Reads `file` and POSTs it to `path` of `server` in the media type of its format, asking
/// for JSON: what `publish` and `validate` share.
pub(crate) fn post_file(
    server: &str,
    path: &str,
    file: &Path,
    format: Option<InputFormat>,
    token: Option<&str>,
) -> anyhow::Result<Response<Body>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let media_type = publish_media_type(file, format, &bytes)?;
    Client::new(server, token)?.post(path, media_type, &bytes, "application/json")
}

/// `ledgraph publish FILE --server URL`: one file, one transaction.
pub(crate) fn publish(
    server: &str,
    file: &Path,
    format: Option<InputFormat>,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let mut response = post_file(server, "/v1/events", file, format, token).map_err(|e| {
        match e.downcast::<ServerError>() {
            Ok(e) => {
                for line in &e.details {
                    eprintln!("{}: {line}", file.display());
                }
                anyhow::anyhow!("{}:{e}", file.display())
            }
            Err(e) => e,
        }
    })?;
    let body = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
    let appended: Appended =
        serde_json::from_slice(&body).context("the server's answer is not a publish receipt")?;
    match appended.last_seq {
        Some(last) if appended.count > 0 => println!(
            "appended {} events: seq {}..{last}",
            appended.count, appended.first_seq
        ),
        _ => println!("appended {} events", appended.count),
    }
    println!("checkpoint (tree size {}):", appended.tree_size);
    print!("{}", appended.checkpoint);
    Ok(())
}

/// How `ledgraph query` prints results (shared with the local variant).
pub use super::store_cmd::QueryFormat as QueryOutputFormat;

impl QueryOutputFormat {
    /// The results media type asked for; graph results (CONSTRUCT, DESCRIBE) come as N-Triples.
    fn accept(self) -> &'static str {
        match self {
            QueryOutputFormat::Table | QueryOutputFormat::Json => {
                "application/sparql-results+json, application/n-triples;q=0.9"
            }
            QueryOutputFormat::Csv => "text/csv, application/n-triples;q=0.9",
            QueryOutputFormat::Tsv => "text/tab-separated-values, application/n-triples;q=0.9",
        }
    }
}

/// `ledgraph query --server URL QUERY [--as-of SEQ|TIME]`: runs a query over the SPARQL 1.1
/// Protocol and prints the results in `format` (GET for short queries, POST
/// `application/sparql-query` otherwise); `as_of` becomes the `asOf` parameter.
pub fn query_remote(
    server: &str,
    query: &str,
    format: QueryOutputFormat,
    token: Option<&str>,
    as_of: Option<&str>,
) -> anyhow::Result<()> {
    let client = Client::new(server, token)?;
    let encoded_len: usize = query
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { 1 } else { 3 })
        .sum();
    let mut params = vec![("query", query.to_owned())];
    let mut post_path = "/sparql".to_owned();
    if let Some(as_of) = as_of {
        params.push(("asOf", as_of.to_owned()));
        post_path = format!(
            "/sparql?asOf={}",
            form_urlencoded::byte_serialize(as_of.as_bytes()).collect::<String>()
        );
    }
    let response = if encoded_len <= QUERY_GET_BYTES_MAX {
        client.get("/sparql", &params, format.accept())?
    } else {
        client.post(
            &post_path,
            "application/sparql-query",
            query.as_bytes(),
            format.accept(),
        )?
    };
    print_results(response, format)
}

/// `ledgraph query --named NAME --param k=v --server URL`: runs a named query
/// (`GET /v1/queries/NAME`) and prints its results like [`query_remote`].
pub fn named_query_remote(
    server: &str,
    name: &str,
    params: &[(String, String)],
    format: QueryOutputFormat,
    token: Option<&str>,
    as_of: Option<&str>,
) -> anyhow::Result<()> {
    let client = Client::new(server, token)?;
    let mut query: Vec<(&str, String)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    if let Some(as_of) = as_of {
        query.push(("asOf", as_of.to_owned()));
    }
    let response = client.get(&format!("/v1/queries/{name}"), &query, format.accept())?;
    print_results(response, format)
}

/// Prints a results answer: SPARQL JSON as a table when `format` is the table, anything else
/// streamed as it comes.
fn print_results(mut response: Response<Body>, format: QueryOutputFormat) -> anyhow::Result<()> {
    let media_type = response
        .body()
        .mime_type()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = std::io::stdout().lock();
    if format == QueryOutputFormat::Table && media_type == "application/sparql-results+json" {
        let bytes = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
        let results: Value =
            serde_json::from_slice(&bytes).context("the server's results are not JSON")?;
        out.write_all(render_table(&results)?.as_bytes())?;
    } else {
        std::io::copy(&mut response.body_mut().as_reader(), &mut out)
            .context("reading the results")?;
    }
    out.flush()?;
    Ok(())
}

/// Renders SPARQL JSON results (`SELECT` bindings or an `ASK` boolean) as an aligned table.
///
/// ```
/// use ledgraph::cli::client::render_table;
///
/// let results = serde_json::json!({
///     "head": {"vars": ["s", "name"]},
///     "results": {"bindings": [
///         {"s": {"type": "uri", "value": "https://e.org/a"},
///          "name": {"type": "literal", "value": "chat", "xml:lang": "fr"}}]}
/// });
/// let table = render_table(&results).unwrap();
/// assert_eq!(
///     table.lines().collect::<Vec<_>>(),
///     [
///         "?s                | ?name",
///         "------------------+----------",
///         "<https://e.org/a> | \"chat\"@fr",
///         "(1 row)",
///     ]
/// );
/// ```
pub fn render_table(results: &Value) -> anyhow::Result<String> {
    if let Some(answer) = results.get("boolean").and_then(Value::as_bool) {
        return Ok(format!("{answer}\n"));
    }
    let vars: Vec<&str> = results
        .pointer("/head/vars")
        .and_then(Value::as_array)
        .context("SPARQL results without head.vars")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let bindings = results
        .pointer("/results/bindings")
        .and_then(Value::as_array)
        .context("SPARQL results without results.bindings")?;
    let header: Vec<String> = vars.iter().map(|v| format!("?{v}")).collect();
    let rows: Vec<Vec<String>> = bindings
        .iter()
        .map(|row| vars.iter().map(|v| cell(row.get(*v))).collect())
        .collect();
    let widths: Vec<usize> = (0..vars.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    push_row(&mut out, &header, &widths);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("-+-"));
    out.push('\n');
    for row in &rows {
        push_row(&mut out, row, &widths);
    }
    let n = rows.len();
    out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
    Ok(out)
}

fn push_row(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str(" | ");
        }
        line.push_str(cell);
        line.push_str(&" ".repeat(width.saturating_sub(cell.chars().count())));
    }
    // Lines never end with spaces, whatever the last cell holds.
    out.push_str(line.trim_end_matches(' '));
    out.push('\n');
}

/// One RDF term of SPARQL JSON results, in N-Triples-like form, cut to the cell width.
fn cell(term: Option<&Value>) -> String {
    let Some(term) = term else {
        return String::new();
    };
    let field = |name: &str| term.get(name).and_then(Value::as_str);
    let value = field("value").unwrap_or_default();
    let text = match field("type") {
        Some("uri") => format!("<{value}>"),
        Some("bnode") => format!("_:{value}"),
        Some("literal" | "typed-literal") => {
            let quoted = oxrdf::Literal::new_simple_literal(value).to_string();
            match (field("xml:lang"), field("datatype")) {
                (Some(lang), _) => format!("{quoted}@{lang}"),
                (None, Some(dt)) => format!("{quoted}^^<{dt}>"),
                (None, None) => quoted,
            }
        }
        _ => term.to_string(),
    };
    if text.chars().count() <= TABLE_CELL_CHARS_MAX {
        return text;
    }
    let mut cut: String = text.chars().take(TABLE_CELL_CHARS_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ask_results_print_the_boolean_and_malformed_results_are_errors() {
        assert_eq!(
            render_table(&json!({"head": {}, "boolean": false})).unwrap(),
            "false\n"
        );
        assert!(render_table(&json!({"results": {"bindings": []}})).is_err());
        assert!(render_table(&json!({"head": {"vars": []}})).is_err());
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis_to_the_cell_width() {
        let long = "x".repeat(200);
        let results = json!({"head": {"vars": ["v"]},
            "results": {"bindings": [{"v": {"type": "literal", "value": long}}]}});
        let table = render_table(&results).unwrap();
        let row = table.lines().nth(2).unwrap();
        assert_eq!(row.chars().count(), TABLE_CELL_CHARS_MAX);
        assert!(row.ends_with('…'), "{row}");
    }

    #[test]
    fn publish_media_type_follows_the_flag_then_the_file_name() {
        let cases = [
            ("a.nt", None, b"" as &[u8], "application/n-triples"),
            ("a.ttl", None, b"", "text/turtle"),
            ("a.json", None, b"[]", "application/json"),
            ("a.rdfp", None, b"", "application/rdf-patch"),
            ("a.patch", None, b"", "application/rdf-patch"),
            ("a.ce.json", None, b" {}", "application/cloudevents+json"),
            (
                "a.ce.json",
                None,
                b"\n [{}]",
                "application/cloudevents-batch+json",
            ),
            (
                "a.json",
                Some(InputFormat::Patch),
                b"",
                "application/rdf-patch",
            ),
        ];
        for (name, format, bytes, expected) in cases {
            let got = publish_media_type(Path::new(name), format, bytes).unwrap();
            assert_eq!(got, expected, "{name}");
        }
        assert!(publish_media_type(Path::new("a.txt"), None, b"").is_err());
    }

    #[test]
    fn server_urls_must_be_plain_http() {
        assert!(Client::new("http://localhost:8080/", None).is_ok());
        for bad in ["https://e.org", "localhost:8080", "http://", "ftp://e.org"] {
            assert!(Client::new(bad, None).is_err(), "{bad}");
        }
    }
}
