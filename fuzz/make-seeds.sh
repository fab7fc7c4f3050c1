#!/usr/bin/env bash
# Regenerates the seed corpus fuzz/corpus/<target>/ of every fuzz target in
# src/fuzz_targets.rs: small real files made with the real tools (mkfs.fat, mkfs.ext4,
# mkfs.exfat, mkntfs + ntfs-3g, sfdisk, ewfacquire, qemu-img, gcc, mingw, clang,
# osslsigncode, 7z, zip, age, gpg, openssl, cryptsetup, keepassxc-cli, sqlite3, hashdeep,
# ssh-keygen, sleuthkit's istat, fieldkit itself) or copied from the real third-party
# definition libraries under ../shared/thirdparty.
# Tools embed times and random IDs, so a rerun gives different bytes of the same kinds.
#
#   fuzz/make-seeds.sh            # all targets (~1 minute; root only for the FUSE
#                                 # mounts that put files into the exFAT and NTFS seeds)
#   fuzz/make-seeds.sh fs_fat     # only the named targets
#
# Files found by the fuzzers (crashes fixed since, interesting inputs) live beside the
# made seeds as `found-*` and are never removed by this script. The whole corpus stays
# near 1 MB (1.4 MB, of which the FAT32 seed's 256 KiB table, the smallest VHDX layout
# and the packed NTFS volume are over half): images are the smallest the tools make, cut
# after their last non-zero sector (the readers note a file system larger than its
# volume and read on); the NTFS one is packed to its non-zero sectors (fs_ntfs below).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
corpus=$here/corpus
thirdparty=${FIELDKIT_THIRDPARTY:-$here/../../shared/thirdparty}
[ -d "$thirdparty" ] || thirdparty=/work/shared/thirdparty
fieldkit=${FIELDKIT:-$here/../target/debug/fieldkit}
[ -x "$fieldkit" ] || (cd .. && cargo build --quiet --bin fieldkit)
recipient=$(sed -n 's/^# public key: //p' keys/seed-identity.age)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC LC_ALL=C

wanted() { [ -z "$WANT" ] || [[ " $WANT " == *" $1 "* ]]; }
WANT="$*"
# fresh TARGET: empty its made seeds (keeping found-*), print its directory
fresh() {
  mkdir -p "$corpus/$1"
  find "$corpus/$1" -maxdepth 1 -type f ! -name 'found-*' -delete
  echo "$corpus/$1"
}
need() { command -v "$1" >/dev/null || { echo "make-seeds: $1 missing (apt-get install $2)" >&2; exit 1; }; }

# A small tree used by several seeds.
tree=$work/tree
mkdir -p "$tree/docs/sub" "$tree/Windows/System32"
printf 'hello\n' >"$tree/a.txt"
head -c 3000 /etc/services >"$tree/docs/a long file name.txt"
printf 'tiny' >"$tree/docs/sub/tiny"
printf 'MZ not really\n' >"$tree/Windows/System32/x.dll"
ln -s a.txt "$tree/link"

# ---------------------------------------------------------------- profiles, importers
if wanted profile_toml; then
  d=$(fresh profile_toml)
  cp ../profiles/all-files.toml ../profiles/linux-triage.toml ../profiles/windows-triage.toml "$d/"
fi
if wanted import_kape; then
  d=$(fresh import_kape)
  k=$thirdparty/kapefiles/Targets
  cp "$k/Windows/EventLogs.tkape" "$k/Windows/\$MFT.tkape" "$k/Compound/KapeTriage.tkape" "$d/"
  cp "$(find "$k/Browsers" -name 'Chrome.tkape' | head -1)" "$d/" 2>/dev/null || true
fi
if wanted import_uac; then
  d=$(fresh import_uac)
  a=$thirdparty/uac/artifacts
  cp "$a/files/ssh/authorized_keys.yaml" "$d/"
  cp "$a/chkrootkit/chkrootkit.yaml" "$d/"
  cp "$(find "$a/live_response" -name '*.yaml' -size -3k | sort | head -1)" "$d/live_response.yaml"
  cp "$(find "$a/files" -name '*.yaml' -size -3k | sort | sed -n 5p)" "$d/files.yaml"
fi
if wanted import_fa; then
  d=$(fresh import_fa)
  f=$thirdparty/forensicartifacts/artifacts/data
  cp "$f/java.yaml" "$f/docker.yaml" "$f/user.yaml" "$d/"
  # A Windows registry/file mix: the first 6 documents of windows.yaml.
  awk '/^---/{n++} n<6' "$f/windows.yaml" >"$d/windows-head.yaml"
fi

# ---------------------------------------------------------------- hash lists and sets
if wanted hashlist_sums; then
  d=$(fresh hashlist_sums)
  (cd "$tree" && sha256sum a.txt docs/*.txt docs/sub/tiny) >"$d/sha256sum.txt"
  (cd "$tree" && md5sum --tag a.txt "docs/a long file name.txt") >"$d/md5-bsd-tag.txt"
  (cd "$tree" && sha1sum -b a.txt docs/sub/tiny && sha1sum -z a.txt | tr '\0' '\n') >"$d/sha1sum.txt"
  (cd "$tree" && sha256sum a.txt | cut -c1-64; md5sum docs/sub/tiny | cut -c1-32) >"$d/plain-hashes.txt"
fi
if wanted hashlist_hashdeep; then
  need hashdeep hashdeep
  d=$(fresh hashlist_hashdeep)
  (cd "$tree" && hashdeep -c md5,sha1,sha256 -r .) >"$d/hashdeep-all.txt"
  (cd "$tree" && hashdeep -c sha256 -l -r docs) >"$d/hashdeep-sha256.txt"
fi
if wanted hashlist_nsrl_txt; then
  d=$(fresh hashlist_nsrl_txt)
  {
    printf '\xef\xbb\xbf"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\r\n'
    for f in "$tree/a.txt" "$tree/docs/sub/tiny"; do
      printf '"%s","%s","%s","%s",%d,190,"362",""\r\n' \
        "$(sha1sum "$f" | cut -c1-40 | tr a-f A-F)" "$(md5sum "$f" | cut -c1-32 | tr a-f A-F)" \
        "7A5407CA" "a, \"\"quoted\"\" $(basename "$f")" "$(stat -c %s "$f")"
    done
  } >"$d/NSRLFile.txt"
fi
if wanted hashlist_nsrl_sqlite; then
  need sqlite3 sqlite3
  d=$(fresh hashlist_nsrl_sqlite)
  {
    echo "PRAGMA page_size=1024;"
    echo "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, package_id INTEGER NOT NULL);"
    echo "CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP, release_date TIMESTAMP, description VARCHAR);"
    echo "INSERT INTO VERSION VALUES ('2024.03.1', 'Modern', '2024-02-28', '2024-03-01', 'minimal');"
    for f in "$tree/a.txt" "$tree/docs/sub/tiny" "$tree/link"; do
      echo "INSERT INTO FILE VALUES ('$(sha256sum "$f" | cut -c1-64 | tr a-f A-F)', '$(sha1sum "$f" | cut -c1-40 | tr a-f A-F)', '$(md5sum "$f" | cut -c1-32 | tr a-f A-F)', '00000000', '$(basename "$f")', 5, 1);"
    done
    echo "INSERT INTO FILE VALUES ('XYZ', '', 'not hex', '0', 'bad.dll', -1, 2);"
  } | sqlite3 "$d/rds-minimal.db"
fi
if wanted hashlist_vics; then
  d=$(fresh hashlist_vics)
  a=$tree/a.txt t=$tree/docs/sub/tiny
  m() { md5sum "$1" | cut -c1-32 | tr a-f A-F; }
  s() { sha1sum "$1" | cut -c1-40 | tr a-f A-F; }
  printf '\xef\xbb\xbf{\r\n"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media",\r\n"value": [\r\n{"MediaID": 1, "Category": 1, "MD5": "%s", "SHA1": "%s", "MediaSize": 6, "IsPrecategorized": "true"},\r\n{"MediaID": 2, "Category": 0, "MD5": "%s", "SHA1": "%s", "MediaSize": 4},\r\n{"MediaID": 5, "Category": 1, "PhotoDNA": "AAAA"}\r\n]\r\n}\r\n' \
    "$(m "$a")" "$(s "$a")" "$(m "$t")" "$(s "$t")" >"$d/vics-2.0.json"
  printf '{"odata.metadata": "x#Cases", "value": [{"CaseNumber": "C1", "Media": [{"MediaID": 1, "Category": 2, "MD5": "%s"}]}]}\n' \
    "$(m "$a")" >"$d/vics-1.x.json"
fi
if wanted hashset_fkhs; then
  d=$(fresh hashset_fkhs)
  cp ../hashsets/eicar.fkhs "$d/eicar.fkhs"
  (cd "$tree" && sha256sum a.txt docs/sub/tiny && md5sum a.txt && sha1sum a.txt) >"$work/list.txt"
  "$fieldkit" hashset build --kind known-bad --name fuzz-seed --out "$d/three-algorithms.fkhs" "$work/list.txt" >/dev/null
fi

# ---------------------------------------------------------------- bundles, age, signers
bundles() {
  [ -f "$work/bundle/done" ] && return
  mkdir -p "$work/bundle"
  "$fieldkit" collect --source "$tree" --out "$work/bundle/plain" --case FUZZ-1 --exhibit EX-1 \
    --examiner fuzz >/dev/null 2>&1
  "$fieldkit" collect --source "$tree" --out "$work/bundle/age" --case FUZZ-2 --exhibit EX-2 \
    --examiner fuzz --encrypt-to "$recipient" >/dev/null 2>&1
  touch "$work/bundle/done"
}
if wanted bundle_verify; then
  bundles
  d=$(fresh bundle_verify)
  cp "$(find "$work/bundle/plain" -name '*.zip' | head -1)" "$d/fieldkit-bundle.zip"
  # Any ZIP must be judged, not only fieldkit's: one made by Info-ZIP.
  (cd "$tree" && zip -q -X -r "$d/info-zip.zip" a.txt docs)
fi
if wanted age_bundle_verify; then
  bundles
  d=$(fresh age_bundle_verify)
  cp "$(find "$work/bundle/age" -name '*.zip.age' | head -1)" "$d/fieldkit-bundle.zip.age"
fi
if wanted age_reader; then
  need age age
  d=$(fresh age_reader)
  age -r "$recipient" -o "$d/small.age" "$tree/a.txt"
  # Two payload chunks (64 KiB + a few bytes).
  head -c 65600 /dev/zero | tr '\0' 'a' | age -r "$recipient" -o "$d/two-chunks.age"
  # ssh-ed25519 and X25519 stanzas in one header.
  ssh-keygen -q -t ed25519 -N '' -C fuzz -f "$work/id_ed25519"
  age -r "$recipient" -R "$work/id_ed25519.pub" -o "$d/two-stanzas.age" "$tree/a.txt"
fi
if wanted allowed_signers; then
  d=$(fresh allowed_signers)
  [ -f "$work/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fuzz -f "$work/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C ca -f "$work/ca"
  k=$(cut -d' ' -f1,2 "$work/id_ed25519.pub")
  c=$(cut -d' ' -f1,2 "$work/ca.pub")
  {
    echo "# lab examiners"
    echo "examiner@lab.example $k"
    echo "\"a@lab.example,*@unit.example,!bad@unit.example\" namespaces=\"fieldkit-evidence,file\" $k"
    echo "x@lab.example valid-after=\"20240101\",valid-before=\"20301231235959Z\" $k"
    echo "*@lab.example cert-authority,namespaces=\"!git,fieldkit-*\" $c"
  } >"$d/allowed_signers"
  echo "examiner@lab.example namespaces=\"fieldkit-evidence\" $k" >"$d/one-line"
fi

# ---------------------------------------------------------------- triage
if wanted triage_executables; then
  need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
  need osslsigncode osslsigncode
  d=$(fresh triage_executables)
  cat >"$work/hello.c" <<'EOF'
#include <stdio.h>
int main(int argc, char **argv) { (void)argv; printf("hello %d\n", argc); return 0; }
EOF
  gcc -Os -s -o "$d/elf-x86_64" "$work/hello.c"
  gcc -Os -m32 -s -o "$d/elf-i386" "$work/hello.c" 2>/dev/null || rm -f "$d/elf-i386"
  gcc -Os -c -o "$d/elf-object.o" "$work/hello.c"
  # The signed PE holds the unsigned one (plus its certificate table): one seed.
  x86_64-w64-mingw32-gcc -Os -s -o "$work/pe.exe" "$work/hello.c"
  openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=Fuzz Seed Signer" -days 3650 \
    -keyout "$work/sign.key" -out "$work/sign.crt" >/dev/null 2>&1
  osslsigncode sign -certs "$work/sign.crt" -key "$work/sign.key" -n "fuzz seed" \
    -in "$work/pe.exe" -out "$d/pe-signed.exe" >/dev/null
  # Mach-O objects (thin, two architectures) from clang's cross back ends.
  printf 'int f(int x) { return x * 3; }\n' >"$work/f.c"
  clang -target x86_64-apple-macos11 -c -o "$d/macho-x86_64.o" "$work/f.c"
  clang -target arm64-apple-macos11 -c -o "$work/macho-arm64.o" "$work/f.c"
  if command -v llvm-lipo >/dev/null; then
    llvm-lipo -create "$d/macho-x86_64.o" "$work/macho-arm64.o" -output "$d/macho-fat.o"
  else
    cp "$work/macho-arm64.o" "$d/macho-arm64.o"
  fi
fi
if wanted triage_encryption; then
  need 7z p7zip-full
  d=$(fresh triage_encryption)
  (cd "$tree" && 7z a -bd -psecret -mhe=on "$d/hidden-names.7z" a.txt docs >/dev/null)
  (cd "$tree" && 7z a -bd -psecret "$d/encrypted.7z" a.txt >/dev/null)
  (cd "$tree" && 7z a -bd "$d/plain.7z" a.txt docs >/dev/null)
  (cd "$tree" && zip -q -X -P secret "$d/zipcrypto.zip" a.txt)
  (cd "$tree" && 7z a -bd -tzip -psecret -mem=AES256 "$d/aes.zip" a.txt >/dev/null)
  age -p -o "$d/passphrase.age" "$tree/a.txt" </dev/null 2>/dev/null ||
    age -r "$recipient" -o "$d/x25519.age" "$tree/a.txt"
  mkdir -p "$work/gnupg" && chmod 700 "$work/gnupg"
  gpg --homedir "$work/gnupg" --batch --yes --pinentry-mode loopback --passphrase secret \
    --symmetric -o "$d/symmetric.gpg" "$tree/a.txt" 2>/dev/null
  gpg --homedir "$work/gnupg" --batch --yes --pinentry-mode loopback --passphrase secret \
    --symmetric --armor -o "$d/symmetric.asc" "$tree/a.txt" 2>/dev/null
  openssl enc -aes-256-cbc -pbkdf2 -pass pass:secret -in "$tree/a.txt" -out "$d/openssl.enc"
  # Container headers: the first 8 KiB is all the detectors read.
  for v in luks1 luks2; do
    truncate -s 16M "$work/$v.img"
    printf 'secret' >"$work/keyfile"
    cryptsetup luksFormat --batch-mode --type $v --pbkdf-force-iterations 1000 \
      $([ $v = luks2 ] && echo --pbkdf pbkdf2 --label exhibit-7) --key-file "$work/keyfile" "$work/$v.img"
    head -c 8192 "$work/$v.img" >"$d/$v-header.img"
  done
  printf 'secret\nsecret\n' | keepassxc-cli db-create -p "$d/Passwords.kdbx" >/dev/null 2>&1 || true
  # No Debian tool writes these: the published formats (as tests/triage_encryption.rs).
  printf '{"encrypted": true, "passwordProtected": true, "salt": "c2FsdA==", "kdfType": 0, "kdfIterations": 600000, "encKeyValidation_DO_NOT_EDIT": "2.abc|def|ghi", "data": "2.xyz|uvw|rst"}' >"$d/bitwarden-encrypted.json"
  printf 'folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n,,login,bank,,,0,https://bank.example,u,p,\n' >"$d/bitwarden.csv"
  printf '{"uuid":"A1","title":"bank"}\n***5642bee8-a5ff-11dc-8314-0800200c9a66***\n' >"$d/data.1pif"
  printf 'var profile={"lastUpdatedBy":"Dropbox","salt":"x","masterKey":"b3BkYXRh"};' >"$d/opvault-profile.js"
fi
if wanted triage_virtual_assets; then
  d=$(fresh triage_virtual_assets)
  # A checksum-valid BIP39 phrase (the reference vectors' first 12-word entry) and
  # checksum-valid addresses of several kinds, in text as people keep them.
  phrase=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(next(e[1] for e in v["english"] if len(e[1].split())==12))' ../tests/data/bip39-vectors-english.json)
  {
    echo "my wallet backup: $phrase"
    echo "BTC 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    echo "bech32 bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    echo "ETH 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
  } >"$d/notes.txt"
  printf '%s\r\n' "${phrase^^}" | iconv -f UTF-8 -t UTF-16LE >"$d/utf16-phrase.txt" 2>/dev/null || true
  printf '// Mozilla User Preferences\nuser_pref("browser.startup.page", 3);\nuser_pref("extensions.webextensions.uuids", "{\\"webextension@metamask.io\\":\\"0b6b2e5e-7d2c-4b4c-9e6f-1a2b3c4d5e6f\\",\\"x@y\\":\\"11111111-2222-3333-4444-555555555555\\"}");\n' >"$d/prefs.js"
  printf 'https://www.coinbase.com/signin\nhttps://tornado.cash/\nhttps://example.org/\n' >"$d/history.txt"
fi

# ---------------------------------------------------------------- images
# A 64 KiB FAT12 file system with the tree: also the media of the container seeds.
fat12() {
  [ -f "$work/fat12.img" ] && return
  need mcopy mtools
  mkfs.fat -C -F 12 -n FUZZSEED "$work/fat12.img" 64 >/dev/null
  mcopy -s -i "$work/fat12.img" "$tree/a.txt" "$tree/docs" ::/
}
# A 32 KiB disk (also the media of the container seeds): MBR with an extended partition and two logical ones (each EBR inside).
mbr() {
  [ -f "$work/mbr.img" ] && return
  need sfdisk fdisk
  truncate -s 32K "$work/mbr.img"
  printf 'label: dos\nunit: sectors\nsector-size: 512\n\nstart=4, size=10, type=83\nstart=14, size=50, type=5\nstart=16, size=20, type=b\nstart=38, size=26, type=7\n' |
    sfdisk -q --no-reread --no-tell-kernel "$work/mbr.img" >/dev/null
  printf 'FAT-less data in partition 1\n' | dd of="$work/mbr.img" bs=512 seek=4 conv=notrunc status=none
}
# cut FILE: drop the trailing all-zero 512-byte sectors
cut_zeros() {
  python3 - "$1" <<'EOF'
import sys
p = sys.argv[1]
d = open(p, 'rb').read()
end = len(d)
while end >= 512 and not any(d[end - 512:end]):
    end -= 512
open(p, 'wb').write(d[:end])
EOF
}
if wanted fs_fat; then
  fat12
  d=$(fresh fs_fat)
  cp "$work/fat12.img" "$d/fat12.img"
  cut_zeros "$d/fat12.img"
  mkfs.fat -C -F 16 -s 1 -n FAT16SEED "$work/fat16.img" 2100 >/dev/null
  mcopy -s -i "$work/fat16.img" "$tree/a.txt" "$tree/docs" ::/
  mkfs.fat -C -F 32 -s 1 -f 1 -n FAT32SEED "$work/fat32.img" 34000 >/dev/null 2>&1
  mcopy -s -i "$work/fat32.img" "$tree/a.txt" "$tree/docs" ::/
  for f in fat16 fat32; do cut_zeros "$work/$f.img"; cp "$work/$f.img" "$d/$f-cut.img"; done
fi
if wanted fs_exfat; then
  need mkfs.exfat exfatprogs
  d=$(fresh fs_exfat)
  truncate -s 256K "$work/exfat.img"
  mkfs.exfat -c 4K -b 16K -L FUZZSEED "$work/exfat.img" >/dev/null
  # Files go in through exfat-fuse when it can mount here (root, FUSE); else empty.
  if command -v mount.exfat-fuse >/dev/null && [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
    loop=$(losetup -f --show "$work/exfat.img")
    mkdir -p "$work/mnt"
    if mount.exfat-fuse "$loop" "$work/mnt" 2>/dev/null; then
      cp -r "$tree/a.txt" "$tree/docs" "$work/mnt/" && sync
      umount "$work/mnt"
    fi
    losetup -d "$loop"
  fi
  cp "$work/exfat.img" "$d/exfat.img"
  cut_zeros "$d/exfat.img"
fi
if wanted fs_ext4; then
  d=$(fresh fs_ext4)
  mkfs.ext4 -q -F -b 1024 -N 32 -O ^has_journal -d "$tree" "$d/ext4.img" 128K
  mkfs.ext4 -q -F -b 1024 -N 32 -O ^has_journal,inline_data -d "$tree" "$d/ext4-inline.img" 128K
  mkfs.ext2 -q -F -b 1024 -N 32 -d "$tree" "$d/ext2.img" 96K
  for f in "$d"/*.img; do cut_zeros "$f"; done
fi
if wanted fs_ntfs; then
  need mkntfs ntfs-3g
  need istat sleuthkit
  need setfattr attr
  d=$(fresh fs_ntfs)
  # The smallest mkntfs volume (1 MiB + the backup boot sector, 512-byte clusters), files
  # written through an ntfs-3g FUSE mount (root): nested folders, a non-resident file, an
  # alternate data stream (resident and non-resident, set as user.* xattrs), a hard link,
  # a symbolic link, a sparse file, a folder big enough for an $I30 index block and an
  # attribute list, and deleted files (records not in use, for the deleted scan).
  img=$work/ntfs.img
  truncate -s 1040K "$img"
  mkntfs -F -Q -q -s 512 -c 512 -p 0 -H 0 -S 0 -L NTFSSEED "$img" 2>/dev/null
  mkdir -p "$work/ntfs-mnt"
  ntfs-3g "$img" "$work/ntfs-mnt"
  (
    cd "$work/ntfs-mnt"
    cp -r "$tree/a.txt" "$tree/docs" "$tree/Windows" .
    mkdir many
    for i in $(seq 1 24); do printf '%s' "$i" >"many/entry number $i with a longer name.txt"; done
    setfattr -n user.Zone.Identifier -v '[ZoneTransfer]' a.txt
    setfattr -n user.big -v "$(head -c 1500 /etc/services)" "docs/a long file name.txt"
    ln -s a.txt link
    ln a.txt docs/hardlink.txt
    truncate -s 20000 sparse.bin && printf end >>sparse.bin
    printf 'gone\n' >del.txt
    head -c 4000 /etc/services >docs/deleted-big.txt
    sync
    rm del.txt docs/deleted-big.txt "many/entry number 7 with a longer name.txt"
  )
  umount "$work/ntfs-mnt"
  # Packed (the fs_ntfs target's FKSPARSE form, src/source/image/fs/ntfs/mod.rs): the
  # volume's non-zero 512-byte sectors as pieces, without the contents of $LogFile (256
  # KiB of 0xFF) and $UpCase (128 KiB), which the reader never parses.
  skip=$(for rec in 2 10; do
    istat "$img" "$rec" | awk '/^Type: \$DATA \(128-/ {f = 1; next} /^Type:/ {f = 0} f'
  done | tr -s ' \n' '  ')
  python3 - "$img" "$d/mkntfs-ntfs3g.fksparse" "$skip" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
for c in sys.argv[3].split():
    d[int(c) * 512:(int(c) + 1) * 512] = bytes(512)
out = bytearray(b'FKSPARSE' + struct.pack('<Q', len(d)))
i = 0
while i < len(d):
    if not any(d[i:i + 512]):
        i += 512
        continue
    j = i
    while j < len(d) and any(d[j:j + 512]):
        j += 512
    out += struct.pack('<QI', i, j - i) + d[i:j]
    i = j
open(sys.argv[2], 'wb').write(out)
EOF
fi
if wanted volume_table; then
  need sfdisk fdisk
  d=$(fresh volume_table)
  mbr
  cp "$work/mbr.img" "$d/mbr-logical.img"
  cut_zeros "$d/mbr-logical.img"
  # GPT with two named partitions (primary header and table, backup at the end).
  # A 4-entry table (one sector) keeps the disk at 16 KiB.
  truncate -s 16K "$work/gpt.img"
  printf 'label: gpt\nunit: sectors\ntable-length: 4\nfirst-lba: 3\n\nstart=4, size=10, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="linux data"\nstart=16, size=10, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="basic data"\n' |
    sfdisk -q --no-reread --no-tell-kernel "$work/gpt.img" >/dev/null
  cp "$work/gpt.img" "$d/gpt.img"
fi
if wanted container_ewf; then
  need ewfacquire ewf-tools
  mbr
  d=$(fresh container_ewf)
  ewfacquire -u -q -t "$work/deflate" -f encase6 -c fast -S 10MiB -C FUZZ-1 -D seed -E EX-1 \
    -e fuzz -N none "$work/mbr.img" >/dev/null 2>&1
  ewfacquire -u -q -t "$work/stored" -f encase6 -c none -b 64 -S 10MiB -C FUZZ-2 -D seed \
    -E EX-2 -e fuzz -N none "$work/mbr.img" >/dev/null 2>&1
  cp "$work/deflate.E01" "$d/encase6-deflate.E01"
  cp "$work/stored.E01" "$d/encase6-stored.E01"
fi
if wanted container_vhd; then
  need qemu-img qemu-utils
  mbr
  d=$(fresh container_vhd)
  qemu-img convert -q -f raw -O vpc -o subformat=fixed "$work/mbr.img" "$d/fixed.vhd"
  # Dynamic: qemu allocates 2 MiB blocks, so the seed is an empty disk (header, BAT, footer).
  qemu-img create -q -f vpc "$d/dynamic-empty.vhd" 1M
fi
if wanted container_vhdx; then
  need qemu-img qemu-utils
  d=$(fresh container_vhdx)
  # qemu lays a VHDX out over 8 MiB (metadata at 2 MiB, BAT at 3 MiB) and vhdx-core reads
  # none shorter than 2.25 MiB. The seed is qemu's empty disk with its metadata (table and
  # items) and BAT moved to 4 KiB and 8 KiB, region table 1 rewritten (CRC-32C), table 2
  # cleared, and cut after table 1 (196 KiB): the target zero-extends it to 2.25 MiB.
  qemu-img create -q -f vhdx -o block_size=1M,log_size=1M "$work/empty.vhdx" 1M
  python3 - "$work/empty.vhdx" "$d/empty-compact.vhdx" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF
rt = 0x30000
count = struct.unpack_from('<I', d, rt + 8)[0]
out = bytearray(d[:0x30000 + 0x10000])
out[0x1000:0x3000] = bytes(0x2000)
for i in range(count):
    e = rt + 16 + 32 * i
    off, length = struct.unpack_from('<QI', d, e + 16)
    region = d[off:off + length]
    if region[:8] == b'metadata':
        n = struct.unpack_from('<H', region, 10)[0]
        new = bytearray(0x1000)
        new[:32 + 32 * n] = region[:32 + 32 * n]
        at = 0x200
        for j in range(n):
            ie = 32 + 32 * j
            ioff, ilen = struct.unpack_from('<II', region, ie + 16)
            new[at:at + ilen] = region[ioff:ioff + ilen]
            struct.pack_into('<I', new, ie + 16, at)
            at += (ilen + 7) // 8 * 8
        out[0x1000:0x2000] = new
        struct.pack_into('<QI', out, e + 16, 0x1000, 0x1000)
    else:
        out[0x2000:0x3000] = region[:0x1000]
        struct.pack_into('<QI', out, e + 16, 0x2000, 0x1000)
table = bytearray(out[rt:rt + 0x10000])
table[4:8] = bytes(4)
struct.pack_into('<I', out, rt + 4, crc32c(bytes(table)))
while not any(out[-512:]):
    del out[-512:]
open(sys.argv[2], 'wb').write(out)
EOF
fi
if wanted container_vmdk; then
  need qemu-img qemu-utils
  mbr
  d=$(fresh container_vmdk)
  qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$work/mbr.img" "$d/stream-optimized.vmdk"
  qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "$work/mbr.img" "$work/sparse.vmdk"
  cp "$work/sparse.vmdk" "$d/monolithic-sparse.vmdk"
  for f in "$d"/*.vmdk; do cut_zeros "$f"; done
fi
if wanted container_split_raw; then
  d=$(fresh container_split_raw)
  # The target cuts its input into image.001 and image.002: a disk with a table.
  mbr
  cp "$work/mbr.img" "$d/mbr-disk.img"
  cut_zeros "$d/mbr-disk.img"
fi

du -sh "$corpus" | sed 's/^/make-seeds: corpus /'
