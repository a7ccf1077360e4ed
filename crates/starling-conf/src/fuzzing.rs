//! The property the `conf_parse` fuzz target checks, kept here so the
//! committed seeds are replayed by `cargo test` on stable as well, and
//! [`layout`], which renders one tree in many layouts for the layout
//! tests and the fuzz seeds.

pub mod layout;
mod rng;

use std::path::Path;

use crate::{ConfParser, Loader};

/// A loader with no files, so fuzzing never touches the disk.
struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, _: &Path) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

/// Parses arbitrary bytes (as UTF-8, lossily): it must return a value or an
/// error with a plausible place, and never panic or hang.
pub fn check_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "FUZZ").then(|| "4222".to_owned());
    match ConfParser::new(&env, &NoFiles).parse_str(&text, Path::new("")) {
        Ok(_) => {}
        Err(error) => {
            let lines = text.split('\n').count() as u32;
            assert!(
                error.span.line <= lines.max(1),
                "error line {} past the end",
                error.span.line
            );
        }
    }
}
