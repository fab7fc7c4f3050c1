//! The ZIP container as verify reads it, independently of the `zip` crate: the end
//! records, the raw central directory, each local header compared byte for byte with
//! what fieldkit's writer makes of the recorded values, and the one streaming pass that
//! hashes every member and the whole file at once.
//!
//! Must never trust a size or offset from the archive (checked arithmetic, bounded
//! reads) and never loop on a read error: a damaged input ends in a problem, not a hang.

use super::*;

/// One member as the central directory and its local header describe it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) name: Arc<str>,
    pub(super) name_raw: Vec<u8>,
    pub(super) header_start: u64,
    /// From the local header, once the sequential pass has read it.
    pub(super) data_start: u64,
    pub(super) size: u64,
    pub(super) crc: u32,
    /// `zipwriter::METHOD_STORED` or `METHOD_DEFLATE`, and the bytes the member takes in
    /// the archive (`size` when stored).
    pub(super) method: u16,
    pub(super) csize: u64,
    /// DOS time and date the headers must carry (from the extended timestamp when there
    /// is one), the extended timestamp itself, and which local header forms (without,
    /// with ZIP64 sizes) the central directory record allows.
    pub(super) dos_time: u16,
    pub(super) dos_date: u16,
    pub(super) mtime: Option<i64>,
    pub(super) local_forms: [bool; 2],
    /// Header and data fit before the central directory; a member that cannot is
    /// reported and left out of the sequential pass.
    pub(super) fits: bool,
}

impl Entry {
    /// The writer's description of this member, for rebuilding its headers.
    pub(super) fn header(&self, zip64_local: bool) -> zipwriter::Entry {
        zipwriter::Entry {
            name: self.name_raw.clone(),
            crc: self.crc,
            size: self.size,
            method: self.method,
            csize: self.csize,
            offset: self.header_start,
            dos_time: self.dos_time,
            dos_date: self.dos_date,
            mtime: self.mtime,
            mode: MEMBER_MODE,
            zip64_local,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct MemberDigest {
    pub(super) sha256: [u8; 32],
    pub(super) sha1: Option<[u8; 20]>,
    pub(super) md5: Option<[u8; 16]>,
    pub(super) crc: u32,
    /// A Deflate member: the SHA-256 of its stored bytes, and what is wrong with its
    /// Deflate stream, if anything (then the content digests above mean nothing).
    pub(super) stored_sha256: Option<[u8; 32]>,
    pub(super) inflate_error: Option<String>,
}

impl MemberDigest {
    fn finish(hasher: MultiHasher, crc: crc32fast::Hasher) -> Self {
        let d = hasher.finish();
        MemberDigest {
            sha256: d.sha256,
            sha1: d.sha1,
            md5: d.md5,
            crc: crc.finalize(),
            stored_sha256: None,
            inflate_error: None,
        }
    }
}

/// A Deflate member's data as the pass streams it: every stored byte is hashed and
/// inflated; the content is hashed as it comes out. The stream must end exactly at the
/// member's last stored byte and give exactly its recorded size; it is stopped as soon as
/// it gives more (a crafted stream can inflate a thousandfold: never hashed past the size).
pub(super) struct Inflating {
    d: flate2::Decompress,
    stored: sha2::Sha256,
    out: Vec<u8>,
    ended: bool,
    error: Option<String>,
    size: u64,
}

impl Inflating {
    pub(super) fn new(size: u64) -> Box<Self> {
        use sha2::Digest;
        Box::new(Inflating {
            d: flate2::Decompress::new(false),
            stored: sha2::Sha256::new(),
            out: vec![0u8; 256 << 10],
            ended: false,
            error: None,
            size,
        })
    }

    pub(super) fn feed(
        &mut self,
        mut input: &[u8],
        hasher: &mut MultiHasher,
        crc: &mut crc32fast::Hasher,
    ) {
        use sha2::Digest;
        self.stored.update(input);
        while self.error.is_none() && !input.is_empty() {
            if self.ended {
                self.error = Some(format!(
                    "its Deflate stream ends {} bytes before its stored size",
                    input.len()
                ));
                break;
            }
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let status = self
                .d
                .decompress(input, &mut self.out, flate2::FlushDecompress::None);
            let used = (self.d.total_in() - in0) as usize;
            let made = (self.d.total_out() - out0) as usize;
            if self.d.total_out() > self.size {
                self.error = Some(format!(
                    "its Deflate stream gives more than the {} bytes its headers record",
                    self.size
                ));
                break;
            }
            hasher.update(&self.out[..made]);
            crc.update(&self.out[..made]);
            input = input.get(used..).unwrap_or_default();
            match status {
                Ok(flate2::Status::StreamEnd) => self.ended = true,
                Ok(_) if used == 0 && made == 0 => {
                    self.error = Some("its Deflate stream makes no progress".into())
                }
                Ok(_) => {}
                Err(e) => {
                    self.error = Some(format!(
                        "its Deflate stream is damaged at stored byte {}: {e}",
                        self.d.total_in()
                    ))
                }
            }
        }
    }

    /// Drain what the decoder still holds once every stored byte is in.
    fn finish(
        mut self,
        hasher: &mut MultiHasher,
        crc: &mut crc32fast::Hasher,
        size: u64,
    ) -> ([u8; 32], Option<String>) {
        use sha2::Digest;
        while self.error.is_none() && !self.ended {
            let out0 = self.d.total_out();
            match self
                .d
                .decompress(&[], &mut self.out, flate2::FlushDecompress::Finish)
            {
                Ok(_) if self.d.total_out() > size => {
                    self.error = Some(format!(
                        "its Deflate stream gives more than the {size} bytes its headers record"
                    ));
                }
                Ok(status) => {
                    let made = (self.d.total_out() - out0) as usize;
                    hasher.update(&self.out[..made]);
                    crc.update(&self.out[..made]);
                    if status == flate2::Status::StreamEnd {
                        self.ended = true;
                    } else if made == 0 {
                        self.error =
                            Some("its Deflate stream does not end within its stored size".into());
                    }
                }
                Err(e) => self.error = Some(format!("its Deflate stream is damaged: {e}")),
            }
        }
        if self.error.is_none() && self.d.total_out() != size {
            self.error = Some(format!(
                "its Deflate stream gives {} bytes, not the {size} its headers record",
                self.d.total_out()
            ));
        }
        (self.stored.finalize().into(), self.error)
    }
}

pub(super) const EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
pub(super) const ZIP64_EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
pub(super) const ZIP64_LOCATOR_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
pub(super) const LOCAL_SIG: u32 = 0x0403_4b50;
pub(super) const METADATA_LIMIT: u64 = 1 << 30;
/// Every member is a plain 0644 file (docs/bundle-format.md).
pub(super) const MEMBER_MODE: u32 = 0o100644;

/// What an end-of-central-directory record near the end of the file says.
#[derive(Debug, Clone, Copy)]
pub(super) struct EndRecords {
    /// Offset of the end-of-central-directory record.
    pub(super) eocd: u64,
    /// Where the end records begin: the ZIP64 end record when there is one, else `eocd`.
    pub(super) start: u64,
    pub(super) cd_start: u64,
    pub(super) cd_size: u64,
    /// Bytes after the record: an archive comment or appended data.
    pub(super) trailing: u64,
}

impl EndRecords {
    /// The record describes a central directory lying right before it, at the offsets it
    /// names: the end of *this* archive, not of a ZIP file stored as one of its members
    /// (whose offsets are relative to that file) and not shifted by prepended data.
    pub(super) fn is_own(&self) -> bool {
        self.cd_start.checked_add(self.cd_size) == Some(self.start)
    }
}

pub(super) fn read_at(file: &mut BundleInput, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

pub(super) fn le16(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

pub(super) fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

pub(super) fn le64(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Parse the end record at `eocd` (22 bytes in `rec`), following the ZIP64 locator and
/// end record when its fields are saturated.
pub(super) fn end_records_at(
    file: &mut BundleInput,
    len: u64,
    eocd: u64,
    rec: &[u8],
) -> std::io::Result<Option<EndRecords>> {
    let comment = le16(rec, 20) as u64;
    let Some(trailing) = len.checked_sub(eocd + 22) else {
        return Ok(None);
    };
    if comment > trailing {
        return Ok(None);
    }
    let mut end = EndRecords {
        eocd,
        start: eocd,
        cd_start: le32(rec, 16) as u64,
        cd_size: le32(rec, 12) as u64,
        trailing,
    };
    let saturated =
        le16(rec, 10) == 0xFFFF || end.cd_size == 0xFFFF_FFFF || end.cd_start == 0xFFFF_FFFF;
    if saturated && eocd >= 20 {
        let loc = read_at(file, eocd - 20, 20)?;
        if loc[..4] == ZIP64_LOCATOR_SIG {
            let z64 = le64(&loc, 8);
            // The ZIP64 end record must end exactly where the locator starts.
            if z64.checked_add(56) == Some(eocd - 20) {
                let r = read_at(file, z64, 56)?;
                if r[..4] == ZIP64_EOCD_SIG && le64(&r, 4) == 44 {
                    end.start = z64;
                    end.cd_size = le64(&r, 40);
                    end.cd_start = le64(&r, 48);
                }
            }
        }
    }
    Ok(Some(end))
}

/// The end records of the archive: the last end-of-central-directory record in the final
/// 64 KiB that is the archive's own, else the last one found (which then belongs to
/// something else), or none.
pub(super) fn find_end_records(
    file: &mut BundleInput,
    len: u64,
) -> std::io::Result<Option<EndRecords>> {
    let tail = len.min(65_557);
    let base = len - tail;
    let buf = read_at(file, base, tail as usize)?;
    let mut last = None;
    let Some(highest) = buf.len().checked_sub(22) else {
        return Ok(None);
    };
    for at in (0..=highest).rev() {
        if buf[at..at + 4] != EOCD_SIG {
            continue;
        }
        if let Some(end) = end_records_at(file, len, base + at as u64, &buf[at..at + 22])? {
            if end.is_own() {
                return Ok(Some(end));
            }
            last.get_or_insert(end);
        }
    }
    Ok(last)
}

/// Length of a local header from its first 30 bytes (30 + name + extra), or what is
/// wrong with it.
pub(super) fn local_header_len(h: &[u8], e: &Entry) -> Result<usize, String> {
    let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]) as usize;
    if h[..4] != LOCAL_SIG.to_le_bytes() {
        return Err(format!(
            "no local header signature at offset {}",
            e.header_start
        ));
    }
    Ok(30 + le16(26) + le16(28))
}

/// The stored size and size a complete local header gives (from its ZIP64 field when
/// either is saturated), and whether such a saturated size found its ZIP64 field.
pub(super) fn local_sizes(h: &[u8]) -> (u64, u64, bool) {
    let (mut csize, mut size) = (u64::from(le32(h, 18)), u64::from(le32(h, 22)));
    if csize != 0xFFFF_FFFF && size != 0xFFFF_FFFF {
        return (csize, size, true);
    }
    let extra = &h[(30 + usize::from(le16(h, 26))).min(h.len())..];
    let mut found = false;
    let mut i = 0;
    while i + 4 <= extra.len() {
        let tag = le16(extra, i);
        let len = usize::from(le16(extra, i + 2));
        if tag == 1 && len >= 16 && i + 4 + 16 <= extra.len() {
            size = le64(extra, i + 4);
            csize = le64(extra, i + 12);
            found = true;
        }
        i += 4 + len;
    }
    (csize, size, found)
}

/// Check a complete local header against the central directory entry: `Err` when it
/// contradicts the entry (the member cannot be located or trusted), `Ok(Some(..))` when it
/// agrees on name, CRC and sizes but is not byte for byte the header fieldkit writes.
pub(super) fn check_local_header(h: &[u8], e: &Entry) -> Result<Option<String>, String> {
    let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    if le16(8) != e.method {
        return Err(format!(
            "local header gives compression method {}, the central directory {}",
            le16(8),
            e.method
        ));
    }
    let name_len = le16(26) as usize;
    let name = &h[30..30 + name_len];
    if name != e.name_raw.as_slice() {
        return Err(format!(
            "local header names it {:?}",
            String::from_utf8_lossy(name)
        ));
    }
    if le32(14) != e.crc {
        return Err(format!(
            "local header CRC-32 {:08x} differs from the central directory's {:08x}",
            le32(14),
            e.crc
        ));
    }
    let (csize, usize_, _) = local_sizes(h);
    if csize != e.csize || usize_ != e.size {
        return Err(format!(
            "local header sizes {csize}/{usize_} differ from the central directory's {}/{}",
            e.csize, e.size
        ));
    }
    // Byte for byte what the writer puts there, given the central directory's record.
    // When the record itself is not the writer's (reported on its own), either form.
    let any = e.local_forms == [false, false];
    let forms = [false, true]
        .into_iter()
        .filter(|z| any || e.local_forms[*z as usize])
        .map(|z| zipwriter::local_header_bytes(&e.header(z)));
    let mut first_difference = None;
    for want in forms {
        match first_difference_at(h, &want) {
            None => return Ok(None),
            Some(i) => first_difference = first_difference.max(Some(i)),
        }
    }
    Ok(Some(format!(
        "its local header is not the one fieldkit writes for its central directory record \
         (differs in its {})",
        local_field_name(first_difference.unwrap_or(0))
    )))
}

/// Index of the first byte where `a` and `b` differ (a length difference counts).
pub(super) fn first_difference_at(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

pub(super) fn local_field_name(i: usize) -> &'static str {
    match i {
        0..4 => "signature",
        4..6 => "version needed",
        6..8 => "flags",
        8..10 => "method",
        10..12 => "DOS time",
        12..14 => "DOS date",
        14..18 => "CRC-32",
        18..22 => "compressed size",
        22..26 => "size",
        26..28 => "name length",
        28..30 => "extra field length",
        _ => "name or extra fields (sizes, extended timestamp)",
    }
}

pub(super) fn central_field_name(i: usize) -> &'static str {
    match i {
        0..4 => "signature",
        4..6 => "version made by",
        6..8 => "version needed",
        8..10 => "flags",
        10..12 => "method",
        12..14 => "DOS time",
        14..16 => "DOS date",
        16..20 => "CRC-32",
        20..24 => "compressed size",
        24..28 => "size",
        28..30 => "name length",
        30..32 => "extra field length",
        32..34 => "comment length",
        34..36 => "disk number",
        36..38 => "internal attributes",
        38..42 => "external attributes (mode)",
        42..46 => "local header offset",
        _ => "name, extra fields (ZIP64, extended timestamp) or comment",
    }
}

/// One central directory record as written, read by our own parser (the `zip` crate's
/// index keeps one entry per name, hiding duplicates, and reads each local header when
/// asked for an entry, which would mean one random read per member).
#[derive(Debug, Clone)]
pub(super) struct CdRecord {
    pub(super) name_raw: Vec<u8>,
    pub(super) method: u16,
    pub(super) crc: u32,
    pub(super) csize: u64,
    pub(super) size: u64,
    pub(super) header_start: u64,
    pub(super) dos_time: u16,
    pub(super) dos_date: u16,
    pub(super) mtime: Option<i64>,
    /// Which local header forms (without, with ZIP64 sizes) this record is exactly the
    /// writer's record for; neither means the record itself was altered.
    pub(super) local_forms: [bool; 2],
    /// Where the record differs from the writer's, when it does.
    pub(super) noncanonical: Option<&'static str>,
}

/// The central directory from `cd_start`; returns its records and where it ends.
pub(super) fn read_central_directory(
    file: &mut BundleInput,
    cd_start: u64,
) -> std::io::Result<(Vec<CdRecord>, u64)> {
    let mut out = Vec::new();
    let mut pos = cd_start;
    file.seek(SeekFrom::Start(cd_start))?;
    let mut reader = BufReader::with_capacity(1 << 20, &mut *file);
    loop {
        let mut h = [0u8; 46];
        if reader.read_exact(&mut h).is_err() || h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Ok((out, pos));
        }
        let (n, m, k) = (
            le16(&h, 28) as usize,
            le16(&h, 30) as usize,
            le16(&h, 32) as usize,
        );
        let mut raw = Vec::with_capacity(46 + n + m + k);
        raw.extend_from_slice(&h);
        raw.resize(46 + n + m + k, 0);
        reader.read_exact(&mut raw[46..])?;
        pos += raw.len() as u64;
        let name_raw = raw[46..46 + n].to_vec();
        let extra = &raw[46 + n..46 + n + m];
        let mut rec = CdRecord {
            name_raw,
            method: le16(&h, 10),
            crc: le32(&h, 16),
            csize: le32(&h, 20) as u64,
            size: le32(&h, 24) as u64,
            header_start: le32(&h, 42) as u64,
            dos_time: le16(&h, 12),
            dos_date: le16(&h, 14),
            mtime: None,
            local_forms: [false; 2],
            noncanonical: None,
        };
        // ZIP64 extended information (only the fields saturated above, in this order) and
        // the extended timestamp.
        let mut i = 0;
        while i + 4 <= extra.len() {
            let tag = le16(extra, i);
            let len = le16(extra, i + 2) as usize;
            let body = &extra[i + 4..(i + 4 + len).min(extra.len())];
            if tag == 1 {
                let mut vals = body.chunks_exact(8).map(|c| le64(c, 0));
                if rec.size == 0xFFFF_FFFF {
                    rec.size = vals.next().unwrap_or(rec.size);
                }
                if rec.csize == 0xFFFF_FFFF {
                    rec.csize = vals.next().unwrap_or(rec.csize);
                }
                if rec.header_start == 0xFFFF_FFFF {
                    rec.header_start = vals.next().unwrap_or(rec.header_start);
                }
            } else if tag == 0x5455 && body.len() == 5 && body[0] == 1 {
                rec.mtime = Some(le32(body, 1) as i32 as i64);
            }
            i += 4 + len;
        }
        if rec.mtime.is_some() {
            // The DOS fields hold the same instant (UTC): derived, not free.
            (rec.dos_time, rec.dos_date) = zipwriter::dos_datetime(rec.mtime);
        }
        let mut furthest = 0;
        for (z, form) in rec.local_forms.iter_mut().enumerate() {
            let want = zipwriter::central_record_bytes(&zipwriter::Entry {
                name: rec.name_raw.clone(),
                crc: rec.crc,
                size: rec.size,
                method: rec.method,
                csize: rec.csize,
                offset: rec.header_start,
                dos_time: rec.dos_time,
                dos_date: rec.dos_date,
                mtime: rec.mtime,
                mode: MEMBER_MODE,
                zip64_local: z == 1,
            });
            match first_difference_at(&raw, &want) {
                None => *form = true,
                Some(d) => furthest = furthest.max(d),
            }
        }
        if rec.local_forms == [false, false] {
            rec.noncanonical = Some(central_field_name(furthest));
        }
        out.push(rec);
    }
}

/// Parse SHA256SUMS into (name, digest) in file order.
pub(super) fn parse_sums(text: &str) -> Result<Vec<(String, [u8; 32])>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parsed = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .and_then(|(h, name)| {
                crate::hashing::parse_hex::<32>(h).map(|d| (name.to_string(), d))
            });
        match parsed {
            Some(p) => out.push(p),
            None => return Err(format!("line {} is not `<sha256>  <name>`", n + 1)),
        }
    }
    Ok(out)
}

pub(super) fn read_member(
    archive: &mut zip::ZipArchive<BufReader<BundleInput>>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let f = archive
        .by_name(name)
        .map_err(|e| format!("cannot open member {name}: {e}"))?;
    let mut buf = Vec::new();
    f.take(METADATA_LIMIT)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read member {name}: {e}"))?;
    Ok(buf)
}

/// What the sequential pass found for one member.
#[derive(Debug, Clone, Default)]
pub(super) struct MemberPass {
    /// Data offset from the local header, or what is wrong with the header.
    pub(super) local: Option<Result<u64, String>>,
    /// How a usable local header differs from the one fieldkit writes.
    pub(super) altered: Option<String>,
    pub(super) digest: MemberDigest,
}

pub(super) enum PassState {
    Seeking,
    Header(Vec<u8>),
    Data {
        left: u64,
        hasher: Box<MultiHasher>,
        crc: crc32fast::Hasher,
        inflating: Option<Box<Inflating>>,
    },
}

pub(super) fn finish_data(
    mut hasher: Box<MultiHasher>,
    mut crc: crc32fast::Hasher,
    inflating: Option<Box<Inflating>>,
    size: u64,
) -> MemberDigest {
    let inflated = inflating.map(|i| i.finish(&mut hasher, &mut crc, size));
    let mut d = MemberDigest::finish(*hasher, crc);
    if let Some((stored, error)) = inflated {
        d.stored_sha256 = Some(stored);
        d.inflate_error = error;
    }
    d
}

/// Parse local headers and hash every member in file order as the chunks stream past
/// (the chunks start at offset `start`).
pub(super) fn member_pass(
    rx: std::sync::mpsc::Receiver<Arc<Vec<u8>>>,
    entries: &[Entry],
    algs: AlgSet,
    start: u64,
) -> Vec<MemberPass> {
    let mut out = vec![MemberPass::default(); entries.len()];
    let mut idx = 0usize;
    let mut state = PassState::Seeking;
    let mut pos = start;
    for chunk in rx {
        let mut off = 0usize;
        while off < chunk.len() && idx < entries.len() {
            let e = &entries[idx];
            let abs = pos + off as u64;
            let rem = chunk.len() - off;
            match &mut state {
                PassState::Seeking => {
                    if abs < e.header_start {
                        off += (e.header_start - abs).min(rem as u64) as usize;
                    } else if abs > e.header_start {
                        out[idx].local = Some(Err(format!(
                            "its local header at offset {} lies inside the previous member",
                            e.header_start
                        )));
                        idx += 1;
                    } else {
                        state = PassState::Header(Vec::with_capacity(64));
                    }
                }
                PassState::Header(buf) => {
                    let need = if buf.len() < 30 {
                        30
                    } else {
                        match local_header_len(buf, e) {
                            Ok(n) => n,
                            Err(msg) => {
                                out[idx].local = Some(Err(msg));
                                idx += 1;
                                state = PassState::Seeking;
                                continue;
                            }
                        }
                    };
                    let take = (need - buf.len()).min(rem);
                    buf.extend_from_slice(&chunk[off..off + take]);
                    off += take;
                    let complete = buf.len() >= 30
                        && matches!(local_header_len(buf, e), Ok(n) if n == buf.len());
                    if complete {
                        match check_local_header(buf, e) {
                            Ok(altered) => {
                                out[idx].altered = altered;
                                out[idx].local = Some(Ok(e.header_start + need as u64));
                                state = PassState::Data {
                                    left: e.csize,
                                    hasher: Box::new(MultiHasher::new(algs)),
                                    crc: crc32fast::Hasher::new(),
                                    inflating: (e.method == zipwriter::METHOD_DEFLATE)
                                        .then(|| Inflating::new(e.size)),
                                };
                            }
                            Err(msg) => {
                                out[idx].local = Some(Err(msg));
                                idx += 1;
                                state = PassState::Seeking;
                            }
                        }
                    }
                }
                PassState::Data {
                    left,
                    hasher,
                    crc,
                    inflating,
                } => {
                    let take = (*left).min(rem as u64) as usize;
                    let data = &chunk[off..off + take];
                    match inflating {
                        Some(i) => i.feed(data, hasher, crc),
                        None => {
                            hasher.update(data);
                            crc.update(data);
                        }
                    }
                    *left -= take as u64;
                    off += take;
                }
            }
            if let PassState::Data { left: 0, .. } = state
                && let PassState::Data {
                    hasher,
                    crc,
                    inflating,
                    ..
                } = std::mem::replace(&mut state, PassState::Seeking)
            {
                out[idx].digest = finish_data(hasher, crc, inflating, e.size);
                idx += 1;
            }
        }
        pos += chunk.len() as u64;
    }
    // An empty last member completes without further bytes.
    if let PassState::Data {
        left: 0,
        hasher,
        crc,
        inflating,
    } = state
        && idx < entries.len()
    {
        out[idx].digest = finish_data(hasher, crc, inflating, entries[idx].size);
    }
    for m in &mut out {
        if m.local.is_none() {
            m.local = Some(Err("the file ends before this member".into()));
        }
    }
    out
}

/// One sequential read of the file from `start` (0, or where the early read-back of
/// verify-after-write stopped, `early`), overlapping I/O with hashing: this thread reads,
/// one thread hashes the whole file (continuing `whole`, the state of the hash of the
/// bytes before `start`), one parses local headers and hashes members.
pub(super) fn stream_pass(
    file: &mut BundleInput,
    len: u64,
    entries: &[Entry],
    algs: AlgSet,
    start: u64,
    whole: sha2::Sha256,
) -> std::io::Result<([u8; 32], Vec<MemberPass>)> {
    use sha2::Digest;
    const CHUNK: usize = 4 << 20;
    file.seek(SeekFrom::Start(start))?;
    let (whole_tx, whole_rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
    let (member_tx, member_rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
    std::thread::scope(|scope| {
        let whole = scope.spawn(move || {
            let mut h = whole;
            for chunk in whole_rx {
                h.update(&chunk[..]);
            }
            <[u8; 32]>::from(h.finalize())
        });
        let members = scope.spawn(move || member_pass(member_rx, entries, algs, start));
        let mut pos = start;
        let mut result = Ok(());
        while pos < len {
            let want = (CHUNK as u64).min(len - pos) as usize;
            let mut buf = vec![0u8; want];
            if let Err(e) = file.read_exact(&mut buf) {
                result = Err(e);
                break;
            }
            let chunk = Arc::new(buf);
            if whole_tx.send(chunk.clone()).is_err() || member_tx.send(chunk).is_err() {
                break;
            }
            pos += want as u64;
        }
        drop(whole_tx);
        drop(member_tx);
        let whole = whole.join();
        let members = members.join();
        match (result, whole, members) {
            (Ok(()), Ok(w), Ok(m)) => Ok((w, m)),
            (Err(e), _, _) => Err(e),
            _ => Err(std::io::Error::other("a hashing thread failed")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn inflate(stored: &[u8], size: u64) -> (u64, Option<String>) {
        let mut i = Inflating::new(size);
        let mut h = MultiHasher::new(AlgSet::default());
        let mut crc = crc32fast::Hasher::new();
        for part in stored.chunks(4096) {
            i.feed(part, &mut h, &mut crc);
        }
        let (_, err) = i.finish(&mut h, &mut crc, size);
        (h.bytes(), err)
    }

    #[test]
    fn a_stream_that_inflates_past_its_size_is_stopped_not_hashed_on() {
        // 64 MiB of zeros in ~64 KiB: a member claiming 1,000 bytes.
        let bomb = deflated(&vec![0u8; 64 << 20]);
        let (hashed, err) = inflate(&bomb, 1000);
        assert!(hashed <= 1000 + (256 << 10) as u64, "{hashed}");
        assert_eq!(
            err.as_deref(),
            Some("its Deflate stream gives more than the 1000 bytes its headers record")
        );
        // The honest size passes; a trailing byte does not.
        let small = deflated(b"evidence, evidence, evidence");
        assert_eq!(inflate(&small, 28), (28, None));
        let mut longer = small.clone();
        longer.push(0);
        assert!(
            inflate(&longer, 28)
                .1
                .unwrap()
                .contains("ends 1 bytes before")
        );
    }
}
