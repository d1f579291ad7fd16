//! Posting JSON to Slack and webhook URLs: one attempt per call, classified like SMTP sends
//! (5xx, 408, 429, timeouts and connection failures are transient; other 4xx are permanent), so
//! the caller retries with backoff and records the outcome in the delivery log.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{MailError, SendError};

/// How channel URLs are reached.
#[derive(Debug, Clone)]
pub struct HookConfig {
    /// One attempt's whole exchange.
    pub timeout: Duration,
    /// Refuse loopback, private, link-local and other non-public addresses.
    pub block_private_addresses: bool,
}

impl Default for HookConfig {
    fn default() -> Self {
        HookConfig {
            timeout: Duration::from_secs(10),
            block_private_addresses: false,
        }
    }
}

/// One POST: the body is sent as is, signed when there is a secret.
#[derive(Debug, Clone)]
pub struct HookPost<'a> {
    pub url: &'a str,
    pub body: &'a [u8],
    /// Webhooks sign the body with it (`X-Lodestar-Signature`); Slack has none.
    pub secret: Option<&'a str>,
    /// `X-Lodestar-Delivery`: the same on every retry of one delivery, so receivers de-duplicate.
    pub delivery_id: &'a str,
}

/// A client for channel URLs; cheap to clone.
#[derive(Debug, Clone)]
pub struct HookClient {
    client: reqwest::Client,
    config: HookConfig,
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable_mac());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// HMAC takes keys of any length; this is never reached.
fn unreachable_mac() -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(b"-").unwrap_or_else(|_| unreachable_mac())
}

fn builder(config: &HookConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        // A redirect could lead anywhere, private addresses included: a channel URL is final.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Lodestar/", env!("CARGO_PKG_VERSION")))
}

impl HookClient {
    pub fn new(config: HookConfig) -> Result<HookClient, MailError> {
        let client = builder(&config)
            .build()
            .map_err(|e| MailError::Config(format!("the HTTP client: {e}")))?;
        Ok(HookClient { client, config })
    }

    pub fn config(&self) -> &HookConfig {
        &self.config
    }

    /// Posts once; `Ok` carries the status line the receiver answered.
    pub async fn post(&self, post: &HookPost<'_>) -> Result<String, SendError> {
        let client = if self.config.block_private_addresses {
            // Resolve once, check every address, and pin the connection to what was checked so
            // a second lookup cannot answer differently.
            let (host, addrs) = public_addresses(post.url).await?;
            builder(&self.config)
                .resolve_to_addrs(&host, &addrs)
                .build()
                .map_err(|e| SendError::Permanent {
                    code: None,
                    message: format!("the HTTP client: {e}"),
                })?
        } else {
            self.client.clone()
        };
        let mut request = client
            .post(post.url)
            .header("Content-Type", "application/json")
            .header("X-Lodestar-Delivery", post.delivery_id)
            .body(post.body.to_vec());
        if let Some(secret) = post.secret {
            request = request.header("X-Lodestar-Signature", signature(secret, post.body));
        }
        let response = request.send().await.map_err(|e| {
            let message = format!("{}: {e}", post.url);
            if e.is_timeout() {
                SendError::TimedOut { message }
            } else if e.is_builder() {
                SendError::Permanent {
                    code: None,
                    message,
                }
            } else {
                SendError::Transient { message }
            }
        })?;
        let status = response.status();
        let code = status.as_u16();
        let body = response.text().await.unwrap_or_default();
        let snippet: String = body.chars().take(200).collect();
        let line = format!("HTTP {code} {}", snippet.trim());
        if status.is_success() {
            Ok(line.trim().to_owned())
        } else if status.is_server_error() || code == 408 || code == 429 {
            Err(SendError::Transient { message: line })
        } else {
            Err(SendError::Permanent {
                code: Some(code),
                message: line,
            })
        }
    }
}

/// The host of `url` and its addresses, all public, or why not.
async fn public_addresses(url: &str) -> Result<(String, Vec<SocketAddr>), SendError> {
    let refuse = |message: String| SendError::Permanent {
        code: None,
        message,
    };
    let parsed = url::Url::parse(url).map_err(|e| refuse(format!("{url}: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refuse(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SendError::Transient {
            message: format!("{host}: {e}"),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(SendError::Transient {
            message: format!("{host}: no address"),
        });
    }
    if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(refuse(format!(
            "{host} resolves to {}, a private or loopback address, and \
             LODESTAR_NOTIFY__BLOCK_PRIVATE_ADDRESSES is on",
            bad.ip()
        )));
    }
    Ok((host, addrs))
}

/// Not loopback, private, link-local, shared, unspecified, multicast or documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_private_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().expect("an ip")), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().expect("an ip")));
        assert!(is_public("2606:4700::1111".parse().expect("an ip")));
    }

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
