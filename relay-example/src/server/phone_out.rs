//! The phone writer: a bounded queue to the phone's socket, where audio
//! may be dropped (and counted) but a `clear` or a mark never is, and every
//! write is bounded in time.

use super::{App, PHONE_QUEUE};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::timeout;

/// One message for Twilio's socket.
pub(super) struct Outgoing {
    pub(super) generation: u64,
    /// A media frame (counted in `frames_out` once written), not a mark.
    media: bool,
    /// Text, or binary audio (Vonage).
    msg: Message,
}

/// The Twilio socket's writer. Media and marks go through a bounded queue
/// and are dropped (and counted) when a stalled reader fills it; a `clear`
/// is never dropped: it travels on a watch channel (clears are idempotent,
/// so only the latest matters), and audio queued before it is discarded, as
/// Twilio would discard it (counted in `frames_dropped` too). Each write
/// has [`Limits::write`]; past it the writer gives up and the call ends.
pub(super) struct PhoneOut {
    pub(super) audio: mpsc::Sender<Outgoing>,
    pub(super) clear: watch::Sender<(u64, String)>,
    pub(super) close: Option<oneshot::Sender<CloseFrame>>,
    pub(super) generation: u64,
}

/// How the writer ended.
pub(super) enum WriterEnd {
    /// The call ended; the close frame went out (or the peer was gone).
    Closed,
    /// A write did not complete within the bound.
    TimedOut,
}

impl PhoneOut {
    pub(super) fn spawn(
        mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
        app: &Arc<App>,
    ) -> (Self, tokio::task::JoinHandle<WriterEnd>) {
        let (audio, mut queue) = mpsc::channel::<Outgoing>(PHONE_QUEUE);
        let (clear, mut clears) = watch::channel((0u64, String::new()));
        let (close, close_rx) = oneshot::channel::<CloseFrame>();
        let limit = app.settings.limits.write;
        let (dropped, sent) = (app.metrics.frames_dropped.clone(), app.metrics.frames_out.clone());
        let task = tokio::spawn(async move {
            let mut generation = 0;
            let mut batch = Vec::with_capacity(16);
            let mut clears_open = true;
            // Err(true): timed out; Err(false): the peer is gone.
            let result: Result<(), bool> = async {
                loop {
                    // A clear goes first; everything queued goes out in one
                    // flush (a delta's frames and its mark cost one write, not six).
                    tokio::select! {
                        biased;
                        changed = clears.changed(), if clears_open => {
                            if changed.is_err() {
                                clears_open = false;
                                continue;
                            }
                            let (g, text) = clears.borrow_and_update().clone();
                            generation = g;
                            bounded(limit, sink.send(Message::Text(text.into()))).await?;
                        }
                        n = queue.recv_many(&mut batch, 64) => {
                            if n == 0 {
                                return Ok(());
                            }
                            if clears.has_changed().unwrap_or(false) {
                                let (g, text) = clears.borrow_and_update().clone();
                                generation = g;
                                bounded(limit, sink.feed(Message::Text(text.into()))).await?;
                            }
                            let mut media = 0;
                            for o in batch.drain(..) {
                                if o.generation < generation {
                                    dropped.inc();
                                } else {
                                    bounded(limit, sink.feed(o.msg)).await?;
                                    media += u64::from(o.media);
                                }
                            }
                            bounded(limit, sink.flush()).await?;
                            sent.inc_by(media);
                        }
                    }
                }
            }
            .await;
            match result {
                Err(true) => WriterEnd::TimedOut,
                Err(false) => WriterEnd::Closed,
                Ok(()) => {
                    // A normal close: Twilio then runs the TwiML after <Connect>.
                    let frame = close_rx.await.unwrap_or(CloseFrame { code: 1000, reason: "".into() });
                    let _ = bounded(limit, sink.send(Message::Close(Some(frame)))).await;
                    WriterEnd::Closed
                }
            }
        });
        (PhoneOut { audio, clear, close: Some(close), generation: 0 }, task)
    }

    /// Queues audio or a mark; false if the queue is full (dropped).
    pub(super) fn send_audio(&self, msg: Message, media: bool) -> bool {
        self.audio.try_send(Outgoing { generation: self.generation, media, msg }).is_ok()
    }

    pub(super) fn send_clear(&mut self, text: String) {
        self.generation += 1;
        let _ = self.clear.send((self.generation, text));
    }

    /// Ends the stream with `code` once what is queued went out.
    pub(super) fn finish(mut self, code: u16, reason: &'static str) {
        if let Some(close) = self.close.take() {
            let _ = close.send(CloseFrame { code, reason: reason.into() });
        }
    }
}

/// `fut` within `limit`: Err(true) on timeout, Err(false) on a send error.
pub(super) async fn bounded<T, E>(limit: Duration, fut: impl Future<Output = Result<T, E>>) -> Result<T, bool> {
    match timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(false),
        Err(_) => Err(true),
    }
}
