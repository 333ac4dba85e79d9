//! The Unkey v1 API: thin handlers over the domain, answering in Unkey's
//! error shape.

mod error;

pub use error::{Error, REQUEST_ID_HEADER};

use crate::api::{Body, PathParams, QueryParams, Reply, answer};
use crate::domain::health;
use crate::generated::unkey::{UnkeyApi, types};
use crate::server::ServerState;
use dropshot::RequestContext;

/// The implementation of [`UnkeyApi`].
pub enum UnkeyService {}

impl UnkeyApi for UnkeyService {
    type Context = ServerState;

    async fn get_liveness(
        rqctx: RequestContext<ServerState>,
    ) -> Result<Reply<types::GetLivenessResponse>, Error> {
        answer(&rqctx, async {
            let services = health::check(&rqctx.context().storage).await?;
            Ok(types::GetLivenessResponse {
                status: "ok".to_string(),
                services: types::GetLivenessResponseServices {
                    analytics: services.analytics.to_string(),
                    logger: services.logger.to_string(),
                    metrics: services.metrics.to_string(),
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
        answer(&rqctx, async {
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_delete_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysDeleteKeyBody>,
    ) -> Result<Reply<types::KeysDeleteKeyResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_create_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysCreateKeyBody>,
    ) -> Result<Reply<types::KeysCreateKeyResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_verify_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::V1KeysVerifyKeyRequest>,
    ) -> Result<Reply<types::V1KeysVerifyKeyResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_update_key(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysUpdateKeyBody>,
    ) -> Result<Reply<types::KeysUpdateKeyResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_update_remaining(
        rqctx: RequestContext<ServerState>,
        body: Body<types::KeysUpdateRemainingBody>,
    ) -> Result<Reply<types::KeysUpdateRemainingResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn keys_get_verifications(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::KeysGetVerificationsQuery>,
    ) -> Result<Reply<types::KeysGetVerificationsResponse>, Error> {
        answer(&rqctx, async {
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn apis_get_api(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::ApisGetApiQuery>,
    ) -> Result<Reply<types::ApisGetApiResponse>, Error> {
        answer(&rqctx, async {
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn apis_create_api(
        rqctx: RequestContext<ServerState>,
        body: Body<types::ApisCreateApiBody>,
    ) -> Result<Reply<types::ApisCreateApiResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn apis_list_keys(
        rqctx: RequestContext<ServerState>,
        query: QueryParams<types::ApisListKeysQuery>,
    ) -> Result<Reply<types::ApisListKeysResponse>, Error> {
        answer(&rqctx, async {
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn apis_delete_api(
        rqctx: RequestContext<ServerState>,
        body: Body<types::ApisDeleteApiBody>,
    ) -> Result<Reply<types::ApisDeleteApiResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn ratelimits_limit(
        rqctx: RequestContext<ServerState>,
        body: Body<types::RatelimitsLimitBody>,
    ) -> Result<Reply<types::RatelimitsLimitResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn post_keys(
        rqctx: RequestContext<ServerState>,
        body: Body<types::PostKeysBody>,
    ) -> Result<Reply<types::PostKeysResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn post_keys_verify(
        rqctx: RequestContext<ServerState>,
        body: Body<types::PostKeysVerifyBody>,
    ) -> Result<Reply<types::PostKeysVerifyResponse>, Error> {
        answer(&rqctx, async {
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn get_apis_api_id_keys(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::GetApisApiIdKeysPath>,
        query: QueryParams<types::GetApisApiIdKeysQuery>,
    ) -> Result<Reply<types::GetApisApiIdKeysResponse>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }
}
