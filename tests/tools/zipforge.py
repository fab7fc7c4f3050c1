#!/usr/bin/env python3
"""A forger's workbench for fieldkit bundles: every structural change a forger with a ZIP
library could make while keeping the archive consistent (CRCs, sizes, offsets, counts and
the end records rebuilt around the change), so that only the change itself is there to
be found. Python's zipfile reads the members (an implementation independent of
fieldkit's); the archive is parsed into a model of every header field and serialized
again by this script's own writer, which rebuilds an unmutated bundle byte for byte (the
`identity` output: proof that a rejection below comes from the mutation and not from a
sloppy rebuild).

usage:
  zipforge.py mutate BUNDLE OUTDIR    write OUTDIR/identity.zip and one OUTDIR/NNNN.zip per
                                      mutation; print [{"file", "label"}, ...] as JSON
  zipforge.py armour SIG OUTDIR       write the armour variants of an SSHSIG file (the
                                      canonical one first, as OUTDIR/NN.sig); print
                                      [{"file", "label"}, ...] as JSON
  zipforge.py set-sig BUNDLE SIG OUT  rebuild BUNDLE with SIG as its SHA256SUMS.sig
"""
import base64, copy, json, os, struct, sys, time, zipfile, zlib

LOCAL_SIG, CENTRAL_SIG = 0x04034B50, 0x02014B50
EOCD_SIG, Z64_EOCD_SIG, Z64_LOC_SIG = 0x06054B50, 0x06064B50, 0x07064B50
SUMS_SIG = "SHA256SUMS.sig"


class Member:
    pass


class Archive:
    pass


def extra_fields(extra):
    """[(tag, body)] of an extra field block."""
    out, i = [], 0
    while i + 4 <= len(extra):
        tag, n = struct.unpack("<HH", extra[i:i + 4])
        out.append((tag, extra[i + 4:i + 4 + n]))
        i += 4 + n
    return out


def join_extra(fields):
    return b"".join(struct.pack("<HH", t, len(b)) + b for t, b in fields)


def ext_time(extra):
    for tag, body in extra_fields(extra):
        if tag == 0x5455 and len(body) == 5 and body[0] == 1:
            return struct.unpack("<i", body[1:5])[0]
    return None


def with_ext_time(extra, t):
    """The extra block with its extended timestamp set to `t` (removed when None)."""
    fields = [(tag, b) for tag, b in extra_fields(extra) if tag != 0x5455]
    if t is not None:
        fields.append((0x5455, struct.pack("<Bi", 1, t)))
    return join_extra(fields)


def dos_datetime(t):
    if t is None:
        return 0, (1 << 5) | 1
    tm = time.gmtime(t)
    if tm.tm_year < 1980:
        return 0, (1 << 5) | 1
    return ((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec // 2),
            ((min(tm.tm_year, 2107) - 1980) << 9) | (tm.tm_mon << 5) | tm.tm_mday)


def parse(path):
    """The archive as a model of every header field (small archives: no ZIP64 records)."""
    data = open(path, "rb").read()
    a = Archive()
    eocd = len(data) - 22
    (sig, a.disk, a.cd_disk, n_disk, n_total, cd_size, cd_start,
     clen) = struct.unpack("<IHHHHIIH", data[eocd:eocd + 22])
    assert sig == EOCD_SIG and clen == 0, "an end record without comment ends the file"
    a.n_disk_delta = n_disk - n_total
    a.comment, a.trailing, a.prefix, a.pad_before_cd = b"", b"", b"", b""
    a.shift_offsets = True
    a.zip64 = None
    a.count_override = None
    a.cd_size_delta = 0
    a.extra_records = b""
    with zipfile.ZipFile(path) as z:
        contents = {i.filename: z.read(i.filename) for i in z.infolist()}
    a.members, pos = [], cd_start
    while data[pos:pos + 4] == b"PK\x01\x02":
        m = Member()
        (_, m.made_by, m.c_need, m.c_flags, m.c_method, m.c_time, m.c_date, m.c_crc,
         csize, usize, n, e, k, m.disk, m.iattr, m.eattr,
         off) = struct.unpack("<IHHHHHHIIIHHHHHII", data[pos:pos + 46])
        m.name = data[pos + 46:pos + 46 + n]
        m.c_name = m.name
        m.c_extra = data[pos + 46 + n:pos + 46 + n + e]
        m.comment = data[pos + 46 + n + e:pos + 46 + n + e + k]
        pos += 46 + n + e + k
        (_, m.l_need, m.l_flags, m.l_method, m.l_time, m.l_date, m.l_crc, lcs, lus, ln,
         le) = struct.unpack("<IHHHHHIIIHH", data[off:off + 30])
        m.l_name = data[off + 30:off + 30 + ln]
        m.l_extra = data[off + 30 + ln:off + 30 + ln + le]
        m.data = contents[m.name.decode()]
        # The bytes the archive holds: the content itself, or its Deflate stream.
        m.stored = data[off + 30 + ln + le:off + 30 + ln + le + csize]
        m.l_crc = m.c_crc = None  # None: the CRC-32 of the data
        m.l_sizes = m.c_sizes = None  # None: the real sizes; else (csize, usize) as written
        m.descriptor = b""
        m.pad_before = b""
        m.offset_override = None
        a.members.append(m)
    a.cd_order = list(range(len(a.members)))
    return a


def serialize(a):
    out = bytearray(a.prefix)
    base = 0 if a.shift_offsets else len(a.prefix)
    offsets = []
    for m in a.members:
        out += m.pad_before
        offsets.append(len(out) - base)
        crc_l = m.l_crc if m.l_crc is not None else zlib.crc32(m.data)
        cs, us = m.l_sizes or (len(m.stored), len(m.data))
        out += struct.pack("<IHHHHHIIIHH", LOCAL_SIG, m.l_need, m.l_flags, m.l_method,
                           m.l_time, m.l_date, crc_l, cs, us, len(m.l_name),
                           len(m.l_extra))
        out += m.l_name + m.l_extra + m.stored + m.descriptor
    out += a.pad_before_cd
    cd_start = len(out) - base
    for i in a.cd_order:
        m = a.members[i]
        crc_c = m.c_crc if m.c_crc is not None else zlib.crc32(m.data)
        cs, us = m.c_sizes or (len(m.stored), len(m.data))
        off = m.offset_override if m.offset_override is not None else offsets[i]
        out += struct.pack("<IHHHHHHIIIHHHHHII", CENTRAL_SIG, m.made_by, m.c_need,
                           m.c_flags, m.c_method, m.c_time, m.c_date, crc_c, cs, us,
                           len(m.c_name), len(m.c_extra), len(m.comment), m.disk, m.iattr,
                           m.eattr, off)
        out += m.c_name + m.c_extra + m.comment
    out += a.extra_records
    cd_end = len(out) - base
    count = len(a.cd_order) if a.count_override is None else a.count_override
    cd_size = cd_end - cd_start + a.cd_size_delta
    small = (count, cd_size, cd_start)
    if a.zip64 is not None:
        z = a.zip64
        z64_at = len(out) - base
        out += struct.pack("<IQHHIIQQQQ", Z64_EOCD_SIG, 44 + len(z["ext"]), z["made_by"],
                           z["need"], z["disk"], z["cd_disk"], count, count, cd_size,
                           cd_start) + z["ext"]
        out += struct.pack("<IIQI", Z64_LOC_SIG, z["loc_disk"], z64_at, z["loc_total"])
        if z["saturate"]:
            small = (0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    out += struct.pack("<IHHHHIIH", EOCD_SIG, a.disk, a.cd_disk,
                       (small[0] + a.n_disk_delta) & 0xFFFF, small[0] & 0xFFFF, small[1],
                       small[2], len(a.comment))
    out += a.comment + a.trailing
    return bytes(out)


# --- mutations -------------------------------------------------------------------------

def set_both(m, **kw):
    for k, v in kw.items():
        setattr(m, "l_" + k, v)
        setattr(m, "c_" + k, v)


def retime(m, t, dos=True):
    """Both headers carry extended timestamp `t` (None: removed); DOS fields follow."""
    m.l_extra = with_ext_time(m.l_extra, t)
    m.c_extra = with_ext_time(m.c_extra, t)
    if dos:
        set_both(m, **dict(zip(("time", "date"), dos_datetime(t))))


def shift_time(delta):
    def f(a, m):
        t = ext_time(m.c_extra)
        retime(m, (t or 0) + delta)
    return f


def dos_step(field, step):
    def f(a, m):
        v = getattr(m, "c_" + field)
        set_both(m, **{field: (v + step) & 0xFFFF})
    return f


def zip64_local(a, m):
    """The form fieldkit uses for a member expected to reach 2 GiB, on a small member."""
    z = struct.pack("<HHQQ", 1, 16, len(m.data), len(m.stored))
    m.l_extra = z + m.l_extra
    m.l_sizes = (0xFFFFFFFF, 0xFFFFFFFF)
    set_both(m, need=45)


def zip64_central(a, m):
    m.c_extra = struct.pack("<HHQQ", 1, 16, len(m.data), len(m.stored)) + m.c_extra
    m.c_sizes = (0xFFFFFFFF, 0xFFFFFFFF)
    m.c_need = 45


def zip64_both(a, m):
    zip64_local(a, m)
    zip64_central(a, m)


def deflate(a, m):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    m.stored = c.compress(m.data) + c.flush()
    set_both(m, method=8)


def descriptor(with_sig, flag):
    def f(a, m):
        crc = zlib.crc32(m.data)
        m.descriptor = (struct.pack("<I", 0x08074B50) if with_sig else b"") + \
            struct.pack("<III", crc, len(m.stored), len(m.data))
        if flag:
            set_both(m, flags=m.c_flags | 0x0008)
    return f


def descriptor_zeroed(a, m):
    """A streaming writer's form: flag bit 3, zeros in the local header, descriptor after."""
    descriptor(True, True)(a, m)
    m.l_crc, m.l_sizes = 0, (0, 0)


def add_extra(tag, body, local=True, central=True):
    def f(a, m):
        if local:
            m.l_extra += struct.pack("<HH", tag, len(body)) + body
        if central:
            m.c_extra += struct.pack("<HH", tag, len(body)) + body
    return f


def info_zip_times(a, m):
    """Info-ZIP's own form: mtime, atime, ctime in the local field, mtime centrally."""
    t = ext_time(m.c_extra) or 0
    fields = [(tag, b) for tag, b in extra_fields(m.l_extra) if tag != 0x5455]
    fields.append((0x5455, struct.pack("<Biii", 7, t, t, t)))
    m.l_extra = join_extra(fields)
    fields = [(tag, b) for tag, b in extra_fields(m.c_extra) if tag != 0x5455]
    fields.append((0x5455, struct.pack("<Bi", 7, t)))
    m.c_extra = join_extra(fields)


def ext_flags(flags):
    def f(a, m):
        t = ext_time(m.c_extra) or 0
        for side in ("l_extra", "c_extra"):
            fields = [(tag, b) for tag, b in extra_fields(getattr(m, side)) if tag != 0x5455]
            fields.append((0x5455, struct.pack("<Bi", flags, t)))
            setattr(m, side, join_extra(fields))
    return f


def ext_first(a, m):
    """The same fields, the extended timestamp first (order of extra fields)."""
    for side in ("l_extra", "c_extra"):
        fields = extra_fields(getattr(m, side))
        setattr(m, side, join_extra(sorted(fields, key=lambda f: f[0] != 0x5455)))
    zip64_both(a, m)
    for side in ("l_extra", "c_extra"):
        fields = extra_fields(getattr(m, side))
        setattr(m, side, join_extra(sorted(fields, key=lambda f: f[0] != 0x5455)))


def set_field(side, field, value):
    def f(a, m):
        if side in ("l", "both"):
            setattr(m, "l_" + field, value(getattr(m, "l_" + field)))
        if side in ("c", "both"):
            setattr(m, "c_" + field, value(getattr(m, "c_" + field)))
    return f


def set_attr(field, value):
    def f(a, m):
        setattr(m, field, value)
    return f


def padding_before(data):
    def f(a, m):
        m.pad_before = data
    return f


def append_byte(a, m):
    m.data = m.data + b"\n"
    if m.l_method == 8:
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        m.stored = c.compress(m.data) + c.flush()
    else:
        m.stored = m.data


def crc_both(a, m):
    m.l_crc = m.c_crc = zlib.crc32(m.data) ^ 1


def rename(new):
    def f(a, m):
        m.l_name = m.c_name = new(m.name)
    return f


def shadow_copy(a, m):
    """A second copy of the member (header and data) right before it, the central record
    pointing at the copy: the original becomes bytes nobody reads."""
    i = a.members.index(m)
    dup = copy.copy(m)
    a.members.insert(i, dup)
    a.cd_order = [j if j < i else j + 1 for j in a.cd_order]
    a.cd_order[a.cd_order.index(i + 1)] = i


def hidden_member(payload):
    def f(a, m):
        """A local header and data no central record names, before the member."""
        i = a.members.index(m)
        h = copy.copy(m)
        h.l_name = h.c_name = h.name = b"hidden.bin"
        h.data = h.stored = payload
        a.members.insert(i, h)
        a.cd_order = [j if j < i else j + 1 for j in a.cd_order]
    return f


MEMBER_MUTATIONS = [
    # Times: DOS fields, the extended timestamp, both shifted consistently, or removed.
    ("dos time +2 s (both headers)", dos_step("time", 1)),
    ("dos time +1 h (both headers)", dos_step("time", 1 << 11)),
    ("dos date +1 day (both headers)", dos_step("date", 1)),
    ("dos date +1 year (both headers)", dos_step("date", 1 << 9)),
    ("dos time and date zero (both)", lambda a, m: set_both(m, time=0, date=0)),
    ("mtime +1 s, dos recomputed (both)", shift_time(1)),
    ("mtime +2 s, dos recomputed (both)", shift_time(2)),
    ("mtime -1 h, dos recomputed (both)", shift_time(-3600)),
    ("mtime +1 day, dos recomputed (both)", shift_time(86400)),
    ("mtime -1 year, dos recomputed (both)", shift_time(-365 * 86400)),
    ("mtime set to 2020-01-01, dos recomputed", lambda a, m: retime(m, 1577836800)),
    ("mtime set to 0 (1970), dos 1980", lambda a, m: retime(m, 0)),
    ("mtime set to -1 (before 1970)", lambda a, m: retime(m, -1)),
    ("extended timestamp removed, dos kept", lambda a, m: retime(m, None, dos=False)),
    ("extended timestamp removed, dos 1980-01-01", lambda a, m: retime(m, None)),
    ("extended timestamp removed from local header only",
     lambda a, m: setattr(m, "l_extra", with_ext_time(m.l_extra, None))),
    ("extended timestamp removed from central record only",
     lambda a, m: setattr(m, "c_extra", with_ext_time(m.c_extra, None))),
    ("mtime +60 s in local header only",
     lambda a, m: setattr(m, "l_extra", with_ext_time(m.l_extra, (ext_time(m.l_extra) or 0) + 60))),
    ("Info-ZIP extended timestamp (flags 7, atime and ctime)", info_zip_times),
    ("extended timestamp flags 3", ext_flags(3)),
    ("extended timestamp flags 0", ext_flags(0)),
    # Version made by / needed, flags, method.
    ("version made by 0x0314 (Unix 2.0)", set_attr("made_by", 0x0314)),
    ("version made by 0x002D (MS-DOS 4.5)", set_attr("made_by", 0x002D)),
    ("version made by 0x0A2D (NTFS 4.5)", set_attr("made_by", 0x0A2D)),
    ("version made by 0x033F (Unix 6.3)", set_attr("made_by", 0x033F)),
    ("version needed 10 (both)", set_field("both", "need", lambda v: 10)),
    ("version needed 45 (both)", set_field("both", "need", lambda v: 45)),
    ("version needed 63 (local)", set_field("l", "need", lambda v: 63)),
    ("version needed 45 (central)", set_field("c", "need", lambda v: 45)),
    ("flags 0: no UTF-8 bit (both)", set_field("both", "flags", lambda v: 0)),
    ("flags +bit 1 (both)", set_field("both", "flags", lambda v: v | 2)),
    ("flags +bit 13 (both)", set_field("both", "flags", lambda v: v | 0x2000)),
    ("flags +bit 3, no descriptor (both)", set_field("both", "flags", lambda v: v | 8)),
    ("data descriptor with signature, flag bit 3", descriptor(True, True)),
    ("data descriptor without signature, flag bit 3", descriptor(False, True)),
    ("data descriptor with signature, no flag", descriptor(True, False)),
    ("streamed form: zeros in local header, descriptor after", descriptor_zeroed),
    ("deflated (method 8), same content", deflate),
    # Extra fields.
    ("ZIP64 sizes in local header (the large-member form)", zip64_local),
    ("ZIP64 sizes in central record only", zip64_central),
    ("ZIP64 sizes in both headers", zip64_both),
    ("extra fields reordered, ZIP64 in both", ext_first),
    ("Info-ZIP Unix uid/gid extra 0x7875 (both)",
     add_extra(0x7875, struct.pack("<BBIBI", 1, 4, 0, 4, 0))),
    ("NTFS times extra 0x000a (both)",
     add_extra(0x000A, struct.pack("<IHHQQQ", 0, 1, 24, 0, 0, 0))),
    ("alignment padding extra 0xd935 (local)", add_extra(0xD935, b"\0\0\0\0", central=False)),
    ("unknown extra 0xcafe, 16 bytes (both)", add_extra(0xCAFE, b"payload-payload!")),
    ("empty extra 0x9901 (central)", add_extra(0x9901, b"", local=False)),
    ("extra block padded with 3 stray bytes (local)",
     lambda a, m: setattr(m, "l_extra", m.l_extra + b"\0\0\0")),
    # Central record only fields.
    ("member comment", set_attr("comment", b"note")),
    ("disk number start 1", set_attr("disk", 1)),
    ("internal attributes 1 (text)", set_attr("iattr", 1)),
    ("external attributes 0100755", set_attr("eattr", 0o100755 << 16)),
    ("external attributes 0100600", set_attr("eattr", 0o100600 << 16)),
    ("external attributes 0104644 (set-uid)", set_attr("eattr", 0o104644 << 16)),
    ("external attributes 0120777 (symlink)", set_attr("eattr", 0o120777 << 16)),
    ("external attributes + MS-DOS archive bit", set_attr("eattr", (0o100644 << 16) | 0x20)),
    ("external attributes 0", set_attr("eattr", 0)),
    # Names, CRC, sizes, offsets.
    ("name with a trailing space (both)", rename(lambda n: n + b" ")),
    ("name with its letter case swapped (both)", rename(lambda n: n.swapcase())),
    ("name with ./ inserted (both)",
     rename(lambda n: n.replace(b"/", b"/./", 1) if b"/" in n else b"./" + n)),
    ("CRC-32 changed in both headers", crc_both),
    ("one byte appended to the data, sizes and CRC rebuilt", append_byte),
    ("central record points at a shadow copy of the member", shadow_copy),
    ("hidden local header and data before the member", hidden_member(b"hidden payload\n")),
    # Padding between members.
    ("1 zero byte before the local header", padding_before(b"\0")),
    ("4 bytes of text before the local header", padding_before(b"JUNK")),
    ("64 KiB of text before the local header", padding_before(b"x" * 65536)),
]


def archive_mutations(a):
    n = len(a.members)
    out = []

    def arch(label, f):
        out.append((label, f))

    def set_a(**kw):
        def f(a):
            for k, v in kw.items():
                setattr(a, k, v)
        return f

    def z64(**kw):
        def f(a):
            z = dict(made_by=(3 << 8) | 45, need=45, disk=0, cd_disk=0, loc_disk=0,
                     loc_total=1, ext=b"", saturate=False)
            z.update(kw)
            a.zip64 = z
        return f

    arch("1 zero byte before the central directory", set_a(pad_before_cd=b"\0"))
    arch("16 bytes of text before the central directory", set_a(pad_before_cd=b"hidden-payload!!"))
    arch("a data descriptor before the central directory",
         set_a(pad_before_cd=struct.pack("<IIII", 0x08074B50, 0, 0, 0)))
    arch("300 KiB before the central directory", set_a(pad_before_cd=b"P" * 300_000))
    arch("1 byte prepended, offsets adjusted", set_a(prefix=b"#"))
    arch("512 bytes prepended, offsets adjusted", set_a(prefix=b"\0" * 512))
    arch("300 KiB prepended, offsets adjusted", set_a(prefix=b"P" * 300_000))
    arch("64 bytes prepended, offsets not adjusted",
         set_a(prefix=b"#!/bin/sh\n" + b"#" * 54, shift_offsets=False))
    arch("archive comment 'x'", set_a(comment=b"x"))
    arch("archive comment of 60 KiB", set_a(comment=b"C" * 60_000))
    arch("1 byte after the end record", set_a(trailing=b"\n"))
    arch("300 KiB after the end record", set_a(trailing=b"T" * 300_000))
    arch("end record: disk number 1", set_a(disk=1))
    arch("end record: central directory disk 1", set_a(cd_disk=1))
    arch("end record: entries on this disk differ", set_a(n_disk_delta=-1))
    arch("end record: count saturated 0xFFFF without ZIP64",
         set_a(count_override=0xFFFF))
    arch("end record: central directory size +4, 4 bytes after it",
         set_a(extra_records=b"\0\0\0\0", cd_size_delta=0))
    arch("end record: central directory size 1 too large", set_a(cd_size_delta=1))
    arch("a central record appended beyond the count",
         lambda a: setattr(a, "extra_records", central_copy(a, n - 1)))
    arch("ZIP64 end record and locator added", z64())
    arch("ZIP64 end record and locator, end record saturated", z64(saturate=True))
    arch("ZIP64 end record: version made by 0x031E", z64(made_by=0x031E, saturate=True))
    arch("ZIP64 end record: version needed 62", z64(need=62, saturate=True))
    arch("ZIP64 end record: disk 1", z64(disk=1, saturate=True))
    arch("ZIP64 end record: 8 bytes of extensible data", z64(ext=b"EXTENDED", saturate=True))
    arch("ZIP64 locator: total disks 0", z64(loc_total=0, saturate=True))
    arch("ZIP64 locator: total disks 2", z64(loc_total=2, saturate=True))
    for i in range(n - 1):
        j = i + 1
        arch(f"members {i} and {j} swapped in the file, central order kept",
             swap_physical(i, j))
    arch("central records 0 and 1 swapped (file order kept)",
         lambda a: a.cd_order.__setitem__(slice(0, 2), [a.cd_order[1], a.cd_order[0]]))
    arch("central directory reversed", lambda a: a.cd_order.reverse())
    arch("plain re-zip with Python zipfile (stored, original DOS times)", None)
    return out


def central_copy(a, i):
    b = Archive()
    b.__dict__.update(copy.deepcopy(a.__dict__))
    raw = serialize(b)
    # The last central record, as serialized: from its signature to the end record.
    end = len(raw) - 22
    start = raw.rfind(b"PK\x01\x02", 0, end)
    return raw[start:end]


def swap_physical(i, j):
    def f(a):
        a.members[i], a.members[j] = a.members[j], a.members[i]
        a.cd_order = [j if k == i else i if k == j else k for k in a.cd_order]
    return f


def rezip(path, out):
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as w:
        for i in z.infolist():
            info = zipfile.ZipInfo(i.filename, date_time=i.date_time)
            info.external_attr = i.external_attr
            info.create_system = 3
            w.writestr(info, z.read(i.filename))


# --- armour ----------------------------------------------------------------------------

def armour_variants(sig):
    lines = sig.decode().split("\n")
    assert lines[0] == "-----BEGIN SSH SIGNATURE-----" and lines[-1] == ""
    assert lines[-2] == "-----END SSH SIGNATURE-----"
    b64 = "".join(lines[1:-2])
    blob = base64.b64decode(b64)

    def wrap(s, width):
        return [s[i:i + width] for i in range(0, len(s), width)]

    def pem(body, width=70, nl="\n", final=True, head="", tail=""):
        text = nl.join(["-----BEGIN SSH SIGNATURE-----"] + wrap(body, width) +
                       ["-----END SSH SIGNATURE-----"])
        return (head + text + (nl if final else "") + tail).encode()

    v = [("canonical (as fieldkit writes it)", pem(b64))]
    assert v[0][1] == sig, "the canonical armour is what fieldkit wrote"
    v += [
        ("CRLF line ends", pem(b64, nl="\r\n")),
        ("no final newline", pem(b64, final=False)),
        ("two final newlines", pem(b64, tail="\n")),
        ("CRLF, no final newline", pem(b64, nl="\r\n", final=False)),
        ("1 byte before the header", pem(b64, head="\n")),
        ("a comment line before the header", pem(b64, head="# signed by the lab\n")),
        ("300 KiB of text before the header (hidden payload)",
         pem(b64, head=("hidden payload " * 20 + "\n") * 1000)),
        ("text after the footer", pem(b64, tail="trailing text\n")),
        ("300 KiB after the footer", pem(b64, tail="t" * 300_000 + "\n")),
        ("64-column base64 lines", pem(b64, width=64)),
        ("76-column base64 lines", pem(b64, width=76)),
        ("base64 on one line", pem(b64, width=10_000)),
        ("trailing space on every line",
         b"".join(l + b" \n" for l in pem(b64).split(b"\n")[:-1])),
        ("leading space before the header", pem(b64, head=" ")),
        ("a blank line after the header", pem("\n" + b64)),
        ("a header field after BEGIN", pem(b64).replace(
            b"-----\n", b"-----\nComment: x\n\n", 1)),
        ("tab at the end of the footer", pem(b64)[:-1] + b"\t\n"),
        ("base64 padding removed", pem(b64.rstrip("="))),
        ("4 bytes appended to the SSHSIG blob",
         pem(base64.b64encode(blob + b"\0\0\0\0").decode())),
        ("lower-case label", pem(b64).replace(b"SSH SIGNATURE", b"ssh signature")),
        ("UTF-8 byte order mark first", b"\xef\xbb\xbf" + pem(b64)),
    ]
    return v


def set_sig(a, sig):
    for m in a.members:
        if m.name == SUMS_SIG.encode():
            m.data = m.stored = sig


def main():
    op = sys.argv[1]
    if op == "mutate":
        path, outdir = sys.argv[2], sys.argv[3]
        original = open(path, "rb").read()
        base = parse(path)
        ident = serialize(base)
        open(os.path.join(outdir, "identity.zip"), "wb").write(ident)
        result = []

        def emit(label, data):
            f = os.path.join(outdir, f"{len(result):04}.zip")
            if data == original:
                # Not applicable to this member (e.g. removing a field it does not have).
                print(f"zipforge: {label!r} changes nothing here, left out", file=sys.stderr)
                return
            open(f, "wb").write(data)
            result.append({"file": f, "label": label})

        for i, m0 in enumerate(base.members):
            for label, fn in MEMBER_MUTATIONS:
                a = copy.deepcopy(base)
                fn(a, a.members[i])
                emit(f"{m0.name.decode()}: {label}", serialize(a))
        for label, fn in archive_mutations(base):
            if fn is None:
                f = os.path.join(outdir, f"{len(result):04}.zip")
                rezip(path, f)
                result.append({"file": f, "label": label})
                continue
            a = copy.deepcopy(base)
            fn(a)
            emit(label, serialize(a))
        sig = next(m.data for m in base.members if m.name == SUMS_SIG.encode())
        for label, variant in armour_variants(sig)[1:]:
            a = copy.deepcopy(base)
            set_sig(a, variant)
            emit(f"{SUMS_SIG} armour: {label}", serialize(a))
        print(json.dumps(result))
    elif op == "armour":
        sig, outdir = open(sys.argv[2], "rb").read(), sys.argv[3]
        result = []
        for k, (label, variant) in enumerate(armour_variants(sig)):
            f = os.path.join(outdir, f"{k:02}.sig")
            open(f, "wb").write(variant)
            result.append({"file": f, "label": label})
        print(json.dumps(result))
    elif op == "set-sig":
        a = parse(sys.argv[2])
        set_sig(a, open(sys.argv[3], "rb").read())
        open(sys.argv[4], "wb").write(serialize(a))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
