//! The hand-offs of the commit path: a bounded queue that is drained whole, and a one-shot
//! completion an appender blocks on.
//!
//! Why not `std::sync::mpsc`: its receivers spin and `sched_yield` before parking. With 64
//! appenders blocked on replies on a 2-core machine that spinning cost more CPU than framing,
//! hashing and signing together. These park on a `Condvar` at once, and a producer only
//! signals the consumer when it is actually asleep.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A bounded multi-producer, single-consumer queue whose consumer takes everything waiting.
#[derive(Debug)]
pub struct Queue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    consumer_asleep: bool,
}

impl<T> Queue<T> {
    pub fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                consumer_asleep: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an item, waiting while the queue is full; gives it back if the queue is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut state = self.lock();
        while state.items.len() >= self.capacity && !state.closed {
            state = self.not_full.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.closed {
            return Err(item);
        }
        state.items.push_back(item);
        if state.consumer_asleep {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Adds an item if there is room now; gives it back if the queue is full or closed
    /// (`closed` tells which), so a caller that must not block can hand it to one that may.
    pub fn try_push(&self, item: T) -> Result<(), (T, bool)> {
        let mut state = self.lock();
        if state.closed {
            return Err((item, true));
        }
        if state.items.len() >= self.capacity {
            return Err((item, false));
        }
        state.items.push_back(item);
        if state.consumer_asleep {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Waits for at least one item, then takes items while `take` accepts them (it sees each
    /// item and may stop the batch). `None` once the queue is closed and empty.
    pub fn pop_batch(&self, mut take: impl FnMut(&T) -> bool) -> Option<Vec<T>> {
        let mut state = self.lock();
        while state.items.is_empty() {
            if state.closed {
                return None;
            }
            state.consumer_asleep = true;
            state = self
                .not_empty
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
            state.consumer_asleep = false;
        }
        let was_full = state.items.len() >= self.capacity;
        let mut batch = Vec::with_capacity(state.items.len());
        while let Some(item) = state.items.pop_front() {
            let more = take(&item);
            batch.push(item);
            if !more {
                break;
            }
        }
        if was_full {
            self.not_full.notify_all();
        }
        Some(batch)
    }

    /// Like [`Queue::pop_batch`], but gives up after `timeout` (or a spurious wake-up) with
    /// an empty batch, so the consumer can do its idle work.
    pub fn pop_batch_within(
        &self,
        timeout: Duration,
        take: impl FnMut(&T) -> bool,
    ) -> Option<Vec<T>> {
        {
            let mut state = self.lock();
            if state.items.is_empty() {
                if state.closed {
                    return None;
                }
                state.consumer_asleep = true;
                state = self
                    .not_empty
                    .wait_timeout(state, timeout)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|p| p.into_inner().0);
                state.consumer_asleep = false;
                if state.items.is_empty() {
                    return if state.closed { None } else { Some(Vec::new()) };
                }
            }
        }
        self.pop_batch(take)
    }

    /// No more pushes; the consumer drains what is left, then sees `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}

/// A value delivered once from another thread.
#[derive(Debug)]
pub struct Completion<T> {
    slot: Mutex<Option<T>>,
    ready: Condvar,
}

impl<T> Default for Completion<T> {
    fn default() -> Self {
        Completion {
            slot: Mutex::new(None),
            ready: Condvar::new(),
        }
    }
}

impl<T> Completion<T> {
    pub fn complete(&self, value: T) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        self.ready.notify_one();
    }

    pub fn wait(&self) -> T {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(value) = slot.take() {
                return value;
            }
            slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;

    #[test]
    fn try_push_gives_the_item_back_when_full_or_closed() {
        let queue = Queue::new(1);
        assert_eq!(queue.try_push(1), Ok(()));
        assert_eq!(queue.try_push(2), Err((2, false)));
        assert_eq!(queue.pop_batch(|_| true), Some(vec![1]));
        assert_eq!(queue.try_push(3), Ok(()));
        queue.close();
        assert_eq!(queue.try_push(4), Err((4, true)));
    }
}
