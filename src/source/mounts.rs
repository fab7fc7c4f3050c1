//! Filesystem types of the mounts the walk may cross, so pseudo filesystems (/proc, /sys,
//! /dev) and network filesystems (which can hang a read forever) are recognised by the
//! device they live on.
//!
//! Owns reading the kernel's mount table (`/proc/self/mountinfo` on Linux). Reads only
//! kernel interfaces; never runs `mount` or any program of the examined system.

use std::collections::HashMap;

/// How the walk treats a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsClass {
    /// Ordinary on-disk filesystem: walked and read.
    Regular,
    /// Kernel pseudo filesystem: contents are not files on a disk; reading can block or
    /// never end. Walked only where a rule names a path on it explicitly.
    Pseudo,
    /// Network or FUSE-over-network filesystem: a read can hang indefinitely when the
    /// server is gone. Recorded and not walked.
    Network,
}

const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "bpf",
    "pstore",
    "efivarfs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "selinuxfs",
    "nsfs",
    "rpc_pipefs",
    "nfsd",
    "ramfs",
];

const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "sshfs",
    "davfs",
    "fuse.davfs",
    "afs",
    "ncpfs",
    "fuse.rclone",
    "fuse.s3fs",
    "lustre",
    "gfs2",
    "ocfs2",
];

pub fn classify(fs_type: &str) -> FsClass {
    if PSEUDO.contains(&fs_type) {
        FsClass::Pseudo
    } else if NETWORK.contains(&fs_type) {
        FsClass::Network
    } else {
        FsClass::Regular
    }
}

/// Device number → filesystem type, from the kernel's mount table.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    by_dev: HashMap<u64, String>,
}

impl MountTable {
    /// Read the running system's mount table; empty (everything Regular) where the OS has
    /// none we can read.
    pub fn load() -> Self {
        #[cfg(target_os = "linux")]
        {
            if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
                return Self::parse_mountinfo(&text);
            }
        }
        MountTable::default()
    }

    /// Parse `/proc/self/mountinfo` text (see proc(5)).
    pub fn parse_mountinfo(text: &str) -> Self {
        let mut by_dev = HashMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(devnum), Some(fs_type)) = (fields.get(2), fields.get(sep + 1)) else {
                continue;
            };
            let Some((major, minor)) = devnum.split_once(':') else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
                continue;
            };
            by_dev
                .entry(makedev(major, minor))
                .or_insert_with(|| fs_type.to_string());
        }
        MountTable { by_dev }
    }

    pub fn fs_type(&self, dev: u64) -> Option<&str> {
        self.by_dev.get(&dev).map(String::as_str)
    }

    pub fn class(&self, dev: u64) -> FsClass {
        self.fs_type(dev).map(classify).unwrap_or(FsClass::Regular)
    }
}

/// Linux `makedev` (glibc encoding), as `st_dev` reports it.
pub fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0x0000_0fff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0x0000_00ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_maps_devices_to_types() {
        let text = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    23 1 0:5 / /dev rw - devtmpfs udev rw,size=10k\n\
                    24 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                    25 1 0:40 / /mnt/share rw - nfs4 srv:/x rw\n\
                    garbage line\n";
        let t = MountTable::parse_mountinfo(text);
        assert_eq!(t.class(makedev(0, 21)), FsClass::Pseudo);
        assert_eq!(t.class(makedev(0, 5)), FsClass::Pseudo);
        assert_eq!(t.class(makedev(254, 1)), FsClass::Regular);
        assert_eq!(t.class(makedev(0, 40)), FsClass::Network);
        assert_eq!(t.fs_type(makedev(254, 1)), Some("ext4"));
        assert_eq!(t.class(12345), FsClass::Regular);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_running_systems_proc_is_pseudo() {
        use std::os::unix::fs::MetadataExt;
        let t = MountTable::load();
        let dev = std::fs::metadata("/proc/self").unwrap().dev();
        assert_eq!(t.class(dev), FsClass::Pseudo);
    }
}
