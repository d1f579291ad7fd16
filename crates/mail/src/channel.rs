//! Where a notification goes: an e-mail address, a Slack incoming webhook or a generic signed
//! webhook. Alerts and digests name channels the same way in JSON:
//! `{"email":"a@example.com"}`, `{"slack":"https://…"}`, `{"webhook":"https://…","secret":"…"}`.

mod http;

pub use http::{HookClient, HookConfig, HookPost, signature};

use serde_json::{Map, Value, json};

/// One destination of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Email(String),
    Slack(String),
    Webhook { url: String, secret: String },
}

impl Channel {
    /// Parses one channel object; the error says what is wrong with it.
    pub fn parse(value: &Value) -> Result<Channel, String> {
        let Some(obj) = value.as_object() else {
            return Err("a channel is an object: {\"email\"|\"slack\"|\"webhook\": …}".to_owned());
        };
        let text = |key: &str| -> Result<String, String> {
            match obj.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                _ => Err(format!("`{key}` must be a non-empty string")),
            }
        };
        let only = |keys: &[&str]| -> Result<(), String> {
            match obj.keys().find(|k| !keys.contains(&k.as_str())) {
                Some(k) => Err(format!("unknown channel key `{k}`")),
                None => Ok(()),
            }
        };
        if obj.contains_key("email") {
            only(&["email"])?;
            let address = text("email")?;
            crate::parse_address(&address).map_err(|e| e.to_string())?;
            Ok(Channel::Email(address))
        } else if obj.contains_key("slack") {
            only(&["slack"])?;
            let url = text("slack")?;
            check_url(&url)?;
            Ok(Channel::Slack(url))
        } else if obj.contains_key("webhook") {
            only(&["webhook", "secret"])?;
            let url = text("webhook")?;
            check_url(&url)?;
            Ok(Channel::Webhook {
                url,
                secret: text("secret")?,
            })
        } else {
            Err("a channel names `email`, `slack` or `webhook`".to_owned())
        }
    }

    /// Parses a list of channels; the error names the index of the bad one.
    pub fn parse_list(value: &Value) -> Result<Vec<Channel>, String> {
        let Some(items) = value.as_array() else {
            return Err("`channels` must be an array".to_owned());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| Channel::parse(v).map_err(|e| format!("channels[{i}]: {e}")))
            .collect()
    }

    /// The stored form, secret included.
    pub fn to_json(&self) -> Value {
        match self {
            Channel::Email(a) => json!({ "email": a }),
            Channel::Slack(u) => json!({ "slack": u }),
            Channel::Webhook { url, secret } => json!({ "webhook": url, "secret": secret }),
        }
    }

    /// The form shown to API clients: a webhook's secret is never read back.
    pub fn to_public_json(&self) -> Value {
        match self {
            Channel::Webhook { url, .. } => {
                let mut m = Map::new();
                m.insert("webhook".to_owned(), Value::String(url.clone()));
                m.insert("secret_set".to_owned(), Value::Bool(true));
                Value::Object(m)
            }
            other => other.to_json(),
        }
    }

    /// A short stable name of the destination, the delivery log's `channel` column: the
    /// address or URL, with its kind (`email:a@example.com`, `slack:https://…`).
    pub fn key(&self) -> String {
        match self {
            Channel::Email(a) => format!("email:{}", a.to_lowercase()),
            Channel::Slack(u) => format!("slack:{u}"),
            Channel::Webhook { url, .. } => format!("webhook:{url}"),
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(()),
        _ => Err(format!("`{url}` must be an http or https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_kind_parses_and_round_trips() {
        for v in [
            json!({"email": "a@example.com"}),
            json!({"slack": "https://hooks.example.com/T1"}),
            json!({"webhook": "http://127.0.0.1:9/x", "secret": "s3"}),
        ] {
            let c = Channel::parse(&v).expect("a channel");
            assert_eq!(c.to_json(), v);
        }
    }

    #[test]
    fn a_webhook_needs_a_secret_and_an_http_url() {
        assert!(Channel::parse(&json!({"webhook": "http://x.example/"})).is_err());
        assert!(Channel::parse(&json!({"webhook": "ftp://x.example/", "secret": "s"})).is_err());
        assert!(Channel::parse(&json!({"slack": "https://x.example/", "extra": 1})).is_err());
        assert!(Channel::parse(&json!({"email": "not an address"})).is_err());
    }
}
