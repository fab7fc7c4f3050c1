//! CASE/UCO 1.x JSON-LD of a bundle: the `case.jsonld` member and `report --format case`.
//!
//! Owns the mapping of the manifest, files.jsonl and findings.jsonl onto the CASE
//! ontology (https://caseontology.org): the investigation, the investigative action
//! (`collect`, with start and end, performer, instrument, object and result), the tool
//! and its configuration, the examiner and organisation, the source, the provenance
//! record of the exhibit, every file whose content was read (collected, changed,
//! duplicate, known-good) as an `observable:File` with `FileFacet` (name, path, size,
//! times) and `ContentDataFacet` (size, hashes), its relation to the source (and, for a
//! duplicate, to the stored copy), and findings as `core:Annotation`s on the file they
//! concern. Written with serde_json, streamed: one record in memory at a time, plus the
//! map of stored members (one entry per distinct content, as the de-duplication index
//! of a run) and the findings (which the report holds anyway). Never invents a value the
//! bundle does not hold, and never writes a time or hash it did not read from it.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use serde_json::{Value, json};

use crate::bundle::manifest::Manifest;
use crate::bundle::record::{FileRecord, Status};
use crate::finding::Finding;

/// The ontology namespaces (CASE 1.x / UCO 1.x).
fn context(bundle_id: &str) -> Value {
    json!({
        "kb": format!("urn:fieldkit:bundle:{bundle_id}:"),
        "case-investigation": "https://ontology.caseontology.org/case/investigation/",
        "core": "https://ontology.unifiedcyberontology.org/uco/core/",
        "action": "https://ontology.unifiedcyberontology.org/uco/action/",
        "identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
        "observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
        "tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
        "configuration": "https://ontology.unifiedcyberontology.org/uco/configuration/",
        "types": "https://ontology.unifiedcyberontology.org/uco/types/",
        "vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
        "xsd": "http://www.w3.org/2001/XMLSchema#"
    })
}

fn time(t: &str) -> Value {
    json!({"@type": "xsd:dateTime", "@value": t})
}

fn id(s: &str) -> Value {
    json!({"@id": s})
}

/// Node identifiers: `kb:NAME-UUID`, the UUID a version-5 UUID of NAME in the bundle's
/// id as namespace (RFC 4122 §4.3), so every node's IRI ends with a UUID as UCO asks,
/// and the same bundle always gives the same document.
struct Ids {
    namespace: [u8; 16],
}

impl Ids {
    fn new(bundle_id: &str) -> Ids {
        let namespace = uuid::Uuid::parse_str(bundle_id)
            .map(|u| *u.as_bytes())
            .unwrap_or_else(|_| {
                let d = crate::hashing::sha256(bundle_id.as_bytes());
                let mut n = [0u8; 16];
                n.copy_from_slice(&d[..16]);
                n
            });
        Ids { namespace }
    }

    fn iri(&self, name: &str) -> String {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(self.namespace);
        h.update(name.as_bytes());
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        b[6] = (b[6] & 0x0f) | 0x50;
        b[8] = (b[8] & 0x3f) | 0x80;
        format!("kb:{name}-{}", uuid::Uuid::from_bytes(b).hyphenated())
    }
}

/// The bundle file itself, when known (`report --format case` after verifying it).
pub struct BundleFile<'a> {
    pub name: &'a str,
    pub sha256: &'a str,
    pub size: Option<u64>,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub files: u64,
    pub annotations: u64,
    /// files.jsonl lines that are not records (each is also counted by the report).
    pub unreadable_lines: u64,
}

/// Writes the graph node by node, comma-separated, into `{"@context":…,"@graph":[…]}`.
struct Graph<'w> {
    out: &'w mut dyn Write,
    first: bool,
}

impl Graph<'_> {
    fn node(&mut self, v: &Value) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, v).map_err(io::Error::other)
    }

    /// `v` (a JSON object) with one more key whose value is the list of `{"@id": …}`
    /// references `iris` gives, written one reference at a time: the provenance record
    /// names every file, and a list built in memory first cost ~1 KB per file (issue 15:
    /// 374 MiB at 200,000 files).
    fn node_with_references(
        &mut self,
        v: &Value,
        key: &str,
        iris: impl Iterator<Item = String>,
    ) -> io::Result<()> {
        let head = serde_json::to_vec(v).map_err(io::Error::other)?;
        let Some((b'}', head)) = head.split_last() else {
            return Err(io::Error::other(
                "internal error: a CASE node is not an object",
            ));
        };
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        self.out.write_all(head)?;
        if head.len() > 1 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *self.out, key).map_err(io::Error::other)?;
        self.out.write_all(b":[")?;
        for (k, iri) in iris.enumerate() {
            if k > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *self.out, &id(&iri)).map_err(io::Error::other)?;
        }
        self.out.write_all(b"]}")
    }
}

fn hashes(ids: &Ids, n: u64, r: &FileRecord) -> Vec<Value> {
    let mut v = Vec::new();
    for (name, value) in [("SHA256", &r.sha256), ("SHA1", &r.sha1), ("MD5", &r.md5)] {
        if let Some(h) = value {
            v.push(json!({
                "@id": ids.iri(&format!("file-{n}-hash-{}", name.to_ascii_lowercase())),
                "@type": "types:Hash",
                "types:hashMethod": name,
                "types:hashValue": {"@type": "xsd:hexBinary", "@value": h},
            }));
        }
    }
    v
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The records whose content was read, as (record, walk-order number).
fn content_read(r: &FileRecord) -> bool {
    matches!(
        r.status,
        Some(Status::Collected | Status::Changed | Status::Duplicate | Status::KnownGood)
    ) && r.sha256.is_some()
}

/// Write the CASE document. files.jsonl is read twice, from two readers of it: once to
/// number the stored copies (a duplicate refers to one that may come later in walk
/// order), once to write.
pub fn write(
    out: &mut dyn Write,
    manifest: &Manifest,
    files_jsonl_first: impl BufRead,
    files_jsonl_second: impl BufRead,
    findings: &[Finding],
    bundle: Option<BundleFile<'_>>,
) -> io::Result<Written> {
    let mut written = Written::default();
    let ids = Ids::new(&manifest.bundle_id);
    // Pass 1: member → the number of the record that stored it.
    let mut stored: HashMap<String, u64> = HashMap::new();
    {
        let mut n = 0u64;
        let (_, err) = super::for_each_line(files_jsonl_first, |line| {
            if let Ok(r) = serde_json::from_slice::<FileRecord>(line)
                && content_read(&r)
            {
                n += 1;
                if let (Some(m), Some(Status::Collected | Status::Changed)) = (&r.member, r.status)
                {
                    stored.insert(m.clone(), n);
                }
            }
        });
        if let Some(e) = err {
            return Err(io::Error::other(format!("reading files.jsonl: {e}")));
        }
    }
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        if let Some(p) = f.path.as_deref() {
            by_path.entry(p).or_default().push(i);
        }
    }
    let mut annotated = vec![false; findings.len()];

    out.write_all(b"{\"@context\":")?;
    serde_json::to_writer(&mut *out, &context(&manifest.bundle_id)).map_err(io::Error::other)?;
    out.write_all(b",\n\"@graph\":[\n")?;
    let mut g = Graph { out, first: true };

    let case = &manifest.case;
    let investigation_name = case
        .case_number
        .clone()
        .unwrap_or_else(|| format!("fieldkit bundle {}", manifest.bundle_id));
    let mut inv = json!({
        "@id": ids.iri("investigation"),
        "@type": "case-investigation:Investigation",
        "core:name": investigation_name,
        "case-investigation:focus": "digital evidence collection",
        "core:object": [id(&ids.iri("action-collect")), id(&ids.iri("provenance"))],
    });
    if let Some(n) = &case.notes {
        inv["core:description"] = json!(n);
    }
    g.node(&inv)?;

    let t = &manifest.tool;
    let mut entries = vec![
        ("profile", manifest.profile.name.clone()),
        ("profile_sha256", manifest.profile.sha256.clone()),
        ("profile_origin", manifest.profile.origin.clone()),
        ("hash_algorithms", manifest.hash_algorithms.join(",")),
        ("threads", manifest.method.threads.to_string()),
        ("triage", manifest.method.triage.clone()),
        (
            "verify_after_write",
            manifest.method.verify_after_write.to_string(),
        ),
        ("command_line", manifest.command_line.join(" ")),
    ];
    if let Some(m) = manifest.profile.max_file_size_override {
        entries.push(("max_file_size", m.to_string()));
    }
    let config: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            json!({
                "@id": ids.iri(&format!("configuration-entry-{}", i + 1)),
                "@type": "configuration:ConfigurationEntry",
                "configuration:itemName": k,
                "configuration:itemValue": v,
            })
        })
        .collect();
    let mut tool = json!({
        "@id": ids.iri("tool"),
        "@type": "tool:ConfiguredTool",
        "core:name": t.name,
        "tool:version": format!("{} ({}, {})", t.version, t.commit, t.target),
        "tool:toolType": "forensic triage collector",
        "configuration:usesConfiguration": {
            "@id": ids.iri("configuration"),
            "@type": "configuration:Configuration",
            "configuration:configurationEntry": config,
        },
    });
    if let Some(h) = &t.executable_sha256 {
        tool["core:description"] = json!(format!("executable {} sha256 {h}", t.executable_path));
    }
    g.node(&tool)?;

    if let Some(org) = &case.organisation {
        g.node(&json!({
            "@id": ids.iri("organisation"),
            "@type": "identity:Organization",
            "core:name": org,
        }))?;
    }
    if let Some(examiner) = &case.examiner {
        let mut p = json!({
            "@id": ids.iri("examiner"),
            "@type": "identity:Person",
            "core:name": examiner,
        });
        if case.organisation.is_some() {
            p["core:description"] = json!(format!(
                "of {}",
                case.organisation.clone().unwrap_or_default()
            ));
        }
        g.node(&p)?;
    }
    let src = &manifest.source;
    g.node(&json!({
        "@id": ids.iri("source"),
        "@type": "observable:File",
        "core:description": format!(
            "the collection source{} on host {}",
            if src.live_system { " (the running system)" } else { "" },
            manifest.host.hostname.clone().unwrap_or_else(|| "unknown".into())
        ),
        "core:hasFacet": [{
            "@id": ids.iri("source-facet"),
            "@type": "observable:FileFacet",
            "observable:filePath": src.resolved_path,
            "observable:isDirectory": true,
        }],
    }))?;
    let mut action = json!({
        "@id": ids.iri("action-collect"),
        "@type": "case-investigation:InvestigativeAction",
        "core:name": "collect",
        "core:description": format!(
            "status {}{}; {} considered, {} collected, {} duplicate, {} changed while read, {} known-good, {} skipped, {} errors, {} locked",
            manifest.status,
            manifest.incomplete_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            manifest.counts.considered, manifest.counts.collected, manifest.counts.duplicate,
            manifest.counts.changed, manifest.counts.known_good, manifest.counts.skipped,
            manifest.counts.error, manifest.counts.locked
        ),
        "action:startTime": time(&manifest.times.start_utc),
        "action:endTime": time(&manifest.times.end_utc),
        "action:instrument": id(&ids.iri("tool")),
        "action:object": [id(&ids.iri("source"))],
        "action:result": [id(&ids.iri("provenance"))],
    });
    if case.examiner.is_some() {
        action["action:performer"] = id(&ids.iri("examiner"));
    }
    g.node(&action)?;

    // Pass 2: the files.
    let mut n = 0u64;
    let mut failure: Option<io::Error> = None;
    let (_, err) = super::for_each_line(files_jsonl_second, |line| {
        if failure.is_some() {
            return;
        }
        let r = match serde_json::from_slice::<FileRecord>(line) {
            Ok(r) => r,
            Err(_) => {
                written.unreadable_lines += 1;
                return;
            }
        };
        if !content_read(&r) {
            return;
        }
        n += 1;
        let fid = ids.iri(&format!("file-{n}"));
        let path = r.path.display();
        let mut facet = json!({
            "@id": ids.iri(&format!("file-{n}-file-facet")),
            "@type": "observable:FileFacet",
            "observable:fileName": file_name(&path),
            "observable:filePath": path,
            "observable:isDirectory": false,
        });
        if let Some(s) = r.size {
            facet["observable:sizeInBytes"] = json!(s);
        }
        for (key, value) in [
            ("observable:modifiedTime", &r.facts.mtime),
            ("observable:accessedTime", &r.facts.atime),
            ("observable:metadataChangeTime", &r.facts.ctime),
            ("observable:observableCreatedTime", &r.facts.btime),
        ] {
            if let Some(t) = value {
                facet[key] = time(t);
            }
        }
        let mut content = json!({
            "@id": ids.iri(&format!("file-{n}-content-facet")),
            "@type": "observable:ContentDataFacet",
            "observable:hash": hashes(&ids, n, &r),
        });
        if let Some(b) = r.bytes_read {
            content["observable:sizeInBytes"] = json!(b);
        }
        let status = r.status.map(Status::name).unwrap_or("unknown");
        let mut file = json!({
            "@id": fid,
            "@type": "observable:File",
            "core:description": match (&r.member, &r.duplicate_of) {
                (Some(m), _) => format!("{status}; stored in the bundle as {m}"),
                (None, Some(d)) => format!("{status}; identical content stored as {d}"),
                (None, None) => format!("{status}; content hashed, not stored"),
            },
            "core:hasFacet": [facet, content],
        });
        if !r.rules.is_empty() {
            file["core:tag"] = json!(r.rules);
        }
        let mut nodes = vec![
            file,
            json!({
                "@id": ids.iri(&format!("file-{n}-in-source")),
                "@type": "observable:ObservableRelationship",
                "core:source": id(&fid),
                "core:target": id(&ids.iri("source")),
                "core:kindOfRelationship": "Contained_Within",
                "core:isDirectional": true,
            }),
        ];
        if let Some(k) = r.duplicate_of.as_ref().and_then(|d| stored.get(d)) {
            nodes.push(json!({
                "@id": ids.iri(&format!("file-{n}-duplicate-of")),
                "@type": "observable:ObservableRelationship",
                "core:source": id(&fid),
                "core:target": id(&ids.iri(&format!("file-{k}"))),
                "core:kindOfRelationship": "Duplicate_Of",
                "core:isDirectional": true,
                "core:description": "same SHA-256: the content is stored once",
            }));
        }
        for &i in by_path.get(path.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
            annotated[i] = true;
            nodes.push(annotation(&ids, &findings[i], i, &fid));
        }
        for node in &nodes {
            if let Err(e) = g.node(node) {
                failure = Some(e);
                return;
            }
        }
        written.files += 1;
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = err {
        return Err(io::Error::other(format!("reading files.jsonl: {e}")));
    }
    for (i, f) in findings.iter().enumerate() {
        if !annotated[i] {
            // Live state and findings about files not stored: on the collect action.
            g.node(&annotation(&ids, f, i, &ids.iri("action-collect")))?;
        }
    }
    written.annotations = findings.len() as u64;
    // Its "core:object" (every file, then the bundle) is streamed by node_with_references.
    let mut provenance = json!({
        "@id": ids.iri("provenance"),
        "@type": "case-investigation:ProvenanceRecord",
        "core:description": format!("fieldkit bundle {}", manifest.bundle_id),
    });
    if let Some(e) = &case.exhibit {
        provenance["case-investigation:exhibitNumber"] = json!(e);
    }
    let bundle_ref = bundle.is_some().then(|| ids.iri("bundle"));
    if let Some(b) = bundle {
        let mut facet = json!({
            "@id": ids.iri("bundle-file-facet"),
            "@type": "observable:FileFacet",
            "observable:fileName": b.name,
            "observable:isDirectory": false,
        });
        if let Some(s) = b.size {
            facet["observable:sizeInBytes"] = json!(s);
        }
        g.node(&json!({
            "@id": ids.iri("bundle"),
            "@type": "observable:File",
            "core:description": "the evidence bundle (signed ZIP) holding the collected files",
            "core:hasFacet": [facet, {
                "@id": ids.iri("bundle-content-facet"),
                "@type": "observable:ContentDataFacet",
                "observable:hash": [{
                    "@id": ids.iri("bundle-hash-sha256"),
                    "@type": "types:Hash",
                    "types:hashMethod": "SHA256",
                    "types:hashValue": {"@type": "xsd:hexBinary", "@value": b.sha256},
                }],
            }],
        }))?;
    }
    let files = (1..=n).map(|k| ids.iri(&format!("file-{k}")));
    g.node_with_references(&provenance, "core:object", files.chain(bundle_ref))?;
    g.out.write_all(b"\n]}\n")?;
    Ok(written)
}

fn annotation(ids: &Ids, f: &Finding, index: usize, object: &str) -> Value {
    let mut a = json!({
        "@id": ids.iri(&if f.id.is_empty() { format!("finding-{}", index + 1) } else { format!("finding-{}", f.id) }),
        "@type": "core:Annotation",
        "core:name": f.kind,
        "core:statement": f.title,
        "core:tag": [format!("severity:{}", serde_json::to_value(f.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()), format!("analyzer:{}", f.analyzer), f.kind.clone()],
        "core:object": [id(object)],
    });
    if let Ok(e) = serde_json::to_string(&f.evidence) {
        a["core:description"] = json!(e);
    }
    a
}
