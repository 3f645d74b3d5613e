//! Who may use the page: the browser that opened the one-time link, and only
//! through `127.0.0.1:PORT`.
//!
//! Any local user can connect to a port on 127.0.0.1, so a connection proves
//! nothing. The URL the person opens carries a one-time secret (32 random bytes);
//! the first request that shows it gets the session cookie (another 32 random
//! bytes, `HttpOnly`, `SameSite=Strict`) and the secret is spent. Every other
//! request must carry that cookie. Every request must name `127.0.0.1:PORT` as
//! its `Host` (a web page on a name rebound to 127.0.0.1 names its own host), and
//! every `POST` must come from `Origin: http://127.0.0.1:PORT` (another site's
//! form or script names its own origin). Secrets are compared in constant time.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// The cookie that carries the session token.
pub(crate) const COOKIE_NAME: &str = "self_service";

/// How many random bytes the secret and the session token each hold.
const RANDOM_BYTES: usize = 32;

/// Why a request was turned away; logged with its path, never with a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Host` is not `127.0.0.1:PORT` (DNS rebinding, or another name).
    WrongHost,
    /// A `POST` whose `Origin` is missing or not `http://127.0.0.1:PORT`.
    WrongOrigin,
    /// No session cookie, or not this server's.
    NoSession,
    /// `/open` with a secret that is wrong or already spent.
    SecretSpent,
}

impl Refusal {
    /// Why, for the log.
    pub(crate) fn why(self) -> &'static str {
        match self {
            Refusal::WrongHost => "the Host header is not this server's address",
            Refusal::WrongOrigin => "the Origin header is not this server's page",
            Refusal::NoSession => "the request carries no valid session cookie",
            Refusal::SecretSpent => "the one-time secret is wrong or already used",
        }
    }
}

/// The server's address, its one-time secret and its session token.
pub(crate) struct Access {
    /// `127.0.0.1:PORT`, what `Host` must say.
    authority: String,
    /// `http://127.0.0.1:PORT`, what `Origin` must say.
    origin: String,
    /// The secret in the URL the person opens.
    secret: String,
    /// Whether the secret was exchanged for the cookie.
    spent: AtomicBool,
    /// The session token the cookie carries.
    session: String,
}

impl Access {
    /// A fresh secret and session token for the server on `port`.
    pub(crate) fn new(port: u16) -> Result<Self, getrandom::Error> {
        let authority = format!("127.0.0.1:{port}");
        Ok(Self {
            origin: format!("http://{authority}"),
            authority,
            secret: random_text()?,
            spent: AtomicBool::new(false),
            session: random_text()?,
        })
    }

    /// The URL that opens the page: it exchanges the secret for the cookie.
    pub(crate) fn open_url(&self) -> String {
        format!("{}/open?secret={}", self.origin, self.secret)
    }

    /// `Set-Cookie` for the session.
    pub(crate) fn session_cookie(&self) -> String {
        format!("{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/", self.session)
    }

    /// Whether `host` (the `Host` header) names this server.
    pub(crate) fn check_host(&self, host: Option<&[u8]>) -> Result<(), Refusal> {
        if host == Some(self.authority.as_bytes()) { Ok(()) } else { Err(Refusal::WrongHost) }
    }

    /// Whether `origin` (a `POST`'s `Origin` header) is this server's page.
    pub(crate) fn check_origin(&self, origin: Option<&[u8]>) -> Result<(), Refusal> {
        if origin == Some(self.origin.as_bytes()) { Ok(()) } else { Err(Refusal::WrongOrigin) }
    }

    /// Whether one of the `Cookie` headers carries this server's session token.
    pub(crate) fn check_session<'a>(&self, cookies: impl IntoIterator<Item = &'a [u8]>) -> Result<(), Refusal> {
        let carried = cookies
            .into_iter()
            .flat_map(|header| header.split(|byte| *byte == b';'))
            .filter_map(|pair| {
                let pair = pair.trim_ascii();
                let equals = pair.iter().position(|byte| *byte == b'=')?;
                (&pair[..equals] == COOKIE_NAME.as_bytes()).then(|| &pair[equals + 1..])
            })
            .any(|token| bool::from(token.ct_eq(self.session.as_bytes())));
        if carried { Ok(()) } else { Err(Refusal::NoSession) }
    }

    /// Spends the secret when `query` (of `/open?…`) carries it and it was not
    /// spent yet: the caller then sets the cookie.
    pub(crate) fn spend_secret(&self, query: Option<&str>) -> Result<(), Refusal> {
        let offered =
            query.unwrap_or_default().split('&').find_map(|pair| pair.strip_prefix("secret=")).unwrap_or_default();
        let matches = bool::from(offered.as_bytes().ct_eq(self.secret.as_bytes()));
        if matches && !self.spent.swap(true, Ordering::SeqCst) { Ok(()) } else { Err(Refusal::SecretSpent) }
    }
}

/// 32 bytes from the operating system's random source, in URL-safe base64.
fn random_text() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access::new(4321).unwrap()
    }

    #[test]
    fn the_secret_opens_the_page_once() {
        let access = access();
        let url = access.open_url();
        let query = url.strip_prefix("http://127.0.0.1:4321/open?").unwrap();
        assert_eq!(access.spend_secret(Some("secret=wrong")), Err(Refusal::SecretSpent));
        assert_eq!(access.spend_secret(None), Err(Refusal::SecretSpent));
        assert_eq!(access.spend_secret(Some(query)), Ok(()), "{query}");
        assert_eq!(access.spend_secret(Some(query)), Err(Refusal::SecretSpent), "spent");
    }

    #[test]
    fn secrets_are_fresh_random_and_url_safe() {
        let (first, second) = (access(), access());
        assert_ne!(first.secret, second.secret);
        assert_ne!(first.secret, first.session);
        assert_eq!(first.secret.len(), 43, "32 bytes in base64 without padding");
        assert!(first.secret.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte)));
    }

    #[test]
    fn only_this_servers_cookie_is_a_session() {
        let access = access();
        let cookie = access.session_cookie();
        assert!(cookie.ends_with("; HttpOnly; SameSite=Strict; Path=/"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_string();
        let with_others = format!("theme=dark; {pair}; other=1");
        let cases: [(&[&str], bool); 7] = [
            (&[&pair], true),
            (&[&with_others], true),
            (&["theme=dark", &pair], true),
            (&[], false),
            (&["self_service="], false),
            (&["self_service=wrong"], false),
            (&[&format!("x{pair}")], false),
        ];
        for (headers, allowed) in cases {
            let result = access.check_session(headers.iter().map(|header| header.as_bytes()));
            assert_eq!(result.is_ok(), allowed, "{headers:?}");
        }
    }

    #[test]
    fn host_and_origin_must_name_this_server_exactly() {
        let access = access();
        let host = |value: Option<&str>| access.check_host(value.map(str::as_bytes)).is_ok();
        let origin = |value: Option<&str>| access.check_origin(value.map(str::as_bytes)).is_ok();
        let cases = [
            (host(Some("127.0.0.1:4321")), true),
            (host(Some("localhost:4321")), false),
            (host(Some("evil.example:4321")), false),
            (host(Some("127.0.0.1")), false),
            (host(None), false),
            (origin(Some("http://127.0.0.1:4321")), true),
            (origin(Some("http://127.0.0.1:4322")), false),
            (origin(Some("https://127.0.0.1:4321")), false),
            (origin(Some("null")), false),
            (origin(None), false),
        ];
        for (case, (allowed, expected)) in cases.into_iter().enumerate() {
            assert_eq!(allowed, expected, "case {case}");
        }
    }
}
