//! Authenticode certificate tables of PE files: the WIN_CERTIFICATE framing (goblin) and
//! the PKCS#7 SignedData inside it (RustCrypto `cms` / `x509-cert`), reduced to what an
//! examiner reads: who signed, who issued the signer's certificate, validity, digest.
//!
//! Owns description only. It never verifies a signature or the image digest, and says
//! so in its output: "signed" here means "carries a signature block", not "trusted".

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::Encode;
use goblin::pe::certificate_table::{AttributeCertificate, AttributeCertificateType};
use serde_json::{Value, json};

/// OID of PKCS#7 signedData.
const SIGNED_DATA_OID: &str = "1.2.840.113549.1.7.2";
/// Upper bound on entries read from one table (real files carry one, rarely two).
const MAX_ENTRIES: usize = 16;

/// Describes a certificate table; `Err` is a one-line reason the table is malformed.
pub fn describe_table(table: &[u8]) -> Result<Vec<Value>, String> {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    while offset < table.len() && entries.len() < MAX_ENTRIES {
        let start = offset;
        let attr = AttributeCertificate::parse(table, &mut offset)
            .map_err(|e| format!("certificate table entry at +{start}: {e}"))?;
        let mut entry = json!({
            "offset_in_table": start,
            "length": attr.length,
            "revision": format!("{:#06x}", attr.revision as u16),
            "type": cert_type_name(attr.certificate_type),
        });
        if attr.certificate_type == AttributeCertificateType::PkcsSignedData {
            match describe_signed_data(attr.certificate) {
                Ok(details) => merge(&mut entry, details),
                Err(reason) => {
                    entry["pkcs7_error"] = Value::String(reason);
                }
            }
        }
        entries.push(entry);
        if offset <= start {
            break;
        }
    }
    Ok(entries)
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn cert_type_name(t: AttributeCertificateType) -> &'static str {
    match t {
        AttributeCertificateType::X509 => "x509",
        AttributeCertificateType::PkcsSignedData => "pkcs7_signed_data",
        AttributeCertificateType::Reserved1 => "reserved",
        AttributeCertificateType::TsStackSigned => "ts_stack_signed",
    }
}

/// Parses a DER ContentInfo(SignedData) that may be followed by alignment padding.
fn describe_signed_data(der_bytes: &[u8]) -> Result<Value, String> {
    let mut reader =
        der::SliceReader::new(der_bytes).map_err(|e| format!("PKCS#7 blob unreadable: {e}"))?;
    let info = <ContentInfo as der::Decode>::decode(&mut reader)
        .map_err(|e| format!("PKCS#7 ContentInfo does not decode: {e}"))?;
    if info.content_type.to_string() != SIGNED_DATA_OID {
        return Err(format!(
            "PKCS#7 content type is {}, not signedData",
            info.content_type
        ));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| format!("PKCS#7 SignedData does not decode: {e}"))?;

    let certificates: Vec<&x509_cert::Certificate> = signed
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(cert) => Some(cert),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();

    let mut signers = Vec::new();
    for signer in signed.signer_infos.0.iter() {
        let digest = digest_name(&signer.digest_alg.oid.to_string());
        let mut described = json!({ "digest_algorithm": digest });
        match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                described["issuer"] = Value::String(id.issuer.to_string());
                described["serial"] =
                    Value::String(crate::triage::hex(id.serial_number.as_bytes()));
                let matching = certificates.iter().find(|c| {
                    c.tbs_certificate.issuer == id.issuer
                        && c.tbs_certificate.serial_number == id.serial_number
                });
                if let Some(cert) = matching {
                    merge(&mut described, describe_certificate(cert));
                }
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                described["subject_key_identifier"] =
                    Value::String(crate::triage::hex(ski.0.as_bytes()));
            }
        }
        signers.push(described);
    }
    let chain: Vec<Value> = certificates
        .iter()
        .map(|c| describe_certificate(c))
        .collect();
    Ok(json!({
        "signers": signers,
        "certificates": chain,
        "verified": false,
    }))
}

fn describe_certificate(cert: &x509_cert::Certificate) -> Value {
    let tbs = &cert.tbs_certificate;
    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    let fingerprint = cert
        .to_der()
        .map(|der| {
            use sha2::Digest;
            crate::triage::hex(&sha2::Sha256::digest(der))
        })
        .unwrap_or_default();
    json!({
        "subject": tbs.subject.to_string(),
        "issuer": tbs.issuer.to_string(),
        "serial": crate::triage::hex(tbs.serial_number.as_bytes()),
        "not_before": i64::try_from(not_before).ok().and_then(|s| crate::timefmt::unix_utc(s, 0)),
        "not_after": i64::try_from(not_after).ok().and_then(|s| crate::timefmt::unix_utc(s, 0)),
        "sha256": fingerprint,
    })
}

fn digest_name(oid: &str) -> String {
    match oid {
        "1.3.14.3.2.26" => "sha1".to_string(),
        "2.16.840.1.101.3.4.2.1" => "sha256".to_string(),
        "2.16.840.1.101.3.4.2.2" => "sha384".to_string(),
        "2.16.840.1.101.3.4.2.3" => "sha512".to_string(),
        "1.2.840.113549.2.5" => "md5".to_string(),
        other => other.to_string(),
    }
}

/// The common name (`CN=`) of an RFC 4514 distinguished name, for short titles.
pub fn common_name(dn: &str) -> Option<&str> {
    dn.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_tables_are_errors_not_panics() {
        assert!(describe_table(&[0xff; 3]).is_err());
        let mut bogus = vec![0u8; 64];
        bogus[..4].copy_from_slice(&64u32.to_le_bytes());
        bogus[4..6].copy_from_slice(&0x0200u16.to_le_bytes());
        bogus[6..8].copy_from_slice(&2u16.to_le_bytes());
        let entries = describe_table(&bogus).expect("framing is valid");
        assert_eq!(entries.len(), 1);
        assert!(entries[0]["pkcs7_error"].is_string());
    }

    #[test]
    fn common_name_is_taken_from_the_dn() {
        assert_eq!(
            common_name("CN=Microsoft Windows UEFI Driver Publisher,O=Microsoft Corporation"),
            Some("Microsoft Windows UEFI Driver Publisher")
        );
        assert_eq!(common_name("O=x"), None);
    }
}
