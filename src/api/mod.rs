//! The HTTP face of keyward: one module per API, each implementing the trait
//! generated from its spec with thin handlers, and its own error shape.
//!
//! Every endpoint answers through [`Reply`], success or error, so that an
//! error response can carry headers (`Unkey-Request-Id`, `WWW-Authenticate`),
//! which dropshot's error path cannot. For the same reason the generated
//! traits take [`Body`], [`QueryParams`] and [`PathParams`]: they wrap
//! dropshot's extractors but hand a parse failure to the handler instead of
//! answering it in dropshot's own shape.

/// What dropshot needs of an API error type: a JSON body and schema, and a
/// status. Dropshot renders an endpoint's `Err` itself only when a [`Reply`]
/// could not be built; the body still has the API's shape.
macro_rules! error_plumbing {
    ($error:ty, $schema_name:literal, $body:ty, |$this:ident| $render:expr) => {
        impl serde::Serialize for $error {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let $this = self;
                serde::Serialize::serialize(&$render, serializer)
            }
        }

        impl schemars::JsonSchema for $error {
            fn schema_name() -> String {
                $schema_name.to_string()
            }

            fn json_schema(
                generator: &mut schemars::r#gen::SchemaGenerator,
            ) -> schemars::schema::Schema {
                <$body as schemars::JsonSchema>::json_schema(generator)
            }
        }

        impl dropshot::HttpResponseError for $error {
            fn status_code(&self) -> dropshot::ErrorStatusCode {
                dropshot::ErrorStatusCode::from_status(self.core.status)
                    .unwrap_or(dropshot::ErrorStatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    };
}
pub(crate) use error_plumbing;

pub mod context;
pub mod credentials;
pub mod error;
pub mod instance;
pub mod oauth;
pub mod rules;
pub mod sinch_access_keys;
pub mod timestamp;
pub mod unkey;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use dropshot::{
    ApiEndpointBodyContentType, ApiEndpointResponse, ClientErrorStatusCode, ExclusiveExtractor,
    ExtractorMetadata, HttpError, HttpResponse, HttpResponseOk, Path, Query, RequestContext,
    ServerContext, SharedExtractor, TypedBody, UntypedBody,
};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use rules::{Part, RequestRules};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::task::Poll;

/// The response of an endpoint whose 200 body is `T`: either that body or an
/// error of the endpoint's API, with any headers.
pub struct Reply<T> {
    response: Result<http::Response<dropshot::Body>, HttpError>,
    body: PhantomData<fn() -> T>,
}

impl<T: Serialize> Reply<T> {
    pub fn ok(body: &T, headers: HeaderMap) -> Reply<T> {
        Reply::json(StatusCode::OK, body, headers)
    }
}

impl<T> Reply<T> {
    /// Adds a header to the response.
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Reply<T> {
        if let Some(headers) = self.headers_mut() {
            headers.insert(name, value);
        }
        self
    }

    /// The response's headers, unless it failed to render.
    fn headers_mut(&mut self) -> Option<&mut HeaderMap> {
        self.response.as_mut().ok().map(http::Response::headers_mut)
    }

    /// Any status with a JSON body; errors are built so.
    pub fn json(status: StatusCode, body: &impl Serialize, headers: HeaderMap) -> Reply<T> {
        // Most bodies fit in this; growing from empty took five reallocations.
        let mut bytes = Vec::with_capacity(256);
        let response = serde_json::to_writer(&mut bytes, body)
            .map_err(|e| HttpError::for_internal_error(format!("serializing a response: {e}")))
            .map(|()| {
                let mut response = http::Response::new(dropshot::Body::from(bytes));
                *response.status_mut() = status;
                let all = response.headers_mut();
                all.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                all.extend(headers);
                response
            });
        Reply {
            response,
            body: PhantomData,
        }
    }
}

impl<T: JsonSchema + Serialize + Send + Sync + 'static> HttpResponse for Reply<T> {
    fn to_result(self) -> Result<http::Response<dropshot::Body>, HttpError> {
        self.response
    }

    // The documented response is the 200 body; errors are documented per API.
    fn response_metadata() -> ApiEndpointResponse {
        HttpResponseOk::<T>::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match &self.response {
            Ok(response) => response.status(),
            Err(error) => error.status_code.as_status(),
        }
    }
}

/// What an API's error type offers the shared machinery.
pub trait ApiError: dropshot::HttpResponseError + Send + Sync + 'static {
    /// Renders the error for the request `request_id`.
    fn into_reply<T>(self, request_id: &RequestId) -> Reply<T>;

    /// Adds the headers that every response of the API carries.
    fn add_common_headers(_request_id: &RequestId, _headers: &mut HeaderMap) {}
}

/// Runs a handler's work, which is given the request's id, and renders its
/// outcome: the 200 body, or the API's error. Server-side failures are
/// logged with the request id here, since dropshot only sees a finished
/// response.
pub async fn answer<C, T, E>(
    rqctx: &RequestContext<C>,
    work: impl AsyncFnOnce(&RequestId) -> Result<T, E>,
) -> Result<Reply<T>, E>
where
    C: ServerContext,
    T: Serialize,
    E: ApiError,
{
    let request_id = RequestId::of(rqctx);
    Ok(match work(&request_id).await {
        Ok(body) => {
            let mut reply = Reply::ok(&body, HeaderMap::new());
            if let Some(headers) = reply.headers_mut() {
                E::add_common_headers(&request_id, headers);
            }
            reply
        }
        Err(error) => {
            if error.status_code().is_server_error() {
                slog::error!(rqctx.log, "request failed"; "error" => %error);
            }
            error.into_reply(&request_id)
        }
    })
}

/// A request id in Unkey's format, `req_` and 32 hex digits: dropshot's own
/// request id (the `x-request-id` header and the log's `req_id`) without its
/// dashes, so one id finds a request everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn of<C: ServerContext>(rqctx: &RequestContext<C>) -> RequestId {
        // dropshot's ids are hyphenated UUIDs, which parse and re-encode in
        // ~300 instructions; `format!` with `replace` took ~1,000.
        uuid::Uuid::try_parse(&rqctx.request_id)
            .map_or_else(|_| RequestId::generate(), RequestId::from_uuid)
    }

    /// For the rare error raised outside a handler, where dropshot's id is unknown.
    pub fn generate() -> RequestId {
        RequestId::from_uuid(uuid::Uuid::new_v4())
    }

    fn from_uuid(uuid: uuid::Uuid) -> RequestId {
        let mut id = String::with_capacity("req_".len() + uuid::fmt::Simple::LENGTH);
        id.push_str("req_");
        id.push_str(uuid.simple().encode_lower(&mut uuid::Uuid::encode_buffer()));
        RequestId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The status a request that dropshot rejected is answered with. Everything
/// it rejects while parsing (malformed JSON, a wrong content type, a missing
/// parameter, an oversized body) is the client's fault, which both specs
/// document as 400; a wrong method keeps its 405, and a body that did not
/// arrive in time its 408.
pub fn client_visible_status(error: &HttpError) -> StatusCode {
    let status = error.status_code.as_status();
    match status.as_u16() {
        405 | 408 => status,
        s if (400..500).contains(&s) => StatusCode::BAD_REQUEST,
        _ => status,
    }
}

/// What a client is told when the database stayed busy past its timeout.
pub const BUSY_MESSAGE: &str =
    "the database is busy: another writer held it for too long; retry the request";

/// `Retry-After` for an answer that a retry will likely fix, in seconds.
pub static RETRY_AFTER: http::HeaderValue = http::HeaderValue::from_static("1");

/// How much of a value from the request an error message repeats.
const ECHO_MAX_CHARS: usize = 64;

/// An error message with every long word cut to [`ECHO_MAX_CHARS`] and an
/// ellipsis: messages name the values they refuse, and those come from the
/// client, at any length. Every API's error type builds its message here.
pub fn shorten_echoes(message: String) -> String {
    if message
        .split_whitespace()
        .all(|w| w.len() <= ECHO_MAX_CHARS)
    {
        return message;
    }
    let mut short = String::with_capacity(message.len().min(1024));
    let mut rest = message.as_str();
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        short.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        match word.char_indices().nth(ECHO_MAX_CHARS) {
            Some((cut, _)) => {
                short.push_str(&word[..cut]);
                short.push('…');
            }
            None => short.push_str(word),
        }
        rest = &rest[end..];
    }
    short.push_str(rest);
    short
}

/// The body timeout of the server behind `rqctx`. Extractors are generic over
/// the server context, so they find keyward's own through `Any`.
fn body_timeout<C: ServerContext>(rqctx: &RequestContext<C>) -> std::time::Duration {
    let context: &dyn std::any::Any = rqctx.context();
    context
        .downcast_ref::<context::ServerState>()
        .map_or(context::DEFAULT_REQUEST_TIMEOUT, |state| {
            state.request_timeout
        })
}

/// Reads a whole request body, at most the endpoint's
/// `request_body_max_bytes`, within the server's request timeout; a client
/// that stops half-way gets a 408 in its API's shape, and the connection
/// closes. What dropshot's [`UntypedBody`] reads, with its errors, but a body
/// in one frame (any small one) is kept as it came, and a body already in
/// hand arms no timer. Callgrind, hot-key verify: the body extractor went
/// from 5,233 to 4,164 instructions.
async fn read_body<C: ServerContext>(
    rqctx: &RequestContext<C>,
    request: hyper::Request<dropshot::Body>,
) -> Result<Bytes, HttpError> {
    let mut read = std::pin::pin!(collect_body(
        request.into_body(),
        rqctx.request_body_max_bytes()
    ));
    if let Poll::Ready(body) = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
    {
        return body;
    }
    let timeout = body_timeout(rqctx);
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(HttpError::for_client_error(
                None,
                ClientErrorStatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs_f64()
                ),
            ))
        })
}

/// The data of `body`, refused past `cap` bytes. A refused body is still
/// read to its end, as dropshot does, so that the connection stays usable.
async fn collect_body(mut body: dropshot::Body, cap: usize) -> Result<Bytes, HttpError> {
    let streaming_error =
        |e| HttpError::for_bad_request(None, format!("error streaming request body: {e}"));
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(streaming_error)?.into_data() else {
            continue; // trailers
        };
        let read = joined.as_ref().map_or(first.len(), BytesMut::len);
        if read + data.len() > cap {
            while let Some(frame) = body.frame().await {
                frame.map_err(streaming_error)?;
            }
            return Err(HttpError::for_bad_request(
                None,
                format!("request body exceeded maximum size of {cap} bytes"),
            ));
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = BytesMut::with_capacity(first.len() + data.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// A JSON (or form) request body: dropshot's [`TypedBody`], but a body that
/// does not parse is kept for the handler to answer.
pub struct Body<T>(Result<T, HttpError>);

/// A body read as bytes, as dropshot's [`UntypedBody`] reads it.
pub struct RawBody(Result<Bytes, HttpError>);

/// Query parameters: dropshot's [`Query`], keeping a parse failure.
pub struct QueryParams<T>(Result<T, HttpError>);

/// Path parameters: dropshot's [`Path`], keeping a parse failure.
pub struct PathParams<T>(Result<T, HttpError>);

macro_rules! parsed_accessors {
    ($($wrapper:ident),*) => {$(
        impl<T> $wrapper<T> {
            /// The parsed value, or dropshot's description of what is wrong with it.
            pub fn parsed(self) -> Result<T, HttpError> {
                self.0
            }
        }
    )*};
}
parsed_accessors!(Body, QueryParams, PathParams);

impl RawBody {
    pub fn parsed(self) -> Result<Bytes, HttpError> {
        self.0
    }
}

#[async_trait]
impl ExclusiveExtractor for RawBody {
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        Ok(RawBody(read_body(rqctx, request).await))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <UntypedBody as ExclusiveExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T: DeserializeOwned + JsonSchema + RequestRules + Send + Sync + 'static> ExclusiveExtractor
    for Body<T>
{
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        let body = read_body(rqctx, request)
            .await
            .and_then(|body| read_json_body(rqctx, &body));
        Ok(Body(body))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T: DeserializeOwned + JsonSchema + RequestRules + Send + Sync + 'static> SharedExtractor
    for QueryParams<T>
{
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        let query = rqctx.request.uri().query().unwrap_or_default();
        let pairs = form_urlencoded::parse(query.as_bytes());
        let parsed = T::rules()
            .parameters(pairs)
            .and_then(|value| read_checked(value, Part::Query));
        Ok(QueryParams(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Query<T> as SharedExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T: DeserializeOwned + Serialize + JsonSchema + RequestRules + Send + Sync + 'static>
    SharedExtractor for PathParams<T>
{
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        // Path variables are text, which dropshot reads as it is; the
        // rules then see the same text.
        let parsed = <Path<T> as SharedExtractor>::from_request(rqctx)
            .await
            .map(Path::into_inner)
            .and_then(|params| {
                if T::rules().takes_any_text() {
                    return Ok(params);
                }
                let value = serde_json::to_value(&params)
                    .map_err(|e| HttpError::for_internal_error(format!("path parameters: {e}")))?;
                T::rules().check(&value, Part::Path)?;
                Ok(params)
            });
        Ok(PathParams(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Path<T> as SharedExtractor>::metadata(content_type)
    }
}

/// A JSON body: the schema sees exactly what was sent (any JSON first),
/// and only a body that keeps every rule is read into `T`.
fn read_json_body<C: ServerContext, T: DeserializeOwned + RequestRules>(
    rqctx: &RequestContext<C>,
    bytes: &[u8],
) -> Result<T, HttpError> {
    require_json(rqctx.request.headers())?;
    let body = T::rules().check_body(bytes)?;
    let read = match body.repeated_names {
        false => body.instance.read(),
        true => serde_json::from_slice(bytes),
    };
    // The path of a field is worked out from the text, only when reading fails.
    read.map_err(|_| {
        let error = serde_path_to_error::deserialize::<_, T>(
            &mut serde_json::Deserializer::from_slice(bytes),
        )
        .err();
        HttpError::for_bad_request(
            None,
            match error {
                Some(e) => format!("{}: {}", e.path(), e.inner()),
                None => "the request body does not parse".to_string(),
            },
        )
    })
}

/// A body without a content type is taken for JSON, as dropshot does.
fn require_json(headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(content_type) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let content_type = content_type
        .to_str()
        .map_err(|e| HttpError::for_bad_request(None, format!("invalid content type: {e}")))?;
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        let mime = mime.to_lowercase();
        Err(HttpError::for_bad_request(
            None,
            format!("expected content type \"application/json\", got \"{mime}\""),
        ))
    }
}

/// Checks a request value against `T`'s rules, then reads it into `T`.
fn read_checked<T: DeserializeOwned + RequestRules>(
    value: serde_json::Value,
    part: Part,
) -> Result<T, HttpError> {
    T::rules().check(&value, part)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let message = if field == "." {
            format!("{}: {}", part.name(), e.inner())
        } else {
            format!("{field}: {}", e.inner())
        };
        HttpError::for_bad_request(None, message)
    })
}

fn not_allowed<C: ServerContext>(rqctx: &RequestContext<C>) -> HttpError {
    HttpError::for_client_error(
        None,
        ClientErrorStatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} is not allowed on {}",
            rqctx.request.method(),
            rqctx.request.uri().path()
        ),
    )
}

/// Hidden endpoint for a method a path does not document; `allow` lists
/// the methods it does, for the `Allow` header a 405 must carry.
pub async fn method_not_allowed<C: ServerContext, E: ApiError>(
    rqctx: RequestContext<C>,
    allow: &'static str,
) -> Result<Reply<()>, E> {
    let reply = E::from(not_allowed(&rqctx)).into_reply(&RequestId::of(&rqctx));
    Ok(reply.with_header(http::header::ALLOW, http::HeaderValue::from_static(allow)))
}

/// [`method_not_allowed`] for a path with variables, which dropshot requires
/// every endpoint of the path to extract.
pub async fn method_not_allowed_at<C, P, E>(
    rqctx: RequestContext<C>,
    _path: PathParams<P>,
    allow: &'static str,
) -> Result<Reply<()>, E>
where
    C: ServerContext,
    P: DeserializeOwned + Serialize + JsonSchema + RequestRules + Send + Sync + 'static,
    E: ApiError,
{
    method_not_allowed(rqctx, allow).await
}

#[cfg(test)]
mod tests {
    use super::collect_body;
    use bytes::Bytes;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use std::convert::Infallible;

    /// A body that arrives in these frames.
    fn body_in(frames: &[&'static str]) -> dropshot::Body {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = frames
            .iter()
            .map(|f| Ok(Frame::data(Bytes::from_static(f.as_bytes()))))
            .collect();
        dropshot::Body::wrap(StreamBody::new(futures::stream::iter(frames)))
    }

    #[tokio::test]
    async fn a_body_in_several_frames_is_read_whole_and_in_order() {
        let read = collect_body(body_in(&["{\"key\":", "\"abc\"", "}"]), 64).await;
        assert_eq!(read.ok().as_deref(), Some(&b"{\"key\":\"abc\"}"[..]));
        let one = collect_body(body_in(&["{}"]), 64).await;
        assert_eq!(one.ok().as_deref(), Some(&b"{}"[..]));
        let none = collect_body(body_in(&[]), 64).await;
        assert_eq!(none.ok().as_deref(), Some(&b""[..]));
    }

    #[tokio::test]
    async fn a_body_is_refused_past_the_cap_and_not_at_it() {
        let at_cap = collect_body(body_in(&["1234", "5678"]), 8).await;
        assert_eq!(at_cap.ok().as_deref(), Some(&b"12345678"[..]));
        for frames in [&["123456789"][..], &["1234", "56789", "more"][..]] {
            let error = collect_body(body_in(frames), 8)
                .await
                .expect_err("a body over the cap");
            assert_eq!(error.status_code.as_u16(), 400);
            assert_eq!(
                error.external_message,
                "request body exceeded maximum size of 8 bytes"
            );
        }
    }
}
