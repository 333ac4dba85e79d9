//! Between the Unkey wire types (generated from the spec) and the domain.

use crate::api::RequestId;
use crate::domain::unkey::keys::{
    CreateKey, ImportKey, KeyRatelimit, RatelimitKind, Refill, RefillInterval, UpdateKey,
};
use crate::domain::unkey::verify::{Denial, Verification};
use crate::generated::unkey::types;
use crate::storage::KeyRow;
use std::num::NonZeroU64;

/// typify gives each spec location its own copy of these enums.
macro_rules! from_wire_enum {
    ($wire:ident => $domain:ident { $($variant:ident),* }) => {
        impl From<types::$wire> for $domain {
            fn from(value: types::$wire) -> $domain {
                match value { $(types::$wire::$variant => $domain::$variant),* }
            }
        }
    };
}
from_wire_enum!(KeysCreateKeyBodyRatelimitType => RatelimitKind { Fast, Consistent });
from_wire_enum!(KeysUpdateKeyBodyRatelimitType => RatelimitKind { Fast, Consistent });
from_wire_enum!(PostKeysBodyRatelimitType => RatelimitKind { Fast, Consistent });
from_wire_enum!(MigrationsCreateKeysBodyItemRatelimitType => RatelimitKind { Fast, Consistent });
from_wire_enum!(KeysCreateKeyBodyRefillInterval => RefillInterval { Daily, Monthly });
from_wire_enum!(KeysUpdateKeyBodyRefillInterval => RefillInterval { Daily, Monthly });
from_wire_enum!(MigrationsCreateKeysBodyItemRefillInterval => RefillInterval { Daily, Monthly });

/// A spec's positive integer as the domain's `i64`, saturating.
pub fn int(n: NonZeroU64) -> i64 {
    i64::try_from(n.get()).unwrap_or(i64::MAX)
}

/// The four ratelimit fields, whichever wire type carries them.
pub fn ratelimit(
    kind: impl Into<RatelimitKind>,
    limit: NonZeroU64,
    refill_rate: NonZeroU64,
    refill_interval: NonZeroU64,
) -> KeyRatelimit {
    KeyRatelimit {
        kind: kind.into(),
        limit: int(limit),
        refill_rate: int(refill_rate),
        refill_interval: int(refill_interval),
    }
}

pub fn refill(interval: impl Into<RefillInterval>, amount: NonZeroU64) -> Refill {
    Refill {
        interval: interval.into(),
        amount: int(amount),
    }
}

/// A key's settings from a wire type that has them all: createKey's body
/// and an item of migrations.createKeys are two generated types with the
/// same fields.
macro_rules! key_settings {
    ($wire:ident, byte_length: $byte_length:expr, remaining: $remaining:expr) => {
        CreateKey {
            byte_length: $byte_length,
            remaining: $remaining,
            api_id: $wire.api_id,
            prefix: $wire.prefix.map(String::from),
            name: $wire.name,
            owner_id: $wire.owner_id,
            meta: Some($wire.meta).filter(|m| !m.is_empty()),
            expires: $wire.expires,
            refill: $wire.refill.map(|r| refill(r.interval, r.amount)),
            ratelimit: $wire
                .ratelimit
                .map(|r| ratelimit(r.type_, r.limit, r.refill_rate, r.refill_interval)),
            roles: $wire.roles.into_iter().map(String::from).collect(),
            enabled: $wire.enabled,
            environment: $wire.environment.map(String::from),
        }
    };
}

/// What createKey asks for, in the domain's terms.
pub fn create_key(body: types::KeysCreateKeyBody) -> CreateKey {
    key_settings!(body, byte_length: body.byte_length, remaining: body.remaining)
}

/// One item of `migrations.createKeys`: createKey's settings, with the
/// key's hash and start instead of a new secret.
pub fn import_key(item: types::MigrationsCreateKeysBodyItem) -> ImportKey {
    ImportKey {
        key: key_settings!(item, byte_length: 0, remaining: item.remaining.map(int)),
        hash: item.hash.value,
        start: item.start,
    }
}

/// What the legacy `POST /v1/keys` asks for: a subset of createKey's body,
/// with the same names and rules.
pub fn legacy_create_key(body: types::PostKeysBody) -> CreateKey {
    CreateKey {
        api_id: body.api_id,
        prefix: body.prefix.map(String::from),
        name: body.name,
        byte_length: body.byte_length,
        owner_id: body.owner_id,
        meta: Some(body.meta).filter(|m| !m.is_empty()),
        expires: body.expires,
        remaining: body.remaining,
        refill: None,
        ratelimit: body
            .ratelimit
            .map(|r| ratelimit(r.type_, r.limit, r.refill_rate, r.refill_interval)),
        roles: Vec::new(),
        enabled: true,
        environment: None,
    }
}

/// What updateKey asks for: absent leaves a field, `null` clears it.
pub fn update_key(body: types::KeysUpdateKeyBody) -> (String, UpdateKey) {
    let update = UpdateKey {
        name: body.name,
        owner_id: body.owner_id,
        meta: body.meta,
        expires: body.expires,
        remaining: body.remaining,
        refill: body.refill.map(|r| r.map(|r| refill(r.interval, r.amount))),
        ratelimit: body
            .ratelimit
            .map(|r| r.map(|r| ratelimit(r.type_, r.limit, r.refill_rate, r.refill_interval))),
        enabled: body.enabled,
    };
    (body.key_id, update)
}

fn meta_object(meta: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    meta.and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

/// A key as getKey and listKeys show it.
pub fn key(row: KeyRow) -> types::Key {
    let positive = |n: i64| u64::try_from(n).ok().and_then(NonZeroU64::new);
    let ratelimit = row.ratelimit.and_then(|r| {
        Some(types::KeyRatelimit {
            type_: match r.kind {
                RatelimitKind::Consistent => types::KeyRatelimitType::Consistent,
                RatelimitKind::Fast => types::KeyRatelimitType::Fast,
            },
            async_: r.kind == RatelimitKind::Fast,
            limit: positive(r.limit)?,
            refill_rate: positive(r.refill_rate)?,
            refill_interval: positive(r.refill_interval)?,
            duration: positive(r.refill_interval)?,
        })
    });
    let refill = row.refill.map(|r| types::KeyRefill {
        interval: match r.interval {
            RefillInterval::Monthly => types::KeyRefillInterval::Monthly,
            RefillInterval::Daily => types::KeyRefillInterval::Daily,
        },
        amount: r.amount,
        last_refill_at: row.last_refill_at,
    });
    types::Key {
        id: row.id,
        start: row.start,
        api_id: Some(row.api_id),
        workspace_id: row.workspace_id,
        name: row.name,
        owner_id: row.owner_id,
        meta: meta_object(row.meta.as_deref()),
        created_at: Some(row.created_at),
        deleted_at: None,
        expires: row.expires_at,
        remaining: row.remaining,
        refill,
        ratelimit,
        roles: row.roles,
        permissions: row.permissions,
        enabled: Some(row.enabled),
    }
}

/// Each verify answer's `code` is its own generated enum, with the same
/// values for every denial.
macro_rules! denial_code {
    ($name:ident -> $code:path) => {
        fn $name(denial: Denial) -> $code {
            use $code as Code;
            match denial {
                Denial::NotFound => Code::NotFound,
                Denial::Disabled => Code::Disabled,
                Denial::Forbidden => Code::Forbidden,
                Denial::InsufficientPermissions => Code::InsufficientPermissions,
                Denial::RateLimited => Code::RateLimited,
                Denial::UsageExceeded => Code::UsageExceeded,
            }
        }
    };
}
denial_code!(code -> types::V1KeysVerifyKeyResponseCode);
denial_code!(legacy_code -> types::PostKeysVerifyResponseCode);

/// verifyKey's answer. A valid key shows what is set on it; an invalid one
/// only why, its id when identified, and its limits where they apply.
pub fn verification(v: Verification, request_id: &RequestId) -> types::V1KeysVerifyKeyResponse {
    let ratelimit = v
        .ratelimit
        .map(|d| types::V1KeysVerifyKeyResponseRatelimit {
            limit: d.limit,
            remaining: d.remaining,
            reset: d.reset,
        });
    let mut response = types::V1KeysVerifyKeyResponse {
        valid: v.denial.is_none(),
        code: v
            .denial
            .map_or(types::V1KeysVerifyKeyResponseCode::Valid, code),
        request_id: request_id.to_string(),
        key_id: v.key.as_ref().map(|k| k.id.to_string()),
        remaining: v.remaining,
        ratelimit,
        name: None,
        owner_id: None,
        meta: Default::default(),
        expires: None,
        enabled: None,
        permissions: Vec::new(),
        environment: None,
    };
    if let (None, Some(key)) = (v.denial, &v.key) {
        let details = key.details();
        response.name = details.name.clone();
        response.owner_id = details.owner_id.clone();
        response.meta = details.meta.clone().unwrap_or_default();
        response.expires = key.expires_at;
        response.enabled = Some(key.enabled);
        response.permissions = key.permissions.to_vec();
        response.environment = details.environment.clone();
    }
    response
}

/// The legacy `POST /v1/keys/verify` answer: the seed spec's shape, with no
/// `VALID` and no `requestId`.
pub fn legacy_verification(
    v: Verification,
    request_id: &RequestId,
) -> types::PostKeysVerifyResponse {
    let code = v.denial.map(legacy_code);
    let current = verification(v, request_id);
    types::PostKeysVerifyResponse {
        valid: current.valid,
        code,
        key_id: current.key_id,
        name: current.name,
        owner_id: current.owner_id,
        meta: current.meta,
        expires: current.expires,
        remaining: current.remaining,
        ratelimit: current
            .ratelimit
            .map(|r| types::PostKeysVerifyResponseRatelimit {
                limit: r.limit,
                remaining: r.remaining,
                reset: r.reset,
            }),
        created_at: None,
        deleted_at: None,
    }
}
