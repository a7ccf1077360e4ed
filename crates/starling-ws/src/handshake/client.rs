//! The client side of the upgrade, for a server that dials a websocket
//! port (a leaf link to a hub): the request nats-server's spoke writes,
//! and the checks it makes of the reply (`leafnode.md` §4.1).

use super::{DEFLATE_RESPONSE, accept_key};

/// What the reply agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientUpgrade {
    /// permessage-deflate both ways.
    pub compress: bool,
    /// The server takes unmasked frames (`Nats-No-Masking: true` echoed).
    pub no_masking: bool,
}

/// The upgrade request, byte for byte as nats-server's spoke (Go's HTTP
/// client) writes it: `GET <path>` to `host`, the key, and what is asked.
pub fn client_request(
    host: &str,
    path: &str,
    key: &str,
    compress: bool,
    no_masking: bool,
) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
    );
    if no_masking {
        request.push_str("Nats-No-Masking: true\r\n");
    }
    request.push_str(&format!(
        "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    ));
    if compress {
        request.push_str(&format!("Sec-Websocket-Extensions: {DEFLATE_RESPONSE}\r\n"));
    }
    request.push_str("Upgrade: websocket\r\n\r\n");
    request
}

/// Checks the reply at the front of `buf` to a request made with `key`:
/// `Ok(None)` while incomplete, else what was agreed and how many bytes
/// the reply took (what follows is already websocket frames).
pub fn check_response(
    buf: &[u8],
    key: &str,
    compress: bool,
    no_masking: bool,
) -> Result<Option<(ClientUpgrade, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > 8192 => {
            return Err("invalid websocket connection".into());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("invalid websocket connection".into()),
    };
    let value = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    let upgraded = response.code == Some(101)
        && value("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && value("Connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
        && value("Sec-WebSocket-Accept").as_deref() == Some(accept_key(key).as_str());
    if !upgraded {
        return Err("invalid websocket connection".into());
    }
    let compressed = match value("Sec-WebSocket-Extensions") {
        Some(extension) if compress && extension.contains("permessage-deflate") => {
            if !(extension.contains("server_no_context_takeover")
                && extension.contains("client_no_context_takeover"))
            {
                return Err("compression negotiation error".into());
            }
            true
        }
        _ => false,
    };
    let unmasked =
        no_masking && value("Nats-No-Masking").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Some((
        ClientUpgrade {
            compress: compressed,
            no_masking: unmasked,
        },
        consumed,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_and_the_checks_of_the_reply() {
        let request = client_request("127.0.0.1:7", "/leafnode", "k", true, true);
        assert!(request.starts_with(
            "GET /leafnode HTTP/1.1\r\nHost: 127.0.0.1:7\r\nUser-Agent: Go-http-client/1.1\r\n"
        ));
        assert!(
            request.contains("Nats-No-Masking: true\r\n")
                && request.ends_with("Upgrade: websocket\r\n\r\n")
        );
        let accept = accept_key("k");
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\
Sec-WebSocket-Extensions: {DEFLATE_RESPONSE}\r\nNats-No-Masking: true\r\n\r\nframes"
        );
        let (agreed, used) = check_response(reply.as_bytes(), "k", true, true)
            .expect("valid")
            .expect("complete");
        assert_eq!(
            agreed,
            ClientUpgrade {
                compress: true,
                no_masking: true
            }
        );
        assert_eq!(&reply[used..], "frames");
        assert_eq!(
            check_response(&reply.as_bytes()[..20], "k", true, true),
            Ok(None)
        );
        let wrong = reply.replace(&accept, "nope");
        assert!(check_response(wrong.as_bytes(), "k", true, true).is_err());
        let (plain, _) = check_response(reply.as_bytes(), "k", false, false)
            .expect("valid")
            .expect("complete");
        assert_eq!(
            plain,
            ClientUpgrade {
                compress: false,
                no_masking: false
            }
        );
    }
}
