//! The relay's Prometheus metrics (`GET /metrics`).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A bounded wait that can run out (`teledsp_relay_timeouts_total{phase}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No Twilio `start` in time after the upgrade.
    Start,
    /// No inbound media in time while a call is up.
    Media,
    /// No upstream connection and `session.updated` in time.
    Session,
    /// A write to a peer that does not read.
    Write,
}

impl Phase {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Media => "media",
            Phase::Session => "session",
            Phase::Write => "write",
        }
    }
}

/// Every metric the relay exports. Autoscale on `teledsp_relay_active_calls`.
pub struct Metrics {
    registry: Registry,
    /// Calls in progress: started (Twilio `start` received and accepted),
    /// not yet ended. Sockets that never start are not calls.
    pub active_calls: Gauge,
    /// Calls started since the relay started.
    pub calls: Counter,
    /// Twilio media frames received.
    pub frames_in: Counter,
    /// 20 ms frames written to Twilio's socket (dropped ones are not).
    pub frames_out: Counter,
    /// Messages to Twilio (media frames and marks) dropped because its reader fell behind.
    pub frames_dropped: Counter,
    /// Barge-ins (server VAD or local VAD).
    pub barge_ins: Counter,
    /// Upstream connect failures, drops and error events.
    pub upstream_errors: Counter,
    /// Messages from either side that could not be used (skipped).
    pub malformed: Counter,
    /// Requests refused for a missing or wrong `X-Twilio-Signature`.
    pub signature_rejections: Counter,
    /// Tool calls run through the webhook.
    pub tool_calls: Counter,
    /// Bounded waits that ran out, by phase.
    pub timeouts: Family<[(&'static str, &'static str); 1], Counter>,
    /// Time to process one message (either direction), seconds.
    pub processing_seconds: Histogram,
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("teledsp_relay");
        let m = Metrics {
            active_calls: Gauge::default(),
            calls: Counter::default(),
            frames_in: Counter::default(),
            frames_out: Counter::default(),
            frames_dropped: Counter::default(),
            barge_ins: Counter::default(),
            upstream_errors: Counter::default(),
            malformed: Counter::default(),
            signature_rejections: Counter::default(),
            tool_calls: Counter::default(),
            timeouts: Family::default(),
            // 1 us .. ~4 ms, doubling.
            processing_seconds: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                1e-6, 2.0, 13,
            )),
            registry: Registry::default(),
        };
        registry.register("active_calls", "Calls in progress (started)", m.active_calls.clone());
        registry.register("calls", "Calls started", m.calls.clone());
        registry.register("frames_in", "Twilio media frames received", m.frames_in.clone());
        registry.register("frames_out", "20 ms frames written to Twilio", m.frames_out.clone());
        registry.register(
            "frames_dropped",
            "Messages to Twilio (media frames and marks) dropped for a slow Twilio reader",
            m.frames_dropped.clone(),
        );
        registry.register("barge_ins", "Barge-ins", m.barge_ins.clone());
        registry.register(
            "upstream_errors",
            "Upstream connect failures, drops and error events",
            m.upstream_errors.clone(),
        );
        registry.register("malformed", "Messages skipped as malformed", m.malformed.clone());
        registry.register(
            "signature_rejections",
            "Requests with a bad X-Twilio-Signature",
            m.signature_rejections.clone(),
        );
        registry.register("tool_calls", "Tool calls sent to the webhook", m.tool_calls.clone());
        registry.register("timeouts", "Bounded waits that ran out (start, media, session, write)", m.timeouts.clone());
        registry.register("processing_seconds", "Time to process one message", m.processing_seconds.clone());
        Metrics { registry, ..m }
    }

    /// Counts a timeout in `phase`.
    pub fn timeout(&self, phase: Phase) {
        self.timeouts.get_or_create(&[("phase", phase.label())]).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
