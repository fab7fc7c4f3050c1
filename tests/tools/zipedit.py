#!/usr/bin/env python3
"""Tamper with fieldkit bundles the way an attacker (or a damaged disk) would, using
Python's own zipfile module: an independent ZIP implementation, so the tests never rely
on fieldkit's writer to produce the bad input.

usage:
  zipedit.py offsets BUNDLE                       print {name: [header, data_start, size]} as JSON
  zipedit.py flip BUNDLE MEMBER [INDEX]           flip one byte of a member's stored data
  zipedit.py flip-at BUNDLE OFFSET                flip the byte at an absolute offset
  zipedit.py truncate BUNDLE LEN                  cut the file to LEN bytes
  zipedit.py local-name BUNDLE MEMBER             change one letter of the name in the local header only
  zipedit.py cd-crc BUNDLE MEMBER                 change the CRC-32 in the central directory only
  zipedit.py cd-method BUNDLE MEMBER              mark the member deflated in the central directory only
  zipedit.py cd-set BUNDLE MEMBER OFFSET BYTE     set one byte of the member's central directory
                                                  record (OFFSET from its signature; 23 is the
                                                  high byte of the compressed size)
  zipedit.py cd-zip64-size BUNDLE MEMBER VALUE    give the member ZIP64 sizes (both VALUE) in the
                                                  central directory only, rebuilding it and the
                                                  end record around the longer extra field
  zipedit.py zip64-size BUNDLE MEMBER VALUE       the same in the local header as well (so the
                                                  two agree), moving every later member
  zipedit.py deflate-forge BUNDLE MEMBER          change one byte of a Deflate member's stored
                                                  data so that it still inflates, to other content
                                                  of the same length, and forge the CRC-32 of both
                                                  headers to match it (unzip -t then passes)
  zipedit.py deflate-pad BUNDLE MEMBER            flip a bit of a Deflate member's stored data
                                                  that no decoder reads (padding after its last
                                                  block): the content inflates unchanged
  zipedit.py set-crc BUNDLE MEMBER                set the CRC-32 of both headers of a stored
                                                  member to its data's (forging it after an edit)
  zipedit.py rewrite BUNDLE OUT OP...             rebuild the archive with:
       remove=NAME  add=NAME:FILE  replace=NAME:FILE  rename=OLD:NEW  swap=A:B  dup=NAME
       The rebuilt archive has the headers fieldkit writes (docs/bundle-format.md: stored,
       UTF-8 flag, extended timestamp, mode 0644, no comment), as a forger who read the
       format would make them: only the change itself is there to be found.
"""
import json, struct, sys, time, zipfile, zlib


def entries(path):
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        out = {}
        for i in z.infolist():
            f.seek(i.header_offset)
            h = f.read(30)
            n, m = struct.unpack("<HH", h[26:30])
            out[i.filename] = [i.header_offset, i.header_offset + 30 + n + m, i.compress_size]
        return out


def flip_at(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x01]))


def inflate(raw):
    """Raw Deflate: the content, or None unless the stream ends exactly at the last byte."""
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(raw) + d.flush()
    except zlib.error:
        return None
    return out if d.eof and not d.unused_data else None


def deflate_edit(path, member, forge):
    """Find the first one-byte change of MEMBER's stored data that inflates to other
    content of the same length (forge) or to the same content (padding), write it and
    print its offset. For a forgery, the CRC-32 in both headers is set to the new one."""
    h, ds, csize = entries(path)[member]
    data = bytearray(open(path, "rb").read())
    stored = bytes(data[ds:ds + csize])
    if struct.unpack("<H", data[h + 8:h + 10])[0] != 8:
        sys.exit(f"{member}: not deflated")
    original = inflate(stored)
    if original is None:
        sys.exit(f"{member}: its stored data does not inflate")
    candidates = range(len(stored)) if forge else range(len(stored) - 1, max(len(stored) - 8, -1), -1)
    for i in candidates:
        for bit in range(8):
            changed = bytearray(stored)
            changed[i] ^= 1 << bit
            out = inflate(bytes(changed))
            if out is None:
                continue
            if forge and (len(out) != len(original) or out == original):
                continue
            if not forge and out != original:
                continue
            data[ds + i] = changed[i]
            if forge:
                crc = struct.pack("<I", zlib.crc32(out))
                data[h + 14:h + 18] = crc
                c = central_offset(path, member)
                data[c + 16:c + 20] = crc
            open(path, "wb").write(bytes(data))
            print(json.dumps({"offset": ds + i, "bit": bit}))
            return
    sys.exit(f"{member}: no such one-byte change found")


def central_offset(path, member):
    data = open(path, "rb").read()
    name = member.encode()
    pos = data.rfind(b"PK\x01\x02")
    while pos != -1:
        nlen = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if data[pos + 46:pos + 46 + nlen] == name:
            return pos
        pos = data.rfind(b"PK\x01\x02", 0, pos)
    sys.exit(f"{member}: not in central directory")


def zip64_size(path, member, value, local):
    """Give MEMBER ZIP64 sizes of VALUE in its central directory record (and, with
    `local`, in its local header too), rebuilding the archive around the longer extra
    fields: later members move, so every offset and the end record are rewritten."""
    data = open(path, "rb").read()
    eocd = len(data) - 22
    if data[eocd:eocd + 4] != b"PK\x05\x06":
        sys.exit("no end record at the end of the file")
    cd_size, cd_start = struct.unpack("<II", data[eocd + 12:eocd + 20])
    records, pos = [], cd_start
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        records.append(bytearray(data[pos:pos + 46 + n + m + k]))
        pos += 46 + n + m + k
    name = member.encode()
    z64 = struct.pack("<HHQQ", 1, 16, value, value)
    body, cd = b"", b""
    for rec in records:
        n, m = struct.unpack("<HH", rec[28:32])
        off = struct.unpack("<I", rec[42:46])[0]
        size = struct.unpack("<I", rec[24:28])[0]
        ln, lm = struct.unpack("<HH", data[off + 26:off + 30])
        local_h = bytearray(data[off:off + 30 + ln + lm])
        content = data[off + 30 + ln + lm:off + 30 + ln + lm + size]
        rec[42:46] = struct.pack("<I", len(body))
        if rec[46:46 + n] == name:
            if local:
                local_h[18:26] = struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF)
                local_h[28:30] = struct.pack("<H", lm + len(z64))
                local_h = local_h[:30 + ln] + z64 + local_h[30 + ln:]
            rec[20:28] = struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF)
            rec[30:32] = struct.pack("<H", m + len(z64))
            rec = rec[:46 + n] + z64 + rec[46 + n:]
        body += bytes(local_h) + content
        cd += bytes(rec)
    end = bytearray(data[eocd:])
    end[12:20] = struct.pack("<II", len(cd), len(body))
    open(path, "wb").write(body + cd + bytes(end))


def ext_mtime(extra):
    """The UTC time of an extended-timestamp (0x5455) extra field, if there is one."""
    i = 0
    while i + 4 <= len(extra):
        tag, n = struct.unpack("<HH", extra[i:i + 4])
        if tag == 0x5455 and n == 5 and extra[i + 4] == 1:
            return struct.unpack("<i", extra[i + 5:i + 9])[0]
        i += 4 + n
    return None


def dos_datetime(t):
    tm = time.gmtime(t)
    if tm.tm_year < 1980:
        return 0, (1 << 5) | 1
    return ((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec // 2),
            ((min(tm.tm_year, 2107) - 1980) << 9) | (tm.tm_mon << 5) | tm.tm_mday)


def write_like_fieldkit(out, items, mtimes):
    body, cd = b"", b""
    for name, data in items:
        if len(data) >= 0x80000000 or len(body) >= 0xFFFFFFFF:
            sys.exit("rewrite handles small archives only (no ZIP64)")
        n = name.encode()
        t = mtimes.get(name)
        if t is None:
            t = 1767225600  # 2026-01-01T00:00:00Z, for added members
        dt, dd = dos_datetime(t)
        crc = zlib.crc32(data)
        extra = struct.pack("<HHBi", 0x5455, 5, 1, t)
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, 0, dt, dd, crc,
                            len(data), len(data), len(n), len(extra))
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 45, 20, 0x0800, 0,
                          dt, dd, crc, len(data), len(data), len(n), len(extra), 0, 0, 0,
                          0o100644 << 16, len(body)) + n + extra
        body += local + n + extra + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(items), len(items), len(cd),
                      len(body), 0)
    open(out, "wb").write(body + cd + end)


def main():
    op, path = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if op == "offsets":
        print(json.dumps(entries(path)))
    elif op == "flip":
        h, ds, size = entries(path)[args[0]]
        idx = int(args[1]) if len(args) > 1 else size // 2
        flip_at(path, ds + idx)
    elif op == "flip-at":
        flip_at(path, int(args[0]))
    elif op == "truncate":
        with open(path, "r+b") as f:
            f.truncate(int(args[0]))
    elif op == "local-name":
        h, _, _ = entries(path)[args[0]]
        flip_at(path, h + 30 + len(args[0]) - 1)
    elif op == "cd-crc":
        flip_at(path, central_offset(path, args[0]) + 16)
    elif op == "cd-method":
        with open(path, "r+b") as f:
            f.seek(central_offset(path, args[0]) + 10)
            f.write(struct.pack("<H", 8))
    elif op == "deflate-forge":
        deflate_edit(path, args[0], forge=True)
    elif op == "deflate-pad":
        deflate_edit(path, args[0], forge=False)
    elif op == "set-crc":
        h, ds, csize = entries(path)[args[0]]
        data = bytearray(open(path, "rb").read())
        crc = struct.pack("<I", zlib.crc32(bytes(data[ds:ds + csize])))
        data[h + 14:h + 18] = crc
        c = central_offset(path, args[0])
        data[c + 16:c + 20] = crc
        open(path, "wb").write(bytes(data))
    elif op == "cd-set":
        with open(path, "r+b") as f:
            f.seek(central_offset(path, args[0]) + int(args[1]))
            f.write(bytes([int(args[2], 0)]))
    elif op == "cd-zip64-size":
        zip64_size(path, args[0], int(args[1], 0), local=False)
    elif op == "zip64-size":
        zip64_size(path, args[0], int(args[1], 0), local=True)
    elif op == "rewrite":
        out = args[0]
        ops = args[1:]
        with zipfile.ZipFile(path) as z:
            items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
            mtimes = {i.filename: ext_mtime(i.extra) for i in z.infolist()}
        for o in ops:
            kind, _, val = o.partition("=")
            if kind == "remove":
                items = [(n, d) for n, d in items if n != val]
            elif kind == "add":
                name, _, src = val.partition(":")
                items.insert(len(items) - 2, (name, open(src, "rb").read()))
            elif kind == "replace":
                name, _, src = val.partition(":")
                items = [(n, open(src, "rb").read() if n == name else d) for n, d in items]
            elif kind == "rename":
                old, _, new = val.partition(":")
                items = [(new if n == old else n, d) for n, d in items]
                # The member keeps its time: its record's mtime binds it (header_time).
                if old in mtimes:
                    mtimes[new] = mtimes.pop(old)
            elif kind == "swap":
                a, _, b = val.partition(":")
                ia = [n for n, _ in items].index(a)
                ib = [n for n, _ in items].index(b)
                items[ia], items[ib] = items[ib], items[ia]
            elif kind == "dup":
                d = dict(items)[val]
                items.insert(len(items) - 2, (val, d))
            else:
                sys.exit(f"unknown op {o}")
        write_like_fieldkit(out, items, mtimes)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
