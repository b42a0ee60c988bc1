//! HTTP transport to a Simvue server (ureq, blocking). One attempt per call: the retry policy
//! lives with the callers ([`crate::online`], the dispatcher), which know whether they may wait.
//!
//! - TLS is verified against the Mozilla roots plus a site CA when one is configured
//!   (`[server.certificates] server_ca_cert`, `SIMVUE_SERVER_CA_CERTIFICATE`, then
//!   `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE`, which HPC sites with internal CAs set).
//! - Proxies come from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (and `NO_PROXY`).
//! - gzip responses are accepted; every request has a timeout (the Python client has none on
//!   POST); the user agent names libsimvue and its version.
//! - The token goes only into the `Authorization` header of API requests, never into a message.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Token};
use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;

/// A request body.
pub enum Body<'a> {
    /// No body (heartbeats, GETs).
    Empty,
    /// `application/json`.
    Json(&'a Json),
    /// `application/msgpack`.
    Msgpack(&'a [u8]),
    /// Raw bytes with a content type (artifact uploads).
    Raw(&'a [u8], &'a str),
}

/// What went wrong with one attempt, and whether trying again may help.
#[derive(Debug)]
pub struct Failure {
    /// The error to report if no retry helps.
    pub error: Error,
    /// 502/503/504, timeouts, refused or reset connections.
    pub retryable: bool,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The parsed JSON body of an error answer, when there was one (a 409 carries the
    /// existing object's `id`).
    pub body: Option<serde_json::Value>,
}

/// A blocking HTTP client for one server.
pub struct Http {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

/// Seconds before a request is abandoned: `SIMVUE_HTTP_TIMEOUT`, default 10 (as the Python
/// client's GET and PUT).
pub fn default_timeout() -> Duration {
    std::env::var("SIMVUE_HTTP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

fn load_roots(ca: Option<&Path>) -> Result<rustls::RootCertStore> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca {
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read CA bundle {}: {e}", path.display()),
            )
        })?;
        let mut n = 0;
        for cert in certs {
            let cert = cert.map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("bad certificate in {}: {e}", path.display()),
                )
            })?;
            roots.add(cert).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("unusable certificate in {}: {e}", path.display()),
                )
            })?;
            n += 1;
        }
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!("CA bundle {} holds no PEM certificate", path.display()),
            ));
        }
    }
    Ok(roots)
}

/// The site CA for `which` ("server" or "storage"): configured file first, then the variables
/// Python's requests honours.
pub fn site_ca(config: &Config, storage: bool) -> Option<std::path::PathBuf> {
    let configured = if storage {
        &config.storage_ca_cert
    } else {
        &config.server_ca_cert
    };
    configured.clone().or_else(|| {
        ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
            .iter()
            .filter_map(std::env::var_os)
            .find(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    })
}

/// Builds an agent with our TLS roots, proxy handling, timeout and user agent.
pub fn agent(ca: Option<&Path>, timeout: Duration) -> Result<ureq::Agent> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Config, format!("TLS set-up failed: {e}")))?
        .with_root_certificates(load_roots(ca)?)
        .with_no_client_auth();
    Ok(ureq::AgentBuilder::new()
        .tls_config(Arc::new(tls))
        .try_proxy_from_env(true)
        .timeout(timeout)
        .user_agent(&format!(
            "libsimvue/{} (Simvue C/Fortran client)",
            crate::VERSION
        ))
        .build())
}

impl Http {
    /// A client for the server at `base` (ending in `/api`) with `token`.
    pub fn new(base: &str, token: &Token, ca: Option<&Path>, timeout: Duration) -> Result<Http> {
        Ok(Http {
            agent: agent(ca, timeout)?,
            base: base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {}", token.expose()),
        })
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request to `<base><path>` (`path` starts with `/`), expecting one of `ok`. Returns
    /// the parsed JSON body (`Null` when empty).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        ok: &[u16],
    ) -> std::result::Result<serde_json::Value, Failure> {
        let url = format!("{}{}", self.base, path);
        let req = self
            .agent
            .request(method, &url)
            .set("Authorization", &self.auth)
            .set("Accept-Encoding", "gzip");
        let what = format!("{method} {path}");
        let result = match body {
            Body::Empty => req.call(),
            Body::Json(j) => req
                .set("Content-Type", "application/json")
                .send_string(&j.to_compact_json()),
            Body::Msgpack(b) => req.set("Content-Type", "application/msgpack").send_bytes(b),
            Body::Raw(b, ct) => req.set("Content-Type", ct).send_bytes(b),
        };
        interpret(&what, result, ok)
    }
}

/// Turns a ureq outcome into our JSON-or-failure form.
pub fn interpret(
    what: &str,
    result: std::result::Result<ureq::Response, ureq::Error>,
    ok: &[u16],
) -> std::result::Result<serde_json::Value, Failure> {
    let (status, response) = match result {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(ureq::Error::Transport(t)) => {
            use ureq::ErrorKind as K;
            let retryable = matches!(
                t.kind(),
                K::ConnectionFailed | K::Io | K::Dns | K::ProxyConnect
            );
            let kind = if retryable {
                ErrorKind::Network
            } else {
                ErrorKind::Config
            };
            // ureq's message names the URL and the cause, never the headers.
            return Err(Failure {
                error: Error::new(kind, format!("{what}: {t}")),
                retryable,
                status: None,
                body: None,
            });
        }
    };
    let mut text = String::new();
    let read = response
        .into_reader()
        .take(64 << 20)
        .read_to_string(&mut text);
    let json = if text.trim().is_empty() {
        Some(serde_json::Value::Null)
    } else {
        serde_json::from_str(&text).ok()
    };
    if ok.contains(&status) {
        if let Err(e) = read {
            return Err(Failure {
                error: Error::new(
                    ErrorKind::Network,
                    format!("{what}: reading the answer failed: {e}"),
                ),
                retryable: true,
                status: Some(status),
                body: None,
            });
        }
        return json.ok_or_else(|| Failure {
            error: Error::new(
                ErrorKind::Server,
                format!("{what}: the answer ({status}) is not JSON"),
            ),
            retryable: false,
            status: Some(status),
            body: None,
        });
    }
    let detail = json
        .as_ref()
        .and_then(|j| j.get("detail"))
        .map(|d| match d {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    // An overloaded or restarting server (502/503/504) is a network condition: retried, then
    // spilled.
    let retryable = matches!(status, 502..=504);
    let kind = match status {
        401 => ErrorKind::Auth,
        _ if retryable => ErrorKind::Network,
        _ => ErrorKind::Server,
    };
    Err(Failure {
        error: Error::new(
            kind,
            format!("{what} failed with status {status}: {detail}"),
        ),
        retryable,
        status: Some(status),
        body: json,
    })
}

/// Uploads to artifact storage: no token, the storage CA, a timeout of 10 s plus 1 s per MiB
/// (`artifact/base.py:35-36`).
pub struct Storage {
    agent: ureq::Agent,
}

impl Storage {
    /// A client for storage URLs.
    pub fn new(ca: Option<&Path>) -> Result<Storage> {
        Ok(Storage {
            // The per-request timeout below replaces this one.
            agent: agent(ca, Duration::from_secs(3600))?,
        })
    }

    /// Sends the artifact's bytes to `url`: a multipart POST with `fields` first and the file
    /// last when there are fields, a raw PUT otherwise. The content is streamed from disk.
    pub fn upload(
        &self,
        url: &str,
        fields: &[(String, String)],
        artifact: &crate::artifact::Artifact,
    ) -> std::result::Result<(), Failure> {
        let io_failure = |e: Error| Failure {
            error: e,
            retryable: false,
            status: None,
            body: None,
        };
        let content = artifact.open().map_err(io_failure)?;
        let timeout = Duration::from_secs(10 + artifact.size / (1 << 20));
        let what = "artifact upload";
        let result = if fields.is_empty() {
            self.agent
                .put(url)
                .timeout(timeout)
                .set("Content-Type", &artifact.mime_type)
                .set("Content-Length", &artifact.size.to_string())
                .send(content)
        } else {
            let boundary = format!(
                "simvue{:016x}{:016x}",
                crate::ids::random_u64(),
                crate::ids::random_u64()
            );
            let mut head = String::new();
            for (k, v) in fields {
                head.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                    k.replace('"', "%22")
                ));
            }
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\r\n",
                artifact.upload_filename().replace('"', "%22")
            ));
            let tail = format!("\r\n--{boundary}--\r\n");
            let length = head.len() as u64 + artifact.size + tail.len() as u64;
            let body = std::io::Cursor::new(head.into_bytes())
                .chain(content.take(artifact.size))
                .chain(std::io::Cursor::new(tail.into_bytes()));
            self.agent
                .post(url)
                .timeout(timeout)
                .set(
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )
                .set("Content-Length", &length.to_string())
                .send(body)
        };
        interpret(what, result, &[200, 201, 204])
            .map(|_| ())
            .or_else(|f| {
                // Storage answers need not be JSON.
                if f.status.is_some_and(|s| matches!(s, 200 | 201 | 204)) {
                    Ok(())
                } else {
                    Err(f)
                }
            })
    }
}
