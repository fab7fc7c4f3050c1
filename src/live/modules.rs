//! Kernel modules (`live/modules.json`): the loaded modules (`/proc/modules`) with their
//! taint flags (out-of-tree, unsigned, proprietary: where rootkits show), and the
//! kernel's overall taint state.
//!
//! Owns parsing `/proc/modules` and decoding taint bits. It must never load, unload or
//! query a module through anything but procfs and sysfs.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "modules",
    member: "live/modules.json",
    schema: "fieldkit.live.modules",
    reads: "/proc/modules, /sys/module/*/taint, /proc/sys/kernel/tainted",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModulesState {
    /// False when the kernel has no loadable-module support (no /proc/modules) or the OS
    /// is not Linux.
    pub available: bool,
    pub modules: Vec<Module>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_tainted: Option<u64>,
    /// The taint bits decoded (`O: out-of-tree module loaded`, …).
    #[serde(default)]
    pub kernel_taint_flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub size: u64,
    pub refcount: i64,
    #[serde(default)]
    pub used_by: Vec<String>,
    /// `Live`, `Loading`, `Unloading`.
    pub state: String,
    /// Load address (zeros unless read as root with kptr_restrict allowing it).
    pub address: String,
    /// Taint letters of this module (`O` out-of-tree, `E` unsigned, `P` proprietary, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub taint: String,
}

impl Captured for ModulesState {
    fn detail(&self) -> String {
        if !self.available {
            return "no loadable-module support".to_string();
        }
        format!(
            "{} modules, {} tainted; kernel taint {}",
            self.modules.len(),
            self.modules.iter().filter(|m| !m.taint.is_empty()).count(),
            self.kernel_tainted.unwrap_or(0)
        )
    }
}

/// Taint bit letters and meanings (Documentation/admin-guide/tainted-kernels.rst).
pub const TAINTS: [(char, &str); 19] = [
    ('P', "proprietary module loaded"),
    ('F', "module force-loaded"),
    ('S', "kernel running on an out-of-spec system"),
    ('R', "module force-unloaded"),
    ('M', "machine check exception"),
    ('B', "bad page referenced"),
    ('U', "taint requested by userspace"),
    ('D', "kernel died recently (OOPS or BUG)"),
    ('A', "ACPI table overridden"),
    ('W', "kernel warning issued"),
    ('C', "staging driver loaded"),
    ('I', "platform firmware bug workaround"),
    ('O', "out-of-tree module loaded"),
    ('E', "unsigned module loaded"),
    ('L', "soft lockup occurred"),
    ('K', "kernel live-patched"),
    ('X', "auxiliary taint (distribution-defined)"),
    ('T', "built with the struct randomization plugin"),
    ('N', "in-kernel test loaded"),
];

pub fn decode_taint(value: u64) -> Vec<String> {
    TAINTS
        .iter()
        .enumerate()
        .filter(|(bit, _)| value & (1u64 << bit) != 0)
        .map(|(_, (letter, meaning))| format!("{letter}: {meaning}"))
        .collect()
}

pub fn parse_modules(text: &str) -> Vec<Module> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            Some(Module {
                name: f[0].to_string(),
                size: f[1].parse().ok()?,
                refcount: f[2].parse().ok()?,
                used_by: f[3]
                    .split(',')
                    .filter(|d| !d.is_empty() && *d != "-")
                    .map(str::to_string)
                    .collect(),
                state: f[4].to_string(),
                address: f[5].to_string(),
                taint: f
                    .get(6)
                    .map(|t| t.trim_matches(['(', ')']).to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx) -> Result<ModulesState, String> {
    use super::sys;
    let mut state = ModulesState::default();
    state.kernel_tainted =
        sys::read_attr(&ctx.roots.proc.join("sys/kernel/tainted")).and_then(|t| t.parse().ok());
    state.kernel_taint_flags = decode_taint(state.kernel_tainted.unwrap_or(0));
    let path = ctx.roots.proc.join("modules");
    match sys::read_kernel(&path, 16 << 20) {
        Ok(b) => {
            state.available = true;
            state.modules = parse_modules(&String::from_utf8_lossy(&b));
            for m in &mut state.modules {
                if m.taint.is_empty()
                    && let Some(t) =
                        sys::read_attr(&ctx.roots.sys.join("module").join(&m.name).join("taint"))
                {
                    m.taint = t;
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => state.notes.push(format!(
            "{}: absent: this kernel has no loadable-module support (everything is built in)",
            path.display()
        )),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    Ok(state)
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx) -> Result<ModulesState, String> {
    Ok(ModulesState {
        notes: vec![
            "loaded drivers / kernel extensions: not yet on this OS (planned: \
             EnumDeviceDrivers on Windows, kextstat data via IOKit on macOS)"
                .to_string(),
        ],
        ..ModulesState::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_lines_with_dependencies_and_taint() {
        let m = parse_modules(
            "nf_tables 307200 3 nft_ct,nft_chain_nat, Live 0xffffffffc0a00000\n\
             rootkit 16384 0 - Live 0x0000000000000000 (OE)\nbroken line\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].used_by, vec!["nft_ct", "nft_chain_nat"]);
        assert_eq!(m[0].refcount, 3);
        assert_eq!(m[1].taint, "OE");
        assert!(m[1].used_by.is_empty());
    }

    #[test]
    fn taint_bits_decode() {
        assert_eq!(
            decode_taint((1 << 12) | (1 << 13)),
            vec![
                "O: out-of-tree module loaded".to_string(),
                "E: unsigned module loaded".to_string()
            ]
        );
        assert!(decode_taint(0).is_empty());
    }
}
