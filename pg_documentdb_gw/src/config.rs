//! Gateway settings: the same knobs as the `documentdb_gateway.*` GUCs of the host extension,
//! and the standalone binary's flags.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connections only.
    Disabled,
    /// Plain and TLS on the same port (default).
    Allow,
    /// Same as allow on the server side: both are accepted.
    Prefer,
    /// TLS only; plain connections are closed.
    Require,
}

impl FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<TlsMode, String> {
        match s.to_ascii_lowercase().as_str() {
            "disabled" | "disable" | "off" => Ok(TlsMode::Disabled),
            "allow" => Ok(TlsMode::Allow),
            "prefer" => Ok(TlsMode::Prefer),
            "require" | "required" => Ok(TlsMode::Require),
            other => Err(format!("invalid TLS mode {other:?} (expected disabled, allow, prefer or require)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_address: String,
    pub port: u16,
    /// PostgreSQL's unix socket directory.
    pub pg_socket_dir: PathBuf,
    pub pg_port: u16,
    /// The superuser the pool connects as.
    pub pg_user: String,
    pub database: String,
    pub tls_mode: TlsMode,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Where a generated certificate goes when no paths are configured.
    pub data_dir: Option<PathBuf>,
    pub pool_size: usize,
    pub max_connections: usize,
    /// Idle cursors are closed after this long (MongoDB's cursorTimeoutMillis).
    pub cursor_timeout: Duration,
    /// Most cursors that may each hold a PostgreSQL connection at once.
    pub max_pinned_cursors: usize,
    /// Tokio worker threads (0: one per core).
    pub worker_threads: usize,
    /// Answer test-only commands (`configureFailPoint`), like mongod's `enableTestCommands`.
    pub enable_test_commands: bool,
    /// The replica set this gateway presents (a single-node set; empty: a standalone server).
    pub replica_set_name: String,
    /// The `host:port` the set's members list (default: the listen address and port).
    pub advertised_host: Option<String>,
    /// Consecutive authentication failures from one address answered without delay.
    pub auth_failures_before_delay: u32,
    /// Delay of the first failure past those (doubling per further failure, at most 5 s).
    pub auth_failure_delay: Duration,
    /// Transactions open longer are aborted (MongoDB's transactionLifetimeLimitSeconds).
    pub transaction_lifetime: Duration,
}

impl Config {
    /// Whether the gateway presents itself as a (single-node) replica set.
    pub fn is_replica_set(&self) -> bool {
        !self.replica_set_name.is_empty()
    }

    /// The member address hello and replSetGetStatus report.
    pub fn member_host(&self) -> String {
        self.advertised_host.clone().unwrap_or_else(|| format!("{}:{}", self.listen_address, self.port))
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen_address: "127.0.0.1".into(),
            port: 10260,
            pg_socket_dir: PathBuf::from("/var/run/postgresql"),
            pg_port: 5432,
            pg_user: "postgres".into(),
            database: "postgres".into(),
            tls_mode: TlsMode::Allow,
            tls_cert_file: None,
            tls_key_file: None,
            data_dir: None,
            pool_size: 16,
            max_connections: 1000,
            cursor_timeout: Duration::from_secs(600),
            max_pinned_cursors: 64,
            worker_threads: 0,
            enable_test_commands: false,
            replica_set_name: "rs0".into(),
            advertised_host: None,
            auth_failures_before_delay: 5,
            auth_failure_delay: Duration::from_millis(200),
            transaction_lifetime: Duration::from_secs(60),
        }
    }
}

pub const USAGE: &str = "\
documentdb-gateway: MongoDB wire-protocol gateway to PostgreSQL with the documentdb extension

USAGE: documentdb-gateway [OPTIONS]

  --listen ADDR             address to listen on (default 127.0.0.1)
  --port N                  port to listen on (default 10260)
  --pg-socket-dir DIR       PostgreSQL unix socket directory (alias --pg-host; default /var/run/postgresql)
  --pg-port N               PostgreSQL port (default 5432)
  --pg-user NAME            superuser to connect as over the socket (default postgres)
  --database NAME           database with the documentdb extension (default postgres)
  --tls-mode MODE           disabled | allow | prefer | require (default allow)
  --tls-cert FILE           PEM certificate (generated, self-signed, when unset or missing)
  --tls-key FILE            PEM private key
  --data-dir DIR            where to write a generated certificate when no paths are given
  --pool-size N             PostgreSQL connections in the pool (default 16)
  --max-connections N       maximum client connections (default 1000)
  --max-pinned-cursors N    maximum cursors holding a PostgreSQL connection (default 64)
  --cursor-timeout-ms N     idle cursor timeout (default 600000)
  --worker-threads N        tokio worker threads (default: one per core)
  --enable-test-commands    answer test-only commands (configureFailPoint)
  --replica-set-name NAME    the single-node replica set presented (default rs0; an empty name: a standalone)
  --advertised-host HOST:PORT  the member address hello reports (default: listen address and port)
  --auth-failures-before-delay N  failed authentications per client address answered at once (default 5; 0: never delay)
  --auth-failure-delay-ms N       delay after those, doubling per further failure up to 5 s (default 200)
  --transaction-lifetime-limit-seconds N  abort transactions open longer than this (default 60)
  -h, --help                this text

Logging: RUST_LOG (e.g. RUST_LOG=documentdb_gateway=debug).
";

/// Parses command-line flags (`--flag value` or `--flag=value`). `Ok(None)` means help.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut cfg = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        fn num<T: FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: invalid number {v:?}"))
        }
        if flag == "--enable-test-commands" {
            cfg.enable_test_commands = match inline.as_deref() {
                None | Some("true") | Some("1") | Some("on") => true,
                Some("false") | Some("0") | Some("off") => false,
                Some(v) => return Err(format!("--enable-test-commands: expected true or false, got {v:?}")),
            };
            continue;
        }
        match flag.as_str() {
            "--listen" | "--listen-address" => cfg.listen_address = value()?,
            "--port" => cfg.port = num(&flag, value()?)?,
            "--pg-host" | "--pg-socket-dir" => cfg.pg_socket_dir = PathBuf::from(value()?),
            "--pg-port" => cfg.pg_port = num(&flag, value()?)?,
            "--pg-user" => cfg.pg_user = value()?,
            "--database" => cfg.database = value()?,
            "--tls-mode" => cfg.tls_mode = value()?.parse()?,
            "--tls-cert" => cfg.tls_cert_file = Some(PathBuf::from(value()?)),
            "--tls-key" => cfg.tls_key_file = Some(PathBuf::from(value()?)),
            "--data-dir" => cfg.data_dir = Some(PathBuf::from(value()?)),
            "--pool-size" => cfg.pool_size = num(&flag, value()?)?,
            "--max-connections" => cfg.max_connections = num(&flag, value()?)?,
            "--max-pinned-cursors" => cfg.max_pinned_cursors = num(&flag, value()?)?,
            "--cursor-timeout-ms" => cfg.cursor_timeout = Duration::from_millis(num(&flag, value()?)?),
            "--worker-threads" => cfg.worker_threads = num(&flag, value()?)?,
            "--replica-set-name" => cfg.replica_set_name = value()?,
            "--advertised-host" => cfg.advertised_host = Some(value()?),
            "--auth-failures-before-delay" => cfg.auth_failures_before_delay = num(&flag, value()?)?,
            "--auth-failure-delay-ms" => cfg.auth_failure_delay = Duration::from_millis(num(&flag, value()?)?),
            "--transaction-lifetime-limit-seconds" => {
                cfg.transaction_lifetime = Duration::from_secs(num::<u64>(&flag, value()?)?.max(1))
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if cfg.pool_size == 0 || cfg.max_connections == 0 {
        return Err("--pool-size and --max-connections must be positive".into());
    }
    Ok(Some(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags() {
        let c = parse_args(args("--port 27017 --pg-host /tmp --pg-port=9712 --tls-mode require --pool-size 4"))
            .unwrap()
            .unwrap();
        assert_eq!(c.port, 27017);
        assert_eq!(c.pg_socket_dir, PathBuf::from("/tmp"));
        assert_eq!(c.pg_port, 9712);
        assert_eq!(c.tls_mode, TlsMode::Require);
        assert_eq!(c.pool_size, 4);
        assert!(!c.enable_test_commands);
        assert!(parse_args(args("--enable-test-commands")).unwrap().unwrap().enable_test_commands);
        assert!(!parse_args(args("--enable-test-commands=false")).unwrap().unwrap().enable_test_commands);
        assert!(parse_args(args("--help")).unwrap().is_none());
        assert!(parse_args(args("--bogus 1")).is_err());
        assert!(parse_args(args("--port")).is_err());
        assert!(parse_args(args("--tls-mode maybe")).is_err());
    }
}
