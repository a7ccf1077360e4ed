//! The URL resolver (`resolver: URL(<base url>)`): an account JWT is
//! fetched from `<base url><account key>` over HTTP or HTTPS
//! (`resolver_tls`) when a user of an account not known yet connects,
//! checked as a claim update is, and kept. At start the base URL itself
//! must answer 200, as nats-server checks "anyone is home". A fetch is
//! bounded by nats-server's 1.9 s, on the connecting client's own task.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use starling_auth::{Resolver, ResolverTls};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::options::RemoteTls;

/// nats-server's `DEFAULT_ACCOUNT_FETCH_TIMEOUT`.
const FETCH_TIMEOUT: Duration = Duration::from_millis(1900);

/// GETs `url`: its body when the answer is 200, else nats-server's text.
pub(crate) async fn fetch(url: &str, tls: Option<&ResolverTls>) -> Result<String, String> {
    let shown = redacted(url);
    let failed = |why: String| format!("could not fetch <{shown:?}>: {why}");
    match tokio::time::timeout(FETCH_TIMEOUT, get(url, tls)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(why)) => Err(failed(why)),
        Err(_) => Err(failed("timeout".into())),
    }
}

/// `url` with a password in it replaced by `xxxxx` (nats-server's
/// `redactURLString`), for what is logged or answered.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let shown = if userinfo.contains(':') {
                format!("{user}:xxxxx")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{shown}@{host}{}", &rest[authority.len()..])
        }
        None => url.to_owned(),
    }
}

async fn get(url: &str, tls: Option<&ResolverTls>) -> Result<String, String> {
    let (secure, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err("not an http or https URL".into()),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    // A user and password in the URL go as basic authentication, as Go's
    // HTTP client sends them.
    let basic = authority
        .rsplit_once('@')
        .map(|(userinfo, _)| basic_auth(userinfo));
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let head = (authority, basic.as_deref());
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.ends_with(':') => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let address = if host.len() == authority.len() || authority.ends_with(']') {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    } else {
        authority.to_owned()
    };
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("dial tcp {address}: {e}"))?;
    let path = format!("/{path}");
    if !secure {
        return request(stream, head, &path).await;
    }
    let settings = tls.cloned().unwrap_or_default();
    let remote = RemoteTls {
        ca_file: settings.ca_file,
        cert: settings.cert_file.zip(settings.key_file),
        insecure: settings.insecure,
        ..RemoteTls::default()
    };
    // Certificate files are read away from the async workers.
    let connector = tokio::task::spawn_blocking(move || crate::tls::connector(&remote))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let name =
        rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let handshake = connector.connect(name, stream);
    let secured = match settings.timeout {
        Some(limit) => tokio::time::timeout(limit, handshake)
            .await
            .map_err(|_| "tls: handshake timeout".to_owned())?,
        None => handshake.await,
    }
    .map_err(|e| format!("tls: {e}"))?;
    request(secured, head, &path).await
}

/// One HTTP/1.1 GET of `path` on `stream`.
async fn request<S>(
    stream: S,
    (authority, basic): (&str, Option<&str>),
    path: &str,
) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let mut request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, "starling");
    if let Some(basic) = basic {
        request = request.header(http::header::AUTHORIZATION, basic);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    driver.abort();
    if status != http::StatusCode::OK {
        // Go's `resp.Status`: "404 Not Found".
        let reason = status.canonical_reason().unwrap_or_default();
        return Err(format!("{} {reason}", status.as_u16()));
    }
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}

/// The start-up check (nats-server's "anyone home"): the base URL
/// answers 200.
///
/// # Errors
///
/// nats-server's text for a failed fetch.
pub(crate) async fn check_home(auth: &starling_auth::AuthConfig) -> Result<(), String> {
    let Some(operator) = &auth.operator else {
        return Ok(());
    };
    let Resolver::Url { url } = &operator.resolver else {
        return Ok(());
    };
    fetch(url, operator.resolver_tls.as_ref()).await.map(|_| ())
}

/// `Basic <user:password>` from a URL's userinfo, each part
/// percent-decoded (Go's `url.User` and `SetBasicAuth`: no password
/// sends `user:`).
fn basic_auth(userinfo: &str) -> String {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut credentials = percent_decoded(user);
    credentials.push(b':');
    credentials.extend(percent_decoded(password));
    format!("Basic {}", data_encoding::BASE64.encode(&credentials))
}

/// `%XX` escapes decoded (a malformed one is kept as it is).
fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_not_shown() {
        assert_eq!(
            redacted("https://u:secret@h:1/jwt/v1/accounts/"),
            "https://u:xxxxx@h:1/jwt/v1/accounts/"
        );
        assert_eq!(redacted("http://h:1/a"), "http://h:1/a");
    }

    #[test]
    fn userinfo_is_percent_decoded_for_basic_auth() {
        // "us er" / "p@ss:w" → base64 of "us er:p@ss:w".
        assert_eq!(basic_auth("us%20er:p%40ss%3Aw"), "Basic dXMgZXI6cEBzczp3");
        assert_eq!(basic_auth("user"), "Basic dXNlcjo=");
        assert_eq!(percent_decoded("100%"), b"100%");
    }
}
