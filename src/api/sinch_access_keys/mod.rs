//! The Sinch Access Keys Management API: thin handlers. Each parses its
//! input, authenticates the caller (Basic or Bearer), calls the domain and
//! renders the result in Sinch's shapes.

mod error;

pub use error::Error;

use crate::api::context::ServerState;
use crate::api::timestamp::Timestamp;
use crate::api::{Body, PathParams, QueryParams, Reply, answer};
use crate::domain::sinch::{self as domain, Caller};
use crate::generated::sinch_access_keys::{SinchAccessKeysApi, types};
use crate::storage::AccessKeyRow;
use dropshot::RequestContext;

/// The implementation of [`SinchAccessKeysApi`].
pub enum SinchAccessKeysService {}

async fn caller(rqctx: &RequestContext<ServerState>) -> Result<Caller, domain::Error> {
    rqctx
        .context()
        .sinch
        .authenticate(crate::api::credentials::credential(rqctx))
        .await
}

/// An access key as the API shows it: never its secret.
fn access_key(row: AccessKeyRow) -> types::AccessKey {
    types::AccessKey {
        access_key_id: Some(row.id),
        display_name: Some(row.display_name),
        project_id: Some(row.project_id),
        create_time: Timestamp::from_millis(row.created_at),
        update_time: Timestamp::from_millis(row.updated_at),
    }
}

impl SinchAccessKeysApi for SinchAccessKeysService {
    type Context = ServerState;

    async fn access_key_service_list_access_keys(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceListAccessKeysPath>,
        query: QueryParams<types::AccessKeyServiceListAccessKeysQuery>,
    ) -> Result<Reply<types::ListAccessKeysResponse>, Error> {
        answer(&rqctx, async |_| {
            let path = path.parsed()?;
            let caller = caller(&rqctx).await?;
            let query = query.parsed()?;
            let page = rqctx
                .context()
                .sinch
                .list_access_keys(
                    &caller,
                    &path.project_id,
                    query.page_size,
                    query.page_token.as_deref(),
                )
                .await?;
            Ok(types::ListAccessKeysResponse {
                access_keys: page.keys.into_iter().map(access_key).collect(),
                next_page_token: Some(page.next_page_token),
            })
        })
        .await
    }

    async fn access_key_service_create_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceCreateAccessKeyPath>,
        body: Body<types::CreateAccessKey>,
    ) -> Result<Reply<types::CreateAccessKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let path = path.parsed()?;
            let caller = caller(&rqctx).await?;
            let body = body.parsed()?;
            let (key, secret) = rqctx
                .context()
                .sinch
                .create_access_key(
                    &caller,
                    &path.project_id,
                    body.display_name.as_deref(),
                    request_id.as_str(),
                )
                .await?;
            Ok(types::CreateAccessKeyResponse {
                access_key: Some(access_key(key)),
                secret: Some(secret),
            })
        })
        .await
    }

    async fn access_key_service_get_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceGetAccessKeyPath>,
    ) -> Result<Reply<types::AccessKey>, Error> {
        answer(&rqctx, async |_| {
            let path = path.parsed()?;
            let caller = caller(&rqctx).await?;
            let key = rqctx
                .context()
                .sinch
                .get_access_key(&caller, &path.project_id, &path.access_key_id)
                .await?;
            Ok(access_key(key))
        })
        .await
    }

    async fn access_key_service_update_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceUpdateAccessKeyPath>,
        body: Body<types::UpdateAccessKey>,
    ) -> Result<Reply<types::AccessKey>, Error> {
        answer(&rqctx, async |request_id| {
            let path = path.parsed()?;
            let caller = caller(&rqctx).await?;
            let body = body.parsed()?;
            let key = rqctx
                .context()
                .sinch
                .rename_access_key(
                    &caller,
                    &path.project_id,
                    &path.access_key_id,
                    body.display_name.as_deref(),
                    request_id.as_str(),
                )
                .await?;
            Ok(access_key(key))
        })
        .await
    }

    async fn access_key_service_delete_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceDeleteAccessKeyPath>,
    ) -> Result<Reply<types::AccessKeyServiceDeleteAccessKeyResponse>, Error> {
        answer(&rqctx, async |request_id| {
            let path = path.parsed()?;
            let caller = caller(&rqctx).await?;
            rqctx
                .context()
                .sinch
                .delete_access_key(
                    &caller,
                    &path.project_id,
                    &path.access_key_id,
                    request_id.as_str(),
                )
                .await?;
            Ok(types::AccessKeyServiceDeleteAccessKeyResponse(
                Default::default(),
            ))
        })
        .await
    }
}
