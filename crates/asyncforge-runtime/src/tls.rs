//! TLS for outgoing HTTP requests (SSE client, typed POSTs, webhooks, resource clients).

use std::sync::Arc;

/// rustls with the `ring` provider and the webpki roots — independent of any process-wide
/// crypto provider and of the system certificate store — offering HTTP/2 first through ALPN,
/// so that several SSE streams to one server share a connection instead of using one each.
pub(crate) fn client_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}
