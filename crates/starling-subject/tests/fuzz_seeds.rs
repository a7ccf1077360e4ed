//! Replays the committed fuzz seeds (`fuzz/seeds/subject_transform/`) on
//! stable.

use std::path::Path;

#[test]
fn subject_transform_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/subject_transform");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_subject::fuzzing::check_transform(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
