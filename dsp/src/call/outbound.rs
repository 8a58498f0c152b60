//! The agent's side of the phone line, whatever makes the agent's audio (a
//! speech-to-speech model's deltas in [`Call`](super::Call), TTS chunks in
//! [`Pipeline`](super::Pipeline)): per item, audio in the source's format
//! becomes exact 20 ms mu-law frames and a mark per batch, and the playout
//! timeline says what the caller heard. Both call objects make their
//! decisions (when to interrupt, what to tell their upstream); this part
//! only does the bookkeeping they share, so the two cannot drift apart.
//!
//! The phone's side is any [`Format`] in chunks of any whole number of
//! 20 ms frames (Exotel wants 100 ms); the agent's audio is converted by
//! [`Converter`] and framed here, and the echo guard keeps one level per
//! 20 ms of it whatever the chunk.
//!
//! Bounds: the items not yet wholly heard (one per model item or utterance
//! since the last barge-in; wholly heard ones are forgotten on their mark),
//! the playout timeline's [`MAX_SEGMENTS`](super::playout::MAX_SEGMENTS),
//! and [`REMEMBERED`] interrupted ids.

use std::collections::VecDeque;

use super::convert::{self, Converter};
use super::echo_leg::FarQueue;
use super::events::Heard;
use super::playout::{MarkEcho, Playout};
use super::protocol::{FRAME_MS, Message, Output, PhoneAdapter, PhoneKind};
use crate::error::Error;
use crate::frame::{Flush, Format, Framer};
use crate::resample::Quality;

/// Interrupted items and cancelled responses remembered (to drop their late
/// deltas); older ones are forgotten first.
pub const REMEMBERED: usize = 32;

/// How far back from the play position the agent's level is taken for the
/// echo guard: the line echo's delay plus the playout estimate's error.
pub const ECHO_WINDOW_MS: u64 = 100;

/// Added to [`ECHO_WINDOW_MS`] until the phone's latency is learned (see
/// `playout`): until then the play position is taken from the send time,
/// early by the phone's network and jitter-buffer delay.
pub const UNLEARNED_LATENCY_MS: u64 = 200;

/// Frame levels kept per item (10 minutes of audio); later frames of a
/// longer item are not echo-guarded.
const MAX_LEVELS: usize = 30_000;

/// Audio kept per item for a resume (pause mode only), ms: an item longer
/// than this cannot be resumed, and a pause in it commits.
pub const KEEP_MS: u64 = 60_000;

/// What a resume did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resumed {
    /// How far before the heard point playback restarted (to a quiet frame), ms.
    pub rewound_ms: u64,
}

/// A FIFO set of at most [`REMEMBERED`] ids.
#[derive(Debug, Default)]
pub(crate) struct Recent(VecDeque<String>);

impl Recent {
    pub(crate) fn insert(&mut self, id: &str) {
        if !self.contains(id) {
            if self.0.len() == REMEMBERED {
                self.0.pop_front();
            }
            self.0.push_back(id.to_owned());
        }
    }
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|x| x == id)
    }
}

/// An item with audio (a model item, an utterance), since the last barge-in.
#[derive(Debug)]
struct Item {
    key: u64,
    id: String,
    response_id: Option<String>,
    /// Source samples received.
    generated: u64,
    /// No more audio will come for it.
    done: bool,
    /// Level of each frame sent, dBFS (see [`Outbound::agent_level`]).
    levels: Vec<i8>,
    /// Item time (ms) where the playout timeline's account of this item
    /// starts: 0, or where a resume re-sent it from.
    offset_ms: u64,
    /// With [`Outbound::keep`]: every chunk made for the phone, in order
    /// (sent, or held during a pause), at most [`KEEP_MS`] of audio.
    kept: Vec<u8>,
    /// More than [`KEEP_MS`] was made: it cannot be resumed.
    overflow: bool,
    /// Paused: what the caller had heard of it at the pause, ms.
    paused_at: Option<u64>,
}

/// An interrupted item: what was heard of it, and its response.
pub(crate) struct Cut {
    pub heard: Heard,
    pub response_id: Option<String>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Outbound {
    conv: Converter,
    /// Duration of one chunk to the phone, ms (a multiple of 20).
    chunk_ms: u64,
    framer: Framer,
    playout: Playout,
    items: Vec<Item>,
    next_key: u64,
    /// Index in `items` of the item whose audio is in the framer.
    current: Option<usize>,
    interrupted: Recent,
    frames_out: u64,
    /// What the phone plays, for the echo canceller (when it runs).
    pub far: Option<FarQueue>,
    /// Keep each item's audio, so a pause can be resumed (pause mode).
    pub keep: bool,
    /// Paused since this instant: audio made meanwhile is held, not sent.
    paused: Option<u64>,
    // Scratch, reused across chunks.
    sink: Vec<u8>,
    frames: Vec<u8>,
    pcm: Vec<i16>,
}

impl Outbound {
    /// Agent audio in `source` to the phone in `sink`, `chunk_ms` (a
    /// positive multiple of 20) per media message.
    pub fn new(source: Format, sink: Format, chunk_ms: u32, quality: Quality) -> Result<Self, Error> {
        if chunk_ms == 0 || !u64::from(chunk_ms).is_multiple_of(FRAME_MS) {
            return Err(Error::InvalidConfig(format!("phone chunks are whole 20 ms frames, not {chunk_ms} ms")));
        }
        let chunk_bytes = sink.rate() as usize * chunk_ms as usize / 1000 * sink.width();
        Ok(Outbound {
            conv: Converter::new(source, sink, quality)?,
            chunk_ms: u64::from(chunk_ms),
            framer: Framer::with_frame_bytes(sink, chunk_bytes)?,
            playout: Playout::new(),
            items: Vec::new(),
            next_key: 0,
            current: None,
            interrupted: Recent::default(),
            frames_out: 0,
            far: None,
            keep: false,
            paused: None,
            sink: Vec::new(),
            frames: Vec::new(),
            pcm: Vec::new(),
        })
    }

    /// The agent audio's format.
    pub fn source(&self) -> Format {
        self.conv.from()
    }

    /// The phone's format.
    pub fn sink(&self) -> Format {
        self.conv.to()
    }

    /// 20 ms frames sent to the phone (a 100 ms chunk counts 5).
    pub fn frames_out(&self) -> u64 {
        self.frames_out
    }

    /// The phone's latency (send to play), once learnt from its marks.
    pub fn latency_ms(&self) -> Option<u64> {
        self.playout.latency_ms()
    }

    /// Whether `id` was interrupted (its later audio is dropped).
    pub fn interrupted(&self, id: &str) -> bool {
        self.interrupted.contains(id)
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|it| it.id == id)
    }

    /// Starts tracking `id` (audio may follow), unless it is already.
    pub fn announce(&mut self, id: &str, response_id: Option<&str>) {
        if self.find(id).is_none() {
            self.add(id, response_id);
        }
    }

    fn add(&mut self, id: &str, response_id: Option<&str>) -> usize {
        self.next_key += 1;
        let response_id = response_id.map(str::to_owned);
        // An item that starts during a pause has been heard of nothing.
        let paused_at = self.paused.map(|_| 0);
        let item = Item {
            key: self.next_key,
            id: id.to_owned(),
            response_id,
            generated: 0,
            done: false,
            levels: Vec::new(),
            offset_ms: 0,
            kept: Vec::new(),
            overflow: false,
            paused_at,
        };
        self.items.push(item);
        self.items.len() - 1
    }

    /// Whether `bytes` is whole samples of the source format; if not,
    /// `odd` is the error.
    pub fn check(&self, bytes: &[u8], odd: &'static str) -> Result<(), Error> {
        if bytes.len().is_multiple_of(self.source().width()) { Ok(()) } else { Err(Error::malformed(odd)) }
    }

    /// Audio for item `id`: whole frames of it go to the phone, with a
    /// mark; a switch of item first ends the previous one.
    /// `bytes` must have passed [`Outbound::check`].
    pub fn audio(
        &mut self,
        phone: &dyn PhoneAdapter,
        id: &str,
        response_id: Option<&str>,
        bytes: &[u8],
        now: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), Error> {
        let i = match self.find(id) {
            Some(i) => i,
            None => self.add(id, response_id),
        };
        if self.current.is_some_and(|c| c != i) {
            self.finish_current(phone, true, now, out);
        }
        self.current = Some(i);
        self.items[i].generated += (bytes.len() / self.source().width()) as u64;
        self.sink.clear();
        self.conv.process(bytes, &mut self.sink)?;
        let (framer, frames) = (&mut self.framer, &mut self.frames);
        frames.clear();
        framer.push(&self.sink, |f| frames.extend_from_slice(f));
        self.send_frames(phone, i, true, now, out);
        Ok(())
    }

    /// No more audio for `id`: if it is in the framer, its tail goes out.
    pub fn done(&mut self, phone: &dyn PhoneAdapter, id: &str, live: bool, now: u64, out: &mut Vec<Output>) {
        if let Some(i) = self.find(id) {
            if self.current == Some(i) {
                self.finish_current(phone, live, now, out);
            }
            self.items[i].done = true;
            self.forget_heard();
        }
    }

    /// No more audio for any item so far (a response ended).
    pub fn all_done(&mut self, phone: &dyn PhoneAdapter, live: bool, now: u64, out: &mut Vec<Output>) {
        self.finish_current(phone, live, now, out);
        for it in &mut self.items {
            it.done = true;
        }
        self.forget_heard();
    }

    /// A mark echoed by the phone.
    pub fn on_mark(&mut self, name: &str, now: u64) -> MarkEcho {
        let echo = self.playout.on_mark(name, now);
        if echo == MarkEcho::Pinned {
            self.forget_heard();
        }
        echo
    }

    /// Milliseconds of `id` heard by `now`, if tracked.
    pub fn heard_ms(&self, id: &str, now: u64) -> Option<u64> {
        let it = &self.items[self.find(id)?];
        Some(self.heard(it, now).min(self.generated_ms(it)))
    }

    /// Item time heard at `now` (during a pause: at the pause).
    fn heard(&self, it: &Item, now: u64) -> u64 {
        match it.paused_at {
            Some(h) => h,
            None => it.offset_ms + self.playout.heard(it.key, now),
        }
    }

    /// Item time sent to the phone.
    fn sent(&self, it: &Item) -> u64 {
        it.offset_ms + self.playout.sent_ms(it.key)
    }

    /// Whether any item is not wholly heard at `now` (a barge-in would cut it).
    pub fn unheard(&self, now: u64) -> bool {
        self.items.iter().any(|it| !self.wholly_heard(it, now))
    }

    /// The loudest of the agent's frames around what the phone plays at
    /// `now` (from [`ECHO_WINDOW_MS`] before the play position, more while
    /// the phone's latency is unknown, to one frame after, for the echo
    /// path's delay and the timeline's uncertainty),
    /// dBFS; `None` when nothing plays.
    pub fn agent_level(&self, now: u64) -> Option<f32> {
        if !self.playout.playing(now) {
            return None;
        }
        // Items play in order; the first not wholly played is playing.
        let it = self.items.iter().find(|it| self.heard(it, now) < self.sent(it))?;
        let pos = (self.heard(it, now) / FRAME_MS) as usize;
        let back = ECHO_WINDOW_MS + if self.playout.latency_ms().is_some() { 0 } else { UNLEARNED_LATENCY_MS };
        let lo = pos.saturating_sub((back / FRAME_MS) as usize);
        let hi = (pos + 1).min(it.levels.len().saturating_sub(1));
        it.levels.get(lo..=hi)?.iter().max().map(|&l| f32::from(l))
    }

    /// The caller talked at `now`: every item not wholly heard is cut at
    /// what was heard and its later audio dropped; queued audio, the
    /// resampler's history and the partial frame are discarded, so nothing
    /// of it reaches the next item. The caller sends the phone its clear.
    pub fn interrupt(&mut self, now: u64) -> Vec<Cut> {
        let mut cuts = Vec::new();
        for it in std::mem::take(&mut self.items) {
            if self.wholly_heard(&it, now) {
                continue;
            }
            let heard_ms = self.heard(&it, now).min(self.generated_ms(&it));
            self.interrupted.insert(&it.id);
            let heard = Heard {
                sent_ms: self.sent(&it).max(heard_ms),
                generated_ms: self.generated_ms(&it),
                item_id: it.id,
                heard_ms,
                action: if heard_ms == 0 { "delete" } else { "truncate" },
            };
            cuts.push(Cut { heard, response_id: it.response_id });
        }
        self.current = None;
        self.paused = None;
        self.playout.clear();
        if let Some(far) = &mut self.far {
            far.clear();
        }
        self.framer.reset();
        self.conv.reset();
        cuts
    }

    /// Whether a pause is on.
    pub fn paused(&self) -> Option<u64> {
        self.paused
    }

    /// The caller started talking at `now`, maybe only for a moment: what
    /// plays is cleared (the caller sends the clear), what each item not
    /// wholly heard had been heard is noted, and audio made from now on is
    /// held, not sent. Then [`Outbound::resume`] or [`Outbound::interrupt`]
    /// (the commit). False (and nothing done) when nothing would be cut and
    /// nothing is `generating`, or an item is too long to resume.
    pub fn pause(&mut self, now: u64, generating: bool) -> bool {
        if self.paused.is_some() || !(generating || self.unheard(now)) || self.items.iter().any(|it| it.overflow) {
            return false;
        }
        for i in 0..self.items.len() {
            let it = &self.items[i];
            if !self.wholly_heard(it, now) {
                let heard = self.heard(it, now).min(self.generated_ms(it));
                self.items[i].paused_at = Some(heard);
            }
        }
        self.paused = Some(now);
        self.playout.clear();
        if let Some(far) = &mut self.far {
            far.clear();
        }
        true
    }

    /// Whether the paused items can still be resumed (none outgrew [`KEEP_MS`]).
    pub fn resumable(&self) -> bool {
        self.items.iter().all(|it| !it.overflow)
    }

    /// The caller's sound ended before the commit: every paused item's
    /// audio is sent again from what was heard, rewound by up to
    /// `rewind_ms` to the quietest frame before it (a pause between words:
    /// the frame levels kept for the echo guard say where), then what was
    /// held. Nothing is told upstream: nothing was lost.
    pub fn resume(&mut self, phone: &dyn PhoneAdapter, rewind_ms: u64, now: u64, out: &mut Vec<Output>) -> Resumed {
        let mut rewound_ms = 0;
        let chunk = self.framer.frame_bytes();
        let bytes_per_ms = chunk as u64 / self.chunk_ms;
        let first = self.items.iter().position(|it| it.paused_at.is_some());
        for i in 0..self.items.len() {
            let Some(heard) = self.items[i].paused_at.take() else { continue };
            // Restart at a chunk boundary at or before the heard point; the
            // first item may go back further, to its quietest frame.
            let mut start = heard - heard % self.chunk_ms;
            if Some(i) == first && rewind_ms > 0 {
                let levels = &self.items[i].levels;
                let hi = (start / FRAME_MS) as usize;
                let lo = hi.saturating_sub((rewind_ms / FRAME_MS) as usize);
                if let Some(q) = (lo..hi.min(levels.len())).rev().min_by_key(|&f| levels[f]) {
                    let at = q as u64 * FRAME_MS;
                    start = at - at % self.chunk_ms;
                }
                rewound_ms = heard - start;
            }
            let it = &mut self.items[i];
            it.offset_ms = start;
            let from = ((start * bytes_per_ms) as usize).min(it.kept.len());
            let n = ((it.kept.len() - from) / chunk) as u64;
            if n == 0 {
                continue;
            }
            let key = it.key;
            for c in it.kept[from..from + n as usize * chunk].chunks_exact(chunk) {
                out.push(match phone.media(c) {
                    Message::Text(text) => Output::Phone { kind: PhoneKind::Media, text },
                    Message::Binary(b) => Output::PhoneBinary(b),
                });
                if let Some(far) = &mut self.far {
                    convert::decode(self.conv.to(), c, &mut self.pcm);
                    far.push(&self.pcm, now);
                }
            }
            self.frames_out += n * self.chunk_ms / FRAME_MS;
            let name = self.playout.sent(key, n * self.chunk_ms, now);
            out.push(Output::Phone { kind: PhoneKind::Mark, text: phone.mark(&name) });
        }
        self.paused = None;
        self.forget_heard();
        Resumed { rewound_ms }
    }

    fn generated_ms(&self, it: &Item) -> u64 {
        it.generated * 1000 / u64::from(self.source().rate())
    }

    fn wholly_heard(&self, it: &Item, now: u64) -> bool {
        it.paused_at.is_none() && it.done && self.heard(it, now) >= self.sent(it)
    }

    /// Sends `self.frames` (whole chunks of item `i`) and their mark.
    fn send_frames(&mut self, phone: &dyn PhoneAdapter, i: usize, live: bool, now: u64, out: &mut Vec<Output>) {
        let chunk = self.framer.frame_bytes();
        let n = (self.frames.len() / chunk) as u64;
        if n == 0 || !live {
            return;
        }
        if self.keep {
            let it = &mut self.items[i];
            let cap = (KEEP_MS / self.chunk_ms) as usize * chunk;
            if it.kept.len() + self.frames.len() <= cap {
                it.kept.extend_from_slice(&self.frames);
            } else {
                it.overflow = true;
            }
        }
        let sink = self.sink();
        let per_frame = chunk / (self.chunk_ms / FRAME_MS) as usize;
        let held = self.paused.is_some();
        let levels = &mut self.items[i].levels;
        for c in self.frames.chunks_exact(chunk) {
            // Paused: held (in `kept`) for the resume, not sent.
            if !held {
                out.push(match phone.media(c) {
                    Message::Text(text) => Output::Phone { kind: PhoneKind::Media, text },
                    Message::Binary(b) => Output::PhoneBinary(b),
                });
            }
            for f in c.chunks_exact(per_frame) {
                let far = if held { None } else { self.far.as_mut() };
                if levels.len() < MAX_LEVELS || far.is_some() {
                    convert::decode(sink, f, &mut self.pcm);
                }
                if levels.len() < MAX_LEVELS {
                    levels.push(convert::dbfs(&self.pcm).round() as i8);
                }
                if let Some(far) = far {
                    far.push(&self.pcm, now);
                }
            }
        }
        if held {
            return;
        }
        self.frames_out += n * self.chunk_ms / FRAME_MS;
        let name = self.playout.sent(self.items[i].key, n * self.chunk_ms, now);
        out.push(Output::Phone { kind: PhoneKind::Mark, text: phone.mark(&name) });
    }

    /// The item in the framer has no more audio: its resampler tail and
    /// last partial chunk (padded with silence) go out.
    fn finish_current(&mut self, phone: &dyn PhoneAdapter, live: bool, now: u64, out: &mut Vec<Output>) {
        let Some(i) = self.current.take() else { return };
        self.items[i].done = true;
        self.frames.clear();
        self.sink.clear();
        self.conv.flush(&mut self.sink);
        let (framer, frames) = (&mut self.framer, &mut self.frames);
        framer.push(&self.sink, |f| frames.extend_from_slice(f));
        if let Some(last) = self.framer.flush(Flush::Pad) {
            self.frames.extend_from_slice(last);
        }
        self.send_frames(phone, i, live, now, out);
    }

    /// Drops items wholly heard by the marks (nothing left to account for).
    fn forget_heard(&mut self) {
        let mut i = 0;
        while i < self.items.len() {
            let it = &self.items[i];
            let heard = it.done
                && it.paused_at.is_none()
                && self.current != Some(i)
                && self.playout.confirmed_ms(it.key) >= self.playout.sent_ms(it.key);
            if heard {
                self.playout.forget(it.key);
                self.items.remove(i);
                self.current = self.current.map(|c| if c > i { c - 1 } else { c });
            } else {
                i += 1;
            }
        }
    }
}
