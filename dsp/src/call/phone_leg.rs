//! The phone side of a call, once for [`Call`](super::Call) and
//! [`Pipeline`](super::Pipeline): the stream's state (start, stop, a
//! second start refused), caller audio checked and put back in order
//! (Telnyx numbers its chunks), the agent's audio out as exact frames with
//! marks and the playout timeline, the local VAD with its echo guard, and
//! the phone's `clear` on a barge-in.
//!
//! It hands caller audio back rather than calling back: a media message
//! yields [`Received::Audio`] with a number of chunks in order, which the
//! owner reads with [`PhoneLeg::chunk`] and passes on to its agent side (a
//! model's `append`, or a recogniser), asking [`PhoneLeg::onset`] after
//! each whether the caller began to speak in it.

use std::borrow::Cow;
use std::ops::Range;

use super::barge::LocalBarge;
use super::convert;
use super::echo_leg::{EchoLeg, FarQueue};
use super::events::{Cause, Counters, Event, Stream};
use super::outbound::{Cut, Outbound};
use super::playout::MarkEcho;
use super::protocol::{Output, Payload, PhoneAdapter, PhoneEvent, PhoneKind, b64_decode};
use super::reorder::Reorder;
use crate::error::Error;
use crate::frame::Format;
use crate::resample::Quality;

/// What a phone message meant for the agent side.
#[derive(Debug)]
pub(crate) enum Received<'a> {
    /// Nothing more to do (control messages; any events are in `out`).
    Nothing,
    /// The stream started.
    Started,
    /// Caller audio: `chunks` non-empty chunks in order, read with
    /// [`PhoneLeg::chunk`]. `b64` is the message's own base64 when the
    /// audio is exactly its payload (one chunk, not reordered), so a
    /// model that takes the phone's format can be passed it as it came.
    Audio { chunks: usize, b64: Option<Cow<'a, str>> },
}

#[derive(Debug)]
pub(crate) struct PhoneLeg {
    phone: Box<dyn PhoneAdapter>,
    stream: Option<Stream>,
    stopped: bool,
    /// The agent's audio format, which `outbound` converts from.
    source: Format,
    quality: Quality,
    echo_loss_db: f32,
    reorder: Reorder,
    vad: Option<LocalBarge>,
    /// The echo canceller, when it runs.
    echo: Option<EchoLeg>,
    /// The agent's audio to the phone, and what the caller heard of it.
    pub outbound: Outbound,
    pub counters: Counters,
    // Scratch, reused across messages: the decoded payload, and the
    // chunks released in order (their ranges in `released`).
    bytes: Vec<u8>,
    released: Vec<u8>,
    chunks: Vec<Range<usize>>,
    /// The chunk last asked for its onset, decoded once: the VAD's input,
    /// and the converter's where it takes PCM (see [`PhoneLeg::decoded`]).
    pcm: Vec<i16>,
    /// Pause mode: (commit after, rewind up to), ms.
    pausing: Option<(u64, u64)>,
    /// Paused since (instant, cause).
    paused: Option<(u64, Cause)>,
    /// The caller's sounds since the first onset of an exchange: (that
    /// onset, the last resume). A sound within [`EPISODE_MS`] of a resume
    /// continues it: speech with pauses between its words commits by its
    /// whole length, not its first word's.
    episode: Option<(u64, u64)>,
}

/// In pause mode, the caller's sound is over after this much quiet, ms:
/// longer than the gaps inside a word or a backchannel ("mm-hm"), shorter
/// than the VAD's 400 ms hangover, which would lengthen every resume's gap.
pub const SOUND_END_MS: u64 = 200;

/// A caller's sound this soon after a resume continues the same exchange
/// (see `PhoneLeg::decide`), ms.
pub const EPISODE_MS: u64 = 1000;

impl PhoneLeg {
    /// A leg over `phone`, for agent audio in `source`; with a local VAD
    /// (and its echo guard at `echo_loss_db`) if `vad`, and the echo
    /// canceller on the caller's audio if `echo_cancel`.
    pub fn new(
        phone: Box<dyn PhoneAdapter>,
        source: Format,
        quality: Quality,
        echo_loss_db: f32,
        vad: bool,
        echo_cancel: bool,
    ) -> Result<Self, Error> {
        let format = phone.default_format();
        let (outbound, echo) = Self::parts(&*phone, source, format, quality, echo_cancel)?;
        Ok(PhoneLeg {
            outbound,
            echo,
            vad: if vad { Some(LocalBarge::new(echo_loss_db, format)?) } else { None },
            phone,
            stream: None,
            stopped: false,
            source,
            quality,
            echo_loss_db,
            reorder: Reorder::default(),
            counters: Counters::default(),
            bytes: Vec::new(),
            released: Vec::new(),
            chunks: Vec::new(),
            pcm: Vec::new(),
            pausing: None,
            paused: None,
            episode: None,
        })
    }

    /// The outbound side and the canceller for a stream in `format`.
    fn parts(
        phone: &dyn PhoneAdapter,
        source: Format,
        format: Format,
        quality: Quality,
        echo_cancel: bool,
    ) -> Result<(Outbound, Option<EchoLeg>), Error> {
        let mut outbound = Outbound::new(source, format, phone.chunk_ms(format), quality)?;
        let echo = if echo_cancel {
            outbound.far = Some(FarQueue::new(format.rate()));
            Some(EchoLeg::new(format)?)
        } else {
            None
        };
        Ok((outbound, echo))
    }

    /// The phone stream's audio format (the adapter's default until its
    /// start message says).
    pub fn format(&self) -> Format {
        self.outbound.sink()
    }
    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }
    pub fn stopped(&self) -> bool {
        self.stopped
    }
    /// Whether the phone takes audio now: the stream runs.
    pub fn live(&self) -> bool {
        self.stream.is_some() && !self.stopped
    }
    pub fn counters(&self) -> Counters {
        let echo = self.echo.as_ref().map(EchoLeg::stats).unwrap_or_default();
        Counters {
            frames_out: self.outbound.frames_out(),
            frames_late: self.reorder.late,
            frames_missing: self.reorder.missing,
            echo_erle_db: echo.erle_db.round() as u64,
            echo_delay_ms: u64::from(echo.delay_ms),
            double_talk_frames: echo.double_talk_frames,
            ..self.counters
        }
    }
    /// The format a start message puts the stream in.
    pub fn start_format(&self, format: Option<Format>) -> Format {
        format.unwrap_or_else(|| self.phone.default_format())
    }
    /// Milliseconds of caller audio in `[from_ms, to_ms)` when the caller
    /// was heard (0 without a VAD).
    pub fn speech_ms(&self, from_ms: u64, to_ms: u64) -> u64 {
        self.vad.as_ref().map_or(0, |v| v.speech_ms(from_ms, to_ms))
    }

    pub fn parse<'a>(&self, text: &'a str) -> Result<PhoneEvent<'a>, Error> {
        self.phone.parse(text)
    }
    pub fn parse_binary<'a>(&self, data: &'a [u8]) -> Result<PhoneEvent<'a>, Error> {
        self.phone.parse_binary(data)
    }

    /// One phone event. An error changes nothing.
    pub fn receive<'a>(&mut self, ev: PhoneEvent<'a>, now: u64, out: &mut Vec<Output>) -> Result<Received<'a>, Error> {
        match ev {
            PhoneEvent::Media { payload, seq } => return self.media(payload, seq),
            PhoneEvent::Mark { name } => {
                if self.outbound.on_mark(&name, now) == MarkEcho::Stale {
                    self.counters.stale_marks += 1;
                }
            }
            PhoneEvent::Start { stream_id, call_id, custom_parameters, format } => {
                if self.stream.is_some() {
                    return Err(Error::malformed("a second start message on one stream"));
                }
                let format = self.start_format(format);
                if format != self.format() {
                    // The stream's codec and rate, known now: nothing has
                    // been framed or heard yet, so the parts start afresh.
                    let (outbound, echo) =
                        Self::parts(&*self.phone, self.source, format, self.quality, self.echo.is_some())?;
                    if self.vad.is_some() {
                        let mut vad = LocalBarge::new(self.echo_loss_db, format)?;
                        if self.pausing.is_some() {
                            vad.end_sounds_after(SOUND_END_MS);
                        }
                        self.vad = Some(vad);
                    }
                    let keep = self.outbound.keep;
                    self.outbound = outbound;
                    self.outbound.keep = keep;
                    self.echo = echo;
                }
                self.phone.set_stream(&stream_id, format);
                out.push(Output::Event(Event::Started {
                    stream_sid: stream_id.clone(),
                    call_sid: call_id.clone(),
                    custom_parameters: custom_parameters.clone(),
                }));
                self.stream = Some(Stream { stream_sid: stream_id, call_sid: call_id, custom_parameters });
                return Ok(Received::Started);
            }
            PhoneEvent::Dtmf { digit } => out.push(Output::Event(Event::Dtmf { digit })),
            PhoneEvent::Stop => {
                if !self.stopped {
                    self.stopped = true;
                    out.push(Output::Event(Event::Stopped));
                }
            }
            PhoneEvent::Other => {}
            PhoneEvent::Unknown(kind) => {
                self.counters.unknown_phone += 1;
                out.push(Output::Event(Event::Unknown { peer: "phone", kind: kind.into_owned() }));
            }
        }
        Ok(Received::Nothing)
    }

    fn media<'a>(&mut self, payload: Payload<'a>, seq: Option<u64>) -> Result<Received<'a>, Error> {
        if self.stream.is_none() {
            // The phone says `start` first; audio before it has no call to
            // belong to, and holding it would be memory for anyone to fill.
            return Err(Error::malformed("phone media before the stream's start message"));
        }
        self.bytes.clear();
        let b64 = match payload {
            Payload::Base64(t) => {
                b64_decode("phone media payload is not valid base64", &t, &mut self.bytes)?;
                Some(t)
            }
            Payload::Raw(b) => {
                self.bytes.extend_from_slice(b);
                None
            }
        };
        if !self.bytes.len().is_multiple_of(self.format().width()) {
            return Err(Error::malformed_by(
                "phone audio is not whole 16-bit samples",
                format_args!("{} bytes", self.bytes.len()),
            ));
        }
        self.counters.frames_in += 1;
        self.released.clear();
        self.chunks.clear();
        let Some(seq) = seq else {
            // In order by the protocol: the payload is the one chunk.
            if self.bytes.is_empty() {
                // No audio: an empty append is no use to any model API,
                // and a recogniser's stream ends on one (Deepgram on b"").
                return Ok(Received::Audio { chunks: 0, b64: None });
            }
            self.chunks.push(0..self.bytes.len());
            return Ok(Received::Audio { chunks: 1, b64 });
        };
        let (released, chunks) = (&mut self.released, &mut self.chunks);
        let Ok(()) = self.reorder.push::<core::convert::Infallible>(seq, &self.bytes, |chunk| {
            if !chunk.is_empty() {
                chunks.push(released.len()..released.len() + chunk.len());
                released.extend_from_slice(chunk);
            }
            Ok(())
        });
        Ok(Received::Audio { chunks: self.chunks.len(), b64: None })
    }

    /// Chunk `i` of the last [`Received::Audio`]: whole samples of the
    /// phone's format.
    pub fn chunk(&self, i: usize) -> &[u8] {
        let r = self.chunks[i].clone();
        // An in-order payload is not copied: its one chunk is `bytes`.
        if self.released.is_empty() { &self.bytes[r] } else { &self.released[r] }
    }

    /// Chunk `i` through the echo canceller (if it runs) and the VAD (if
    /// it runs): whether the caller's speech began in it (echo-guarded by
    /// what the phone plays at `now`). Chunks are taken as consecutive
    /// caller audio, so each is asked once, in order. Always false without
    /// a VAD; the cancelled audio is then [`PhoneLeg::cancelled`].
    pub fn onset(&mut self, i: usize, now: u64) -> Result<bool, Error> {
        self.pcm.clear();
        if self.vad.is_none() && self.echo.is_none() {
            return Ok(false);
        }
        let r = self.chunks[i].clone();
        let audio = if self.released.is_empty() { &self.bytes[r] } else { &self.released[r] };
        convert::decode(self.outbound.sink(), audio, &mut self.pcm);
        let (heard, canceller) = match &mut self.echo {
            Some(echo) => {
                let latency = self.outbound.latency_ms();
                let far = self.outbound.far.as_mut().expect("queued while the canceller runs");
                echo.process(&self.pcm, far, latency, now)?;
                (&echo.out[..], Some(echo.guard()))
            }
            None => (&self.pcm[..], None),
        };
        match &mut self.vad {
            Some(vad) => vad.onset(heard, &self.outbound, now, canceller),
            None => Ok(false),
        }
    }

    /// With the echo canceller on, the cancelled caller audio of the chunk
    /// last asked for its [`PhoneLeg::onset`] (PCM16 at the phone's rate,
    /// whole 20 ms frames: a partial frame waits for the next chunk).
    pub fn cancelled(&self) -> Option<&[i16]> {
        self.echo.as_ref().map(|e| &e.out[..])
    }

    /// The chunk last asked for its [`PhoneLeg::onset`], as PCM16 at the
    /// phone's rate, if the VAD decoded it (so it is not decoded twice).
    pub fn decoded(&self) -> Option<&[i16]> {
        (!self.pcm.is_empty()).then_some(&self.pcm[..])
    }

    /// Whether agent audio for `id` goes out: the stream runs and `id` was
    /// not interrupted.
    pub fn accepts(&self, id: &str) -> bool {
        self.live() && !self.outbound.interrupted(id)
    }

    /// Agent audio for item `id` (checked by the owner): frames and marks to the phone.
    pub fn audio(
        &mut self,
        id: &str,
        response_id: Option<&str>,
        bytes: &[u8],
        now: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), Error> {
        self.outbound.audio(&*self.phone, id, response_id, bytes, now, out)
    }

    /// No more audio for `id`: its tail goes out.
    pub fn done(&mut self, id: &str, now: u64, out: &mut Vec<Output>) {
        self.outbound.done(&*self.phone, id, !self.stopped, now, out);
    }

    /// No more audio for any item so far.
    pub fn all_done(&mut self, now: u64, out: &mut Vec<Output>) {
        self.outbound.all_done(&*self.phone, !self.stopped, now, out);
    }

    /// A barge-in's phone side: `clear` to a live phone, and every item
    /// not wholly heard cut at what was heard.
    pub fn interrupt(&mut self, now: u64, out: &mut Vec<Output>) -> Vec<Cut> {
        // A commit after a pause: the phone was cleared at the pause.
        if self.live() && self.outbound.paused().is_none() {
            out.push(Output::Phone { kind: PhoneKind::Clear, text: self.phone.clear() });
        }
        self.outbound.interrupt(now)
    }

    /// Pause mode (`resume_false_interruptions`): the agent's audio is
    /// kept, a caller's sound pauses it, and [`PhoneLeg::decide`] ends the
    /// pause: speech lasting `commit_after_ms` commits, a sound that ends
    /// first resumes, rewound up to `rewind_ms`.
    pub fn pause_mode(&mut self, commit_after_ms: u32, rewind_ms: u32) {
        self.outbound.keep = true;
        self.pausing = Some((u64::from(commit_after_ms), u64::from(rewind_ms)));
        if let Some(vad) = &mut self.vad {
            vad.end_sounds_after(SOUND_END_MS);
        }
    }

    /// Paused since (instant, cause).
    pub fn paused(&self) -> Option<(u64, Cause)> {
        self.paused
    }

    /// The caller's sound at `now`: in pause mode, pauses the agent (the
    /// phone cleared, a `paused` event) and true; false when a pause is
    /// not possible (nothing would be cut and nothing is `generating`, or
    /// an item is too long to resume): the caller barges in instead.
    pub fn pause(&mut self, now: u64, cause: Cause, generating: bool, out: &mut Vec<Output>) -> bool {
        if self.paused.is_some() {
            return true;
        }
        if self.pausing.is_none() || !self.outbound.pause(now, generating) {
            return false;
        }
        if self.live() {
            out.push(Output::Phone { kind: PhoneKind::Clear, text: self.phone.clear() });
        }
        self.counters.pauses += 1;
        self.paused = Some((now, cause));
        out.push(Output::Event(Event::Paused { at_ms: now, cause }));
        true
    }

    /// A pause's end, decided on the caller's audio at `now`: a sound that
    /// ended resumes the agent (a `resumed` event; nothing for the
    /// upstream to do); speech that lasted `commit_after_ms` from the
    /// exchange's first onset (sounds less than [`EPISODE_MS`] apart are
    /// one exchange), or audio too long to keep, is an interruption: the
    /// cause to commit it with.
    pub fn decide(&mut self, now: u64, out: &mut Vec<Output>) -> Option<Cause> {
        let (at, cause) = self.paused?;
        let (commit_after, rewind) = self.pausing?;
        // Speech is timed from the exchange's first onset.
        let from = match self.episode {
            Some((first, resumed)) if at.saturating_sub(resumed) <= EPISODE_MS => first,
            _ => at,
        };
        let resumable = self.outbound.resumable();
        let speaking = self.vad.as_ref().is_some_and(LocalBarge::in_speech);
        if !speaking && resumable && self.live() {
            self.paused = None;
            self.counters.resumes += 1;
            self.episode = Some((from, now));
            let r = self.outbound.resume(&*self.phone, rewind, now, out);
            out.push(Output::Event(Event::Resumed { at_ms: now, paused_ms: now - at, rewound_ms: r.rewound_ms }));
            None
        } else if now - from >= commit_after || !resumable {
            Some(cause)
        } else {
            None
        }
    }

    /// Ends a pause without a resume (a commit, a hang-up): how long it was, ms.
    pub fn end_pause(&mut self, now: u64) -> Option<u64> {
        self.episode = None;
        self.paused.take().map(|(at, _)| now - at)
    }
}
