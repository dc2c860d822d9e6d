//! Opening a log for writing: locking, crash recovery, and starting the writer threads.
//!
//! Recovery, in order:
//! 1. Take an exclusive `flock` on `log/LOCK` (one writer per log).
//! 2. Drop a last segment whose creation was interrupted (torn header, no records).
//! 3. Cut the index and tree back to the durable watermark and replay the segments from there,
//!    rebuilding both.
//! 4. In the last segment, truncate a torn tail back to the end of the last complete
//!    transaction and report how many bytes and events were dropped. Damage anywhere else is a
//!    [`LogError::Corruption`] naming the file and offset.
//! 5. Check the latest stored checkpoint against the recovered tree: a checkpoint larger than
//!    the log or with another root means acknowledged data is gone, so the log refuses to open
//!    rather than ever sign a checkpoint inconsistent with one it signed before.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::checkpoint::{Checkpoint, SignedCheckpoint};
use super::checkpoint_store::{self, CheckpointStore};
use super::derived::{DerivedFiles, IndexEntry, Watermark, read_watermark, write_watermark};
use super::merkle::{self, Frontier};
use super::queue::{Completion, Queue};
use super::reader::LogReader;
use super::record::{KIND_COMMIT, KIND_EVENT, Next, RecordReader};
use super::segment::{
    HeaderState, SEGMENT_HEADER_BYTES, SEGMENTS_DIR, create_segment, list_segments, open_segment,
    read_header, segment_path, sync_dir,
};
use super::sync::{Signer, Syncer};
use super::writer::{Committer, Job, Poison, Reply, Stamp, check_commit, prepare};
use super::{Ack, LogConfig, LogError, log_dir};
use crate::event::Batch;
use crate::event::hlc::{Clock, Hlc};
use crate::keys::NodeKey;

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The log did not exist and was created.
    pub created: bool,
    /// Events in the log after recovery.
    pub events: u64,
    /// Bytes cut from the end of the last segment (a torn, unacknowledged transaction).
    pub truncated_bytes: u64,
    /// Complete event records dropped with that transaction.
    pub truncated_events: u64,
    /// A last segment whose creation was interrupted was removed.
    pub removed_segment: bool,
    /// Events whose index entries and tree hashes were rebuilt from the segments.
    pub rebuilt_events: u64,
}

/// The committer and syncer threads of an open log.
type WriterThreads = (
    JoinHandle<()>,
    JoinHandle<Result<(), LogError>>,
    JoinHandle<Result<(), LogError>>,
);

/// An open, writable log. Reads go through [`LogReader`] (this derefs to it).
pub struct Log {
    reader: Arc<LogReader>,
    config: LogConfig,
    jobs: Arc<Queue<Job>>,
    threads: Mutex<Option<WriterThreads>>,
    poison: Arc<Poison>,
    _lock: File,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.reader.log_dir())
            .field("size", &self.reader.size())
            .finish()
    }
}

impl std::ops::Deref for Log {
    type Target = LogReader;
    fn deref(&self) -> &LogReader {
        &self.reader
    }
}

/// Where recovery left the log.
struct Recovered {
    events: u64,
    frontier: Frontier,
    segment_no: u64,
    segment_len: u64,
}

impl Log {
    /// Opens (or creates) the log of `data_dir`, recovering from any crash.
    pub fn open(
        data_dir: &Path,
        key: NodeKey,
        config: LogConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Log, RecoveryReport), LogError> {
        check_config(&config)?;
        let dir = log_dir(data_dir);
        let segments_dir = dir.join(SEGMENTS_DIR);
        fs::create_dir_all(&segments_dir).map_err(|e| LogError::io(&segments_dir, e))?;
        let lock = lock(&dir)?;
        let mut report = RecoveryReport::default();
        let derived = DerivedFiles::open(&dir, true)?;
        let recovered = recover_segments(&dir, &derived, &mut report)?;
        report.events = recovered.events;

        let verifier = key.verifier();
        let loaded = checkpoint_store::load(&dir, &verifier)?;
        let root = recovered.frontier.root();
        if let Some(latest) = loaded.checkpoints.last() {
            check_against_log(&dir, &derived, latest, recovered.events)?;
        }
        let mut store = CheckpointStore::open(&dir, loaded.end)?;
        let current = Checkpoint {
            origin: key.name().to_owned(),
            size: recovered.events,
            root,
            extensions: Vec::new(),
        };
        let signed = SignedCheckpoint::sign(current, &key)?;
        if loaded.checkpoints.last() != Some(&signed) {
            store.append(&signed.note)?;
            store.sync()?;
        }
        let reader = Arc::new(LogReader::new(dir.clone(), derived, signed, verifier));
        let last_time = match recovered.events {
            0 => 0,
            n => reader.event(n - 1)?.time,
        };
        let segment = Arc::new(open_segment(&dir, recovered.segment_no)?);
        reader.add_segment(recovered.segment_no, segment.clone());
        let poison = Arc::new(Poison::default());
        let jobs = Arc::new(Queue::new(config.queue_batches_max));
        let synced = Arc::new(Queue::new(usize::MAX));
        let durable = Arc::new(Queue::new(usize::MAX));
        let (committer_jobs, committer_out, syncer_in) = (jobs.clone(), synced.clone(), synced);
        let committer = Committer {
            log_dir: dir.clone(),
            config: config.clone(),
            clock: clock.clone(),
            hlc: Hlc::after(last_time),
            segment_no: recovered.segment_no,
            segment,
            segment_len: recovered.segment_len,
            next_seq: recovered.events,
            frontier: recovered.frontier,
            reader: reader.clone(),
            poison: poison.clone(),
            buf: Vec::with_capacity(1 << 20),
            index_buf: Vec::new(),
            tree_buf: Vec::new(),
        };
        let syncer = Syncer {
            log_dir: dir.clone(),
            config: config.clone(),
            reader: reader.clone(),
            poison: poison.clone(),
            derived_synced: recovered.events,
            last_watermark: None,
            durable: durable.clone(),
        };
        let signer = Signer {
            config: config.clone(),
            stored_at_ms: clock.now_ms(),
            clock,
            key,
            reader: reader.clone(),
            store,
            poison: poison.clone(),
            stored_size: recovered.events,
        };
        let spawn_err = |e| LogError::io(&dir, e);
        let committer = std::thread::Builder::new()
            .name("ledgraph-commit".into())
            .spawn(move || committer.run(committer_jobs, committer_out))
            .map_err(spawn_err)?;
        let syncer = std::thread::Builder::new()
            .name("ledgraph-sync".into())
            .spawn(move || syncer.run(syncer_in))
            .map_err(spawn_err)?;
        let signer = std::thread::Builder::new()
            .name("ledgraph-sign".into())
            .spawn(move || signer.run(durable))
            .map_err(spawn_err)?;
        let log = Log {
            reader,
            config,
            jobs,
            threads: Mutex::new(Some((committer, syncer, signer))),
            poison,
            _lock: lock,
        };
        Ok((log, report))
    }

    /// The shared read half, for handing to other threads.
    pub fn reader(&self) -> &Arc<LogReader> {
        &self.reader
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Appends one batch as one transaction and waits until it is durable and signed.
    pub fn append(&self, batch: Batch) -> Result<Ack, LogError> {
        let done = Arc::new(Completion::default());
        let signal = done.clone();
        self.append_with(batch, Box::new(move |result| signal.complete(result)));
        done.wait()
    }

    /// Appends one batch stamped as `stamp` says (see [`Stamp`]) and waits like [`Log::append`].
    pub fn append_stamped(&self, batch: Batch, stamp: Stamp) -> Result<Ack, LogError> {
        if let Some(reason) = self.poison.get() {
            return Err(LogError::Poisoned(reason));
        }
        let mut prepared = prepare(batch, &self.config)?;
        prepared.stamp = stamp;
        let done = Arc::new(Completion::default());
        let signal = done.clone();
        let reply: Reply = Box::new(move |result| signal.complete(result));
        if let Err(job) = self.jobs.push(Job { prepared, reply }) {
            (job.reply)(Err(LogError::Closed));
        }
        done.wait()
    }

    /// Queues one batch; `reply` runs (on a log thread) once it is durable and signed, or failed.
    /// Encoding and signature checks run on the caller's thread.
    pub fn append_with(&self, batch: Batch, reply: Reply) {
        if let Some(reason) = self.poison.get() {
            return reply(Err(LogError::Poisoned(reason)));
        }
        let prepared = match prepare(batch, &self.config) {
            Ok(p) => p,
            Err(e) => return reply(Err(e)),
        };
        if let Err(job) = self.jobs.push(Job { prepared, reply }) {
            (job.reply)(Err(LogError::Closed));
        }
    }

    /// Like [`Log::append_with`], but never waits for room in the queue: an async caller
    /// (the HTTP server) runs it on its executor thread and only hands a [`QueueFull`] to a
    /// thread that may block. Encoding still runs here, so keep batches small.
    pub fn try_append_with(&self, batch: Batch, reply: Reply) -> Result<(), QueueFull> {
        if let Some(reason) = self.poison.get() {
            reply(Err(LogError::Poisoned(reason)));
            return Ok(());
        }
        let prepared = match prepare(batch, &self.config) {
            Ok(p) => p,
            Err(e) => {
                reply(Err(e));
                return Ok(());
            }
        };
        match self.jobs.try_push(Job { prepared, reply }) {
            Ok(()) => Ok(()),
            Err((job, true)) => {
                (job.reply)(Err(LogError::Closed));
                Ok(())
            }
            Err((job, false)) => Err(QueueFull { job: Box::new(job) }),
        }
    }

    /// Queues a batch that found the queue full, waiting for room.
    pub fn append_when_room(&self, full: QueueFull) {
        if let Err(job) = self.jobs.push(*full.job) {
            (job.reply)(Err(LogError::Closed));
        }
    }

    /// Stops accepting batches, finishes those queued, and makes every file durable.
    pub fn close(self) -> Result<(), LogError> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<(), LogError> {
        self.jobs.close();
        let threads = self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some((committer, syncer, signer)) = threads else {
            return Ok(());
        };
        let died = |_| LogError::Poisoned("a log thread panicked".into());
        committer.join().map_err(died)?;
        let synced = syncer.join().map_err(died)?;
        let signed = signer.join().map_err(died)?;
        synced.and(signed)
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "closing the log failed");
        }
    }
}

fn check_config(config: &LogConfig) -> Result<(), LogError> {
    // Index entries hold 32-bit offsets: a segment plus one oversized batch must stay under 4 GiB.
    let max = 1u64 << 30;
    if config.segment_bytes_max > max || config.batch_bytes_max as u64 > max {
        return Err(LogError::Limit {
            what: "segment_bytes_max / batch_bytes_max",
            value: config.segment_bytes_max,
            max,
        });
    }
    if config.queue_batches_max == 0 || config.group_events_max == 0 {
        return Err(LogError::Limit {
            what: "queue_batches_max / group_events_max",
            value: 0,
            max: 1,
        });
    }
    Ok(())
}

fn lock(dir: &Path) -> Result<File, LogError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(LogError::Locked { path });
    }
    Ok(file)
}

/// The latest stored checkpoint must describe a prefix of the recovered log.
fn check_against_log(
    dir: &Path,
    derived: &DerivedFiles,
    latest: &SignedCheckpoint,
    events: u64,
) -> Result<(), LogError> {
    let path = dir.join(checkpoint_store::CHECKPOINTS_FILE);
    let size = latest.checkpoint.size;
    if size > events {
        return Err(LogError::corruption(
            &path,
            0,
            format!(
                "a checkpoint was signed for {size} events but the log holds {events}: acknowledged events are missing"
            ),
        ));
    }
    if merkle::root(derived, size)? != latest.checkpoint.root {
        return Err(LogError::corruption(
            &path,
            0,
            format!("the log's root at size {size} differs from its signed checkpoint"),
        ));
    }
    Ok(())
}

/// Steps 2–4 of recovery (see the module doc).
fn recover_segments(
    dir: &Path,
    derived: &DerivedFiles,
    report: &mut RecoveryReport,
) -> Result<Recovered, LogError> {
    let mut watermark = read_watermark(dir)?.unwrap_or(Watermark {
        events: 0,
        segment: 0,
        offset: SEGMENT_HEADER_BYTES,
    });
    let mut segments = list_segments(dir)?;
    if segments.is_empty() {
        if watermark.events != 0 {
            return Err(LogError::corruption(
                &dir.join(SEGMENTS_DIR),
                0,
                "segments missing",
            ));
        }
        create_segment(dir, 0, 0)?;
        write_watermark(dir, watermark)?;
        segments.push(0);
        report.created = true;
    }
    let mut last = segments.len() as u64 - 1;
    if last > 0
        && last > watermark.segment
        && read_header(&segment_path(dir, last), last)? == HeaderState::Torn
    {
        let path = segment_path(dir, last);
        fs::remove_file(&path).map_err(|e| LogError::io(&path, e))?;
        sync_dir(&dir.join(SEGMENTS_DIR))?;
        report.removed_segment = true;
        last -= 1;
    }
    if watermark.segment > last {
        return Err(LogError::corruption(
            &dir.join("derived"),
            16,
            "watermark names a segment that does not exist",
        ));
    }
    derived.truncate_to(watermark.events)?;
    let mut rebuild = Rebuild {
        frontier: Frontier::load(derived, watermark.events)?,
        seq: watermark.events,
        flushed_seq: watermark.events,
        ..Default::default()
    };
    let mut end = watermark.offset;
    for number in watermark.segment..=last {
        let start = if number == watermark.segment {
            watermark.offset
        } else {
            SEGMENT_HEADER_BYTES
        };
        end = rebuild.replay_segment(dir, derived, number, start, number == last, report)?;
    }
    rebuild.flush(derived)?;
    report.rebuilt_events = rebuild.seq - watermark.events;
    if report.rebuilt_events > 0 || report.truncated_bytes > 0 {
        derived.sync()?;
        watermark = Watermark {
            events: rebuild.seq,
            segment: last,
            offset: end,
        };
        write_watermark(dir, watermark)?;
    }
    Ok(Recovered {
        events: rebuild.seq,
        frontier: rebuild.frontier,
        segment_no: last,
        segment_len: end,
    })
}

#[derive(Default)]
struct Rebuild {
    frontier: Frontier,
    seq: u64,
    flushed_seq: u64,
    index_buf: Vec<u8>,
    tree_buf: Vec<u8>,
}

impl Rebuild {
    /// Replays one segment from `start`; returns where its last complete transaction ends.
    fn replay_segment(
        &mut self,
        dir: &Path,
        derived: &DerivedFiles,
        number: u64,
        start: u64,
        is_last: bool,
        report: &mut RecoveryReport,
    ) -> Result<u64, LogError> {
        let path = segment_path(dir, number);
        match read_header(&path, number)? {
            HeaderState::Valid { first_seq }
                if start > SEGMENT_HEADER_BYTES || first_seq == self.seq => {}
            HeaderState::Valid { .. } => {
                return Err(LogError::corruption(
                    &path,
                    16,
                    "segment's first sequence number does not follow the previous segment",
                ));
            }
            HeaderState::Torn => {
                return Err(LogError::corruption(&path, 0, "segment header is damaged"));
            }
        }
        let mut reader = RecordReader::open(&path, start)?;
        if reader.file_len() < start {
            return Err(LogError::corruption(
                &path,
                start,
                "segment is shorter than its durable watermark",
            ));
        }
        let mut payload = Vec::new();
        let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut txn_end = start;
        let torn = loop {
            match reader.next(&mut payload)? {
                Next::End => break None,
                Next::Torn { offset, reason } => break Some((offset, reason)),
                Next::Record {
                    kind: KIND_EVENT,
                    offset,
                } => pending.push((offset, std::mem::take(&mut payload))),
                Next::Record {
                    kind: KIND_COMMIT,
                    offset,
                } => {
                    let commit = check_commit(&payload, self.seq, pending.len(), &path, offset)?;
                    for (event_offset, event) in pending.drain(..) {
                        self.push_event(number, event_offset, &event, &path)?;
                    }
                    debug_assert_eq!(self.seq, commit.first_seq + commit.count);
                    txn_end = reader.position();
                    if self.seq - self.flushed_seq >= 65_536 {
                        self.flush(derived)?;
                    }
                }
                Next::Record { offset, .. } => {
                    return Err(LogError::corruption(
                        &path,
                        offset,
                        "unexpected record kind in a segment",
                    ));
                }
            }
        };
        let file_len = reader.file_len();
        if txn_end == file_len {
            return Ok(txn_end);
        }
        if !is_last {
            let (offset, reason) =
                torn.unwrap_or((txn_end, "transaction without commit record".into()));
            return Err(LogError::corruption(
                &path,
                offset,
                format!("incomplete transaction before the last segment: {reason}"),
            ));
        }
        report.truncated_bytes = file_len - txn_end;
        report.truncated_events = pending.len() as u64;
        tracing::warn!(segment = %path.display(), bytes = report.truncated_bytes, events = report.truncated_events, "truncating torn tail");
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        file.set_len(txn_end).map_err(|e| LogError::io(&path, e))?;
        file.sync_all().map_err(|e| LogError::io(&path, e))?;
        Ok(txn_end)
    }

    fn push_event(
        &mut self,
        segment: u64,
        offset: u64,
        event: &[u8],
        path: &Path,
    ) -> Result<(), LogError> {
        let entry = IndexEntry {
            segment: u32::try_from(segment)
                .map_err(|_| LogError::corruption(path, 0, "segment number over 2^32"))?,
            offset: u32::try_from(offset)
                .map_err(|_| LogError::corruption(path, offset, "record beyond 4 GiB"))?,
            payload_len: event.len() as u32,
        };
        self.index_buf.extend_from_slice(&entry.to_bytes());
        let tree_buf = &mut self.tree_buf;
        self.frontier.push(merkle::leaf_hash(event), |_, _, h| {
            tree_buf.extend_from_slice(h)
        });
        self.seq += 1;
        Ok(())
    }

    fn flush(&mut self, derived: &DerivedFiles) -> Result<(), LogError> {
        derived.append(self.flushed_seq, &self.index_buf, &self.tree_buf)?;
        self.index_buf.clear();
        self.tree_buf.clear();
        self.flushed_seq = self.seq;
        Ok(())
    }
}

/// An encoded batch that [`Log::try_append_with`] could not queue without waiting; give it to
/// [`Log::append_when_room`] on a thread that may block.
pub struct QueueFull {
    job: Box<Job>,
}

impl std::fmt::Debug for QueueFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueFull")
    }
}
