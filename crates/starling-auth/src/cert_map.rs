//! `verify_and_map`: the user a client's TLS certificate names, found as
//! nats-server finds it: its e-mail addresses, then its DNS names, then
//! its URIs, each as a user name; then the subject as an LDAP DN, equal to
//! a user name read as one (or the same RDNs in another order); then the
//! subject as Go prints it, with its domain components and without.

use crate::User;

/// A distinguished name: RDNs, each a list of (type, value), in the order
/// they are written (the certificate's last RDN first).
pub type Dn = Vec<Vec<(String, String)>>;

/// What a client's certificate names (the server reads it from the peer
/// certificate after the handshake).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// E-mail SANs.
    pub emails: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// The subject as Go's `pkix.Name.ToRDNSequence().String()` prints it
    /// (`CN=alice,O=Acme,C=US`: known attributes only, canonical order).
    pub subject: String,
    /// The subject's domain components as `DC=a,DC=b` (empty: none).
    pub domain_components: String,
    /// The subject as an LDAP DN; `None` when it has an attribute the
    /// DN reader does not name (nats-server's reader fails then too).
    pub dn: Option<Dn>,
}

/// The user `names` maps to among `users` (those `allowed` for the
/// connection's kind), in nats-server's order.
pub(crate) fn mapped_user<'a>(
    names: &CertNames,
    users: &'a [User],
    allowed: impl Fn(&User) -> bool,
) -> Option<&'a User> {
    mapped(names, users, |u| &u.name, allowed)
}

/// The candidate `names` maps to among `candidates` (each named by
/// `name_of`, those `allowed`), in nats-server's order: the leafnode
/// port's users and the cluster's user are mapped as the clients' are.
pub fn mapped<'a, T>(
    names: &CertNames,
    candidates: &'a [T],
    name_of: impl Fn(&T) -> &str,
    allowed: impl Fn(&T) -> bool,
) -> Option<&'a T> {
    if names.emails.is_empty() && names.subject.is_empty() && names.uris.is_empty() {
        return None;
    }
    let by_name = |name: &str| candidates.iter().find(|u| name_of(u) == name && allowed(u));
    let sans = names
        .emails
        .iter()
        .chain(&names.dns_names)
        .chain(&names.uris);
    if let Some(found) = sans.into_iter().find_map(|name| by_name(name)) {
        return Some(found);
    }
    if let Some(dn) = &names.dn {
        let read: Vec<(&T, Dn)> = candidates
            .iter()
            .filter(|u| allowed(u))
            .filter_map(|u| Some((u, parse_dn(name_of(u))?)))
            .collect();
        if let Some((found, _)) = read.iter().find(|(_, theirs)| equal(theirs, dn)) {
            return Some(found);
        }
        if let Some((found, _)) = read.iter().find(|(_, theirs)| same_rdns(theirs, dn)) {
            return Some(found);
        }
    }
    if !names.domain_components.is_empty()
        && let Some(found) = by_name(&format!("{},{}", names.subject, names.domain_components))
    {
        return Some(found);
    }
    by_name(&names.subject)
}

/// Reads an LDAP DN (`CN=alice, O=Acme`) as nats-server's `ParseDN` does;
/// `None` when it is not one.
pub fn parse_dn(text: &str) -> Option<Dn> {
    let mut dn = Vec::new();
    let mut rdn = Vec::new();
    let mut buffer = Vec::new();
    let mut kind = String::new();
    let mut trailing = 0;
    let mut bytes = text.bytes().enumerate().peekable();
    let take = |buffer: &mut Vec<u8>, trailing: &mut usize| {
        buffer.truncate(buffer.len() - *trailing);
        *trailing = 0;
        String::from_utf8_lossy(&std::mem::take(buffer)).into_owned()
    };
    while let Some((i, byte)) = bytes.next() {
        match byte {
            b'\\' => {
                trailing = 0;
                let (_, next) = bytes.next()?;
                if b" \"#+,;<=>\\".contains(&next) {
                    buffer.push(next);
                } else {
                    let (_, low) = bytes.next()?;
                    let hex = [next, low];
                    let text = std::str::from_utf8(&hex).ok()?;
                    buffer.push(u8::from_str_radix(text, 16).ok()?);
                }
            }
            b'=' => {
                kind = take(&mut buffer, &mut trailing);
                if text.as_bytes().get(i + 1) == Some(&b'#') {
                    return None;
                }
            }
            b',' | b'+' => {
                if kind.is_empty() {
                    return None;
                }
                rdn.push((std::mem::take(&mut kind), take(&mut buffer, &mut trailing)));
                if byte == b',' {
                    dn.push(std::mem::take(&mut rdn));
                }
            }
            b' ' if buffer.is_empty() => {}
            _ => {
                trailing = if byte == b' ' { trailing + 1 } else { 0 };
                buffer.push(byte);
            }
        }
    }
    if !buffer.is_empty() {
        if kind.is_empty() {
            return None;
        }
        rdn.push((kind, take(&mut buffer, &mut trailing)));
        dn.push(rdn);
    }
    Some(dn)
}

fn same_attributes(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let has = |list: &[(String, String)], (kind, value): &(String, String)| {
        list.iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(kind) && v == value)
    };
    a.len() == b.len() && a.iter().all(|x| has(b, x)) && b.iter().all(|x| has(a, x))
}

fn equal(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_attributes(x, y))
}

fn same_rdns(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| same_attributes(x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User {
            name: name.to_owned(),
            password: crate::Secret::new(""),
            allowed_connection_types: None,
            permissions: None,
            account: None,
            nkey: None,
        }
    }

    fn pair(kind: &str, value: &str) -> Vec<(String, String)> {
        vec![(kind.to_owned(), value.to_owned())]
    }

    #[test]
    fn dns_read_as_nats_server_reads_them() {
        assert_eq!(
            parse_dn("CN=alice, O=Acme\\, Inc,C=US").unwrap(),
            vec![pair("CN", "alice"), pair("O", "Acme, Inc"), pair("C", "US")]
        );
        assert_eq!(parse_dn("CN=a+OU=b").unwrap()[0].len(), 2);
        assert_eq!(parse_dn("CN=\\41b").unwrap(), vec![pair("CN", "Ab")]);
        assert_eq!(parse_dn("alice"), None);
        assert_eq!(parse_dn("CN=#04"), None);
    }

    #[test]
    fn users_are_found_in_nats_servers_order() {
        let users = [
            user("alice@example.com"),
            user("host.example.com"),
            user("O=Acme, CN=bob"),
            user("CN=carol,O=Acme,DC=example,DC=com"),
            user("CN=dave,O=Acme"),
        ];
        let all = |_: &User| true;
        let names = CertNames {
            emails: vec!["alice@example.com".into()],
            dns_names: vec!["host.example.com".into()],
            subject: "CN=x".into(),
            ..CertNames::default()
        };
        assert_eq!(
            mapped_user(&names, &users, all).unwrap().name,
            "alice@example.com"
        );
        let names = CertNames {
            dns_names: vec!["host.example.com".into()],
            subject: "CN=x".into(),
            ..CertNames::default()
        };
        assert_eq!(
            mapped_user(&names, &users, all).unwrap().name,
            "host.example.com"
        );
        // The DN in another order matches.
        let names = CertNames {
            subject: "CN=bob,O=Acme".into(),
            dn: Some(vec![pair("CN", "bob"), pair("O", "Acme")]),
            ..CertNames::default()
        };
        assert_eq!(
            mapped_user(&names, &users, all).unwrap().name,
            "O=Acme, CN=bob"
        );
        let names = CertNames {
            subject: "CN=carol,O=Acme".into(),
            domain_components: "DC=example,DC=com".into(),
            ..CertNames::default()
        };
        assert_eq!(
            mapped_user(&names, &users, all).unwrap().name,
            "CN=carol,O=Acme,DC=example,DC=com"
        );
        let names = CertNames {
            subject: "CN=dave,O=Acme".into(),
            ..CertNames::default()
        };
        assert_eq!(
            mapped_user(&names, &users, all).unwrap().name,
            "CN=dave,O=Acme"
        );
        assert!(mapped_user(&names, &users, |_| false).is_none());
        // DNS names alone, with no subject, map nothing (nats-server's check).
        let names = CertNames {
            dns_names: vec!["host.example.com".into()],
            ..CertNames::default()
        };
        assert!(mapped_user(&names, &users, all).is_none());
    }
}
