//! What a client's certificate names, for `verify_and_map`, read from the
//! DER with x509-parser and written as Go writes it (nats-server compares
//! user names with Go's strings).

use starling_auth::CertNames;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

/// Attribute types Go names, in the order `pkix.Name.ToRDNSequence` puts
/// them (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER).
const ORDER: [(&str, &str); 9] = [
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

/// The domain component attribute.
const DC: &str = "0.9.2342.19200300.100.1.25";

/// Reads the names of a DER certificate; `None` when it does not parse.
pub(crate) fn cert_names(der: &[u8]) -> Option<CertNames> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut names = CertNames::default();
    if let Ok(Some(sans)) = cert.subject_alternative_name() {
        for name in &sans.value.general_names {
            match name {
                GeneralName::RFC822Name(email) => names.emails.push((*email).to_owned()),
                GeneralName::DNSName(dns) => names.dns_names.push((*dns).to_owned()),
                GeneralName::URI(uri) => names.uris.push((*uri).to_owned()),
                _ => {}
            }
        }
    }
    let attributes = subject_attributes(&cert);
    names.subject = go_subject(&attributes);
    names.domain_components = attributes
        .iter()
        .flatten()
        .filter(|(oid, _)| oid == DC)
        .filter_map(|(_, value)| Some(format!("DC={}", value.as_deref()?)))
        .collect::<Vec<_>>()
        .join(",");
    names.dn = ldap_dn(&attributes);
    Some(names)
}

/// The subject's RDNs in certificate order: (OID, string value if any).
type Attributes = Vec<Vec<(String, Option<String>)>>;

fn subject_attributes(cert: &X509Certificate<'_>) -> Attributes {
    cert.subject()
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let value = atv.as_str().ok().map(str::to_owned);
                    (atv.attr_type().to_id_string(), value)
                })
                .collect()
        })
        .collect()
}

/// Go's `Subject.ToRDNSequence().String()`: the known attributes only,
/// in Go's order, the last first; a type with several values is one
/// multi-valued RDN; CN and SERIALNUMBER keep their last value.
fn go_subject(attributes: &Attributes) -> String {
    let values = |oid: &str| -> Vec<&str> {
        attributes
            .iter()
            .flatten()
            .filter(|(o, _)| o == oid)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    };
    let mut rdns: Vec<String> = Vec::new();
    for (oid, name) in ORDER {
        let mut found = values(oid);
        if matches!(name, "CN" | "SERIALNUMBER") && found.len() > 1 {
            found = found.split_off(found.len() - 1);
        }
        if found.iter().all(|v| v.is_empty()) {
            continue;
        }
        let rdn: Vec<String> = found
            .iter()
            .map(|v| format!("{name}={}", escape(v)))
            .collect();
        rdns.push(rdn.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// RFC 2253 escaping as Go's `RDNSequence.String` does it.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (k, c) in value.chars().enumerate() {
        let escaped = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subject as nats-server's `ldap.FromRawCertSubject` reads it: RDNs
/// and their attributes in reverse order; an attribute it has no name for
/// (or a value that is not a string) leaves no DN.
fn ldap_dn(attributes: &Attributes) -> Option<starling_auth::Dn> {
    let name = |oid: &str| {
        ORDER
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, n)| *n)
            .or_else(|| (oid == DC).then_some("DC"))
    };
    attributes
        .iter()
        .rev()
        .filter(|rdn| !rdn.is_empty())
        .map(|rdn| {
            rdn.iter()
                .rev()
                .map(|(oid, value)| Some((name(oid)?.to_owned(), value.clone()?)))
                .collect::<Option<Vec<_>>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_go_escapes_them() {
        assert_eq!(escape("Acme, Inc"), "Acme\\, Inc");
        assert_eq!(escape(" a "), "\\ a\\ ");
        assert_eq!(escape("#a#"), "\\#a#");
    }

    #[test]
    fn subjects_are_written_as_go_writes_them() {
        let attributes: Attributes = vec![
            vec![("2.5.4.6".into(), Some("US".into()))],
            vec![(DC.into(), Some("example".into()))],
            vec![("2.5.4.10".into(), Some("Acme".into()))],
            vec![("2.5.4.11".into(), Some("a".into()))],
            vec![("2.5.4.11".into(), Some("b".into()))],
            vec![("2.5.4.3".into(), Some("alice".into()))],
        ];
        assert_eq!(go_subject(&attributes), "CN=alice,OU=a+OU=b,O=Acme,C=US");
        let dn = ldap_dn(&attributes).unwrap();
        assert_eq!(dn[0], [("CN".to_owned(), "alice".to_owned())]);
        assert_eq!(dn.len(), 6);
        let email: Attributes = vec![vec![("1.2.840.113549.1.9.1".into(), Some("a@b".into()))]];
        assert_eq!(ldap_dn(&email), None);
        assert_eq!(go_subject(&email), "");
    }
}
