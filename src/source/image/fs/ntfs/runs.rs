//! Non-resident attribute values: decoding run lists (mapping pairs) into clusters of
//! the volume, joining the fragments of one attribute that an attribute list spreads over
//! several records, and turning them into a `Layout` of byte extents — holes for sparse
//! runs and for the bytes past the initialized size (the valid data length), which
//! Windows reads as zeros whatever the clusters hold.
//!
//! Owns `decode_runs`, `stream_layout` and `read_extents` (positioned reads through
//! extents, for index blocks and other metadata streams).
//!
//! Must never: decode past the end of the mapping pairs or with a length or offset field
//! wider than 8 bytes, let a VCN or LCN overflow, accept a run outside the volume
//! (`extent_outside_volume`, naming the byte offset of the mapping pair), accept
//! fragments that overlap or leave a gap, or describe compressed or encrypted data as
//! plain extents.

use super::super::{Extent, FsError, Layout};
use super::Ntfs;
use super::record::{ATTR_COMPRESSED, ATTR_ENCRYPTED, Attr, Body, NonResident, bad};
use crate::source::image::media::ReadAt;

/// One run: `clusters` clusters from `vcn`, at `lcn` (or sparse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub vcn: u64,
    pub clusters: u64,
    pub lcn: Option<u64>,
}

/// Decode one fragment's mapping pairs. Every run must lie inside the volume's
/// `total_clusters`.
pub(crate) fn decode_runs(nr: &NonResident, total_clusters: u64) -> Result<Vec<Run>, FsError> {
    let b = &nr.runs;
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut vcn = nr.lowest_vcn;
    let mut lcn: i64 = 0;
    let at = |pos: usize| nr.runs_offset + pos as u64;
    while let Some(&header) = b.get(pos) {
        if header == 0 {
            break;
        }
        let len_bytes = (header & 0x0F) as usize;
        let off_bytes = (header >> 4) as usize;
        if len_bytes == 0 || len_bytes > 8 || off_bytes > 8 {
            return Err(bad(
                "bad_runlist",
                at(pos),
                format!("mapping pair header {header:#04x}: field widths out of range"),
            ));
        }
        let Some(fields) = b.get(pos + 1..pos + 1 + len_bytes + off_bytes) else {
            return Err(bad(
                "bad_runlist",
                at(pos),
                "mapping pair runs past the end of the attribute",
            ));
        };
        let mut clusters = 0u64;
        for (i, &x) in fields[..len_bytes].iter().enumerate() {
            clusters |= u64::from(x) << (8 * i);
        }
        if clusters == 0 || clusters > total_clusters {
            return Err(bad(
                "bad_runlist",
                at(pos),
                format!("run of {clusters} clusters (the volume has {total_clusters})"),
            ));
        }
        let run_lcn = if off_bytes == 0 {
            None
        } else {
            let raw = &fields[len_bytes..];
            let mut delta = 0i64;
            for (i, &x) in raw.iter().enumerate() {
                delta |= i64::from(x) << (8 * i);
            }
            let unused = 64 - 8 * off_bytes as u32;
            if unused > 0 {
                delta = (delta << unused) >> unused;
            }
            lcn = lcn
                .checked_add(delta)
                .ok_or_else(|| bad("bad_runlist", at(pos), "cluster number overflows"))?;
            let start = u64::try_from(lcn).ok().filter(|&l| {
                l.checked_add(clusters)
                    .is_some_and(|end| end <= total_clusters)
            });
            let Some(start) = start else {
                return Err(bad(
                    "extent_outside_volume",
                    at(pos),
                    format!(
                        "run of {clusters} clusters at cluster {lcn} lies outside the volume \
                         ({total_clusters} clusters)"
                    ),
                ));
            };
            Some(start)
        };
        out.push(Run {
            vcn,
            clusters,
            lcn: run_lcn,
        });
        vcn = vcn
            .checked_add(clusters)
            .ok_or_else(|| bad("bad_runlist", at(pos), "VCN overflows"))?;
        pos += 1 + len_bytes + off_bytes;
    }
    Ok(out)
}

/// Positioned read through extents of a stream of `size` bytes (holes read as zeros).
/// Short only at the end of the stream.
pub(crate) fn read_extents(
    volume: &dyn ReadAt,
    extents: &[Extent],
    offset: u64,
    buf: &mut [u8],
) -> Result<usize, FsError> {
    let mut done = 0usize;
    while done < buf.len() {
        let pos = offset + done as u64;
        let Some(e) = extents
            .iter()
            .find(|e| pos >= e.file_offset && pos < e.file_offset + e.len)
        else {
            break;
        };
        let within = pos - e.file_offset;
        let n = ((e.len - within) as usize).min(buf.len() - done);
        match e.volume_offset {
            None => buf[done..done + n].fill(0),
            Some(at) => volume
                .read_exact_at(at + within, &mut buf[done..done + n])
                .map_err(|err| FsError::io(at + within, &err))?,
        }
        done += n;
    }
    Ok(done)
}

fn push(out: &mut Vec<Extent>, file_offset: u64, len: u64, volume_offset: Option<u64>) {
    if len == 0 {
        return;
    }
    if let Some(last) = out.last_mut() {
        let joins = match (last.volume_offset, volume_offset) {
            (None, None) => true,
            (Some(a), Some(b)) => a + last.len == b,
            _ => false,
        };
        if joins && last.file_offset + last.len == file_offset {
            last.len += len;
            return;
        }
    }
    out.push(Extent {
        file_offset,
        len,
        volume_offset,
    });
}

impl Ntfs {
    /// The runs of an attribute's fragments (sorted by VCN, checked to follow each other
    /// without gap or overlap), and the first fragment's header.
    pub(crate) fn fragment_runs<'a>(
        &self,
        frags: &[&'a Attr],
    ) -> Result<(&'a NonResident, u16, Vec<Run>), FsError> {
        let mut nrs: Vec<(&NonResident, &Attr)> = frags
            .iter()
            .filter_map(|a| match &a.body {
                Body::NonResident(n) => Some((n, *a)),
                Body::Resident { .. } => None,
            })
            .collect();
        nrs.sort_by_key(|(n, _)| n.lowest_vcn);
        let Some(&(first, first_attr)) = nrs.first() else {
            return Err(FsError::new(
                "bad_attribute",
                None,
                "no non-resident fragment",
            ));
        };
        if first.lowest_vcn != 0 {
            return Err(bad(
                "bad_attribute_list",
                first_attr.offset,
                format!(
                    "the first fragment of the attribute starts at VCN {}",
                    first.lowest_vcn
                ),
            ));
        }
        let mut runs: Vec<Run> = Vec::new();
        let mut next = 0u64;
        for (n, a) in nrs {
            if n.lowest_vcn != next {
                return Err(bad(
                    "bad_runlist",
                    a.offset,
                    format!(
                        "attribute fragment starts at VCN {} where VCN {next} was expected",
                        n.lowest_vcn
                    ),
                ));
            }
            for r in decode_runs(n, self.total_clusters)? {
                next = r.vcn + r.clusters;
                runs.push(r);
            }
        }
        Ok((first, first_attr.flags, runs))
    }

    /// Byte extents of a non-resident value of `data_size` bytes, of which the first
    /// `initialized` are stored; the rest read as zeros.
    pub(crate) fn runs_to_extents(
        &self,
        runs: &[Run],
        data_size: u64,
        initialized: u64,
        at: u64,
    ) -> Result<Vec<Extent>, FsError> {
        let cs = self.cluster_size;
        let mut out = Vec::new();
        let mut pos = 0u64;
        for r in runs {
            if pos >= data_size {
                break;
            }
            let start = r
                .vcn
                .checked_mul(cs)
                .filter(|&s| s == pos)
                .ok_or_else(|| bad("bad_runlist", at, "runs do not follow each other"))?;
            let len = (r.clusters * cs).min(data_size - start);
            match r.lcn {
                None => push(&mut out, start, len, None),
                Some(lcn) => {
                    let vol = lcn * cs;
                    let stored = initialized.saturating_sub(start).min(len);
                    push(&mut out, start, stored, Some(vol));
                    push(&mut out, start + stored, len - stored, None);
                }
            }
            pos = start + len;
        }
        if pos < data_size {
            return Err(bad(
                "bad_runlist",
                at,
                format!("the runs hold {pos} bytes of a {data_size}-byte value"),
            ));
        }
        Ok(out)
    }

    /// The layout of one attribute value (a `$DATA` stream, an index allocation, an
    /// attribute list) from its fragments: resident bytes (as the record's byte ranges
    /// where a fixup moved two of them), extents, or the reason it is not plain data.
    pub(crate) fn value_layout(&self, frags: &[&Attr]) -> Result<Layout, FsError> {
        let Some(first) = frags.first() else {
            return Err(FsError::new("no_data", None, "no such stream"));
        };
        if let Body::Resident { value, rec_off } = &first.body {
            if first.flags & ATTR_ENCRYPTED != 0 {
                return Ok(Layout::Undecodable {
                    reason: "EFS-encrypted ($EFS): fieldkit cannot decrypt it".into(),
                });
            }
            let len = value.len() as u64;
            return Ok(match first.map.extents(*rec_off, len) {
                Some(ext) if ext.len() <= 1 => Layout::Resident {
                    volume_offset: ext.first().and_then(|e| e.volume_offset),
                    bytes: value.clone(),
                },
                Some(extents) => Layout::Extents { size: len, extents },
                None => Layout::Resident {
                    bytes: value.clone(),
                    volume_offset: None,
                },
            });
        }
        let (head, flags, runs) = self.fragment_runs(frags)?;
        if flags & ATTR_ENCRYPTED != 0 {
            return Ok(Layout::Undecodable {
                reason: "EFS-encrypted ($EFS): fieldkit cannot decrypt it".into(),
            });
        }
        let size = head.data_size;
        if head.initialized_size > size || head.data_size > head.allocated_size {
            return Err(bad(
                "bad_attribute",
                first.offset,
                format!(
                    "sizes out of order: initialized {}, data {}, allocated {}",
                    head.initialized_size, head.data_size, head.allocated_size
                ),
            ));
        }
        // Sparse values carry a compression unit too: only the flag says compressed.
        if flags & ATTR_COMPRESSED != 0 {
            let unit = self
                .cluster_size
                .checked_shl(u32::from(head.compression_unit))
                .unwrap_or(0);
            let alloc: u64 = runs.iter().map(|r| r.clusters * self.cluster_size).sum();
            let extents = self.runs_to_extents(&runs, alloc, alloc, first.offset)?;
            return Ok(Layout::Compressed {
                size,
                unit,
                extents,
            });
        }
        let extents = self.runs_to_extents(&runs, size, head.initialized_size, first.offset)?;
        Ok(Layout::Extents { size, extents })
    }

    /// The whole value of a (small) attribute, at most `limit` bytes.
    pub(crate) fn attribute_bytes(&self, a: &Attr, limit: u64) -> Result<Vec<u8>, FsError> {
        if let Some(v) = a.resident_value() {
            return Ok(v.to_vec());
        }
        let size = a.value_size();
        if size > limit {
            return Err(bad(
                "too_large",
                a.offset,
                format!("attribute {:#x} of {size} bytes (limit {limit})", a.ty),
            ));
        }
        match self.value_layout(&[a])? {
            Layout::Extents { size, extents } => {
                let mut buf = vec![0u8; size as usize];
                let n = read_extents(self.volume.as_ref(), &extents, 0, &mut buf)?;
                buf.truncate(n);
                Ok(buf)
            }
            Layout::Resident { bytes, .. } => Ok(bytes),
            _ => Err(bad(
                "undecodable",
                a.offset,
                format!("attribute {:#x} is compressed or encrypted", a.ty),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nr(runs: &[u8]) -> NonResident {
        NonResident {
            lowest_vcn: 0,
            compression_unit: 0,
            allocated_size: 0,
            data_size: 0,
            initialized_size: 0,
            runs: runs.to_vec(),
            runs_offset: 1000,
        }
    }

    #[test]
    fn runs_decode_with_negative_deltas_and_sparse_runs() {
        // 0x18 clusters at 0x5634, 0x10 sparse, 2 clusters at 0x5634 - 0x34.
        let r = decode_runs(
            &nr(&[0x21, 0x18, 0x34, 0x56, 0x01, 0x10, 0x11, 0x02, 0xCC, 0x00]),
            100_000,
        )
        .unwrap();
        assert_eq!(
            r,
            [
                Run {
                    vcn: 0,
                    clusters: 0x18,
                    lcn: Some(0x5634)
                },
                Run {
                    vcn: 0x18,
                    clusters: 0x10,
                    lcn: None
                },
                Run {
                    vcn: 0x28,
                    clusters: 2,
                    lcn: Some(0x5634 - 0x34)
                },
            ]
        );
    }

    #[test]
    fn a_run_outside_the_volume_or_past_the_attribute_is_an_error_with_its_offset() {
        let e = decode_runs(&nr(&[0x21, 0x10, 0x00, 0x10]), 0x1005).unwrap_err();
        assert_eq!((e.reason, e.offset), ("extent_outside_volume", Some(1000)));
        let e = decode_runs(&nr(&[0x11, 0x01, 0x01, 0x32, 0x05]), 100).unwrap_err();
        assert_eq!((e.reason, e.offset), ("bad_runlist", Some(1003)));
        let e = decode_runs(&nr(&[0x91, 0x01]), 100).unwrap_err();
        assert_eq!(e.reason, "bad_runlist");
    }
}
