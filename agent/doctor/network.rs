//! Timed TCP connects, and the Apple push check built on them.
//!
//! A connect resolves the host and tries its addresses in turn, all within one
//! limit; what is measured is the whole of it, resolution included, since that is
//! what a device waits for. Times are the connects' own: the push ports are
//! timed from when the name was resolved.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::check::Finding;
use crate::config::duration_text;
use crate::render::duration_ms;

/// How one connect went, and how long it took.
pub(crate) struct Attempt {
    /// The address that answered, or why none did.
    pub(crate) outcome: Result<SocketAddr, String>,
    /// From the start of resolution to the answer, the error or the limit.
    pub(crate) elapsed: Duration,
}

impl Attempt {
    /// `connected in 12ms`, or `failed after 1ms: <why>`.
    pub(crate) fn describe(&self) -> String {
        let took = duration_ms(u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX));
        match &self.outcome {
            Ok(_) => format!("connected in {took}"),
            Err(reason) => format!("failed after {took}: {reason}"),
        }
    }
}

/// Opens (and closes) a TCP connection to `host`:`port` within `limit`,
/// resolution included.
pub(crate) async fn connect(host: &str, port: u16, limit: Duration) -> Attempt {
    let started = Instant::now();
    let outcome = match resolve(host, limit).await {
        Ok(addresses) => connect_to(&addresses, port, limit.saturating_sub(started.elapsed())).await.outcome,
        Err(reason) => Err(reason),
    };
    Attempt { outcome, elapsed: started.elapsed() }
}

/// The addresses of `host`, within `limit`.
async fn resolve(host: &str, limit: Duration) -> Result<Vec<IpAddr>, String> {
    match tokio::time::timeout(limit, tokio::net::lookup_host((host, 0))).await {
        Ok(Ok(addresses)) => Ok(addresses.map(|address| address.ip()).collect()),
        Ok(Err(error)) => Err(format!("cannot resolve {host}: {error}")),
        Err(_) => Err(format!("cannot resolve {host} within {}", duration_text(limit))),
    }
}

/// Tries `addresses` on `port` in turn until one accepts, all within `limit`.
async fn connect_to(addresses: &[IpAddr], port: u16, limit: Duration) -> Attempt {
    let started = Instant::now();
    let attempts = async {
        let mut failures = Vec::new();
        for address in addresses {
            let address = SocketAddr::new(*address, port);
            match TcpStream::connect(address).await {
                Ok(_stream) => return Ok(address),
                Err(error) => failures.push((address, error)),
            }
        }
        match failures.as_slice() {
            [] => Err("the name resolves to no address".to_string()),
            [(_, error)] => Err(error.to_string()),
            [.., (address, error)] => Err(format!("{error} ({} addresses tried, the last {address})", failures.len())),
        }
    };
    let outcome = match tokio::time::timeout(limit, attempts).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {}", duration_text(limit))),
    };
    Attempt { outcome, elapsed: started.elapsed() }
}

/// Apple's push service is reachable on every port of `ports` at `host`: pass
/// when all answer, warn when only some do (push falls back from one to the
/// other), fail when none does or the name does not resolve. The host is
/// resolved once, then every port is tried at once.
pub(crate) async fn apple_push(host: &str, ports: &[u16], limit: Duration) -> Finding {
    let list = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" and ");
    let fix = |ports: &[u16]| {
        format!(
            "Allow outgoing TCP {} to {host} and *.push.apple.com (Apple's 17.0.0.0/8), with no proxy or TLS inspection in the way: a Mac hears from its MDM only through a direct connection to Apple's push service.",
            list(ports)
        )
    };
    let started = Instant::now();
    let addresses = match resolve(host, limit).await {
        Ok(addresses) => addresses,
        Err(reason) => {
            let took = duration_ms(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            return Finding::fail(format!("{reason} (after {took})"), fix(ports));
        }
    };
    let remaining = limit.saturating_sub(started.elapsed());
    let attempts: Vec<_> = ports
        .iter()
        .map(|port| {
            let (addresses, port) = (addresses.clone(), *port);
            tokio::spawn(async move { (port, connect_to(&addresses, port, remaining).await) })
        })
        .collect();
    let (mut reached, mut unreached, mut parts) = (Vec::new(), Vec::new(), Vec::new());
    for attempt in attempts {
        let Ok((port, attempt)) = attempt.await else { continue };
        parts.push(format!("{port} {}", attempt.describe()));
        if attempt.outcome.is_ok() { reached.push(port) } else { unreached.push(port) }
    }
    let resolved = match addresses.first() {
        Some(address) if address.to_string() != host => format!(" ({address})"),
        _ => String::new(),
    };
    let value = format!("{host}{resolved}: {}", parts.join("; "));
    match (reached.is_empty(), unreached.is_empty()) {
        (_, true) => Finding::pass(value),
        (true, false) => Finding::fail(value, fix(&unreached)),
        (false, false) => Finding::warn(value, fix(&unreached)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::check::Verdict;

    #[tokio::test]
    async fn push_passes_when_every_port_answers_warns_on_some_and_fails_on_none() {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open_port = open.local_addr().unwrap().port();
        let closed_port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let limit = Duration::from_secs(5);
        let cases = [
            (vec![open_port], Verdict::Pass),
            (vec![open_port, closed_port], Verdict::Warn),
            (vec![closed_port], Verdict::Fail),
        ];
        for (ports, expected) in cases {
            let finding = apple_push("127.0.0.1", &ports, limit).await;
            assert_eq!(finding.verdict, expected, "{ports:?}: {}", finding.value);
            assert!(finding.value.starts_with("127.0.0.1: "), "{}", finding.value);
        }
        let finding = apple_push("127.0.0.1", &[closed_port], limit).await;
        assert!(finding.value.contains("failed after"), "{}", finding.value);
        assert!(finding.fix.unwrap().contains(&closed_port.to_string()));
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_says_so() {
        let attempt = connect("no-such-host.invalid", 443, Duration::from_secs(5)).await;
        let reason = attempt.outcome.unwrap_err();
        assert!(
            reason.starts_with("cannot resolve no-such-host.invalid") || reason.starts_with("no answer"),
            "{reason}"
        );
    }
}
