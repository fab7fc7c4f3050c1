//! The `executable` analyzer: recognises PE, ELF and Mach-O (including fat) binaries by
//! their magic bytes and describes them with goblin: type and architecture, PE compile
//! time anomalies, Authenticode presence and signer, section entropy and packer marks,
//! imports of note, ELF interpreter/static/stripped, unusual locations and disguising
//! extensions.
//!
//! Owns the per-file executable state. Memory is bounded: the first
//! [`PREFIX_LIMIT`] bytes are kept for parsing; for larger PE files the section entropy
//! and the certificate table beyond that prefix are gathered from the stream (the PE
//! section table is known from the headers). It never decides "executable" from a file
//! name, never verifies signatures cryptographically, and never panics on malformed
//! input: a parse failure is an `exe.parse_error` finding.

use goblin::pe::section_table::SectionTable;
use serde_json::{Value, json};

use super::entropy::{ByteHistogram, shannon};
use super::patterns::{
    HIGH_SECTION_ENTROPY, IMPORTS_OF_NOTE, NON_EXECUTABLE_EXTENSIONS, PACKER_MAGICS,
    PACKER_SECTIONS, UNUSUAL_PLACES,
};
use super::{Analyzer, FileContext, FileDigests, FileScan, Prefix, new_finding};
use crate::finding::{Finding, Severity};

pub const NAME: &str = "executable";
/// Bytes of an executable kept for parsing (imports, symbols, load commands).
pub const PREFIX_LIMIT: usize = 16 << 20;
/// Bytes needed to recognise a format.
const MAGIC_LEN: usize = 64;
/// Where packer byte markers are looked for.
const PACKER_MAGIC_WINDOW: usize = 64 << 10;
/// Largest certificate table captured beyond the prefix.
const MAX_CERT_TABLE: u64 = 4 << 20;
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
        (ctx.size >= 52).then(|| Box::new(ExeScan::default()) as Box<dyn FileScan>)
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
    /// For PE files larger than the prefix: what is gathered past it.
    tail: Option<PeTail>,
}

impl Default for ExeScan {
    fn default() -> Self {
        ExeScan {
            format: Format::Undecided,
            prefix: Prefix::new(PREFIX_LIMIT),
            delivered: 0,
            tail: None,
        }
    }
}

/// What a large PE needs from beyond the prefix.
#[derive(Debug, Default)]
struct PeTail {
    /// (section index, file range past the prefix, histogram)
    sections: Vec<(usize, u64, u64, ByteHistogram)>,
    cert_start: u64,
    cert_end: u64,
    cert_bytes: Vec<u8>,
}

impl PeTail {
    fn plan(prefix: &[u8]) -> Option<PeTail> {
        let header = goblin::pe::header::Header::parse(prefix).ok()?;
        let sections = pe_sections(prefix, &header).ok()?;
        let limit = prefix.len() as u64;
        let mut tail = PeTail::default();
        for (index, s) in sections.iter().enumerate() {
            let start = u64::from(s.pointer_to_raw_data);
            let end = start + u64::from(s.size_of_raw_data);
            if end > limit {
                tail.sections
                    .push((index, start.max(limit), end, ByteHistogram::default()));
            }
        }
        if let Some(dir) = header
            .optional_header
            .and_then(|o| o.data_directories.get_certificate_table().copied())
        {
            let start = u64::from(dir.virtual_address);
            let end = start + u64::from(dir.size);
            if end > limit && u64::from(dir.size) <= MAX_CERT_TABLE {
                tail.cert_start = start.max(limit);
                tail.cert_end = end;
            }
        }
        Some(tail)
    }

    fn feed(&mut self, offset: u64, chunk: &[u8]) {
        let chunk_end = offset + chunk.len() as u64;
        for (_, start, end, hist) in &mut self.sections {
            let from = (*start).max(offset);
            let to = (*end).min(chunk_end);
            if from < to {
                hist.add(&chunk[(from - offset) as usize..(to - offset) as usize]);
            }
        }
        let from = self.cert_start.max(offset);
        let to = self.cert_end.min(chunk_end);
        if from < to {
            self.cert_bytes
                .extend_from_slice(&chunk[(from - offset) as usize..(to - offset) as usize]);
        }
    }
}

fn pe_sections(
    bytes: &[u8],
    header: &goblin::pe::header::Header<'_>,
) -> goblin::error::Result<Vec<SectionTable>> {
    let mut offset = header.dos_header.pe_pointer as usize
        + goblin::pe::header::SIZEOF_PE_MAGIC
        + goblin::pe::header::SIZEOF_COFF_HEADER
        + header.coff_header.size_of_optional_header as usize;
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
        self.delivered += chunk.len() as u64;
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
        if self.format == Format::Pe {
            if !was_full && self.prefix.is_full() {
                self.tail = PeTail::plan(&self.prefix.bytes);
            }
            if let Some(tail) = &mut self.tail {
                let skip = (PREFIX_LIMIT as u64).saturating_sub(offset);
                if skip < chunk.len() as u64 {
                    tail.feed(offset + skip, &chunk[skip as usize..]);
                }
            }
        }
    }

    fn wants_more(&self) -> bool {
        match self.format {
            Format::NotExecutable => false,
            Format::Pe => true,
            _ => !self.prefix.is_full(),
        }
    }

    fn finish(self: Box<Self>, ctx: &FileContext<'_>, _digests: &FileDigests) -> Vec<Finding> {
        let mut scan = *self;
        if scan.format == Format::Undecided {
            scan.format = detect(&scan.prefix.bytes);
        }
        let complete = scan.delivered as usize == scan.prefix.bytes.len();
        let mut report = Report::default();
        match scan.format {
            Format::Undecided | Format::NotExecutable => return Vec::new(),
            Format::Pe => analyze_pe(&scan.prefix.bytes, complete, scan.tail, &mut report),
            Format::Elf => analyze_elf(&scan.prefix.bytes, complete, &mut report),
            Format::MachO | Format::MachOFat => {
                analyze_macho(&scan.prefix.bytes, complete, &mut report)
            }
        }
        let Some(kind_label) = report.format_label.clone() else {
            return report.findings;
        };
        report.summary["size"] = json!(scan.delivered);
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

fn analyze_pe(bytes: &[u8], complete: bool, tail: Option<PeTail>, report: &mut Report) {
    let header = match goblin::pe::header::Header::parse(bytes) {
        Ok(h) => h,
        Err(e) => {
            // "MZ" alone is weak evidence: only a PE signature makes it an executable.
            if bytes.len() >= 0x40 {
                let lfanew =
                    u32::from_le_bytes([bytes[0x3c], bytes[0x3d], bytes[0x3e], bytes[0x3f]]);
                let lfanew = lfanew as usize;
                // A PE's DOS header has its relocation table at 0x40 or the DOS stub text:
                // then an e_lfanew past the end means a damaged PE, not some "MZ" text.
                let dos_like = bytes.get(0x18..0x1a) == Some(&[0x40, 0x00])
                    || memchr::memmem::find(
                        &bytes[..bytes.len().min(512)],
                        b"cannot be run in DOS mode",
                    )
                    .is_some();
                let beyond_end = complete && dos_like && lfanew + 4 > bytes.len();
                if bytes.get(lfanew..lfanew + 4) == Some(b"PE\0\0") || !complete || beyond_end {
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
            for (index, s) in sections.iter().enumerate() {
                let name = s.name().map(str::to_string).unwrap_or_else(|_| {
                    String::from_utf8_lossy(&s.name)
                        .trim_end_matches('\0')
                        .to_string()
                });
                let start = u64::from(s.pointer_to_raw_data);
                let size = u64::from(s.size_of_raw_data);
                let mut hist = ByteHistogram::default();
                let in_prefix_end = (start + size).min(bytes.len() as u64);
                if start < in_prefix_end {
                    hist.add(&bytes[start as usize..in_prefix_end as usize]);
                }
                if let Some(tail) = &tail
                    && let Some((_, _, _, h)) = tail.sections.iter().find(|t| t.0 == index)
                {
                    hist.merge(h);
                }
                let executable =
                    s.characteristics & goblin::pe::section_table::IMAGE_SCN_MEM_EXECUTE != 0;
                described.push((name, start, size, hist.shannon(), executable));
            }
            report.sections_entropy(&described);
            if complete {
                let len = bytes.len() as u64;
                let mut cut: Vec<&str> = described
                    .iter()
                    .filter(|(_, offset, size, _, _)| *size > 0 && offset + size > len)
                    .map(|(name, ..)| name.as_str())
                    .collect();
                // A COFF symbol table (left in by unstripped mingw builds) ends the file.
                let symbols = u64::from(coff.pointer_to_symbol_table);
                if symbols != 0 {
                    let strings = symbols + 18 * u64::from(coff.number_of_symbol_table);
                    let string_size = bytes
                        .get(strings as usize..strings as usize + 4)
                        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                    match string_size {
                        None => cut.push("COFF symbol table"),
                        Some(size) if strings + size > len => cut.push("COFF string table"),
                        Some(_) => {}
                    }
                }
                if !cut.is_empty() {
                    report.truncated(bytes.len() as u64, &cut);
                }
            }
        }
        Err(e) => report.parse_error("PE", format!("section table: {e}"), complete),
    }

    // Authenticode certificate table.
    let cert_dir = optional.and_then(|o| o.data_directories.get_certificate_table().copied());
    let mut signer_title = None;
    match cert_dir {
        Some(dir) if dir.size > 0 => {
            let start = dir.virtual_address as usize;
            let end = start.saturating_add(dir.size as usize);
            let mut table = Vec::new();
            if start < bytes.len() {
                table.extend_from_slice(&bytes[start..end.min(bytes.len())]);
            }
            if let Some(tail) = &tail {
                table.extend_from_slice(&tail.cert_bytes);
            }
            let mut cert = json!({
                "present": true,
                "offset": dir.virtual_address,
                "size": dir.size,
                "signature_verified": false,
            });
            if table.len() < dir.size as usize {
                cert["error"] = json!(format!(
                    "certificate table extends past the end of the file ({} of {} bytes present)",
                    table.len(),
                    dir.size
                ));
                report.parse_error("PE", "certificate table truncated".to_string(), complete);
            } else {
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

fn analyze_elf(bytes: &[u8], complete: bool, report: &mut Report) {
    use goblin::elf::header;
    use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP};
    use goblin::elf::section_header::SHT_SYMTAB;

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
    match goblin::elf::Elf::parse(bytes) {
        Ok(elf) => {
            let has_interp = elf.program_headers.iter().any(|p| p.p_type == PT_INTERP);
            let has_dynamic = elf.program_headers.iter().any(|p| p.p_type == PT_DYNAMIC);
            let stripped = !elf.section_headers.iter().any(|s| s.sh_type == SHT_SYMTAB);
            let linking = if has_interp || has_dynamic {
                "dynamic"
            } else {
                "static"
            };
            report.summary["interpreter"] = json!(elf.interpreter);
            report.summary["linking"] = json!(linking);
            report.summary["static"] = json!(linking == "static");
            report.summary["stripped"] = json!(stripped);
            report.summary["libraries"] = json!(elf.libraries);
            report.summary["pie"] = json!(hdr.e_type == header::ET_DYN && has_interp);
            let mut described = Vec::new();
            for s in elf.section_headers.iter() {
                if s.sh_type == goblin::elf::section_header::SHT_NOBITS || s.sh_size == 0 {
                    continue;
                }
                let name = elf.shdr_strtab.get_at(s.sh_name).unwrap_or("").to_string();
                let start = s.sh_offset as usize;
                let end = start.saturating_add(s.sh_size as usize);
                let executable =
                    s.sh_flags & u64::from(goblin::elf::section_header::SHF_EXECINSTR) != 0;
                // Packing shows in code; measuring every data section of every library
                // on a system would double the analyzer's cost for nothing. NaN (written
                // as null) marks a section that was not measured.
                let measured = executable || PACKER_SECTIONS.iter().any(|(n, _)| *n == name);
                let entropy = match bytes.get(start..end) {
                    Some(data) if measured => shannon(data),
                    Some(_) => f64::NAN,
                    None => continue,
                };
                described.push((name, s.sh_offset, s.sh_size, entropy, executable));
            }
            // Packed ELF files often have no section table at all: look at segments.
            if described.is_empty() {
                for (i, p) in elf.program_headers.iter().enumerate() {
                    if p.p_type != goblin::elf::program_header::PT_LOAD || p.p_filesz == 0 {
                        continue;
                    }
                    let start = p.p_offset as usize;
                    let end = start.saturating_add(p.p_filesz as usize);
                    if let Some(data) = bytes.get(start..end) {
                        let executable = p.p_flags & goblin::elf::program_header::PF_X != 0;
                        described.push((
                            format!("segment{i}"),
                            p.p_offset,
                            p.p_filesz,
                            shannon(data),
                            executable,
                        ));
                    }
                }
            }
            report.sections_entropy(&described);
            if complete {
                let cut: Vec<String> = elf
                    .program_headers
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.p_filesz > 0 && p.p_offset.saturating_add(p.p_filesz) > bytes.len() as u64
                    })
                    .map(|(i, _)| format!("segment{i}"))
                    .collect();
                if !cut.is_empty() {
                    let names: Vec<&str> = cut.iter().map(String::as_str).collect();
                    report.truncated(bytes.len() as u64, &names);
                }
            }
            report.title = Some(format!(
                "{label}, {linking} linking{}{}",
                elf.interpreter
                    .map(|i| format!(" (interpreter {i})"))
                    .unwrap_or_default(),
                if stripped {
                    ", stripped"
                } else {
                    ", not stripped"
                }
            ));
        }
        Err(e) if complete => report.parse_error("ELF", e.to_string(), complete),
        Err(_) => {
            report.summary["details"] = json!(format!(
                "not parsed: file larger than the {PREFIX_LIMIT}-byte parse limit"
            ));
        }
    }
}

fn analyze_macho(bytes: &[u8], complete: bool, report: &mut Report) {
    use goblin::mach::{Mach, SingleArch};
    match Mach::parse(bytes) {
        Ok(Mach::Binary(macho)) => {
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
        Ok(Mach::Fat(fat)) => {
            let mut arches = Vec::new();
            for index in 0..fat.narches {
                match fat.get(index) {
                    Ok(SingleArch::MachO(m)) => arches.push(json!({
                        "arch": macho_arch(m.header.cputype, m.header.cpusubtype),
                        "filetype": macho_filetype(m.header.filetype),
                    })),
                    Ok(SingleArch::Archive(_)) => arches.push(json!({ "arch": "static archive" })),
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
                    "not parsed: file larger than the {PREFIX_LIMIT}-byte parse limit"
                ));
            }
        }
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

/// Lower-case components of the source path.
fn lower_components(source_path: &str) -> Vec<String> {
    super::components(source_path)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn location_findings(ctx: &FileContext<'_>, label: &str, report: &mut Report) {
    let parts = lower_components(ctx.source_path);
    let dirs = &parts[..parts.len().saturating_sub(1)];
    for (sequence, place) in UNUSUAL_PLACES {
        let found = dirs
            .windows(sequence.len())
            .position(|w| w.iter().zip(sequence.iter()).all(|(a, b)| a == b));
        if let Some(at) = found {
            let severity = match *place {
                "Downloads folder" | "user AppData" => Severity::Low,
                _ => Severity::Medium,
            };
            report.push(
                "exe.unusual_location",
                severity,
                format!("Executable stored in a {place}"),
                json!({ "place": place, "component": dirs[at + sequence.len() - 1], "format": label }),
            );
            break;
        }
    }
    let extension = super::extension_lower(ctx.source_path);
    if NON_EXECUTABLE_EXTENSIONS.contains(&extension.as_str()) {
        report.push(
            "exe.extension_mismatch",
            Severity::High,
            format!("File named .{extension} is really an executable ({label})"),
            json!({ "extension": extension, "real_type": label }),
        );
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
