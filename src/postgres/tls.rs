//! TLS to PostgreSQL with libpq's meanings, over rustls (`ring` provider).
//!
//! | `sslmode`     | TLS                          | server certificate checked                 |
//! |---------------|------------------------------|--------------------------------------------|
//! | `disable`     | never                        | -                                          |
//! | `prefer`      | when the server offers it    | chain, only when a root certificate is given |
//! | `require`     | always (refused without)     | chain, only when a root certificate is given |
//! | `verify-ca`   | always                       | chain (given root, or the bundled roots)   |
//! | `verify-full` | always                       | chain and host name                        |
//!
//! `prefer` is the default, as in libpq and psql: a URL that works with psql works
//! here, a hosted server that insists on TLS gets it, and a loopback server without
//! TLS still works. Only `verify-full` protects against a server in the middle; the
//! README says so. libpq's `allow` (plain first, TLS if refused) is refused: the
//! PostgreSQL client under this store cannot do it.
//!
//! A root certificate, client certificate or key is PEM text or the path of a PEM
//! file; `sslrootcert=system` means the bundled roots (as libpq 16's `system`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as ClientSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// `sslmode`, as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const NAMES: [&'static str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

    pub fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err("sslmode \"allow\" is not supported: use \"prefer\" or a stricter mode".to_owned()),
            other => {
                return Err(format!("sslmode must be one of {}, got {:?}", SslMode::NAMES.join(", "), other));
            }
        })
    }

    pub fn name(self) -> &'static str {
        SslMode::NAMES[self as usize]
    }

    /// What the PostgreSQL client does before the handshake: `verify-*` require TLS.
    pub fn client(self) -> ClientSslMode {
        match self {
            SslMode::Disable => ClientSslMode::Disable,
            SslMode::Prefer => ClientSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => ClientSslMode::Require,
        }
    }
}

/// The TLS settings of a connection string and the options, options winning.
#[derive(Debug, Default, Clone)]
pub struct SslSettings {
    pub mode: Option<String>,
    pub root_cert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl SslSettings {
    /// `self` with every setting `over` gives replaced.
    pub fn overridden_by(self, over: SslSettings) -> SslSettings {
        SslSettings {
            mode: over.mode.or(self.mode),
            root_cert: over.root_cert.or(self.root_cert),
            cert: over.cert.or(self.cert),
            key: over.key.or(self.key),
        }
    }
}

/// The settings turned into what connects: the mode and the TLS connector.
pub struct Tls {
    pub mode: SslMode,
    pub connector: MakeRustlsConnect,
}

impl Tls {
    pub fn new(settings: &SslSettings) -> Result<Tls, String> {
        let mode = match &settings.mode {
            Some(m) => SslMode::parse(m)?,
            None => SslMode::Prefer,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match settings.root_cert.as_deref() {
            None | Some("system") => None,
            Some(given) => Some(root_store(&pem_of(given, "sslrootcert")?)?),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
            (SslMode::Disable | SslMode::Prefer | SslMode::Require, None) => Arc::new(NoVerification(provider.clone())),
            (SslMode::VerifyFull, roots) => web_pki(roots, &provider)?,
            (_, roots) => Arc::new(ChainOnly(web_pki(roots, &provider)?)),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&settings.cert, &settings.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let certs = certificates(&pem_of(cert, "sslcert")?, "sslcert")?;
                let key = PrivateKeyDer::from_pem_slice(&pem_of(key, "sslkey")?)
                    .map_err(|e| format!("sslkey holds no private key in PEM (PKCS#8, PKCS#1 or SEC1): {e}"))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("sslcert and sslkey do not go together: {e}"))?
            }
            (Some(_), None) => return Err("sslcert is given without sslkey".to_owned()),
            (None, Some(_)) => return Err("sslkey is given without sslcert".to_owned()),
        };
        Ok(Tls { mode, connector: MakeRustlsConnect::new(config) })
    }
}

/// PEM text as given, or read from the path given.
fn pem_of(given: &str, what: &str) -> Result<Vec<u8>, String> {
    if given.trim_start().starts_with("-----BEGIN") {
        return Ok(given.as_bytes().to_vec());
    }
    std::fs::read(given).map_err(|e| format!("{what}: cannot read {given:?}: {e}"))
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} is not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no certificate (\"-----BEGIN CERTIFICATE-----\")"));
    }
    Ok(certs)
}

fn root_store(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for cert in certificates(pem, "sslrootcert")? {
        store.add(cert).map_err(|e| format!("sslrootcert holds a certificate that is not a usable root: {e}"))?;
    }
    Ok(store)
}

/// Chain and name checked against `roots`, or the bundled public roots.
fn web_pki(roots: Option<RootCertStore>, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
    let roots = roots.unwrap_or_else(|| RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS: {e}"))
}

/// `require` and `prefer` without a root certificate: encrypted, not authenticated
/// (libpq's meaning). The handshake's signatures are still checked, so the session
/// is with whoever holds the certificate's key.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain to a trusted root, its dates and use, but not the host name.
/// The web PKI verifier checks the name last, so a name error means all else passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Takes libpq's TLS keys out of a connection string (URL or `key=value` form), which
/// the PostgreSQL client would refuse as unknown; returns the rest and what they said.
pub fn split_settings(url: &str) -> Result<(String, SslSettings), String> {
    const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];
    let mut settings = SslSettings::default();
    let mut take = |key: &str, value: String| match key {
        "sslmode" => settings.mode = Some(value),
        "sslrootcert" => settings.root_cert = Some(value),
        "sslcert" => settings.cert = Some(value),
        _ => settings.key = Some(value),
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((head, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&') {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if KEYS.contains(&key) {
                        take(key, percent_decode(value)?);
                    } else {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    head.to_owned()
                } else {
                    format!("{head}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = String::new();
        for (key, value, text) in key_values(url)? {
            if KEYS.contains(&key.as_str()) {
                take(&key, value);
            } else {
                kept.push_str(text);
                kept.push(' ');
            }
        }
        kept.trim_end().to_owned()
    };
    Ok((rest, settings))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("the connection string has a bad %-escape in its TLS settings")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the connection string's TLS settings are not UTF-8".to_owned())
}

/// The `key = value` pairs of a libpq key/value string, each with its source text;
/// values may be single-quoted with backslash escapes, as libpq reads them.
fn key_values(text: &str) -> Result<Vec<(String, String, &str)>, String> {
    let b = text.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_spaces = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_spaces(i);
        if i == b.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = text[start..i].to_owned();
        i = skip_spaces(i);
        if b.get(i) != Some(&b'=') {
            return Err(format!("the connection string does not parse: {key:?} has no value"));
        }
        i = skip_spaces(i + 1);
        let mut value = String::new();
        if b.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("the connection string does not parse: an unterminated quote".to_owned()),
                    Some(b'\'') => break,
                    Some(b'\\') if i + 1 < b.len() => {
                        value.push(text[i + 1..].chars().next().unwrap_or('\\'));
                        i += 1 + text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    }
                    Some(_) => {
                        let c = text[i..].chars().next().unwrap_or(' ');
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            i += 1;
        } else {
            let from = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            value.push_str(&text[from..i]);
        }
        pairs.push((key, value, &text[start..i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_leave_a_url_and_the_rest_stays() {
        let (rest, s) = split_settings(
            "postgres://u:p@h:5432,h2:5433/db?sslmode=verify-full&target_session_attrs=read-write&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@h:5432,h2:5433/db?target_session_attrs=read-write");
        assert_eq!(s.mode.as_deref(), Some("verify-full"));
        assert_eq!(s.root_cert.as_deref(), Some("/tmp/ca.pem"));
        let (rest, s) = split_settings("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), s.mode.as_deref()), ("postgresql://h/db", Some("require")));
    }

    #[test]
    fn tls_keys_leave_a_key_value_string() {
        let (rest, s) =
            split_settings("host=h port = 5432 sslmode=verify-ca sslcert='/a b/c.pem' password='it\\'s'").unwrap();
        assert_eq!(rest, "host=h port = 5432 password='it\\'s'");
        assert_eq!(s.mode.as_deref(), Some("verify-ca"));
        assert_eq!(s.cert.as_deref(), Some("/a b/c.pem"));
        assert!(split_settings("host='h").is_err());
    }

    #[test]
    fn modes_have_libpq_names_and_allow_is_refused() {
        for name in SslMode::NAMES {
            assert_eq!(SslMode::parse(name).map(SslMode::name), Ok(name));
        }
        assert_eq!(
            SslMode::parse("allow").unwrap_err(),
            "sslmode \"allow\" is not supported: use \"prefer\" or a stricter mode"
        );
        assert_eq!(
            SslMode::parse("on").unwrap_err(),
            "sslmode must be one of disable, prefer, require, verify-ca, verify-full, got \"on\""
        );
    }

    #[test]
    fn half_a_client_identity_is_refused() {
        let only_cert = SslSettings { cert: Some("-----BEGIN CERTIFICATE-----".into()), ..Default::default() };
        assert_eq!(Tls::new(&only_cert).err().unwrap(), "sslcert is given without sslkey");
        let missing = SslSettings { root_cert: Some("/no/such/ca.pem".into()), ..Default::default() };
        assert!(Tls::new(&missing).err().unwrap().starts_with("sslrootcert: cannot read \"/no/such/ca.pem\": "));
    }
}
