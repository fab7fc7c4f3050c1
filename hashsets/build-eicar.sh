#!/bin/sh
# Rebuild the known-bad EICAR test set from the committed digest lists.
#
#   FIELDKIT=path/to/fieldkit sh hashsets/build-eicar.sh [OUT]     (default OUT: hashsets/eicar.fkhs)
#
# The build is deterministic: the result is byte-identical to the committed eicar.fkhs
# (tests/hashset.rs checks this), so anyone can confirm that the shipped set holds exactly
# the three EICAR digests and nothing else.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/eicar.fkhs"}
"${FIELDKIT:-fieldkit}" hashset build --force --quiet \
    --out "$out" --kind known-bad --name eicar-test \
    --category "EICAR anti-malware test file (harmless)" \
    --description "The EICAR anti-malware test file (68 bytes, https://www.eicar.org): harmless, flagged by every anti-virus product. Use it to prove that known-bad alerting works." \
    "$here/eicar.sha256" "$here/eicar.sha1" "$here/eicar.md5"
