//! Fetching remote (`http(s)://`) references, used only with `--allow-remote-refs`.

use std::io::Read;
use std::time::Duration;

use asyncforge_spec::workspace::Fetch;

/// Fetches documents over HTTP(S) with a timeout and a size cap.
#[derive(Debug, Clone)]
pub struct HttpFetch {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for HttpFetch {
    fn default() -> Self {
        HttpFetch {
            timeout: Duration::from_secs(20),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Fetch for HttpFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .build()
            .into();
        let resp = agent
            .get(url)
            .call()
            .map_err(|e| format!("cannot fetch `{url}`: {e}"))?;
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(self.max_bytes + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("cannot read `{url}`: {e}"))?;
        if body.len() as u64 > self.max_bytes {
            return Err(format!("`{url}` is larger than {} bytes", self.max_bytes));
        }
        Ok(body)
    }
}
