//! CASE/UCO 1.x JSON-LD of a bundle: the `case.jsonld` member and `report --format case`.
//!
//! Owns the mapping of the manifest, files.jsonl and findings.jsonl onto the CASE
//! ontology (https://caseontology.org): the investigation, the investigative action
//! (`collect`, with start and end, performer, instrument, object and result), the tool
//! and its configuration, the examiner and organisation, the source, the provenance
//! record of the exhibit, every file whose content was read (collected, changed,
//! duplicate, known-good) as an `observable:File` with `FileFacet` (name, path, size,
//! times) and `ContentDataFacet` (size, hashes), its relation to the source (one
//! `Contained_Within` relationship whose sources are all the files) and, for a
//! duplicate, to the stored copy, and findings as `core:Annotation`s on the file they
//! concern. Compact per file: times and hash values are plain strings typed by the
//! `@context` (the same RDF as explicit `{"@type", "@value"}` objects), file nodes are
//! serialized from borrowed structs. Streamed: one record in memory at a time, plus the
//! map of stored members (one entry per distinct content, as the de-duplication index
//! of a run) and the findings (which the report holds anyway); the first pass over
//! files.jsonl also gives an upper bound of the document's length, so `collect` can
//! stream it into the bundle without a temp file. Never invents a value the bundle does
//! not hold, and never writes a time or hash it did not read from it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead, Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bundle::manifest::Manifest;
use crate::bundle::record::Status;
use crate::finding::Finding;

/// The ontology namespaces (CASE 1.x / UCO 1.x), and the datatypes of the literal
/// properties written as plain strings (JSON-LD type coercion: `"2026-…Z"` under
/// `observable:modifiedTime` is the `xsd:dateTime` literal, as `{"@type": "xsd:dateTime",
/// "@value": "2026-…Z"}` would be).
fn context(bundle_id: &str) -> Value {
    let mut c = json!({
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
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "types:hashValue": {"@type": "xsd:hexBinary"},
    });
    for p in [
        "action:startTime",
        "action:endTime",
        "observable:modifiedTime",
        "observable:accessedTime",
        "observable:metadataChangeTime",
        "observable:observableCreatedTime",
    ] {
        c[p] = json!({"@type": "xsd:dateTime"});
    }
    c
}

fn id(s: &str) -> Value {
    json!({"@id": s})
}

/// Node identifiers: `kb:NAME-UUID`, the UUID a version-5 UUID of NAME in the bundle's
/// id as namespace (RFC 4122 §4.3), so every node's IRI ends with a UUID as UCO asks,
/// and the same bundle always gives the same document. A counting `Ids` gives IRIs of
/// the same length without hashing (to measure the document, never written).
#[derive(Clone)]
struct Ids {
    namespace: [u8; 16],
    counting: bool,
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
        Ids {
            namespace,
            counting: false,
        }
    }

    fn counting(&self) -> Ids {
        Ids {
            counting: true,
            ..self.clone()
        }
    }

    fn iri(&self, name: &str) -> String {
        use sha1::{Digest, Sha1};
        let mut b = [0u8; 16];
        if !self.counting {
            let mut h = Sha1::new();
            h.update(self.namespace);
            h.update(name.as_bytes());
            let d = h.finalize();
            b.copy_from_slice(&d[..16]);
            b[6] = (b[6] & 0x0f) | 0x50;
            b[8] = (b[8] & 0x3f) | 0x80;
        }
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
    /// Bytes of JSON-LD written.
    pub bytes: u64,
}

/// Writes the graph node by node, comma-separated, into `{"@context":…,"@graph":[…]}`.
struct Graph<'w> {
    out: &'w mut dyn Write,
    first: bool,
}

impl Graph<'_> {
    fn separate(&mut self) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        Ok(())
    }

    fn node(&mut self, v: &impl Serialize) -> io::Result<()> {
        self.separate()?;
        serde_json::to_writer(&mut *self.out, v).map_err(io::Error::other)
    }

    /// `v` (a JSON object) with one more key whose value is the list of `{"@id": …}`
    /// references `iris` gives, written one reference at a time: the provenance record
    /// and the `Contained_Within` relationship name every file, and a list built in
    /// memory first cost ~1 KB per file (issue 15: 374 MiB at 200,000 files).
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
        self.separate()?;
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
            serde_json::to_writer(&mut *self.out, &Ref { id: &iri }).map_err(io::Error::other)?;
        }
        self.out.write_all(b"]}")
    }
}

/// Counts what is written to it (the length of the document, never kept).
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what passes through to the real output.
struct Counting<'w> {
    inner: &'w mut dyn Write,
    n: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What the document takes from a files.jsonl record (borrowed from the line where it
/// needs no unescaping): the fields of `FileRecord` it maps, nothing else parsed.
#[derive(Deserialize)]
struct Rec<'a> {
    #[serde(borrow, default)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    path_display: Option<Cow<'a, str>>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(borrow, default)]
    member: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    duplicate_of: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    bytes_read: Option<u64>,
    #[serde(borrow, default)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    sha1: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    md5: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    mtime: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    atime: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ctime: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    btime: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rules: Vec<Cow<'a, str>>,
}

impl Rec<'_> {
    /// The records whose content was read.
    fn content_read(&self) -> bool {
        matches!(
            self.status,
            Some(Status::Collected | Status::Changed | Status::Duplicate | Status::KnownGood)
        ) && self.sha256.is_some()
    }

    /// As `PathField::display`: the path, or its lossy rendering when not UTF-8.
    fn display(&self) -> &str {
        self.path
            .as_deref()
            .or(self.path_display.as_deref())
            .unwrap_or_default()
    }

    /// This record with every text it has empty and every number it has 0: what its
    /// nodes are made of besides the record's own values (`Shape`).
    fn blank(&self) -> Rec<'static> {
        let empty = |v: &Option<Cow<'_, str>>| v.as_ref().map(|_| Cow::Borrowed(""));
        Rec {
            path: Some(Cow::Borrowed("")),
            path_display: None,
            status: self.status,
            member: empty(&self.member),
            duplicate_of: empty(&self.duplicate_of),
            size: self.size.map(|_| 0),
            bytes_read: self.bytes_read.map(|_| 0),
            sha256: empty(&self.sha256),
            sha1: empty(&self.sha1),
            md5: empty(&self.md5),
            mtime: empty(&self.mtime),
            atime: empty(&self.atime),
            ctime: empty(&self.ctime),
            btime: empty(&self.btime),
            rules: vec![Cow::Borrowed(""); self.rules.len()],
        }
    }

    /// What this record's own values add to the nodes of its blank (`file_nodes` writes
    /// each once; the path twice, as the file's path and, its last part, its name; of
    /// `member` and `duplicate_of`, the description names the member when there is one).
    fn text_len(&self) -> u64 {
        let path = self.display();
        let named = self.member.as_deref().or(self.duplicate_of.as_deref());
        let texts = [
            Some(path),
            Some(file_name(path)),
            named,
            self.sha256.as_deref(),
            self.sha1.as_deref(),
            self.md5.as_deref(),
            self.mtime.as_deref(),
            self.atime.as_deref(),
            self.ctime.as_deref(),
            self.btime.as_deref(),
        ];
        let digits = |v: Option<u64>| v.map_or(0, |v| u64::from(v.checked_ilog10().unwrap_or(0)));
        texts
            .into_iter()
            .flatten()
            .chain(self.rules.iter().map(|r| r.as_ref()))
            .map(escaped_extra)
            .sum::<u64>()
            + digits(self.size)
            + digits(self.bytes_read)
    }
}

/// Which parts a file's nodes have, besides their lengths: records of one shape give
/// nodes that differ only in the texts and numbers `Rec::text_len` measures.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    status: Option<Status>,
    /// Bits: member, duplicate_of, size, bytes_read, sha256, sha1, md5, mtime, atime,
    /// ctime, btime.
    present: u16,
    rules: usize,
    /// Digits of the file's number (it is in every node's IRI).
    digits: u32,
}

impl Shape {
    fn of(r: &Rec<'_>, n: u64) -> Shape {
        let present = [
            r.member.is_some(),
            r.duplicate_of.is_some(),
            r.size.is_some(),
            r.bytes_read.is_some(),
            r.sha256.is_some(),
            r.sha1.is_some(),
            r.md5.is_some(),
            r.mtime.is_some(),
            r.atime.is_some(),
            r.ctime.is_some(),
            r.btime.is_some(),
        ]
        .iter()
        .enumerate()
        .fold(0u16, |bits, (i, &p)| bits | (u16::from(p) << i));
        Shape {
            status: r.status,
            present,
            rules: r.rules.len(),
            digits: n.checked_ilog10().unwrap_or(0) + 1,
        }
    }

    /// A file number with the digits of this shape's.
    fn number(&self) -> u64 {
        10u64.saturating_pow(self.digits - 1)
    }
}

/// The bytes `s` adds to a JSON document beyond an empty string's `""`: serde_json
/// writes `"` and `\` as two characters, the controls with a short escape (`\b`, `\t`,
/// `\n`, `\f`, `\r`) as two and the other controls as six (`\u00XX`), and every other
/// byte as it is.
fn escaped_extra(s: &str) -> u64 {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

#[derive(Serialize)]
struct Ref<'a> {
    #[serde(rename = "@id")]
    id: &'a str,
}

#[derive(Serialize)]
struct HashNode<'a> {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "types:hashMethod")]
    method: &'static str,
    #[serde(rename = "types:hashValue")]
    value: &'a str,
}

#[derive(Serialize)]
struct FileFacet<'a> {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "observable:fileName")]
    file_name: &'a str,
    #[serde(rename = "observable:filePath")]
    file_path: &'a str,
    #[serde(rename = "observable:isDirectory")]
    is_directory: bool,
    #[serde(
        rename = "observable:sizeInBytes",
        skip_serializing_if = "Option::is_none"
    )]
    size: Option<u64>,
    #[serde(
        rename = "observable:modifiedTime",
        skip_serializing_if = "Option::is_none"
    )]
    mtime: Option<&'a str>,
    #[serde(
        rename = "observable:accessedTime",
        skip_serializing_if = "Option::is_none"
    )]
    atime: Option<&'a str>,
    #[serde(
        rename = "observable:metadataChangeTime",
        skip_serializing_if = "Option::is_none"
    )]
    ctime: Option<&'a str>,
    #[serde(
        rename = "observable:observableCreatedTime",
        skip_serializing_if = "Option::is_none"
    )]
    btime: Option<&'a str>,
}

#[derive(Serialize)]
struct ContentFacet<'a> {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "observable:hash")]
    hash: Vec<HashNode<'a>>,
    #[serde(
        rename = "observable:sizeInBytes",
        skip_serializing_if = "Option::is_none"
    )]
    size: Option<u64>,
}

#[derive(Serialize)]
struct FileNode<'a> {
    #[serde(rename = "@id")]
    id: &'a str,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "core:description")]
    description: String,
    #[serde(rename = "core:hasFacet")]
    facets: (FileFacet<'a>, ContentFacet<'a>),
    #[serde(rename = "core:tag", skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [Cow<'a, str>],
}

#[derive(Serialize)]
struct Relationship<'a> {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "core:source")]
    source: Ref<'a>,
    #[serde(rename = "core:target")]
    target: Ref<'a>,
    #[serde(rename = "core:kindOfRelationship")]
    relationship: &'static str,
    #[serde(rename = "core:isDirectional")]
    directional: bool,
    #[serde(rename = "core:description")]
    description: &'static str,
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The document of one bundle, after the first pass over its files.jsonl: the number
/// of the record that stored each member (a duplicate refers to one that may come later
/// in walk order), how many files it describes, and an upper bound of its length.
pub struct Doc<'a> {
    manifest: &'a Manifest,
    findings: &'a [Finding],
    bundle: Option<BundleFile<'a>>,
    ids: Ids,
    stored: HashMap<String, u64>,
    by_path: HashMap<&'a str, Vec<usize>>,
    bound: u64,
}

/// Write the CASE document. files.jsonl is read twice, from two readers of it: once to
/// number the stored copies, once to write.
pub fn write(
    out: &mut dyn Write,
    manifest: &Manifest,
    files_jsonl_first: impl BufRead,
    files_jsonl_second: impl BufRead,
    findings: &[Finding],
    bundle: Option<BundleFile<'_>>,
) -> io::Result<Written> {
    Doc::prepare(manifest, files_jsonl_first, findings, bundle)?.emit(out, files_jsonl_second)
}

/// Where a duplicate's `Duplicate_Of` points while the document is measured: not known
/// yet, so the longest number there could be (the bound stays a bound).
const UNKNOWN_TARGET: u64 = u64::MAX;

impl<'a> Doc<'a> {
    /// The first pass over files.jsonl.
    pub fn prepare(
        manifest: &'a Manifest,
        files_jsonl_first: impl BufRead,
        findings: &'a [Finding],
        bundle: Option<BundleFile<'a>>,
    ) -> io::Result<Doc<'a>> {
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, f) in findings.iter().enumerate() {
            if let Some(p) = f.path.as_deref() {
                by_path.entry(p).or_default().push(i);
            }
        }
        let mut doc = Doc {
            manifest,
            findings,
            bundle,
            ids: Ids::new(&manifest.bundle_id),
            stored: HashMap::new(),
            by_path,
            bound: 0,
        };
        // Every file's nodes are measured as written (a duplicate's as if its stored copy
        // were found, with the longest number), then the parts before and after them.
        // A file's nodes are the nodes of its shape (which fields it has, how many rules,
        // how many digits its number has) with every text empty and every number 0 —
        // measured once per shape by writing them — plus, for each text, the length its
        // escaped form adds and, for each number, its digits beyond the first; and the
        // annotations of the findings about it, written out. Writing every file's nodes
        // to count them took as long as writing the document.
        let counting = doc.ids.counting();
        let mut counter = Counter(0);
        let mut annotated = vec![false; findings.len()];
        let mut shapes: HashMap<Shape, u64> = HashMap::new();
        let mut n = 0u64;
        let mut failure = None;
        let (_, err) = super::for_each_line(files_jsonl_first, |line| {
            let Ok(r) = serde_json::from_slice::<Rec>(line) else {
                return;
            };
            if !r.content_read() {
                return;
            }
            n += 1;
            if let (Some(m), Some(Status::Collected | Status::Changed)) = (&r.member, r.status) {
                doc.stored.insert(m.to_string(), n);
            }
            let dup = r.duplicate_of.as_ref().map(|_| UNKNOWN_TARGET);
            let shape = Shape::of(&r, n);
            let empty = match shapes.get(&shape) {
                Some(&len) => len,
                None => {
                    let mut c = Counter(0);
                    let mut g = Graph {
                        out: &mut c,
                        first: false,
                    };
                    let blank = r.blank();
                    if let Err(e) =
                        doc.file_nodes(&counting, &mut g, shape.number(), &blank, dup, None)
                    {
                        failure = Some(e);
                        return;
                    }
                    shapes.insert(shape, c.0);
                    c.0
                }
            };
            counter.0 += empty + r.text_len();
            let mut g = Graph {
                out: &mut counter,
                first: false,
            };
            let fid = counting.iri(&format!("file-{n}"));
            if let Err(e) = doc.annotations(&counting, &mut g, r.display(), &fid, &mut annotated) {
                failure = Some(e);
            }
        });
        if let Some(e) = err {
            return Err(io::Error::other(format!("reading files.jsonl: {e}")));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut g = Graph {
            out: &mut counter,
            first: true,
        };
        doc.head(&counting, &mut g)?;
        doc.tail(&counting, &mut g, n, &annotated)?;
        doc.bound = counter.0;
        Ok(doc)
    }

    /// At least the length of the document `emit` writes (the same, but for duplicates
    /// whose stored copy is not in files.jsonl and the length of their targets' numbers).
    pub fn len_bound(&self) -> u64 {
        self.bound
    }

    /// The second pass: write the document.
    pub fn emit(
        &self,
        out: &mut dyn Write,
        files_jsonl_second: impl BufRead,
    ) -> io::Result<Written> {
        let mut out = Counting { inner: out, n: 0 };
        let mut written = Written::default();
        let ids = &self.ids;
        let mut annotated = vec![false; self.findings.len()];
        let mut g = Graph {
            out: &mut out,
            first: true,
        };
        self.head(ids, &mut g)?;
        let mut n = 0u64;
        let mut failure: Option<io::Error> = None;
        let (_, err) = super::for_each_line(files_jsonl_second, |line| {
            if failure.is_some() {
                return;
            }
            let r = match serde_json::from_slice::<Rec>(line) {
                Ok(r) => r,
                Err(_) => {
                    written.unreadable_lines += 1;
                    return;
                }
            };
            if !r.content_read() {
                return;
            }
            n += 1;
            let dup = r
                .duplicate_of
                .as_deref()
                .and_then(|d| self.stored.get(d))
                .copied();
            match self.file_nodes(ids, &mut g, n, &r, dup, Some(&mut annotated)) {
                Ok(()) => written.files += 1,
                Err(e) => failure = Some(e),
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(e) = err {
            return Err(io::Error::other(format!("reading files.jsonl: {e}")));
        }
        self.tail(ids, &mut g, n, &annotated)?;
        written.annotations = self.findings.len() as u64;
        written.bytes = out.n;
        Ok(written)
    }

    /// The nodes of the `n`-th file: the file with its two facets, its `Duplicate_Of`
    /// relationship to the `dup`-th file, and (given where to mark them) the annotations
    /// of the findings about it.
    fn file_nodes(
        &self,
        ids: &Ids,
        g: &mut Graph<'_>,
        n: u64,
        r: &Rec<'_>,
        dup: Option<u64>,
        annotated: Option<&mut [bool]>,
    ) -> io::Result<()> {
        let fid = ids.iri(&format!("file-{n}"));
        let path = r.display();
        let mut hash = Vec::with_capacity(1);
        for (name, lower, value) in [
            ("SHA256", "sha256", &r.sha256),
            ("SHA1", "sha1", &r.sha1),
            ("MD5", "md5", &r.md5),
        ] {
            if let Some(h) = value {
                hash.push(HashNode {
                    id: ids.iri(&format!("file-{n}-hash-{lower}")),
                    kind: "types:Hash",
                    method: name,
                    value: h,
                });
            }
        }
        let status = r.status.map(Status::name).unwrap_or("unknown");
        g.node(&FileNode {
            id: &fid,
            kind: "observable:File",
            description: match (&r.member, &r.duplicate_of) {
                (Some(m), _) => format!("{status}; stored in the bundle as {m}"),
                (None, Some(d)) => format!("{status}; identical content stored as {d}"),
                (None, None) => format!("{status}; content hashed, not stored"),
            },
            facets: (
                FileFacet {
                    id: ids.iri(&format!("file-{n}-file-facet")),
                    kind: "observable:FileFacet",
                    file_name: file_name(path),
                    file_path: path,
                    is_directory: false,
                    size: r.size,
                    mtime: r.mtime.as_deref(),
                    atime: r.atime.as_deref(),
                    ctime: r.ctime.as_deref(),
                    btime: r.btime.as_deref(),
                },
                ContentFacet {
                    id: ids.iri(&format!("file-{n}-content-facet")),
                    kind: "observable:ContentDataFacet",
                    hash,
                    size: r.bytes_read,
                },
            ),
            tags: &r.rules,
        })?;
        if let Some(k) = dup {
            g.node(&Relationship {
                id: ids.iri(&format!("file-{n}-duplicate-of")),
                kind: "observable:ObservableRelationship",
                source: Ref { id: &fid },
                target: Ref {
                    id: &ids.iri(&format!("file-{k}")),
                },
                relationship: "Duplicate_Of",
                directional: true,
                description: "same SHA-256: the content is stored once",
            })?;
        }
        match annotated {
            Some(annotated) => self.annotations(ids, g, path, &fid, annotated),
            None => Ok(()),
        }
    }

    /// The annotations of the findings about `path`, on the file node `fid`.
    fn annotations(
        &self,
        ids: &Ids,
        g: &mut Graph<'_>,
        path: &str,
        fid: &str,
        annotated: &mut [bool],
    ) -> io::Result<()> {
        for &i in self.by_path.get(path).map(Vec::as_slice).unwrap_or(&[]) {
            annotated[i] = true;
            g.node(&annotation(ids, &self.findings[i], i, fid))?;
        }
        Ok(())
    }

    /// `{"@context": …, "@graph": [` and the nodes about the run.
    fn head(&self, ids: &Ids, g: &mut Graph<'_>) -> io::Result<()> {
        g.out.write_all(b"{\"@context\":")?;
        serde_json::to_writer(&mut *g.out, &context(&self.manifest.bundle_id))
            .map_err(io::Error::other)?;
        g.out.write_all(b",\n\"@graph\":[\n")?;
        let manifest = self.manifest;
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
            tool["core:description"] =
                json!(format!("executable {} sha256 {h}", t.executable_path));
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
            "action:startTime": manifest.times.start_utc,
            "action:endTime": manifest.times.end_utc,
            "action:instrument": id(&ids.iri("tool")),
            "action:object": [id(&ids.iri("source"))],
            "action:result": [id(&ids.iri("provenance"))],
        });
        if case.examiner.is_some() {
            action["action:performer"] = id(&ids.iri("examiner"));
        }
        g.node(&action)?;
        Ok(())
    }

    /// The findings not about a file, the bundle file, the files' relationship to the
    /// source and the provenance record (each naming every file, streamed), `]}`.
    fn tail(&self, ids: &Ids, g: &mut Graph<'_>, n: u64, annotated: &[bool]) -> io::Result<()> {
        let manifest = self.manifest;
        for (i, f) in self.findings.iter().enumerate() {
            if !annotated[i] {
                // Live state and findings about files not stored: on the collect action.
                g.node(&annotation(ids, f, i, &ids.iri("action-collect")))?;
            }
        }
        let bundle_ref = self.bundle.is_some().then(|| ids.iri("bundle"));
        if let Some(b) = &self.bundle {
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
                        "types:hashValue": b.sha256,
                    }],
                }],
            }))?;
        }
        let files = || (1..=n).map(|k| ids.iri(&format!("file-{k}")));
        if n > 0 {
            // One relationship for all the files (UCO: "one or more objects are related
            // to another object"), not one node per file.
            let contained = json!({
                "@id": ids.iri("files-in-source"),
                "@type": "observable:ObservableRelationship",
                "core:target": id(&ids.iri("source")),
                "core:kindOfRelationship": "Contained_Within",
                "core:isDirectional": true,
                "core:description": "every file observable of the collection lies in the source",
            });
            g.node_with_references(&contained, "core:source", files())?;
        }
        // Its "core:object" (every file, then the bundle) is streamed.
        let mut provenance = json!({
            "@id": ids.iri("provenance"),
            "@type": "case-investigation:ProvenanceRecord",
            "core:description": format!("fieldkit bundle {}", manifest.bundle_id),
        });
        if let Some(e) = &manifest.case.exhibit {
            provenance["case-investigation:exhibitNumber"] = json!(e);
        }
        g.node_with_references(&provenance, "core:object", files().chain(bundle_ref))?;
        g.out.write_all(b"\n]}\n")
    }
}

/// Stream the document into `consume` as a reader: `emit` runs on a second thread and
/// hands its output over in 256 KiB pieces (at most four in flight), so it is written
/// where `consume` puts it with no copy on disk. An error on either side ends both;
/// returns `consume`'s value and the number of bytes of the document.
pub fn stream<T>(
    doc: &Doc<'_>,
    files_jsonl_second: impl BufRead + Send,
    consume: impl FnOnce(&mut dyn Read) -> anyhow::Result<T>,
) -> anyhow::Result<(T, u64)> {
    const PIECE: usize = 256 << 10;
    struct Sender(std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>);
    impl Write for Sender {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .send(Ok(b.to_vec()))
                .map_err(|_| io::Error::other("the reader of case.jsonld stopped"))?;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    struct Receiver {
        rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
        piece: Vec<u8>,
        at: usize,
        total: u64,
    }
    impl Read for Receiver {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            while self.at == self.piece.len() {
                match self.rx.recv() {
                    Ok(piece) => {
                        self.piece = piece?;
                        self.at = 0;
                    }
                    Err(_) => return Ok(0),
                }
            }
            let k = out.len().min(self.piece.len() - self.at);
            out[..k].copy_from_slice(&self.piece[self.at..self.at + k]);
            self.at += k;
            self.total += k as u64;
            Ok(k)
        }
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    std::thread::scope(|s| {
        let errors = tx.clone();
        let producer = s.spawn(move || {
            let mut w = io::BufWriter::with_capacity(PIECE, Sender(tx));
            let r = doc
                .emit(&mut w, files_jsonl_second)
                .and_then(|written| w.flush().map(|()| written));
            if let Err(e) = &r {
                // The reader must not take a cut-off document for a whole one.
                let _ = errors.send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            drop(errors);
            r
        });
        let mut reader = Receiver {
            rx,
            piece: Vec::new(),
            at: 0,
            total: 0,
        };
        let consumed = consume(&mut reader);
        let total = reader.total;
        drop(reader);
        let produced = producer
            .join()
            .map_err(|_| anyhow::anyhow!("internal error: the case.jsonld writer panicked"))?;
        let value = consumed?;
        let written = produced?;
        anyhow::ensure!(
            written.bytes == total,
            "internal error: case.jsonld: {} bytes written, {total} read",
            written.bytes
        );
        Ok((value, total))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn manifest() -> Manifest {
        let mut m = Manifest {
            bundle_id: "9ec12ce8-8c6e-4e6a-b17c-a17a9b17aaa1".into(),
            ..Manifest::default()
        };
        m.case.exhibit = Some("EX-1".into());
        m
    }

    const A: &str = r#"{"path":"/src/a \"quoted\".txt","status":"collected","member":"files/a.txt","size":3,"bytes_read":3,"sha256":"aa","md5":"bb","mtime":"2026-01-01T00:00:00Z","rules":["r"]}"#;
    const B: &str = r#"{"path_b64":"L3NyYy//","path_display":"/src/\ufffd","status":"collected","member":"files/b","size":1,"bytes_read":1,"sha256":"cc"}"#;
    const SKIPPED: &str = r#"{"path":"/src/fifo","status":"skipped","reason":"fifo"}"#;
    const DUP: &str = r#"{"path":"/src/c.txt","status":"duplicate","duplicate_of":"files/a.txt","size":3,"bytes_read":3,"sha256":"aa"}"#;
    const DANGLING: &str = r#"{"path":"/src/d.txt","status":"duplicate","duplicate_of":"files/gone","size":3,"bytes_read":3,"sha256":"dd"}"#;

    fn emitted(m: &Manifest, jsonl: &str) -> (u64, Vec<u8>, Written) {
        let doc = Doc::prepare(m, jsonl.as_bytes(), &[], None).unwrap();
        let mut out = Vec::new();
        let w = doc.emit(&mut out, jsonl.as_bytes()).unwrap();
        (doc.len_bound(), out, w)
    }

    #[test]
    fn the_bound_is_the_length_without_duplicates_and_above_it_with_them() {
        let m = manifest();
        let plain = records(&[A, SKIPPED, B, "not json"]);
        let (bound, out, w) = emitted(&m, &plain);
        assert_eq!(bound, out.len() as u64);
        assert_eq!(w.bytes, bound);
        assert_eq!((w.files, w.unreadable_lines), (2, 1));
        let dups = records(&[DUP, A, DANGLING, B]);
        let (bound, out, w) = emitted(&m, &dups);
        assert!(bound >= out.len() as u64, "{bound} < {}", out.len());
        assert!(bound - (out.len() as u64) < 1024);
        assert_eq!(w.files, 4);
        let empty = emitted(&m, "");
        assert_eq!(empty.0, empty.1.len() as u64);
    }

    /// The length measured from each record's shape and texts is the length written, on
    /// records of every shape: texts with quotes, backslashes, every control character
    /// and non-ASCII, fields missing in every combination, numbers of 1 to 20 digits,
    /// 0 to 3 rules, findings about some of the paths (their annotations), and enough
    /// records that the file numbers reach three digits.
    #[test]
    fn the_measured_length_is_the_written_length_for_records_of_every_shape() {
        let m = manifest();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const PIECES: [&str; 12] = [
            "a", "\"", "\\", "\u{0}", "\u{1f}", "\n", "\t", "\u{8}", "\u{c}", "é", "😀", "/",
        ];
        let text = |next: &mut dyn FnMut() -> u64| -> String {
            let n = next() % 6;
            (0..n).map(|_| PIECES[(next() % 12) as usize]).collect()
        };
        let statuses = ["collected", "changed", "duplicate", "known_good"];
        let mut lines = Vec::new();
        let mut findings = Vec::new();
        let mut excess = 0u64;
        for i in 0..300u64 {
            let bits = next();
            let mut rec = serde_json::Map::new();
            let path = format!("/src/{}/{}{i}", text(&mut next), text(&mut next));
            rec.insert("path".into(), json!(path));
            // The first ten store the members the duplicates below name.
            let status = if i < 10 {
                "collected"
            } else {
                statuses[(bits % 4) as usize]
            };
            rec.insert("status".into(), json!(status));
            if i < 10 {
                rec.insert("member".into(), json!(format!("files/m{i}")));
            }
            rec.insert("sha256".into(), json!(text(&mut next)));
            let mut opt = |key: &str, bit: u32, v: Value| {
                if bits >> bit & 1 == 1 {
                    rec.insert(key.into(), v);
                }
            };
            if i >= 10 {
                opt("member", 2, json!(format!("files/r/{}", text(&mut next))));
                let target = next() % 10;
                if bits >> 3 & 1 == 1 {
                    // Measured with the longest number a target could have (20 digits).
                    excess += 20 - (target + 1).to_string().len() as u64;
                }
                opt("duplicate_of", 3, json!(format!("files/m{target}")));
            }
            opt("size", 4, json!(next() >> (next() % 64)));
            opt("bytes_read", 5, json!(next() >> (next() % 64)));
            opt("sha1", 6, json!(text(&mut next)));
            opt("md5", 7, json!(text(&mut next)));
            opt("mtime", 8, json!(text(&mut next)));
            opt("atime", 9, json!(text(&mut next)));
            opt("ctime", 10, json!(text(&mut next)));
            opt("btime", 11, json!(text(&mut next)));
            let rules: Vec<String> = (0..bits >> 12 & 3).map(|_| text(&mut next)).collect();
            rec.insert("rules".into(), json!(rules));
            if bits >> 14 & 3 == 0 {
                findings.push(Finding {
                    id: format!("F{:06}", findings.len() + 1),
                    analyzer: "test".into(),
                    kind: "test.kind".into(),
                    severity: crate::finding::Severity::Low,
                    path: Some(path.clone()),
                    member: None,
                    sha256: None,
                    title: format!("about {path}"),
                    evidence: json!({"k": text(&mut next)}),
                });
            }
            lines.push(serde_json::to_string(&rec).unwrap());
        }
        let jsonl: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let doc = Doc::prepare(&m, jsonl.as_bytes(), &findings, None).unwrap();
        let mut out = Vec::new();
        let w = doc.emit(&mut out, jsonl.as_bytes()).unwrap();
        assert_eq!(w.files, 300);
        assert!(w.annotations > 0);
        assert!(excess > 0);
        assert_eq!(doc.len_bound(), out.len() as u64 + excess);
        let graph: Value = serde_json::from_slice(&out).unwrap();
        let relationships = graph["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["core:kindOfRelationship"] == "Duplicate_Of")
            .count();
        assert!(relationships > 0);
    }

    #[test]
    fn times_and_hashes_are_typed_by_the_context_and_files_share_one_relationship() {
        let m = manifest();
        let (_, out, _) = emitted(&m, &records(&[DUP, A, DANGLING]));
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            doc["@context"]["observable:modifiedTime"]["@type"],
            "xsd:dateTime"
        );
        assert_eq!(doc["@context"]["types:hashValue"]["@type"], "xsd:hexBinary");
        let graph = doc["@graph"].as_array().unwrap();
        let of =
            |kind: &str| -> Vec<&Value> { graph.iter().filter(|n| n["@type"] == kind).collect() };
        let files = of("observable:File");
        let a = files
            .iter()
            .find(|f| f["core:hasFacet"][0]["observable:filePath"] == "/src/a \"quoted\".txt")
            .unwrap();
        assert_eq!(
            a["core:hasFacet"][0]["observable:modifiedTime"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            a["core:hasFacet"][1]["observable:hash"][1]["types:hashValue"],
            "bb"
        );
        let rels = of("observable:ObservableRelationship");
        let contained: Vec<_> = rels
            .iter()
            .filter(|r| r["core:kindOfRelationship"] == "Contained_Within")
            .collect();
        assert_eq!(contained.len(), 1);
        // The source folder plus three files; every file in the one relationship.
        assert_eq!(contained[0]["core:source"].as_array().unwrap().len(), 3);
        // The duplicate points at the stored copy (later in walk order); the one whose
        // stored copy is not in files.jsonl has no relationship.
        let dups: Vec<_> = rels
            .iter()
            .filter(|r| r["core:kindOfRelationship"] == "Duplicate_Of")
            .collect();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0]["core:target"]["@id"], a["@id"]);
        let prov = of("case-investigation:ProvenanceRecord");
        assert_eq!(prov[0]["core:object"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn streaming_gives_the_bytes_emit_writes() {
        let m = manifest();
        let jsonl = records(&[A, B, DUP]);
        let (_, direct, _) = emitted(&m, &jsonl);
        let doc = Doc::prepare(&m, jsonl.as_bytes(), &[], None).unwrap();
        let (got, n) = stream(&doc, jsonl.as_bytes(), |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)?;
            Ok(v)
        })
        .unwrap();
        assert_eq!(got, direct);
        assert_eq!(n, direct.len() as u64);
        // A consumer that fails ends the stream with its error.
        let e = stream::<()>(&doc, jsonl.as_bytes(), |r| {
            let mut b = [0u8; 10];
            r.read_exact(&mut b)?;
            anyhow::bail!("disk full")
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}
