//! Mounts and block devices (`live/mounts.json`): the mount table as the kernel reports it
//! (`/proc/self/mountinfo`), every block device sysfs knows (disks, partitions, loop,
//! device-mapper) with its size and relations, and active swap.
//!
//! Owns parsing the mount table, which the other captures also use to tell whether a path
//! lives on a network filesystem. It must never stat, open or list anything on a mounted
//! filesystem: everything here comes from procfs and sysfs.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "mounts",
    member: "live/mounts.json",
    schema: "fieldkit.live.mounts",
    reads: "/proc/self/mountinfo, /sys/class/block/*, /proc/swaps",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountsState {
    pub mounts: Vec<Mount>,
    pub block_devices: Vec<BlockDevice>,
    #[serde(default)]
    pub swaps: Vec<Swap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    pub mount_id: u64,
    pub parent_id: u64,
    /// `major:minor` of the filesystem's device.
    pub device: String,
    /// The directory of the filesystem that is mounted here (`/` unless a bind mount).
    pub root: String,
    pub mount_point: String,
    /// Exact bytes of the mount point, base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_point_b64: Option<String>,
    pub options: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagation: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
    /// A network filesystem: fieldkit never touches paths below it during live capture.
    pub network: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockDevice {
    pub name: String,
    /// `disk`, `partition`, `loop`, `dm`, `md`, `zram`, `ram`, `nbd`, …
    pub kind: String,
    /// `major:minor`.
    pub dev: String,
    pub size_bytes: u64,
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removable: Option<bool>,
    /// For a partition: its number and the disk it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_uuid: Option<String>,
    /// For a loop device: the file it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<String>,
    /// Devices this one is built on (device-mapper, md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slaves: Vec<String>,
    /// Devices built on this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Swap {
    pub filename: String,
    pub kind: String,
    pub size_kib: u64,
    pub used_kib: u64,
    pub priority: i64,
}

impl Captured for MountsState {
    fn detail(&self) -> String {
        format!(
            "{} mounts ({} network), {} block devices, {} swap areas",
            self.mounts.len(),
            self.mounts.iter().filter(|m| m.network).count(),
            self.block_devices.len(),
            self.swaps.len()
        )
    }
}

/// Filesystems served over a network (or by a daemon talking to one): a stuck server or
/// daemon makes every access hang, so live capture never touches paths below them.
pub fn is_network_fs(fs_type: &str) -> bool {
    const EXACT: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "9p",
        "coda",
        "davfs",
        "ocfs2",
        "gfs2",
        "beegfs",
        "orangefs",
        "pvfs2",
    ];
    const FUSE_REMOTE: &[&str] = &[
        "sshfs",
        "glusterfs",
        "s3fs",
        "rclone",
        "davfs2",
        "gcsfuse",
        "cephfs",
        "ceph-fuse",
        "curlftpfs",
        "smbnetfs",
        "juicefs",
        "goofys",
        "blobfuse",
        "blobfuse2",
        "mountpoint-s3",
        "gvfsd-fuse",
        "moosefs",
        "mfs",
        "lizardfs",
        "seaweedfs",
        "onedriver",
        "google-drive-ocamlfuse",
    ];
    let t = fs_type.to_ascii_lowercase();
    if EXACT.contains(&t.as_str()) || t.starts_with("nfs") {
        return true;
    }
    match t
        .strip_prefix("fuse.")
        .or_else(|| t.strip_prefix("fuseblk."))
    {
        Some(sub) => FUSE_REMOTE.contains(&sub),
        None => false,
    }
}

/// Undo the octal escapes (`\040` for a space, …) the kernel puts in mountinfo fields.
pub fn unescape_octal(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Parse `/proc/PID/mountinfo`; lines that do not parse are returned as notes.
pub fn parse_mountinfo(text: &str) -> (Vec<Mount>, Vec<String>) {
    let mut mounts = Vec::new();
    let mut notes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_mountinfo_line(line) {
            Some(m) => mounts.push(m),
            None => notes.push(format!("mountinfo line {}: cannot parse: {line:?}", n + 1)),
        }
    }
    (mounts, notes)
}

fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    if sep < 6 || fields.len() < sep + 3 {
        return None;
    }
    let unescape = |s: &str| String::from_utf8_lossy(&unescape_octal(s)).into_owned();
    let mount_point_bytes = unescape_octal(fields[4]);
    let (mount_point, mount_point_b64) = super::text_and_b64(&mount_point_bytes);
    let fs_type = unescape(fields[sep + 1]);
    Some(Mount {
        mount_id: fields[0].parse().ok()?,
        parent_id: fields[1].parse().ok()?,
        device: fields[2].to_string(),
        root: unescape(fields[3]),
        mount_point,
        mount_point_b64,
        options: fields[5].to_string(),
        propagation: fields[6..sep].iter().map(|s| s.to_string()).collect(),
        network: is_network_fs(&fs_type),
        fs_type,
        source: unescape(fields[sep + 2]),
        super_options: fields
            .get(sep + 3)
            .map(|s| s.to_string())
            .unwrap_or_default(),
    })
}

/// The mount table, for answering "which filesystem is this path (or mount id) on?"
/// without asking the filesystem.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    pub mounts: Vec<Mount>,
}

impl MountTable {
    #[cfg(target_os = "linux")]
    pub fn read(proc_root: &std::path::Path, pid: &str) -> std::io::Result<MountTable> {
        let bytes = super::sys::read_kernel(&proc_root.join(pid).join("mountinfo"), 64 << 20)?;
        Ok(MountTable {
            mounts: parse_mountinfo(&String::from_utf8_lossy(&bytes)).0,
        })
    }

    pub fn by_id(&self, id: u64) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.mount_id == id)
    }

    /// The mount a path is on: the longest mount point that is a prefix of it, the most
    /// recent mount winning on the same point (it hides the earlier one).
    pub fn containing(&self, path: &[u8]) -> Option<&Mount> {
        let mut best: Option<&Mount> = None;
        for m in &self.mounts {
            let mp = m.mount_point.as_bytes();
            let inside = mp == b"/"
                || path == mp
                || (path.starts_with(mp) && path.get(mp.len()) == Some(&b'/'));
            if inside && best.is_none_or(|b| mp.len() >= b.mount_point.len()) {
                best = Some(m);
            }
        }
        best
    }

    /// The network filesystem a lookup of `path` would pass through, if any: the path is
    /// on one, or a local filesystem mounted below one (walking there asks the server
    /// about every directory on the way).
    pub fn on_network(&self, path: &[u8]) -> Option<&Mount> {
        self.mounts.iter().find(|m| {
            let mp = m.mount_point.as_bytes();
            m.network
                && (path == mp
                    || mp == b"/"
                    || (path.starts_with(mp) && path.get(mp.len()) == Some(&b'/')))
        })
    }
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx) -> Result<MountsState, String> {
    use super::sys;
    let mut state = MountsState::default();
    let mi = ctx.roots.proc.join("self/mountinfo");
    let bytes = sys::read_kernel(&mi, 64 << 20).map_err(|e| format!("{}: {e}", mi.display()))?;
    let (mounts, notes) = parse_mountinfo(&String::from_utf8_lossy(&bytes));
    state.mounts = mounts;
    state.notes.extend(notes);
    match block_devices(&ctx.roots.sys) {
        Ok(devs) => state.block_devices = devs,
        Err(e) => state.notes.push(e),
    }
    let swaps = ctx.roots.proc.join("swaps");
    match sys::read_kernel(&swaps, 1 << 20) {
        Ok(b) => state.swaps = parse_swaps(&String::from_utf8_lossy(&b)),
        Err(e) => state.notes.push(format!("{}: {e}", swaps.display())),
    }
    Ok(state)
}

pub fn parse_swaps(text: &str) -> Vec<Swap> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 5 {
                return None;
            }
            Some(Swap {
                filename: String::from_utf8_lossy(&unescape_octal(f[0])).into_owned(),
                kind: f[1].to_string(),
                size_kib: f[2].parse().ok()?,
                used_kib: f[3].parse().ok()?,
                priority: f[4].parse().ok()?,
            })
        })
        .collect()
}

/// Every block device in `/sys/class/block`, with what sysfs says about it.
#[cfg(target_os = "linux")]
pub fn block_devices(sys_root: &std::path::Path) -> Result<Vec<BlockDevice>, String> {
    use super::sys;
    let class = sys_root.join("class/block");
    let names = sys::dir_names(&class).map_err(|e| format!("{}: {e}", class.display()))?;
    let mut devs = Vec::new();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let dir = class.join(&name);
        let attr = |a: &str| sys::read_attr(&dir.join(a)).filter(|s| !s.is_empty());
        let partition = attr("partition").and_then(|p| p.parse::<u32>().ok());
        // /sys/class/block/sda1 -> ../../devices/…/block/sda/sda1: the parent is the
        // component before the name.
        let parent = partition.and_then(|_| {
            let link = sys::read_link_bytes(&dir).ok()?;
            let link = String::from_utf8_lossy(&link).into_owned();
            let mut parts = link.rsplit('/');
            parts.next();
            parts.next().map(str::to_string)
        });
        let list = |sub: &str| -> Vec<String> {
            sys::dir_names(&dir.join(sub))
                .map(|v| v.iter().map(|n| n.to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        let kind = if partition.is_some() {
            "partition"
        } else if name.starts_with("loop") {
            "loop"
        } else if name.starts_with("dm-") {
            "dm"
        } else if name.starts_with("md") {
            "md"
        } else if name.starts_with("zram") {
            "zram"
        } else if name.starts_with("ram") {
            "ram"
        } else if name.starts_with("nbd") {
            "nbd"
        } else {
            "disk"
        };
        devs.push(BlockDevice {
            kind: kind.to_string(),
            dev: attr("dev").unwrap_or_default(),
            size_bytes: attr("size")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|sectors| sectors.saturating_mul(512))
                .unwrap_or(0),
            read_only: attr("ro").as_deref() == Some("1"),
            removable: attr("removable").map(|r| r == "1"),
            partition,
            parent,
            vendor: attr("device/vendor"),
            model: attr("device/model"),
            serial: attr("device/serial").or_else(|| attr("serial")),
            dm_name: attr("dm/name"),
            dm_uuid: attr("dm/uuid"),
            backing_file: attr("loop/backing_file"),
            slaves: list("slaves"),
            holders: list("holders"),
            name,
        });
    }
    Ok(devs)
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx) -> Result<MountsState, String> {
    let disks =
        sysinfo::Disks::new_with_refreshed_list().map_err(|e| format!("cannot list disks: {e}"))?;
    let mut state = MountsState::default();
    for (i, d) in disks.iter().enumerate() {
        state.mounts.push(Mount {
            mount_id: i as u64,
            mount_point: d.mount_point().display().to_string(),
            fs_type: d.file_system().to_string_lossy().into_owned(),
            source: d.name().to_string_lossy().into_owned(),
            options: if d.is_read_only() { "ro" } else { "rw" }.to_string(),
            ..Mount::default()
        });
        state.block_devices.push(BlockDevice {
            name: d.name().to_string_lossy().into_owned(),
            kind: d.kind().to_string(),
            size_bytes: d.total_space(),
            read_only: d.is_read_only(),
            removable: Some(d.is_removable()),
            ..BlockDevice::default()
        });
    }
    state.notes.push(
        "from the OS volume list (sysinfo): propagation, bind roots, swap and device \
         relations are not yet captured on this OS"
            .to_string(),
    );
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard\n\
40 27 0:40 / /mnt/with\\040space rw - nfs4 srv:/export rw,vers=4.2\n\
41 27 0:41 / /home/u/secret rw,nosuid - fuse.gocryptfs /home/u/.cipher rw,user_id=1000\n\
garbage line\n";

    #[test]
    fn mountinfo_fields_escapes_and_network_flags() {
        let (mounts, notes) = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 4);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(mounts[1].propagation, vec!["shared:1"]);
        assert_eq!(mounts[2].mount_point, "/mnt/with space");
        assert!(mounts[2].network);
        assert!(!mounts[3].network);
        assert_eq!(mounts[3].fs_type, "fuse.gocryptfs");
        assert_eq!(mounts[3].source, "/home/u/.cipher");
    }

    #[test]
    fn paths_are_placed_on_the_longest_mount_point() {
        let table = MountTable {
            mounts: parse_mountinfo(SAMPLE).0,
        };
        assert_eq!(table.containing(b"/etc/passwd").unwrap().mount_id, 27);
        assert_eq!(table.containing(b"/mnt/with space/x").unwrap().mount_id, 40);
        assert_eq!(table.containing(b"/mnt/with spacex").unwrap().mount_id, 27);
        assert!(table.on_network(b"/mnt/with space/bin/tool").is_some());
        assert!(table.on_network(b"/usr/bin/sleep").is_none());
        // A local filesystem mounted inside a network one is still reached through it.
        let mut nested = table.clone();
        nested.mounts.push(Mount {
            mount_id: 99,
            mount_point: "/mnt/with space/local".to_string(),
            fs_type: "ext4".to_string(),
            ..Mount::default()
        });
        assert_eq!(
            nested
                .containing(b"/mnt/with space/local/x")
                .unwrap()
                .mount_id,
            99
        );
        assert!(nested.on_network(b"/mnt/with space/local/x").is_some());
    }

    #[test]
    fn truncated_and_garbage_mountinfo_never_panics() {
        for cut in 0..SAMPLE.len() {
            let _ = parse_mountinfo(&SAMPLE[..cut]);
        }
        let _ = parse_mountinfo("1 2 - - - - - -\n\\\\\\ - \\7\n- - - -");
        assert_eq!(unescape_octal("a\\04"), b"a\\04");
        assert_eq!(unescape_octal("\\134x"), b"\\x");
    }

    #[test]
    fn network_filesystems_are_recognised() {
        for t in ["nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "9p", "ceph"] {
            assert!(is_network_fs(t), "{t}");
        }
        for t in ["ext4", "xfs", "tmpfs", "fuse.gocryptfs", "overlay", "btrfs"] {
            assert!(!is_network_fs(t), "{t}");
        }
    }
}
