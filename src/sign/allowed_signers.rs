//! `allowed_signers` files read exactly as `ssh-keygen -Y verify` reads them
//! (ssh-keygen(1), ALLOWED SIGNERS), so fieldkit and the stock tool never disagree about
//! whether a lab's file accepts a signer.
//!
//! Owns the parsing and the decision. The rules are those of OpenSSH 9.2 (sshsig.c
//! `check_allowed_keys_line`, match.c `match_pattern_list`, misc.c `strdelimw`,
//! `opt_dequote`, `parse_absolute_time`, authfile.c `sshkey_advance_past_options`),
//! ported byte for byte rather than approximated:
//!
//! - the file is read line by line as `getline` does (only `\n` ends a line; a `\r` stays
//!   and counts as white space where OpenSSH treats it so; a NUL ends the line's text);
//! - leading blanks are skipped; a line that is then empty or starts with `#` is ignored;
//! - principals: the first field, split on white space (space, tab, CR, LF) with
//!   double quotes grouping; a comma list of `*`/`?` patterns, each may be negated with
//!   `!`; a matching negated pattern rejects the line whatever else matches; a sub-pattern
//!   of 1023 bytes or more makes the list not match;
//! - options (only when the second field is not a key): `cert-authority`,
//!   `namespaces="…"` (a quoted pattern list, negation allowed), `valid-after="…"`,
//!   `valid-before="…"` (`YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, followed by `Z`
//!   or `UTC` for UTC, else local time as the C library's `mktime` gives it with
//!   `tm_isdst` = 0); names are case-insensitive; anything else, a repeated clause, an
//!   unquoted value, an invalid time or `valid-before` not after `valid-after` makes the
//!   line invalid;
//! - a `cert-authority` line trusts certificates signed by its key, never a signature by
//!   the key itself: fieldkit signs with plain keys, so such a line never accepts a
//!   bundle;
//! - the key must be the signer's exactly (type and blob);
//! - the validity window is checked against the time of verification (now), as
//!   `ssh-keygen -Y verify` does without `-O verify-time`: SSHSIG carries no signing time,
//!   and a time read from the bundle would be the signer's own claim;
//! - a malformed line is skipped (ssh-keygen logs it and goes on); the first line that
//!   accepts wins.
//!
//! Never reads anything but the text given; never accepts a line that ssh-keygen would
//! not accept, and never rejects one it would. Warnings name the file and line.

use ssh_key::PublicKey;

/// The key types OpenSSH 9.2 reads in an allowed_signers line (sshkey.c `keyimpls`).
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];

/// `WHITESPACE` of misc.c.
fn is_delim_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// One parsed line that names a key.
#[derive(Debug, Clone)]
struct Entry {
    principals: Vec<u8>,
    cert_authority: bool,
    namespaces: Option<Vec<u8>>,
    /// Seconds since the epoch; 0: no such clause (as in OpenSSH).
    valid_after: u64,
    valid_before: u64,
    key_type: Vec<u8>,
    /// The decoded key blob.
    blob: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Line {
    /// Blank or a comment.
    Ignored,
    Entry(Entry),
    /// Skipped, with the reason ssh-keygen gives.
    Malformed(String),
}

/// A parsed allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    file: String,
    lines: Vec<(usize, Line)>,
}

/// What the file says about one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The first line that accepts the signer, and its principals field (dequoted).
    Accepted { line: usize, principals: String },
    /// No line accepts it; why each line that names the signer's key does not.
    Rejected { reasons: Vec<String> },
}

impl AllowedSigners {
    /// Parse the bytes of an allowed_signers file; `file` names it in messages.
    pub fn parse(file: &str, bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        let mut rest = bytes;
        let mut number = 0usize;
        while !rest.is_empty() {
            number += 1;
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..=i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            rest = next;
            // C string functions see the line up to its first NUL.
            let line = match memchr::memchr(0, line) {
                Some(i) => &line[..i],
                None => line,
            };
            lines.push((number, parse_line(line)));
        }
        AllowedSigners {
            file: file.to_string(),
            lines,
        }
    }

    /// One warning per malformed line (ssh-keygen skips these too).
    pub fn warnings(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|(n, l)| match l {
                Line::Malformed(why) => Some(format!(
                    "{}:{n}: {why}; the line is skipped (as ssh-keygen skips it)",
                    self.file
                )),
                _ => None,
            })
            .collect()
    }

    /// Does the file accept a signature by `signer` for `principal` (None: any, as
    /// `find-principals`) in `namespace` at `now` (seconds since the epoch)?
    pub fn check(
        &self,
        signer: &PublicKey,
        principal: Option<&str>,
        namespace: Option<&str>,
        now: u64,
    ) -> Decision {
        let Ok(signer_blob) = signer.to_bytes() else {
            return Decision::Rejected {
                reasons: vec!["the signer's key cannot be encoded".into()],
            };
        };
        let signer_type = signer.algorithm().to_string();
        let mut reasons = Vec::new();
        for (n, line) in &self.lines {
            let Line::Entry(e) = line else { continue };
            let key_is_signer = e.key_type == signer_type.as_bytes() && e.blob == signer_blob;
            // sshsig.c checks the principal first, then the key, the namespace and the
            // validity window; the first failing check rejects the line.
            let principal_match =
                principal.map(|p| match_pattern_list(p.as_bytes(), &e.principals));
            if let Some(m) = principal_match
                && m != 1
            {
                if key_is_signer {
                    reasons.push(format!(
                        "line {n} lists the key for {:?}, which {} {:?}",
                        String::from_utf8_lossy(&e.principals),
                        if m == -1 {
                            "excludes"
                        } else {
                            "does not include"
                        },
                        principal.unwrap_or_default()
                    ));
                }
                continue;
            }
            if e.cert_authority {
                if key_is_signer {
                    reasons.push(format!(
                        "line {n} marks the key cert-authority: it accepts certificates the key \
                         signed, not signatures by the key itself (fieldkit signs with plain keys)"
                    ));
                }
                continue;
            }
            if !key_is_signer {
                continue;
            }
            if let (Some(ns), Some(want)) = (&e.namespaces, namespace)
                && match_pattern_list(want.as_bytes(), ns) != 1
            {
                reasons.push(format!(
                    "line {n} does not allow the key for namespace {want:?} (namespaces=\"{}\")",
                    String::from_utf8_lossy(ns)
                ));
                continue;
            }
            if e.valid_after != 0 && now < e.valid_after {
                reasons.push(format!(
                    "line {n}: the key is not valid until {} (valid-after; checked at {})",
                    utc(e.valid_after),
                    utc(now)
                ));
                continue;
            }
            if e.valid_before != 0 && now > e.valid_before {
                reasons.push(format!(
                    "line {n}: the key expired at {} (valid-before; checked at {})",
                    utc(e.valid_before),
                    utc(now)
                ));
                continue;
            }
            return Decision::Accepted {
                line: *n,
                principals: String::from_utf8_lossy(&e.principals).into_owned(),
            };
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no line lists key {}{}",
                crate::sign::fingerprint_of(signer),
                principal.map(|p| format!(" for {p:?}")).unwrap_or_default()
            ));
        }
        Decision::Rejected { reasons }
    }
}

/// The time of verification, as `ssh-keygen -Y verify` takes it: now, in whole seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}

/// `parse_principals_key_and_options` and `sshsigopt_parse`, in their order.
fn parse_line(line: &[u8]) -> Line {
    let start = line
        .iter()
        .position(|c| !is_blank(*c))
        .unwrap_or(line.len());
    let cp = &line[start..];
    if cp.is_empty() || cp[0] == b'#' {
        return Line::Ignored;
    }
    let (principals, rest) = match strdelimw(cp) {
        Some((p, Some(rest))) => (p, rest),
        _ => return Line::Malformed("invalid line".into()),
    };
    let (key, opts) = match read_key(rest) {
        Some(key) => (key, None),
        None => {
            // No key here: options first.
            let end = advance_past_options(rest);
            let Some(end) = end else {
                return Line::Malformed("invalid options (an unterminated quote)".into());
            };
            if end >= rest.len() {
                return Line::Malformed("missing key".into());
            }
            let opts = &rest[..end];
            let after = &rest[end + 1..];
            let after = &after[after
                .iter()
                .position(|c| !is_blank(*c))
                .unwrap_or(after.len())..];
            match read_key(after) {
                Some(key) => (key, Some(opts)),
                None => return Line::Malformed("invalid key".into()),
            }
        }
    };
    let opts = match parse_options(opts.unwrap_or_default()) {
        Ok(o) => o,
        Err(why) => return Line::Malformed(format!("bad options: {why}")),
    };
    Line::Entry(Entry {
        principals,
        cert_authority: opts.cert_authority,
        namespaces: opts.namespaces,
        valid_after: opts.valid_after,
        valid_before: opts.valid_before,
        key_type: key.ty,
        blob: key.blob,
    })
}

/// misc.c `strdelim_internal(s, 0)`: the first token (a double quote anywhere in it
/// groups up to the next quote) and the rest after the white space that follows it —
/// `None` for the rest when no delimiter was found at all; `None` overall for an
/// unmatched quote.
fn strdelimw(s: &[u8]) -> Option<(Vec<u8>, Option<&[u8]>)> {
    let skip = |r: &[u8]| -> usize {
        r.iter()
            .position(|c| !is_delim_space(*c))
            .unwrap_or(r.len())
    };
    match s.iter().position(|&c| is_delim_space(c) || c == b'"') {
        None => Some((s.to_vec(), None)),
        Some(k) if s[k] == b'"' => {
            let after = &s[k + 1..];
            let q = after.iter().position(|&c| c == b'"')?;
            let mut token = s[..k].to_vec();
            token.extend_from_slice(&after[..q]);
            let rest = &after[q + 1..];
            Some((token, Some(&rest[skip(rest)..])))
        }
        Some(k) => {
            let rest = &s[k + 1..];
            Some((s[..k].to_vec(), Some(&rest[skip(rest)..])))
        }
    }
}

/// authfile.c `sshkey_advance_past_options`: the index of the first unquoted blank, or
/// the end; `None` for an unterminated quote at the end.
fn advance_past_options(s: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut i = 0;
    while i < s.len() && (quoted || !is_blank(s[i])) {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if s[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    if i >= s.len() && quoted {
        None
    } else {
        Some(i)
    }
}

/// sshkey.c `sshkey_read`: `type blob` at the start of `s` (a comment may follow), or
/// `None` when OpenSSH would not read a key there. Ed25519 (the only
/// signer fieldkit makes) is checked as OpenSSH checks it; for other types the blob must
/// decode and name its type, which can only decide whether a line is reported as
/// malformed — such a key is never the signer.
fn read_key(s: &[u8]) -> Option<KeyField> {
    let space = s.iter().position(|c| is_blank(*c))?;
    let ty = &s[..space];
    if !KEY_TYPES.iter().any(|t| t.as_bytes() == ty) {
        return None;
    }
    let mut cp = &s[space..];
    cp = &cp[cp.iter().position(|c| !is_blank(*c)).unwrap_or(cp.len())..];
    if cp.is_empty() {
        return None;
    }
    let end = cp.iter().position(|c| is_blank(*c)).unwrap_or(cp.len());
    let blob = b64_pton(&cp[..end])?;
    // The blob is a string naming the type, then the key; the type on the line must
    // be the blob's (certificate and plain types differ).
    let (name, body) = ssh_string(&blob)?;
    // sshbuf_get_cstring: a type name with a NUL in it is not one.
    if name.contains(&0) || plain_type(name) != plain_type(ty) {
        return None;
    }
    if ty == b"ssh-ed25519" {
        let (pk, rest) = ssh_string(body)?;
        if pk.len() != 32 || !rest.is_empty() {
            return None;
        }
    }
    Some(KeyField {
        ty: ty.to_vec(),
        blob,
    })
}

/// A key as an allowed_signers line gives it: its type name and decoded blob.
struct KeyField {
    ty: Vec<u8>,
    blob: Vec<u8>,
}

fn ssh_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let body = b.get(4..4usize.checked_add(len)?)?;
    Some((body, &b[4 + len..]))
}

/// The key type a name stands for: `rsa-sha2-256`/`-512` name RSA keys whose blob says
/// `ssh-rsa` (sshkey.c gives them the same type).
fn plain_type(name: &[u8]) -> &[u8] {
    match name {
        b"rsa-sha2-256" | b"rsa-sha2-512" => b"ssh-rsa",
        b"rsa-sha2-256-cert-v01@openssh.com" | b"rsa-sha2-512-cert-v01@openssh.com" => {
            b"ssh-rsa-cert-v01@openssh.com"
        }
        n => n,
    }
}

/// The BIND/OpenBSD `b64_pton` (white space skipped anywhere, padding checked, the bits
/// after the last byte must be zero).
fn b64_pton(src: &[u8]) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out: Vec<u8> = Vec::with_capacity(src.len());
    let mut state = 0;
    let mut i = 0;
    let mut pad = false;
    while i < src.len() {
        let ch = src[i];
        i += 1;
        if is_c_space(ch) {
            continue;
        }
        if ch == b'=' {
            pad = true;
            break;
        }
        let v = ALPHABET.iter().position(|&a| a == ch)? as u8;
        match state {
            0 => {
                out.push(v << 2);
                state = 1;
            }
            1 => {
                *out.last_mut()? |= v >> 4;
                out.push((v & 0x0f) << 4);
                state = 2;
            }
            2 => {
                *out.last_mut()? |= v >> 2;
                out.push((v & 0x03) << 6);
                state = 3;
            }
            _ => {
                *out.last_mut()? |= v;
                state = 0;
            }
        }
    }
    // `out` holds a partial byte after states 1..3 (b64_pton writes it ahead).
    let whole = |out: &Vec<u8>, state: u8| match state {
        0 => out.len(),
        _ => out.len() - 1,
    };
    if pad {
        match state {
            0 | 1 => return None,
            2 => {
                while i < src.len() && is_c_space(src[i]) {
                    i += 1;
                }
                if src.get(i) != Some(&b'=') {
                    return None;
                }
                i += 1;
            }
            _ => {}
        }
        if src[i..].iter().any(|c| !is_c_space(*c)) {
            return None;
        }
        if out.last().is_some_and(|b| *b != 0) {
            return None;
        }
    } else if state != 0 {
        return None;
    }
    let n = whole(&out, state);
    out.truncate(n);
    Some(out)
}

#[derive(Debug, Default)]
struct Options {
    cert_authority: bool,
    namespaces: Option<Vec<u8>>,
    valid_after: u64,
    valid_before: u64,
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// sshsig.c `sshsigopt_parse`.
fn parse_options(opts: &[u8]) -> Result<Options, &'static str> {
    let mut o = Options::default();
    let mut i = 0;
    while i < opts.len() && !is_blank(opts[i]) {
        let rest = &opts[i..];
        if starts_with_ci(rest, b"cert-authority") {
            o.cert_authority = true;
            i += b"cert-authority".len();
        } else if let Some(n) = opt_match(rest, b"namespaces") {
            if o.namespaces.is_some() {
                return Err("multiple \"namespaces\" clauses");
            }
            let (value, used) = dequote(&rest[n..])?;
            o.namespaces = Some(value);
            i += n + used;
        } else if let Some(n) = opt_match(rest, b"valid-after") {
            if o.valid_after != 0 {
                return Err("multiple \"valid-after\" clauses");
            }
            let (value, used) = dequote(&rest[n..])?;
            o.valid_after = parse_absolute_time(&value)
                .filter(|t| *t != 0)
                .ok_or("invalid \"valid-after\" time")?;
            i += n + used;
        } else if let Some(n) = opt_match(rest, b"valid-before") {
            if o.valid_before != 0 {
                return Err("multiple \"valid-before\" clauses");
            }
            let (value, used) = dequote(&rest[n..])?;
            o.valid_before = parse_absolute_time(&value)
                .filter(|t| *t != 0)
                .ok_or("invalid \"valid-before\" time")?;
            i += n + used;
        }
        if i >= opts.len() || is_blank(opts[i]) {
            break;
        }
        if opts[i] != b',' {
            return Err("unknown key option");
        }
        i += 1;
        if i >= opts.len() {
            return Err("unexpected end-of-options");
        }
    }
    if o.valid_after != 0 && o.valid_before != 0 && o.valid_before <= o.valid_after {
        return Err("\"valid-before\" time is before \"valid-after\"");
    }
    Ok(o)
}

/// misc.c `opt_match`: `term=` (any case); the length consumed.
fn opt_match(s: &[u8], term: &[u8]) -> Option<usize> {
    (starts_with_ci(s, term) && s.get(term.len()) == Some(&b'=')).then_some(term.len() + 1)
}

/// misc.c `opt_dequote`: a double-quoted value (`\"` stands for a quote); the value and
/// the length consumed.
fn dequote(s: &[u8]) -> Result<(Vec<u8>, usize), &'static str> {
    if s.first() != Some(&b'"') {
        return Err("missing start quote");
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < s.len() && s[i] != b'"' {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'"') {
            i += 1;
        }
        out.push(s[i]);
        i += 1;
    }
    if i >= s.len() {
        return Err("missing end quote");
    }
    Ok((out, i + 1))
}

/// match.c `match_pattern`: `*` and `?` wildcards, bytes compared exactly.
pub fn match_pattern(s: &[u8], pattern: &[u8]) -> bool {
    match pattern.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let p = &pattern[pattern
                .iter()
                .position(|c| *c != b'*')
                .unwrap_or(pattern.len())..];
            if p.is_empty() {
                return true;
            }
            (0..s.len()).any(|i| match_pattern(&s[i..], p))
        }
        Some(&c) => match s.first() {
            Some(&d) if c == b'?' || c == d => match_pattern(&s[1..], &pattern[1..]),
            _ => false,
        },
    }
}

/// match.c `match_pattern_list` (case kept): 1 for a positive match, -1 when a negated
/// sub-pattern matches, 0 otherwise.
pub fn match_pattern_list(s: &[u8], list: &[u8]) -> i32 {
    const SUB_MAX: usize = 1024;
    let mut got_positive = 0;
    let mut i = 0;
    while i < list.len() {
        let negated = list[i] == b'!';
        if negated {
            i += 1;
        }
        let start = i;
        while i < list.len() && i - start < SUB_MAX - 1 && list[i] != b',' {
            i += 1;
        }
        if i - start >= SUB_MAX - 1 {
            return 0;
        }
        let sub = &list[start..i];
        if i < list.len() && list[i] == b',' {
            i += 1;
        }
        if match_pattern(s, sub) {
            if negated {
                return -1;
            }
            got_positive = 1;
        }
    }
    got_positive
}

/// misc.c `parse_absolute_time`: `YYYYMMDD[HHMM[SS]]`, then `Z` or `UTC` (any case) for
/// UTC, else local time. `None` when OpenSSH rejects it.
pub fn parse_absolute_time(s: &[u8]) -> Option<u64> {
    let mut l = s.len();
    let mut is_utc = false;
    if l > 1 && s[l - 1].eq_ignore_ascii_case(&b'z') {
        is_utc = true;
        l -= 1;
    } else if l > 3 && s[l - 3..].eq_ignore_ascii_case(b"UTC") {
        is_utc = true;
        l -= 3;
    }
    let part = |a: usize, n: usize| &s[a..a + n];
    let mut buf = Vec::new();
    let fmt: &[u8] = match l {
        8 => {
            for (i, p) in [part(0, 4), part(4, 2), part(6, 2)].iter().enumerate() {
                if i > 0 {
                    buf.push(b'-');
                }
                buf.extend_from_slice(p);
            }
            b"%Y-%m-%d"
        }
        12 | 14 => {
            buf.extend_from_slice(part(0, 4));
            buf.push(b'-');
            buf.extend_from_slice(part(4, 2));
            buf.push(b'-');
            buf.extend_from_slice(part(6, 2));
            buf.push(b'T');
            buf.extend_from_slice(part(8, 2));
            buf.push(b':');
            buf.extend_from_slice(part(10, 2));
            if l == 14 {
                buf.push(b':');
                buf.extend_from_slice(part(12, 2));
                b"%Y-%m-%dT%H:%M:%S"
            } else {
                b"%Y-%m-%dT%H:%M"
            }
        }
        _ => return None,
    };
    let tm = strptime(&buf, fmt)?;
    let t = if is_utc { timegm(&tm) } else { mktime(&tm)? };
    u64::try_from(t).ok()
}

/// The fields `strptime` sets for these formats (C `struct tm` meaning: year since 1900,
/// month 0..11).
#[derive(Debug, Default, Clone, Copy)]
struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
    sec: i64,
}

/// glibc `strptime` for the conversions `%Y %m %d %H %M %S` and literal characters.
fn strptime(buf: &[u8], fmt: &[u8]) -> Option<Tm> {
    let mut tm = Tm::default();
    let mut rp = 0usize;
    let mut f = 0usize;
    let at = |i: usize| buf.get(i).copied().unwrap_or(0);
    // get_number(from, to, n)
    let get_number = |rp: &mut usize, from: i64, to: i64, n: usize| -> Option<i64> {
        while is_c_space(at(*rp)) {
            *rp += 1;
        }
        if !at(*rp).is_ascii_digit() {
            return None;
        }
        let mut val = 0i64;
        let mut left = n;
        loop {
            val = val * 10 + i64::from(at(*rp) - b'0');
            *rp += 1;
            left -= 1;
            if !(left > 0 && val * 10 <= to && at(*rp).is_ascii_digit()) {
                break;
            }
        }
        (from..=to).contains(&val).then_some(val)
    };
    while f < fmt.len() {
        if fmt[f] != b'%' {
            if at(rp) != fmt[f] {
                return None;
            }
            rp += 1;
            f += 1;
            continue;
        }
        let conv = *fmt.get(f + 1)?;
        f += 2;
        match conv {
            b'Y' => tm.year = get_number(&mut rp, 0, 9999, 4)? - 1900,
            b'm' => tm.mon = get_number(&mut rp, 1, 12, 2)? - 1,
            b'd' => tm.mday = get_number(&mut rp, 1, 31, 2)?,
            b'H' => tm.hour = get_number(&mut rp, 0, 23, 2)?,
            b'M' => tm.min = get_number(&mut rp, 0, 59, 2)?,
            b'S' => tm.sec = get_number(&mut rp, 0, 61, 2)?,
            _ => return None,
        }
    }
    // parse_absolute_time requires the whole buffer to be consumed.
    (rp == buf.len()).then_some(tm)
}

/// Days from 1970-01-01 to the first of `month` (1..12) of `year` (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `timegm`: out-of-range days (Feb 31) and seconds (60, 61) carry over as the C
/// library's normalisation does. Negative results are invalid (`tt < 0`).
fn timegm(tm: &Tm) -> i64 {
    let days = days_from_civil(tm.year + 1900, tm.mon + 1) + tm.mday - 1;
    days * 86_400 + tm.hour * 3600 + tm.min * 60 + tm.sec
}

/// `mktime` with `tm_isdst` = 0, as parse_absolute_time calls it: the C library's own
/// on Unix (the same rules as the ssh-keygen beside it, TZ included).
#[cfg(unix)]
fn mktime(tm: &Tm) -> Option<i64> {
    // SAFETY: `libc::tm` is a plain C struct for which all-zero is a valid value; mktime
    // reads and normalises the struct it is given and touches nothing else of ours.
    let mut c: libc::tm = unsafe { std::mem::zeroed() };
    c.tm_year = i32::try_from(tm.year).ok()?;
    c.tm_mon = i32::try_from(tm.mon).ok()?;
    c.tm_mday = i32::try_from(tm.mday).ok()?;
    c.tm_hour = i32::try_from(tm.hour).ok()?;
    c.tm_min = i32::try_from(tm.min).ok()?;
    c.tm_sec = i32::try_from(tm.sec).ok()?;
    c.tm_isdst = 0;
    // SAFETY: `c` is a valid, exclusively borrowed `struct tm`.
    let t = unsafe { libc::mktime(&mut c) };
    #[allow(clippy::unnecessary_cast)]
    let t = t as i64;
    (t >= 0).then_some(t)
}

/// `mktime` elsewhere: the system time zone's offset at that wall-clock time.
#[cfg(not(unix))]
fn mktime(tm: &Tm) -> Option<i64> {
    let utc = timegm(tm);
    let tz = jiff::tz::TimeZone::system();
    let ts = jiff::Timestamp::from_second(utc).ok()?;
    let offset = tz.to_offset(ts).seconds() as i64;
    let t = utc - offset;
    (t >= 0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::Signer;

    const NS: &str = "fieldkit-evidence";

    fn key() -> (Signer, String) {
        let s = Signer::one_time("a").unwrap();
        let p = s.public_openssh().unwrap();
        (s, p)
    }

    fn accepts(text: &str, signer: &Signer, who: &str, now: u64) -> bool {
        matches!(
            AllowedSigners::parse("f", text.as_bytes()).check(
                signer.public_key(),
                Some(who),
                Some(NS),
                now
            ),
            Decision::Accepted { .. }
        )
    }

    #[test]
    fn patterns_follow_match_pattern_list() {
        assert_eq!(match_pattern_list(b"a@x", b"a@x"), 1);
        assert_eq!(match_pattern_list(b"a@x", b"*@x,!a@x"), -1);
        assert_eq!(match_pattern_list(b"a@x", b"!b@x"), 0);
        assert_eq!(match_pattern_list(b"a@x", b"!b@x,*"), 1);
        assert_eq!(match_pattern_list(b"a@x", b"?@?"), 1);
        assert_eq!(match_pattern_list(b"a@x", b"A@x"), 0);
        assert_eq!(match_pattern_list(b"", b""), 0);
        assert_eq!(match_pattern_list(b"", b"x,,y"), 1);
        let long = format!("a@x,{}", "*".repeat(1023));
        assert_eq!(match_pattern_list(b"a@x", long.as_bytes()), 0);
        assert!(match_pattern(b"abc", b"a**c"));
        assert!(!match_pattern(b"abc", b"a?"));
    }

    #[test]
    fn times_follow_parse_absolute_time() {
        assert_eq!(parse_absolute_time(b"20260101Z"), Some(1_767_225_600));
        assert_eq!(parse_absolute_time(b"202601010000utc"), Some(1_767_225_600));
        assert_eq!(parse_absolute_time(b"20260101000001z"), Some(1_767_225_601));
        // glibc accepts day 31 in any month and timegm carries it over.
        assert_eq!(
            parse_absolute_time(b"20260231Z"),
            parse_absolute_time(b"20260303Z")
        );
        assert_eq!(
            parse_absolute_time(b"20260101000060Z"),
            parse_absolute_time(b"20260101000100Z")
        );
        for bad in [
            &b"2026010Z"[..],
            b"20261301Z",
            b"20260100Z",
            b"20260132Z",
            b"202601012400Z",
            b"202601010060Z",
            b"20260101000062Z",
            b"2026-1-1Z",
            b"Z",
            b"",
            b"19691231Z",
        ] {
            assert_eq!(
                parse_absolute_time(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // 1970-01-01T00:00:00Z parses to 0, which the options parser rejects.
        assert_eq!(parse_absolute_time(b"19700101Z"), Some(0));
        assert!(parse_options(b"valid-after=\"19700101Z\"").is_err());
    }

    #[test]
    fn lines_accept_exactly_as_ssh_keygen_reads_them() {
        let (s, pk) = key();
        let (_, other) = key();
        let now = 1_800_000_000;
        let ok = |t: String| accepts(&t, &s, "you@lab", now);
        assert!(ok(format!("you@lab {pk}")));
        assert!(ok(format!("  you@lab\t{pk}\r\n")));
        assert!(ok(format!("\"you@lab,other\" {pk}")));
        assert!(ok(format!("*@lab namespaces=\"git,fieldkit-*\" {pk}")));
        assert!(ok(format!(
            "you@lab NAMESPACES=\"{NS}\",Valid-After=\"20200101\" {pk}"
        )));
        assert!(!ok(format!("*@lab,!you@lab {pk}")));
        assert!(!ok(format!("you@lab namespaces=\"!{NS},*\" {pk}")));
        assert!(!ok(format!("you@lab namespaces=\"git, {NS}\" {pk}")));
        assert!(!ok(format!("you@lab namespaces={NS} {pk}")));
        assert!(!ok(format!("you@lab cert-authority {pk}")));
        assert!(!ok(format!("you@lab valid-before=\"20200101Z\" {pk}")));
        assert!(!ok(format!("you@lab valid-after=\"20300101Z\" {pk}")));
        assert!(!ok(format!("you@lab unknown-option {pk}")));
        assert!(!ok(format!("you@lab {other}")));
        assert!(!ok(format!("# you@lab {pk}")));
        // A malformed line before is skipped; the first accepting line wins.
        let text = format!("you@lab ssh-ed25519 !!!\nyou@lab {pk}\n");
        assert!(ok(text.clone()));
        let parsed = AllowedSigners::parse("f", text.as_bytes());
        assert_eq!(parsed.warnings().len(), 1);
        assert!(
            parsed.warnings()[0].starts_with("f:1: "),
            "{:?}",
            parsed.warnings()
        );
        match parsed.check(s.public_key(), Some("you@lab"), Some(NS), now) {
            Decision::Accepted { line, .. } => assert_eq!(line, 2),
            d => panic!("{d:?}"),
        }
        // Reasons name the line.
        match AllowedSigners::parse(
            "f",
            format!("you@lab valid-before=\"20200101Z\" {pk}").as_bytes(),
        )
        .check(s.public_key(), Some("you@lab"), Some(NS), now)
        {
            Decision::Rejected { reasons } => {
                assert!(
                    reasons[0].contains("line 1: the key expired at 2020-01-01 00:00:00 UTC"),
                    "{reasons:?}"
                )
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn base64_is_decoded_as_b64_pton_does() {
        assert_eq!(b64_pton(b"aGk=").unwrap(), b"hi");
        assert_eq!(b64_pton(b"aG\nk=").unwrap(), b"hi");
        assert_eq!(b64_pton(b"aGk"), None);
        assert_eq!(b64_pton(b"aGl="), None, "non-zero trailing bits");
        assert_eq!(b64_pton(b"aA=="), Some(b"h".to_vec()));
        assert_eq!(b64_pton(b"aA="), None);
        assert_eq!(b64_pton(b"aGk=x"), None);
        assert_eq!(b64_pton(b"aGlk").unwrap(), b"hid");
        assert_eq!(b64_pton(b"").unwrap(), b"");
    }
}
