//! nats-server's client-port flags: `--user`, `--pass`, `--auth` (the
//! single user, its password, a token: over the file's), and `--tls`,
//! `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify` (the client port's
//! TLS made from the flags alone, replacing the file's block; `--tls=false`
//! turns it off), as its `overrideTLS`.

use starling_auth::Secret;

use crate::ServerOptions;

/// The client-port flags given.
#[derive(Debug, Clone, Default)]
pub struct ClientFlags {
    /// `--user`.
    pub user: Option<String>,
    /// `--pass`.
    pub pass: Option<String>,
    /// `--auth`: a token.
    pub auth: Option<String>,
    /// `--tls` (`Some(false)`: `--tls=false`).
    pub tls: Option<bool>,
    /// `--tlsverify`.
    pub tls_verify: Option<bool>,
    /// `--tlscert`.
    pub tls_cert: Option<String>,
    /// `--tlskey`.
    pub tls_key: Option<String>,
    /// `--tlscacert`.
    pub tls_ca_cert: Option<String>,
}

impl ClientFlags {
    /// Takes flag `name` (`value` asked for only by flags that have one,
    /// `boolean` the value of a boolean one); `Ok(false)` when it is not a
    /// client-port flag.
    ///
    /// # Errors
    ///
    /// A missing value.
    pub fn take(
        &mut self,
        name: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
        boolean: bool,
    ) -> Result<bool, String> {
        match name {
            "user" => self.user = Some(value()?),
            "pass" => self.pass = Some(value()?),
            "auth" => self.auth = Some(value()?),
            "tls" => self.tls = Some(boolean),
            "tlsverify" => self.tls_verify = Some(boolean),
            "tlscert" => self.tls_cert = Some(value()?),
            "tlskey" => self.tls_key = Some(value()?),
            "tlscacert" => self.tls_ca_cert = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Lays the flags over `server`.
    ///
    /// # Errors
    ///
    /// nats-server's refusals: TLS flags without a certificate or key.
    pub fn apply(&self, server: &mut ServerOptions) -> Result<(), String> {
        if let Some(user) = &self.user {
            server.auth.username = Some(user.clone());
        }
        if let Some(pass) = &self.pass {
            server.auth.password = Some(Secret::new(pass.clone()));
        }
        if let Some(token) = &self.auth {
            server.auth.token = Some(Secret::new(token.clone()));
        }
        if self.tls == Some(false) {
            server.tls = None;
            return Ok(());
        }
        let any = self.tls.is_some()
            || self.tls_verify.is_some()
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca_cert.is_some();
        if !any {
            return Ok(());
        }
        let Some(cert) = &self.tls_cert else {
            return Err("TLS Server certificate must be present and valid".into());
        };
        let Some(key) = &self.tls_key else {
            return Err("TLS Server private key must be present and valid".into());
        };
        server.tls = Some(starling_ws::TlsOptions {
            ca_file: self.tls_ca_cert.as_ref().map(Into::into),
            verify: self.tls_verify == Some(true),
            ..starling_ws::TlsOptions::new(cert, key)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[(&str, Option<&str>)]) -> ClientFlags {
        let mut flags = ClientFlags::default();
        for (name, given) in list {
            let mut value = || Ok(given.unwrap_or_default().to_owned());
            let taken = flags.take(name, &mut value, given != &Some("false"));
            assert_eq!(taken, Ok(true), "{name}");
        }
        flags
    }

    #[test]
    fn credentials_and_tls_override_the_file() {
        let mut server = ServerOptions::default();
        flags(&[
            ("user", Some("derek")),
            ("pass", Some("porkchop")),
            ("tlscert", Some("c.pem")),
            ("tlskey", Some("k.pem")),
            ("tlsverify", None),
        ])
        .apply(&mut server)
        .expect("applies");
        assert_eq!(server.auth.username.as_deref(), Some("derek"));
        assert_eq!(
            server.auth.password.as_ref().map(Secret::expose),
            Some("porkchop")
        );
        let tls = server.tls.expect("tls");
        assert!(tls.verify && tls.ca_file.is_none());
        // `--tls=false` turns the file's off; a key without a certificate
        // is refused with nats-server's text.
        let mut server = ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        };
        flags(&[("tls", Some("false"))])
            .apply(&mut server)
            .expect("applies");
        assert!(server.tls.is_none());
        let refused = flags(&[("tls", None), ("tlskey", Some("k.pem"))]).apply(&mut server);
        assert_eq!(
            refused,
            Err("TLS Server certificate must be present and valid".into())
        );
    }
}
