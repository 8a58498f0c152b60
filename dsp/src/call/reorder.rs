//! Caller audio back in order, for protocols that number their chunks and
//! do not promise their order (Telnyx `media.chunk`).
//!
//! Chunks are numbered from 1 (Telnyx: "starts from 1"), so a first
//! chunk 2 waits for chunk 1. A chunk that is next goes straight on, then any held ones that follow
//! it. A later chunk waits, at most [`WINDOW`] of them: when one more
//! arrives, the gap is given up on (its chunks counted missing) and the
//! held chunks go on. A chunk older than what was passed on, or a repeat,
//! is dropped and counted late. In-order audio is never copied.

/// Chunks held while waiting for a missing one (80 ms of 20 ms chunks).
pub const WINDOW: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct Reorder {
    /// The chunk due next (`None`: 1).
    next: Option<u64>,
    held: Vec<(u64, Vec<u8>)>,
    /// Spent buffers, reused.
    spare: Vec<Vec<u8>>,
    pub late: u64,
    pub missing: u64,
}

impl Reorder {
    /// Chunk `seq`: `deliver` is called for each chunk that can now go on,
    /// in order (the first error stops the rest, which stay held).
    pub fn push<E>(
        &mut self,
        seq: u64,
        bytes: &[u8],
        mut deliver: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let next = *self.next.get_or_insert(1);
        if seq < next || self.held.iter().any(|(s, _)| *s == seq) {
            self.late += 1;
            return Ok(());
        }
        if seq == next {
            self.next = Some(seq + 1);
            deliver(bytes)?;
        } else {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(bytes);
            self.held.push((seq, buf));
            self.held.sort_unstable_by_key(|(s, _)| *s);
            if self.held.len() > WINDOW {
                let first = self.held[0].0;
                self.missing += first - next;
                self.next = Some(first);
            }
        }
        // Whatever now follows on goes too.
        while let Some(i) = self.held.iter().position(|(s, _)| Some(*s) == self.next) {
            let (s, buf) = self.held.remove(i);
            self.next = Some(s + 1);
            let r = deliver(&buf);
            self.spare.push(buf);
            r?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(order: &[u64]) -> (Vec<u64>, Reorder) {
        let mut r = Reorder::default();
        let mut got = Vec::new();
        for &s in order {
            r.push::<()>(s, &s.to_le_bytes(), |b| {
                got.push(u64::from_le_bytes(b.try_into().unwrap()));
                Ok(())
            })
            .unwrap();
        }
        (got, r)
    }

    #[test]
    fn swapped_neighbours_come_out_in_order() {
        let (got, r) = run(&[1, 3, 2, 4, 6, 5]);
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        assert_eq!((r.late, r.missing), (0, 0));
    }

    #[test]
    fn a_lost_chunk_is_given_up_after_the_window() {
        let (got, r) = run(&[1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(got, [1, 3, 4, 5, 6, 7, 8]);
        assert_eq!((r.late, r.missing), (0, 1));
        // The straggler is now late.
        let (got, r) = run(&[1, 3, 4, 5, 6, 7, 2]);
        assert_eq!(got, [1, 3, 4, 5, 6, 7]);
        assert_eq!((r.late, r.missing), (1, 1));
    }

    proptest! {
        /// Any shuffle within the window: everything, in order, nothing
        /// counted; any order at all: increasing output, and every chunk
        /// accounted for as passed on, late, missing or still held.
        #[test]
        fn local_shuffles_are_undone(n in 1u64..200, swaps in prop::collection::vec((0usize..200, 1usize..=WINDOW), 0..50)) {
            let mut order: Vec<u64> = (1..=n).collect();
            for (i, d) in swaps {
                let i = i % order.len();
                let j = (i + d).min(order.len() - 1);
                order.swap(i, j);
            }
            let displaced = order.iter().enumerate().all(|(i, &s)| (s as i64 - 1 - i as i64).unsigned_abs() as usize <= WINDOW);
            let (got, r) = run(&order);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(got.len() as u64 + r.late + r.held.len() as u64, n);
            if displaced {
                prop_assert_eq!(got, (1..=n).collect::<Vec<_>>());
            }
        }
    }
}
