//! Replays the committed fuzz seeds (`fuzz/seeds/ws_*`) on stable.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        check(&std::fs::read(entry.expect("entry").path()).expect("seed"));
        replayed += 1;
    }
    assert!(replayed > 0, "no seeds in {}", dir.display());
}

#[test]
fn websocket_seeds_hold() {
    replay("ws_frame", starling_ws::fuzzing::check_frames);
    replay("ws_upgrade", starling_ws::fuzzing::check_upgrade);
    replay("ws_inflate", starling_ws::fuzzing::check_inflate);
}
