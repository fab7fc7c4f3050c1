#!/usr/bin/env python3
"""Deterministic Windows-like system drive for benchmarks of the windows-triage profile.

usage: make-windows-tree.py DEST [--scale F]
  --scale F   multiply every file size by F (default 1.0: about 700 MB in 1,175 files,
              of which windows-triage takes about 630 MB in 870 files)

Same arguments give byte-identical trees (seeded PRNG). The files are not parseable by
forensic tools; they are shaped like the real ones where it matters for storing them:
names and places (the paths profiles/windows-triage.toml wants, plus Program Files and
System32 binaries it does not take), sizes, and how compressible each kind is:
  registry hives   REGF base block, 4 KiB hbins of nk/vk/lh/sk cells, UTF-16 value data,
                   some random REG_BINARY and free-cell slack        (Deflate ~3-4x)
  event logs       ElfFile header, 64 KiB ElfChnk chunks of "**" records with binary-XML
                   UTF-16 event data; the many small logs are mostly empty chunks (~6-10x)
  prefetch         Windows 10 MAM-compressed: random after the header        (~1x)
  SRUM, WebCache   ESE-like pages: page header, fixed-layout records, zero tail (~4-6x)
  browser history  real SQLite databases (Python's sqlite3) of URLs and visits (~3x)
  text             setupapi.dev.log, Panther logs, PSReadLine history, tasks XML
                   (UTF-16LE), Report.wer                                  (~6-10x)
  crash dumps      MDMP header, code-like random pages and zero pages        (~2x)
"""
import argparse, os, random, sqlite3, struct

WORDS = ("Microsoft Windows CurrentVersion Explorer Software Classes CLSID Interface TypeLib "
         "Services Control Enum Root Parameters Security Policy Run RunOnce Shell Folders "
         "UserAssist RecentDocs MountedDevices Network Profiles Wow6432Node AppModel "
         "Installer Components Products Uninstall Drivers DeviceClasses Setup Tcpip "
         "Interfaces ComputerName TimeZoneInformation Session Manager Memory Management "
         "Prefetcher BAM State UserSettings ShellBags BagMRU Bags Defender Features "
         "Office ClickToRun Edge Chrome Mozilla OneDrive Teams Update Notifications").split()
EXES = ("SVCHOST.EXE EXPLORER.EXE CHROME.EXE MSEDGE.EXE POWERSHELL.EXE CMD.EXE RUNDLL32.EXE "
        "NOTEPAD.EXE TASKHOSTW.EXE CONHOST.EXE WINWORD.EXE EXCEL.EXE OUTLOOK.EXE TEAMS.EXE "
        "ONEDRIVE.EXE MSIEXEC.EXE REGSVR32.EXE WMIPRVSE.EXE SEARCHINDEXER.EXE DLLHOST.EXE "
        "SPOOLSV.EXE LSASS.EXE SERVICES.EXE WINLOGON.EXE CSRSS.EXE SMSS.EXE MMC.EXE "
        "MSMPENG.EXE SETUP.EXE 7ZFM.EXE PUTTY.EXE MSTSC.EXE WSCRIPT.EXE CERTUTIL.EXE").split()
CHANNELS = ("Application Security System Setup Windows PowerShell "
            "Microsoft-Windows-PowerShell%4Operational Microsoft-Windows-Sysmon%4Operational "
            "Microsoft-Windows-TaskScheduler%4Operational "
            "Microsoft-Windows-TerminalServices-LocalSessionManager%4Operational "
            "Microsoft-Windows-Windows Defender%4Operational "
            "Microsoft-Windows-Bits-Client%4Operational Microsoft-Windows-WMI-Activity%4Operational "
            "Microsoft-Windows-SMBServer%4Security Microsoft-Windows-NTLM%4Operational").split()
DOMAINS = ("www.google.com mail.google.com docs.google.com www.bing.com login.microsoftonline.com "
           "outlook.office.com github.com stackoverflow.com www.youtube.com en.wikipedia.org "
           "www.reddit.com news.ycombinator.com www.amazon.com pastebin.com mega.nz "
           "drive.google.com www.dropbox.com web.whatsapp.com www.linkedin.com "
           "portal.azure.com").split()
USERS = ("alice", "bob", "Administrator")


def utf16(s):
    return s.encode("utf-16-le")


class Gen:
    def __init__(self, dest, scale):
        self.dest, self.scale = dest, scale
        self.rnd = random.Random(8111)

    def size(self, n):
        return max(1, int(n * self.scale))

    def write(self, rel, data):
        path = os.path.join(self.dest, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def path_text(self):
        r = self.rnd
        return "\\".join(r.choice(WORDS) for _ in range(r.randint(2, 6)))

    def filetime(self):
        # 2026-10 .. 2026-12 as FILETIME
        return 134040000000000000 + self.rnd.randrange(0, 80_000_000_000_000)

    # --- registry ------------------------------------------------------------------
    def hive(self, size, name):
        r = self.rnd
        size = max(size, 8192)  # base block + one hbin
        pool = []
        for _ in range(3000):
            kind = r.random()
            if kind < 0.30:  # nk: key node
                nm = r.choice(WORDS) + (("{%08X-%04X-%04X}" % (r.getrandbits(32), r.getrandbits(16),
                                                                 r.getrandbits(16))) if r.random() < 0.3 else "")
                body = (b"nk" + struct.pack("<HQI", 0x20, self.filetime(), 0) +
                        struct.pack("<IIIIII", r.getrandbits(20), 0, r.randint(0, 30), 0xFFFFFFFF,
                                    r.randint(0, 12), r.getrandbits(20)) +
                        struct.pack("<IIIIIIHH", 0xFFFFFFFF, r.getrandbits(20), 0, 0, 0, 0, len(nm), 0) +
                        nm.encode())
            elif kind < 0.60:  # vk: value
                nm = r.choice(WORDS) + r.choice(("", "Path", "Version", "Count", "MRUList", "Flags"))
                body = b"vk" + struct.pack("<HIIIHH", len(nm), r.randint(4, 600), r.getrandbits(20),
                                           r.choice((1, 1, 2, 3, 4, 7)), 1, 0) + nm.encode()
            elif kind < 0.85:  # value data: REG_SZ / REG_EXPAND_SZ
                body = utf16("C:\\" + self.path_text() + r.choice((".dll", ".exe", "", ".sys", ".inf"))) + b"\0\0"
            elif kind < 0.93:  # lh subkey list: offset + name hash pairs
                n = r.randint(2, 24)
                body = b"lh" + struct.pack("<H", n) + b"".join(
                    struct.pack("<II", r.getrandbits(24), r.getrandbits(32)) for _ in range(n))
            elif kind < 0.955:  # REG_BINARY: random
                body = r.randbytes(r.randint(16, 200))
            else:  # sk: security descriptor, very repetitive in real hives
                body = b"sk\0\0" + struct.pack("<IIII", 0, 0, r.randint(1, 900), 0x9C) + \
                    bytes.fromhex("01000480" "14000000" "30000000" "00000000" "4c000000"
                                  "0102000000000005" "20000000" "20020000") * 3
            pool.append(body)
        out = bytearray(b"regf" + struct.pack("<IIQIIIII", 1, 1, self.filetime(), 1, 6, 0, 1, 0x20))
        out += struct.pack("<I", size - 4096) + utf16("\\??\\C:\\" + name)[:64].ljust(64, b"\0")
        out = out.ljust(4096, b"\0")
        while len(out) < size:
            hb = bytearray(b"hbin" + struct.pack("<IIQQ", len(out) - 4096, 4096, 0, self.filetime()))
            hb = hb.ljust(32, b"\0")
            while True:
                body = r.choice(pool)
                cell = len(body) + 4
                cell = (cell + 7) & ~7
                if len(hb) + cell > 4096:
                    rest = 4096 - len(hb)
                    if rest >= 8:  # free cell: slack, sometimes left-over data
                        slack = r.randbytes(rest - 4) if r.random() < 0.1 else bytes(rest - 4)
                        hb += struct.pack("<i", rest) + slack
                    break
                hb += struct.pack("<i", -cell) + body.ljust(cell - 4, b"\0")
            out += hb.ljust(4096, b"\0")
        return bytes(out[:size])

    def hive_log(self, size, name):
        # transaction log: a HvLE-like header then dirty pages of the hive
        return b"HvLE" + self.hive(size, name)[4:]

    # --- event logs -------------------------------------------------------------------
    def evtx(self, chunks, full_chunks, channel):
        r = self.rnd
        hdr = (b"ElfFile\0" + struct.pack("<QQQIHHHH", 0, chunks - 1, 1 + full_chunks * 90,
                                          128, 1, 3, 4096, chunks)).ljust(4096, b"\0")
        providers = [f"Microsoft-Windows-{r.choice(WORDS)}-{r.choice(WORDS)}" for _ in range(8)]
        names = ("SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId TargetUserName "
                 "TargetDomainName LogonType ProcessName IpAddress IpPort WorkstationName "
                 "CommandLine ParentProcessName Image Hashes ScriptBlockText ServiceName").split()
        out = bytearray(hdr)
        rec = 1
        for c in range(chunks):
            ch = bytearray(b"ElfChnk\0" + struct.pack("<QQQQI", rec, rec + 90, rec, rec + 90, 128))
            ch = ch.ljust(512, b"\0")
            if c < full_chunks:
                while len(ch) < 65536 - 1200:
                    data = bytearray()
                    data += b"\x0f\x01\x01\x00\x0c\x01" + r.randbytes(4) + b"\x00\x00\x41\xff\xff"
                    data += utf16(r.choice(providers)) + b"\0\0" + struct.pack("<HH", r.randint(1, 8000), 0)
                    for _ in range(r.randint(4, 12)):
                        n = r.choice(names)
                        v = r.choice((
                            "S-1-5-21-3623811015-3361044348-30300820-%d" % r.randint(500, 1200),
                            r.choice(USERS), "WORKSTATION-07", "0x%x" % r.getrandbits(28),
                            "C:\\Windows\\System32\\" + r.choice(EXES).lower(),
                            "10.0.%d.%d" % (r.randint(0, 9), r.randint(1, 254)), str(r.randint(2, 11)),
                            "\"C:\\Windows\\System32\\" + r.choice(EXES).lower() + "\" " + self.path_text(),
                            "SHA256=" + r.randbytes(32).hex().upper()))
                        data += b"\x01\xff\xff" + utf16(n) + b"\x02" + utf16(v) + b"\0\0"
                    size = 24 + len(data) + 4
                    ch += b"**\0\0" + struct.pack("<IQQ", size, rec, self.filetime()) + data + struct.pack("<I", size)
                    rec += 1
            out += bytes(ch).ljust(65536, b"\0")
        return bytes(out)

    # --- ESE-like database ----------------------------------------------------------
    def ese(self, size, page, kinds):
        r = self.rnd
        out = bytearray((b"\xef\xcd\xab\x89" + struct.pack("<IIQ", 0x620, 0x14, self.filetime())).ljust(page, b"\0") * 2)
        while len(out) < size:
            p = bytearray(r.randbytes(8) + struct.pack("<QIIIHH", self.filetime(), r.getrandbits(20),
                                                      r.getrandbits(20), r.getrandbits(20), 0, 0))
            p = p.ljust(40, b"\0")
            fill = r.random()
            limit = page if fill < 0.7 else int(page * r.uniform(0.1, 0.6))
            while len(p) < limit - 200:
                kind = r.choice(kinds)
                if kind == "srum":
                    rec = struct.pack("<IQIQQQQ", r.randint(1, 400), self.filetime(), r.randint(1, 40),
                                      r.getrandbits(r.choice((8, 16, 24, 32))), r.getrandbits(r.choice((8, 16, 24))),
                                      r.getrandbits(12), 0)
                else:
                    url = "https://%s/%s" % (r.choice(DOMAINS), "/".join(r.choice(WORDS).lower() for _ in range(r.randint(1, 4))))
                    rec = struct.pack("<IQQI", r.randint(1, 9999), self.filetime(), self.filetime(), r.getrandbits(16)) + \
                        utf16(url) + b"\0\0" + utf16("Visited: %s@%s" % (r.choice(USERS), url))
                p += rec
            out += bytes(p[:page]).ljust(page, b"\0")
        return bytes(out[:size])

    # --- other kinds --------------------------------------------------------------------
    def prefetch(self, name):
        r = self.rnd
        n = self.size(r.randint(6000, 60000))
        return b"MAM\x04" + struct.pack("<I", n * 3) + r.randbytes(n)

    def text_log(self, size, kind):
        r = self.rnd
        lines, total = [], 0
        while total < size:
            t = "2026-%02d-%02d %02d:%02d:%02d.%03d" % (r.randint(10, 12), r.randint(1, 28), r.randint(0, 23),
                                                        r.randint(0, 59), r.randint(0, 59), r.randint(0, 999))
            if kind == "setupapi":
                l = ">>>  [Device Install (Hardware initiated) - USB\\VID_%04X&PID_%04X\\%s]\n>>>  Section start %s\n" \
                    "     ump: Creating Install Process: DrvInst.exe %s\n     ndv: Driver package 'C:\\Windows\\System32\\DriverStore\\FileRepository\\%s.inf_amd64_%s\\%s.inf' is already imported.\n<<<  Section end %s\n<<<  [Exit status: SUCCESS]\n" % (
                        r.getrandbits(16), r.getrandbits(16), r.randbytes(6).hex().upper(), t, t,
                        r.choice(WORDS).lower(), r.randbytes(8).hex(), r.choice(WORDS).lower(), t)
            elif kind == "panther":
                l = "%s, Info                  [%s] %s: %s\n" % (t, r.choice(("setup.exe", "windeploy.exe", "MIG", "CSI")),
                                                                  r.choice(("Gather", "Apply", "Migrate", "Operation")), self.path_text())
            else:  # PSReadLine
                l = r.choice(("Get-Process | Sort-Object CPU -Descending | Select -First %d" % r.randint(5, 20),
                              "cd C:\\%s" % self.path_text(), "Get-ChildItem -Recurse -Filter *.%s" % r.choice(("log", "ps1", "docx")),
                              "Invoke-WebRequest https://%s/%s -OutFile $env:TEMP\\%s.zip" % (r.choice(DOMAINS), r.randbytes(4).hex(), r.randbytes(3).hex()),
                              "Get-WinEvent -LogName %s -MaxEvents %d" % (r.choice(CHANNELS), r.randint(10, 500)),
                              "git commit -m \"%s\"" % " ".join(r.choice(WORDS).lower() for _ in range(5)))) + "\n"
            lines.append(l)
            total += len(l)
        return "".join(lines).encode()[:size]

    def task_xml(self, name):
        r = self.rnd
        x = ('<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n'
             '  <RegistrationInfo>\n    <Date>2026-%02d-%02dT%02d:%02d:00</Date>\n    <Author>Microsoft Corporation</Author>\n'
             '    <URI>\\Microsoft\\Windows\\%s</URI>\n  </RegistrationInfo>\n  <Triggers>\n    <CalendarTrigger>\n'
             '      <StartBoundary>2026-01-01T03:00:00</StartBoundary>\n      <ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>\n'
             '    </CalendarTrigger>\n  </Triggers>\n  <Principals>\n    <Principal id="LocalSystem">\n      <UserId>S-1-5-18</UserId>\n'
             '      <RunLevel>HighestAvailable</RunLevel>\n    </Principal>\n  </Principals>\n  <Settings>\n'
             '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n    <DisallowStartIfOnBatteries>true</DisallowStartIfOnBatteries>\n'
             '    <ExecutionTimeLimit>PT%dH</ExecutionTimeLimit>\n  </Settings>\n  <Actions Context="LocalSystem">\n    <Exec>\n'
             '      <Command>%%windir%%\\system32\\%s</Command>\n      <Arguments>%s</Arguments>\n    </Exec>\n  </Actions>\n</Task>\n') % (
                 r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), name, r.randint(1, 72),
                 r.choice(EXES).lower(), self.path_text())
        return b"\xff\xfe" + utf16(x)

    def lnk(self):
        r = self.rnd
        target = "C:\\Users\\%s\\%s.%s" % (r.choice(USERS), self.path_text(), r.choice(("docx", "xlsx", "pdf", "txt", "zip")))
        return (struct.pack("<I", 0x4C) + bytes.fromhex("0114020000000000c000000000000046") +
                struct.pack("<IIQQQI", 0x9B, 0x20, self.filetime(), self.filetime(), self.filetime(), r.getrandbits(24)) +
                bytes(20) + r.randbytes(r.randint(150, 500)) + utf16(target) + b"\0\0" + utf16("WORKSTATION-07") + bytes(16))

    def dump(self, size):
        r = self.rnd
        out = bytearray(b"MDMP\x93\xa7" + struct.pack("<HIIIQ", 0, 13, 32, 0, self.filetime()))
        out = out.ljust(4096, b"\0")
        while len(out) < size:
            out += r.randbytes(4096) if r.random() < 0.45 else (bytes(4096) if r.random() < 0.5
                                                                else (utf16(self.path_text()) * 60)[:4096].ljust(4096, b"\0"))
        return bytes(out[:size])

    def sqlite_history(self, rel, visits, kind):
        r = self.rnd
        path = os.path.join(self.dest, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        db = sqlite3.connect(path)
        db.execute("PRAGMA page_size=4096")
        db.execute("PRAGMA journal_mode=DELETE")
        if kind == "chrome":
            db.execute("CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT, url LONGVARCHAR, title LONGVARCHAR, "
                       "visit_count INTEGER DEFAULT 0 NOT NULL, typed_count INTEGER DEFAULT 0 NOT NULL, "
                       "last_visit_time INTEGER NOT NULL, hidden INTEGER DEFAULT 0 NOT NULL)")
            db.execute("CREATE TABLE visits(id INTEGER PRIMARY KEY, url INTEGER NOT NULL, visit_time INTEGER NOT NULL, "
                       "from_visit INTEGER, transition INTEGER DEFAULT 0 NOT NULL, segment_id INTEGER, "
                       "visit_duration INTEGER DEFAULT 0 NOT NULL)")
            db.execute("CREATE INDEX visits_url_index ON visits (url)")
            db.execute("CREATE TABLE downloads(id INTEGER PRIMARY KEY, guid VARCHAR, current_path LONGVARCHAR, "
                       "target_path LONGVARCHAR, start_time INTEGER, received_bytes INTEGER, total_bytes INTEGER, "
                       "tab_url VARCHAR, referrer VARCHAR)")
        else:
            db.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR, "
                       "rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0, "
                       "typed INTEGER DEFAULT 0, frecency INTEGER DEFAULT -1, last_visit_date INTEGER, guid TEXT)")
            db.execute("CREATE TABLE moz_historyvisits (id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER, "
                       "visit_date INTEGER, visit_type INTEGER, session INTEGER)")
            db.execute("CREATE INDEX moz_historyvisits_placedateindex ON moz_historyvisits (place_id, visit_date)")
        nurls = max(1, visits // 4)
        urls = []
        for i in range(nurls):
            d = r.choice(DOMAINS)
            path_ = "/".join(r.choice(WORDS).lower() for _ in range(r.randint(1, 5)))
            q = ("?q=" + "+".join(r.choice(WORDS).lower() for _ in range(r.randint(1, 4)))) if r.random() < 0.4 else ""
            track = ("&utm_source=" + r.randbytes(r.randint(4, 24)).hex()) if r.random() < 0.3 else ""
            urls.append(("https://%s/%s%s%s" % (d, path_, q, track),
                         " ".join(r.choice(WORDS) for _ in range(r.randint(2, 8))) + " - " + d))
        t0 = 13370000000000000
        if kind == "chrome":
            db.executemany("INSERT INTO urls(url, title, visit_count, typed_count, last_visit_time) VALUES (?,?,?,?,?)",
                           [(u, t, r.randint(1, 50), r.randint(0, 3), t0 + r.getrandbits(40)) for u, t in urls])
            db.executemany("INSERT INTO visits(url, visit_time, from_visit, transition, segment_id, visit_duration) VALUES (?,?,?,?,?,?)",
                           [(r.randint(1, nurls), t0 + r.getrandbits(40), r.randint(0, visits), r.choice((0x30000000, 0x10000001, 805306368)),
                             r.randint(0, 300), r.getrandbits(30)) for _ in range(visits)])
            db.executemany("INSERT INTO downloads(guid, current_path, target_path, start_time, received_bytes, total_bytes, tab_url, referrer) VALUES (?,?,?,?,?,?,?,?)",
                           [(r.randbytes(16).hex(), "C:\\Users\\alice\\Downloads\\%s.zip" % r.randbytes(4).hex(),
                             "C:\\Users\\alice\\Downloads\\%s.zip" % r.randbytes(4).hex(), t0 + r.getrandbits(40),
                             r.getrandbits(24), r.getrandbits(24), u, u) for u, _ in urls[:200]])
        else:
            db.executemany("INSERT INTO moz_places(url, title, rev_host, visit_count, frecency, last_visit_date, guid) VALUES (?,?,?,?,?,?,?)",
                           [(u, t, u.split("/")[2][::-1] + ".", r.randint(1, 50), r.randint(-1, 20000), t0 + r.getrandbits(40),
                             r.randbytes(9).hex()) for u, t in urls])
            db.executemany("INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session) VALUES (?,?,?,?,?)",
                           [(r.randint(0, visits), r.randint(1, nurls), t0 + r.getrandbits(40), r.randint(1, 9), 0) for _ in range(visits)])
        db.commit()
        db.close()

    def cookies(self, rel, n):
        r = self.rnd
        path = os.path.join(self.dest, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE cookies(creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL, name TEXT NOT NULL, "
                   "value TEXT NOT NULL, path TEXT NOT NULL, expires_utc INTEGER NOT NULL, encrypted_value BLOB DEFAULT '')")
        db.executemany("INSERT INTO cookies VALUES (?,?,?,?,?,?,?)",
                       [(13370000000000000 + r.getrandbits(40), "." + r.choice(DOMAINS), r.choice(("SID", "NID", "_ga", "session", "csrf")),
                         "", "/", 13400000000000000, b"v10" + r.randbytes(r.randint(30, 200))) for _ in range(n)])
        db.commit()
        db.close()

    # --- the tree ---------------------------------------------------------------------------
    def build(self):
        r, S = self.rnd, self.size
        cfg = "Windows/System32/config"
        for name, mb in (("SOFTWARE", 96), ("SYSTEM", 24), ("COMPONENTS", 40), ("DEFAULT", 1), ("SAM", 0.0625), ("SECURITY", 0.0625)):
            size = S(int(mb * 1048576)) // 4096 * 4096 + 4096
            self.write(f"{cfg}/{name}", self.hive(size, name))
            self.write(f"{cfg}/{name}.LOG1", self.hive_log(S(r.choice((262144, 1048576, 4194304))), name))
            self.write(f"{cfg}/{name}.LOG2", b"")
            self.write(f"{cfg}/RegBack/{name}", b"")  # Windows 10 1803+: empty RegBack copies
        self.write(f"{cfg}/systemprofile/NTUSER.DAT", self.hive(S(262144) // 4096 * 4096 + 4096, "systemprofile"))
        for svc in ("LocalService", "NetworkService"):
            self.write(f"Windows/ServiceProfiles/{svc}/NTUSER.DAT", self.hive(S(262144) // 4096 * 4096 + 4096, svc))
            self.write(f"Windows/ServiceProfiles/{svc}/NTUSER.DAT.LOG1", self.hive_log(S(65536), svc))
        self.write("Windows/AppCompat/Programs/Amcache.hve", self.hive(S(16 << 20) // 4096 * 4096 + 4096, "Amcache"))
        self.write("Windows/AppCompat/Programs/Amcache.hve.LOG1", self.hive_log(S(1 << 20), "Amcache"))

        logs = "Windows/System32/winevt/Logs"
        for ch in CHANNELS:
            full = max(1, S(r.choice((64, 160, 320))))
            self.write(f"{logs}/{ch}.evtx", self.evtx(full, full, ch))
        for i in range(140):  # the many small, mostly empty operational logs
            ch = "Microsoft-Windows-%s-%s%%4%s" % (r.choice(WORDS), r.choice(WORDS), r.choice(("Operational", "Admin", "Analytic")))
            self.write(f"{logs}/{ch}.evtx", self.evtx(1, 1 if r.random() < 0.3 else 0, ch))

        for i in range(260):
            exe = r.choice(EXES)
            self.write("Windows/Prefetch/%s-%08X.pf" % (exe, r.getrandbits(32)), self.prefetch(exe))
        for db in ("AgGlFaultHistory.db", "AgGlGlobalHistory.db", "PfSvPerfStats.bin"):
            self.write(f"Windows/Prefetch/{db}", self.ese(S(262144), 4096, ["srum"]))

        self.write("Windows/System32/sru/SRUDB.dat", self.ese(S(40 << 20), 32768, ["srum"]))
        for n in ("SRU.log", "SRU00001.log", "SRUtmp.log", "SRU.chk"):
            self.write(f"Windows/System32/sru/{n}", self.ese(S(1 << 20) if n != "SRU.chk" else 8192, 4096, ["srum"]))

        for i in range(180):
            name = "%s\\%s%d" % (r.choice(WORDS), r.choice(WORDS), i)
            self.write("Windows/System32/Tasks/Microsoft/Windows/%s" % name.replace("\\", "/"), self.task_xml(name))
        self.write("Windows/System32/wbem/Repository/OBJECTS.DATA", self.ese(S(24 << 20), 8192, ["srum", "url"]))
        self.write("Windows/System32/wbem/Repository/INDEX.BTR", self.ese(S(4 << 20), 8192, ["url"]))
        for m in (1, 2, 3):
            self.write(f"Windows/System32/wbem/Repository/MAPPING{m}.MAP", r.randbytes(S(60000)))
        self.write("ProgramData/Microsoft/Windows/Start Menu/Programs/Startup/desktop.ini",
                   b"\xff\xfe" + utf16("[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-21787\r\n"))

        self.write("Windows/System32/drivers/etc/hosts", b"# Copyright (c) 1993-2009 Microsoft Corp.\r\n#\r\n127.0.0.1 localhost\r\n::1 localhost\r\n")
        self.write("Windows/inf/setupapi.dev.log", self.text_log(S(6 << 20), "setupapi"))
        self.write("Windows/Panther/setupact.log", self.text_log(S(8 << 20), "panther"))
        self.write("Windows/Panther/setuperr.log", self.text_log(S(200000), "panther"))
        self.write("Windows/Panther/unattend.xml", self.task_xml("unattend"))

        for wi in range(12):
            d = "ProgramData/Microsoft/Windows/WER/ReportArchive/AppCrash_%s_%s" % (r.choice(EXES).lower(), r.randbytes(20).hex())
            self.write(f"{d}/Report.wer", b"\xff\xfe" + utf16("".join("Sig[%d].Name=%s\r\nSig[%d].Value=%s\r\n" % (
                k, r.choice(WORDS), k, self.path_text()) for k in range(40))))

        sid = "S-1-5-21-3623811015-3361044348-30300820"
        for ui, user in enumerate(USERS):
            home = f"Users/{user}"
            self.write(f"{home}/NTUSER.DAT", self.hive(S(8 << 20) // 4096 * 4096 + 4096, f"{user}-NTUSER"))
            self.write(f"{home}/NTUSER.DAT.LOG1", self.hive_log(S(1 << 20), user))
            self.write(f"{home}/NTUSER.DAT.LOG2", b"")
            self.write(f"{home}/ntuser.dat{{53b39e88-18c4-11ea-a811-000d3aa4692b}}.TM.blf", r.randbytes(S(65536)))
            self.write(f"{home}/ntuser.dat{{53b39e88-18c4-11ea-a811-000d3aa4692b}}.TMContainer00000000000000000001.regtrans-ms",
                       self.hive_log(S(524288), user))
            lw = f"{home}/AppData/Local/Microsoft/Windows"
            self.write(f"{lw}/UsrClass.dat", self.hive(S(4 << 20) // 4096 * 4096 + 4096, f"{user}-UsrClass"))
            self.write(f"{lw}/UsrClass.dat.LOG1", self.hive_log(S(262144), user))
            self.write(f"{lw}/WebCache/WebCacheV01.dat", self.ese(S(24 << 20), 32768, ["url"]))
            self.write(f"{lw}/WebCache/V01.log", self.ese(S(1 << 20), 4096, ["url"]))
            rw = f"{home}/AppData/Roaming/Microsoft/Windows"
            for k in range(70):
                self.write(f"{rw}/Recent/%s%d.lnk" % (r.choice(WORDS), k), self.lnk())
            for k in range(12):
                self.write(f"{rw}/Recent/AutomaticDestinations/%016x.automaticDestinations-ms" % r.getrandbits(64),
                           b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"".join(self.lnk() for _ in range(r.randint(3, 30))))
            self.write(f"{rw}/PowerShell/PSReadLine/ConsoleHost_history.txt", self.text_log(S(r.choice((20000, 400000))), "ps"))
            chrome = f"{home}/AppData/Local/Google/Chrome/User Data/Default"
            self.sqlite_history(f"{chrome}/History", S(60000 if ui == 0 else 25000), "chrome")
            self.cookies(f"{chrome}/Network/Cookies", S(3000))
            self.write(f"{chrome}/Preferences", ('{"profile":{"name":"%s","exit_type":"Normal"},"extensions":{"settings":{%s}}}' % (
                user, ",".join('"%s":{"state":1,"path":"%s"}' % (r.randbytes(16).hex(), self.path_text().replace("\\", "/")) for _ in range(200)))).encode())
            self.write(f"{chrome}/Bookmarks", ('{"roots":{"bookmark_bar":{"children":[%s]}}}' % ",".join(
                '{"name":"%s","url":"https://%s/"}' % (r.choice(WORDS), r.choice(DOMAINS)) for _ in range(300))).encode())
            for k in range(S(40)):  # excluded by the profile (/**/Cache/**)
                self.write(f"{chrome}/Cache/Cache_Data/f_%06x" % k, r.randbytes(r.randint(2000, 200000)))
            self.sqlite_history(f"{home}/AppData/Local/Microsoft/Edge/User Data/Default/History", S(15000), "chrome")
            self.sqlite_history(f"{home}/AppData/Roaming/Mozilla/Firefox/Profiles/x1y2z3.default-release/places.sqlite",
                                S(20000 if ui == 1 else 4000), "firefox")
            self.cookies(f"{home}/AppData/Roaming/Mozilla/Firefox/Profiles/x1y2z3.default-release/cookies.sqlite", S(1500))
            self.sqlite_history(f"{home}/AppData/Local/ConnectedDevicesPlatform/L.{user}/ActivitiesCache.db", S(8000), "chrome")
            if ui < 2:
                self.write(f"{home}/AppData/Local/CrashDumps/%s.%d.dmp" % (r.choice(EXES).lower(), r.randint(1000, 9999)),
                           self.dump(S(r.choice((3 << 20, 12 << 20)))))
            for k in range(6):
                self.write(f"$Recycle.Bin/{sid}-{1001 + ui}/$I%s.docx" % r.randbytes(3).hex().upper(),
                           struct.pack("<QQQ", 2, r.getrandbits(24), self.filetime()) + utf16("C:\\Users\\%s\\Documents\\%s.docx" % (user, r.choice(WORDS))).ljust(520, b"\0"))
                self.write(f"$Recycle.Bin/{sid}-{1001 + ui}/$R%s.docx" % r.randbytes(3).hex().upper(), r.randbytes(S(50000)))
        # what the profile does not take: binaries and documents
        for k in range(30):
            self.write("Windows/System32/%s%d.dll" % (r.choice(WORDS).lower(), k), b"MZ" + r.randbytes(S(r.randint(100000, 1500000))))
            self.write("Program Files/%s/%s.exe" % (r.choice(WORDS), r.choice(EXES).lower()[:-4] + str(k)), b"MZ" + r.randbytes(S(r.randint(100000, 1500000))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dest")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.dest, exist_ok=True)
    Gen(a.dest, a.scale).build()


if __name__ == "__main__":
    main()
