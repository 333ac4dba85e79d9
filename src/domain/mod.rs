//! What keyward does, as plain functions over [`crate::storage::Storage`]:
//! no HTTP here. Handlers call in; this calls storage.

pub mod admin;
pub mod audit;
pub mod cache;
pub mod changes;
pub mod clock;
pub mod health;
pub mod ids;
pub mod secrets;
pub mod sinch;
pub mod unkey;

/// A secret as a request presented it (parsed by `crate::api::credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP Basic: an id and a secret.
    Basic { id: String, secret: String },
    /// A bearer token: a root key, or an access token keyward issued.
    Bearer(String),
    /// An `Authorization` header of another kind, or unreadable.
    Unrecognized,
}
