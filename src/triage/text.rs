//! Streaming text handling for the analyzers: deciding from the first bytes whether a file
//! looks like text, and cutting a byte stream into tokens (ASCII letters, digits, `_`) with their
//! byte offset and line number, across chunk boundaries.
//!
//! Owns tokenisation only (what a token means is the caller's business). UTF-8 and other
//! ASCII-compatible encodings are read as bytes; UTF-16LE with a byte-order mark is read
//! by code unit. Memory is one token ([`MAX_TOKEN`] bytes) plus the sniff buffer.
//! Must never buffer the stream or grow a token past [`MAX_TOKEN`] (a longer run of token
//! bytes is dropped, not emitted), and never panic on any input bytes or chunking.

/// Longest token kept (the longest address looked for, a Monero integrated address, has
/// 106 characters); longer runs of letters and digits are skipped whole.
pub const MAX_TOKEN: usize = 128;
/// Bytes inspected to decide whether a file is text.
pub const SNIFF_LEN: usize = 4096;

/// Letters, digits and `_`: an identifier such as `seed_word` stays one token (in code,
/// that halves the tokens to look up); addresses and BIP39 words never contain `_`.
#[inline]
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// ASCII-compatible (UTF-8, Latin-1, …).
    Bytes,
    Utf16Le,
}

/// Decides from a file's first bytes whether it is text: no NUL bytes and at most 1% of
/// other control characters, or a UTF-16LE byte-order mark with mostly-ASCII content.
pub fn sniff(head: &[u8]) -> Option<Encoding> {
    if head.len() >= 2 && head[0] == 0xff && head[1] == 0xfe {
        let units = head[2..].chunks_exact(2);
        let total = units.len().max(1);
        let ascii = head[2..]
            .chunks_exact(2)
            .filter(|u| u[1] == 0 && u[0] != 0)
            .count();
        return (ascii * 10 >= total * 9).then_some(Encoding::Utf16Le);
    }
    if head.contains(&0) {
        return None;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    (control * 100 <= head.len()).then_some(Encoding::Bytes)
}

/// Cuts a stream into tokens of ASCII letters and digits.
#[derive(Debug)]
pub struct Tokenizer {
    encoding: Encoding,
    token: Vec<u8>,
    token_start: u64,
    /// Inside a run of letters and digits (possibly overlong, then `token` is empty).
    in_token: bool,
    overlong: bool,
    /// Byte offset of the next input byte.
    offset: u64,
    /// 1-based line number of the next input byte.
    line: u64,
    token_line: u64,
    /// UTF-16: a low byte waiting for its high byte.
    pending: Option<u8>,
}

impl Tokenizer {
    pub fn new(encoding: Encoding) -> Tokenizer {
        Tokenizer {
            encoding,
            token: Vec::with_capacity(MAX_TOKEN),
            token_start: 0,
            in_token: false,
            overlong: false,
            offset: 0,
            line: 1,
            token_line: 1,
            pending: None,
        }
    }

    /// Feeds bytes; `emit(token, offset, line)` is called for every complete token.
    pub fn feed(&mut self, chunk: &[u8], emit: &mut impl FnMut(&[u8], u64, u64)) {
        match self.encoding {
            Encoding::Bytes => self.feed_bytes(chunk, emit),
            Encoding::Utf16Le => {
                for &b in chunk {
                    match self.pending.take() {
                        None => self.pending = Some(b),
                        Some(low) => {
                            // Non-ASCII code units act as separators.
                            let c = if b == 0 && low < 0x80 { low } else { b' ' };
                            self.push_char(c, 2, emit);
                        }
                    }
                }
            }
        }
    }

    /// The byte path works on spans (a token, a run of separators) rather than bytes:
    /// most of a text file is copied or counted with slice operations.
    fn feed_bytes(&mut self, chunk: &[u8], emit: &mut impl FnMut(&[u8], u64, u64)) {
        let mut i = 0;
        while i < chunk.len() {
            if self.in_token {
                let end = chunk[i..]
                    .iter()
                    .position(|b| !is_token_byte(*b))
                    .map_or(chunk.len(), |p| i + p);
                let part = &chunk[i..end];
                if !self.overlong && self.token.len() + part.len() <= MAX_TOKEN {
                    self.token.extend_from_slice(part);
                } else {
                    self.overlong = true;
                    self.token.clear();
                }
                self.offset += part.len() as u64;
                i = end;
                if end < chunk.len() {
                    self.end_token(emit);
                }
            } else {
                let end = chunk[i..]
                    .iter()
                    .position(|b| is_token_byte(*b))
                    .map_or(chunk.len(), |p| i + p);
                self.line += memchr::memchr_iter(b'\n', &chunk[i..end]).count() as u64;
                self.offset += (end - i) as u64;
                i = end;
                if end < chunk.len() {
                    self.in_token = true;
                    self.token_start = self.offset;
                    self.token_line = self.line;
                }
            }
        }
    }

    #[inline]
    fn push_char(&mut self, c: u8, width: u64, emit: &mut impl FnMut(&[u8], u64, u64)) {
        if is_token_byte(c) {
            if !self.in_token {
                self.in_token = true;
                self.token_start = self.offset;
                self.token_line = self.line;
            }
            if self.token.len() < MAX_TOKEN && !self.overlong {
                self.token.push(c);
            } else {
                self.overlong = true;
                self.token.clear();
            }
        } else {
            self.end_token(emit);
            if c == b'\n' {
                self.line += 1;
            }
        }
        self.offset += width;
    }

    fn end_token(&mut self, emit: &mut impl FnMut(&[u8], u64, u64)) {
        if self.in_token {
            // An overlong token is reported as empty so callers can treat it as a break.
            let token: &[u8] = if self.overlong { &[] } else { &self.token };
            emit(token, self.token_start, self.token_line);
        }
        self.token.clear();
        self.overlong = false;
        self.in_token = false;
    }

    /// Ends the stream (emits a token that runs to the end of the file).
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8], u64, u64)) {
        self.end_token(emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(enc: Encoding, data: &[u8], chunk: usize) -> Vec<(String, u64, u64)> {
        let mut t = Tokenizer::new(enc);
        let mut out = Vec::new();
        let mut emit = |tok: &[u8], off: u64, line: u64| {
            out.push((String::from_utf8_lossy(tok).into_owned(), off, line))
        };
        for c in data.chunks(chunk) {
            t.feed(c, &mut emit);
        }
        t.finish(&mut emit);
        out
    }

    #[test]
    fn tokens_survive_any_chunking_with_offsets_and_lines() {
        let data = b"ab cd\n\nef-12";
        let expected = vec![
            ("ab".to_string(), 0, 1),
            ("cd".to_string(), 3, 1),
            ("ef".to_string(), 7, 3),
            ("12".to_string(), 10, 3),
        ];
        for chunk in 1..=data.len() {
            assert_eq!(
                tokens(Encoding::Bytes, data, chunk),
                expected,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn utf16le_is_read_by_code_unit() {
        let text: Vec<u8> = "\u{feff}hi yo"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(sniff(&text), Some(Encoding::Utf16Le));
        let got = tokens(Encoding::Utf16Le, &text, 3);
        assert_eq!(
            got,
            vec![("hi".to_string(), 2, 1), ("yo".to_string(), 8, 1)]
        );
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(sniff(b"SQLite format 3\0"), None);
        assert_eq!(sniff(b"plain words\n"), Some(Encoding::Bytes));
        assert_eq!(sniff(&[1, 2, 3, 4, 5, 6, b'a']), None);
    }
}
