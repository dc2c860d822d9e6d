//! The web UI: the assets `web/` builds into `web/dist` (`npm ci && npm run build`), served at
//! `/` (the page) and `/assets/<name>` (its module, stylesheet and icon).
//!
//! Only the fixed names the build writes are routed ([`ASSETS`]), so no request path ever
//! reaches the file system: there is nothing to traverse. Each asset is sent precompressed
//! (`.br`, `.gz` beside it) when the client accepts it, with `Last-Modified` revalidation. Every
//! web response carries a strict Content-Security-Policy (`default-src 'self'`): the page may
//! load and fetch from this server only. The page's policy also admits `<style>` elements
//! carrying a nonce drawn per response (the editor, CodeMirror, writes its styles that way and
//! reads the nonce from the page's `csp-nonce` meta tag); scripts stay `'self'` only. The directory is read per request, so rebuilding the
//! UI needs no restart; when it holds no build, `/` answers a page that says how to make one
//! (and assets 503), instead of failing silently.
//!
//! Not here: the UI itself (`web/src`, see docs/web.md) and any authentication — the assets
//! hold no data; every API call they make is authorized as usual.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::AppState;
use super::error::AppError;

/// Where the build writes, relative to the repository.
pub const WEB_DIST: &str = "web/dist";
/// The files of a build under `assets/`, with their routes (also in `ROUTES`).
pub const ASSETS: &[&str] = &["app.js", "app.css", "icon.svg"];
/// Largest `index.html` served; ours is about a kilobyte.
const INDEX_BYTES_MAX: u64 = 1 << 20;

/// Replaced in `index.html` by the response's style nonce.
const NONCE_PLACEHOLDER: &str = "{{CSP_NONCE}}";
/// Random bytes per nonce (CSP asks for at least 128 bits).
const NONCE_BYTES: usize = 16;

/// The page `/` answers when the directory holds no build; `{{WEB_DIR}}` names the directory.
const MISSING_HTML: &str = include_str!("../../web/missing.html");

/// Only this server, no inline script or style; `img-src data:` for CodeMirror's icons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The built UI of this checkout: `web/dist` under the working directory when it holds a
/// build (running from the repository), else the one of the source tree the binary was built
/// from. `--web-dir` / `LEDGRAPH_WEB_DIR` override both.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from(WEB_DIST);
    if here.join("index.html").is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(WEB_DIST)
}

/// The routes of the UI, with their security headers.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let mut web = Router::new().route("/", get(index));
    for &name in ASSETS {
        web = web.route(
            &format!("/assets/{name}"),
            get(move |state: State<AppState>, request: Request| asset(state, name, request)),
        );
    }
    router.merge(web.layer(axum::middleware::map_response(secure)))
}

/// The headers every web response carries.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // The page sets its own, stricter-than-nothing policy with its style nonce.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Names carry no content hash: revalidate (cheap, `Last-Modified`) rather than go stale.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index(State(state): State<AppState>) -> Response {
    let path = state.web_dir.join("index.html");
    match read_index(&path).await {
        Ok(Some(page)) => with_style_nonce(&page),
        Ok(None) => missing(&state.web_dir).into_response(),
        Err(e) => AppError::internal(format!("{}: {e}", path.display())).into_response(),
    }
}

/// The page with a fresh style nonce in its text and its policy.
fn with_style_nonce(page: &[u8]) -> Response {
    let mut bytes = [0u8; NONCE_BYTES];
    if let Err(e) = getrandom::fill(&mut bytes) {
        return AppError::internal(format!("drawing a CSP nonce: {e}")).into_response();
    }
    let nonce = B64.encode(bytes);
    let page = String::from_utf8_lossy(page).replace(NONCE_PLACEHOLDER, &nonce);
    let policy = format!("{CONTENT_SECURITY_POLICY}; style-src 'self' 'nonce-{nonce}'");
    let mut response = Html(page).into_response();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The page, `None` when there is no build.
async fn read_index(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let meta = match tokio::fs::metadata(path).await {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.len() > INDEX_BYTES_MAX {
        return Err(std::io::Error::other(format!(
            "{} bytes is over the limit of {INDEX_BYTES_MAX}",
            meta.len()
        )));
    }
    tokio::fs::read(path).await.map(Some)
}

fn missing(dir: &Path) -> Html<String> {
    Html(MISSING_HTML.replace("{{WEB_DIR}}", &escape_html(&dir.display().to_string())))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn asset(State(state): State<AppState>, name: &'static str, request: Request) -> Response {
    let path = state.web_dir.join("assets").join(name);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return AppError::Unavailable(format!(
            "the web UI is not built ({} is missing); run `npm ci && npm run build` in web/",
            path.display()
        ))
        .into_response();
    }
    let serve = ServeFile::new(&path)
        .precompressed_br()
        .precompressed_gzip();
    match serve.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(e) => AppError::internal(format!("{}: {e}", path.display())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_page_names_the_directory_escaped() {
        let page = missing(Path::new("/tmp/<x>&dist")).0;
        assert!(page.contains("/tmp/&lt;x&gt;&amp;dist"), "{page}");
        assert!(page.contains("npm run build"));
        assert!(!page.contains("{{WEB_DIR}}"));
    }
}
