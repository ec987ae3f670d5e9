//! Serving HTTPS directly (`tls_cert`, `tls_key`): rustls over the same serving loop, the
//! certificate read again on SIGHUP (a renewed certificate without a restart; a file that does
//! not load is refused with the error and the one in use is kept).
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// The certificate (chain) and key files, and the TLS setup made of them last.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads `cert` (PEM, the leaf first) and `key` (PEM); the error names the file and why.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, (&'static str, String)> {
        let config = server_config(cert, key)?;
        Ok(Tls { cert: cert.to_owned(), key: key.to_owned(), current: Arc::new(RwLock::new(config)) })
    }

    /// An acceptor with the certificate in use now.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config =
            self.current.read().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone());
        TlsAcceptor::from(config)
    }

    /// Reads the files again; on success new connections get the new certificate.
    pub fn reload(&self) -> Result<(), String> {
        let config =
            server_config(&self.cert, &self.key).map_err(|(key, message)| format!("{key}: {message}"))?;
        match self.current.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(())
    }

    /// Reloads on every SIGHUP until `stop`.
    pub async fn reload_on_sighup(self, stop: CancellationToken) {
        crate::shutdown::on_each_sighup("the TLS certificate", stop, || {
            let this = self.clone();
            async move {
                match this.reload() {
                    Ok(()) => tracing::info!(cert = %this.cert.display(), "TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded; the one in use stays")
                    }
                }
            }
        })
        .await;
    }
}

/// rustls' server setup (ring, TLS 1.2 and 1.3, HTTP/1.1) with the certificate of the files.
/// rustls marks its ring provider deprecated because it lacks post-quantum key exchange; its
/// aws-lc-rs provider has it but builds C with cmake, which the offline toolchain does not
/// carry. ring is also what reqwest's TLS uses here: one provider for the whole process.
#[allow(deprecated)]
fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, (&'static str, String)> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ("tls_cert", format!("cannot read a PEM certificate from {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(("tls_cert", format!("{} holds no certificate", cert.display())));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ("tls_key", format!("cannot read a PEM private key from {}: {e}", key.display())))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls_cert", format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| ("tls_key", format!("{} does not go with {}: {e}", key.display(), cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
