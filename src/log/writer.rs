//! Group commit, first stage: the committer thread writes.
//!
//! Appenders encode their batch on their own thread ([`prepare`]) and queue it. The committer
//! takes every batch waiting, stamps HLC times, frames records, hashes leaves, extends the tree
//! and writes the whole group with one `pwrite`; it then hands the group to the syncer
//! (`sync.rs`: fdatasync, then sign and acknowledge) and goes on with the next one. So the CPU
//! work of group *k+1* overlaps the fsync of group *k*, and one fsync serves as many batches
//! as arrive during it.
//!
//! A failed write or fsync poisons the log: the page cache may have dropped the data
//! (fsyncgate), so retrying could acknowledge lost bytes. Every later append fails until the
//! log is reopened and recovered.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::derived::{IndexEntry, Watermark};
use super::merkle::{Frontier, Hash, leaf_hash};
use super::queue::Queue;
use super::reader::LogReader;
use super::record::{
    KIND_COMMIT, KIND_EVENT, RECORD_HEADER_BYTES, begin_record, finish_record, push_record,
};
use super::segment::{SEGMENT_HEADER_BYTES, create_segment};
use super::{Ack, LogConfig, LogError};
use crate::event::encoding::{TIME_OFFSET, encode_event};
use crate::event::hlc::{Clock, Hlc};
use crate::event::{ActorKey, Batch, Event};

/// What an appender waits on.
pub type Reply = Box<dyn FnOnce(Result<Ack, LogError>) + Send>;

/// How the committer stamps the events of a batch (always through the HLC, so times stay
/// strictly increasing in log order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stamp {
    /// The wall clock: what publishers get.
    #[default]
    Wall,
    /// Logical ticks only (previous time + 1 per event): times that depend on the log alone,
    /// so the kernel's derived transactions are reproduced byte for byte by a replay.
    Logical,
    /// Recorded times, one per event (a replay of another log's transaction); an event whose
    /// recorded time is not after the log's last one gets the previous time + 1.
    Recorded(Vec<u64>),
}

/// A batch encoded by its appender, waiting for times and sequence numbers.
pub(crate) struct Prepared {
    pub stamp: Stamp,
    signature: Option<[u8; 64]>,
    /// Canonical events back to back, each with time 0 (the committer fills it in).
    encoded: Vec<u8>,
    lens: Vec<u32>,
}

pub(crate) struct Job {
    pub prepared: Prepared,
    pub reply: Reply,
}

/// Checks a batch against the limits and its signature, and encodes it.
pub(crate) fn prepare(batch: Batch, config: &LogConfig) -> Result<Prepared, LogError> {
    let count = batch.changes.len();
    if count == 0 {
        return Err(LogError::Limit {
            what: "batch size (events)",
            value: 0,
            max: config.batch_events_max as u64,
        });
    }
    if count > config.batch_events_max {
        return Err(LogError::Limit {
            what: "batch size (events)",
            value: count as u64,
            max: config.batch_events_max as u64,
        });
    }
    batch.verify_signature()?;
    let mut encoded = Vec::with_capacity(count * 200);
    let mut lens = Vec::with_capacity(count);
    let actor: ActorKey = batch.actor;
    for (op, quad) in batch.changes {
        let before = encoded.len();
        encode_event(
            &Event {
                op,
                quad,
                time: 0,
                actor,
            },
            &mut encoded,
        )?;
        lens.push((encoded.len() - before) as u32);
        if encoded.len() > config.batch_bytes_max {
            return Err(LogError::Limit {
                what: "batch size (bytes)",
                value: encoded.len() as u64,
                max: config.batch_bytes_max as u64,
            });
        }
    }
    Ok(Prepared {
        stamp: Stamp::Wall,
        signature: batch.signature.map(|s| s.0),
        encoded,
        lens,
    })
}

/// The first storage failure, after which the log refuses writes.
#[derive(Debug, Default)]
pub(crate) struct Poison(Mutex<Option<String>>);

impl Poison {
    pub fn get(&self) -> Option<String> {
        self.0
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
    pub fn set(&self, reason: String) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            tracing::error!(%reason, "log poisoned");
            *g = Some(reason);
        }
    }
}

pub(crate) fn fail_all(replies: Vec<Reply>, reason: &str) {
    for reply in replies {
        reply(Err(LogError::Poisoned(reason.to_owned())));
    }
}

/// One group handed from committer to syncer.
pub(crate) struct SyncItem {
    pub files: Vec<Arc<File>>,
    pub size: u64,
    pub root: Hash,
    pub watermark: Watermark,
    pub acks: Vec<(Reply, u64, u64)>,
}

/// State owned by the committer thread.
pub(crate) struct Committer {
    pub log_dir: PathBuf,
    pub config: LogConfig,
    pub clock: Arc<dyn Clock>,
    pub hlc: Hlc,
    pub segment_no: u64,
    pub segment: Arc<File>,
    pub segment_len: u64,
    pub next_seq: u64,
    pub frontier: Frontier,
    pub reader: Arc<LogReader>,
    pub poison: Arc<Poison>,
    pub buf: Vec<u8>,
    pub index_buf: Vec<u8>,
    pub tree_buf: Vec<u8>,
}

impl Committer {
    pub fn run(mut self, jobs: Arc<Queue<Job>>, to_syncer: Arc<Queue<SyncItem>>) {
        loop {
            let mut events = 0;
            let group_events_max = self.config.group_events_max;
            let Some(group) = jobs.pop_batch(|job| {
                events += job.prepared.lens.len();
                events < group_events_max
            }) else {
                break;
            };
            if let Some(reason) = self.poison.get() {
                fail_all(group.into_iter().map(|j| j.reply).collect(), &reason);
                continue;
            }
            match self.write_group(group) {
                Ok(item) => {
                    if let Err(item) = to_syncer.push(item) {
                        fail_all(
                            item.acks.into_iter().map(|a| a.0).collect(),
                            "syncer stopped",
                        );
                    }
                }
                Err((e, replies)) => {
                    self.poison.set(e.to_string());
                    fail_all(replies, &e.to_string());
                }
            }
        }
        to_syncer.close();
    }

    fn write_group(&mut self, jobs: Vec<Job>) -> Result<SyncItem, (LogError, Vec<Reply>)> {
        self.buf.clear();
        self.index_buf.clear();
        self.tree_buf.clear();
        let group_first_seq = self.next_seq;
        let mut files = Vec::new();
        let mut acks = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter();
        while let Some(job) = jobs.next() {
            if let Err(e) = self.maybe_rotate(&job.prepared, &mut files) {
                let mut replies: Vec<Reply> =
                    acks.into_iter().map(|a: (Reply, u64, u64)| a.0).collect();
                replies.push(job.reply);
                replies.extend(jobs.map(|j| j.reply));
                return Err((e, replies));
            }
            let first = self.next_seq;
            let count = self.frame_transaction(&job.prepared);
            acks.push((job.reply, first, count));
        }
        if let Err(e) = self.flush_segment() {
            return Err((e, acks.into_iter().map(|a| a.0).collect()));
        }
        files.push(self.segment.clone());
        if let Err(e) =
            self.reader
                .derived()
                .append(group_first_seq, &self.index_buf, &self.tree_buf)
        {
            return Err((e, acks.into_iter().map(|a| a.0).collect()));
        }
        Ok(SyncItem {
            files,
            size: self.next_seq,
            root: self.frontier.root(),
            watermark: Watermark {
                events: self.next_seq,
                segment: self.segment_no,
                offset: self.segment_len,
            },
            acks,
        })
    }

    /// Starts a new segment before `prepared` if it would overflow the current one.
    fn maybe_rotate(
        &mut self,
        prepared: &Prepared,
        files: &mut Vec<Arc<File>>,
    ) -> Result<(), LogError> {
        let txn_bytes =
            prepared.encoded.len() + (prepared.lens.len() + 1) * RECORD_HEADER_BYTES + 77;
        let used = self.segment_len + self.buf.len() as u64;
        if used + txn_bytes as u64 <= self.config.segment_bytes_max || used == SEGMENT_HEADER_BYTES
        {
            return Ok(());
        }
        self.flush_segment()?;
        files.push(self.segment.clone());
        let number = self.segment_no + 1;
        let file = Arc::new(create_segment(&self.log_dir, number, self.next_seq)?);
        self.reader.add_segment(number, file.clone());
        self.segment = file;
        self.segment_no = number;
        self.segment_len = SEGMENT_HEADER_BYTES;
        Ok(())
    }

    fn flush_segment(&mut self) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = super::segment::segment_path(&self.log_dir, self.segment_no);
        self.segment
            .write_all_at(&self.buf, self.segment_len)
            .map_err(|e| LogError::io(&path, e))?;
        self.segment_len += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Frames one transaction into `buf`: its events, then the commit record.
    fn frame_transaction(&mut self, prepared: &Prepared) -> u64 {
        let first = self.next_seq;
        let mut at = 0usize;
        let wall_ms = self.clock.now_ms();
        for (i, &len) in prepared.lens.iter().enumerate() {
            let event = &prepared.encoded[at..at + len as usize];
            at += len as usize;
            let start = begin_record(&mut self.buf, KIND_EVENT);
            self.buf.extend_from_slice(event);
            let time = match &prepared.stamp {
                Stamp::Wall => self.hlc.tick(wall_ms),
                Stamp::Logical => self.hlc.tick_at(0),
                Stamp::Recorded(times) => self.hlc.tick_at(times.get(i).copied().unwrap_or(0)),
            };
            let time_at = start + RECORD_HEADER_BYTES + TIME_OFFSET;
            self.buf[time_at..time_at + 8].copy_from_slice(&time.to_be_bytes());
            finish_record(&mut self.buf, start);
            let entry = IndexEntry {
                segment: self.segment_no as u32,
                offset: (self.segment_len + start as u64) as u32,
                payload_len: len,
            };
            self.index_buf.extend_from_slice(&entry.to_bytes());
            let leaf = leaf_hash(&self.buf[start + RECORD_HEADER_BYTES..]);
            let tree_buf = &mut self.tree_buf;
            self.frontier
                .push(leaf, |_, _, hash| tree_buf.extend_from_slice(hash));
            self.next_seq += 1;
        }
        let count = self.next_seq - first;
        push_record(
            &mut self.buf,
            KIND_COMMIT,
            &commit_payload(first, count as u32, prepared.signature.as_ref()),
        );
        count
    }
}

/// `first_seq:u64le count:u32le signed:u8 [signature:64]`.
pub(crate) fn commit_payload(first_seq: u64, count: u32, signature: Option<&[u8; 64]>) -> Vec<u8> {
    let mut p = Vec::with_capacity(77);
    p.extend_from_slice(&first_seq.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    match signature {
        Some(sig) => {
            p.push(1);
            p.extend_from_slice(sig);
        }
        None => p.push(0),
    }
    p
}

/// A decoded commit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commit {
    pub first_seq: u64,
    pub count: u64,
    pub signature: Option<[u8; 64]>,
}

/// Parses a commit record and checks it closes the transaction read so far: it must start at
/// `next_seq` and count exactly the `events` records before it.
pub(crate) fn check_commit(
    payload: &[u8],
    next_seq: u64,
    events: usize,
    path: &std::path::Path,
    offset: u64,
) -> Result<Commit, LogError> {
    parse_commit(payload)
        .filter(|c| c.first_seq == next_seq && c.count == events as u64 && c.count > 0)
        .ok_or_else(|| {
            LogError::corruption(path, offset, "commit record does not match its transaction")
        })
}

fn parse_commit(payload: &[u8]) -> Option<Commit> {
    let first_seq = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let count = u32::from_le_bytes(payload.get(8..12)?.try_into().ok()?);
    let signature = match (payload.get(12)?, payload.len()) {
        (0, 13) => None,
        (1, 77) => Some(payload.get(13..77)?.try_into().ok()?),
        _ => return None,
    };
    Some(Commit {
        first_seq,
        count: u64::from(count),
        signature,
    })
}
