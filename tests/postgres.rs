//! The integration suite again, on PostgreSQL: the very modules of
//! `tests/it/main.rs`, compiled into a second binary. `common::POSTGRES`
//! tells them apart (by this crate's name), and every test server and
//! process gets a new database of a throwaway cluster (`common/pg.rs`), or
//! of the server `KEYWARD_TEST_POSTGRES_URL` names.

#[path = "../codegen/openapi.rs"]
#[allow(dead_code)]
mod openapi;

#[path = "it/common/mod.rs"]
#[allow(dead_code)]
mod common;

#[path = "it/audit.rs"]
mod audit;
#[path = "it/cli.rs"]
mod cli;
#[path = "it/clients.rs"]
mod clients;
#[path = "it/errors.rs"]
mod errors;
#[path = "it/faults.rs"]
mod faults;
#[path = "it/key_index.rs"]
mod key_index;
#[path = "it/metrics.rs"]
mod metrics;
#[path = "it/nodes.rs"]
mod nodes;
#[path = "it/processes.rs"]
mod processes;
#[path = "it/readiness.rs"]
mod readiness;
#[path = "it/sinch/mod.rs"]
mod sinch;
#[path = "it/unkey/mod.rs"]
mod unkey;
