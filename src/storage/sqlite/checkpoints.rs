//! Checkpoints: copying the write-ahead log into the database file, on a
//! connection of their own beside the writer, and starting the log over.
//!
//! SQLite starts the log over at a commit that finds all of it copied into
//! the database file and that file synced. Under steady writes that never
//! happens by itself: a checkpoint that copies while commits land leaves
//! their frames behind and skips the sync. The log then grew to the
//! writer's backstop (`wal_autocheckpoint`), whose checkpoint copied what
//! was left and synced everything copied since the last start-over while
//! every write waited: 40-70 ms, several times a second under createKey
//! load, which made that row's p99.
//!
//! So once the log is long, the checkpointer starts it over itself. It
//! copies and syncs while writes go on, until a round leaves little behind;
//! then it holds the writer for one last copy (a few ms), after which the
//! next commit writes the log from its beginning.

use super::writer::Writer;
use crate::storage::{BUSY_TIMEOUT, Result, StorageError};
use rusqlite::{Connection, OpenFlags, ffi};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the log is copied. Once a second was too seldom: createKey's
/// log passed the backstop between copies (at 1,000,000 keys, 3,200-3,400
/// creates a second against 4,400-4,700 at 200 ms).
const INTERVAL: Duration = Duration::from_millis(200);
/// A log this long, in frames (one page each: 16 MiB), is started over.
const RESTART_AT_FRAMES: i64 = 4_000;
/// A round that copied at most this many frames is the last before the hold.
const LAST_ROUND_FRAMES: i64 = 256;
/// Rounds before the hold, at most.
const MAX_ROUNDS: usize = 4;

/// The connection that checkpoints; `None` once storage is closed.
#[derive(Debug)]
pub(super) struct Checkpointer {
    connection: Mutex<Option<Connection>>,
    /// The database file, to start writing copied pages to the disk early.
    database_file: std::fs::File,
}

/// The log after a passive checkpoint, in frames.
#[derive(Clone, Copy, Debug)]
struct Log {
    length: i64,
    copied: i64,
}

impl Checkpointer {
    /// A checkpointer for the database at `path`, which must exist.
    pub(super) fn open(path: &Path) -> Result<Checkpointer> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // A checkpoint that reaches the log's end syncs the database file
        // only at FULL (or NORMAL); that sync is what lets the log restart.
        connection.execute_batch("PRAGMA synchronous = FULL")?;
        let database_file = std::fs::File::open(path)
            .map_err(|e| StorageError::Unavailable(format!("opening the database file: {e}")))?;
        Ok(Checkpointer {
            connection: Mutex::new(Some(connection)),
            database_file,
        })
    }

    /// Closes the connection, once a copy under way is done: the writer
    /// must close last, to fold the log back into the database file.
    pub(super) fn close(&self) {
        if let Ok(mut connection) = self.connection.lock() {
            connection.take();
        }
    }

    fn is_closed(&self) -> bool {
        self.connection.lock().map_or(true, |c| c.is_none())
    }

    fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let connection = self
            .connection
            .lock()
            .map_err(|_| StorageError::Unavailable("the checkpointer failed".into()))?;
        match connection.as_ref() {
            Some(connection) => work(connection),
            None => Err(StorageError::Unavailable("storage is closed".into())),
        }
    }

    /// A passive checkpoint: copies what no reader still needs, waiting for
    /// no one. `None` when it could not run: another checkpoint was under
    /// way, or a commit was starting the log over.
    fn copy(&self) -> Result<Option<Log>> {
        self.with(|connection| {
            let (busy, length, copied): (i64, i64, i64) =
                connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
            Ok((busy == 0 && length >= 0).then_some(Log { length, copied }))
        })
    }

    /// Syncs the database file, through SQLite's own handle on it, so that
    /// what earlier copies wrote reaches the disk while writes go on rather
    /// than during the last copy, while they wait.
    fn sync_database_file(&self) -> Result<()> {
        self.with(|connection| {
            let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
            // SAFETY: the connection is open while the lock is held, and
            // FILE_POINTER writes its main database file into `file`.
            let mut code = unsafe {
                ffi::sqlite3_file_control(
                    connection.handle(),
                    c"main".as_ptr(),
                    ffi::SQLITE_FCNTL_FILE_POINTER,
                    (&raw mut file).cast(),
                )
            };
            // SAFETY: `file` is null or SQLite's open file, with its
            // methods; xSync may be called at any time, holding no lock.
            let sync = unsafe { file.as_ref().and_then(|f| f.pMethods.as_ref()) }
                .and_then(|methods| methods.xSync);
            if code == ffi::SQLITE_OK
                && let Some(sync) = sync
            {
                // SAFETY: as above.
                code = unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) };
            }
            match code {
                ffi::SQLITE_OK => Ok(()),
                code => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None).into()),
            }
        })
    }

    /// Copies what no reader still needs, then writes the copied pages to
    /// the disk a few at a time. The sync before a restart then finds little
    /// left to write: as one burst (18 ms at the median, 62 at p90, about
    /// five a second under createKey load), those writes held up the
    /// commits' own syncs of the log. So did handing them all to the kernel
    /// at once after each copy: under createKey load 635 of ~9,400 group
    /// commits took over 4 ms, against 199 of ~10,000 written back in steps.
    fn copy_and_write_back(&self) -> Result<Option<Log>> {
        let log = self.copy()?;
        if let Some(log) = log
            && log.copied > 0
        {
            write_back_paced(&self.database_file, log.copied);
        }
        Ok(log)
    }
}

/// Dirty pages one step of [`write_back_paced`] writes, about.
const PAGES_PER_STEP: i64 = 64;

/// Writes the file's dirty pages to the disk in steps of about
/// [`PAGES_PER_STEP`], each waited for before the next starts, so that a
/// commit's sync of the log queues behind one step, not behind all of them.
/// `dirty` bounds the pages to write: the frames copied since the log
/// started. A hint only: a failure changes nothing, since the sync before a
/// restart still writes what is left.
#[cfg(target_os = "linux")]
fn write_back_paced(file: &std::fs::File, dirty: i64) {
    use std::os::fd::AsRawFd;
    let Ok(length) = file.metadata().map(|m| m.len()) else {
        return;
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let step = write_back_step(length, dirty);
    for offset in (0..length).step_by(step as usize) {
        // SAFETY: a valid descriptor; the call reads no memory of ours.
        let written =
            unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, step as i64, flags) };
        if written != 0 {
            return;
        }
    }
}

/// The bytes of a file of `length` bytes that one step writes back when
/// about `dirty` of its pages are dirty, spread over it at random (a
/// checkpoint copies pages wherever the log's writes went): whole pages of
/// 4 KiB, so that no page straddles two steps.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn write_back_step(length: u64, dirty: i64) -> u64 {
    let steps = u64::try_from(dirty / PAGES_PER_STEP).unwrap_or(0).max(1);
    length.div_ceil(steps).next_multiple_of(4096).max(4096)
}

#[cfg(not(target_os = "linux"))]
fn write_back_paced(_: &std::fs::File, _: i64) {}

/// Runs `work` on the checkpointer away from the runtime's threads: a copy
/// or a sync may take tens of milliseconds.
async fn blocking<T: Send + 'static>(
    checkpointer: &Arc<Checkpointer>,
    work: fn(&Checkpointer) -> Result<T>,
) -> Result<T> {
    let checkpointer = Arc::clone(checkpointer);
    tokio::task::spawn_blocking(move || work(&checkpointer))
        .await
        .map_err(|e| StorageError::Unavailable(format!("the checkpointer stopped: {e}")))?
}

/// Copies the log every [`INTERVAL`] and starts it over once it is long;
/// stops once the checkpointer is closed. A failure is tried again at the
/// next interval, and the writer's backstop remains.
pub(super) async fn run(checkpointer: Arc<Checkpointer>, writer: Arc<Writer>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !checkpointer.is_closed() {
        tick.tick().await;
        if let Ok(Some(log)) = blocking(&checkpointer, Checkpointer::copy_and_write_back).await
            && log.length >= RESTART_AT_FRAMES
        {
            let _ = start_log_over(&checkpointer, &writer, log).await;
        }
    }
}

/// Makes the next commit start the log over, holding writes only for the
/// last copy. Each round syncs what the copies before it wrote, then copies
/// what the log gained meanwhile; the rounds shrink as they go.
async fn start_log_over(
    checkpointer: &Arc<Checkpointer>,
    writer: &Writer,
    mut log: Log,
) -> Result<()> {
    for _ in 0..MAX_ROUNDS {
        blocking(checkpointer, Checkpointer::sync_database_file).await?;
        let Some(next) = blocking(checkpointer, Checkpointer::copy_and_write_back).await? else {
            return Ok(());
        };
        if next.length < log.length {
            // Something else started it over meanwhile: the writer's
            // backstop, or another process.
            return Ok(());
        }
        let copied = next.copied - log.copied;
        log = next;
        if copied <= LAST_ROUND_FRAMES {
            break;
        }
    }
    // With the writer held, no commit lands during this copy, so it reaches
    // the log's end and SQLite syncs the database file itself.
    let _writes = writer.lock().await?;
    let started = Instant::now();
    blocking(checkpointer, Checkpointer::copy).await?;
    crate::metrics::STORAGE
        .log_restart_hold
        .observe(started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    #[test]
    fn write_back_goes_in_whole_pages_about_64_dirty_ones_a_step() {
        let gib = 1 << 30;
        // 6,400 dirty pages of a 1 GiB file: 100 steps of ~10 MiB.
        let step = write_back_step(gib, 6_400);
        assert_eq!(step % 4096, 0);
        assert_eq!(gib.div_ceil(step), 100);
        // Few dirty pages: the whole file in one step.
        assert_eq!(write_back_step(gib, 10), gib);
        assert_eq!(write_back_step(gib, 0), gib);
        // A file smaller than a page is still one page's step.
        assert_eq!(write_back_step(100, 6_400), 4096);
        assert_eq!(write_back_step(0, 6_400), 4096);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_the_log_starts_over_at_the_next_commit_and_loses_nothing() {
        // Before SQLite's first use in the process (see `test_connection`).
        super::super::page_cache::install();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.sqlite");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Commits as fast as they come, so that they land during
            // every copy; and no backstop.
            .synchronous(SqliteSynchronous::Off)
            .pragma("wal_autocheckpoint", "0");
        let writer = Arc::new(Writer::open(&options).await.expect("writer"));
        let insert = async |writer: &Writer| {
            sqlx::query("INSERT INTO rows (filler) VALUES (randomblob(3000))")
                .execute(&mut *writer.lock().await.expect("lock"))
                .await
                .expect("insert");
        };
        sqlx::query("CREATE TABLE rows (n INTEGER PRIMARY KEY, filler BLOB)")
            .execute(&mut *writer.lock().await.expect("lock"))
            .await
            .expect("create");
        let checkpointer = Arc::new(Checkpointer::open(&path).expect("checkpointer"));

        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let writes = tokio::spawn({
            let (writer, stop, committed) = (
                Arc::clone(&writer),
                Arc::clone(&stop),
                Arc::clone(&committed),
            );
            async move {
                while !stop.load(Ordering::Relaxed) {
                    insert(&writer).await;
                    committed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let long = loop {
            // `None`: a commit was starting the log over as it copied.
            if let Some(log) = checkpointer.copy().expect("copy")
                && log.length >= 500
            {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let restarts_before = log_restarts(&path);
        start_log_over(&checkpointer, &writer, long)
            .await
            .expect("start over");
        // The next commit (this one, or the writes' own) starts it over.
        insert(&writer).await;
        committed.fetch_add(1, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        writes.await.expect("writes");

        // Not the log's length: on a loaded machine the writes may commit
        // hundreds of frames after the restart before this task runs again.
        assert!(
            log_restarts(&path) > restarts_before,
            "the log did not start over ({restarts_before} restarts before)"
        );
        let rows: u64 = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rows")
            .fetch_one(&mut *writer.lock().await.expect("lock"))
            .await
            .expect("count")
            .try_into()
            .expect("a count");
        assert_eq!(rows, committed.load(Ordering::Relaxed));
        checkpointer.close();
        writer.close().await;
    }

    /// How many times the log at `database` started over: the checkpoint
    /// sequence number in its header (bytes 12-15, big-endian), which each
    /// restart increments.
    fn log_restarts(database: &std::path::Path) -> u32 {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let mut header = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open(wal).expect("the log"), &mut header)
            .expect("a header");
        u32::from_be_bytes([header[12], header[13], header[14], header[15]])
    }
}
