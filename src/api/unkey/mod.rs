//! The Unkey v1 API: thin handlers. Each parses its input, authenticates the
//! root key, calls the domain and renders the result in Unkey's shapes.

mod error;
mod views;

pub use error::{Error, REQUEST_ID_HEADER};

use crate::api::context::ServerState;
use crate::api::{Body, PathParams, QueryParams, Reply, answer};
use crate::domain::health;
use crate::domain::unkey::keys::RemainingOp;
use crate::domain::unkey::ratelimit::LimitRequest;
use crate::domain::unkey::{self as domain, RootKey};
use crate::generated::unkey::{UnkeyApi, types};
use dropshot::RequestContext;
use std::num::NonZeroU64;
use std::sync::Arc;

/// The implementation of [`UnkeyApi`].
pub enum UnkeyService {}

/// The root key of a request, from `Authorization: Bearer …`.
async fn root_key(rqctx: &RequestContext<ServerState>) -> Result<Arc<RootKey>, domain::Error> {
    rqctx
        .context()
        .unkey
        .authenticate(crate::api::credentials::credential(rqctx).as_ref())
        .await
}

impl UnkeyApi for UnkeyService {
    type Context = ServerState;

    async fn get_liveness(
        rqctx: RequestContext<ServerState>,
    ) -> Result<Reply<types::GetLivenessResponse>, Error> {
        answer(&rqctx, async |_| {
            let services = &health::SERVICES;
            Ok(types::GetLivenessResponse {
                status: "ok".to_string(),
                services: types::GetLivenessResponseServices {
                    analytics: services.analytics.to_string(),
                    logger: services.logger.to_string(),
                    metrics: rqctx.context().metrics_service.to_string(),
                    ratelimit: services.ratelimit.to_string(),
                    usagelimit: services.usagelimit.to_string(),
                },
            })
        })
        .await
    }

    async fn keys_get_key(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::KeysGetKeyQuery>,
    ) -> Result<Reply<types::Key>, Error> {
        answer(&rqctx, async |_| {
            let query = query.parsed()?;
            let root = root_key(&rqctx).await?;
            let key = rqctx.context().unkey.get_key(&root, &query.key_id).await?;
            Ok(views::key(key))
        })
        .await
    }

    async fn keys_delete_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysDeleteKeyBody>,
    ) -> Result<Reply<types::KeysDeleteKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            rqctx
                .context()
                .unkey
                .delete_key(&root, &body.key_id, request_id.as_str())
                .await?;
            Ok(types::KeysDeleteKeyResponse(Default::default()))
        })
        .await
    }

    async fn keys_create_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysCreateKeyBody>,
    ) -> Result<Reply<types::KeysCreateKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let request = views::create_key(body);
            let created = rqctx
                .context()
                .unkey
                .create_key(&root, request, request_id.as_str())
                .await?;
            Ok(types::KeysCreateKeyResponse {
                key_id: created.key_id,
                key: created.key,
            })
        })
        .await
    }

    async fn keys_verify_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::V1KeysVerifyKeyRequest>,
    ) -> Result<Reply<types::V1KeysVerifyKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let permissions = body
                .authorization
                .as_ref()
                .and_then(|a| a.permissions.as_ref());
            let cost = body.ratelimit.as_ref().map_or(1, |r| views::int(r.cost));
            let verification = rqctx
                .context()
                .unkey
                .verify_key(&body.key, body.api_id.as_deref(), permissions, cost)
                .await?;
            Ok(views::verification(verification, request_id))
        })
        .await
    }

    async fn migrations_create_keys(
        rqctx: RequestContext<ServerState>,
        body: Body<types::MigrationsCreateKeysBody>,
    ) -> Result<Reply<types::MigrationsCreateKeysResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let items = body.0.into_iter().map(views::import_key).collect();
            let key_ids = rqctx
                .context()
                .unkey
                .import_keys(&root, items, request_id.as_str())
                .await?;
            Ok(types::MigrationsCreateKeysResponse { key_ids })
        })
        .await
    }

    async fn keys_update_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysUpdateKeyBody>,
    ) -> Result<Reply<types::KeysUpdateKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let (key_id, update) = views::update_key(body.parsed()?);
            let root = root_key(&rqctx).await?;
            rqctx
                .context()
                .unkey
                .update_key(&root, &key_id, update, request_id.as_str())
                .await?;
            Ok(types::KeysUpdateKeyResponse(Default::default()))
        })
        .await
    }

    async fn keys_update_remaining(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysUpdateRemainingBody>,
    ) -> Result<Reply<types::KeysUpdateRemainingResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let op = match body.op {
                types::KeysUpdateRemainingBodyOp::Increment => RemainingOp::Increment,
                types::KeysUpdateRemainingBodyOp::Decrement => RemainingOp::Decrement,
                types::KeysUpdateRemainingBodyOp::Set => RemainingOp::Set,
            };
            let remaining = rqctx
                .context()
                .unkey
                .update_remaining(&root, &body.key_id, op, body.value, request_id.as_str())
                .await?;
            Ok(types::KeysUpdateRemainingResponse { remaining })
        })
        .await
    }

    async fn keys_get_verifications(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::KeysGetVerificationsQuery>,
    ) -> Result<Reply<types::KeysGetVerificationsResponse>, Error> {
        answer(&rqctx, async |_| {
            let query = query.parsed()?;
            let root = root_key(&rqctx).await?;
            let days = rqctx
                .context()
                .unkey
                .get_verifications(
                    &root,
                    query.key_id.as_deref(),
                    query.owner_id.as_deref(),
                    query.start,
                    query.end,
                )
                .await?;
            let verifications = days
                .into_iter()
                .filter_map(|d| {
                    Some(types::KeysGetVerificationsResponseVerificationsItem {
                        time: NonZeroU64::new(u64::try_from(d.day).ok()?)?,
                        success: d.success,
                        rate_limited: d.rate_limited,
                        usage_exceeded: d.usage_exceeded,
                    })
                })
                .collect();
            Ok(types::KeysGetVerificationsResponse { verifications })
        })
        .await
    }

    async fn apis_get_api(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::ApisGetApiQuery>,
    ) -> Result<Reply<types::ApisGetApiResponse>, Error> {
        answer(&rqctx, async |_| {
            let query = query.parsed()?;
            let root = root_key(&rqctx).await?;
            let api = rqctx.context().unkey.get_api(&root, &query.api_id).await?;
            Ok(types::ApisGetApiResponse {
                id: api.id,
                workspace_id: api.workspace_id,
                name: Some(api.name),
            })
        })
        .await
    }

    async fn apis_create_api(
        rqctx: RequestContext<ServerState>,
        body: Body<types::ApisCreateApiBody>,
    ) -> Result<Reply<types::ApisCreateApiResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let api_id = rqctx
                .context()
                .unkey
                .create_api(&root, &body.name, request_id.as_str())
                .await?;
            Ok(types::ApisCreateApiResponse { api_id })
        })
        .await
    }

    async fn apis_list_keys(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::ApisListKeysQuery>,
    ) -> Result<Reply<types::ApisListKeysResponse>, Error> {
        answer(&rqctx, async |_| {
            let query = query.parsed()?;
            let root = root_key(&rqctx).await?;
            let list = rqctx
                .context()
                .unkey
                .list_keys(
                    &root,
                    &query.api_id,
                    query.limit.get(),
                    query.cursor.as_deref(),
                    query.owner_id.as_deref().map(String::as_str),
                )
                .await?;
            Ok(types::ApisListKeysResponse {
                keys: list.keys.into_iter().map(views::key).collect(),
                total: list.total,
                cursor: list.cursor,
            })
        })
        .await
    }

    async fn apis_delete_api(
        rqctx: RequestContext<ServerState>,
        body: Body<types::ApisDeleteApiBody>,
    ) -> Result<Reply<types::ApisDeleteApiResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            rqctx
                .context()
                .unkey
                .delete_api(&root, &body.api_id, request_id.as_str())
                .await?;
            Ok(types::ApisDeleteApiResponse(Default::default()))
        })
        .await
    }

    async fn ratelimits_limit(
        rqctx: RequestContext<ServerState>,
        body: Body<types::RatelimitsLimitBody>,
    ) -> Result<Reply<types::RatelimitsLimitResponse>, Error> {
        answer(&rqctx, async |_| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let request = LimitRequest {
                namespace: body.namespace,
                identifier: body.identifier,
                limit: views::int(body.limit),
                duration: body.duration,
                cost: views::int(body.cost),
                local: body.async_,
            };
            let decision = rqctx.context().unkey.ratelimit(&root, &request).await?;
            Ok(types::RatelimitsLimitResponse {
                success: decision.allowed,
                limit: decision.limit,
                remaining: decision.remaining,
                reset: decision.reset,
            })
        })
        .await
    }

    async fn post_keys(
        rqctx: RequestContext<ServerState>,
        body: Body<types::PostKeysBody>,
    ) -> Result<Reply<types::PostKeysResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let root = root_key(&rqctx).await?;
            let request = views::legacy_create_key(body);
            let created = rqctx
                .context()
                .unkey
                .create_key_legacy(&root, request, request_id.as_str())
                .await?;
            Ok(types::PostKeysResponse {
                key_id: created.key_id,
                key: created.key,
            })
        })
        .await
    }

    async fn post_keys_verify(
        rqctx: RequestContext<ServerState>,
        body: Body<types::PostKeysVerifyBody>,
    ) -> Result<Reply<types::PostKeysVerifyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let body = body.parsed()?;
            let verification = rqctx
                .context()
                .unkey
                .verify_key(&body.key, body.api_id.as_deref(), None, 1)
                .await?;
            Ok(views::legacy_verification(verification, request_id))
        })
        .await
    }

    async fn get_apis_api_id_keys(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::GetApisApiIdKeysPath>,
        query: QueryParams<types::GetApisApiIdKeysQuery>,
    ) -> Result<Reply<types::GetApisApiIdKeysResponse>, Error> {
        answer(&rqctx, async |_| {
            let path = path.parsed()?;
            let query = query.parsed()?;
            let root = root_key(&rqctx).await?;

            let list = rqctx
                .context()
                .unkey
                .list_keys_legacy(
                    &root,
                    &path.api_id,
                    query.limit.get(),
                    query.offset.unwrap_or(0),
                    query.owner_id.as_deref().map(String::as_str),
                )
                .await?;
            Ok(types::GetApisApiIdKeysResponse {
                keys: list.keys.into_iter().map(views::key).collect(),
                total: list.total,
            })
        })
        .await
    }
}
