//! `POST` of a message to an HTTP channel address (feature `sse-client`): what generated
//! clients use for the *receive* operations of SSE channels.

use std::time::Duration;

use super::client::HttpClient;

/// Why a POST failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The message could not be encoded.
    #[error("the message could not be encoded: {0}")]
    Encode(String),
    /// The request failed (connection, timeout, body too large).
    #[error("{0}")]
    Http(String),
    /// The server refused the message.
    #[error("the server answered {status}: {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's reason (`error` of its JSON body, or the body).
        reason: String,
    },
    /// The reply is not one of the operation's reply messages.
    #[error("unexpected reply: {0}")]
    Reply(String),
}

impl From<PostError> for crate::error::Error {
    fn from(e: PostError) -> Self {
        use crate::error::ErrorKind;
        let kind = match &e {
            PostError::Encode(_) | PostError::Reply(_) => ErrorKind::Invalid,
            PostError::Http(_) => ErrorKind::Transport,
            PostError::Refused { .. } => ErrorKind::Refused,
        };
        crate::error::Error::new(kind, e)
    }
}

/// An HTTP client for generated clients: rustls with the `ring` provider and the webpki
/// roots, independent of any process-wide crypto provider.
pub fn http_client() -> Result<HttpClient, PostError> {
    let tls =
        crate::tls::client_config().map_err(|e| PostError::Http(format!("TLS set-up: {e}")))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| PostError::Http(format!("HTTP client set-up: {e}")))
}

/// Largest response body read (bytes).
pub(crate) const MAX_RESPONSE: usize = 16 << 20;

/// POSTs `body` and returns the response body of a 2xx answer; other statuses become
/// [`PostError::Refused`] with the server's reason.
pub async fn post(
    http: &Result<HttpClient, PostError>,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, PostError> {
    let http = http.as_ref().map_err(Clone::clone)?;
    let mut response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| PostError::Http(e.to_string()))?;
    let status = response.status();
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| PostError::Http(e.to_string()))?
    {
        if out.len() + chunk.len() > MAX_RESPONSE {
            return Err(PostError::Http(format!(
                "the response is larger than {MAX_RESPONSE} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(out);
    }
    let reason = serde_json::from_slice::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&out).into_owned());
    Err(PostError::Refused {
        status: status.as_u16(),
        reason,
    })
}
