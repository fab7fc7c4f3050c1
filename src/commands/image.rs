//! `fieldkit image info IMAGE [--json]`: what an examiner looks at before choosing a
//! profile — the container (format, size, segments, the container's own stored hashes
//! and metadata), the volume system, and each volume (number, offset, size, type GUID or
//! ID, name, the file system found, its label, serial, size and notes, or why it cannot
//! be read), then the profile `collect --source IMAGE` would choose.
//!
//! Owns only this view. Must never: write anything, read more than the structures that
//! describe the image (no file content is read; the profile choice lists the root
//! folder of each volume), or fail the whole image for what concerns one volume.

use std::io::Write;

use anyhow::anyhow;
use serde::Serialize;

use crate::cli::{ImageArgs, ImageCommand, ImageInfoArgs};
use crate::source::image::fs::FsInfo;
use crate::source::image::open::{Image, open_image};
use crate::source::image::source::{ReadableVolume, choose_profile, open_fs};

pub fn run(args: ImageArgs) -> anyhow::Result<u8> {
    match args.command {
        ImageCommand::Info(a) => info(a),
    }
}

/// A volume's file system as `image info` reports it: what the reader says, or why
/// there is none to read.
#[derive(Serialize)]
struct VolumeFs {
    number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_system: Option<FsInfo>,
    /// `readable`, `no_file_system` or `unreadable`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct Info<'a> {
    #[serde(flatten)]
    image: &'a Image,
    file_systems: Vec<VolumeFs>,
    /// The profile `collect --source` picks without `--profile`, and why.
    profile_choice: Option<ProfileChoice>,
}

#[derive(Serialize)]
struct ProfileChoice {
    profile: &'static str,
    because: String,
}

fn info(args: ImageInfoArgs) -> anyhow::Result<u8> {
    let image = open_image(&args.image).map_err(|e| anyhow!("{e}"))?;
    let mut file_systems = Vec::new();
    let mut readable = Vec::new();
    for v in &image.volumes {
        let (fs, status, reason) = match v.file_system {
            None => (
                None,
                "no_file_system",
                Some("no file system fieldkit recognises in its first sectors".to_string()),
            ),
            Some(kind) => match open_fs(kind, v.reader()) {
                Ok(fs) => {
                    let info = fs.info();
                    readable.push(ReadableVolume {
                        number: v.info.number,
                        offset: v.info.offset,
                        fs,
                        info: info.clone(),
                    });
                    (Some(info), "readable", None)
                }
                Err(e) => (
                    None,
                    "unreadable",
                    Some(match e.offset {
                        Some(o) => format!(
                            "{}: {} at volume offset {o} (image offset {}) [{}]",
                            kind.name(),
                            e.detail,
                            o.saturating_add(v.info.offset),
                            e.reason
                        ),
                        None => format!("{}: {} [{}]", kind.name(), e.detail, e.reason),
                    }),
                ),
            },
        };
        file_systems.push(VolumeFs {
            number: v.info.number,
            file_system: fs,
            status,
            reason,
        });
    }
    let profile_choice = (!readable.is_empty()).then(|| {
        let (profile, because) = choose_profile(&readable);
        ProfileChoice { profile, because }
    });
    let out = Info {
        image: &image,
        file_systems,
        profile_choice,
    };
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&out)?;
        s.push('\n');
        s
    } else {
        render(&out)
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(super::exit::OK)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {} ({n} bytes)", UNITS[u])
    }
}

fn render(info: &Info<'_>) -> String {
    use std::fmt::Write as _;
    let img = info.image;
    let c = &img.container;
    let mut s = String::new();
    let _ = writeln!(s, "Image       {}", c.path.display());
    let _ = writeln!(s, "Container   {}", c.format_detail);
    let _ = writeln!(s, "Media size  {}", bytes(c.media_size));
    if c.segments.len() > 1 {
        let _ = writeln!(s, "Segments    {}", c.segments.len());
    }
    for (alg, v) in [
        ("MD5", &c.stored_hashes.md5),
        ("SHA-1", &c.stored_hashes.sha1),
    ] {
        if let Some(v) = v {
            let _ = writeln!(
                s,
                "Stored {alg:<5} {v} (the container's own; collect --hash-image checks it)"
            );
        }
    }
    for (k, v) in &c.metadata {
        let _ = writeln!(s, "  {k}: {v}");
    }
    for n in &c.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let vs = &img.volume_system;
    let _ = writeln!(
        s,
        "Volumes     {} ({} volume(s){})",
        vs.scheme,
        img.volumes.len(),
        vs.disk_id
            .as_deref()
            .map(|d| format!(", disk id {d}"))
            .unwrap_or_default()
    );
    for n in &vs.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    for (v, f) in img.volumes.iter().zip(&info.file_systems) {
        let i = &v.info;
        let _ = writeln!(
            s,
            "  {}  offset {}  size {}{}{}",
            i.number,
            i.offset,
            bytes(i.size),
            i.partition_type
                .as_deref()
                .map(|t| format!(
                    "  type {t}{}",
                    i.type_name.map(|n| format!(" ({n})")).unwrap_or_default()
                ))
                .unwrap_or_default(),
            i.name
                .as_deref()
                .map(|n| format!("  name {n:?}"))
                .unwrap_or_default()
        );
        match &f.file_system {
            Some(fs) => {
                let _ = writeln!(
                    s,
                    "     {}{}{}, {} blocks of {} bytes",
                    fs.kind,
                    fs.label
                        .as_deref()
                        .map(|l| format!(" label {l:?}"))
                        .unwrap_or_default(),
                    fs.serial
                        .as_deref()
                        .map(|l| format!(" serial {l}"))
                        .unwrap_or_default(),
                    fs.size / fs.block_size.max(1),
                    fs.block_size
                );
                for n in &fs.notes {
                    let _ = writeln!(s, "     note: {n}");
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    "     not read: {}",
                    f.reason.as_deref().unwrap_or(f.status)
                );
            }
        }
        for n in &i.notes {
            let _ = writeln!(s, "     note: {n}");
        }
    }
    match &info.profile_choice {
        Some(p) => {
            let _ = writeln!(
                s,
                "Profile     {} (what collect --source picks without --profile: {})",
                p.profile, p.because
            );
        }
        None => {
            let _ = writeln!(s, "Profile     none: no volume fieldkit can read");
        }
    }
    s
}
