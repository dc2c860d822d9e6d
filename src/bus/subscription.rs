//! One subscriber: its bounded live buffer, its catch-up cursor, and the receiving end.
//!
//! The feeder thread pushes matching events into the subscriber's buffer while it is *live*.
//! When the buffer is full the feeder does not wait: it empties the buffer and switches the
//! subscriber to *catch-up* at the first undelivered position, and the receiver reads the log
//! itself from there. The next matching event the feeder sees becomes the rejoin point
//! (`live_from`): the feeder buffers events from it on, the receiver reads the log up to it,
//! then drains the buffer — so nothing is lost, nothing repeated, and the order is the log's.
//! The receiver only reads positions the feeder has finished with (`below` the feeder's
//! progress, or below `live_from`), which is what keeps the two from both delivering one
//! event.
//!
//! This module does not decide what matches (the registry in [`super`] does) and it has no
//! async interface: an async caller runs [`Subscription::recv_timeout`] on a blocking thread.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxrdf::{Quad, Term};

use super::{BusError, BusItem, Inner, TriplePattern};
use crate::event::Op;
use crate::kernel::alerts::{self, Alert};

/// Live (buffered by the feeder) or catching up from the log.
#[derive(Debug)]
enum Mode {
    Live,
    CatchUp {
        /// Next log position the receiver has not examined.
        cursor: u64,
        /// Where the feeder's buffer starts, once it has one again.
        live_from: Option<u64>,
    },
}

#[derive(Debug)]
struct State {
    mode: Mode,
    buffer: VecDeque<Arc<BusItem>>,
    /// The bus stopped: `Some(reason)` once no more events will come.
    closed: Option<String>,
    /// The receiver sleeps on the condvar: only then does the feeder pay for a wake-up.
    waiting: bool,
}

/// The part of a subscriber the feeder sees.
#[derive(Debug)]
pub(super) struct SubscriberSlot {
    pub(super) pattern: TriplePattern,
    /// For a topic subscription, the topic literal: only alert records' `lg:topic` triples match.
    pub(super) topic: Option<Term>,
    state: Mutex<State>,
    ready: Condvar,
    buffer_events_max: usize,
}

impl SubscriberSlot {
    pub(super) fn new(
        pattern: TriplePattern,
        topic: Option<Term>,
        start: u64,
        live: bool,
        max: usize,
    ) -> Self {
        let mode = if live {
            Mode::Live
        } else {
            Mode::CatchUp {
                cursor: start,
                live_from: None,
            }
        };
        SubscriberSlot {
            pattern,
            topic,
            state: Mutex::new(State {
                mode,
                buffer: VecDeque::new(),
                closed: None,
                waiting: false,
            }),
            ready: Condvar::new(),
            buffer_events_max: max.max(1),
        }
    }

    pub(super) fn matches(&self, op: Op, quad: &Quad) -> bool {
        self.pattern.matches(op, quad)
            && (self.topic.is_none() || crate::kernel::alerts::is_topic_triple(quad))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the feeder, in log order, with the events of one chunk matching the pattern.
    /// Never blocks on the receiver beyond this short lock. Returns how many times the
    /// subscriber overflowed.
    pub(super) fn offer_many(&self, items: &[Arc<BusItem>]) -> u64 {
        let mut guard = self.lock();
        let state = &mut *guard;
        let overflowed = items
            .iter()
            .filter(|item| self.offer_one(state, item))
            .count() as u64;
        let wake = state.waiting;
        drop(guard);
        if wake {
            self.ready.notify_one();
        }
        overflowed
    }

    /// One event into the state machine of the module docs; whether it overflowed.
    fn offer_one(&self, state: &mut State, item: &Arc<BusItem>) -> bool {
        match &mut state.mode {
            Mode::Live => {
                if state.buffer.len() < self.buffer_events_max {
                    state.buffer.push_back(item.clone());
                    false
                } else {
                    // Overflow: the receiver re-reads everything it has not taken from the log.
                    let cursor = state.buffer.front().map_or(item.seq, |i| i.seq);
                    state.buffer.clear();
                    state.mode = Mode::CatchUp {
                        cursor,
                        live_from: None,
                    };
                    true
                }
            }
            Mode::CatchUp { cursor, live_from } => {
                if item.seq < *cursor {
                    // Before a `Start::Seq` beyond the feeder: not wanted.
                    return false;
                }
                match live_from {
                    None => {
                        *live_from = Some(item.seq);
                        state.buffer.push_back(item.clone());
                        false
                    }
                    Some(_) if state.buffer.len() < self.buffer_events_max => {
                        state.buffer.push_back(item.clone());
                        false
                    }
                    Some(_) => {
                        // Still behind: the whole buffer lies at or after the cursor.
                        state.buffer.clear();
                        *live_from = None;
                        true
                    }
                }
            }
        }
    }

    pub(super) fn close(&self, reason: &str) {
        self.lock().closed.get_or_insert_with(|| reason.to_owned());
        self.ready.notify_all();
    }
}

/// What the receiver should do next, decided under the lock.
enum Step {
    Deliver(Arc<BusItem>),
    Read { from: u64, to: u64 },
    Wait,
}

/// The receiving end of [`super::Bus::subscribe`]. Dropping it unsubscribes.
pub struct Subscription {
    pub(super) id: u64,
    pub(super) slot: Arc<SubscriberSlot>,
    pub(super) inner: Arc<Inner>,
    /// Matching events this receiver read from the log during catch-up, not yet returned.
    pending: VecDeque<Arc<BusItem>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("pattern", &self.slot.pattern)
            .finish()
    }
}

impl Subscription {
    pub(super) fn new(id: u64, slot: Arc<SubscriberSlot>, inner: Arc<Inner>) -> Self {
        Subscription {
            id,
            slot,
            inner,
            pending: VecDeque::new(),
        }
    }

    /// The pattern this subscription filters by.
    pub fn pattern(&self) -> &TriplePattern {
        &self.slot.pattern
    }

    /// The alert topic this subscription follows, if it is a topic subscription.
    pub fn topic(&self) -> Option<&str> {
        match &self.slot.topic {
            Some(Term::Literal(l)) => Some(l.value()),
            _ => None,
        }
    }

    /// The alert whose `lg:topic` triple `item` is (what a topic subscription receives), read
    /// from the record's triples just before it in the log.
    pub fn alert(&self, item: &BusItem) -> Result<Alert, BusError> {
        let alert = alerts::read(item.seq, &item.quad, |seq| {
            self.inner.source.item(seq).map(|i| i.quad.clone())
        })?;
        Ok(alert)
    }

    /// The next matching event in log order, waiting up to `timeout`; `Ok(None)` on timeout.
    /// `Err(BusError::Closed)` once the bus has stopped and everything before was delivered.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Arc<BusItem>>, BusError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            match self.next_step() {
                Step::Deliver(item) => return Ok(Some(item)),
                Step::Read { from, to } => self.read_log(from, to)?,
                Step::Wait => {
                    let mut state = self.slot.lock();
                    // Re-check under the lock: the feeder may have offered since next_step, and
                    // it notifies only after taking this lock, so no wake-up is missed.
                    if self.has_work(&state) {
                        continue;
                    }
                    if let Some(reason) = &state.closed {
                        return Err(BusError::Closed(reason.clone()));
                    }
                    let now = Instant::now();
                    let left = match deadline {
                        Some(d) if d > now => d - now,
                        Some(_) => return Ok(None),
                        None => Duration::from_secs(3600),
                    };
                    state.waiting = true;
                    state = match self.slot.ready.wait_timeout(state, left) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    };
                    state.waiting = false;
                    drop(state);
                }
            }
        }
    }

    /// Appends up to `max` next events to `out`, waiting up to `timeout` for the first; the
    /// rest are only those already there. Returns how many were appended (0 on timeout).
    /// One lock hands over a whole run of buffered events, which is what a busy subscriber
    /// wants.
    pub fn recv_many(
        &mut self,
        out: &mut Vec<Arc<BusItem>>,
        max: usize,
        timeout: Duration,
    ) -> Result<usize, BusError> {
        if max == 0 {
            return Ok(0);
        }
        let Some(first) = self.recv_timeout(timeout)? else {
            return Ok(0);
        };
        out.push(first);
        let mut taken = 1;
        while taken < max {
            if let Some(item) = self.pending.pop_front() {
                out.push(item);
                taken += 1;
                continue;
            }
            let mut state = self.slot.lock();
            let available = match state.mode {
                Mode::Live => state.buffer.len().min(max - taken),
                // Catching up: the next call reads the log.
                Mode::CatchUp { .. } => 0,
            };
            if available == 0 {
                break;
            }
            out.extend(state.buffer.drain(..available));
            taken += available;
        }
        Ok(taken)
    }

    fn has_work(&self, state: &State) -> bool {
        match state.mode {
            Mode::Live => !state.buffer.is_empty(),
            Mode::CatchUp { cursor, live_from } => {
                live_from.is_some() || cursor < self.inner.feeder_done.load(Ordering::Acquire)
            }
        }
    }

    fn next_step(&mut self) -> Step {
        let mut state = self.slot.lock();
        loop {
            match state.mode {
                Mode::Live => {
                    return state.buffer.pop_front().map_or(Step::Wait, Step::Deliver);
                }
                Mode::CatchUp { cursor, live_from } => {
                    let limit =
                        live_from.unwrap_or_else(|| self.inner.feeder_done.load(Ordering::Acquire));
                    if Some(cursor) == live_from {
                        state.mode = Mode::Live;
                        continue;
                    }
                    if cursor < limit {
                        let to = limit.min(cursor + self.inner.config.catchup_read_events_max);
                        return Step::Read { from: cursor, to };
                    }
                    return Step::Wait;
                }
            }
        }
    }

    /// Reads `[from, to)` from the log into `pending`, then moves the cursor to `to`.
    fn read_log(&mut self, from: u64, to: u64) -> Result<(), BusError> {
        for seq in from..to {
            let item = self.inner.source.item(seq)?;
            if self.slot.matches(item.op, &item.quad) {
                self.pending.push_back(item);
            }
        }
        let mut state = self.slot.lock();
        if let Mode::CatchUp { cursor, .. } = &mut state.mode {
            *cursor = to;
        }
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.inner.unregister(self.id);
    }
}
