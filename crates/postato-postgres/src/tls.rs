//! How a PostgreSQL store connects: plain TCP or TLS with rustls, chosen by the URL's
//! `sslmode`, as libpq reads it. `disable` is plain text; `prefer` (the default; `allow` is
//! read as `prefer`) uses TLS when the server offers it; `require` insists on TLS without
//! checking the certificate; `verify-ca` checks the certificate against `sslrootcert` (a PEM
//! file, required), and `verify-full` also checks that it names the host (against
//! `sslrootcert`, or the Mozilla roots without it). A URL that asks for TLS (`require`,
//! `verify-ca`, `verify-full`) never falls back to plain text. `verify-*` and `sslrootcert`
//! need the single-host `postgres://` URL form.

use postato::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL's `sslmode` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, unchecked; plain text otherwise (libpq's default).
    Prefer,
    /// TLS, unchecked certificate.
    Require,
    /// TLS, a certificate signed by a trusted root.
    VerifyCa,
    /// TLS, a certificate signed by a trusted root that names the host.
    VerifyFull,
}

/// A connection URL split into what tokio-postgres reads and how to make TLS connections.
pub struct Connection {
    /// The configuration (its `sslmode` is `disable`, `prefer` or `require`).
    pub config: tokio_postgres::Config,
    /// What the URL asked for.
    pub mode: TlsMode,
    /// The TLS connector; `None` for plain text.
    pub tls: Option<MakeRustlsConnect>,
}

fn invalid(message: impl std::fmt::Display) -> StoreError {
    StoreError::new(format!("invalid PostgreSQL URL: {message}"))
}

/// Reads a `postgres://` URL (or a `key=value` string), its `sslmode` and `sslrootcert`. The
/// errors never repeat the URL, which may hold a password.
pub fn connection(url: &str) -> Result<Connection, StoreError> {
    let (rest, mode, root_cert) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_tls_parameters(url)?
    } else {
        // key=value strings go to tokio-postgres as they are: sslmode disable, prefer or require.
        (url.to_owned(), None, None)
    };
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|e| invalid(format!("{e} (give postgres://user@host:port/db)")))?;
    let mode = mode.unwrap_or(match config.get_ssl_mode() {
        SslMode::Disable => TlsMode::Disable,
        SslMode::Require => TlsMode::Require,
        _ => TlsMode::Prefer,
    });
    if root_cert.is_some() && matches!(mode, TlsMode::Disable | TlsMode::Prefer | TlsMode::Require) {
        return Err(invalid("sslrootcert is given but sslmode does not verify: use sslmode=verify-full"));
    }
    if mode == TlsMode::VerifyCa && root_cert.is_none() {
        // Any public CA's certificate would pass for any host: libpq refuses this too.
        return Err(invalid("sslmode=verify-ca needs sslrootcert=/path/ca.pem (or use sslmode=verify-full)"));
    }
    config.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    let tls = match mode {
        TlsMode::Disable => None,
        TlsMode::Prefer | TlsMode::Require => Some(client(Arc::new(Unchecked(provider())))),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let roots = roots(root_cert.as_deref())?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| invalid(format!("sslrootcert: {e}")))?;
            Some(client(Arc::new(Verified { webpki, check_name: mode == TlsMode::VerifyFull })))
        }
    };
    Ok(Connection { config, mode, tls })
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query (tokio-postgres reads neither
/// `verify-*` nor `sslrootcert`).
fn split_tls_parameters(url: &str) -> Result<(String, Option<TlsMode>, Option<String>), StoreError> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a single-host URL (postgres://h1:5432,h2:5432/db): tokio-postgres reads it,
        // with sslmode disable, prefer or require only.
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root_cert, mut kept) = (None, None, Vec::new());
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => {
                mode = Some(match value.as_ref() {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(invalid(format!(
                            "sslmode={other} is unknown: use disable, prefer, require, verify-ca or verify-full"
                        )))
                    }
                })
            }
            "sslrootcert" => root_cert = Some(value.into_owned()),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.into(), mode, root_cert))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client(verifier: Arc<dyn ServerCertVerifier>) -> MakeRustlsConnect {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore, StoreError> {
    let Some(path) = root_cert else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(format!("sslrootcert {path:?} cannot be read: {e}")))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| invalid(format!("sslrootcert {path:?}: {e}")))?;
        roots.add(certificate).map_err(|e| invalid(format!("sslrootcert {path:?}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(invalid(format!("sslrootcert {path:?} holds no certificate: give a PEM file")));
    }
    Ok(roots)
}

/// `require`: the connection is encrypted, the certificate not checked (as libpq does).
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` and `verify-full`: the chain checked against the roots; the host name too for
/// `verify-full`.
#[derive(Debug)]
struct Verified {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_read_and_removed_from_the_url() {
        let (rest, mode, root) = split_tls_parameters(
            "postgres://u:secret@db:5432/app?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:secret@db:5432/app?application_name=x");
        assert_eq!((mode, root.as_deref()), (Some(TlsMode::VerifyFull), Some("/ca.pem")));
        assert_eq!(connection("postgres://u@db/app").unwrap().mode, TlsMode::Prefer, "libpq's default");
        assert_eq!(connection("postgres://u@db/app?sslmode=disable").unwrap().mode, TlsMode::Disable);
        assert!(connection("postgres://u@db/app?sslmode=disable").unwrap().tls.is_none());
        let several_hosts = connection("postgres://u@h1:5432,h2:5432/app?sslmode=require").unwrap();
        assert_eq!(several_hosts.config.get_hosts().len(), 2, "multi-host URLs still work");
        assert_eq!(several_hosts.mode, TlsMode::Require);
    }

    #[test]
    fn a_mistake_is_named_without_the_password() {
        for url in [
            "postgres://u:hunter2@db/app?sslmode=verify-everything",
            "postgres://u:hunter2@db/app?sslmode=require&sslrootcert=/ca.pem",
            "postgres://u:hunter2@db/app?sslmode=verify-full&sslrootcert=/no/such/ca.pem",
            "postgres://u:hunter2@db/app?sslmode=verify-ca",
        ] {
            let message = connection(url).err().expect("refused").to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("ssl"), "{message}");
        }
    }
}
