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
use crate::error::{Error, ErrorKind, Outcome, Result};
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

impl<'a> Body<'a> {
    /// Borrows the body again for another attempt.
    pub fn reborrow(&self) -> Body<'_> {
        match self {
            Body::Empty => Body::Empty,
            Body::Json(j) => Body::Json(j),
            Body::Msgpack(b) => Body::Msgpack(b),
            Body::Raw(b, ct) => Body::Raw(b, ct),
        }
    }
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

impl crate::retry::Retryable for Failure {
    fn retryable(&self) -> bool {
        self.retryable
    }
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

/// The Mozilla roots plus the certificates of the site CA file, and those certificates alone
/// (for [`SiteVerifier`]).
fn load_roots(
    ca: Option<&Path>,
) -> Result<(
    rustls::RootCertStore,
    Vec<rustls_pki_types::CertificateDer<'static>>,
)> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut site = Vec::new();
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
            site.push(cert.clone());
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
    Ok((roots, site))
}

/// Server certificate verification: webpki against the roots, and one exception that Python's
/// ssl makes too: a server whose certificate is byte for byte one of the configured site
/// certificates is trusted, when it is valid for the server's name. A self-signed certificate
/// made with `openssl req -x509` is marked CA:TRUE, which webpki refuses as a server's own
/// (`CaUsedAsEndEntity`); OpenSSL accepts it as a trust anchor that is also the leaf. Every
/// other certificate is verified exactly as before, and the handshake signatures always are.
#[derive(Debug)]
struct SiteVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    site: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for SiteVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(e) if self.site.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name).map_err(|_| e)?;
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            v => v,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
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

/// A client certificate for mutual TLS (`[server.certificates] client_cert`, `client_key`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// PEM file of the certificate (and its chain), which may hold the key too.
    pub cert: &'a Path,
    /// The key: a PEM file, or the PEM text; `None`: the key in `cert`.
    pub key: Option<&'a Token>,
}

/// The certificate chain and the key of a client identity. Messages name the files, never the
/// key's text.
fn load_identity(
    id: ClientIdentity<'_>,
) -> Result<(
    Vec<rustls_pki_types::CertificateDer<'static>>,
    rustls_pki_types::PrivateKeyDer<'static>,
)> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: String| Error::new(ErrorKind::Config, what);
    let chain = CertificateDer::pem_file_iter(id.cert)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            bad(format!(
                "cannot read the client certificate {}: {e}",
                id.cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(bad(format!(
            "the client certificate {} holds no PEM certificate",
            id.cert.display()
        )));
    }
    let key = match id.key {
        Some(k) if k.expose().trim_start().starts_with("-----BEGIN") => {
            PrivateKeyDer::from_pem_slice(k.expose().as_bytes()).map_err(|_| {
                bad("[server.certificates] client_key holds no PEM private key".into())
            })?
        }
        Some(k) => PrivateKeyDer::from_pem_file(k.expose()).map_err(|e| {
            bad(format!(
                "cannot read a PEM private key from the client_key file {}: {e}",
                k.expose()
            ))
        })?,
        None => PrivateKeyDer::from_pem_file(id.cert).map_err(|_| {
            bad(format!(
                "the client certificate {} holds no private key, and no client_key is given",
                id.cert.display()
            ))
        })?,
    };
    Ok((chain, key))
}

/// The TLS configuration: the Mozilla roots plus the site CA, if any, a site certificate
/// accepted as the server's own ([`SiteVerifier`]), and the client certificate, if any.
pub fn tls_config(
    ca: Option<&Path>,
    client: Option<ClientIdentity<'_>>,
) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Config, format!("TLS set-up failed: {e}"))
    };
    let (roots, site) = load_roots(ca)?;
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| setup(&e))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SiteVerifier { webpki, site }));
    let tls = match client {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let (chain, key) = load_identity(id)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("the client certificate and key do not go together: {e}"),
                )
            })?
        }
    };
    Ok(Arc::new(tls))
}

/// Whether `host` (and `port`) is excluded from proxying by a `NO_PROXY` list, as Python's
/// requests reads it: comma-separated host names (a name also covers its subdomains, a leading
/// dot is optional), IP addresses or IPv4 networks in CIDR form, optional `:port`, or `*`.
fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((n, p)) if !n.contains(':') => (n, p.parse::<u16>().ok()),
                _ => (entry, None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            if let (Some((net, bits)), Ok(ip)) =
                (name.split_once('/'), host.parse::<std::net::Ipv4Addr>())
            {
                return match (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) {
                    (Ok(net), Ok(bits)) if bits <= 32 => {
                        let mask = if bits == 0 {
                            0
                        } else {
                            u32::MAX << (32 - bits)
                        };
                        u32::from(ip) & mask == u32::from(net) & mask
                    }
                    _ => false,
                };
            }
            let name = name.trim_start_matches('.').to_ascii_lowercase();
            host == name || host.ends_with(&format!(".{name}"))
        })
}

/// The proxy for `url`, as Python's requests picks it from the environment: `<scheme>_proxy`
/// (lowercase first), else `all_proxy`, unless `no_proxy` excludes the host.
pub fn proxy_for(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse().unwrap_or(0)),
        _ => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    let get = |name: &str| {
        env(&name.to_ascii_lowercase())
            .or_else(|| env(&name.to_ascii_uppercase()))
            .filter(|v| !v.trim().is_empty())
    };
    if get("no_proxy").is_some_and(|list| no_proxy_matches(&list, host, port)) {
        return None;
    }
    get(&format!("{scheme}_proxy")).or_else(|| get("all_proxy"))
}

/// Builds an agent for requests to `url`: our TLS configuration, the proxy the environment
/// names for it, a timeout and our user agent.
pub fn agent_for(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<ureq::Agent> {
    let mut builder = ureq::AgentBuilder::new()
        .tls_config(tls)
        .try_proxy_from_env(false)
        .timeout(timeout)
        .user_agent(&format!(
            "libsimvue/{} (Simvue C/Fortran client)",
            crate::VERSION
        ));
    if let Some(p) = proxy_for(url, &|k| std::env::var(k).ok()) {
        let proxy = ureq::Proxy::new(&p).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("unusable proxy setting {p:?}: {e}"),
            )
        })?;
        builder = builder.proxy(proxy);
    }
    Ok(builder.build())
}

impl Http {
    /// A client for the server at `base` (ending in `/api`) with `token`.
    pub fn new(
        base: &str,
        token: &Token,
        ca: Option<&Path>,
        client: Option<ClientIdentity<'_>>,
        timeout: Duration,
    ) -> Result<Http> {
        Ok(Http {
            agent: agent_for(base, tls_config(ca, client)?, timeout)?,
            base: base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {}", token.expose()),
        })
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request to `<base><path>` (`path` starts with `/`), expecting one of `ok`, given at
    /// most `cap` (the time left to a deadline) when that is shorter than the agent's timeout.
    /// Returns the parsed JSON body (`Null` when empty).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        ok: &[u16],
        cap: Option<Duration>,
    ) -> std::result::Result<serde_json::Value, Failure> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.agent.request(method, &url);
        if let Some(cap) = cap {
            req = req.timeout(cap.max(Duration::from_millis(1)));
        }
        let req = req
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

/// `text` with the password of every `scheme://user:password@host` URL in it replaced by `***`,
/// so that a password written into `SIMVUE_URL` never reaches a message.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Whether a transport failure was a timeout (somewhere in its chain of causes).
fn timed_out(t: &ureq::Transport) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(t);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return true;
            }
        }
        cause = c.source();
    }
    false
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
            let mut error = Error::new(kind, redact(&format!("{what}: {t}")));
            // Only an I/O failure can come after the request went out (a timeout or a reset
            // while waiting for the answer); the others happen before anything is sent.
            if t.kind() == K::Io {
                error = error.with_outcome(if timed_out(&t) {
                    Outcome::Pending
                } else {
                    Outcome::Unknown
                });
            }
            return Err(Failure {
                error,
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
                )
                .with_outcome(Outcome::Unknown),
                retryable: true,
                status: Some(status),
                body: None,
            });
        }
        // A success that is not JSON (a proxy's error page, a captive portal) did not come
        // from the API: the server was not reached, so it is retried and then spilled like
        // any network failure, never taken as a final refusal.
        return json.ok_or_else(|| Failure {
            error: Error::new(
                ErrorKind::Network,
                format!("{what}: the answer ({status}) is not JSON, so not from the Simvue API"),
            ),
            retryable: true,
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
    let mut error = Error::new(
        kind,
        format!("{what} failed with status {status}: {detail}"),
    );
    // A proxy's 502 (the server's answer was bad or cut) or 504 (it did not answer in time,
    // and may still be working) says nothing of whether the server stored the request; a 503
    // refuses it.
    match status {
        502 => error = error.with_outcome(Outcome::Unknown),
        504 => error = error.with_outcome(Outcome::Pending),
        _ => {}
    }
    Err(Failure {
        error,
        retryable,
        status: Some(status),
        body: json,
    })
}

/// Uploads to artifact storage: no token, the storage CA, a timeout of 10 s plus 1 s per MiB
/// (`artifact/base.py:35-36`).
pub struct Storage {
    tls: Arc<rustls::ClientConfig>,
}

impl Storage {
    /// A client for storage URLs.
    pub fn new(ca: Option<&Path>) -> Result<Storage> {
        Ok(Storage {
            tls: tls_config(ca, None)?,
        })
    }

    /// Sends the artifact's bytes to `url`: a multipart POST with `fields` first and the file
    /// last when there are fields, a raw PUT otherwise. The content is streamed from disk.
    pub fn upload(
        &self,
        url: &str,
        fields: &[(String, String)],
        artifact: &crate::artifact::Artifact,
        cap: Option<Duration>,
    ) -> std::result::Result<(), Failure> {
        let io_failure = |e: Error| Failure {
            error: e,
            retryable: false,
            status: None,
            body: None,
        };
        // The storage host may need another proxy than the API: an agent per upload (the
        // timeout below is per request).
        let agent =
            agent_for(url, self.tls.clone(), Duration::from_secs(3600)).map_err(io_failure)?;
        let content = artifact.open().map_err(io_failure)?;
        let timeout = Duration::from_secs(10 + artifact.size / (1 << 20))
            .min(cap.unwrap_or(Duration::MAX))
            .max(Duration::from_millis(1));
        let what = "artifact upload";
        let result = if fields.is_empty() {
            agent
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
            agent
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(url: &str, vars: &[(&str, &str)]) -> Option<String> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        proxy_for(url, &|k| env.get(k).cloned())
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact("GET /version: http://alice:s3cret@127.0.0.1:9/api/version: refused"),
            "GET /version: http://alice:***@127.0.0.1:9/api/version: refused"
        );
        assert_eq!(
            redact("proxy https://u:p@w@proxy:3128 and http://host/a@b"),
            "proxy https://u:***@proxy:3128 and http://host/a@b"
        );
        let plain = "http://alice@host:8080/api and http://127.0.0.1:9";
        assert_eq!(redact(plain), plain);
    }

    #[test]
    fn proxies_are_chosen_as_python_requests_chooses_them() {
        let p = "http://proxy.site:3128";
        assert_eq!(
            pick("https://simvue.example.org/api", &[("HTTPS_PROXY", p)]).as_deref(),
            Some(p)
        );
        assert_eq!(
            pick(
                "https://simvue.example.org/api",
                &[("https_proxy", p), ("HTTPS_PROXY", "x")]
            )
            .as_deref(),
            Some(p)
        );
        // A scheme's own proxy only: an http URL does not take HTTPS_PROXY.
        assert_eq!(
            pick("http://simvue.example.org/api", &[("HTTPS_PROXY", p)]),
            None
        );
        assert_eq!(
            pick("http://simvue.example.org/api", &[("ALL_PROXY", p)]).as_deref(),
            Some(p)
        );
        for no in [
            "simvue.example.org",
            ".example.org",
            "example.org",
            "*",
            "10.0.0.0/8,example.org",
            "simvue.example.org:443",
        ] {
            assert_eq!(
                pick(
                    "https://simvue.example.org/api",
                    &[("HTTPS_PROXY", p), ("NO_PROXY", no)]
                ),
                None,
                "{no}"
            );
        }
        for no in ["other.org", "simvue.example.org:8443", "ample.org"] {
            assert!(
                pick(
                    "https://simvue.example.org/api",
                    &[("HTTPS_PROXY", p), ("no_proxy", no)]
                )
                .is_some(),
                "{no}"
            );
        }
        assert_eq!(
            pick(
                "http://10.1.2.3:8080/api",
                &[("HTTP_PROXY", p), ("NO_PROXY", "10.0.0.0/8")]
            ),
            None
        );
        assert!(pick(
            "http://11.1.2.3:8080/api",
            &[("HTTP_PROXY", p), ("NO_PROXY", "10.0.0.0/8")]
        )
        .is_some());
        assert_eq!(
            pick(
                "http://127.0.0.1:9/api",
                &[("HTTP_PROXY", p), ("NO_PROXY", "127.0.0.1")]
            ),
            None
        );
    }
}
