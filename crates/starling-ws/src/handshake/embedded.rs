//! The upgrade for an HTTP server that already parsed the request (hyper,
//! axum, anything built on the `http` crate's types): the same checks and
//! nats-server's replies, as `http::Request` in and `http::Response` out,
//! so an application can serve NATS over websocket on a route of its own.

use http::header::{
    CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, UPGRADE,
};
use http::{HeaderValue, Response, StatusCode, Version};

use super::{DEFLATE_RESPONSE, HandshakePolicy, Request, Upgrade, UpgradeError, decide};

/// Decides on a websocket upgrade request an HTTP server parsed, with the
/// checks [`handle_request`](super::handle_request) makes on raw bytes.
///
/// ```
/// use starling_ws::handshake::{HandshakePolicy, check_http};
///
/// let request = http::Request::get("/nats")
///     .header("Host", "localhost")
///     .header("Upgrade", "websocket")
///     .header("Connection", "Upgrade")
///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("Sec-WebSocket-Version", "13")
///     .body(())?;
/// let upgrade = check_http(&request, &HandshakePolicy::default())?;
/// let response = upgrade.http_response();
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["Sec-WebSocket-Accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_http<B>(
    request: &http::Request<B>,
    policy: &HandshakePolicy,
) -> Result<Upgrade, UpgradeError> {
    let headers: Vec<(&str, &[u8])> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let parsed = Request {
        method: request.method().as_str(),
        http11: request.version() == Version::HTTP_11,
        path: request.uri().path(),
        headers: &headers,
        data_after: false,
    };
    decide(&parsed, policy)
}

impl Upgrade {
    /// The `101 Switching Protocols` response, as
    /// [`encode_response`](Self::encode_response) writes it.
    pub fn http_response(&self) -> Response<()> {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept_key) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        if self.compress {
            headers.insert(
                SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_static(DEFLATE_RESPONSE),
            );
        }
        response
    }
}

impl UpgradeError {
    /// nats-server's refusal: its status and its plain-text body.
    pub fn http_response(&self) -> Response<String> {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let text = status.canonical_reason().unwrap_or("Bad Request");
        let mut response = Response::new(format!("{text}\n"));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
            .headers_mut()
            .insert("Sec-Websocket-Version", HeaderValue::from_static("13"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::get("/nats")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Extensions", "permessage-deflate")
            .header("Cookie", "jwt=abc; user=u");
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        builder.body(()).expect("request")
    }

    #[test]
    fn the_same_decisions_as_on_raw_bytes() {
        let policy = HandshakePolicy {
            compression: true,
            ..HandshakePolicy::default()
        };
        let upgrade = check_http(&request(None), &policy).expect("upgrade");
        assert!(upgrade.compress);
        assert_eq!(upgrade.path, "/nats");
        assert_eq!(upgrade.cookies[0], ("jwt".to_owned(), "abc".to_owned()));
        let response = upgrade.http_response();
        assert_eq!(
            response.headers()[SEC_WEBSOCKET_EXTENSIONS],
            DEFLATE_RESPONSE
        );

        let same_origin = HandshakePolicy {
            origins: crate::origin::OriginPolicy::new(true, &[]).expect("policy"),
            ..HandshakePolicy::default()
        };
        let refused =
            check_http(&request(Some("http://other.example")), &same_origin).expect_err("refused");
        assert!(matches!(refused, UpgradeError::OriginNotAllowed(_)));
        let response = refused.http_response();
        assert_eq!(response.status(), 403);
        assert_eq!(response.body(), "Forbidden\n");

        let post = http::Request::post("/")
            .header("Host", "h")
            .body(())
            .expect("request");
        assert_eq!(
            check_http(&post, &HandshakePolicy::default()),
            Err(UpgradeError::MethodNotAllowed)
        );
    }
}
