//! Bearer tokens with scopes: `read` < `publish` < `admin` (each scope includes the ones before).
//!
//! Tokens come from a TOML file (`[[token]] name, secret, scopes`) and/or the `LEDGRAPH_TOKENS`
//! environment variable (`secret=scope,scope;secret2=admin`). With no tokens at all the server is
//! open — which the server only allows on a loopback bind. Secrets are compared in constant time
//! over their SHA-256, so a timing side channel does not reveal a prefix.
//! This module does not do identity or per-token rate limits.

use std::path::Path;

use axum::http::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::AppError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Publish,
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Result<Scope, TokenError> {
        match text.trim() {
            "read" => Ok(Scope::Read),
            "publish" => Ok(Scope::Publish),
            "admin" => Ok(Scope::Admin),
            other => Err(TokenError(format!(
                "unknown scope \"{other}\" (expected read, publish or admin)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Publish => "publish",
            Scope::Admin => "admin",
        }
    }
}

/// A tokens file or variable that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("tokens: {0}")]
pub struct TokenError(pub String);

/// Shortest secret accepted, so nobody deploys `secret = "x"`.
pub const TOKEN_SECRET_CHARS_MIN: usize = 16;

#[derive(Debug, Clone)]
struct Token {
    name: String,
    secret_hash: [u8; 32],
    scope: Scope,
}

/// The server's tokens. Empty = open server.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    secret: String,
    scopes: Vec<Scope>,
}

impl Tokens {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    fn add(&mut self, name: String, secret: &str, scopes: &[Scope]) -> Result<(), TokenError> {
        if secret.chars().count() < TOKEN_SECRET_CHARS_MIN {
            return Err(TokenError(format!(
                "the secret of \"{name}\" is shorter than {TOKEN_SECRET_CHARS_MIN} characters"
            )));
        }
        let Some(scope) = scopes.iter().copied().max() else {
            return Err(TokenError(format!("\"{name}\" has no scopes")));
        };
        self.tokens.push(Token {
            name,
            secret_hash: Sha256::digest(secret.as_bytes()).into(),
            scope,
        });
        Ok(())
    }

    /// Parses a tokens file (TOML).
    pub fn from_toml(text: &str) -> Result<Tokens, TokenError> {
        let file: TokensFile = toml::from_str(text).map_err(|e| TokenError(e.to_string()))?;
        let mut tokens = Tokens::default();
        for entry in file.token {
            tokens.add(entry.name, &entry.secret, &entry.scopes)?;
        }
        Ok(tokens)
    }

    pub fn from_file(path: &Path) -> Result<Tokens, TokenError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TokenError(format!("{}: {e}", path.display())))?;
        Tokens::from_toml(&text).map_err(|e| TokenError(format!("{}: {}", path.display(), e.0)))
    }

    /// Adds tokens from `secret=scope,scope;secret2=scope` (the `LEDGRAPH_TOKENS` form).
    pub fn add_from_env_value(&mut self, value: &str) -> Result<(), TokenError> {
        for (i, item) in value
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .enumerate()
        {
            let Some((secret, scopes)) = item.split_once('=') else {
                return Err(TokenError(format!(
                    "entry {} has no \"=scopes\" part",
                    i + 1
                )));
            };
            let scopes = scopes
                .split(',')
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()?;
            self.add(format!("env#{}", i + 1), secret.trim(), &scopes)?;
        }
        Ok(())
    }

    /// Checks the request's bearer token for `needed`; returns the token's name (or "open").
    pub fn authorize(&self, headers: &HeaderMap, needed: Scope) -> Result<String, AppError> {
        self.authorize_with_query_token(headers, None, needed)
    }

    /// Like [`authorize`](Self::authorize), but a request without an `Authorization` header
    /// may carry the token as the `access_token` query parameter (RFC 6750 §2.3): browsers
    /// cannot set headers on `EventSource` or `WebSocket`. Only streaming routes take it, since
    /// URLs end up in logs.
    pub fn authorize_with_query_token(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
        needed: Scope,
    ) -> Result<String, AppError> {
        if self.tokens.is_empty() {
            return Ok("open".into());
        }
        let presented = match (headers.get(axum::http::header::AUTHORIZATION), query_token) {
            (Some(value), _) => value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .ok_or_else(|| {
                    AppError::Unauthorized("expected \"Authorization: Bearer <token>\"".into())
                })?,
            (None, Some(token)) => token,
            (None, None) => {
                return Err(AppError::Unauthorized(format!(
                    "this route needs a bearer token with the \"{}\" scope",
                    needed.as_str()
                )));
            }
        };
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        let found = self
            .tokens
            .iter()
            .find(|t| constant_time_eq(&t.secret_hash, &hash));
        match found {
            None => Err(AppError::Unauthorized("unknown token".into())),
            Some(t) if t.scope < needed => Err(AppError::Forbidden(format!(
                "token \"{}\" has scope \"{}\"; this route needs \"{}\"",
                t.name,
                t.scope.as_str(),
                needed.as_str()
            ))),
            Some(t) => Ok(t.name.clone()),
        }
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn scopes_include_the_lower_ones() {
        let mut tokens = Tokens::default();
        tokens
            .add_from_env_value("publisher-secret-0001=publish;reader-secret-00001=read")
            .unwrap();
        assert!(
            tokens
                .authorize(&headers("publisher-secret-0001"), Scope::Read)
                .is_ok()
        );
        assert!(
            tokens
                .authorize(&headers("publisher-secret-0001"), Scope::Publish)
                .is_ok()
        );
        assert!(matches!(
            tokens.authorize(&headers("publisher-secret-0001"), Scope::Admin),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            tokens.authorize(&headers("reader-secret-00001"), Scope::Publish),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            tokens.authorize(&headers("nope-nope-nope-nope"), Scope::Read),
            Err(AppError::Unauthorized(_))
        ));
        assert!(matches!(
            tokens.authorize(&HeaderMap::new(), Scope::Read),
            Err(AppError::Unauthorized(_))
        ));
    }

    #[test]
    fn tokens_file_rejects_short_secrets_unknown_scopes_and_fields() {
        let short = "[[token]]\nname = \"a\"\nsecret = \"x\"\nscopes = [\"read\"]\n";
        assert!(Tokens::from_toml(short).is_err());
        let scope = "[[token]]\nname = \"a\"\nsecret = \"0123456789abcdef\"\nscopes = [\"root\"]\n";
        assert!(Tokens::from_toml(scope).is_err());
        let field =
            "[[token]]\nname = \"a\"\nsecret = \"0123456789abcdef\"\nscopes = [\"read\"]\nx = 1\n";
        assert!(Tokens::from_toml(field).is_err());
        let ok = "[[token]]\nname = \"a\"\nsecret = \"0123456789abcdef\"\nscopes = [\"admin\"]\n";
        assert_eq!(Tokens::from_toml(ok).unwrap().len(), 1);
        assert!(
            Tokens::default()
                .add_from_env_value("no-equals-sign-here")
                .is_err()
        );
    }

    #[test]
    fn no_tokens_means_open() {
        assert!(
            Tokens::default()
                .authorize(&HeaderMap::new(), Scope::Admin)
                .is_ok()
        );
    }
}
