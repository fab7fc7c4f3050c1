//! The `executable` analyzer: recognises PE, ELF and Mach-O (including fat) binaries by
//! their magic bytes and describes them with goblin: type and architecture, PE compile
//! time anomalies, Authenticode presence and signer, section entropy and packer marks,
//! imports of note, ELF interpreter/static/stripped, unusual locations and disguising
//! extensions. A relocatable object that is not a kernel module (a compiler's `.o`) is a
//! link input, not a program: it gives no finding. An executable in an unusual place
//! inside a recognisable build tree is recorded as `info` with the marker that made it
//! one; one with a hidden name there is raised a step.
//!
//! Owns the per-file executable state. Memory is bounded: the first
//! [`PREFIX_LIMIT`] bytes are kept for parsing; for larger files the headers in the
//! prefix say which ranges further on matter (PE section entropy and certificate table,
//! ELF section header table and the string table before it, interpreter and dynamic
//! segment, fat Mach-O slice headers), and only those are gathered from the stream, each
//! capped ([`MAX_TABLE_CAPTURE`], [`MAX_CERT_TABLE`], [`FAT_SLICE_HEAD`]). It never
//! decides "executable" from a file name, never verifies signatures cryptographically,
//! never calls a file malformed because it is larger than the prefix, and never panics
//! on malformed input: a parse failure is an `exe.parse_error` finding.

use std::borrow::Cow;

use goblin::pe::section_table::SectionTable;
use serde_json::{Value, json};

use super::entropy::{ByteHistogram, shannon};
use super::patterns::{
    HIGH_SECTION_ENTROPY, IMPORTS_OF_NOTE, KERNEL_MODULE_SECTIONS, PACKER_MAGICS, PACKER_SECTIONS,
};
use super::{Analyzer, FileContext, FileDigests, FileScan, Prefix, new_finding};
use crate::finding::{Finding, Severity};

mod location;
use location::location_findings;

pub const NAME: &str = "executable";
/// Bytes of an executable kept for parsing (imports, symbols, load commands).
pub const PREFIX_LIMIT: usize = 16 << 20;
/// Bytes needed to recognise a format.
const MAGIC_LEN: usize = 64;
/// Where packer byte markers are looked for.
const PACKER_MAGIC_WINDOW: usize = 64 << 10;
/// Largest certificate table captured beyond the prefix.
pub const MAX_CERT_TABLE: u64 = 4 << 20;
/// Largest header table (ELF program/section headers: 65535 entries of 64 bytes fit)
/// or dynamic segment captured beyond the prefix.
pub const MAX_TABLE_CAPTURE: u64 = 4 << 20;
/// Bytes before an ELF section header table kept with it: linkers put `.shstrtab` (and
/// `.symtab`/`.strtab`) right before the table at the end of the file.
const ELF_LOOKBACK: u64 = 1 << 20;
/// Bytes of each fat Mach-O slice captured beyond the prefix (header and load commands).
pub const FAT_SLICE_HEAD: u64 = 1 << 20;
/// All fat slice heads together, beyond the prefix.
const FAT_CAPTURE_BUDGET: u64 = 16 << 20;
/// PT_LOAD segments whose entropy is followed beyond the prefix.
const MAX_STREAMED_SEGMENTS: usize = 64;
/// A PE TimeDateStamp this far after the collection time is "in the future".
const FUTURE_SLACK_SECS: i64 = 86_400;
/// Windows NT 3.1 (first PE files) was released in July 1993.
const FIRST_PE_TIME: i64 = 741_484_800;

pub struct ExecutableAnalyzer;

impl Analyzer for ExecutableAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>> {
        // The smallest valid PE/ELF/Mach-O headers are larger than this.
        (ctx.size >= 52).then(|| Box::new(ExeScan::new(ctx.size)) as Box<dyn FileScan>)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Undecided,
    NotExecutable,
    Pe,
    Elf,
    MachO,
    MachOFat,
}

#[derive(Debug)]
struct ExeScan {
    format: Format,
    prefix: Prefix,
    delivered: u64,
    /// Size from `fstat` at open: used to plan ranges near the end of large files.
    size_hint: u64,
    /// For files larger than the prefix: what is gathered past it.
    plan: Option<StreamPlan>,
}

impl ExeScan {
    fn new(size_hint: u64) -> ExeScan {
        ExeScan {
            format: Format::Undecided,
            prefix: Prefix::new(PREFIX_LIMIT),
            delivered: 0,
            size_hint,
            plan: None,
        }
    }
}

/// Byte ranges past the prefix that a large file's headers say are needed: histograms
/// (entropy of sections or segments) and captured bytes (tables, strings, certificates).
#[derive(Debug, Default)]
struct StreamPlan {
    /// (key, file range past the prefix, histogram); the key is a section/segment index.
    hists: Vec<(usize, u64, u64, ByteHistogram)>,
    captures: Vec<Capture>,
}

#[derive(Debug)]
struct Capture {
    start: u64,
    end: u64,
    data: Vec<u8>,
}

impl StreamPlan {
    /// Follows the histogram of `start..end` past `limit`.
    fn hist(&mut self, key: usize, start: u64, end: u64, limit: u64) {
        if end > limit && end > start {
            self.hists
                .push((key, start.max(limit), end, ByteHistogram::default()));
        }
    }

    /// Captures `start..start+len` past `limit` when it is at most `max` bytes long
    /// there; returns the bytes that will be held.
    fn capture(&mut self, start: u64, len: u64, limit: u64, max: u64) -> u64 {
        let Some(end) = start.checked_add(len) else {
            return 0;
        };
        let from = start.max(limit);
        if end <= from || end - from > max {
            return 0;
        }
        self.captures.push(Capture {
            start: from,
            end,
            data: Vec::new(),
        });
        end - from
    }

    /// Where the last planned range ends: nothing past it is needed.
    fn end(&self) -> u64 {
        let hists = self.hists.iter().map(|h| h.2);
        let captures = self.captures.iter().map(|c| c.end);
        hists.chain(captures).max().unwrap_or(0)
    }

    fn feed(&mut self, offset: u64, chunk: &[u8]) {
        let chunk_end = offset.saturating_add(chunk.len() as u64);
        let part = |start: u64, end: u64| -> Option<&[u8]> {
            let from = start.max(offset);
            let to = end.min(chunk_end);
            if from >= to {
                return None;
            }
            chunk.get(usize::try_from(from - offset).ok()?..usize::try_from(to - offset).ok()?)
        };
        for (_, start, end, hist) in &mut self.hists {
            if let Some(bytes) = part(*start, *end) {
                hist.add(bytes);
            }
        }
        for c in &mut self.captures {
            // Only contiguous bytes: a capture is useful from its start or not at all.
            let next = c.start.saturating_add(c.data.len() as u64);
            if let Some(bytes) = part(next, c.end) {
                c.data.extend_from_slice(bytes);
            }
        }
    }

    fn hist_for(&self, key: usize) -> Option<&ByteHistogram> {
        self.hists.iter().find(|h| h.0 == key).map(|h| &h.3)
    }
}

/// The bytes of a file that are at hand: the prefix and whatever was captured past it.
#[derive(Clone, Copy)]
struct View<'a> {
    prefix: &'a [u8],
    plan: Option<&'a StreamPlan>,
}

impl<'a> View<'a> {
    /// `len` bytes at `start`, when all of them are at hand.
    fn get(&self, start: u64, len: u64) -> Option<Cow<'a, [u8]>> {
        let end = start.checked_add(len)?;
        let plen = self.prefix.len() as u64;
        if end <= plen {
            return self
                .prefix
                .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
                .map(Cow::Borrowed);
        }
        for c in self.plan.map(|p| p.captures.as_slice()).unwrap_or_default() {
            let held_end = c.start.saturating_add(c.data.len() as u64);
            if end > held_end {
                continue;
            }
            if start >= c.start {
                let from = usize::try_from(start - c.start).ok()?;
                let to = usize::try_from(end - c.start).ok()?;
                return c.data.get(from..to).map(Cow::Borrowed);
            }
            // A range that starts in the prefix and continues in a capture made from its end.
            if c.start == plen && start < plen {
                let mut joined = self.prefix.get(usize::try_from(start).ok()?..)?.to_vec();
                joined.extend_from_slice(c.data.get(..usize::try_from(end - plen).ok()?)?);
                return Some(Cow::Owned(joined));
            }
        }
        None
    }
}

/// Bytes of a PE's COFF string table read (long section names live at its start).
const MAX_COFF_STRINGS: u64 = 1 << 20;

/// Where a PE's COFF string table starts, and how much of it is read.
fn coff_strings_range(coff: &goblin::pe::header::CoffHeader, total: u64) -> Option<(u64, u64)> {
    let symbols = u64::from(coff.pointer_to_symbol_table);
    if symbols == 0 {
        return None;
    }
    let strings = symbols + 18 * u64::from(coff.number_of_symbol_table);
    Some((strings, total.checked_sub(strings)?.min(MAX_COFF_STRINGS)))
}

/// The COFF string table (its first [`MAX_COFF_STRINGS`] bytes), when at hand.
fn coff_string_table<'a>(
    file: &FileBytes<'a>,
    coff: &goblin::pe::header::CoffHeader,
) -> Option<Cow<'a, [u8]>> {
    let (start, len) = coff_strings_range(coff, file.total)?;
    file.view.get(start, len)
}

/// What a large PE needs from beyond the prefix: section histograms, the certificate
/// table, the COFF string table (long section names).
fn plan_pe(prefix: &[u8], size: u64) -> Option<StreamPlan> {
    let header = goblin::pe::header::Header::parse(prefix).ok()?;
    let sections = pe_sections(prefix, &header).ok()?;
    let limit = prefix.len() as u64;
    let mut plan = StreamPlan::default();
    for (index, s) in sections.iter().enumerate() {
        let start = u64::from(s.pointer_to_raw_data);
        plan.hist(index, start, start + u64::from(s.size_of_raw_data), limit);
    }
    if let Some(dir) = header
        .optional_header
        .and_then(|o| o.data_directories.get_certificate_table().copied())
    {
        plan.capture(
            u64::from(dir.virtual_address),
            u64::from(dir.size),
            limit,
            MAX_CERT_TABLE,
        );
    }
    if let Some((start, len)) = coff_strings_range(&header.coff_header, size) {
        plan.capture(start, len, limit, MAX_COFF_STRINGS);
    }
    Some(plan)
}

/// The goblin parsing context of an ELF header.
fn elf_ctx(hdr: &goblin::elf::Header) -> Option<goblin::container::Ctx> {
    Some(goblin::container::Ctx::new(
        hdr.container().ok()?,
        hdr.endianness().ok()?,
    ))
}

/// Program headers from wherever they are at hand.
fn elf_program_headers(
    view: View<'_>,
    hdr: &goblin::elf::Header,
) -> Option<Vec<goblin::elf::ProgramHeader>> {
    let ctx = elf_ctx(hdr)?;
    let len = u64::from(hdr.e_phnum) * u64::from(hdr.e_phentsize);
    if hdr.e_phnum == 0 {
        return Some(Vec::new());
    }
    if usize::from(hdr.e_phentsize) != goblin::elf::ProgramHeader::size(ctx) {
        return None;
    }
    let bytes = view.get(hdr.e_phoff, len)?;
    goblin::elf::ProgramHeader::parse(&bytes, 0, usize::from(hdr.e_phnum), ctx).ok()
}

/// What a large ELF needs from beyond the prefix: its program headers if they are not in
/// it, the interpreter and dynamic segment, the section header table with the bytes before
/// it (where `.shstrtab` lives), and, for a file without section table, the histograms of
/// the loaded segments.
fn plan_elf(prefix: &[u8]) -> Option<StreamPlan> {
    let hdr = goblin::elf::Elf::parse_header(prefix).ok()?;
    let limit = prefix.len() as u64;
    let mut plan = StreamPlan::default();
    let view = View { prefix, plan: None };
    // Segment entropy is only reported when there is no section table (packed files).
    let segments_measured = hdr.e_shoff == 0 || hdr.e_shnum == 0;
    if let Some(phdrs) = elf_program_headers(view, &hdr) {
        use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP, PT_LOAD};
        for (index, p) in phdrs.iter().enumerate() {
            match p.p_type {
                PT_INTERP => {
                    plan.capture(p.p_offset, p.p_filesz, limit, 4096);
                }
                PT_DYNAMIC => {
                    plan.capture(p.p_offset, p.p_filesz, limit, MAX_TABLE_CAPTURE);
                }
                PT_LOAD if segments_measured && index < MAX_STREAMED_SEGMENTS => {
                    plan.hist(
                        index,
                        p.p_offset,
                        p.p_offset.saturating_add(p.p_filesz),
                        limit,
                    );
                }
                _ => {}
            }
        }
    } else {
        let len = u64::from(hdr.e_phnum) * u64::from(hdr.e_phentsize);
        plan.capture(hdr.e_phoff, len, limit, MAX_TABLE_CAPTURE);
    }
    let table = u64::from(hdr.e_shnum) * u64::from(hdr.e_shentsize);
    if hdr.e_shoff != 0 && table > 0 && table <= MAX_TABLE_CAPTURE {
        let before = hdr.e_shoff.min(ELF_LOOKBACK);
        plan.capture(
            hdr.e_shoff - before,
            before + table,
            limit,
            ELF_LOOKBACK + MAX_TABLE_CAPTURE,
        );
    }
    Some(plan)
}

/// What a large fat Mach-O needs from beyond the prefix: the head of every slice.
fn plan_fat(prefix: &[u8]) -> Option<StreamPlan> {
    let fat = goblin::mach::MultiArch::new(prefix).ok()?;
    let arches = fat.arches().ok()?;
    let limit = prefix.len() as u64;
    let mut plan = StreamPlan::default();
    let mut budget = FAT_CAPTURE_BUDGET;
    for arch in arches {
        let head = u64::from(arch.size).min(FAT_SLICE_HEAD);
        let held = plan.capture(u64::from(arch.offset), head, limit, budget);
        budget = budget.saturating_sub(held);
    }
    Some(plan)
}

fn pe_sections(
    bytes: &[u8],
    header: &goblin::pe::header::Header<'_>,
) -> goblin::error::Result<Vec<SectionTable>> {
    let mut offset = (header.dos_header.pe_pointer as usize)
        .saturating_add(goblin::pe::header::SIZEOF_PE_MAGIC)
        .saturating_add(goblin::pe::header::SIZEOF_COFF_HEADER)
        .saturating_add(header.coff_header.size_of_optional_header as usize);
    header.coff_header.sections(bytes, &mut offset)
}

fn detect(head: &[u8]) -> Format {
    if head.len() >= 4 && &head[..4] == b"\x7fELF" {
        return Format::Elf;
    }
    if head.len() >= 4 {
        let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        match be {
            0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe => return Format::MachO,
            // Java class files share CAFEBABE; their next word (version) is >= 45.
            0xcafe_babe | 0xcafe_babf if head.len() >= 8 => {
                let n = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
                if (1..45).contains(&n) {
                    return Format::MachOFat;
                }
            }
            _ => {}
        }
    }
    if head.len() >= 2 && &head[..2] == b"MZ" {
        return Format::Pe;
    }
    Format::NotExecutable
}

impl FileScan for ExeScan {
    fn update(&mut self, chunk: &[u8]) {
        let offset = self.delivered;
        self.delivered = self.delivered.saturating_add(chunk.len() as u64);
        let mut rest = chunk;
        if self.format == Format::Undecided {
            // Copy only the magic bytes until the format is known: most files are not
            // executables and must cost next to nothing.
            let take = MAGIC_LEN
                .saturating_sub(self.prefix.bytes.len())
                .min(chunk.len());
            self.prefix.push(&chunk[..take]);
            rest = &chunk[take..];
            if self.prefix.bytes.len() < MAGIC_LEN {
                return;
            }
            self.format = detect(&self.prefix.bytes);
        }
        if self.format == Format::NotExecutable {
            self.prefix = Prefix::new(0);
            return;
        }
        let was_full = self.prefix.is_full();
        if !was_full {
            self.prefix.push(rest);
        }
        if !was_full && self.prefix.is_full() {
            self.plan = match self.format {
                Format::Pe => plan_pe(&self.prefix.bytes, self.size_hint),
                Format::Elf => plan_elf(&self.prefix.bytes),
                Format::MachOFat => plan_fat(&self.prefix.bytes),
                _ => None,
            };
        }
        if let Some(plan) = &mut self.plan {
            let skip = (PREFIX_LIMIT as u64).saturating_sub(offset);
            if skip < chunk.len() as u64 {
                plan.feed(offset + skip, &chunk[skip as usize..]);
            }
        }
    }

    fn wants_more(&self) -> bool {
        match self.format {
            Format::NotExecutable => false,
            _ if !self.prefix.is_full() => true,
            _ => self.plan.as_ref().is_some_and(|p| self.delivered < p.end()),
        }
    }

    fn finish(self: Box<Self>, ctx: &FileContext<'_>, _digests: &FileDigests) -> Vec<Finding> {
        // Still listening at the end: every byte of the file came by. Otherwise the read
        // stopped early on purpose and the size is the one the file had when opened.
        let saw_everything = self.wants_more();
        let mut scan = *self;
        if scan.format == Format::Undecided {
            scan.format = detect(&scan.prefix.bytes);
        }
        let total = if saw_everything {
            scan.delivered
        } else {
            scan.size_hint.max(scan.delivered)
        };
        let complete = scan.prefix.bytes.len() as u64 >= total;
        let file = FileBytes {
            view: View {
                prefix: &scan.prefix.bytes,
                plan: scan.plan.as_ref(),
            },
            total,
            complete,
        };
        let mut report = Report::default();
        match scan.format {
            Format::Undecided | Format::NotExecutable => return Vec::new(),
            Format::Pe => analyze_pe(&file, &mut report),
            Format::Elf => analyze_elf(&file, &mut report),
            Format::MachO | Format::MachOFat => analyze_macho(&file, &mut report),
        }
        let Some(kind_label) = report.format_label.clone() else {
            return report.findings;
        };
        if report.link_input {
            // A `.o`: nothing runs it, every build tree holds thousands (docs/triage.md).
            return Vec::new();
        }
        report.summary["size"] = json!(total);
        report.summary["parsed_bytes"] = json!(scan.prefix.bytes.len());
        let window = &scan.prefix.bytes[..scan.prefix.bytes.len().min(PACKER_MAGIC_WINDOW)];
        for (magic, packer) in PACKER_MAGICS {
            if let Some(at) = memchr::memmem::find(window, magic) {
                report.packers.push(json!({
                    "packer": packer,
                    "mark": String::from_utf8_lossy(magic),
                    "offset": at,
                }));
            }
        }
        report.packer_findings();
        location_findings(ctx, &kind_label, &mut report);
        let mut findings = vec![new_finding(
            NAME,
            "exe.identified",
            Severity::Info,
            report.title.clone().unwrap_or(kind_label),
            report.summary,
        )];
        findings.append(&mut report.findings);
        findings
    }
}

/// What is known of one file at `finish`.
struct FileBytes<'a> {
    /// The prefix and the ranges captured past it.
    view: View<'a>,
    /// The file's size: bytes delivered, or the size at open when reading stopped early.
    total: u64,
    /// True when the prefix holds the whole file: a parse failure is then the file's own.
    complete: bool,
}

impl FileBytes<'_> {
    fn prefix(&self) -> &[u8] {
        self.view.prefix
    }
}

#[derive(Default)]
struct Report {
    /// e.g. "PE32+ executable (x86-64)"; `None` until the format was understood.
    format_label: Option<String>,
    title: Option<String>,
    summary: Value,
    /// Packer evidence gathered from section names, markers and entropy.
    packers: Vec<Value>,
    high_entropy_code: Vec<Value>,
    findings: Vec<Finding>,
    /// An ELF relocatable object that is not a kernel module: no finding at all.
    link_input: bool,
}

impl Report {
    fn push(&mut self, kind: &str, severity: Severity, title: String, evidence: Value) {
        self.findings
            .push(new_finding(NAME, kind, severity, title, evidence));
    }

    fn parse_error(&mut self, format: &str, error: String, complete: bool) {
        self.push(
            "exe.parse_error",
            Severity::Low,
            format!("Malformed or truncated {format} file (could not be fully parsed)"),
            json!({ "format": format, "error": error, "whole_file_parsed": complete }),
        );
    }

    fn truncated(&mut self, size: u64, sections: &[&str]) {
        self.push(
            "exe.truncated",
            Severity::Low,
            format!(
                "Executable is truncated: {} section(s) extend past the end of the file",
                sections.len()
            ),
            json!({ "file_size": size, "sections_past_end": sections }),
        );
    }

    fn sections_entropy(&mut self, sections: &[(String, u64, u64, f64, bool)]) {
        let mut listed = Vec::new();
        for (name, offset, size, entropy, executable) in sections {
            let entropy = (entropy * 1000.0).round() / 1000.0;
            listed.push(json!({
                "name": name, "offset": offset, "size": size,
                "entropy": entropy, "executable": executable,
            }));
            if let Some((_, packer)) = PACKER_SECTIONS.iter().find(|(n, _)| n == name) {
                self.packers
                    .push(json!({ "packer": packer, "section": name }));
            }
            if *executable && *size >= 512 && entropy >= HIGH_SECTION_ENTROPY {
                self.high_entropy_code
                    .push(json!({ "section": name, "entropy": entropy }));
            }
        }
        self.summary["sections"] = Value::Array(listed);
    }

    fn packer_findings(&mut self) {
        if self.packers.is_empty() && self.high_entropy_code.is_empty() {
            return;
        }
        let mut names: Vec<String> = self
            .packers
            .iter()
            .filter_map(|p| p["packer"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        let title = if names.is_empty() {
            "Executable code section is compressed or encrypted (high entropy): likely packed"
                .to_string()
        } else {
            format!("Executable packed with {}", names.join(", "))
        };
        let evidence = json!({
            "packers": names,
            "marks": self.packers,
            "high_entropy_code_sections": self.high_entropy_code,
            "entropy_threshold": HIGH_SECTION_ENTROPY,
        });
        self.push("exe.packed", Severity::Medium, title, evidence);
    }
}

fn analyze_pe(file: &FileBytes<'_>, report: &mut Report) {
    let bytes = file.prefix();
    let complete = file.complete;
    let header = match goblin::pe::header::Header::parse(bytes) {
        Ok(h) => h,
        Err(e) => {
            // "MZ" alone is weak evidence: only a PE signature makes it an executable.
            if bytes.len() >= 0x40 {
                let lfanew =
                    u32::from_le_bytes([bytes[0x3c], bytes[0x3d], bytes[0x3e], bytes[0x3f]]);
                let lfanew = u64::from(lfanew);
                // A PE's DOS header has its relocation table at 0x40 or the DOS stub text:
                // then an e_lfanew past the end means a damaged PE, not some "MZ" text.
                let dos_like = bytes.get(0x18..0x1a) == Some(&[0x40, 0x00])
                    || memchr::memmem::find(
                        &bytes[..bytes.len().min(512)],
                        b"cannot be run in DOS mode",
                    )
                    .is_some();
                let beyond_end = complete && dos_like && lfanew + 4 > file.total;
                let signature = file.view.get(lfanew, 4);
                if signature.as_deref() == Some(b"PE\0\0") || !complete || beyond_end {
                    report.format_label = Some("PE (malformed)".to_string());
                    report.summary = json!({ "format": "pe" });
                    report.parse_error("PE", e.to_string(), complete);
                }
            }
            return;
        }
    };
    let coff = &header.coff_header;
    let optional = header.optional_header;
    let is_64 = optional.is_some_and(|o| o.standard_fields.magic == 0x20b);
    let machine = goblin::pe::header::machine_to_str(coff.machine);
    let is_dll = coff.characteristics & goblin::pe::characteristic::IMAGE_FILE_DLL != 0;
    let subsystem = optional.map(|o| o.windows_fields.subsystem).unwrap_or(0);
    let kind = match (is_dll, subsystem) {
        (true, _) => "DLL",
        (_, 10..=13) => "EFI image",
        (_, 1) => "native driver/image",
        _ => "executable",
    };
    let label = format!(
        "{} {} ({})",
        if is_64 { "PE32+" } else { "PE32" },
        kind,
        machine
    );
    report.format_label = Some(label.clone());
    let timestamp = i64::from(coff.time_date_stamp);
    report.summary = json!({
        "format": "pe",
        "pe_type": if is_64 { "PE32+" } else { "PE32" },
        "machine": machine,
        "machine_code": format!("{:#06x}", coff.machine),
        "dll": is_dll,
        "subsystem": subsystem,
        "timestamp": coff.time_date_stamp,
        "timestamp_utc": crate::timefmt::unix_utc(timestamp, 0),
        "number_of_sections": coff.number_of_sections,
    });

    // Timestamp anomalies.
    let now = jiff::Timestamp::now().as_second();
    if timestamp == 0 {
        report.push(
            "exe.timestamp_zero",
            Severity::Low,
            "PE compile timestamp is zero (cleared or reproducible build)".to_string(),
            json!({ "timestamp": 0 }),
        );
    } else if timestamp > now + FUTURE_SLACK_SECS {
        report.push(
            "exe.timestamp_future",
            Severity::Low,
            "PE compile timestamp lies in the future (forged, or a reproducible-build hash)"
                .to_string(),
            json!({ "timestamp": timestamp, "timestamp_utc": crate::timefmt::unix_utc(timestamp, 0),
                    "collection_time_utc": crate::timefmt::unix_utc(now, 0) }),
        );
    } else if timestamp < FIRST_PE_TIME {
        report.push(
            "exe.timestamp_before_pe",
            Severity::Low,
            "PE compile timestamp predates the PE format (1993): forged or reproducible build"
                .to_string(),
            json!({ "timestamp": timestamp, "timestamp_utc": crate::timefmt::unix_utc(timestamp, 0) }),
        );
    }

    // Sections and their entropy (from the prefix, plus what streamed past it).
    match pe_sections(bytes, &header) {
        Ok(sections) => {
            let mut described = Vec::new();
            // Long names ("/4") point into the COFF string table at the end of the file:
            // goblin resolves them from the prefix; past it, from the captured table.
            let strings = coff_string_table(file, coff);
            for (index, s) in sections.iter().enumerate() {
                let long = match (&s.real_name, s.name_offset(), &strings) {
                    (None, Ok(Some(at)), Some(table)) => table.get(at..).map(|n| {
                        let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
                        String::from_utf8_lossy(&n[..end]).into_owned()
                    }),
                    _ => None,
                };
                let name = long.unwrap_or_else(|| {
                    s.name().map(str::to_string).unwrap_or_else(|_| {
                        String::from_utf8_lossy(&s.name)
                            .trim_end_matches('\0')
                            .to_string()
                    })
                });
                let start = u64::from(s.pointer_to_raw_data);
                let size = u64::from(s.size_of_raw_data);
                let mut hist = ByteHistogram::default();
                let in_prefix_end = (start + size).min(bytes.len() as u64);
                if let Some(part) = bytes.get(start as usize..in_prefix_end as usize) {
                    hist.add(part);
                }
                if let Some(h) = file.view.plan.and_then(|p| p.hist_for(index)) {
                    hist.merge(h);
                }
                let executable =
                    s.characteristics & goblin::pe::section_table::IMAGE_SCN_MEM_EXECUTE != 0;
                described.push((name, start, size, hist.shannon(), executable));
            }
            report.sections_entropy(&described);
            let len = file.total;
            let mut cut: Vec<&str> = described
                .iter()
                .filter(|(_, offset, size, _, _)| *size > 0 && offset + size > len)
                .map(|(name, ..)| name.as_str())
                .collect();
            // A COFF symbol table (left in by unstripped mingw builds) ends the file; its
            // string table is checked only when the file is at hand in full.
            let symbols = u64::from(coff.pointer_to_symbol_table);
            if symbols != 0 && complete {
                let strings = symbols + 18 * u64::from(coff.number_of_symbol_table);
                let string_size = file.view.get(strings, 4).and_then(|b| {
                    Some(u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)))
                });
                match string_size {
                    None => cut.push("COFF symbol table"),
                    Some(size) if strings + size > len => cut.push("COFF string table"),
                    Some(_) => {}
                }
            }
            if !cut.is_empty() {
                report.truncated(len, &cut);
            }
        }
        Err(e) => report.parse_error("PE", format!("section table: {e}"), complete),
    }

    // Authenticode certificate table.
    let cert_dir = optional.and_then(|o| o.data_directories.get_certificate_table().copied());
    let mut signer_title = None;
    match cert_dir {
        Some(dir) if dir.size > 0 => {
            let start = u64::from(dir.virtual_address);
            let end = start + u64::from(dir.size);
            let mut cert = json!({
                "present": true,
                "offset": dir.virtual_address,
                "size": dir.size,
                "signature_verified": false,
            });
            let table = file.view.get(start, u64::from(dir.size));
            if end > file.total {
                cert["error"] = json!(format!(
                    "certificate table extends past the end of the file ({} of {} bytes present)",
                    file.total.saturating_sub(start),
                    dir.size
                ));
                report.parse_error("PE", "certificate table truncated".to_string(), complete);
            } else if let Some(table) = table {
                match super::authenticode::describe_table(&table) {
                    Ok(entries) => {
                        signer_title = entries
                            .iter()
                            .flat_map(|e| e["signers"].as_array().cloned().unwrap_or_default())
                            .find_map(|s| s["subject"].as_str().map(str::to_string));
                        cert["entries"] = Value::Array(entries);
                    }
                    Err(reason) => {
                        cert["error"] = json!(reason);
                    }
                }
            } else {
                cert["error"] = json!(format!(
                    "certificate table not read: more than {MAX_CERT_TABLE} bytes past the \
                     {PREFIX_LIMIT}-byte parse prefix"
                ));
            }
            report.summary["authenticode"] = cert;
        }
        _ => {
            report.summary["authenticode"] = json!({ "present": false });
        }
    }
    let signed = report.summary["authenticode"]["present"] == true;
    report.title = Some(match (&signer_title, signed) {
        (Some(subject), _) => format!(
            "{label}, Authenticode-signed by {} (signature not verified)",
            super::authenticode::common_name(subject).unwrap_or(subject)
        ),
        (None, true) => format!("{label}, carries an Authenticode certificate table"),
        (None, false) => format!("{label}, unsigned"),
    });

    // Imports need the whole image.
    // The certificate table was read above (also past the prefix); resources are not used.
    let mut opts = goblin::pe::options::ParseOptions::default().with_parse_resources(false);
    opts.parse_attribute_certificates = false;
    match goblin::pe::PE::parse_with_opts(bytes, &opts) {
        Ok(pe) => {
            report.summary["libraries"] = json!(pe.libraries);
            report.summary["import_count"] = json!(pe.imports.len());
            let names: Vec<String> = pe
                .imports
                .iter()
                .map(|i| format!("{}!{}", i.dll, i.name))
                .collect();
            imports_of_note(&names, report);
        }
        Err(e) if complete => report.parse_error("PE", e.to_string(), complete),
        Err(_) => {
            report.summary["imports"] = json!(format!(
                "not parsed: file larger than the {PREFIX_LIMIT}-byte parse limit"
            ));
        }
    }
}

/// Normalises an import name for matching: drops `A`/`W` suffixes and `Zw`→`Nt`.
fn import_key(name: &str) -> String {
    let name = name
        .strip_prefix("Zw")
        .map_or(name.to_string(), |rest| format!("Nt{rest}"));
    match name.strip_suffix('A').or_else(|| name.strip_suffix('W')) {
        Some(stem) if stem.chars().last().is_some_and(|c| c.is_ascii_lowercase()) => {
            stem.to_string()
        }
        _ => name,
    }
}

fn imports_of_note(imports: &[String], report: &mut Report) {
    let mut hits = serde_json::Map::new();
    let mut total = 0;
    for (category, listed) in IMPORTS_OF_NOTE {
        let keys: Vec<String> = listed.iter().map(|n| import_key(n)).collect();
        let found: Vec<&String> = imports
            .iter()
            .filter(|full| {
                let func = full.rsplit('!').next().unwrap_or(full);
                keys.contains(&import_key(func))
            })
            .collect();
        if !found.is_empty() {
            total += found.len();
            hits.insert(category.to_string(), json!(found));
        }
    }
    if hits.is_empty() {
        return;
    }
    let injection = hits
        .get("process_injection")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let severity = if injection >= 3 || hits.len() >= 2 {
        Severity::High
    } else {
        Severity::Medium
    };
    let categories: Vec<String> = hits.keys().map(|k| k.replace('_', " ")).collect();
    report.push(
        "exe.imports_of_note",
        severity,
        format!("Imports Windows APIs used for {}", categories.join(", ")),
        json!({ "categories": hits, "count": total }),
    );
}

/// What the ELF analysis found, however it got there (goblin on a whole file, or the
/// header tables of a large file read from the prefix and the stream).
struct ElfFacts {
    interpreter: Option<String>,
    has_interp: bool,
    has_dynamic: bool,
    /// `None` when the section header table was not at hand.
    stripped: Option<bool>,
    /// `None` when the dynamic string table was not at hand.
    libraries: Option<Vec<String>>,
    sections: Vec<(String, u64, u64, f64, bool)>,
    /// Segments that extend past the end of the file.
    cut: Vec<String>,
}

fn analyze_elf(file: &FileBytes<'_>, report: &mut Report) {
    use goblin::elf::header;

    let bytes = file.prefix();
    let complete = file.complete;
    let hdr = match goblin::elf::Elf::parse_header(bytes) {
        Ok(h) => h,
        Err(e) => {
            report.format_label = Some("ELF (malformed)".to_string());
            report.summary = json!({ "format": "elf" });
            report.parse_error("ELF", e.to_string(), complete);
            return;
        }
    };
    let elf_type = match hdr.e_type {
        header::ET_EXEC => "executable",
        header::ET_DYN => "shared object",
        header::ET_REL => "relocatable object",
        header::ET_CORE => "core dump",
        _ => "unknown type",
    };
    let machine = header::machine_to_str(hdr.e_machine);
    let class = if hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
        64
    } else {
        32
    };
    let label = format!("ELF {class}-bit {elf_type} ({machine})");
    report.format_label = Some(label.clone());
    report.summary = json!({
        "format": "elf",
        "class": class,
        "type": elf_type,
        "machine": machine,
        "machine_code": hdr.e_machine,
        "little_endian": hdr.e_ident[header::EI_DATA] == header::ELFDATA2LSB,
        "entry": format!("{:#x}", hdr.e_entry),
    });
    let facts = if complete {
        match goblin::elf::Elf::parse(bytes) {
            Ok(elf) => elf_facts_goblin(&elf, bytes),
            Err(e) => {
                report.parse_error("ELF", e.to_string(), complete);
                return;
            }
        }
    } else {
        match elf_facts_streamed(file, &hdr) {
            Ok(facts) => {
                report.summary["details"] = json!(format!(
                    "file larger than the {PREFIX_LIMIT}-byte parse prefix: headers, \
                     interpreter, dynamic section and section header table read from the \
                     stream; entropy of sections past the prefix not measured"
                ));
                facts
            }
            Err(e) => {
                report.parse_error("ELF", e, complete);
                return;
            }
        }
    };
    let linking = if facts.has_interp || facts.has_dynamic {
        "dynamic"
    } else {
        "static"
    };
    report.summary["interpreter"] = json!(facts.interpreter);
    report.summary["linking"] = json!(linking);
    report.summary["static"] = json!(linking == "static");
    report.summary["stripped"] = json!(facts.stripped);
    report.summary["libraries"] = json!(facts.libraries);
    report.summary["pie"] = json!(hdr.e_type == header::ET_DYN && facts.has_interp);
    if hdr.e_type == header::ET_REL {
        let module = facts
            .sections
            .iter()
            .any(|(name, ..)| KERNEL_MODULE_SECTIONS.contains(&name.as_str()));
        report.summary["kernel_module"] = json!(module);
        if module {
            report.format_label = Some(format!("{label} (kernel module)"));
        } else {
            report.link_input = true;
            return;
        }
    }
    report.sections_entropy(&facts.sections);
    if !facts.cut.is_empty() {
        let names: Vec<&str> = facts.cut.iter().map(String::as_str).collect();
        report.truncated(file.total, &names);
    }
    report.title = Some(format!(
        "{label}, {linking} linking{}{}",
        facts
            .interpreter
            .as_ref()
            .map(|i| format!(" (interpreter {i})"))
            .unwrap_or_default(),
        match facts.stripped {
            Some(true) => ", stripped",
            Some(false) => ", not stripped",
            None => "",
        }
    ));
}

/// Packing shows in code; measuring every data section of every library on a system
/// would double the analyzer's cost for nothing. NaN (written as null) marks a section
/// that was not measured.
fn elf_section_measured(name: &str, flags: u64) -> (bool, bool) {
    let executable = flags & u64::from(goblin::elf::section_header::SHF_EXECINSTR) != 0;
    let measured = executable || PACKER_SECTIONS.iter().any(|(n, _)| *n == name);
    (executable, measured)
}

fn elf_facts_goblin(elf: &goblin::elf::Elf<'_>, bytes: &[u8]) -> ElfFacts {
    use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP, PT_LOAD};
    use goblin::elf::section_header::{SHT_NOBITS, SHT_SYMTAB};
    let mut sections = Vec::new();
    for s in elf.section_headers.iter() {
        if s.sh_type == SHT_NOBITS || s.sh_size == 0 {
            continue;
        }
        let name = elf.shdr_strtab.get_at(s.sh_name).unwrap_or("").to_string();
        let (executable, measured) = elf_section_measured(&name, s.sh_flags);
        let range = usize::try_from(s.sh_offset).ok().and_then(|start| {
            let end = start.checked_add(usize::try_from(s.sh_size).ok()?)?;
            bytes.get(start..end)
        });
        let entropy = match range {
            Some(data) if measured => shannon(data),
            Some(_) => f64::NAN,
            None => continue,
        };
        sections.push((name, s.sh_offset, s.sh_size, entropy, executable));
    }
    // Packed ELF files often have no section table at all: look at segments.
    if sections.is_empty() {
        for (i, p) in elf.program_headers.iter().enumerate() {
            if p.p_type != PT_LOAD || p.p_filesz == 0 {
                continue;
            }
            let range = usize::try_from(p.p_offset).ok().and_then(|start| {
                let end = start.checked_add(usize::try_from(p.p_filesz).ok()?)?;
                bytes.get(start..end)
            });
            if let Some(data) = range {
                let executable = p.p_flags & goblin::elf::program_header::PF_X != 0;
                sections.push((
                    format!("segment{i}"),
                    p.p_offset,
                    p.p_filesz,
                    shannon(data),
                    executable,
                ));
            }
        }
    }
    let cut = elf
        .program_headers
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.p_filesz > 0 && p.p_offset.saturating_add(p.p_filesz) > bytes.len() as u64
        })
        .map(|(i, _)| format!("segment{i}"))
        .collect();
    ElfFacts {
        interpreter: elf.interpreter.map(str::to_string),
        has_interp: elf.program_headers.iter().any(|p| p.p_type == PT_INTERP),
        has_dynamic: elf.program_headers.iter().any(|p| p.p_type == PT_DYNAMIC),
        stripped: Some(!elf.section_headers.iter().any(|s| s.sh_type == SHT_SYMTAB)),
        libraries: Some(elf.libraries.iter().map(|l| l.to_string()).collect()),
        sections,
        cut,
    }
}

/// Most DT_NEEDED entries read from one dynamic section.
const MAX_ELF_LIBRARIES: usize = 1024;

/// The ELF facts of a file larger than the prefix, from the prefix and the ranges the
/// stream plan captured. `Err` only for claims about the file itself (a table past its
/// end), never because something lay beyond what was kept.
fn elf_facts_streamed(file: &FileBytes<'_>, hdr: &goblin::elf::Header) -> Result<ElfFacts, String> {
    use goblin::elf::program_header::{PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD};
    use goblin::elf::section_header::{SHT_NOBITS, SHT_SYMTAB};
    let view = file.view;
    let ctx = elf_ctx(hdr).ok_or("invalid ELF class or byte order")?;
    let ph_len = u64::from(hdr.e_phnum) * u64::from(hdr.e_phentsize);
    if hdr.e_phoff.saturating_add(ph_len) > file.total {
        return Err(format!(
            "program header table at {} extends past the end of the file ({} bytes)",
            hdr.e_phoff, file.total
        ));
    }
    let phdrs = elf_program_headers(view, hdr).ok_or("program header table not readable")?;
    let mut interpreter = None;
    let mut has_interp = false;
    let mut has_dynamic = false;
    let mut dynamic = None;
    for p in &phdrs {
        if p.p_type == PT_INTERP {
            has_interp = true;
            interpreter = view
                .get(p.p_offset, p.p_filesz)
                .map(|b| {
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    String::from_utf8_lossy(&b[..end]).into_owned()
                })
                .filter(|s| !s.is_empty());
        }
        if p.p_type == PT_DYNAMIC {
            has_dynamic = true;
            dynamic = view.get(p.p_offset, p.p_filesz);
        }
    }
    let libraries = match dynamic {
        Some(d) => elf_needed(&d, &phdrs, view, ctx),
        None if has_dynamic => None,
        None => Some(Vec::new()),
    };

    // Section headers (from the end of the file) and their names.
    let table = u64::from(hdr.e_shnum) * u64::from(hdr.e_shentsize);
    // No section table at all: no .symtab either.
    let mut stripped = (hdr.e_shoff == 0 || hdr.e_shnum == 0).then_some(true);
    let mut sections = Vec::new();
    if hdr.e_shoff != 0 && hdr.e_shnum > 0 {
        if hdr.e_shoff.saturating_add(table) > file.total {
            return Err(format!(
                "section header table at {} extends past the end of the file ({} bytes)",
                hdr.e_shoff, file.total
            ));
        }
        let headers = view.get(hdr.e_shoff, table).and_then(|b| {
            goblin::elf::SectionHeader::parse_from(&b, 0, usize::from(hdr.e_shnum), ctx).ok()
        });
        if let Some(headers) = headers {
            stripped = Some(!headers.iter().any(|s| s.sh_type == SHT_SYMTAB));
            let names = headers
                .get(usize::from(hdr.e_shstrndx))
                .and_then(|s| view.get(s.sh_offset, s.sh_size));
            for s in &headers {
                if s.sh_type == SHT_NOBITS || s.sh_size == 0 {
                    continue;
                }
                let name = names
                    .as_deref()
                    .and_then(|n| n.get(s.sh_name..))
                    .map(|n| {
                        let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
                        String::from_utf8_lossy(&n[..end]).into_owned()
                    })
                    .unwrap_or_default();
                let (executable, measured) = elf_section_measured(&name, s.sh_flags);
                // Only sections wholly inside the prefix are measured.
                let entropy = match view.prefix.get(
                    usize::try_from(s.sh_offset).unwrap_or(usize::MAX)
                        ..usize::try_from(s.sh_offset.saturating_add(s.sh_size))
                            .unwrap_or(usize::MAX),
                ) {
                    Some(data) if measured => shannon(data),
                    _ => f64::NAN,
                };
                sections.push((name, s.sh_offset, s.sh_size, entropy, executable));
            }
        }
    }
    if sections.is_empty() {
        for (i, p) in phdrs.iter().enumerate() {
            if p.p_type != PT_LOAD || p.p_filesz == 0 {
                continue;
            }
            let start = usize::try_from(p.p_offset).unwrap_or(usize::MAX);
            let end = usize::try_from(p.p_offset.saturating_add(p.p_filesz)).unwrap_or(usize::MAX);
            let mut hist = ByteHistogram::default();
            if let Some(part) = view
                .prefix
                .get(start.min(view.prefix.len())..end.min(view.prefix.len()))
            {
                hist.add(part);
            }
            if let Some(h) = view.plan.and_then(|plan| plan.hist_for(i)) {
                hist.merge(h);
            }
            let measured_all =
                hist.total() == p.p_filesz.min(file.total.saturating_sub(p.p_offset));
            let entropy = if measured_all {
                hist.shannon()
            } else {
                f64::NAN
            };
            sections.push((
                format!("segment{i}"),
                p.p_offset,
                p.p_filesz,
                entropy,
                p.p_flags & PF_X != 0,
            ));
        }
    }
    let cut = phdrs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_filesz > 0 && p.p_offset.saturating_add(p.p_filesz) > file.total)
        .map(|(i, _)| format!("segment{i}"))
        .collect();
    Ok(ElfFacts {
        interpreter,
        has_interp,
        has_dynamic,
        stripped,
        libraries,
        sections,
        cut,
    })
}

/// DT_NEEDED names from a dynamic section, when its string table (located through the
/// loaded segments) is at hand.
fn elf_needed(
    dynamic: &[u8],
    phdrs: &[goblin::elf::ProgramHeader],
    view: View<'_>,
    ctx: goblin::container::Ctx,
) -> Option<Vec<String>> {
    use goblin::elf::dynamic::{DT_NEEDED, DT_NULL, DT_STRSZ, DT_STRTAB};
    let wide = ctx.container.is_big();
    let little = ctx.le.is_little();
    let word = |b: &[u8]| -> Option<u64> {
        Some(match (wide, little) {
            (true, true) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            (true, false) => u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            (false, true) => u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
            (false, false) => u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
        })
    };
    let entry = if wide { 16 } else { 8 };
    let (mut needed, mut strtab, mut strsz) = (Vec::new(), None, None);
    for e in dynamic.chunks_exact(entry) {
        let tag = word(e)?;
        let value = word(e.get(entry / 2..)?)?;
        match tag {
            DT_NULL => break,
            DT_NEEDED if needed.len() < MAX_ELF_LIBRARIES => needed.push(value),
            DT_STRTAB => strtab = Some(value),
            DT_STRSZ => strsz = Some(value),
            _ => {}
        }
    }
    let (vaddr, size) = (strtab?, strsz?.min(MAX_TABLE_CAPTURE));
    let load = phdrs.iter().find(|p| {
        p.p_type == goblin::elf::program_header::PT_LOAD
            && vaddr >= p.p_vaddr
            && vaddr - p.p_vaddr < p.p_filesz
    })?;
    let strings = view.get((vaddr - load.p_vaddr).checked_add(load.p_offset)?, size)?;
    Some(
        needed
            .iter()
            .filter_map(|&at| {
                let s = strings.get(usize::try_from(at).ok()?..)?;
                let end = s.iter().position(|&c| c == 0)?;
                Some(String::from_utf8_lossy(&s[..end]).into_owned())
            })
            .collect(),
    )
}

fn analyze_macho(file: &FileBytes<'_>, report: &mut Report) {
    use goblin::mach::{Mach, SingleArch};
    let bytes = file.prefix();
    let complete = file.complete;
    // A thin binary keeps its load commands at the start: larger than the prefix, it is
    // parsed leniently from the prefix (symbol and export data further on are not read).
    let parsed = if complete {
        Mach::parse(bytes)
    } else {
        Mach::parse_lossy(bytes)
    };
    match parsed {
        Ok(Mach::Binary(macho)) => describe_thin_macho(&macho, report),
        Ok(Mach::Fat(fat)) => {
            let mut arches = Vec::new();
            for index in 0..fat.narches {
                let slice = if complete {
                    match fat.get(index) {
                        Ok(SingleArch::MachO(m)) => Ok(slice_summary(&m)),
                        Ok(SingleArch::Archive(_)) => Ok(json!({ "arch": "static archive" })),
                        Err(e) => Err(e.to_string()),
                    }
                } else {
                    fat_slice_streamed(&fat, index, file)
                };
                match slice {
                    Ok(summary) => arches.push(summary),
                    Err(e) => {
                        report.parse_error("Mach-O", format!("fat slice {index}: {e}"), complete);
                    }
                }
            }
            let names: Vec<String> = arches
                .iter()
                .filter_map(|a| a["arch"].as_str().map(str::to_string))
                .collect();
            let label = format!("Mach-O universal (fat) binary ({})", names.join(", "));
            report.format_label = Some(label.clone());
            report.title = Some(label);
            report.summary = json!({ "format": "macho-fat", "arches": arches });
        }
        Err(e) => {
            report.format_label = Some("Mach-O (malformed)".to_string());
            report.summary = json!({ "format": "macho" });
            if complete {
                report.parse_error("Mach-O", e.to_string(), complete);
            } else {
                report.summary["details"] = json!(format!(
                    "not parsed: load commands do not fit the {PREFIX_LIMIT}-byte parse prefix ({e})"
                ));
            }
        }
    }
}

fn describe_thin_macho(macho: &goblin::mach::MachO<'_>, report: &mut Report) {
    let arch = macho_arch(macho.header.cputype, macho.header.cpusubtype);
    let label = format!("Mach-O {} ({arch})", macho_filetype(macho.header.filetype));
    report.format_label = Some(label.clone());
    report.title = Some(label);
    report.summary = json!({
        "format": "macho",
        "arches": [arch],
        "filetype": macho_filetype(macho.header.filetype),
        "is_64": macho.is_64,
        "libraries": macho.libs.iter().filter(|l| **l != "self").collect::<Vec<_>>(),
        "code_signature": macho.load_commands.iter().any(|c| matches!(c.command, goblin::mach::load_command::CommandVariant::CodeSignature(_))),
    });
}

fn slice_summary(m: &goblin::mach::MachO<'_>) -> Value {
    json!({
        "arch": macho_arch(m.header.cputype, m.header.cpusubtype),
        "filetype": macho_filetype(m.header.filetype),
    })
}

/// One slice of a fat binary larger than the prefix: its head (header and load commands)
/// from the prefix or the stream, parsed leniently. Errors are claims about the file only.
fn fat_slice_streamed(
    fat: &goblin::mach::MultiArch<'_>,
    index: usize,
    file: &FileBytes<'_>,
) -> Result<Value, String> {
    let arch = fat
        .iter_arches()
        .nth(index)
        .ok_or("no such slice")?
        .map_err(|e| e.to_string())?;
    let (offset, size) = (u64::from(arch.offset), u64::from(arch.size));
    if offset.saturating_add(size) > file.total {
        return Err(format!(
            "slice at {offset} of {size} bytes extends past the end of the file ({} bytes)",
            file.total
        ));
    }
    let from_fat_header =
        |why: String| json!({ "arch": macho_arch(arch.cputype, arch.cpusubtype), "details": why });
    let Some(head) = file.view.get(offset, size.min(FAT_SLICE_HEAD)) else {
        return Ok(from_fat_header(format!(
            "slice header not read: more than {FAT_CAPTURE_BUDGET} bytes of slice headers"
        )));
    };
    if head.starts_with(b"!<arch>\n") {
        return Ok(json!({ "arch": "static archive" }));
    }
    match goblin::mach::MachO::parse_lossy(&head, 0) {
        Ok(m) => Ok(slice_summary(&m)),
        // Only the first bytes of the slice were kept: its load commands may go on.
        Err(e) if (head.len() as u64) < size => Ok(from_fat_header(format!(
            "load commands not parsed from the first {} bytes of the slice: {e}",
            head.len()
        ))),
        Err(e) => Err(e.to_string()),
    }
}

fn macho_arch(cputype: u32, cpusubtype: u32) -> String {
    // The top byte of cpusubtype holds capability flags (e.g. CPU_SUBTYPE_LIB64).
    goblin::mach::constants::cputype::get_arch_name_from_types(cputype, cpusubtype & 0x00ff_ffff)
        .map(str::to_string)
        .unwrap_or_else(|| format!("cputype {cputype:#x}"))
}

fn macho_filetype(filetype: u32) -> &'static str {
    match filetype {
        1 => "object",
        2 => "executable",
        6 => "dynamic library",
        7 => "dynamic linker",
        8 => "bundle",
        4 => "core",
        _ => "file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_keys_fold_ansi_wide_and_zw() {
        assert_eq!(import_key("SetWindowsHookExW"), "SetWindowsHookEx");
        assert_eq!(import_key("SetWindowsHookExA"), "SetWindowsHookEx");
        assert_eq!(import_key("ZwUnmapViewOfSection"), "NtUnmapViewOfSection");
        assert_eq!(import_key("GetKeyboardState"), "GetKeyboardState");
        // An upper-case letter before the final A/W means it is part of the name.
        assert_eq!(import_key("CreateRemoteThreadEx"), "CreateRemoteThreadEx");
    }

    /// The streamed reading of a large ELF agrees with goblin's full parse: checked on a
    /// system binary handed over whole, as if it had been larger than the prefix.
    #[test]
    fn streamed_elf_facts_agree_with_goblin_on_a_whole_file() {
        let Ok(bytes) = std::fs::read("/usr/bin/true") else {
            panic!("/usr/bin/true missing (coreutils)");
        };
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            panic!("goblin cannot parse /usr/bin/true");
        };
        let full = elf_facts_goblin(&elf, &bytes);
        let file = FileBytes {
            view: View {
                prefix: &bytes,
                plan: None,
            },
            total: bytes.len() as u64,
            complete: false,
        };
        let streamed = match elf_facts_streamed(&file, &elf.header) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(streamed.interpreter, full.interpreter);
        assert_eq!(streamed.has_interp, full.has_interp);
        assert_eq!(streamed.has_dynamic, full.has_dynamic);
        assert_eq!(streamed.stripped, full.stripped);
        assert_eq!(streamed.libraries, full.libraries);
        let names = |f: &ElfFacts| -> Vec<(String, u64, u64)> {
            f.sections.iter().map(|s| (s.0.clone(), s.1, s.2)).collect()
        };
        assert_eq!(names(&streamed), names(&full));
        assert!(streamed.cut.is_empty() && full.cut.is_empty());

        // Without a section table (as packers leave files), both fall back to the loaded
        // segments and measure them alike.
        let mut bare = bytes.clone();
        bare[0x28..0x30].fill(0); // e_shoff
        bare[0x3c..0x3e].fill(0); // e_shnum
        let Ok(elf) = goblin::elf::Elf::parse(&bare) else {
            panic!("goblin cannot parse the section-less copy");
        };
        let full = elf_facts_goblin(&elf, &bare);
        let file = FileBytes {
            view: View {
                prefix: &bare,
                plan: None,
            },
            total: bare.len() as u64,
            complete: false,
        };
        let streamed = match elf_facts_streamed(&file, &elf.header) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        assert!(!full.sections.is_empty());
        assert_eq!(
            streamed.stripped,
            Some(true),
            "no section table, no .symtab"
        );
        assert_eq!(streamed.stripped, full.stripped);
        let segments = |f: &ElfFacts| -> Vec<(String, u64, u64, u64, bool)> {
            f.sections
                .iter()
                .map(|s| (s.0.clone(), s.1, s.2, (s.3 * 1e6) as u64, s.4))
                .collect()
        };
        assert_eq!(segments(&streamed), segments(&full));
    }

    #[test]
    fn views_join_the_prefix_and_a_capture_made_from_its_end() {
        let prefix = [1u8, 2, 3, 4];
        let mut plan = StreamPlan::default();
        assert_eq!(plan.capture(2, 6, 4, 100), 4);
        assert_eq!(plan.capture(u64::MAX, 2, 4, 100), 0, "overflow is no range");
        assert_eq!(plan.capture(10, 200, 4, 100), 0, "over the cap");
        plan.feed(4, &[5, 6]);
        plan.feed(6, &[7, 8, 9]);
        let view = View {
            prefix: &prefix,
            plan: Some(&plan),
        };
        assert_eq!(view.get(2, 6).as_deref(), Some(&[3u8, 4, 5, 6, 7, 8][..]));
        assert_eq!(view.get(5, 2).as_deref(), Some(&[6u8, 7][..]));
        assert_eq!(view.get(7, 2), None, "past the capture");
        assert_eq!(view.get(u64::MAX, 2), None);
    }

    #[test]
    fn detection_uses_magic_not_names() {
        assert_eq!(detect(b"\x7fELF\x02\x01\x01"), Format::Elf);
        assert_eq!(detect(b"MZ\x90\x00"), Format::Pe);
        assert_eq!(
            detect(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]),
            Format::MachOFat
        );
        // A Java class file (major version 52) is not a fat Mach-O.
        assert_eq!(
            detect(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]),
            Format::NotExecutable
        );
        assert_eq!(detect(b"\xff\xd8\xff\xe0 JFIF"), Format::NotExecutable);
    }
}
