//! What keyward does, as plain functions over [`crate::storage::Storage`]:
//! no HTTP here. Handlers call in; this calls storage.

pub mod admin;
pub mod cache;
pub mod changes;
pub mod clock;
pub mod credentials;
pub mod health;
pub mod ids;
pub mod secrets;
pub mod sinch;
pub mod unkey;
