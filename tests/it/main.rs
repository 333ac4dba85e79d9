//! keyward's integration tests: one binary, one module per area.

#[path = "../../codegen/openapi.rs"]
#[allow(dead_code)]
mod openapi;

mod common;

mod audit;
mod cli;
mod clients;
mod codegen;
mod coverage;
mod errors;
mod faults;
mod generated;
mod key_index;
mod metrics;
mod processes;
mod readiness;
mod rules;
mod sinch;
mod spec_conformance;
mod unkey;
