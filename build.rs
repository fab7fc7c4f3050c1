//! Records the source commit in the binary (`fieldkit --version`, the manifest) so a lab
//! can tie a bundle to the exact build. Reproducible builds pass FIELDKIT_BUILD_COMMIT;
//! otherwise `git rev-parse HEAD` is asked, and "unknown" is used when neither answers.
//! Never embeds build paths or times.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FIELDKIT_BUILD_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("FIELDKIT_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=FIELDKIT_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=FIELDKIT_TARGET={target}");
}
