//! Properties the fuzz targets check, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use bytes::Bytes;

use crate::Router;

/// Reads `data` as operations (a byte below 4 starts one: 0 subscribe,
/// 1 unsubscribe, 2 look up, 3 queue-subscribe; the bytes up to the next
/// such byte are the subject) and checks every lookup against naive
/// matching. Panics (the fuzzer's signal) on any difference.
pub fn check_router_ops(data: &[u8]) {
    let router: Router<u32> = Router::new();
    let mut subs: Vec<(Bytes, Option<Bytes>, u32)> = Vec::new();
    let mut next_id = 0u32;
    let mut at = 0;
    while at < data.len() {
        let op = data[at];
        let end = data[at + 1..]
            .iter()
            .position(|&b| b < 4)
            .map_or(data.len(), |p| at + 1 + p);
        let subject = Bytes::copy_from_slice(&data[(at + 1).min(end)..end]);
        at = end;
        match op {
            0 | 3 => {
                next_id += 1;
                let queue = (op == 3).then(|| Bytes::from_static(b"q"));
                if router
                    .insert(subject.clone(), queue.clone(), next_id)
                    .is_ok()
                {
                    subs.push((subject, queue, next_id));
                }
            }
            1 => {
                if let Some(pos) = subs.iter().position(|(s, _, _)| *s == subject) {
                    let (s, q, id) = subs.remove(pos);
                    assert!(
                        router.remove(&s, q.as_deref(), &id),
                        "stored subscription not removed"
                    );
                }
            }
            2 => {
                let got = router.lookup(&subject);
                let mut plain = got.plain.clone();
                let mut queued: Vec<u32> = got
                    .queues
                    .iter()
                    .flat_map(|g| g.members.iter().copied())
                    .collect();
                plain.sort_unstable();
                queued.sort_unstable();
                let routable =
                    !subject.is_empty() && !subject.split(|&b| b == b'.').any(<[u8]>::is_empty);
                let expect = |queue: bool| {
                    let mut ids: Vec<u32> = subs
                        .iter()
                        .filter(|(f, q, _)| {
                            routable
                                && q.is_some() == queue
                                && starling_subject::matches(f, &subject)
                        })
                        .map(|(_, _, id)| *id)
                        .collect();
                    ids.sort_unstable();
                    ids
                };
                assert_eq!(
                    (plain, queued),
                    (expect(false), expect(true)),
                    "lookup differs from naive matching"
                );
            }
            _ => {}
        }
    }
}
