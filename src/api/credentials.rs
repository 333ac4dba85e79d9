//! The two ways a request presents a secret in `Authorization`, parsed once
//! here for both APIs and the token endpoint; the domain sees a typed
//! [`Credential`] and never the header.

use crate::domain::Credential;
use base64::Engine;
use dropshot::{RequestContext, ServerContext};

/// The request's credential: `None` without an `Authorization` header.
pub fn credential<C: ServerContext>(rqctx: &RequestContext<C>) -> Option<Credential> {
    let header = rqctx.request.headers().get(http::header::AUTHORIZATION)?;
    let Ok(header) = header.to_str() else {
        return Some(Credential::Unrecognized);
    };
    Some(parse(header))
}

fn parse(header: &str) -> Credential {
    if let Some((id, secret)) = basic_credentials(header) {
        return Credential::Basic { id, secret };
    }
    match bearer_token(header) {
        Some(token) => Credential::Bearer(token.to_string()),
        None => Credential::Unrecognized,
    }
}

/// `Basic base64(id:secret)`, split at the first colon: a secret may hold colons.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(i, s)| (i.to_string(), s.to_string()))?;
    (!id.is_empty()).then_some((id, secret))
}

/// `Bearer <token>`, with a token that is not empty.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id-1:se:cret")
        );
        assert_eq!(
            basic_credentials(&header),
            Some(("id-1".into(), "se:cret".into()))
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer  "), None);
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
