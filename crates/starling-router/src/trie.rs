//! The subscription trie: insert, remove and match, with no concurrency policy.

use std::collections::HashMap;

use bytes::Bytes;
use starling_subject::{SINGLE_WILDCARD, SubjectError, TAIL_WILDCARD, check_filter, tokens};

/// Subscriptions indexed by subject filter.
///
/// Keys are std's randomly seeded `HashMap`: the tokens come from untrusted
/// clients, so a fixed hash would let one of them build collisions.
#[derive(Debug)]
pub struct SubscriptionTrie<S> {
    root: Level<S>,
    len: usize,
}

#[derive(Debug)]
struct Level<S> {
    literals: HashMap<Bytes, Node<S>>,
    star: Option<Box<Node<S>>>,
    tail: Option<Box<Node<S>>>,
}

#[derive(Debug)]
struct Node<S> {
    plain: Vec<S>,
    queues: Vec<QueueMatch<S>>,
    next: Option<Box<Level<S>>>,
}

/// The members of one queue group that a subject matched; exactly one of
/// them should get the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMatch<S> {
    /// The queue group's name.
    pub name: Bytes,
    /// Its members whose filters matched.
    pub members: Vec<S>,
}

/// Everything a subject matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<S> {
    /// Plain subscriptions: each gets a copy.
    pub plain: Vec<S>,
    /// Queue groups, merged by name across filters: each group gets one copy.
    pub queues: Vec<QueueMatch<S>>,
}

impl<S> Default for Matches<S> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<S> Matches<S> {
    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

impl<S> Default for Level<S> {
    fn default() -> Self {
        Self {
            literals: HashMap::new(),
            star: None,
            tail: None,
        }
    }
}

impl<S> Default for Node<S> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
            next: None,
        }
    }
}

impl<S> Node<S> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty()
            && self.queues.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

impl<S> Level<S> {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.star.is_none() && self.tail.is_none()
    }
}

impl<S> Default for SubscriptionTrie<S> {
    fn default() -> Self {
        Self {
            root: Level::default(),
            len: 0,
        }
    }
}

impl<S: Clone + PartialEq> SubscriptionTrie<S> {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many subscriptions are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no subscription is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a subscription. The filter is validated (`Invalid Subject` on the
    /// wire when it is refused). The same handle may be added more than once.
    pub fn insert(
        &mut self,
        filter: &Bytes,
        queue: Option<&Bytes>,
        handle: S,
    ) -> Result<(), SubjectError> {
        check_filter(filter)?;
        let mut level = &mut self.root;
        let mut tokens = tokens(filter).peekable();
        loop {
            let Some(token) = tokens.next() else {
                // check_filter guarantees at least one token.
                return Err(SubjectError::EmptyToken);
            };
            let node: &mut Node<S> = if token == SINGLE_WILDCARD {
                level.star.get_or_insert_with(Box::default)
            } else if token == TAIL_WILDCARD {
                level.tail.get_or_insert_with(Box::default)
            } else {
                if !level.literals.contains_key(token) {
                    level
                        .literals
                        .insert(filter.slice_ref(token), Node::default());
                }
                level
                    .literals
                    .get_mut(token)
                    .ok_or(SubjectError::EmptyToken)?
            };
            if tokens.peek().is_none() {
                match queue {
                    None => node.plain.push(handle),
                    Some(name) => match node.queues.iter_mut().find(|q| q.name == name) {
                        Some(group) => group.members.push(handle),
                        None => node.queues.push(QueueMatch {
                            name: name.clone(),
                            members: vec![handle],
                        }),
                    },
                }
                self.len += 1;
                return Ok(());
            }
            level = node.next.get_or_insert_with(Box::default);
        }
    }

    /// Removes one subscription equal to `handle` under `filter` and `queue`.
    /// Returns whether one was found. Emptied nodes are pruned.
    pub fn remove(&mut self, filter: &[u8], queue: Option<&[u8]>, handle: &S) -> bool {
        if check_filter(filter).is_err() {
            return false;
        }
        let tokens: Vec<&[u8]> = tokens(filter).collect();
        let removed = remove_in(&mut self.root, &tokens, queue, handle);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Everything `subject` matches. A subject with an empty token matches
    /// nothing (nats-server drops such a publish silently).
    pub fn matches(&self, subject: &[u8]) -> Matches<S> {
        let mut out = Matches::default();
        if subject.is_empty() || tokens(subject).any(<[u8]>::is_empty) {
            return out;
        }
        let tokens: Vec<&[u8]> = tokens(subject).collect();
        match_level(&self.root, &tokens, &mut out);
        out
    }
}

fn remove_in<S: PartialEq>(
    level: &mut Level<S>,
    tokens: &[&[u8]],
    queue: Option<&[u8]>,
    handle: &S,
) -> bool {
    let Some((&token, rest)) = tokens.split_first() else {
        return false;
    };
    let node = if token == SINGLE_WILDCARD {
        level.star.as_deref_mut()
    } else if token == TAIL_WILDCARD {
        level.tail.as_deref_mut()
    } else {
        level.literals.get_mut(token)
    };
    let Some(node) = node else {
        return false;
    };
    let removed = if rest.is_empty() {
        remove_from_node(node, queue, handle)
    } else {
        match node.next.as_deref_mut() {
            Some(next) => {
                let removed = remove_in(next, rest, queue, handle);
                if next.is_empty() {
                    node.next = None;
                }
                removed
            }
            None => false,
        }
    };
    if removed && node.is_empty() {
        if token == SINGLE_WILDCARD {
            level.star = None;
        } else if token == TAIL_WILDCARD {
            level.tail = None;
        } else {
            level.literals.remove(token);
        }
    }
    removed
}

fn remove_from_node<S: PartialEq>(node: &mut Node<S>, queue: Option<&[u8]>, handle: &S) -> bool {
    match queue {
        None => match node.plain.iter().position(|h| h == handle) {
            Some(at) => {
                node.plain.swap_remove(at);
                true
            }
            None => false,
        },
        Some(name) => {
            let Some(group_at) = node.queues.iter().position(|q| q.name == name) else {
                return false;
            };
            let group = &mut node.queues[group_at];
            let Some(at) = group.members.iter().position(|h| h == handle) else {
                return false;
            };
            group.members.swap_remove(at);
            if group.members.is_empty() {
                node.queues.swap_remove(group_at);
            }
            true
        }
    }
}

/// Walks like nats-server's sublist: at each level the `>` node first, then
/// the `*` branch, then the literal; at the end the literal node, then `*`.
/// Keeping its order keeps delivery order identical for differential tests.
fn match_level<S: Clone>(mut level: &Level<S>, tokens: &[&[u8]], out: &mut Matches<S>) {
    let last = tokens.len() - 1;
    let mut literal = None;
    let mut star = None;
    for (i, token) in tokens.iter().enumerate() {
        if let Some(tail) = &level.tail {
            add_node(tail, out);
        }
        star = level.star.as_deref();
        if let Some(star) = star
            && i < last
            && let Some(next) = &star.next
        {
            match_level(next, &tokens[i + 1..], out);
        }
        literal = level.literals.get(*token);
        if i == last {
            break;
        }
        match literal.and_then(|n| n.next.as_deref()) {
            Some(next) => level = next,
            None => return,
        }
    }
    if let Some(node) = literal {
        add_node(node, out);
    }
    if let Some(node) = star {
        add_node(node, out);
    }
}

fn add_node<S: Clone>(node: &Node<S>, out: &mut Matches<S>) {
    out.plain.extend(node.plain.iter().cloned());
    for group in &node.queues {
        match out.queues.iter_mut().find(|q| q.name == group.name) {
            Some(existing) => existing.members.extend(group.members.iter().cloned()),
            None => out.queues.push(group.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(subs: &[(&str, Option<&str>, u32)]) -> SubscriptionTrie<u32> {
        let mut t = SubscriptionTrie::new();
        for (filter, queue, id) in subs {
            let queue = queue.map(|q| Bytes::copy_from_slice(q.as_bytes()));
            t.insert(
                &Bytes::copy_from_slice(filter.as_bytes()),
                queue.as_ref(),
                *id,
            )
            .unwrap();
        }
        t
    }

    #[test]
    fn literal_and_wildcards() {
        let t = trie(&[
            ("foo", None, 1),
            ("foo", None, 2),
            (">", None, 4),
            ("foo.*", None, 5),
            ("*.bar", None, 6),
        ]);
        assert_eq!(t.matches(b"foo").plain, vec![4, 1, 2]);
        assert_eq!(t.matches(b"foo.bar").plain, vec![4, 6, 5]);
        assert_eq!(t.matches(b"x.bar").plain, vec![4, 6]);
        assert_eq!(t.matches(b"x.y.z").plain, vec![4]);
        assert!(t.matches(b"foo..bar").is_empty());
        assert!(t.matches(b"").is_empty());
    }

    #[test]
    fn tail_wildcard_needs_a_token() {
        let t = trie(&[("foo.>", None, 1)]);
        assert!(t.matches(b"foo").is_empty());
        assert_eq!(t.matches(b"foo.a.b").plain, vec![1]);
    }

    #[test]
    fn queue_groups_merge_by_name() {
        let t = trie(&[
            ("foo.*", Some("q"), 1),
            ("foo.bar", Some("q"), 2),
            ("foo.bar", Some("r"), 3),
        ]);
        let m = t.matches(b"foo.bar");
        assert_eq!(m.queues.len(), 2);
        let q = m.queues.iter().find(|g| &g.name[..] == b"q").unwrap();
        assert_eq!(q.members.len(), 2);
    }

    #[test]
    fn remove_prunes() {
        let mut t = trie(&[
            ("a.b.c", None, 1),
            ("a.*.c", Some("q"), 2),
            ("a.>", None, 3),
        ]);
        assert!(t.remove(b"a.b.c", None, &1));
        assert!(!t.remove(b"a.b.c", None, &1));
        assert!(!t.remove(b"a.*.c", None, &2));
        assert!(t.remove(b"a.*.c", Some(b"q"), &2));
        assert!(t.remove(b"a.>", None, &3));
        assert!(t.is_empty());
        assert!(t.root.is_empty());
    }

    #[test]
    fn invalid_filters_are_refused() {
        let mut t = SubscriptionTrie::new();
        assert_eq!(
            t.insert(&Bytes::from_static(b"a..b"), None, 1),
            Err(SubjectError::EmptyToken)
        );
        assert_eq!(
            t.insert(&Bytes::from_static(b"a.>.b"), None, 1),
            Err(SubjectError::TailWildcardNotLast)
        );
        assert!(t.is_empty());
    }
}
