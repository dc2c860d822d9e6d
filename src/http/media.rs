//! Media types: reading `Content-Type` and negotiating `Accept` (RFC 9110 §12.5.1).
//!
//! Only what the routes need: the media type without parameters, the charset parameter, and
//! choosing among the server's offers by q-value (most specific match wins, the server's order
//! breaks ties, `*/*` and absent `Accept` pick the default).

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};

use super::error::AppError;

/// The request's media type, lowercased, without parameters; `None` when absent.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let base = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!base.is_empty()).then_some(base)
}

/// The `charset` parameter of `Content-Type`, lowercased, if any.
pub fn charset(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').skip(1).find_map(|param| {
        let (name, v) = param.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("charset"))
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Rejects a body declared in a charset other than UTF-8 (415), as SPARQL bodies are UTF-8.
pub fn require_utf8(headers: &HeaderMap) -> Result<(), AppError> {
    match charset(headers) {
        Some(c) if c != "utf-8" && c != "utf8" && c != "us-ascii" => Err(
            AppError::UnsupportedMediaType(format!("charset \"{c}\" is not supported; send UTF-8")),
        ),
        _ => Ok(()),
    }
}

struct Range {
    kind: String,
    subtype: String,
    q: f32,
}

fn ranges(headers: &HeaderMap) -> Vec<Range> {
    let mut out = Vec::new();
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let Some((kind, subtype)) = media.split_once('/') else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(n, _)| n.trim() == "q")
                .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            out.push(Range {
                kind: kind.to_owned(),
                subtype: subtype.to_owned(),
                q,
            });
        }
    }
    out
}

/// Picks the offer the client prefers. `offers` lists (media type, value) in the server's order
/// of preference; the first is the default.
pub fn negotiate<T: Copy>(headers: &HeaderMap, offers: &[(&str, T)]) -> Result<T, AppError> {
    let ranges = ranges(headers);
    let Some(&(_, default)) = offers.first() else {
        return Err(AppError::internal("no media type offered"));
    };
    if ranges.is_empty() {
        return Ok(default);
    }
    let mut best: Option<(f32, usize, T)> = None;
    for (media, value) in offers {
        let Some((kind, subtype)) = media.split_once('/') else {
            continue;
        };
        // The most specific matching range decides this offer's quality.
        let matched = ranges
            .iter()
            .filter_map(|r| {
                let specificity = match (r.kind.as_str(), r.subtype.as_str()) {
                    (k, s) if k == kind && s == subtype => 3,
                    (k, "*") if k == kind => 2,
                    ("*", "*") => 1,
                    _ => return None,
                };
                Some((specificity, r.q))
            })
            .max_by_key(|(specificity, _)| *specificity);
        if let Some((specificity, q)) = matched
            && q > 0.0
            && best.is_none_or(|(bq, bs, _)| q > bq || (q == bq && specificity > bs))
        {
            best = Some((q, specificity, *value));
        }
    }
    best.map(|(_, _, v)| v).ok_or_else(|| {
        let offered: Vec<&str> = offers.iter().map(|(m, _)| *m).collect();
        AppError::NotAcceptable(format!(
            "cannot produce any accepted media type; available: {}",
            offered.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, value.parse().unwrap());
        h
    }

    const OFFERS: &[(&str, u8)] = &[
        ("application/sparql-results+json", 1),
        ("application/sparql-results+xml", 2),
        ("text/csv", 3),
    ];

    #[test]
    fn negotiation_follows_q_values_and_specificity() {
        assert_eq!(negotiate(&HeaderMap::new(), OFFERS).unwrap(), 1);
        assert_eq!(negotiate(&accept("*/*"), OFFERS).unwrap(), 1);
        assert_eq!(negotiate(&accept("text/csv"), OFFERS).unwrap(), 3);
        assert_eq!(
            negotiate(
                &accept("application/sparql-results+json;q=0.5, application/sparql-results+xml"),
                OFFERS
            )
            .unwrap(),
            2
        );
        assert_eq!(negotiate(&accept("text/*, */*;q=0.1"), OFFERS).unwrap(), 3);
        assert_eq!(negotiate(&accept("text/csv;q=0, */*"), OFFERS).unwrap(), 1);
        assert!(matches!(
            negotiate(&accept("image/png"), OFFERS),
            Err(AppError::NotAcceptable(_))
        ));
    }

    #[test]
    fn content_type_drops_parameters_and_reads_charset() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "Application/SPARQL-Query; charset=UTF-16".parse().unwrap(),
        );
        assert_eq!(
            content_type(&h).as_deref(),
            Some("application/sparql-query")
        );
        assert_eq!(charset(&h).as_deref(), Some("utf-16"));
        assert!(require_utf8(&h).is_err());
    }
}
