//! The engine's event queue: a min-queue on (time, sequence number), so
//! that simultaneous events pop in the order they were scheduled. A 4-ary
//! heap: half the depth of a binary heap, one comparison per child. The
//! pop order is the same as any queue on the same total order
//! (`BinaryHeap<Reverse<(time, seq, _)>>` before it), so a run's bytes do
//! not depend on which one is used.

/// Children per node.
const ARITY: usize = 4;

/// A pending item, its time and sequence number: 24 bytes with an 8-byte
/// item (a `u128` key would align the entry to 32).
#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time: u64,
    seq: u64,
    item: E,
}

impl<E> Entry<E> {
    /// The order: time, then sequence number.
    fn key(&self) -> u128 {
        key(self.time, self.seq)
    }
}

/// The order of the queue's items as one number: time, then sequence.
pub(crate) fn key(time: u64, seq: u64) -> u128 {
    u128::from(time) << 64 | u128::from(seq)
}

/// A min-queue of `E` by (time, sequence number), the sequence numbers
/// given out by the queue itself in push order.
#[derive(Clone, Debug)]
pub(crate) struct EventQueue<E> {
    /// An item earlier than every item of `heap`, kept out of it: an event
    /// often schedules the very next one (a quarter of the pushes of the
    /// default compare), which then costs no sift either way.
    front: Option<Entry<E>>,
    heap: Vec<Entry<E>>,
    seq: u64,
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            front: None,
            heap: Vec::with_capacity(256),
            seq: 0,
        }
    }

    /// The sequence number the next push will get: every item pushed from
    /// now on has at least this one, every item pushed before has less.
    #[cfg(test)]
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    /// Gives out the next sequence number without queuing anything: for an
    /// item its owner keeps outside the queue, ordered by [`key`] against
    /// [`EventQueue::first_key`].
    pub fn take_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The order key of the earliest item ([`key`]), `u128::MAX` if none.
    pub fn first_key(&self) -> u128 {
        self.front
            .as_ref()
            .or(self.heap.first())
            .map_or(u128::MAX, Entry::key)
    }

    /// Queues `item` at `time`, after every item already queued at `time`.
    pub fn push(&mut self, time: u64, item: E) {
        self.seq += 1;
        let entry = Entry {
            time,
            seq: self.seq,
            item,
        };
        // The earliest item takes the front; the one it displaces, still
        // earlier than the heap's, goes into the heap.
        let entry = match self.front {
            Some(f) if entry.key() < f.key() => {
                self.front = Some(entry);
                f
            }
            Some(_) => entry,
            None if self.heap.first().is_none_or(|t| entry.key() < t.key()) => {
                self.front = Some(entry);
                return;
            }
            None => entry,
        };
        let key = entry.key();
        let mut hole = self.heap.len();
        self.heap.push(entry);
        // Sift up: move parents down until the key fits.
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.heap[parent].key() <= key {
                break;
            }
            self.heap[hole] = self.heap[parent];
            hole = parent;
        }
        self.heap[hole] = entry;
    }

    /// The earliest item, its time and its sequence number.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, u64, E)> {
        if let Some(f) = self.front.take() {
            return Some((f.time, f.seq, f.item));
        }
        let last = self.heap.pop()?;
        let Some(&top) = self.heap.first() else {
            return Some((last.time, last.seq, last.item));
        };
        self.sift_down_from_root(last);
        Some((top.time, top.seq, top.item))
    }

    /// Puts `moved` (the former last entry) where the root was: down to
    /// a leaf along the smallest children, then up to where `moved` fits.
    /// `moved` came from the bottom and mostly belongs there, so this
    /// saves comparing it on every level; keys are unique, so any valid
    /// heap pops in the same order.
    fn sift_down_from_root(&mut self, moved: Entry<E>) {
        let len = self.heap.len();
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            let best = if first + ARITY <= len {
                first + smallest_of_four(&self.heap[first..first + ARITY])
            } else if first < len {
                (first + 1..len).fold(first, |b, c| {
                    if self.heap[c].key() < self.heap[b].key() {
                        c
                    } else {
                        b
                    }
                })
            } else {
                break;
            };
            self.heap[hole] = self.heap[best];
            hole = best;
        }
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.heap[parent].key() <= moved.key() {
                break;
            }
            self.heap[hole] = self.heap[parent];
            hole = parent;
        }
        self.heap[hole] = moved;
    }
}

/// Items kept outside an [`EventQueue`], at most one per owner (an
/// index), each under an order key ([`key`]) whose sequence number comes
/// from the queue ([`EventQueue::take_seq`]), so that they order against
/// the queue's items exactly as if they had been pushed. The earliest is
/// cached. An owner with one pending item at a time and few owners (an
/// IOThread's loop event) costs a few comparisons instead of a sift.
#[derive(Clone, Debug)]
pub(crate) struct Slots<E> {
    /// Per owner, its item's key, `u128::MAX` if it has none.
    keys: Vec<u128>,
    items: Vec<E>,
    /// The earliest key and its owner.
    first: (u128, u32),
}

impl<E: Copy> Slots<E> {
    /// `owners` empty slots; `filler` only fills them.
    pub fn new(owners: usize, filler: E) -> Self {
        Slots {
            keys: vec![u128::MAX; owners],
            items: vec![filler; owners],
            first: (u128::MAX, 0),
        }
    }

    /// The earliest key, `u128::MAX` if every slot is empty.
    pub fn first_key(&self) -> u128 {
        self.first.0
    }

    /// The item of `owner`, if it has one.
    pub fn get(&self, owner: u32) -> Option<E> {
        (self.keys[owner as usize] != u128::MAX).then(|| self.items[owner as usize])
    }

    /// Puts `item` under `key` in the slot of `owner`, replacing what it held.
    pub fn set(&mut self, owner: u32, key: u128, item: E) {
        self.items[owner as usize] = item;
        self.set_key(owner, key);
    }

    /// Empties the slot of `owner`.
    pub fn clear(&mut self, owner: u32) {
        self.set_key(owner, u128::MAX);
    }

    fn set_key(&mut self, owner: u32, key: u128) {
        let old = std::mem::replace(&mut self.keys[owner as usize], key);
        if key < self.first.0 {
            self.first = (key, owner);
        } else if old == self.first.0 && old != key {
            // The earliest moved later or left: look again.
            let mut first = (u128::MAX, 0);
            for (i, &k) in self.keys.iter().enumerate() {
                if k < first.0 {
                    first = (k, i as u32);
                }
            }
            self.first = first;
        }
    }

    /// Takes the earliest item: its time, sequence number and owner's item.
    /// Call only when [`Slots::first_key`] is not `u128::MAX`.
    pub fn take_first(&mut self) -> (u64, u64, E) {
        let (key, owner) = self.first;
        debug_assert!(key != u128::MAX, "take_first of empty slots");
        let item = self.items[owner as usize];
        self.clear(owner);
        ((key >> 64) as u64, key as u64, item)
    }
}

/// The index of the smallest key of four, as a tournament of selects
/// (no branch to mispredict on which child wins).
fn smallest_of_four<E>(c: &[Entry<E>]) -> usize {
    let (a, b, x, y) = (c[0].key(), c[1].key(), c[2].key(), c[3].key());
    let (left, left_key) = if b < a { (1, b) } else { (0, a) };
    let (right, right_key) = if y < x { (3, y) } else { (2, x) };
    if right_key < left_key {
        right
    } else {
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// The queue pops in exactly the order of the binary heap on (time,
    /// seq) it replaces, ties included, with pushes between pops.
    #[test]
    fn pops_in_the_order_of_a_binary_heap_on_time_then_sequence() {
        let mut q = EventQueue::new();
        let mut reference = BinaryHeap::new();
        let (mut seq, mut x, mut now) = (0u64, 12345u64, 0u64);
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct times, so ties are frequent.
            let pushes = if step % 3 == 0 { 2 } else { 1 };
            for _ in 0..pushes {
                let at = now + (x % 7) * 10;
                seq += 1;
                assert_eq!(q.next_seq(), seq);
                q.push(at, step);
                reference.push(Reverse((at, seq, step)));
            }
            if step % 2 == 1 {
                let Reverse((t, s, v)) = reference.pop().unwrap();
                assert_eq!(q.pop(), Some((t, s, v)), "step {step}");
                now = t;
            }
        }
        while let Some(Reverse((t, s, v))) = reference.pop() {
            assert_eq!(q.pop(), Some((t, s, v)));
        }
        assert_eq!(q.pop(), None);
    }

    /// Items kept in slots (one per owner, replaced or cleared at will)
    /// pop against the queue in exactly the order a binary heap on (time,
    /// seq) gives when every live item is pushed into it, as the engine
    /// relies on for its bytes.
    #[test]
    fn slots_pop_against_the_queue_as_if_their_items_had_been_pushed() {
        const OWNERS: u32 = 3;
        let mut q = EventQueue::new();
        let mut slots = Slots::new(OWNERS as usize, u64::MAX);
        // The reference: every live item; a cleared or replaced slot item
        // is removed from it.
        let mut reference: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::new();
        let mut live: Vec<Option<(u64, u64, u64)>> = vec![None; OWNERS as usize];
        let (mut x, mut now) = (99u64, 0u64);
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = now + (x % 5) * 10;
            match x % 4 {
                0 => {
                    q.push(at, step);
                    reference.push(Reverse((at, q.next_seq() - 1, step)));
                }
                1 | 2 => {
                    let owner = ((x >> 8) % u64::from(OWNERS)) as u32;
                    let seq = q.take_seq();
                    slots.set(owner, key(at, seq), step);
                    live[owner as usize] = Some((at, seq, step));
                }
                _ => {
                    let owner = ((x >> 8) % u64::from(OWNERS)) as u32;
                    slots.clear(owner);
                    live[owner as usize] = None;
                }
            }
            if step % 2 == 1 {
                let mut all = reference.clone();
                all.extend(live.iter().flatten().map(|&e| Reverse(e)));
                let Some(Reverse(expected)) = all.pop() else {
                    continue;
                };
                let got = if slots.first_key() < q.first_key() {
                    let got = slots.take_first();
                    let owner = live.iter().position(|l| *l == Some(got));
                    live[owner.expect("a slot item that is live")] = None;
                    got
                } else {
                    let got = q.pop().expect("the queue holds the earliest");
                    reference.pop();
                    got
                };
                assert_eq!(got, expected, "step {step}");
                now = got.0;
            }
        }
    }
}
