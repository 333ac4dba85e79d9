//! The Sinch Access Keys Management API: thin handlers over the domain,
//! answering in Sinch's error shape.

mod error;

pub use error::Error;

use crate::api::{Body, PathParams, QueryParams, Reply, answer};
use crate::generated::sinch_access_keys::{SinchAccessKeysApi, types};
use crate::server::ServerState;
use dropshot::RequestContext;

/// The implementation of [`SinchAccessKeysApi`].
pub enum SinchAccessKeysService {}

impl SinchAccessKeysApi for SinchAccessKeysService {
    type Context = ServerState;

    async fn access_key_service_list_access_keys(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceListAccessKeysPath>,
        query: QueryParams<types::AccessKeyServiceListAccessKeysQuery>,
    ) -> Result<Reply<types::ListAccessKeysResponse>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            query.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn access_key_service_create_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceCreateAccessKeyPath>,
        body: Body<types::CreateAccessKey>,
    ) -> Result<Reply<types::CreateAccessKeyResponse>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn access_key_service_get_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceGetAccessKeyPath>,
    ) -> Result<Reply<types::AccessKey>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn access_key_service_update_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceUpdateAccessKeyPath>,
        body: Body<types::UpdateAccessKey>,
    ) -> Result<Reply<types::AccessKey>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            body.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }

    async fn access_key_service_delete_access_key(
        rqctx: RequestContext<ServerState>,
        path: PathParams<types::AccessKeyServiceDeleteAccessKeyPath>,
    ) -> Result<Reply<types::AccessKeyServiceDeleteAccessKeyResponse>, Error> {
        answer(&rqctx, async {
            path.parsed()?;
            Err(Error::not_implemented())
        })
        .await
    }
}
