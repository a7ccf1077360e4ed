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
