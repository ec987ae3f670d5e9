//! Every outgoing HTTP connection (Prometheus, Alertmanager, notifications) is made by a client
//! from here: rustls with the system's trusted roots, plus `[outgoing_tls]`'s CA bundle and
//! client certificate when set. Loaded once, at config validation, so a bad file stops the start
//! (and `check-config`) with its key named, never a heal.
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// `[outgoing_tls]`: how selfheal proves who it talks to, and who it is, over https.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutgoingTlsConfig {
    /// PEM bundle of CAs trusted beside the system's roots (a private CA's Prometheus).
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (chain) selfheal presents when a server asks (mutual TLS); with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The TLS material every outgoing client gets.
#[derive(Clone, Default)]
pub struct Outgoing {
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    /// The same, as rustls takes them (LDAP connections: `rustls_config`).
    ca_pem: Option<Vec<u8>>,
    identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("extra_roots", &self.roots.len())
            .field("client_identity", &self.identity.is_some())
            .finish()
    }
}

impl Outgoing {
    /// Reads and checks the files `config` names; the error names the key.
    pub fn load(config: &OutgoingTlsConfig) -> Result<Outgoing, (&'static str, String)> {
        let read = |key: &'static str, path: &Path| {
            std::fs::read(path).map_err(|e| (key, format!("cannot read {}: {e}", path.display())))
        };
        let mut roots = Vec::new();
        let mut ca_pem = None;
        let mut identity_pem = None;
        if let Some(path) = &config.ca_file {
            let pem = read("outgoing_tls.ca_file", path)?;
            ca_pem = Some(pem.clone());
            roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ("outgoing_tls.ca_file", format!("{} is not a PEM bundle: {e}", path.display()))
            })?;
            if roots.is_empty() {
                return Err(("outgoing_tls.ca_file", format!("{} holds no certificate", path.display())));
            }
        }
        let identity = match (&config.client_cert, &config.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let mut pem = read("outgoing_tls.client_cert", cert)?;
                let key_pem = read("outgoing_tls.client_key", key)?;
                identity_pem = Some((pem.clone(), key_pem.clone()));
                pem.push(b'\n');
                pem.extend(key_pem);
                Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                    (
                        "outgoing_tls.client_cert",
                        format!("{} with its key is not a PEM identity: {e}", cert.display()),
                    )
                })?)
            }
            (Some(_), None) => {
                return Err(("outgoing_tls.client_key", "client_cert needs client_key".into()))
            }
            (None, Some(_)) => {
                return Err(("outgoing_tls.client_cert", "client_key needs client_cert".into()))
            }
        };
        let outgoing = Outgoing { roots, identity, ca_pem, identity_pem };
        outgoing.rustls_config().map_err(|e| ("outgoing_tls.ca_file", e))?;
        Ok(outgoing)
    }

    /// The same trust and identity for connections made with rustls directly (LDAP): the
    /// system's roots, the CA bundle, the client certificate; ring as the provider (deprecated
    /// for lacking post-quantum key exchange, kept as in `tls.rs`: aws-lc-rs needs cmake).
    #[allow(deprecated)]
    pub fn rustls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped, as reqwest does.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(pem) = &self.ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("a CA certificate does not parse: {e}"))?;
                roots.add(cert).map_err(|e| format!("a CA certificate is refused: {e}"))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let config = match &self.identity_pem {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("the client certificate does not parse: {e}"))?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| format!("the client key does not parse: {e}"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("the client certificate is refused: {e}"))?
            }
        };
        Ok(std::sync::Arc::new(config))
    }

    /// A client for one purpose: every request times out after `timeout`.
    pub fn client(&self, timeout: Duration) -> reqwest::Client {
        self.build(reqwest::Client::builder().timeout(timeout))
    }

    /// A client that never follows a redirect (OpenID Connect: a redirected token request
    /// would carry the code and secret elsewhere).
    pub fn client_without_redirects(&self, timeout: Duration) -> reqwest::Client {
        self.build(reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()))
    }

    fn build(&self, builder: reqwest::ClientBuilder) -> reqwest::Client {
        let mut builder = builder.use_rustls_tls();
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        // Everything was checked at load; a failure here (no TLS backend) must not stop healing
        // over plain http.
        builder.build().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the TLS client; https calls will fail");
            reqwest::Client::new()
        })
    }
}
