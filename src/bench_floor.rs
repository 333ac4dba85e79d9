//! The benchmark's floor: a bare hyper server, on the same runtime and
//! allocator as keyward, that answers every request with liveness's body.
//! `bench/run` drives it like the other rows, which shows how much of the
//! ceiling the HTTP stack itself takes and how much dropshot and keyward add.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;

/// What `/v1/liveness` answers, byte for byte in size.
const BODY: &[u8] = br#"{"services":{"analytics":"sqlite","logger":"bunyan-stderr","metrics":"none","ratelimit":"in-process","usagelimit":"sqlite"},"status":"ok"}"#;

/// Serves until the process is stopped.
pub async fn serve(bind: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!(
        "keyward: bench floor (bare hyper) on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let answer = hyper::service::service_fn(|_request| async {
                let mut response = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                Ok::<_, Infallible>(response)
            });
            // A connection that fails is the client's business here.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), answer)
                .await;
        });
    }
}
