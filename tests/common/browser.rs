//! A browser by hand for the pages: a client that does not follow redirects, a cookie jar,
//! forms and JSON with a CSRF header, and signing in through the login form.

use std::collections::HashMap;

use awc::http::StatusCode;
use serde_json::Value;

use super::TestApp;

/// A browser by hand: a client that does not follow redirects, and a cookie jar.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: awc::Client,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
    /// The names of the cookies this response set (or cleared).
    pub set_cookies: Vec<String>,
    pub headers: awc::http::header::HeaderMap,
}

impl Page {
    pub fn status_and_body(self) -> (StatusCode, String) {
        (self.status, self.body)
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(60))
                .finish(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read<S>(&mut self, mut resp: awc::ClientResponse<S>) -> Page
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    {
        let mut set_cookies = Vec::new();
        for value in resp.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            set_cookies.push(name.trim().to_owned());
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let location = header("location");
        let headers = resp.headers().clone();
        let content_type = header("content-type").unwrap_or_default();
        let body = resp.body().limit(16 << 20).await.unwrap();
        Page {
            status: resp.status(),
            location,
            content_type,
            body: String::from_utf8(body.to_vec()).unwrap(),
            set_cookies,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .client
            .get(format!("{}{path}", self.app.base))
            .insert_header(("Cookie", self.cookie_header()))
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .client
            .post(format!("{}{path}", self.app.base))
            .insert_header(("Cookie", self.cookie_header()))
            .send_form(&form)
            .await
            .unwrap();
        self.read(resp).await
    }

    pub async fn send_json(
        &mut self,
        method: &str,
        path: &str,
        csrf: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(
                awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.app.base),
            )
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("Content-Type", "application/json"));
        if let Some(t) = csrf {
            req = req.insert_header(("X-CSRF-Token", t));
        }
        let page = self
            .read(req.send_body(body.to_string()).await.unwrap())
            .await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(Value::String(page.body)),
        )
    }

    /// Signs in through the form, as a person would, and lands on `next`.
    pub async fn sign_in(&mut self, token: &str, next: &str) -> Page {
        let form = self
            .get(&format!(
                "/login?next={}",
                next.replace('?', "%3F")
                    .replace('&', "%26")
                    .replace('=', "%3D")
            ))
            .await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = attr_after(&form.body, "name=\"csrf\" value=\"");
        let signed = self
            .post_form(
                "/login",
                &[("token", token), ("csrf", &csrf), ("next", next)],
            )
            .await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
        assert_eq!(signed.location.as_deref(), Some(next));
        let sessions = signed
            .set_cookies
            .iter()
            .filter(|name| *name == "lodestar_session");
        assert_eq!(sessions.count(), 1, "one session cookie is set");
        assert!(self.cookies.contains_key("lodestar_session"));
        assert!(
            !self.cookies.values().any(|v| v.contains(token)),
            "the token never goes into a cookie"
        );
        self.get(next).await
    }
}

/// The text of an attribute value that follows `marker`.
pub fn attr_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}
