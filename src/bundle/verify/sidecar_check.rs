//! The `.zip.sha256` and `.zip.sig` beside a bundle (of its final name; found by name or
//! by the bundle id): the recorded SHA-256 against the file's, the sidecar signature by
//! the key that signed SHA256SUMS, its armour byte for byte canonical.
//!
//! A missing sidecar is a note, never a failure: the bundle itself carries its proof.

use super::*;

/// `.sha256` and `.sig` of the bundle's final name (an unfinished bundle's sidecars are
/// already named after it), found by name, else by the bundle id (sidecars.rs); the
/// `.sig` must be by `keys` (the key that signed SHA256SUMS; none: any key).
pub(super) fn check_sidecars(
    life: &lifecycle::Names,
    whole: &[u8; 32],
    keys: &[PublicKey],
    r: &mut Report,
) {
    let (sha, sig) = crate::bundle::sidecars::find(&life.final_path, r.bundle_id.as_deref());
    let (want_sha, want_sig) = sidecar_paths(&life.final_path);
    let own = life.final_name();
    for found in [&sha, &sig].into_iter().flatten() {
        if !found.by_name {
            r.notes.push(format!(
                "sidecar {} found by the bundle id in its name (the bundle is now called \
                 {own:?}; rename sidecars with the bundle, keeping their suffixes)",
                found.path.display()
            ));
        }
    }
    match sha.map(|f| (std::fs::read_to_string(&f.path), f.path)) {
        Some((Ok(text), sha_path)) => {
            let first = text.lines().next().unwrap_or("");
            match parse_sums(first).ok().and_then(|v| v.into_iter().next()) {
                Some((name, digest)) => {
                    if digest != *whole {
                        r.problem(
                            "sidecar_mismatch",
                            format!(
                                "{}: records SHA-256 {} but the bundle's is {}",
                                sha_path.display(),
                                hex(&digest),
                                hex(whole)
                            ),
                        );
                    }
                    if name != own {
                        r.notes.push(format!(
                            "{} names {name:?}, the bundle is now called {own:?}",
                            sha_path.display()
                        ));
                    }
                }
                None => r.problem(
                    "sidecar_mismatch",
                    format!("{}: not a sha256sum line", sha_path.display()),
                ),
            }
        }
        Some((Err(e), sha_path)) => r
            .notes
            .push(format!("{}: cannot read: {e}", sha_path.display())),
        None => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            want_sha.display()
        )),
    }
    match sig.map(|f| (std::fs::read(&f.path), f.path)) {
        Some((Ok(pem), sig_path)) => {
            structure::check_armour(&sig_path.display().to_string(), &pem, r);
            if let Err(p) = sign::verify(&pem, sign::Message::Sha256Digest(whole), keys) {
                r.problem("sidecar_signature", format!("{}: {p}", sig_path.display()));
            }
        }
        Some((Err(e), sig_path)) => r
            .notes
            .push(format!("{}: cannot read: {e}", sig_path.display())),
        None => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            want_sig.display()
        )),
    }
}
