//! The playout timeline: what was sent to the phone, and what the caller has
//! heard at any instant, per item.
//!
//! The rule. Every batch of frames sent is a *segment* (item, duration, time
//! sent), followed by a mark. A mark echo pins the end of its segment at the
//! echo's time (the phone confirms playback in order, so every earlier
//! segment has played too). At instant `t`, playout is replayed from the
//! last pinned end: each later segment starts when it was sent plus the
//! phone's learned latency, or when the previous one ends, whichever is
//! later, and has played `t - start`, clamped to its length.
//!
//! The latency. A phone plays what it receives after a network and
//! jitter-buffer delay (100 ms or more), and confirms a mark only once the
//! audio before it has played. So when a segment that started a talk spurt
//! (nothing was playing when it was sent) is confirmed, the echo's lateness
//! against the replay is the phone's latency, learned here (clamped to
//! [`MAX_LATENCY_MS`]) and applied to the next spurt's start: an answer
//! interrupted before its first mark comes back is not taken as heard from
//! the instant it was sent.
//!
//! Hence the guarantees the property tests check: the heard estimate never
//! exceeds the audio sent, never falls below what the echoed marks confirm,
//! and equals the truth when marks are echoed on time.
//!
//! Mark names are made and parsed here and nowhere else.
//!
//! Bounds: one segment per outbound batch that is not yet confirmed; when a
//! phone never echoes marks, segments the replay says have played are folded
//! once more than [`MAX_SEGMENTS`] are outstanding, so memory stays bounded.

use std::collections::VecDeque;

/// Outstanding segments kept before played ones are folded (a phone that
/// never echoes marks would otherwise grow the timeline without bound).
pub const MAX_SEGMENTS: usize = 512;

const MARK_PREFIX: &str = "teledsp-";

/// The most latency learned from mark echoes, ms (an echo later than this
/// is a stall, not the phone's steady delay).
pub const MAX_LATENCY_MS: u64 = 1000;

/// One batch of frames sent.
#[derive(Debug, Clone, Copy)]
struct Segment {
    item: u64,
    ms: u64,
    sent_at: u64,
    mark: u64,
}

/// A segment placed on the replay.
#[derive(Debug, Clone, Copy)]
struct Placed {
    segment: Segment,
    /// When it starts playing.
    start: u64,
    /// Nothing was playing when it arrived: it started a talk spurt.
    starts_spurt: bool,
}

/// Per item: audio sent and audio confirmed played (pinned or folded).
#[derive(Debug, Clone, Copy)]
struct ItemTotals {
    item: u64,
    sent_ms: u64,
    confirmed_ms: u64,
}

/// What a mark echo meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkEcho {
    /// It pinned the end of one of this timeline's segments.
    Pinned,
    /// It belongs to audio cleared since (or already folded): ignored.
    Stale,
    /// Not a mark this timeline made: ignored.
    Foreign,
}

/// The timeline of one call's outbound audio. Items are keys the caller
/// assigns (the call engine numbers its items); times are monotonic ms.
///
/// ```
/// use teledsp::call::playout::{MarkEcho, Playout};
/// let mut p = Playout::new();
/// let m1 = p.sent(1, 200, 0);   // item 1: 200 ms sent at t=0, mark returned
/// let _m2 = p.sent(1, 200, 0);  // 200 ms more, queued behind it
/// assert_eq!(p.heard(1, 150), 150);
/// assert_eq!(p.on_mark(&m1, 260), MarkEcho::Pinned); // the phone ran 60 ms late
/// assert_eq!(p.heard(1, 300), 240);                  // 200 confirmed + 40 since the echo
/// assert_eq!(p.heard(1, 10_000), 400);               // never more than was sent
/// ```
#[derive(Debug, Clone, Default)]
pub struct Playout {
    segments: VecDeque<Segment>,
    items: VecDeque<ItemTotals>,
    /// End time of the last pinned (or folded) segment: replay starts here.
    anchor: Option<u64>,
    /// Marks handed out so far (the last one's number).
    marks: u64,
    /// Marks numbered up to this belong to cleared audio.
    stale_upto: u64,
    /// The phone's latency: from sending to playing, learned from echoes.
    latency: u64,
    /// Whether `latency` has been learned yet.
    latency_learned: bool,
}

impl Playout {
    /// An empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name of mark number `n`.
    pub fn mark_name(n: u64) -> String {
        format!("{MARK_PREFIX}{n}")
    }

    /// The number of a mark name this timeline makes, if it is one.
    pub fn parse_mark(name: &str) -> Option<u64> {
        name.strip_prefix(MARK_PREFIX)?.parse().ok()
    }

    /// Records `ms` of `item` sent at `now`; returns the name of the mark to
    /// send after it.
    pub fn sent(&mut self, item: u64, ms: u64, now: u64) -> String {
        if self.segments.len() >= MAX_SEGMENTS {
            self.fold(now);
        }
        self.marks += 1;
        self.segments.push_back(Segment { item, ms, sent_at: now, mark: self.marks });
        match self.items.iter_mut().find(|t| t.item == item) {
            Some(t) => t.sent_ms += ms,
            None => self.items.push_back(ItemTotals { item, sent_ms: ms, confirmed_ms: 0 }),
        }
        Self::mark_name(self.marks)
    }

    /// The phone echoed mark `name` at `now`.
    pub fn on_mark(&mut self, name: &str, now: u64) -> MarkEcho {
        let Some(n) = Self::parse_mark(name) else { return MarkEcho::Foreign };
        if n > self.marks {
            return MarkEcho::Foreign;
        }
        if n <= self.stale_upto || self.segments.front().is_none_or(|s| s.mark > n) {
            return MarkEcho::Stale;
        }
        // Learn the latency from a segment that started a spurt: its echo's
        // lateness against the replay.
        let placed = self.timeline().find(|p| p.segment.mark == n);
        if let Some(p) = placed
            && p.starts_spurt
        {
            let latency = now as i64 - (p.start + p.segment.ms) as i64 + self.latency as i64;
            self.latency = (latency.max(0) as u64).min(MAX_LATENCY_MS);
            self.latency_learned = true;
        }
        while let Some(s) = self.segments.front().copied() {
            if s.mark > n {
                break;
            }
            self.segments.pop_front();
            self.confirm(s);
        }
        self.anchor = Some(now);
        MarkEcho::Pinned
    }

    fn confirm(&mut self, s: Segment) {
        if let Some(t) = self.items.iter_mut().find(|t| t.item == s.item) {
            t.confirmed_ms += s.ms;
        }
    }

    /// The rule, once: when each unconfirmed segment starts playing, from
    /// the last pinned end (see the module docs).
    fn timeline(&self) -> impl Iterator<Item = Placed> + '_ {
        let mut cursor = self.anchor.unwrap_or(0);
        self.segments.iter().map(move |&segment| {
            let sent = segment.sent_at + self.latency;
            let start = cursor.max(sent);
            cursor = start + segment.ms;
            Placed { segment, start, starts_spurt: sent >= start }
        })
    }

    /// Replays the unconfirmed segments: calls `f(segment, played_ms)` for
    /// each, in order, as of instant `t`; returns the replay's end.
    fn replay(&self, t: u64, mut f: impl FnMut(&Segment, u64)) -> u64 {
        let mut end = self.anchor.unwrap_or(0);
        for p in self.timeline() {
            f(&p.segment, t.saturating_sub(p.start).min(p.segment.ms));
            end = p.start + p.segment.ms;
        }
        end
    }

    /// Folds segments the replay says have wholly played by `now` into the
    /// confirmed totals, as if their marks had been echoed on time.
    fn fold(&mut self, now: u64) {
        let ends: Vec<u64> = self.timeline().map(|p| p.start + p.segment.ms).take_while(|&end| end <= now).collect();
        for end in ends {
            let s = self.segments.pop_front().expect("a segment per end");
            self.confirm(s);
            self.stale_upto = self.stale_upto.max(s.mark);
            self.anchor = Some(end);
        }
    }

    /// Milliseconds of `item` the caller has heard at instant `t`.
    pub fn heard(&self, item: u64, t: u64) -> u64 {
        let Some(totals) = self.items.iter().find(|x| x.item == item) else { return 0 };
        let mut heard = totals.confirmed_ms;
        self.replay(t, |s, played| {
            if s.item == item {
                heard += played;
            }
        });
        heard
    }

    /// Milliseconds of `item` sent to the phone.
    pub fn sent_ms(&self, item: u64) -> u64 {
        self.items.iter().find(|x| x.item == item).map_or(0, |t| t.sent_ms)
    }

    /// Milliseconds of `item` confirmed by echoed marks (or folded).
    pub fn confirmed_ms(&self, item: u64) -> u64 {
        self.items.iter().find(|x| x.item == item).map_or(0, |t| t.confirmed_ms)
    }

    /// When, by the replay, everything sent so far will have played.
    pub fn playout_end(&self) -> u64 {
        self.replay(0, |_, _| {})
    }

    /// Whether audio sent is still unplayed at `t`, by the replay.
    pub fn playing(&self, t: u64) -> bool {
        !self.segments.is_empty() && self.playout_end() > t
    }

    /// Forgets `item` once it needs no more accounting (wholly heard, or
    /// interrupted and accounted for).
    pub fn forget(&mut self, item: u64) {
        if self.segments.iter().all(|s| s.item != item) {
            self.items.retain(|t| t.item != item);
        }
    }

    /// Twilio's buffer was cleared: every outstanding mark is stale, and
    /// nothing sent is still to play.
    pub fn clear(&mut self) {
        self.stale_upto = self.marks;
        self.segments.clear();
        self.items.clear();
        self.anchor = None;
    }

    /// The phone's latency (sending to playing) learned from mark echoes,
    /// ms; `None` until a confirmation has shown it.
    pub fn latency_ms(&self) -> Option<u64> {
        self.latency_learned.then_some(self.latency)
    }

    /// Marks handed out so far.
    pub fn marks_sent(&self) -> u64 {
        self.marks
    }

    /// Segments not yet confirmed (bounded by [`MAX_SEGMENTS`] plus what is
    /// still unplayed).
    pub fn outstanding(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_sent_late_start_when_sent() {
        let mut p = Playout::new();
        p.sent(1, 100, 0);
        p.sent(1, 100, 500); // the model streamed slower than real time
        assert_eq!(p.heard(1, 100), 100);
        assert_eq!(p.heard(1, 499), 100);
        assert_eq!(p.heard(1, 550), 150);
        assert!(p.playing(550) && !p.playing(600));
    }

    #[test]
    fn items_queued_behind_each_other() {
        let mut p = Playout::new();
        p.sent(1, 3000, 0);
        p.sent(2, 2000, 10);
        assert_eq!((p.heard(1, 1500), p.heard(2, 1500)), (1500, 0));
        assert_eq!((p.heard(1, 3500), p.heard(2, 3500)), (3000, 500));
    }

    #[test]
    fn the_phones_latency_is_learned_and_applied_to_the_next_spurt() {
        let mut p = Playout::new();
        let m = p.sent(1, 100, 0);
        assert_eq!(p.latency_ms(), None);
        // Played 120 ms after it was sent: the echo comes at 220.
        assert_eq!(p.on_mark(&m, 220), MarkEcho::Pinned);
        assert_eq!(p.latency_ms(), Some(120));
        // The next answer, sent at 1000, starts playing at 1120.
        p.sent(2, 400, 1000);
        assert_eq!(p.heard(2, 1100), 0);
        assert_eq!(p.heard(2, 1200), 80);
        // Queued audio is unaffected: it follows what plays before it.
        let m = p.sent(2, 100, 1010);
        assert_eq!(p.heard(2, 1600), 480);
        assert_eq!(p.on_mark(&m, 1620), MarkEcho::Pinned);
        assert_eq!(p.latency_ms(), Some(120));
    }

    #[test]
    fn stale_and_foreign_marks() {
        let mut p = Playout::new();
        let m = p.sent(1, 100, 0);
        p.clear();
        assert_eq!(p.on_mark(&m, 50), MarkEcho::Stale);
        assert_eq!(p.on_mark("teledsp-99", 50), MarkEcho::Foreign);
        assert_eq!(p.on_mark("greeting", 50), MarkEcho::Foreign);
    }

    #[test]
    fn a_phone_that_never_echoes_stays_bounded() {
        let mut p = Playout::new();
        for i in 0..10 * MAX_SEGMENTS as u64 {
            p.sent(i / 50, 20, i * 20);
        }
        assert!(p.outstanding() <= MAX_SEGMENTS);
        let last = 10 * MAX_SEGMENTS as u64 - 1;
        assert_eq!(p.heard(last / 50, last * 20 + 20), p.sent_ms(last / 50));
    }
}
