//! The `-ERR` catalogue against the texts nats-server 2.9.10 sends
//! (`shared/reference/nats-protocol.md`, section 9).

use starling_proto::{ErrReply, ProtoError};

fn line(reply: ErrReply<'_>) -> String {
    let mut out = Vec::new();
    reply.encode(&mut out);
    String::from_utf8(out).expect("-ERR lines are UTF-8")
}

#[test]
fn texts_match_nats_server() {
    let table: &[(ErrReply<'_>, &str, bool)] = &[
        (
            ErrReply::UnknownProtocolOperation,
            "-ERR 'Unknown Protocol Operation'\r\n",
            true,
        ),
        (
            ErrReply::MaxControlLineExceeded,
            "-ERR 'maximum control line exceeded'\r\n",
            true,
        ),
        (
            ErrReply::MaxPayloadViolation,
            "-ERR 'Maximum Payload Violation'\r\n",
            true,
        ),
        (
            ErrReply::AuthorizationViolation,
            "-ERR 'Authorization Violation'\r\n",
            true,
        ),
        (
            ErrReply::AuthenticationTimeout,
            "-ERR 'Authentication Timeout'\r\n",
            true,
        ),
        (
            ErrReply::UserAuthenticationExpired,
            "-ERR 'User Authentication Expired'\r\n",
            true,
        ),
        (
            ErrReply::InvalidClientProtocol,
            "-ERR 'invalid client protocol'\r\n",
            true,
        ),
        (
            ErrReply::NoRespondersRequiresHeaders,
            "-ERR 'no responders requires headers support'\r\n",
            true,
        ),
        (
            ErrReply::MaxConnectionsExceeded,
            "-ERR 'maximum connections exceeded'\r\n",
            true,
        ),
        (
            ErrReply::MaxSubscriptionsExceeded,
            "-ERR 'maximum subscriptions exceeded'\r\n",
            false,
        ),
        (
            ErrReply::StaleConnection,
            "-ERR 'Stale Connection'\r\n",
            true,
        ),
        (
            ErrReply::InvalidSubject,
            "-ERR 'Invalid Subject'\r\n",
            false,
        ),
        (
            ErrReply::InvalidPublishSubject,
            "-ERR 'Invalid Publish Subject'\r\n",
            false,
        ),
        (
            ErrReply::PublishViolation(b"_GR_.abc.def"),
            "-ERR 'Permissions Violation for Publish to \"_GR_.abc.def\"'\r\n",
            false,
        ),
        (
            ErrReply::PublishReplyViolation(b"_R_.abc"),
            "-ERR 'Permissions Violation for Publish with Reply of \"_R_.abc\"'\r\n",
            false,
        ),
        (
            ErrReply::SubscriptionViolation(b"no.way"),
            "-ERR 'Permissions Violation for Subscription to \"no.way\"'\r\n",
            false,
        ),
        (
            ErrReply::QueueSubscriptionViolation(b"no.way", b"grp"),
            "-ERR 'Permissions Violation for Subscription to \"no.way\" using queue \"grp\"'\r\n",
            false,
        ),
    ];
    for (reply, text, closes) in table {
        assert_eq!(line(*reply), *text);
        assert_eq!(reply.closes(), *closes, "{text}");
    }
}

#[test]
fn parse_errors_map_to_nats_server_replies() {
    assert_eq!(
        ProtoError::UnknownOperation.reply(),
        Some(ErrReply::UnknownProtocolOperation)
    );
    assert_eq!(
        ProtoError::MissingPayloadTerminator.reply(),
        Some(ErrReply::UnknownProtocolOperation)
    );
    assert_eq!(
        ProtoError::MaxControlLineExceeded.reply(),
        Some(ErrReply::MaxControlLineExceeded)
    );
    assert_eq!(
        ProtoError::MaxPayloadExceeded.reply(),
        Some(ErrReply::MaxPayloadViolation)
    );
    // These close without a word, as nats-server does.
    assert_eq!(ProtoError::BadSize("PUB").reply(), None);
    assert_eq!(ProtoError::WrongArgumentCount("SUB").reply(), None);
    assert_eq!(ProtoError::HeaderSizeExceedsTotal.reply(), None);
}
