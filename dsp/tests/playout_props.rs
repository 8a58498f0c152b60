//! The playout timeline against a simulated Twilio: random send, echo and
//! clear schedules. Twilio here plays what it gets in order, in real time,
//! from when it arrives, echoes each mark once the audio before it has
//! played (late by a random delay, in order, or never), and on `clear`
//! drops what is queued and echoes every queued mark at once.
//!
//! The estimate is checked at every event instant: never more than the
//! audio sent, never less than the echoed marks confirm, and within one
//! 20 ms frame of the truth when marks are echoed on time.

use proptest::prelude::*;
use teledsp::call::playout::{MarkEcho, Playout};

#[derive(Debug, Clone)]
struct Send {
    gap: u64,
    frames: u64,
    item: u64,
    delay: u64,
    echoed: bool,
}

fn sends() -> impl Strategy<Value = Vec<Send>> {
    prop::collection::vec(
        (0u64..400, 1u64..15, 0u64..3, 0u64..250, prop::bool::weighted(0.8))
            .prop_map(|(gap, frames, item, delay, echoed)| Send { gap, frames, item, delay, echoed }),
        1..40,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Clear,
    Echo(usize),
    Send(usize),
}

/// Twilio's side, worked out ahead: per send, when it starts and ends
/// playing (cut at the clear) and when (if) its mark comes back.
struct Truth {
    sent_at: Vec<u64>,
    start: Vec<u64>,
    end: Vec<u64>,
    echo: Vec<Option<u64>>,
    epoch: Vec<u64>,
}

fn simulate(sends: &[Send], clear: Option<(usize, u64)>, on_time: bool) -> (Truth, Option<u64>) {
    let mut t = 0;
    let mut prev_end = 0;
    let mut last_echo = 0;
    let mut tr = Truth { sent_at: vec![], start: vec![], end: vec![], echo: vec![], epoch: vec![] };
    let mut clear_at = None;
    for (k, s) in sends.iter().enumerate() {
        t += s.gap;
        let start = prev_end.max(t);
        let end = start + s.frames * 20;
        let echo = if on_time {
            Some(end)
        } else if s.echoed {
            last_echo = last_echo.max(end + s.delay);
            Some(last_echo)
        } else {
            None
        };
        tr.sent_at.push(t);
        tr.start.push(start);
        tr.end.push(end);
        tr.echo.push(echo);
        tr.epoch.push(u64::from(clear_at.is_some()));
        prev_end = end;
        if let Some((after, off)) = clear
            && after == k
        {
            let tc = t + off;
            clear_at = Some(tc);
            // Cut what had not played; queued marks come back at the clear.
            for j in 0..=k {
                tr.end[j] = tr.end[j].min(tc).max(tr.start[j].min(tc));
                tr.start[j] = tr.start[j].min(tc);
                if let Some(e) = tr.echo[j]
                    && e > tc
                {
                    tr.echo[j] = Some(tc);
                }
            }
            // Later sends come after the clear.
            t = tc;
            prev_end = tc;
            last_echo = tc;
        }
    }
    (tr, clear_at)
}

fn check(sends: &[Send], clear: Option<(usize, u64)>, on_time: bool) -> Result<(), TestCaseError> {
    let (tr, clear_at) = simulate(sends, clear, on_time);
    // Sorted by time, then by cause: a send, the clear after it, then
    // echoes (those at the clear's instant come back because of it).
    let mut evs: Vec<(u64, usize, Ev)> = Vec::new();
    let after = clear.map(|(a, _)| a);
    for k in 0..sends.len() {
        evs.push((tr.sent_at[k], 3 * k, Ev::Send(k)));
        if let Some(e) = tr.echo[k] {
            let by_clear = after.is_some_and(|a| k <= a) && Some(e) == clear_at;
            let seq = if by_clear { 3 * after.unwrap() + 2 } else { 3 * k + 2 };
            evs.push((e, seq, Ev::Echo(k)));
        }
    }
    if let (Some(tc), Some(a)) = (clear_at, after) {
        evs.push((tc, 3 * a + 1, Ev::Clear));
    }
    evs.sort();
    let mut p = Playout::new();
    let mut marks = vec![String::new(); sends.len()];
    let mut sent = vec![false; sends.len()];
    let mut echoed_upto: Option<usize> = None;
    let mut cleared = false;
    let key = |k: usize| tr.epoch[k] * 10 + sends[k].item;
    for &(t, _, ev) in &evs {
        // The estimate at this instant, before the event, for the current epoch's items.
        let epoch = u64::from(cleared);
        for item in 0..3 {
            let live: Vec<usize> =
                (0..sends.len()).filter(|&k| sent[k] && tr.epoch[k] == epoch && sends[k].item == item).collect();
            let est = p.heard(epoch * 10 + item, t);
            let sent_ms: u64 = live.iter().map(|&k| sends[k].frames * 20).sum();
            let confirmed: u64 =
                live.iter().filter(|&&k| echoed_upto.is_some_and(|e| k <= e)).map(|&k| sends[k].frames * 20).sum();
            let truth: u64 = live.iter().map(|&k| t.saturating_sub(tr.start[k]).min(tr.end[k] - tr.start[k])).sum();
            prop_assert!(est <= sent_ms, "t={t} item {item}: heard {est} > sent {sent_ms}");
            prop_assert!(est >= confirmed, "t={t} item {item}: heard {est} < confirmed {confirmed}");
            if on_time {
                prop_assert!(est.abs_diff(truth) <= 20, "t={t} item {item}: heard {est}, truth {truth}");
            }
        }
        match ev {
            Ev::Send(k) => {
                marks[k] = p.sent(key(k), sends[k].frames * 20, t);
                sent[k] = true;
            }
            Ev::Echo(k) => {
                let before_clear = clear.is_some_and(|(after, _)| k <= after);
                let r = p.on_mark(&marks[k], t);
                if cleared && before_clear {
                    // Echoed after the clear went out: its audio was dropped.
                    prop_assert_eq!(r, MarkEcho::Stale);
                } else {
                    prop_assert_eq!(r, MarkEcho::Pinned);
                    echoed_upto = Some(k);
                }
            }
            Ev::Clear => {
                p.clear();
                cleared = true;
                echoed_upto = None;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn marks_on_time_give_the_truth_within_a_frame(s in sends()) {
        check(&s, None, true)?;
    }

    #[test]
    fn late_or_missing_marks_stay_between_confirmed_and_sent(s in sends()) {
        check(&s, None, false)?;
    }

    #[test]
    fn a_clear_makes_queued_marks_stale_and_later_audio_counts_afresh(
        s in sends(), at in any::<prop::sample::Index>(), off in 0u64..500, on_time in any::<bool>(),
    ) {
        let after = at.index(s.len());
        check(&s, Some((after, off)), on_time)?;
    }
}
