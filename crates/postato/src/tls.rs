//! Which certificate authorities a client trusts, and what a failed certificate check means.
//!
//! A client trusts Mozilla's roots (built in, as browsers and Python's `certifi` do), plus the
//! certificates of the file named by `SSL_CERT_FILE` when it is set (OpenSSL's variable, which
//! curl, Python's `ssl`, Go and Ruby read too), plus those of the `caBundle` setting: a company
//! that inspects TLS with its own CA gives its certificate either way. A server whose
//! certificate fails the check (an unknown issuer, another host's name, expired) can never
//! succeed by retrying: the attempt ends as an [`Untrusted`](TransportFailureKind::Untrusted)
//! (or [`WrongHost`](TransportFailureKind::WrongHost)) failure, which ends the publish at once
//! as a setting to fix.

use postato_core::{TransportFailure, TransportFailureKind};
use reqwest::Certificate;
use std::path::Path;

/// OpenSSL's variable naming a file of trusted certificates (PEM).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// The certificates trusted beside the built-in roots: those of `ca_bundle` (the setting) and,
/// for a client that speaks TLS (`tls`), of `SSL_CERT_FILE`; they add to the roots, never
/// narrow them (as Node's `NODE_EXTRA_CA_CERTS` does). A file that cannot be read or holds no
/// certificate is an error naming where it was given, never silently ignored; a stale
/// `SSL_CERT_FILE` never stops a plain-http client (a local simulator).
pub(crate) fn extra_roots(ca_bundle: Option<&Path>, tls: bool) -> Result<Vec<Certificate>, String> {
    let mut roots = Vec::new();
    if let Some(path) = ca_bundle {
        roots.extend(certificates(path, "caBundle")?);
    }
    if let Some(path) = std::env::var_os(SSL_CERT_FILE).filter(|path| tls && !path.is_empty()) {
        roots.extend(certificates(Path::new(&path), SSL_CERT_FILE)?);
    }
    Ok(roots)
}

fn certificates(path: &Path, given_as: &str) -> Result<Vec<Certificate>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{given_as} names {shown}, which cannot be read: {e}"))?;
    let found = Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{given_as} names {shown}, which is not a PEM certificate file: {e}"))?;
    if found.is_empty() {
        return Err(format!(
            "{given_as} names {shown}, which holds no certificate: give a PEM file (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(found)
}

/// The failure of an attempt whose server's certificate failed the check, if `error` is one:
/// its message names the cause and the setting that fixes it (`baseUrl` for a certificate of
/// another host, else `caBundle`).
pub(crate) fn untrusted(error: &reqwest::Error) -> Option<TransportFailure> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(rustls::Error::InvalidCertificate(certificate)) = rustls_error(cause) {
            return Some(advice(certificate));
        }
        source = cause.source();
    }
    None
}

/// The rustls error `cause` is or wraps: the connector hands it over inside `io::Error`s (two
/// deep), whose `source` skips what they wrap.
fn rustls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(found) = cause.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    let inner = cause.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// The failure a certificate error makes: its kind names the setting to fix, its message the
/// cause and the way out.
fn advice(error: &rustls::CertificateError) -> TransportFailure {
    use rustls::CertificateError as E;
    let (kind, message) = match error {
        E::NotValidForName | E::NotValidForNameContext { .. } => (
            TransportFailureKind::WrongHost,
            format!("the server's certificate is for another host ({error}): check baseUrl"),
        ),
        E::Expired | E::ExpiredContext { .. } | E::NotValidYet | E::NotValidYetContext { .. } => (
            TransportFailureKind::Untrusted,
            format!(
                "the server's certificate is not valid now ({error}): check this machine's clock, or tell the \
                 server's operator"
            ),
        ),
        _ => (
            TransportFailureKind::Untrusted,
            format!(
                "the server's certificate is not trusted ({error}): if it is signed by your company's CA (a proxy \
                 that inspects TLS), give that CA's certificate (PEM) with the caBundle setting (postato \
                 --ca-bundle FILE) or SSL_CERT_FILE"
            ),
        ),
    };
    TransportFailure::new(kind, format!("{message}; nothing was sent, and retrying cannot help"))
}
