//! Replays the committed fuzz seeds (`fuzz/seeds/conf_parse/`) on stable.

use std::path::Path;

#[test]
fn conf_parse_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/conf_parse");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_conf::fuzzing::check_conf(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
