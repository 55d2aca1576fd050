//! TLS for outgoing connections: HTTP requests (SSE client, typed POSTs, webhooks, resource
//! clients) and MQTT over TLS.

use std::sync::Arc;

#[cfg(feature = "mqtt")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "mqtt")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The ring provider: independent of any process-wide crypto provider.
///
/// rustls 0.23.48 deprecates `ring::default_provider` because ring has no post-quantum key
/// exchange; ring is kept on purpose (aws-lc-rs needs a C/cmake build), so the deprecation is
/// allowed here, and only here.
#[allow(deprecated)]
fn builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, String> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
}

/// The webpki roots (the Mozilla set, not the system store).
fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
}

/// rustls with the webpki roots, offering HTTP/2 first through ALPN, so that several SSE
/// streams to one server share a connection instead of using one each.
#[cfg(any(feature = "sse-client", feature = "http"))]
pub(crate) fn client_config() -> Result<rustls::ClientConfig, String> {
    let mut tls = builder()?
        .with_root_certificates(public_roots())
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// Whom a client trusts and how it identifies itself.
#[cfg(feature = "mqtt")]
pub(crate) struct Trust<'a> {
    /// Certificate authorities (PEM) trusted besides (or instead of) the public roots.
    pub ca_pem: Option<&'a [u8]>,
    /// Whether the webpki roots are trusted too.
    pub public_roots: bool,
    /// Client certificate chain and private key, both PEM.
    pub client_auth: Option<(&'a [u8], &'a [u8])>,
}

/// rustls for a protocol without ALPN (MQTT): the roots and client certificate `trust` names.
#[cfg(feature = "mqtt")]
pub(crate) fn config_with(trust: &Trust<'_>) -> Result<rustls::ClientConfig, String> {
    let mut roots = if trust.public_roots {
        public_roots()
    } else {
        rustls::RootCertStore::empty()
    };
    if let Some(pem) = trust.ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("CA certificates: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA certificate refused: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("CA certificates: no certificate in the PEM text".into());
        }
    }
    if roots.is_empty() {
        return Err("no certificate authority to trust".into());
    }
    let b = builder()?.with_root_certificates(roots);
    match trust.client_auth {
        None => Ok(b.with_no_client_auth()),
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client certificate: {e}"))?;
            if chain.is_empty() {
                return Err("client certificate: no certificate in the PEM text".into());
            }
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("client key: {e}"))?;
            b.with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))
        }
    }
}
