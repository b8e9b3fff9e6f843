//! TLS with rustls: the certificate and key from `--ssl-certfile` and
//! `--ssl-keyfile` (PEM; RSA, ECDSA or Ed25519 keys), ALPN offering `h2`
//! and `http/1.1`, and the certificate reloaded on SIGHUP.
//!
//! The certificate sits behind a resolver that hands out whichever
//! certificate is current, so a reload changes what *new* handshakes see;
//! connections already established keep the session they negotiated, none
//! is dropped. A reload that fails (a half-written file, a key that does
//! not match) is logged and the previous certificate stays in use.
//!
//! The handshake runs on the connection's event loop under
//! `--ssl-handshake-timeout`; a client that opens a connection and never
//! finishes its handshake is cut then.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The certificate and key files, and what they currently hold.
pub(crate) struct Tls {
    certfile: PathBuf,
    keyfile: PathBuf,
    current: Arc<CurrentCert>,
    acceptor: TlsAcceptor,
}

/// The certificate new handshakes get; replaced on reload.
#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.read().expect("certificate lock")))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its private key from PEM files, and checks
/// that they belong together.
fn load(certfile: &Path, keyfile: &Path) -> Result<Arc<CertifiedKey>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
        .map_err(|e| format!("cannot read --ssl-certfile {}: {e}", certfile.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM in --ssl-certfile {}: {e}", certfile.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--ssl-certfile {} holds no certificate",
            certfile.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| {
        format!(
            "cannot read a private key from --ssl-keyfile {}: {e}",
            keyfile.display()
        )
    })?;
    let certified = CertifiedKey::from_der(certs, key, &provider()).map_err(|e| {
        format!(
            "--ssl-keyfile {} does not fit --ssl-certfile {}: {e}",
            keyfile.display(),
            certfile.display()
        )
    })?;
    Ok(Arc::new(certified))
}

impl Tls {
    /// Loads the files; an error says which file is wrong and why.
    pub(crate) fn new(certfile: &Path, keyfile: &Path) -> Result<Self, String> {
        let current = Arc::new(CurrentCert(RwLock::new(load(certfile, keyfile)?)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            certfile: certfile.to_owned(),
            keyfile: keyfile.to_owned(),
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// From the server's flags: `None` without `--ssl-certfile`.
    pub(crate) fn from_config(config: &super::ServerConfig) -> Result<Option<Self>, String> {
        match (&config.ssl_certfile, &config.ssl_keyfile) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Tls::new(cert, key).map(Some),
            (Some(cert), None) => Tls::new(cert, cert).map(Some), // a combined PEM, as uvicorn allows
            (None, Some(_)) => Err("--ssl-keyfile needs --ssl-certfile".into()),
        }
    }

    /// Reads the files again; new handshakes get the new certificate. On
    /// error, the current one stays.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let fresh = load(&self.certfile, &self.keyfile)?;
        *self.current.0.write().expect("certificate lock") = fresh;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}
