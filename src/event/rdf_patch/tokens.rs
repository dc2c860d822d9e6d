//! The RDF Patch row scanner: splits one line into keywords, IRIs, literals, bare words and
//! the terminating dot, and finds where each term ends. It validates nothing inside a term —
//! `oxrdf`'s term parser does that in the parent module — and never looks past one line.

use crate::event::input::{InputError, Position};

/// One lexical token of a row, borrowed from the line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    /// Byte offset in the line.
    pub start: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// `<…>`
    Iri,
    /// `"…"` with an optional `@lang` or `^^datatype`; `datatype` is its byte offset in the token.
    Literal { datatype: Option<usize> },
    /// Anything else up to whitespace: keywords, prefixed names, blank nodes, numbers.
    Word,
    /// The row terminator.
    Dot,
}

/// A location on one line, turned into an error when something is wrong there.
pub(super) struct At<'a> {
    pub line_no: u64,
    pub line: &'a str,
}

impl At<'_> {
    pub fn error(&self, byte: usize, message: impl Into<String>) -> InputError {
        let column = self.line.get(..byte).map_or(byte, |s| s.chars().count());
        InputError {
            position: Position::LineColumn {
                line: self.line_no,
                column: column as u64 + 1,
            },
            message: message.into(),
        }
    }
}

/// Splits a line into tokens; stops at a `#` comment.
pub(super) fn tokenize<'a>(at: &At<'a>) -> Result<Vec<Token<'a>>, InputError> {
    let line = at.line;
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while bytes.get(i).is_some_and(|b| is_blank(*b)) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else { break };
        let (kind, end) = match b {
            b'#' => break,
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                return Err(at.error(i, "triple terms (<<…>>) are not supported"));
            }
            b'<' => (TokenKind::Iri, iri_end(at, i)?),
            b'"' => literal(at, i)?,
            b'.' if bytes.get(i + 1).is_none_or(|c| is_blank(*c) || *c == b'#') => {
                (TokenKind::Dot, i + 1)
            }
            _ => (TokenKind::Word, word_end(bytes, i)),
        };
        // Every token consumes at least one byte; a scanner bug must not become a hang.
        if end <= i {
            return Err(at.error(i, "unexpected character"));
        }
        tokens.push(Token {
            kind,
            text: &line[i..end],
            start: i,
        });
        i = end;
    }
    Ok(tokens)
}

/// N-Triples' whitespace inside a line: space and tab only. Any other control character is
/// part of a word (and then an invalid term), so the scanner and the words agree on where
/// tokens end.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn iri_end(at: &At<'_>, start: usize) -> Result<usize, InputError> {
    match at.line[start..].find('>') {
        Some(offset) => Ok(start + offset + 1),
        None => Err(at.error(start, "unterminated IRI: missing \">\"")),
    }
}

/// A bare word ends at whitespace; a final `.` is the row terminator, not part of the word.
fn word_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while bytes.get(end).is_some_and(|b| !is_blank(*b)) {
        end += 1;
    }
    if end - start > 1 && bytes[end - 1] == b'.' {
        end - 1
    } else {
        end
    }
}

/// A quoted literal with its optional language tag or datatype.
fn literal(at: &At<'_>, start: usize) -> Result<(TokenKind, usize), InputError> {
    let bytes = at.line.as_bytes();
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None => return Err(at.error(start, "unterminated string: missing closing '\"'")),
            Some(b'\\') => i += 2,
            Some(b'"') => break,
            Some(_) => i += 1,
        }
    }
    i += 1;
    if bytes.get(i) == Some(&b'@') {
        i += 1;
        while bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            i += 1;
        }
        return Ok((TokenKind::Literal { datatype: None }, i));
    }
    if bytes.get(i..i + 2) != Some(b"^^") {
        return Ok((TokenKind::Literal { datatype: None }, i));
    }
    let datatype = i + 2;
    let end = match bytes.get(datatype) {
        Some(b'<') => iri_end(at, datatype)?,
        Some(c) if !is_blank(*c) => word_end(bytes, datatype),
        _ => return Err(at.error(i, "missing datatype after \"^^\"")),
    };
    Ok((
        TokenKind::Literal {
            datatype: Some(datatype - start),
        },
        end,
    ))
}
