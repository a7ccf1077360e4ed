//! The router against a naive oracle: random subscribe, unsubscribe and
//! lookup operations, checked after each step against a plain list of
//! subscriptions matched one by one with `starling_subject::matches`.
//! This is what keeps the cache honest under subscription churn.

use std::collections::BTreeMap;

use bytes::Bytes;
use starling_router::Router;

/// A small deterministic generator, so a failure replays exactly.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const TOKENS: &[&str] = &["a", "b", "c", "*", ">"];
const SUBJECT_TOKENS: &[&str] = &["a", "b", "c"];
const QUEUES: &[&str] = &["", "", "q1", "q2"];

fn random_subject(rng: &mut XorShift, tokens: &[&str], wildcards: bool) -> String {
    let n = 1 + rng.next() % 4;
    let mut parts = Vec::new();
    for i in 0..n {
        let mut t = rng.pick(tokens);
        if t == ">" && (i + 1 != n || !wildcards) {
            t = "a";
        }
        parts.push(t);
    }
    parts.join(".")
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sub {
    id: u32,
    filter: String,
    queue: Option<String>,
}

fn expected(subs: &BTreeMap<u32, Sub>, subject: &str) -> (Vec<u32>, BTreeMap<String, Vec<u32>>) {
    let mut plain = Vec::new();
    let mut queues: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for sub in subs.values() {
        if starling_subject::matches(sub.filter.as_bytes(), subject.as_bytes()) {
            match &sub.queue {
                None => plain.push(sub.id),
                Some(q) => queues.entry(q.clone()).or_default().push(sub.id),
            }
        }
    }
    plain.sort_unstable();
    (plain, queues)
}

#[test]
fn router_agrees_with_naive_matching_under_churn() {
    for seed in 1..=20u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let router: Router<u32> = Router::new();
        let mut subs: BTreeMap<u32, Sub> = BTreeMap::new();
        let mut next_id = 0;
        for step in 0..2000 {
            match rng.next() % 3 {
                0 => {
                    let filter = random_subject(&mut rng, TOKENS, true);
                    let queue = Some(rng.pick(QUEUES))
                        .filter(|q| !q.is_empty())
                        .map(str::to_owned);
                    next_id += 1;
                    router
                        .insert(filter.clone(), queue.clone().map(Bytes::from), next_id)
                        .unwrap();
                    subs.insert(
                        next_id,
                        Sub {
                            id: next_id,
                            filter,
                            queue,
                        },
                    );
                }
                1 if !subs.is_empty() => {
                    let nth = (rng.next() % subs.len() as u64) as usize;
                    let sub = subs.values().nth(nth).cloned().unwrap();
                    assert!(router.remove(
                        sub.filter.as_bytes(),
                        sub.queue.as_deref().map(str::as_bytes),
                        &sub.id
                    ));
                    subs.remove(&sub.id);
                }
                _ => {
                    let subject = random_subject(&mut rng, SUBJECT_TOKENS, false);
                    let got = router.lookup(subject.as_bytes());
                    let mut plain = got.plain.clone();
                    plain.sort_unstable();
                    let mut queues: BTreeMap<String, Vec<u32>> = BTreeMap::new();
                    for group in &got.queues {
                        let mut members = group.members.clone();
                        members.sort_unstable();
                        assert!(
                            queues
                                .insert(String::from_utf8(group.name.to_vec()).unwrap(), members)
                                .is_none(),
                            "a queue group appeared twice"
                        );
                    }
                    let (want_plain, mut want_queues) = expected(&subs, &subject);
                    want_queues.values_mut().for_each(|v| v.sort_unstable());
                    assert_eq!(
                        (plain, queues),
                        (want_plain, want_queues),
                        "seed {seed} step {step} subject {subject}"
                    );
                }
            }
        }
        assert_eq!(router.stats().subscriptions, subs.len());
    }
}
