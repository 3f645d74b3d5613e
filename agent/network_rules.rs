//! The agent's rules for the network, shared by every HTTP client it builds (the
//! tenant, downloads, self-update, telemetry, the doctor):
//!
//! - Plain `http://` goes only to a loopback host (`127.0.0.0/8`, `[::1]`,
//!   `localhost`): test tenants and local mirrors. Everything else is `https://`,
//!   TLS verified.
//! - Plain `http://` never goes through a proxy: it is sent straight to the
//!   loopback host. `https://` may go through `HTTPS_PROXY` (or `ALL_PROXY`), as
//!   a `CONNECT` tunnel, TLS still verified end to end, and honours `NO_PROXY`.
//!   `HTTP_PROXY` is never used: through it the bearer token and the blueprint's
//!   scripts would travel in clear to whatever host it names.
//! - A URL is shown in messages and logs without its user name, password, query
//!   or fragment, where credentials hide ([`redacted`], [`redacted_text`]).
//! - The tenant URL carries no user-info, query or fragment at all: the token is
//!   the only credential, and it travels in a header ([`check_tenant_url`]).

use reqwest::{ClientBuilder, NoProxy, Proxy, Url};

/// The variables an `https://` proxy is read from, first set wins (curl's order).
const HTTPS_PROXY_VARIABLES: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/// The variables the proxy exceptions are read from, first set wins.
const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// Why a tenant URL is refused. Each message shows the URL redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TenantUrlProblem {
    /// Not an `http(s)://` URL with a host.
    #[error("expected an http:// or https:// URL with a host, found {found:?}")]
    NotAUrl { found: String },
    /// `http://` to a host that is not loopback.
    #[error(
        "plain http:// is only allowed to a loopback host (127.0.0.1, [::1], localhost); use https://, found {found:?}"
    )]
    PlainHttp { found: String },
    /// `user:password@` in the URL.
    #[error("a tenant URL carries no user name or password (the token is the credential), found {found:?}")]
    UserInfo { found: String },
    /// A `?query` or `#fragment` in the URL.
    #[error("a tenant URL carries no query string or fragment (the base URL only), found {found:?}")]
    QueryOrFragment { found: String },
}

/// Whether the agent may send a request to `url`: `https://` to any host,
/// `http://` to a loopback host only.
pub(crate) fn is_allowed_http(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => !host.is_empty(),
        "http" => is_loopback_host(host),
        _ => false,
    }
}

/// `localhost`, or an address in `127.0.0.0/8` or `::1` (brackets allowed).
fn is_loopback_host(host: &str) -> bool {
    let address = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || address.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// Checks a tenant base URL: `https://` (or loopback `http://`) with a host, and
/// no user-info, query or fragment.
pub(crate) fn check_tenant_url(text: &str) -> Result<Url, TenantUrlProblem> {
    let text = text.trim();
    let found = redacted_text(text);
    let url = Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|host| !host.is_empty()))
        .ok_or_else(|| TenantUrlProblem::NotAUrl { found: found.clone() })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TenantUrlProblem::UserInfo { found });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(TenantUrlProblem::QueryOrFragment { found });
    }
    if !is_allowed_http(&url) {
        return Err(TenantUrlProblem::PlainHttp { found });
    }
    Ok(url)
}

/// `url` as messages and logs show it: scheme, host, port and path, never the
/// user-info, query or fragment (signed links and misplaced tokens live there).
pub(crate) fn redacted(url: &Url) -> String {
    let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
    format!("{}://{}{port}{}", url.scheme(), url.host_str().unwrap_or_default(), url.path())
}

/// Text that should be a URL, as messages show it (as written, even when it does
/// not parse): everything from the first `?` or `#` is dropped, and so is
/// anything up to the last `@` before the path.
pub(crate) fn redacted_text(text: &str) -> String {
    let without_query = text.split(['?', '#']).next().unwrap_or_default();
    let (scheme, rest) = match without_query.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), without_query),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}{host}{path}")
}

/// A client builder with the agent's proxy rule: no proxy for plain `http://`,
/// the `HTTPS_PROXY`/`ALL_PROXY` proxy (with `NO_PROXY`'s exceptions) for
/// `https://`. Every HTTP client the agent builds starts here.
pub(crate) fn client_builder() -> ClientBuilder {
    let builder = reqwest::Client::builder().no_proxy();
    match https_proxy(&|name| std::env::var(name).ok()) {
        Some(proxy) => builder.proxy(proxy),
        None => builder,
    }
}

/// The proxy for `https://` requests the environment (`variable`) names, if any.
/// A value that is not a URL is ignored with a warning naming the variable (never
/// its value, which may hold the proxy's password).
fn https_proxy(variable: &dyn Fn(&str) -> Option<String>) -> Option<Proxy> {
    let set = |name: &&'static str| variable(name).filter(|value| !value.trim().is_empty()).map(|value| (*name, value));
    let (name, value) = HTTPS_PROXY_VARIABLES.iter().find_map(set)?;
    let exceptions = NO_PROXY_VARIABLES.iter().find_map(set).and_then(|(_, value)| NoProxy::from_string(&value));
    match Proxy::https(value.trim()) {
        Ok(proxy) => Some(proxy.no_proxy(exceptions)),
        Err(_) => {
            tracing::warn!(variable = name, "The proxy variable is not a URL; https requests go direct.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_goes_to_loopback_only() {
        let cases = [
            ("https://tenant.example.com", true),
            ("http://127.0.0.1:8080/", true),
            ("http://127.10.20.30/", true),
            ("http://[::1]:9000/", true),
            ("http://LocalHost/", true),
            ("http://example.com/", false),
            ("http://10.0.0.1/", false),
            ("http://[::2]/", false),
            ("http://127.0.0.1.example.com/", false),
            ("ftp://127.0.0.1/", false),
            ("file:///tmp/a", false),
        ];
        for (text, allowed) in cases {
            assert_eq!(is_allowed_http(&Url::parse(text).unwrap()), allowed, "{text}");
        }
    }

    #[test]
    fn tenant_urls_are_base_urls_without_credentials() {
        let cases = [
            ("https://tenant.example.com", Ok(())),
            (" http://127.0.0.1:8080/base ", Ok(())),
            ("http://localhost:9/", Ok(())),
            (
                "http://example.com",
                Err(
                    r#"plain http:// is only allowed to a loopback host (127.0.0.1, [::1], localhost); use https://, found "http://example.com""#,
                ),
            ),
            (
                "https://t.example.com/?token=secret",
                Err(
                    r#"a tenant URL carries no query string or fragment (the base URL only), found "https://t.example.com/""#,
                ),
            ),
            (
                "https://t.example.com/#secret",
                Err(
                    r#"a tenant URL carries no query string or fragment (the base URL only), found "https://t.example.com/""#,
                ),
            ),
            (
                "https://user:secret@t.example.com",
                Err(
                    r#"a tenant URL carries no user name or password (the token is the credential), found "https://t.example.com""#,
                ),
            ),
            (
                "ftp://t.example.com",
                Err(r#"expected an http:// or https:// URL with a host, found "ftp://t.example.com""#),
            ),
            ("t.example.com", Err(r#"expected an http:// or https:// URL with a host, found "t.example.com""#)),
        ];
        for (text, expected) in cases {
            let checked = check_tenant_url(text).map(drop).map_err(|problem| problem.to_string());
            assert_eq!(checked, expected.map_err(str::to_string), "{text}");
        }
    }

    #[test]
    fn redaction_keeps_no_credentials() {
        let cases = [
            ("https://user:pw@host.example:8443/a/b?sig=1#frag", "https://host.example:8443/a/b"),
            ("http://[::1]:9000/x", "http://[::1]:9000/x"),
            ("https://us er:pw@host/p?q", "https://host/p"),
            ("user:pw@host/p?token=1", "host/p"),
            ("not a url", "not a url"),
        ];
        for (text, expected) in cases {
            assert_eq!(redacted_text(text), expected, "{text}");
        }
    }

    #[test]
    fn only_the_https_proxy_variables_are_read() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
        };
        assert!(https_proxy(&lookup(&[("HTTP_PROXY", "http://127.0.0.1:1"), ("http_proxy", "http://p:1")])).is_none());
        assert!(https_proxy(&lookup(&[("HTTPS_PROXY", "http://127.0.0.1:1")])).is_some());
        assert!(https_proxy(&lookup(&[("all_proxy", "http://127.0.0.1:1")])).is_some());
        assert!(https_proxy(&lookup(&[("HTTPS_PROXY", "")])).is_none());
        assert!(https_proxy(&lookup(&[("HTTPS_PROXY", "::not a url::")])).is_none());
    }
}
