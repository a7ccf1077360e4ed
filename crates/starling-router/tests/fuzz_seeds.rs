//! Replays the committed fuzz seeds (`fuzz/seeds/router_ops/`) on stable.

use std::path::Path;

#[test]
fn router_ops_seeds_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/router_ops");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        starling_router::fuzzing::check_router_ops(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}
