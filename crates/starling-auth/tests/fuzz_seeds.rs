//! Replays the committed fuzz seeds (`fuzz/seeds/auth_config/`,
//! `fuzz/seeds/jwt/`) on stable.

use std::path::Path;

#[test]
fn auth_config_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/auth_config");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_auth::fuzzing::check_auth_config(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}

#[test]
fn jwt_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/jwt");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_auth::fuzzing::check_jwt(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
