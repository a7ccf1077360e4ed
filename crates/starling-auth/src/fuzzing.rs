//! Properties the fuzz target checks, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use crate::AuthConfig;

/// Parses `data` as a configuration file and reads its authentication,
/// accounts, exports and imports: a config or errors that each name a
/// line and column, never a panic.
pub fn check_auth_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(root) = starling_conf::parse_str(text) else {
        return;
    };
    if let Err(errors) = AuthConfig::from_config(&root) {
        assert!(!errors.is_empty(), "a refusal without a reason");
        for error in errors {
            assert!(error.span.line >= 1, "an error without a place: {error}");
        }
    }
}

/// Reads `data` as a JWT, a decorated JWT file, a creds file and an LDAP
/// DN: each reader answers or refuses, never panics, and what it returns
/// holds together (a decorated JWT is a piece of the text, a DN's
/// attribute types are named).
pub fn check_jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::jwt::decode_and_verify(&text);
    let inner = crate::jwt::decorated_jwt(&text);
    assert!(text.contains(inner), "a decorated JWT from elsewhere");
    if let Some(jwt) = crate::jwt::jwt_from_creds(&text) {
        let _ = crate::jwt::decode_and_verify(jwt);
    }
    if let Some(dn) = crate::parse_dn(&text) {
        for rdn in dn {
            assert!(
                rdn.iter().all(|(kind, _)| !kind.is_empty()),
                "an unnamed attribute"
            );
        }
    }
}
