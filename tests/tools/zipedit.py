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
  zipedit.py rewrite BUNDLE OUT OP...             rebuild the archive with:
       remove=NAME  add=NAME:FILE  replace=NAME:FILE  rename=OLD:NEW  swap=A:B  dup=NAME
"""
import json, struct, sys, zipfile


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
    elif op == "rewrite":
        out = args[0]
        ops = args[1:]
        with zipfile.ZipFile(path) as z:
            items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
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
        import warnings
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for n, d in items:
                z.writestr(zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0)), d)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
