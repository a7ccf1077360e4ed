//! Reading back what the broker delivered to the system client: the
//! `MSG` and `HMSG` operations its link's outbound buffer holds (encoded by
//! the broker itself, so well formed; anything else is skipped).

/// One message delivered to a system subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delivery {
    pub(super) subject: String,
    pub(super) sid: usize,
    pub(super) reply: Option<String>,
    /// The header block (empty without headers).
    pub(super) headers: Vec<u8>,
    pub(super) payload: Vec<u8>,
}

/// Every complete delivery in `buf`.
pub(super) fn deliveries(mut buf: &[u8]) -> Vec<Delivery> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
        let line = &buf[..end];
        let rest = &buf[end + 2..];
        let args: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        let parsed = match args.first().copied() {
            Some(b"MSG") => message(&args[1..], false, rest),
            Some(b"HMSG") => message(&args[1..], true, rest),
            _ => None,
        };
        match parsed {
            Some((delivery, used)) => {
                out.push(delivery);
                buf = &rest[used..];
            }
            None => buf = rest,
        }
    }
    out
}

/// One `MSG`/`HMSG` from its arguments and what follows the line; the
/// delivery and the bytes it took after the line.
fn message(args: &[&[u8]], headers: bool, rest: &[u8]) -> Option<(Delivery, usize)> {
    let sizes = if headers { 2 } else { 1 };
    if args.len() < 2 + sizes || args.len() > 3 + sizes {
        return None;
    }
    let number = |token: &[u8]| std::str::from_utf8(token).ok()?.parse::<usize>().ok();
    let text = |token: &[u8]| String::from_utf8(token.to_vec()).ok();
    let total = number(args[args.len() - 1])?;
    let header_len = if headers {
        number(args[args.len() - 2])?
    } else {
        0
    };
    if header_len > total || rest.len() < total + 2 {
        return None;
    }
    let reply = if args.len() == 3 + sizes {
        Some(text(args[2])?)
    } else {
        None
    };
    let delivery = Delivery {
        subject: text(args[0])?,
        sid: number(args[1])?,
        reply,
        headers: rest[..header_len].to_vec(),
        payload: rest[header_len..total].to_vec(),
    };
    Some((delivery, total + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_with_and_without_headers_and_replies() {
        let buf = b"MSG a.b 1 5\r\nhello\r\nPONG\r\nHMSG c 2 _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\nMSG d 3 0\r\n\r\n";
        let all = deliveries(buf);
        assert_eq!(all.len(), 3);
        assert_eq!((all[0].subject.as_str(), all[0].sid), ("a.b", 1));
        assert_eq!(all[0].payload, b"hello");
        assert_eq!(all[1].reply.as_deref(), Some("_INBOX.x"));
        assert_eq!(all[1].headers, b"NATS/1.0\r\n\r\n");
        assert_eq!(all[1].payload, b"hi");
        assert!(all[2].payload.is_empty());
    }

    #[test]
    fn a_truncated_message_is_not_read() {
        assert!(deliveries(b"MSG a 1 10\r\nshort\r\n").is_empty());
        assert!(deliveries(b"HMSG a 1 9 3\r\nabc\r\n").is_empty());
    }
}
