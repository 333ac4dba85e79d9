//! Which keys exist, in memory: a fingerprint (the first 8 bytes of its
//! hash) of every live key. With it, a verify of a key that does not exist,
//! a typo or someone spraying guesses, is answered without a database read.
//!
//! The index only ever says "no" for a key it has never heard of:
//! - it is loaded in pages in the background at start, after the change feed
//!   is subscribed, so a key created during the load is in a page or arrives
//!   as a change; until the load is complete, every key may exist;
//! - a key created through this process is added before its insert, and one
//!   created through another process when its change arrives (the change
//!   feed's bound: 100 ms on SQLite, a few ms on PostgreSQL);
//! - a deleted key keeps its fingerprint until the next load, and its
//!   verify reads storage, which finds nothing;
//! - a process that missed changes starts a new load, and reads storage on
//!   every miss until it is complete.

use super::prehashed::BuildPrehashed;
use std::collections::HashSet;
use std::sync::RwLock;

/// Above this many keys the index stays incomplete, and verifies of unknown
/// keys read storage again: 20,000,000 fingerprints take about 360 MB.
pub const MAX_INDEXED_KEYS: usize = 20_000_000;

#[derive(Debug, Default)]
pub struct KeyIndex {
    state: RwLock<State>,
    /// Woken by [`KeyIndex::reset`]: the loader starts again.
    reload: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    fingerprints: HashSet<u64, BuildPrehashed>,
    /// Which load is current; a reset starts the next one.
    load: u64,
    complete: bool,
}

impl KeyIndex {
    /// Whether a live key may have this hash: false only when the index is
    /// complete and has never heard of it.
    pub fn may_exist(&self, hash: &[u8; 32]) -> bool {
        match self.state.read() {
            Ok(state) => !state.complete || state.fingerprints.contains(&fingerprint(hash)),
            // Storage is the truth: an unreadable index sends every verify there.
            Err(_) => true,
        }
    }

    /// Records that a key with this hash may exist.
    pub fn add(&self, hash: &[u8; 32]) {
        self.add_all([hash]);
    }

    pub fn add_all<'a>(&self, hashes: impl IntoIterator<Item = &'a [u8; 32]>) {
        let mut state = self.write();
        for hash in hashes {
            state.fingerprints.insert(fingerprint(hash));
        }
    }

    /// The load under way, to pass to [`KeyIndex::complete`].
    pub fn current_load(&self) -> u64 {
        match self.state.read() {
            Ok(state) => state.load,
            Err(poisoned) => poisoned.into_inner().load,
        }
    }

    /// Marks the index complete, unless a reset came since `load` began.
    pub fn complete(&self, load: u64) -> bool {
        let mut state = self.write();
        state.complete = state.load == load;
        state.complete
    }

    /// Gives `load` up, when there are more keys than the index takes: it
    /// forgets them and stays incomplete, so that unknown keys are read
    /// from storage, until the next reset.
    pub fn abandon(&self, load: u64) {
        let mut state = self.write();
        if state.load == load {
            state.fingerprints = HashSet::default();
            state.complete = false;
        }
    }

    /// Forgets every key and asks the loader for a new load: for a process
    /// that missed changes, which may have been creations.
    pub fn reset(&self) {
        {
            let mut state = self.write();
            state.fingerprints = HashSet::default();
            state.load += 1;
            state.complete = false;
        }
        self.reload.notify_one();
    }

    /// Waits for a [`KeyIndex::reset`] after `load` began.
    pub async fn reset_since(&self, load: u64) {
        loop {
            // Created before the check, so that a reset between the two
            // still wakes it.
            let reset = self.reload.notified();
            if self.current_load() != load {
                return;
            }
            reset.await;
        }
    }

    /// How many fingerprints the index holds, and whether it is complete.
    pub fn size(&self) -> (usize, bool) {
        match self.state.read() {
            Ok(state) => (state.fingerprints.len(), state.complete),
            Err(_) => (0, false),
        }
    }

    /// The state, whole again after a panic poisoned it: it is a set of
    /// fingerprints, and a reset makes it true again.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|poisoned| {
            self.state.clear_poison();
            let mut state = poisoned.into_inner();
            state.complete = false;
            state
        })
    }
}

fn fingerprint(hash: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_index_says_no() {
        let index = KeyIndex::default();
        let (known, unknown) = ([1u8; 32], [2u8; 32]);
        let load = index.current_load();
        index.add(&known);
        assert!(index.may_exist(&unknown), "incomplete: anything may exist");
        assert!(index.complete(load));
        assert!(index.may_exist(&known));
        assert!(!index.may_exist(&unknown));
        index.add(&unknown);
        assert!(index.may_exist(&unknown), "a key added after the load");
    }

    #[test]
    fn a_reset_during_a_load_keeps_it_incomplete() {
        let index = KeyIndex::default();
        let load = index.current_load();
        index.add(&[1u8; 32]);
        index.reset();
        assert!(!index.complete(load), "the load began before the reset");
        assert!(index.may_exist(&[3u8; 32]));
        assert_eq!(index.size(), (0, false), "the reset forgot every key");
        let next = index.current_load();
        assert!(index.complete(next));
        assert!(!index.may_exist(&[3u8; 32]));
    }

    #[tokio::test]
    async fn the_loader_wakes_for_a_reset_and_only_for_one() {
        let index = KeyIndex::default();
        let load = index.current_load();
        let quiet = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            index.reset_since(load),
        );
        assert!(quiet.await.is_err(), "no reset, no new load");
        index.reset();
        index.reset_since(load).await;
        let next = index.current_load();
        let quiet = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            index.reset_since(next),
        );
        assert!(quiet.await.is_err(), "the reset's wake-up is spent");
    }

    #[test]
    fn an_abandoned_load_leaves_every_key_possible() {
        let index = KeyIndex::default();
        let load = index.current_load();
        index.add(&[1u8; 32]);
        index.abandon(load);
        assert_eq!(index.size(), (0, false));
        assert!(index.may_exist(&[3u8; 32]));
    }
}
