//! Where a store connects and how: the connection string parsed once (one host or
//! several, tried in order, as libpq does with `target_session_attrs`), its TLS, and
//! why a connection attempt failed, sorted into the failures a caller handles apart.

use std::error::Error as _;
use std::io;

use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{split_settings, SslSettings, Tls};
use super::PgError;

/// A connection's driving half, with TLS or without.
pub type Connection = tokio_postgres::Connection<Socket, <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>;

/// Why a connection attempt failed. Only `Unreachable` and `Closed` may pass by
/// themselves (a server starting, restarting, or being replaced by its standby); the
/// others are the configuration's, and trying again gives the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No server answered, or none that accepts writes when the string asks for one.
    Unreachable,
    /// The server closed the connection before it was set up (during the handshake).
    Closed,
    /// The server refused the user: wrong password, no password, no matching rule.
    Auth,
    /// TLS is required and the server offers none.
    TlsUnavailable,
    /// The server's certificate does not chain to a trusted root.
    UnknownAuthority,
    /// The server's certificate does not name the host connected to.
    HostMismatch,
    /// The server's certificate has expired (or is not valid yet).
    Expired,
    /// Another TLS failure (a bad certificate, no common protocol).
    Tls,
}

impl Failure {
    pub fn passes(self) -> bool {
        matches!(self, Failure::Unreachable | Failure::Closed)
    }

    /// What the caller is told first, before the client's own words.
    pub fn what(self) -> Option<&'static str> {
        Some(match self {
            Failure::Unreachable | Failure::Tls => return None,
            Failure::Closed => "the server closed the connection during the handshake",
            Failure::Auth => "the server refused the user (a wrong or missing password, or no pg_hba.conf rule that lets it in)",
            Failure::TlsUnavailable => "TLS is required (sslmode) but the server offers none",
            Failure::UnknownAuthority => {
                "the server's certificate is not signed by a trusted authority (sslrootcert, or the bundled public roots)"
            }
            Failure::HostMismatch => "the server's certificate does not name the host connected to (sslmode=verify-full)",
            Failure::Expired => "the server's certificate has expired or is not valid yet",
        })
    }
}

pub struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// `host:port` of every host, for messages (never the user or password).
    pub hosts: String,
    pub mode: super::tls::SslMode,
}

impl Target {
    /// Parses the connection string and builds its TLS; `ssl` overrides the string's
    /// own TLS settings.
    pub fn new(url: &str, ssl: SslSettings) -> Result<Target, PgError> {
        let (rest, from_url) = split_settings(url).map_err(PgError::Config)?;
        let tls = Tls::new(&from_url.overridden_by(ssl)).map_err(PgError::Config)?;
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e| PgError::Config(format!("the connection string does not parse: {e}")))?;
        config.ssl_mode(tls.mode.client());
        let ports = config.get_ports();
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match host {
                    tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => format!("{}:{port}", p.display()),
                }
            })
            .collect();
        let hosts = if hosts.is_empty() { "localhost:5432".to_owned() } else { hosts.join(", ") };
        Ok(Target { config, tls: tls.connector, hosts, mode: tls.mode })
    }

    pub async fn connect(&self) -> Result<(Client, Connection), PgError> {
        self.config.connect(self.tls.clone()).await.map_err(|e| PgError::Connect {
            target: self.hosts.clone(),
            failure: failure_of(&e),
            reason: reason_of(&e),
        })
    }
}

fn failure_of(e: &tokio_postgres::Error) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        return if code == &SqlState::INVALID_PASSWORD || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            Failure::Auth
        } else {
            // Starting up, shutting down, too many connections: a server that may
            // answer otherwise soon.
            Failure::Unreachable
        };
    }
    let text = reason_of(e);
    if text.contains("password missing") {
        return Failure::Auth;
    }
    if text.contains("server does not support TLS") {
        return Failure::TlsUnavailable;
    }
    let mut source = e.source();
    while let Some(s) = source {
        let tls = s
            .downcast_ref::<rustls::Error>()
            .or_else(|| s.downcast_ref::<io::Error>().and_then(|io| io.get_ref()?.downcast_ref::<rustls::Error>()));
        if let Some(tls) = tls {
            return match tls {
                rustls::Error::InvalidCertificate(c) => match c {
                    rustls::CertificateError::UnknownIssuer => Failure::UnknownAuthority,
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. } => Failure::HostMismatch,
                    rustls::CertificateError::Expired
                    | rustls::CertificateError::ExpiredContext { .. }
                    | rustls::CertificateError::NotValidYet
                    | rustls::CertificateError::NotValidYetContext { .. } => Failure::Expired,
                    _ => Failure::Tls,
                },
                _ => Failure::Tls,
            };
        }
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ) {
                return Failure::Closed;
            }
        }
        source = s.source();
    }
    // tokio-postgres' own "connection closed": the server hung up mid-setup.
    if text.contains("connection closed") {
        Failure::Closed
    } else {
        Failure::Unreachable
    }
}

/// An error and its causes, as one line ("error connecting to server: Connection refused").
pub fn reason_of(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
