//! Memory bounds, in a test binary of its own so that the resident set it
//! measures is its own: a million distinct `ratelimits.limit` identifiers,
//! as a hostile caller would send them.

use keyward::domain::unkey::DEFAULT_MAX_RATELIMIT_ENTRIES;
use keyward::domain::unkey::ratelimit::{FixedWindows, LimitRequest};

const IDENTIFIERS: usize = 1_000_000;
const MIB: u64 = 1 << 20;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Sends a million distinct, long identifiers through limiters capped at
/// `cap`; returns how much the resident set grew.
fn growth_with_cap(cap: usize) -> u64 {
    let before = resident_bytes();
    let windows = FixedWindows::new(cap);
    let padding = "x".repeat(200);
    for i in 0..IDENTIFIERS {
        let request = LimitRequest {
            namespace: "memory".into(),
            identifier: format!("{padding}-{i}"),
            limit: 10,
            duration: 60_000,
            cost: 1,
            local: false,
        };
        windows.limit("rlns_memory", &request, 1_000);
    }
    let grown = resident_bytes().saturating_sub(before);
    drop(windows);
    grown
}

#[test]
fn a_million_ratelimit_identifiers_stay_under_the_bound() {
    let capped = growth_with_cap(100_000);
    let default = growth_with_cap(DEFAULT_MAX_RATELIMIT_ENTRIES);
    println!(
        "1,000,000 distinct 207-byte identifiers: resident set grew {} MiB with a cap of 100,000 \
         entries, {} MiB with the default cap of {DEFAULT_MAX_RATELIMIT_ENTRIES}",
        capped / MIB,
        default / MIB
    );
    assert!(
        capped < 40 * MIB,
        "capped at 100,000: grew {} MiB",
        capped / MIB
    );
    assert!(
        default < 120 * MIB,
        "default cap: grew {} MiB",
        default / MIB
    );
}
