//! The members a collection writes after its last file — manifest, files.jsonl,
//! actions, findings, case.jsonld, report.html and the signer's key, in that order — and
//! findings.jsonl's numbering.
//!
//! Returns why files were not collected, as the report's pass counted them from the
//! spooled records (the bytes files.jsonl holds), and the findings' tally from the
//! numbered findings (the bytes findings.jsonl holds), so the end-of-run summary need not
//! open the sealed bundle's 200,000-entry directory and parse files.jsonl again (0.8 s).
//!
//! Owns reading the spooled records for them. The two passes that read every record
//! before anything is written from it — the report's model and the CASE document's first
//! pass (its ids and length bound) — run on threads of their own, each with its own
//! reader of the spool, while this thread stores the members that need neither: on a
//! 200,000-file tree they took 1.1 s one after the other. Never writes anything but
//! bundle members and temp files in the output directory.

use std::io::BufReader;
use std::path::Path;

use anyhow::Context;

use crate::acquire::Output;
use crate::acquire::spool::{Contents, Spool};
use crate::action::Action;
use crate::bundle::manifest::Manifest;
use crate::bundle::writer::BundleWriter;
use crate::bundle::{self, ACTIONS_JSONL, FILES_JSONL, FINDINGS_JSONL, MANIFEST, SIGNER_PUB};

/// What the end-of-run summary says of the sealed members, tallied from their bytes.
pub(super) struct Tallies {
    pub not_collected: Vec<crate::report::ReasonCount>,
    pub findings: crate::report::summary::FindingsSummary,
}

/// What the metadata members are made of, besides the run's output and actions.
pub(super) struct Metadata<'a> {
    pub manifest: &'a Manifest,
    pub out_dir: &'a Path,
    pub live_members: &'a [String],
    pub live_text: Option<&'a str>,
    pub public: &'a str,
}

impl Metadata<'_> {
    pub(super) fn write(
        &self,
        writer: &mut BundleWriter,
        output: Output,
        actions: &[Action],
    ) -> anyhow::Result<Tallies> {
        let manifest_json = serde_json::to_vec_pretty(self.manifest)?;
        // files.jsonl in walk order (the spool keeps where each record lies).
        let records = output.records.into_contents()?;
        let findings = number_findings(output.findings.into_contents()?, self.out_dir)?;
        let case_findings =
            crate::report::read_findings(BufReader::new(findings.reader())).findings;
        let findings_summary =
            crate::report::summary::FindingsSummary::from_jsonl(BufReader::new(findings.reader()));
        std::thread::scope(|scope| -> anyhow::Result<Tallies> {
            // The report travels inside the bundle; it is built from the same spooled
            // records, read again from the output device's temp files.
            let report_pass = std::thread::Builder::new()
                .name("seal-report".into())
                .spawn_scoped(scope, || {
                    crate::report::build(
                        self.manifest.clone(),
                        BufReader::new(records.reader()),
                        BufReader::new(findings.reader()),
                        self.live_members.to_vec(),
                        self.live_text.map(str::to_string),
                    )
                })?;
            let case_pass = std::thread::Builder::new()
                .name("seal-case".into())
                .spawn_scoped(scope, || {
                    crate::report::case::Doc::prepare(
                        self.manifest,
                        BufReader::new(records.reader()),
                        &case_findings,
                        None,
                    )
                })?;
            writer.add_metadata(MANIFEST, &manifest_json)?;
            writer.add_metadata_stream(FILES_JSONL, records.reader(), records.len())?;
            let mut act = Vec::new();
            for a in actions {
                serde_json::to_writer(&mut act, a)?;
                act.push(b'\n');
            }
            writer.add_metadata(ACTIONS_JSONL, &act)?;
            writer.add_metadata_stream(FINDINGS_JSONL, findings.reader(), findings.len())?;
            // CASE/UCO JSON-LD, from the same spooled records (one record in memory at a
            // time): streamed straight into the bundle when its length is surely below
            // 2 GiB (the bound is then the recorded size that keeps the local header
            // without ZIP64 sizes, as for its real length), else via a temp file on the
            // output device, whose exact length decides.
            let doc = case_pass
                .join()
                .map_err(|_| anyhow::anyhow!("internal error: the case.jsonld pass failed"))??;
            let bound = doc.len_bound();
            if !crate::bundle::zipwriter::local_zip64(bound, 0) {
                let (_, n) =
                    crate::report::case::stream(&doc, BufReader::new(records.reader()), |r| {
                        writer.add_metadata_stream(bundle::CASE_JSONLD, r, bound)
                    })?;
                anyhow::ensure!(
                    n <= bound,
                    "internal error: case.jsonld is {n} bytes, over its bound of {bound}"
                );
            } else {
                use std::io::{Seek, Write};
                let mut tmp = std::io::BufWriter::new(tempfile::tempfile_in(self.out_dir)?);
                doc.emit(&mut tmp, BufReader::new(records.reader()))?;
                tmp.flush()?;
                let mut file = tmp.into_inner().map_err(|e| e.into_error())?;
                let len = file.stream_position()?;
                file.rewind()?;
                writer.add_metadata_stream(bundle::CASE_JSONLD, file, len)?;
            }
            let mut report = report_pass
                .join()
                .map_err(|_| anyhow::anyhow!("internal error: the report pass failed"))?;
            // Its stock-tools recipe names the bundle as collect names it.
            report.bundle_name = writer
                .final_path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            writer.add_metadata(
                bundle::REPORT_HTML,
                crate::report::html::render(&report).as_bytes(),
            )?;
            writer.add_metadata(SIGNER_PUB, format!("{}\n", self.public).as_bytes())?;
            Ok(Tallies {
                not_collected: report.not_collected,
                findings: findings_summary,
            })
        })
    }
}

/// findings.jsonl as it goes in the bundle: the spooled findings in walk order (live
/// state first), numbered `F000001`, … in that order — a new temp file on the output
/// device, one finding in memory at a time.
fn number_findings(spooled: Contents, out_dir: &Path) -> anyhow::Result<Contents> {
    use std::io::BufRead;
    let mut numbered = Spool::new_in(out_dir)
        .with_context(|| format!("{}: cannot create a temporary file", out_dir.display()))?;
    let mut n = 0u64;
    for line in BufReader::new(spooled.reader()).split(b'\n') {
        let line = line.context("reading the findings spool")?;
        let mut f: crate::finding::Finding =
            serde_json::from_slice(&line).context("a spooled finding is not valid JSON")?;
        n += 1;
        f.id = format!("F{n:06}");
        numbered.push(&f).context("writing the numbered findings")?;
    }
    Ok(numbered.into_contents()?)
}
