//! `[http]`: how long a client may take to send a request and how many connections may be
//! open at once, so slow or idle clients cannot hold the server's file descriptors.
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Default `http.header_read_timeout`. Alertmanager, Prometheus and browsers send a request
/// head (a few hundred bytes) in one packet; 10 s is generous on any real link, and a client
/// trickling headers must reconnect every 10 s to keep a connection.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default `http.body_timeout`. The largest bodies (a 1 MiB webhook notification) arrive in
/// well under a second; a body with nothing new for 30 s is a stalled or hostile client
/// (nginx's `client_body_timeout` has the same meaning, with 60 s).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// File descriptors selfheal needs beside its client connections: SQLite (database, WAL and
/// shared memory per pooled connection, the inbox writer's own), `ansible-playbook`'s pipes,
/// the outgoing HTTP clients (Prometheus, Alertmanager), the log and the listener: 29 in the
/// demo stack when idle, a few more per running playbook. Eight times that is ample.
const FD_RESERVE: u32 = 256;

/// Default `http.max_connections`: what the usual soft `RLIMIT_NOFILE` of 1,024 leaves once
/// [`FD_RESERVE`] is set aside, so connections alone can never make `accept` or SQLite fail
/// with "too many open files".
const MAX_CONNECTIONS: u32 = 1024 - FD_RESERVE;

/// Shortest timeout accepted: less cuts off honest clients on a busy or distant link.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Fewest connections accepted: a browser alone opens six per host, and Alertmanager and
/// Prometheus must still get through beside it.
const MIN_CONNECTIONS: u32 = 16;

/// `[http]`: limits on what one client may hold.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A connection must send a complete request head within this long of being ready for
    /// one (just opened, or done with its previous response), else it is closed. So this is
    /// also how long an idle keep-alive connection stays open.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A request body that sends nothing new for this long is cut off (the request fails).
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the kernel's accept queue until one closes.
    pub max_connections: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl HttpConfig {
    /// `[http]`: timeouts an honest client can meet, room for more than one client.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.header_read_timeout < MIN_TIMEOUT {
            return invalid("http.header_read_timeout", "must be at least 1s".into());
        }
        if self.body_timeout < MIN_TIMEOUT {
            return invalid("http.body_timeout", "must be at least 1s".into());
        }
        if self.max_connections < MIN_CONNECTIONS {
            return invalid("http.max_connections", format!("must be at least {MIN_CONNECTIONS}"));
        }
        Ok(())
    }

    /// Open files the process needs at most: every connection plus [`FD_RESERVE`].
    pub fn files_needed(&self) -> u64 {
        u64::from(self.max_connections) + u64::from(FD_RESERVE)
    }

    /// One line for `check-config`.
    pub(super) fn summary(&self) -> String {
        let d = humantime_serde::re::humantime::format_duration;
        format!(
            "http = header_read_timeout {} (also keep-alive idle), body_timeout {}, max_connections {}\n",
            d(self.header_read_timeout),
            d(self.body_timeout),
            self.max_connections,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_an_honest_client_cannot_meet_are_refused_naming_the_key() {
        let cases = [
            (
                "header read timeout under 1s",
                HttpConfig { header_read_timeout: Duration::from_millis(500), ..HttpConfig::default() },
                Some("http.header_read_timeout"),
            ),
            (
                "body timeout under 1s",
                HttpConfig { body_timeout: Duration::ZERO, ..HttpConfig::default() },
                Some("http.body_timeout"),
            ),
            (
                "too few connections",
                HttpConfig { max_connections: 15, ..HttpConfig::default() },
                Some("http.max_connections"),
            ),
            ("the defaults", HttpConfig::default(), None),
            (
                "the shortest accepted",
                HttpConfig {
                    header_read_timeout: MIN_TIMEOUT,
                    body_timeout: MIN_TIMEOUT,
                    max_connections: MIN_CONNECTIONS,
                },
                None,
            ),
        ];
        for (name, config, refused) in cases {
            let got = match config.validate() {
                Ok(()) => None,
                Err(ConfigError::Invalid { key, .. }) => Some(key),
                Err(e) => panic!("{name}: unexpected error {e}"),
            };
            assert_eq!(got, refused, "{name}");
        }
    }
}
