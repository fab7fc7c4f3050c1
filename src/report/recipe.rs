//! The stock-tools recipe: how to check a bundle with `sha256sum`, `unzip` and
//! `ssh-keygen` alone. The commands are the README's "Without fieldkit" blocks, taken from
//! README.md at build time, so the README and every report show the same text; a report
//! adds only the values of the variables the blocks use (`B`, `FP` or `A` and `I`).
//!
//! Owns the extraction and the filling in. Never invents a command the README does not
//! hold, and never fills in a value it does not know (an unknown identity stays a
//! visibly unset `I`).

const README: &str = include_str!("../../README.md");

/// The fenced `sh` block after the README line `<!-- recipe:NAME … -->`.
pub fn block(name: &str) -> Option<&'static str> {
    let marker = format!("<!-- recipe:{name}");
    let at = README.find(&marker)?;
    let after = &README[at..];
    let start = after.find("```sh\n")? + "```sh\n".len();
    let body = &after[start..];
    let end = body.find("```")?;
    Some(&body[..end])
}

/// Quote `s` for a POSIX shell when it needs it.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the report knows about the bundle it describes.
pub struct Known<'a> {
    /// The bundle's file name (unknown: `B` is left for the reader to set).
    pub bundle_name: Option<&'a str>,
    pub one_time_key: bool,
    pub fingerprint: &'a str,
    /// `--allowed-signers` and `--identity`, when the report was made with them.
    pub allowed_signers: Option<&'a str>,
    pub identity: Option<&'a str>,
    /// The comment of the signing key (what `fieldkit keygen --identity` set).
    pub key_comment: Option<&'a str>,
}

/// The commands for this bundle, ready to paste: the variables, the common check and
/// the signer check for its kind of key.
pub fn render(k: &Known<'_>) -> String {
    let mut s = match k.bundle_name {
        Some(n) => format!("B={}\n", sh_quote(n)),
        None => "B=   # set: the bundle's file name\n".to_string(),
    };
    let case = if k.one_time_key {
        s.push_str(&format!(
            "FP={}   # must be the fingerprint in the paper log\n",
            sh_quote(k.fingerprint)
        ));
        "one-time-key"
    } else {
        s.push_str(&format!(
            "A={}   # the lab's allowed_signers file\n",
            sh_quote(k.allowed_signers.unwrap_or("allowed_signers"))
        ));
        match k.identity.or(k.key_comment).filter(|i| !i.is_empty()) {
            Some(i) => s.push_str(&format!(
                "I={}   # the examiner's identity in it\n",
                sh_quote(i)
            )),
            None => s.push_str(&format!(
                "I=   # set: the identity the allowed_signers file lists for {}\n",
                k.fingerprint
            )),
        }
        "own-key"
    };
    for name in ["check", case] {
        match block(name) {
            Some(b) => s.push_str(b),
            None => s.push_str("# see README.md, \"Without fieldkit\"\n"),
        }
    }
    s
}

/// The recipe for the bundle a report describes.
pub fn for_report(r: &super::Report) -> String {
    let m = &r.manifest;
    let anchored = r
        .integrity
        .trust
        .as_ref()
        .filter(|t| t.anchor == crate::bundle::trust::Anchor::AllowedSigners);
    render(&Known {
        bundle_name: r.bundle_name.as_deref(),
        one_time_key: m.signer.one_time_key,
        fingerprint: &m.signer.fingerprint,
        allowed_signers: anchored.and_then(|t| t.source.as_deref()),
        identity: anchored.and_then(|t| t.identity.as_deref()),
        key_comment: m.signer.public_key.split_whitespace().nth(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_holds_every_block() {
        for name in ["check", "one-time-key", "own-key"] {
            let b = block(name).unwrap_or_else(|| panic!("README has no recipe:{name}"));
            assert!(
                b.ends_with('\n') && b.contains("$B") || name != "check",
                "{b}"
            );
        }
        assert!(block("one-time-key").unwrap().contains("$FP"));
        assert!(block("own-key").unwrap().contains("\"$A\""));
        assert_eq!(sh_quote("case.zip"), "case.zip");
        assert_eq!(sh_quote("my case's.zip"), "'my case'\\''s.zip'");
        let r = render(&Known {
            bundle_name: Some("case 1.zip"),
            one_time_key: true,
            fingerprint: "SHA256:abc",
            allowed_signers: None,
            identity: None,
            key_comment: None,
        });
        assert!(r.starts_with("B='case 1.zip'\nFP=SHA256:abc   #"), "{r}");
    }
}
