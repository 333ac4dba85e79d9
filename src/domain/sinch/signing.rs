//! The keys that sign access tokens: Ed25519 (`EdDSA`), each named by a
//! `kid`, published as a JWKS so that other services check tokens offline.
//!
//! One key is current and signs. A rotation makes a new key current; the
//! retired one keeps checking the tokens it signed, and stays in the JWKS,
//! until the last of them has expired (its retirement, plus the token
//! lifetime, plus the clock skew allowed between nodes). Then it is dropped.
//!
//! The private keys live in the database, or in the file that
//! `--token-signing-key-file` names ([`KeySource`]).

use crate::domain::audit::{self, Actor, Scope, Summary};
use crate::domain::ids::new_id;
use crate::private_file::{PrivateFile, open_private};
use crate::storage::{SigningKeyRow, Storage};
use anyhow::Context;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How far apart the clocks of the nodes that issue and check a token may be.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// One signing key, ready to sign and check.
pub struct SigningKey {
    pub kid: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    /// Parsed once: jsonwebtoken would parse the PKCS#8 document, deriving
    /// the public key, for every token, which doubled a token's cost.
    pair: Ed25519KeyPair,
    /// The token header (`alg`, `typ`, `kid`), base64url-encoded once.
    encoded_header: String,
    pub(super) decoding: DecodingKey,
    /// The public key, base64url without padding: the JWK's `x`.
    public_x: String,
}

impl SigningKey {
    fn from_row(row: &SigningKeyRow) -> anyhow::Result<SigningKey> {
        let pair = Ed25519KeyPair::from_pkcs8(&row.private_key)
            .map_err(|e| anyhow::anyhow!("signing key {} is not an Ed25519 key: {e}", row.kid))?;
        let public_x = BASE64URL.encode(pair.public_key().as_ref());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(row.kid.clone());
        Ok(SigningKey {
            kid: row.kid.clone(),
            created_at: row.created_at,
            retired_at: row.retired_at,
            pair,
            encoded_header: BASE64URL.encode(serde_json::to_vec(&header)?),
            decoding: DecodingKey::from_ed_components(&public_x)?,
            public_x,
        })
    }

    /// A JWT of `claims`, in JWS compact form (RFC 7515 §7.1):
    /// header.payload.signature, each base64url. jsonwebtoken checks them.
    pub fn sign(&self, claims: &impl Serialize) -> serde_json::Result<String> {
        let mut token = self.encoded_header.clone();
        token.push('.');
        BASE64URL.encode_string(serde_json::to_vec(claims)?, &mut token);
        let signature = self.pair.sign(token.as_bytes());
        token.push('.');
        BASE64URL.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }

    /// Whether the key still checks tokens at `now_ms`: the current key, or
    /// a retired one whose last token may not have expired yet.
    fn checks_tokens(&self, now_ms: i64, token_lifetime_secs: i64) -> bool {
        self.retired_at
            .is_none_or(|retired| now_ms < retired + (token_lifetime_secs + CLOCK_SKEW_SECS) * 1000)
    }

    /// The public key as a JWK (RFC 8037).
    fn jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_id: Some(self.kid.clone()),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: self.public_x.clone(),
            }),
        }
    }
}

/// Starts aws-lc's random generator on a thread of its own. Its first use
/// gathers CPU-jitter entropy, ~40 ms of CPU (perf, on the bench machine),
/// which a first start spent generating its first key before it listened.
/// Started first, that runs beside the database's opening.
pub fn start_random_generator() {
    std::thread::spawn(|| {
        // The bytes are thrown away: only the generator's set-up matters.
        let _ = aws_lc_rs::rand::fill(&mut [0u8; 1]);
    });
}

/// A new random key, not yet stored.
pub fn generate(now_ms: i64) -> anyhow::Result<SigningKeyRow> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|e| anyhow::anyhow!("generating an Ed25519 key: {e}"))?;
    Ok(SigningKeyRow {
        kid: new_id("kid", now_ms),
        private_key: pkcs8.as_ref().to_vec(),
        created_at: now_ms,
        retired_at: None,
    })
}

/// Every key a node holds: the current one first.
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn from_rows(rows: &[SigningKeyRow]) -> anyhow::Result<KeyRing> {
        let mut keys = rows
            .iter()
            .map(|row| SigningKey::from_row(row).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The current key first, then the most recently retired.
        keys.sort_by_key(|k| {
            (
                k.retired_at.is_some(),
                std::cmp::Reverse(k.retired_at),
                std::cmp::Reverse(k.created_at),
            )
        });
        if keys.first().is_none_or(|k| k.retired_at.is_some()) {
            anyhow::bail!("no current token signing key");
        }
        Ok(KeyRing { keys })
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The key named `kid`, if it still checks tokens.
    pub fn checking(
        &self,
        kid: &str,
        now_ms: i64,
        token_lifetime_secs: i64,
    ) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .filter(|k| k.checks_tokens(now_ms, token_lifetime_secs))
            .map(Arc::as_ref)
    }

    /// The public keys that still check tokens, as a JWKS (RFC 7517).
    pub fn jwks(&self, now_ms: i64, token_lifetime_secs: i64) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.checks_tokens(now_ms, token_lifetime_secs))
                .map(|k| k.jwk())
                .collect(),
        }
    }
}

/// Where the private keys are kept.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The database: every node shares them, and a rotation reaches every
    /// node through the change log.
    Database(Storage),
    /// A file of the node's own, created readable by its owner only; a
    /// rotation rewrites it, and the server reads it again when it changes.
    File(PathBuf),
}

impl KeySource {
    /// The stored keys, making the first one if there is none.
    pub async fn load(&self, now_ms: i64) -> anyhow::Result<Vec<SigningKeyRow>> {
        match self {
            KeySource::Database(storage) => {
                let mut rows = storage.signing_keys().await?;
                if rows.is_empty() {
                    storage.add_first_signing_key(&generate(now_ms)?).await?;
                    rows = storage.signing_keys().await?;
                }
                Ok(rows)
            }
            KeySource::File(path) => load_file(path, now_ms),
        }
    }

    /// Makes a new key current, retires the current one, and deletes the
    /// keys whose tokens have all expired. Returns the new key.
    pub async fn rotate(
        &self,
        now_ms: i64,
        token_lifetime_secs: i64,
    ) -> anyhow::Result<SigningKeyRow> {
        let next = generate(now_ms)?;
        let drop_before = now_ms - (token_lifetime_secs + CLOCK_SKEW_SECS) * 1000;
        match self {
            KeySource::Database(storage) => {
                self.load(now_ms).await?;
                let record = audit::record(
                    Actor::CLI,
                    now_ms,
                    "signing_key.rotate",
                    &next.kid,
                    Scope::Global,
                    Summary::new(),
                );
                storage
                    .rotate_signing_key(&next, now_ms, drop_before, &record)
                    .await?;
            }
            KeySource::File(path) => {
                let mut rows = load_file(path, now_ms)?;
                for row in rows.iter_mut().filter(|r| r.retired_at.is_none()) {
                    row.retired_at = Some(now_ms);
                }
                rows.retain(|r| r.retired_at.is_none_or(|retired| retired >= drop_before));
                rows.insert(0, next.clone());
                write_file(path, &rows)?;
            }
        }
        Ok(next)
    }
}

/// What the key file holds, for warnings about its mode.
pub const KEY_FILE_HOLDS: &str = "the token signing keys";

/// The key file: JSON, with each private key in standard base64.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFileEntry {
    kid: String,
    /// Ed25519, PKCS#8, standard base64.
    private_key: String,
    created_at: i64,
    retired_at: Option<i64>,
}

/// Reads the key file, creating it (mode 0600) with a first key when it does
/// not exist. A file from before rotation (one HS256 secret in base64) is
/// replaced by a new Ed25519 key. Its mode is checked at start
/// ([`KEY_FILE_HOLDS`] names it in the warning).
fn load_file(path: &Path, now_ms: i64) -> anyhow::Result<Vec<SigningKeyRow>> {
    open_private(path, KEY_FILE_HOLDS).with_context(|| format!("creating {}", path.display()))?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token signing keys {}", path.display()))?;
    let rows = if text.trim_start().starts_with('{') {
        let file: KeyFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a keyward signing key file", path.display()))?;
        file.keys
            .into_iter()
            .map(|entry| {
                let private_key = base64::engine::general_purpose::STANDARD
                    .decode(entry.private_key.trim())
                    .with_context(|| {
                        format!("{}: key {} is not base64", path.display(), entry.kid)
                    })?;
                Ok(SigningKeyRow {
                    kid: entry.kid,
                    private_key,
                    created_at: entry.created_at,
                    retired_at: entry.retired_at,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        // New, or an HS256 secret from before: start with a new key.
        let rows = vec![generate(now_ms)?];
        write_file(path, &rows)?;
        rows
    };
    Ok(rows)
}

/// Writes the key file whole: a private temporary file, renamed over it.
fn write_file(path: &Path, rows: &[SigningKeyRow]) -> anyhow::Result<()> {
    use std::io::Write;
    let file = KeyFile {
        keys: rows
            .iter()
            .map(|row| KeyFileEntry {
                kid: row.kid.clone(),
                private_key: base64::engine::general_purpose::STANDARD.encode(&row.private_key),
                created_at: row.created_at,
                retired_at: row.retired_at,
            })
            .collect(),
    };
    let temporary = path.with_extension("new");
    let _ = std::fs::remove_file(&temporary);
    let PrivateFile::Created(mut out) = open_private(&temporary, KEY_FILE_HOLDS)
        .with_context(|| format!("creating {}", temporary.display()))?
    else {
        anyhow::bail!(
            "{} appeared while it was being written",
            temporary.display()
        );
    };
    writeln!(out, "{}", serde_json::to_string_pretty(&file)?)
        .and_then(|()| out.sync_all())
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
