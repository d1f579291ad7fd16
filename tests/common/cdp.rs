//! A real headless Chromium driven over its DevTools protocol (a websocket spoken with awc): any
//! viewport width (the command line's `--window-size` stops at 500 px, phones are narrower),
//! navigation that waits for the load event, JavaScript returning JSON, cookies, signing in
//! through the form, full-page screenshots kept under `$CARGO_TARGET_DIR/test-artifacts`, and
//! the checks every page must pass at phone widths.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix_codec::Framed;
use awc::BoxedSocket;
use awc::ws::{Codec, Frame, Message};
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Where test artifacts (screenshots, rendered e-mails) are kept.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::manifest_dir().join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts folder can be made");
    dir
}

/// The Chromium binary on PATH, if any.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| PathBuf::from(dir).join(name))
                .find(|p| p.is_file())
        })
}

/// The Chromium binary, or `None` after printing why the test skips. In CI it must be there
/// (.ci/run installs it): a silent skip would hide every browser test.
pub fn chromium_or_skip() -> Option<PathBuf> {
    let bin = chromium();
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium must be installed in CI (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
    }
    bin
}

/// Flags for a quiet, reproducible headless Chromium.
pub const HEADLESS_FLAGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
];

/// Kills the browser when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One browser with one page, spoken to over DevTools.
pub struct Cdp {
    ws: Framed<BoxedSocket, Codec>,
    next_id: u64,
    /// Every event received so far, in order.
    pub events: Vec<Value>,
    width: u32,
    _browser: Kill,
    _profile: tempfile::TempDir,
}

impl Cdp {
    /// Launches `bin` with a fresh profile and attaches to its page, at 1280 × 900.
    pub async fn launch(bin: &Path) -> Cdp {
        let profile = tempfile::tempdir().expect("a temp profile");
        let mut child = Command::new(bin)
            .args(HEADLESS_FLAGS)
            .args(["--remote-debugging-port=0", "--remote-allow-origins=*"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let browser = Kill(child);
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let endpoint = loop {
            match rx.try_recv() {
                Ok(line) => {
                    if let Some(url) = line.split("DevTools listening on ").nth(1) {
                        break url.trim().to_owned();
                    }
                }
                Err(_) if started.elapsed() > Duration::from_secs(30) => {
                    panic!("chromium did not open its DevTools port")
                }
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let port = endpoint
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let mut resp = client
            .get(format!("http://{port}/json/list"))
            .send()
            .await
            .expect("DevTools lists its targets");
        let targets: Value = resp.json().await.expect("a JSON target list");
        let page_ws = targets
            .as_array()
            .and_then(|all| all.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (_, ws) = client
            .ws(page_ws)
            .max_frame_size(256 << 20)
            .connect()
            .await
            .expect("the page's DevTools socket");
        let mut cdp = Cdp {
            ws,
            next_id: 0,
            events: Vec::new(),
            width: 1280,
            _browser: browser,
            _profile: profile,
        };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            cdp.call(domain, json!({})).await;
        }
        cdp.set_width(1280).await;
        cdp
    }

    /// One DevTools command: sends it and collects events until its reply arrives.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let v = self.reply(method, params).await;
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// One DevTools command's whole reply, an `error` included.
    async fn reply(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        Pin::new(&mut self.ws)
            .write(Message::Text(msg.into()))
            .expect("the command is queued");
        std::future::poll_fn(|cx| Pin::new(&mut self.ws).flush(cx))
            .await
            .expect("the command is sent");
        loop {
            let v = self.next_message().await;
            if v["id"] == id {
                return v;
            }
            self.events.push(v);
        }
    }

    async fn next_message(&mut self) -> Value {
        loop {
            let frame = actix_web::rt::time::timeout(Duration::from_secs(60), self.ws.next())
                .await
                .expect("DevTools answers within 60 s")
                .expect("the socket is open")
                .expect("a valid frame");
            if let Frame::Text(bytes) = frame {
                return serde_json::from_slice(&bytes).expect("JSON from DevTools");
            }
        }
    }

    /// Waits for the event `method` that arrives after event number `after`.
    async fn wait_event(&mut self, method: &str, after: usize) {
        let started = Instant::now();
        while !self.events[after.min(self.events.len())..]
            .iter()
            .any(|e| e["method"] == method)
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {method} within 60 s"
            );
            let v = self.next_message().await;
            self.events.push(v);
        }
    }

    /// Emulates a device `width` CSS pixels wide (any width, 320 included), at scale 1.
    pub async fn set_width(&mut self, width: u32) {
        self.width = width;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}),
        )
        .await;
    }

    /// Opens `url` and waits for its load event and its fonts.
    pub async fn navigate(&mut self, url: &str) {
        let mark = self.events.len();
        let r = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(r.get("errorText").is_none(), "{url}: {r}");
        self.wait_event("Page.loadEventFired", mark).await;
        self.eval_async("document.fonts.ready.then(() => true)")
            .await;
    }

    /// Evaluates `js` in the page and returns its value as JSON.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// As [`Cdp::eval`], awaiting the promise `js` gives.
    pub async fn eval_async(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `js` until it is `true`. A poll that meets the page navigating away (after a click
    /// on a link, say) counts as "not yet".
    pub async fn wait_for(&mut self, js: &str, what: &str) {
        let started = Instant::now();
        loop {
            let v = self
                .reply(
                    "Runtime.evaluate",
                    json!({"expression": js, "returnByValue": true}),
                )
                .await;
            let navigating = v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("navigated or closed"));
            if !navigating {
                assert!(v.get("error").is_none(), "{js}: {v}");
                let r = &v["result"];
                assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
                if r["result"]["value"] == Value::Bool(true) {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what} timed out"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Presses and releases a key: `Tab`, `Enter`, `Space`, with its DOM code and key code.
    pub async fn press(&mut self, key: &str) {
        let (code, key_code, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            "Space" => ("Space", 32, " "),
            other => panic!("no key {other} in the test driver"),
        };
        let key_name = if key == "Space" { " " } else { key };
        for kind in ["keyDown", "keyUp"] {
            let mut params = json!({"type": kind, "key": key_name, "code": code,
                "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code});
            if kind == "keyDown" && !text.is_empty() {
                params["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", params).await;
        }
    }

    /// Presses `key` where it submits a form or follows a link, and waits for the new page.
    pub async fn press_and_load(&mut self, key: &str) {
        let mark = self.events.len();
        self.press(key).await;
        self.wait_event("Page.loadEventFired", mark).await;
    }

    pub async fn set_cookie(&mut self, name: &str, value: &str, url: &str) {
        self.call(
            "Network.setCookie",
            json!({"name": name, "value": value, "url": url, "httpOnly": true}),
        )
        .await;
    }

    /// Signs in through the login form as a person would, and lands on `/`.
    pub async fn sign_in(&mut self, base: &str, token: &str) {
        self.navigate(&format!("{base}/login?next=/")).await;
        let mark = self.events.len();
        let token = serde_json::to_string(token).expect("a JSON string");
        self.eval(&format!(
            "document.getElementById('token').value = {token}; \
             document.getElementById('token').form.submit(); true"
        ))
        .await;
        self.wait_event("Page.loadEventFired", mark).await;
        let path = self.eval("location.pathname").await;
        assert_eq!(path, "/", "signed in and sent home");
    }

    /// A full-page PNG of what the page shows now, kept as `name` among the test artifacts
    /// (at most 20,000 px tall).
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let height = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")
            .await
            .as_f64()
            .unwrap_or(900.0)
            .clamp(1.0, 20_000.0);
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("PNG data"))
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Uncaught exceptions and console errors the page reported.
    pub fn errors(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| {
                e["method"] == "Runtime.exceptionThrown"
                    || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
                    || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
            })
            .collect()
    }

    /// How the page fits its viewport now: see [`FIT_JS`].
    pub async fn fit(&mut self) -> Fit {
        let v = self.eval(FIT_JS).await;
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
    }
}

/// What [`FIT_JS`] reports.
#[derive(Debug, serde::Deserialize)]
pub struct Fit {
    #[serde(rename = "scrollWidth")]
    pub scroll_width: f64,
    #[serde(rename = "innerWidth")]
    pub inner_width: f64,
    /// Words whose letters landed on two lines ("Impression" / "s").
    pub broken: Vec<Value>,
    /// Elements whose content is wider than they are, and that do not scroll it on purpose.
    pub overflowing: Vec<Value>,
    /// Scrolling containers (overflow-x auto or scroll) that hold more than they show.
    pub scrolling: Vec<Value>,
}

impl Fit {
    /// Every problem, for an assertion message; empty when the page fits.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.scroll_width > self.inner_width {
            out.push(format!(
                "the document is {} px wide in a {} px viewport",
                self.scroll_width, self.inner_width
            ));
        }
        out.extend(self.broken.iter().map(|w| format!("word broken: {w}")));
        out.extend(self.overflowing.iter().map(|e| format!("overflows: {e}")));
        out
    }
}

/// Measures the page: the document's scroll width against the viewport; every word (split on
/// white space, with a break allowed after a hyphen, dash or slash) of every visible text node
/// whose letters sit on more than one line; every element whose content is wider than its box
/// unless it scrolls sideways on purpose (overflow-x auto or scroll), those listed apart.
pub const FIT_JS: &str = r#"(() => {
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
               broken: [], overflowing: [], scrolling: []};
  const where = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const range = document.createRange();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest('script, style, noscript') || el.getClientRects().length === 0) continue;
    const text = node.textContent;
    const word = /[^\s\-–—\/]+[\-–—\/]*/g;
    let m;
    while ((m = word.exec(text))) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set();
      for (const r of range.getClientRects()) {
        if (r.width > 0 && r.height > 0) tops.add(Math.round(r.top / 3));
      }
      if (tops.size > 1) out.broken.push({word: m[0], in: where(el), text: text.trim().slice(0, 80)});
    }
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (!(el instanceof HTMLElement) || el.clientWidth <= 1) continue;
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const style = getComputedStyle(el);
    const item = {in: where(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, text: (el.textContent || '').trim().slice(0, 60)};
    if (style.overflowX === 'auto' || style.overflowX === 'scroll') out.scrolling.push(item);
    else out.overflowing.push(item);
  }
  return out;
})()"#;
