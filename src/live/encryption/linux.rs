//! The Linux side of the encryption capture: the quick open-volume check (device-mapper
//! UUIDs in sysfs, the mount table, fscrypt keys in `/proc/keys`; no device opened) and
//! the full scan of the first sectors of every block device, each read read-only under
//! its own time limit. Must never write to a device or run a program (cryptsetup,
//! lsblk): everything comes from sysfs, procfs and the devices' own bytes.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::bounded::map_bounded;
use super::super::mounts::{BlockDevice, block_devices, parse_swaps};
use super::super::sys;
use super::*;

/// Steps 1–3 of the capture: what is unlocked now, from sysfs, the mount table and
/// `/proc/keys` alone (no device is opened). Cheap: run first, for the banner.
fn find_open(ctx: &Ctx, devices: &[BlockDevice]) -> OpenCheck {
    let mut found = OpenCheck::default();
    let by_name: HashMap<&str, &BlockDevice> =
        devices.iter().map(|d| (d.name.as_str(), d)).collect();
    let mounts = &ctx.mounts.mounts;
    let swaps = sys::read_kernel(&ctx.roots.proc.join("swaps"), 1 << 20)
        .map(|b| parse_swaps(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    // Where the plaintext of these devices is used: mounts (by device number or
    // source name) and swap.
    let uses_of = |closure: &[&BlockDevice]| -> Vec<String> {
        let names = |d: &BlockDevice| {
            let mut n = vec![format!("/dev/{}", d.name)];
            if let Some(dm) = &d.dm_name {
                n.push(format!("/dev/mapper/{dm}"));
            }
            n
        };
        let mut uses: Vec<String> = mounts
            .iter()
            .filter(|m| {
                closure.iter().any(|d| {
                    (!d.dev.is_empty() && d.dev == m.device) || names(d).contains(&m.source)
                })
            })
            .map(|m| m.mount_point.clone())
            .collect();
        uses.extend(
            swaps
                .iter()
                .filter(|s| closure.iter().any(|d| names(d).contains(&s.filename)))
                .map(|s| format!("swap ({})", s.filename)),
        );
        uses
    };

    // 1. Open dm-crypt mappings: the dm UUID and name sysfs gives for each dm device.
    for d in devices.iter().filter(|d| d.kind == "dm") {
        let uuid = d.dm_uuid.clone().unwrap_or_default();
        let name = d.dm_name.clone().unwrap_or_default();
        let (target, encryption) = classify_dm(&uuid, &name);
        if encryption {
            let backing = d
                .slaves
                .iter()
                .map(|s| {
                    match by_name
                        .get(s.as_str())
                        .and_then(|b| b.backing_file.as_ref())
                    {
                        Some(file) => format!("/dev/{s} (file {file})"),
                        None => format!("/dev/{s}"),
                    }
                })
                .collect();
            found.open_volumes.push(OpenVolume {
                mechanism: "dm-crypt".to_string(),
                scheme: target.clone(),
                device: format!("/dev/{}", d.name),
                name: (!name.is_empty()).then(|| format!("/dev/mapper/{name}")),
                uuid: (!uuid.is_empty()).then(|| uuid.clone()),
                backing,
                mount_points: uses_of(&stacked_on(&by_name, &d.name)),
                size_bytes: Some(d.size_bytes),
                evidence: if uuid.is_empty() {
                    format!("/sys/block/{}/dm/name = {name}", d.name)
                } else {
                    format!("/sys/block/{}/dm/uuid = {uuid}", d.name)
                },
            });
        }
        found.device_mapper.push(DmDevice {
            device: d.name.clone(),
            name,
            uuid,
            slaves: d.slaves.clone(),
            holders: d.holders.clone(),
            target,
            encryption,
        });
    }

    // 2. Encrypted filesystems mounted (stacked or FUSE).
    for m in mounts.iter() {
        if let Some(scheme) = classify_mount(&m.fs_type, &m.source) {
            found.open_volumes.push(OpenVolume {
                mechanism: if m.fs_type == "ecryptfs" {
                    "ecryptfs"
                } else {
                    "fuse"
                }
                .to_string(),
                scheme: scheme.to_string(),
                device: m.source.clone(),
                name: Some(m.mount_point.clone()),
                uuid: None,
                backing: vec![m.source.clone()],
                mount_points: vec![m.mount_point.clone()],
                size_bytes: None,
                evidence: format!(
                    "mountinfo: {} mounted at {} type {}",
                    m.source, m.mount_point, m.fs_type
                ),
            });
        }
    }
    if mounts.is_empty() {
        found.notes.push(
            "mount table unavailable: encrypted FUSE/eCryptfs mounts cannot be seen".to_string(),
        );
    }

    // 3. fscrypt v1 keys loaded.
    match sys::read_kernel(&ctx.roots.proc.join("keys"), 4 << 20) {
        Ok(b) => {
            for line in fscrypt_keys(&String::from_utf8_lossy(&b)) {
                found.open_volumes.push(OpenVolume {
                    mechanism: "fscrypt".to_string(),
                    scheme: "fscrypt (v1 key loaded)".to_string(),
                    device: line
                        .split_whitespace()
                        .nth(8)
                        .unwrap_or("")
                        .trim_end_matches(':')
                        .to_string(),
                    evidence: format!("/proc/keys: {line}"),
                    ..OpenVolume::default()
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => found.notes.push(format!("/proc/keys: {e}")),
    }
    found.notes.push(
        "fscrypt v2 keys live in per-filesystem keyrings that procfs does not show: an \
         unlocked v2 directory is not detected yet"
            .to_string(),
    );
    found
}

/// The quick check run before every other capture: open volumes only.
pub fn open_check(ctx: &Ctx) -> Result<OpenCheck, String> {
    // Without sysfs nothing can be said about dm-crypt: fail rather than report "no
    // open volume".
    let devices = block_devices(&ctx.roots.sys)?;
    Ok(find_open(ctx, &devices))
}

pub fn capture(ctx: &Ctx) -> Result<EncryptionState, String> {
    let mut state = EncryptionState::default();
    // Without sysfs nothing can be said about dm-crypt: fail rather than report "no
    // open volume".
    let devices = block_devices(&ctx.roots.sys)?;
    let found = find_open(ctx, &devices);
    state.open_volumes = found.open_volumes;
    state.device_mapper = found.device_mapper;
    state.notes = found.notes;

    // 4. Headers of every attached device, each read under its own time limit.
    let jobs: Vec<(BlockDevice, PathBuf)> = devices
        .iter()
        .filter(|d| d.size_bytes > 0)
        .map(|d| (d.clone(), ctx.roots.dev.join(d.name.replace('!', "/"))))
        .collect();
    let skipped = devices.len() - jobs.len();
    if skipped > 0 {
        state
            .notes
            .push(format!("{skipped} block devices of size 0 not read"));
    }
    let results = map_bounded(
        jobs.clone(),
        2,
        Duration::from_secs(3),
        ctx.soft_deadline,
        |(dev, path)| read_header(&dev, &path),
    );
    for ((dev, path), r) in jobs.into_iter().zip(results) {
        state.devices.push(
            r.into_result("reading the first sectors")
                .unwrap_or_else(|e| DeviceScan {
                    device: dev.name.clone(),
                    path: path.display().to_string(),
                    size_bytes: dev.size_bytes,
                    backing_file: dev.backing_file.clone(),
                    error: Some(e),
                    ..DeviceScan::default()
                }),
        );
    }

    // A volume header whose device carries an open mapping is open, else locked.
    let open_backing: BTreeSet<String> = state
        .device_mapper
        .iter()
        .filter(|d| d.encryption)
        .flat_map(|d| d.slaves.clone())
        .collect();
    for d in &state.devices {
        if d.signatures.iter().any(|s| s.coverage == "volume") && !open_backing.contains(&d.device)
        {
            let schemes: Vec<&str> = d.signatures.iter().map(|s| s.scheme.as_str()).collect();
            let mut text = format!("{} on {}", schemes.join("+"), d.path);
            if let Some(b) = &d.backing_file {
                text.push_str(&format!(" (backing file {b})"));
            }
            state.locked_containers.push(text);
        }
    }
    state.not_determined = not_determined_reason(
        &state.devices,
        "run fieldkit as root to read device headers",
        &mut state.notes,
    );
    Ok(state)
}

/// The device and everything stacked on it through `holders` (LVM on LUKS, …).
fn stacked_on<'a>(by_name: &HashMap<&str, &'a BlockDevice>, start: &str) -> Vec<&'a BlockDevice> {
    let mut seen: Vec<&BlockDevice> = Vec::new();
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        let Some(d) = by_name.get(name.as_str()).copied() else {
            continue;
        };
        if seen.iter().any(|s| s.name == d.name) || seen.len() > 64 {
            continue;
        }
        todo.extend(d.holders.iter().cloned());
        seen.push(d);
    }
    seen
}

fn read_header(dev: &BlockDevice, path: &Path) -> DeviceScan {
    let mut scan = DeviceScan {
        device: dev.name.clone(),
        path: path.display().to_string(),
        size_bytes: dev.size_bytes,
        backing_file: dev.backing_file.clone(),
        ..DeviceScan::default()
    };
    let file = match sys::open_evidence(path) {
        Ok(f) => f,
        Err(e) => {
            scan.error = Some(format!("open read-only: {e}"));
            return scan;
        }
    };
    match file.metadata() {
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let t = m.file_type();
            if !(t.is_block_device() || t.is_file()) {
                scan.error = Some("not a block device: not read".to_string());
                return scan;
            }
        }
        Err(e) => {
            scan.error = Some(format!("fstat: {e}"));
            return scan;
        }
    }
    let mut buf = Vec::with_capacity(HEADER_READ);
    let reader = &file;
    if let Err(e) = reader.take(HEADER_READ as u64).read_to_end(&mut buf) {
        scan.error = Some(format!("read: {e}"));
        if buf.is_empty() {
            return scan;
        }
    }
    scan_header(&mut scan, &buf);
    scan
}
