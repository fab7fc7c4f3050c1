//! `fieldkit hashset build|info|lookup`: flags to library calls, results to stdout
//! (tab-separated or `--json`), progress and problems to stderr, and the exit code.
//!
//! Exit codes: `build` 0 done / 2 error; `info` 0 intact / 1 damaged / 2 cannot read;
//! `lookup` 0 some digest matched / 1 none matched / 2 error (bad set or bad query).
//!
//! Must never change a set it inspects or queries, never replace an existing output set
//! unless `--force` is given, and never turn a damaged set or a malformed query into a
//! "no match" answer.

use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use super::exit;
use crate::cli::{
    HashsetAction, HashsetArgs, HashsetBuildArgs, HashsetFormatArg, HashsetInfoArgs,
    HashsetKindArg, HashsetLookupArgs,
};
use crate::hashset::format::flags;
use crate::hashset::input::{read_line_bounded, sums};
use crate::hashset::{
    Algorithm, BuildOptions, BuildReport, DamagedSet, InputFormat, KnownSet, LookupHit, SetKind,
    Verification, build, to_hex, to_hex_into,
};

/// `lookup`: every digest was valid and none was in the set.
const NO_MATCH: u8 = 1;

pub fn run(args: HashsetArgs) -> Result<u8> {
    match args.action {
        HashsetAction::Build(a) => run_build(*a),
        HashsetAction::Info(a) => run_info(a),
        HashsetAction::Lookup(a) => run_lookup(a),
    }
}

fn run_build(args: HashsetBuildArgs) -> Result<u8> {
    let format = match args.format {
        HashsetFormatArg::Auto => None,
        HashsetFormatArg::NsrlSqlite => Some(InputFormat::NsrlSqlite),
        HashsetFormatArg::NsrlTxt => Some(InputFormat::NsrlTxt),
        HashsetFormatArg::Hashdeep => Some(InputFormat::Hashdeep),
        HashsetFormatArg::Sums => Some(InputFormat::Sums),
        HashsetFormatArg::Vics => Some(InputFormat::Vics),
    };
    let kind = match args.kind {
        HashsetKindArg::KnownGood => SetKind::KnownGood,
        HashsetKindArg::KnownBad => SetKind::KnownBad,
    };
    let inputs = args.inputs.into_iter().map(|p| (p, format)).collect();
    let mut opts = BuildOptions::new(args.out, kind, inputs);
    opts.name = args.name;
    opts.description = args.description;
    opts.default_category = args.category;
    opts.skip_malformed = args.skip_malformed;
    opts.category_map = args.category_map;
    opts.exclude_categories = args.exclude_categories;
    opts.tmp_dir = args.tmp_dir;
    opts.force = args.force;
    opts.verbose = !args.quiet;
    if let Some(list) = &args.algorithms {
        let mut algorithms = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            algorithms.push(Algorithm::parse(name).ok_or_else(|| {
                anyhow!("--algorithms: unknown algorithm {name:?} (md5, sha1, sha256)")
            })?);
        }
        if algorithms.is_empty() {
            bail!("--algorithms: no algorithm given");
        }
        opts.algorithms = Some(algorithms);
    }
    for pair in &args.category_labels {
        let (code, label) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--category-label {pair:?}: expected CODE=LABEL"))?;
        opts.category_labels
            .push((code.trim().to_string(), label.trim().to_string()));
    }
    if let Some(size) = &args.sort_memory {
        opts.sort_memory = parse_size(size).ok_or_else(|| {
            anyhow!("--sort-memory {size:?}: expected a size such as 512MiB or 4G")
        })?;
    }
    let report = build(&opts)?;
    for source in &report.metadata.sources {
        if source.malformed_skipped > 0 {
            eprintln!(
                "fieldkit: hashset: {}: skipped {} malformed line(s), first: {}",
                source.name,
                source.malformed_skipped,
                source.malformed_examples.first().map_or("", String::as_str)
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&build_json(&report))?);
    } else {
        print_build(&report);
    }
    Ok(exit::OK)
}

fn build_json(report: &BuildReport) -> serde_json::Value {
    json!({
        "path": report.path.display().to_string(),
        "file_len": report.file_len,
        "file_sha256": to_hex(&report.file_sha256),
        "set_digest": to_hex(&report.digest),
        "input_hashes": report.input_hashes,
        "runs_spilled": report.runs_spilled,
        "read_seconds": report.read_time.as_secs_f64(),
        "write_seconds": report.write_time.as_secs_f64(),
        "metadata": report.metadata,
    })
}

fn print_build(report: &BuildReport) {
    let meta = &report.metadata;
    let counts: Vec<String> = meta
        .sections
        .iter()
        .map(|s| format!("{} {}", s.algorithm, s.entries))
        .collect();
    println!(
        "built {}: {} set \"{}\", {} from {} input(s)",
        report.path.display(),
        meta.kind,
        meta.name,
        counts.join(", "),
        meta.sources.len()
    );
    println!("  file sha256   {}", to_hex(&report.file_sha256));
    println!("  set digest    {}", to_hex(&report.digest));
    println!(
        "  size          {} bytes; {} digests read; {:.2} s reading+sorting, {:.2} s writing; {} sorted run(s) spilled",
        report.file_len,
        report.input_hashes,
        report.read_time.as_secs_f64(),
        report.write_time.as_secs_f64(),
        report.runs_spilled
    );
}

fn run_info(args: HashsetInfoArgs) -> Result<u8> {
    let set = match KnownSet::open(&args.set, Verification::Full) {
        Ok(set) => set,
        Err(e) if e.downcast_ref::<DamagedSet>().is_some() => {
            eprintln!("fieldkit: error: {e:#}");
            return Ok(exit::INVALID);
        }
        Err(e) => return Err(e),
    };
    let file_sha256 = set.file_sha256().map(|d| to_hex(&d)).unwrap_or_default();
    if args.json {
        let value = json!({
            "path": set.path().display().to_string(),
            "file_len": set.file_len(),
            "file_sha256": file_sha256,
            "set_digest": to_hex(&set.digest()),
            "integrity": "ok",
            "format_version": set.format_version(),
            "block_digest": set.block_digest().name(),
            "root_digest": crate::hashset::format::ROOT_DIGEST,
            "blocks_verified": set.blocks_verified(),
            "metadata": set.metadata(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(exit::OK);
    }
    let meta = set.metadata();
    println!("set           {}", meta.name);
    println!("kind          {}", meta.kind);
    if let Some(d) = &meta.description {
        println!("description   {d}");
    }
    println!(
        "file          {} ({} bytes)",
        set.path().display(),
        set.file_len()
    );
    println!("file sha256   {file_sha256}");
    println!("set digest    {}", to_hex(&set.digest()));
    println!(
        "integrity     ok: root digest and all {} data block(s) checked",
        set.blocks_verified()
    );
    println!(
        "format        {} v{} (built by {}); block digests {}, root digest {}",
        meta.format,
        meta.format_version,
        meta.build.created_by,
        set.block_digest().name(),
        crate::hashset::format::ROOT_DIGEST
    );
    for s in &meta.sections {
        println!(
            "entries       {:<7} {} distinct of {} read; {} in several sources; {} category conflicts; prefix bits {}",
            s.algorithm,
            s.entries,
            s.input_hashes,
            s.multi_source_entries,
            s.category_conflicts,
            s.prefix_bits
        );
    }
    println!("categories");
    for c in &meta.categories {
        match &c.code {
            Some(code) => println!("  [{}] {} (code {code})", c.index, c.label),
            None => println!("  [{}] {} (default)", c.index, c.label),
        }
    }
    println!("sources");
    for s in &meta.sources {
        println!(
            "  [{}] {}  {}  {} bytes  sha256 {}",
            s.index, s.name, s.format, s.size, s.sha256
        );
        if let Some(d) = &s.description {
            println!("      {d}");
        }
        println!(
            "      {} records; digests md5 {} sha1 {} sha256 {}; not selected {}; without digest {}; excluded {}; malformed skipped {}",
            s.records,
            s.hashes.md5,
            s.hashes.sha1,
            s.hashes.sha256,
            s.hashes_not_selected,
            s.records_without_hash,
            s.records_excluded,
            s.malformed_skipped
        );
        for example in &s.malformed_examples {
            println!("      skipped {example}");
        }
    }
    let algorithms: Vec<&str> = meta.build.algorithms.iter().map(|a| a.name()).collect();
    println!("build");
    println!("  algorithms  {}", algorithms.join(","));
    println!("  skip malformed lines  {}", meta.build.skip_malformed);
    if !meta.build.excluded_categories.is_empty() {
        println!(
            "  excluded categories  {}",
            meta.build.excluded_categories.join(", ")
        );
    }
    if let Some(map) = &meta.build.category_map {
        if let (Some(file), Some(sha)) = (&map.file, &map.file_sha256) {
            println!("  category map  {file} sha256 {sha}");
        }
        for (code, label) in &map.entries {
            println!("    {code} = {label}");
        }
    }
    println!("  duplicates  {}", meta.build.dedup_rule);
    Ok(exit::OK)
}

fn run_lookup(args: HashsetLookupArgs) -> Result<u8> {
    if args.hashes.is_empty() && !args.stdin {
        bail!("give digests as arguments or --stdin");
    }
    let started = Instant::now();
    let mode = if args.verify_all {
        Verification::Full
    } else {
        Verification::Auto
    };
    let set = KnownSet::open(&args.set, mode)?;
    let opened = started.elapsed();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut tally = Tally::default();
    let mut batch = Batch::default();
    for (i, text) in args.hashes.iter().enumerate() {
        batch.add(text.as_bytes(), "argument", i as u64 + 1, &mut tally);
    }
    batch.answer(&set, &args, &mut out, &mut tally)?;
    if args.stdin {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut line = Vec::with_capacity(256);
        let mut number = 0u64;
        while let Some(too_long) =
            read_line_bounded(&mut input, &mut line).context("reading stdin")?
        {
            number += 1;
            if too_long {
                tally.invalid += 1;
                eprintln!("fieldkit: hashset: stdin:{number}: line longer than 1 MiB");
                continue;
            }
            batch.add(&line, "stdin", number, &mut tally);
            if batch.queries.len() >= Batch::SIZE {
                batch.answer(&set, &args, &mut out, &mut tally)?;
            }
        }
        batch.answer(&set, &args, &mut out, &mut tally)?;
    }
    out.flush().context("writing stdout")?;
    if args.stats {
        let secs = started.elapsed().as_secs_f64();
        let checking = set.lazy_verification_time().as_secs_f64();
        eprintln!(
            "fieldkit: hashset: {} lookups, {} matched, {} invalid; open {:.1} ms, total {:.3} s, \
             {:.0} lookups/s; blocks verified {}/{}, first-use checks {:.3} s \
             ({:.0} lookups/s without them){}",
            tally.lookups,
            tally.matched,
            tally.invalid,
            opened.as_secs_f64() * 1000.0,
            secs,
            tally.lookups as f64 / secs.max(1e-9),
            set.blocks_verified(),
            set.block_count(),
            checking,
            tally.lookups as f64 / (secs - checking).max(1e-9),
            memory_summary()
        );
    }
    Ok(if tally.invalid > 0 {
        exit::USAGE
    } else if tally.matched > 0 {
        exit::OK
    } else {
        NO_MATCH
    })
}

#[derive(Default)]
struct Tally {
    lookups: u64,
    matched: u64,
    invalid: u64,
}

/// Queries collected for one [`KnownSet::lookup_many`] call: digests, and the input
/// lines they came from (for the echoed names).
#[derive(Default)]
struct Batch {
    text: Vec<u8>,
    queries: Vec<(sums::ParsedDigest, std::ops::Range<usize>)>,
    answers: Vec<Option<LookupHit>>,
}

impl Batch {
    const SIZE: usize = 4096;

    fn add(&mut self, line: &[u8], origin: &str, number: u64, tally: &mut Tally) {
        match sums::parse_query(line) {
            Ok(Some((digest, name))) => {
                let base = self.text.len();
                self.text.extend_from_slice(&line[name]);
                self.queries.push((digest, base..self.text.len()));
            }
            Ok(None) => {}
            Err(reason) => {
                tally.invalid += 1;
                eprintln!("fieldkit: hashset: {origin}:{number}: {reason}");
            }
        }
    }

    fn answer(
        &mut self,
        set: &KnownSet,
        args: &HashsetLookupArgs,
        out: &mut impl Write,
        tally: &mut Tally,
    ) -> Result<()> {
        let keys: Vec<(Algorithm, &[u8])> = self
            .queries
            .iter()
            .map(|(d, _)| (d.algorithm, d.bytes()))
            .collect();
        self.answers.clear();
        set.lookup_many(&keys, &mut self.answers)?;
        for ((digest, name), hit) in self.queries.iter().zip(&self.answers) {
            tally.lookups += 1;
            tally.matched += u64::from(hit.is_some());
            let name = &self.text[name.clone()];
            if args.json {
                write_json(out, set, digest, *hit, name)?;
            } else {
                write_line(out, set, digest, *hit, name)?;
            }
        }
        self.text.clear();
        self.queries.clear();
        Ok(())
    }
}

/// `status<TAB>algorithm<TAB>digest<TAB>category<TAB>name`.
fn write_line(
    out: &mut impl Write,
    set: &KnownSet,
    digest: &sums::ParsedDigest,
    hit: Option<LookupHit>,
    name: &[u8],
) -> Result<()> {
    let mut hex = [0u8; 64];
    let hex = to_hex_into(digest.bytes(), &mut hex);
    let status: &[u8] = if hit.is_some() { b"match\t" } else { b"miss\t" };
    out.write_all(status)?;
    out.write_all(digest.algorithm.name().as_bytes())?;
    out.write_all(b"\t")?;
    out.write_all(hex)?;
    out.write_all(b"\t")?;
    if let Some(hit) = hit {
        out.write_all(set.category_label(hit.category).as_bytes())?;
    }
    out.write_all(b"\t")?;
    out.write_all(name)?;
    out.write_all(b"\n").context("writing stdout")
}

fn write_json(
    out: &mut impl Write,
    set: &KnownSet,
    digest: &sums::ParsedDigest,
    hit: Option<LookupHit>,
    name: &[u8],
) -> Result<()> {
    let mut value = json!({
        "digest": to_hex(digest.bytes()),
        "algorithm": digest.algorithm.name(),
        "match": hit.is_some(),
        "name": String::from_utf8_lossy(name),
    });
    if let (Some(hit), Some(map)) = (hit, value.as_object_mut()) {
        let category = set.metadata().categories.get(usize::from(hit.category));
        map.insert("category".into(), set.category_label(hit.category).into());
        if let Some(code) = category.and_then(|c| c.code.clone()) {
            map.insert("category_code".into(), code.into());
        }
        if let Some(source) = set.source_name(hit.source) {
            map.insert("source".into(), source.into());
        }
        map.insert("flags".into(), flags::names(hit.flags).into());
    }
    writeln!(out, "{value}").context("writing stdout")
}

/// Peak and current memory of this process, Linux only: `RssAnon` is what lookups cost
/// beyond the page cache (the mapped set shows up as `RssFile`).
fn memory_summary() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "; VmHWM {}, RssAnon {}, RssFile {}",
        field("VmHWM:"),
        field("RssAnon:"),
        field("RssFile:")
    )
}

/// `512MiB`, `4G`, `1GiB`, `65536`: binary units, case-insensitive.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1usize.checked_shl(shift)?)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("1.5G"), None);
        assert_eq!(parse_size("G"), None);
    }
}
