//! Replays the committed fuzz seeds (`fuzz/seeds/proto_parse/`,
//! `fuzz/seeds/leaf_parse/`) on stable.

use std::path::Path;

#[test]
fn proto_parse_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/proto_parse");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_proto::fuzzing::check_parser(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}

#[test]
fn leaf_parse_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/leaf_parse");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_proto::fuzzing::check_leaf_parser(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
