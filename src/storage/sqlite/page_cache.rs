//! SQLite's own page cache, behind a thin wrapper that keeps a commit from
//! scanning the whole cache.
//!
//! Every commit truncates the connection's page cache to the database's
//! size. pcache1 does that by looking only at the slots of the pages past
//! the end, unless the largest page number it has seen is far past the end:
//! then it walks every slot and every cached page. A B-tree split that
//! renumbers its new pages parks one of them, for a moment, on the number of
//! the lock page (1 GiB in), so on a database under 1 GiB every commit that
//! split a page walked all of the writer's 8,000 cached pages, each a cache
//! miss: 13% of the server's CPU under createKey load (perf), on the writer, which
//! every write waits for.
//!
//! The wrapper remembers the largest page number a cache holds, not counting
//! that parked one, and passes a truncation on only when some page may be
//! past the limit. Everything else goes to pcache1 as it is.

use rusqlite::ffi;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

/// Where SQLite parks a page while a split renumbers: the page holding the
/// lock byte, which never holds data (`PENDING_BYTE / page size + 1`).
const LOCK_BYTE: c_uint = 0x4000_0000;

type Handle = *mut ffi::sqlite3_pcache;
type Page = *mut ffi::sqlite3_pcache_page;

/// pcache1's methods, which the wrapper calls.
struct Pcache1 {
    arg: *mut c_void,
    init: unsafe extern "C" fn(*mut c_void) -> c_int,
    shutdown: unsafe extern "C" fn(*mut c_void),
    create: unsafe extern "C" fn(c_int, c_int, c_int) -> Handle,
    cache_size: unsafe extern "C" fn(Handle, c_int),
    page_count: unsafe extern "C" fn(Handle) -> c_int,
    fetch: unsafe extern "C" fn(Handle, c_uint, c_int) -> Page,
    unpin: unsafe extern "C" fn(Handle, Page, c_int),
    rekey: unsafe extern "C" fn(Handle, Page, c_uint, c_uint),
    truncate: unsafe extern "C" fn(Handle, c_uint),
    destroy: unsafe extern "C" fn(Handle),
    shrink: unsafe extern "C" fn(Handle),
}

// SAFETY: plain functions, and `arg` is pcache1's global state, which it
// guards itself; written once, then only read.
unsafe impl Send for Pcache1 {}
unsafe impl Sync for Pcache1 {}

impl Pcache1 {
    fn of(methods: &ffi::sqlite3_pcache_methods2) -> Option<Pcache1> {
        Some(Pcache1 {
            arg: methods.pArg,
            init: methods.xInit?,
            shutdown: methods.xShutdown?,
            create: methods.xCreate?,
            cache_size: methods.xCachesize?,
            page_count: methods.xPagecount?,
            fetch: methods.xFetch?,
            unpin: methods.xUnpin?,
            rekey: methods.xRekey?,
            truncate: methods.xTruncate?,
            destroy: methods.xDestroy?,
            shrink: methods.xShrink?,
        })
    }
}

static PCACHE1: OnceLock<Pcache1> = OnceLock::new();

/// One connection's cache: pcache1's, and which page numbers it may hold.
struct Cache {
    pcache1: &'static Pcache1,
    inner: Handle,
    pages: PageNumbers,
}

/// The largest page number a cache holds, not counting a parked page.
struct PageNumbers {
    parked: c_uint,
    largest: c_uint,
}

/// Installs the wrapper, once per process, before SQLite's first use; `false`
/// when SQLite was already initialised (it then keeps pcache1 unwrapped,
/// which is only slower).
pub(super) fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let mut methods = std::mem::MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
        // SAFETY: GETPCACHE2 writes the methods in use (pcache1's) into the
        // struct; it fails with MISUSE, writing nothing, once SQLite is
        // initialised, and then so would PCACHE2.
        let got =
            unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, methods.as_mut_ptr()) };
        if got != ffi::SQLITE_OK {
            return false;
        }
        // SAFETY: written by the call above (or zero, which `of` refuses).
        let Some(pcache1) = Pcache1::of(unsafe { methods.assume_init_ref() }) else {
            return false;
        };
        let pcache1 = PCACHE1.get_or_init(|| pcache1);
        let wrapper = ffi::sqlite3_pcache_methods2 {
            iVersion: 1,
            pArg: pcache1.arg,
            xInit: Some(pcache1.init),
            xShutdown: Some(pcache1.shutdown),
            xCreate: Some(create),
            xCachesize: Some(cache_size),
            xPagecount: Some(page_count),
            xFetch: Some(fetch),
            xUnpin: Some(unpin),
            xRekey: Some(rekey),
            xTruncate: Some(truncate),
            xDestroy: Some(destroy),
            xShrink: Some(shrink),
        };
        // SAFETY: SQLite copies the struct; every method below forwards to
        // pcache1, stored above.
        unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &raw const wrapper) == ffi::SQLITE_OK
        }
    })
}

/// # Safety
/// `handle` is one that `create` returned and `destroy` has not freed.
unsafe fn cache<'a>(handle: Handle) -> &'a mut Cache {
    // SAFETY: per the caller; SQLite uses a cache from one connection at a
    // time.
    unsafe { &mut *handle.cast::<Cache>() }
}

// Each method below is called by SQLite with a handle from `create`, and
// forwards its arguments to pcache1 as SQLite passed them.

unsafe extern "C" fn create(page_size: c_int, extra: c_int, purgeable: c_int) -> Handle {
    // Installed only with pcache1 stored; a null cache is SQLite's NOMEM.
    let Some(pcache1) = PCACHE1.get() else {
        return std::ptr::null_mut();
    };
    // SQLite's page sizes are powers of two from 512 to 65,536.
    let Ok(size @ 1..) = c_uint::try_from(page_size) else {
        return std::ptr::null_mut();
    };
    // SAFETY: forwarded.
    let inner = unsafe { (pcache1.create)(page_size, extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let cache = Cache {
        pcache1,
        inner,
        pages: PageNumbers::new(size),
    };
    Box::into_raw(Box::new(cache)).cast()
}

unsafe extern "C" fn cache_size(handle: Handle, pages: c_int) {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    unsafe { (cache.pcache1.cache_size)(cache.inner, pages) }
}

unsafe extern "C" fn page_count(handle: Handle) -> c_int {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    unsafe { (cache.pcache1.page_count)(cache.inner) }
}

unsafe extern "C" fn fetch(handle: Handle, key: c_uint, create: c_int) -> Page {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    let page = unsafe { (cache.pcache1.fetch)(cache.inner, key, create) };
    if !page.is_null() {
        cache.pages.note(key);
    }
    page
}

unsafe extern "C" fn unpin(handle: Handle, page: Page, discard: c_int) {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    unsafe { (cache.pcache1.unpin)(cache.inner, page, discard) }
}

unsafe extern "C" fn rekey(handle: Handle, page: Page, old: c_uint, new: c_uint) {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    unsafe { (cache.pcache1.rekey)(cache.inner, page, old, new) };
    cache.pages.note(new);
}

unsafe extern "C" fn truncate(handle: Handle, limit: c_uint) {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    if cache.pages.may_hold_from(limit) {
        unsafe { (cache.pcache1.truncate)(cache.inner, limit) };
        cache.pages.truncated(limit);
    }
}

unsafe extern "C" fn destroy(handle: Handle) {
    // SAFETY: `create` boxed the cache; SQLite uses the handle no more.
    let cache = unsafe { Box::from_raw(handle.cast::<Cache>()) };
    unsafe { (cache.pcache1.destroy)(cache.inner) }
}

unsafe extern "C" fn shrink(handle: Handle) {
    // SAFETY: see above.
    let cache = unsafe { cache(handle) };
    unsafe { (cache.pcache1.shrink)(cache.inner) }
}

impl PageNumbers {
    fn new(page_size: c_uint) -> PageNumbers {
        PageNumbers {
            parked: LOCK_BYTE / page_size + 1,
            largest: 0,
        }
    }

    /// Records that page `key` is cached, unless it is only parked.
    fn note(&mut self, key: c_uint) {
        if key != self.parked && key > self.largest {
            self.largest = key;
        }
    }

    /// Whether a page numbered `limit` or higher may be cached, so that a
    /// truncation to `limit` has something to drop. A parked page never
    /// stays: the split that parked it moves it on at once.
    fn may_hold_from(&self, limit: c_uint) -> bool {
        limit <= self.largest
    }

    fn truncated(&mut self, limit: c_uint) {
        self.largest = self.largest.min(limit.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncation_is_passed_on_only_when_a_page_past_the_limit_may_be_cached() {
        let mut cache = PageNumbers::new(4096);
        assert!(!cache.may_hold_from(1), "an empty cache holds nothing");
        cache.note(1_000);
        assert!(
            !cache.may_hold_from(1_001),
            "a commit at the end drops nothing"
        );
        assert!(cache.may_hold_from(1_000));
        assert!(
            cache.may_hold_from(1),
            "clearing the cache drops everything"
        );
        // A split parks a page on the lock page, 1 GiB in, for a moment.
        cache.note(262_145);
        assert!(!cache.may_hold_from(1_001));
        // A transaction that grew the database and rolled back left pages
        // past the end, which must go.
        cache.note(1_200);
        assert!(cache.may_hold_from(1_001));
    }

    fn cache_bytes(db: &rusqlite::Connection) -> i32 {
        let (mut current, mut highest) = (0, 0);
        // SAFETY: an open connection, and two integers to write into.
        let status = unsafe {
            ffi::sqlite3_db_status(
                db.handle(),
                ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut current,
                &mut highest,
                0,
            )
        };
        assert_eq!(status, ffi::SQLITE_OK);
        current
    }

    /// The one truncation a rollback journal needs from the cache: a
    /// transaction that grew the database rolls back, and its pages past the
    /// end leave the cache. A wrapper that never passed a truncation on
    /// kept all of them (2,194,016 bytes against 13,664).
    #[test]
    fn a_rolled_back_growth_leaves_no_page_past_the_end_in_the_cache() {
        assert!(
            install(),
            "SQLite was used before `install` in this process"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::storage::sqlite::test_connection(&dir.path().join("db.sqlite"));
        db.execute_batch(
            "PRAGMA journal_mode = DELETE; PRAGMA cache_size = -8192;
             CREATE TABLE t (n INTEGER PRIMARY KEY, filler BLOB);
             INSERT INTO t (filler) VALUES (randomblob(1000));",
        )
        .expect("schema");
        let before = cache_bytes(&db);
        db.execute_batch(
            "BEGIN;
             WITH RECURSIVE s (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)
             INSERT INTO t (filler) SELECT randomblob(1000) FROM s;",
        )
        .expect("grow");
        assert!(
            cache_bytes(&db) > before + 1_000_000,
            "the growth is cached"
        );
        db.execute_batch("ROLLBACK").expect("rollback");
        assert!(
            cache_bytes(&db) <= before,
            "{} bytes cached after the rollback, {before} before",
            cache_bytes(&db)
        );
    }

    /// A connection reads back exactly what it committed, also after a
    /// transaction that grew the database rolled back.
    #[test]
    fn a_connection_reads_what_it_committed_after_splits_and_a_rolled_back_growth() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::storage::sqlite::test_connection(&dir.path().join("db.sqlite"));
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA cache_size = -8192;
             CREATE TABLE t (n INTEGER PRIMARY KEY, h BLOB NOT NULL UNIQUE, filler BLOB);",
        )
        .expect("schema");
        // Random index entries split leaves all over the index, the splits
        // that park pages; each group commits on its own.
        let insert = "WITH RECURSIVE s (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1) \
                      INSERT INTO t (h, filler) SELECT randomblob(32), randomblob(200) FROM s";
        for _ in 0..50 {
            db.execute(insert, [200]).expect("insert");
        }
        let committed: i64 = db
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        db.execute_batch("BEGIN").expect("begin");
        db.execute(insert, [20_000]).expect("grow");
        db.execute_batch("ROLLBACK").expect("rollback");
        // The same connection grows the database again, over the page
        // numbers the rolled-back pages had.
        for _ in 0..20 {
            db.execute(insert, [200]).expect("insert");
        }
        let count: i64 = db
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, committed + 20 * 200);
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(check, "ok");
    }
}
