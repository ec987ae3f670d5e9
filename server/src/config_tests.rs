//! Config loading: defaults, file, environment overrides, and errors that name the key.
#![allow(clippy::result_large_err)] // figment::Jail's closures return its (large) error type
use figment::Jail;

use super::*;

fn load(jail: &Jail, path: Option<&str>) -> Result<Config, ConfigError> {
    let _ = jail;
    Config::load(path.map(Path::new))
}

#[test]
fn missing_default_file_means_built_in_defaults() {
    Jail::expect_with(|jail| {
        let c = load(jail, None).expect("defaults are valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(c.database, Database::Sqlite(PathBuf::from(".selfheal/selfheal.db")));
        assert_eq!(c.webhook.user, "alertmanager");
        assert!(c.webhook.password.is_none() && c.admin_password.is_none());
        Ok(())
    });
}

#[test]
fn file_then_environment_with_public_names() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "custom.toml",
            "listen = \"127.0.0.1:6000\"\nsession_idle = \"30m\"\n[webhook]\nuser = \"am\"\n",
        )?;
        jail.set_env("SELFHEAL_LISTEN", "127.0.0.1:7000");
        jail.set_env("SELFHEAL_DATABASE", "/tmp/x/selfheal.db");
        jail.set_env("SELFHEAL_WEBHOOK_USER", "alertmanager2");
        jail.set_env("SELFHEAL_WEBHOOK_PASSWORD", "s3cret");
        jail.set_env("SELFHEAL_ADMIN_PASSWORD", "quartz-ferry-anvil-1");
        jail.set_env("SELFHEAL_CONFIG", "custom.toml");
        let c = load(jail, Some("custom.toml")).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000", "env beats file");
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("/tmp/x/selfheal.db")));
        assert_eq!(c.session_idle, Duration::from_secs(1800), "file beats default");
        assert_eq!(c.webhook.user, "alertmanager2");
        assert_eq!(c.webhook.password.as_ref().map(|s| s.expose_secret()), Some("s3cret"));
        assert_eq!(c.admin_password.as_ref().map(|s| s.expose_secret()), Some("quartz-ferry-anvil-1"));
        Ok(())
    });
}

#[test]
fn nested_keys_are_overridable_with_double_underscore() {
    Jail::expect_with(|jail| {
        jail.set_env("SELFHEAL_WEBHOOK__USER", "nested");
        assert_eq!(load(jail, None).expect("valid").webhook.user, "nested");
        Ok(())
    });
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("bad listen", "listen = \"localhost\"", "listen"),
        ("unknown key", "lisen = \"127.0.0.1:1\"", "lisen"),
        ("bad duration", "session_idle = \"soon\"", "session_idle"),
        ("too short", "session_idle = \"5s\"", "session_idle"),
        ("absolute below idle", "session_idle = \"2h\"\nsession_absolute = \"1h\"", "session_absolute"),
        ("empty webhook user", "[webhook]\nuser = \"\"", "webhook.user"),
        ("short admin password", "admin_password = \"short\"", "admin_password"),
        ("bad sha256", "[webhook]\npassword_sha256 = \"abc\"", "webhook.password_sha256"),
        ("am url scheme", "[alertmanager]\nurl = \"ftp://x\"", "alertmanager.url"),
        ("am url empty host", "[alertmanager]\nurl = \"https://\"", "alertmanager.url"),
        ("prometheus url scheme", "[prometheus]\nurl = \"127.0.0.1:9090\"", "prometheus.url"),
        ("missing ca file", "[outgoing_tls]\nca_file = \"/nonexistent/ca.pem\"", "outgoing_tls.ca_file"),
        ("key without cert", "[outgoing_tls]\nclient_key = \"k.pem\"", "outgoing_tls.client_cert"),
        (
            "am interval",
            "[alertmanager]\nurl = \"http://x\"\nreconcile_interval = \"10ms\"",
            "alertmanager.reconcile_interval",
        ),
        ("retention interval", "[retention]\ninterval = \"10s\"", "retention.interval"),
        ("retention too short", "[retention]\nalerts = \"5m\"", "retention.alerts"),
        ("retention too long", "[retention]\nruns = \"200years\"", "retention.runs"),
        ("alerts cap", "[retention]\nalerts_max = 10", "retention.alerts_max"),
        ("output beyond its run", "[retention]\nrun_output = \"200d\"", "retention.run_output"),
        ("audit not longest", "[retention]\naudit = \"20d\"", "retention.audit"),
        ("audit below runs", "[retention]\nruns = \"500d\"", "retention.audit"),
        ("empty export dir", "[retention]\nexport_dir = \"\"", "retention.export_dir"),
        ("unknown retention key", "[retention]\nalert = \"30d\"", "alert"),
    ];
    for (name, toml, key) in cases {
        Jail::expect_with(|jail| {
            jail.create_file("selfheal.toml", toml)?;
            let err = load(jail, None).expect_err(name).to_string();
            assert!(err.contains(key), "{name}: {err}");
            Ok(())
        });
    }
}

#[test]
fn env_errors_name_the_variable_key() {
    Jail::expect_with(|jail| {
        jail.set_env("SELFHEAL_LISTEN", "not-an-address");
        let err = load(jail, None).expect_err("invalid").to_string();
        assert!(err.to_lowercase().contains("\"listen\""), "{err}");
        assert!(err.contains("SELFHEAL_"), "says it came from the environment: {err}");
        Ok(())
    });
}

#[test]
fn explicit_missing_file_is_an_error() {
    Jail::expect_with(|jail| {
        let err = load(jail, Some("nope.toml")).expect_err("missing").to_string();
        assert!(err.contains("nope.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn secrets_never_show_in_debug_or_summary() {
    Jail::expect_with(|jail| {
        jail.set_env("SELFHEAL_WEBHOOK_PASSWORD", "hunter2-webhook");
        jail.set_env("SELFHEAL_ADMIN_PASSWORD", "hunter2 quartz ferry anvil");
        let c = load(jail, None).expect("valid");
        for text in [format!("{c:?}"), c.summary()] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(c.summary().contains("webhook.password = <set>"));
        Ok(())
    });
}

#[test]
fn the_example_config_in_the_repository_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../selfheal.example.toml");
    let text = std::fs::read_to_string(example).expect("selfheal.example.toml exists");
    Jail::expect_with(|jail| {
        jail.create_file("example.toml", &text)?;
        load(jail, Some("example.toml")).expect("the example validates");
        Ok(())
    });
}

#[test]
fn rules_are_validated_against_the_playbook_allowlist() {
    Jail::expect_with(|jail| {
        std::fs::create_dir_all(jail.directory().join("ansible")).expect("mkdir");
        jail.create_file("ansible/heal-nginx.yml", "- hosts: all\n  tasks: []\n")?;
        let rule = |playbook: &str, name: &str| {
            format!("[[rules]]\nname = \"{name}\"\nmatch = {{ alertname = \"NginxDown\" }}\nplaybook = \"{playbook}\"\n")
        };
        jail.create_file("ok.toml", &rule("heal-nginx.yml", "nginx-down"))?;
        let c = load(jail, Some("ok.toml")).expect("valid");
        assert_eq!(c.build_rules().expect("rules").len(), 1);

        jail.create_file("missing.toml", &rule("nope.yml", "nginx-down"))?;
        let err = load(jail, Some("missing.toml")).expect_err("missing playbook").to_string();
        assert!(err.contains("rules") && err.contains("not found"), "{err}");

        jail.create_file("escape.toml", &rule("../selfheal.toml", "nginx-down"))?;
        let err = load(jail, Some("escape.toml")).expect_err("outside the allowlist").to_string();
        assert!(err.contains("inside the ansible dir"), "{err}");

        jail.create_file(
            "dup.toml",
            &format!("{}{}", rule("heal-nginx.yml", "a"), rule("heal-nginx.yml", "a")),
        )?;
        let err = load(jail, Some("dup.toml")).expect_err("duplicate").to_string();
        assert!(err.contains("used twice"), "{err}");

        let guarded = format!(
            "{}[[rules.guard]]\nname = \"node up\"\nexpr = 'up{{job=\"node\"}} == 1'\n",
            rule("heal-nginx.yml", "a")
        );
        jail.create_file("guard-blind.toml", &guarded)?;
        let err = load(jail, Some("guard-blind.toml")).expect_err("guards need Prometheus").to_string();
        assert!(err.contains("has guards, which ask Prometheus: set prometheus.url"), "{err}");
        jail.create_file("guarded.toml", &format!("[prometheus]\nurl = \"http://127.0.0.1:9\"\n{guarded}"))?;
        let rules = load(jail, Some("guarded.toml")).expect("valid").build_rules().expect("rules");
        assert_eq!(rules[0].guard_names().collect::<Vec<_>>(), ["node up"]);

        let counted = format!(
            "{}[rules.blast_radius]\nmax_heals = 3\nmax_percent = 10\nknown_targets = 'count(up)'\n",
            rule("heal-nginx.yml", "a")
        );
        jail.create_file("blast-blind.toml", &counted)?;
        let err =
            load(jail, Some("blast-blind.toml")).expect_err("known targets need Prometheus").to_string();
        assert!(
            err.contains("counts its blast radius's known targets in Prometheus: set prometheus.url"),
            "{err}"
        );
        jail.create_file(
            "blast-bad.toml",
            &format!("{}[rules.blast_radius]\nmax_heals = 0\n", rule("heal-nginx.yml", "a")),
        )?;
        let err = load(jail, Some("blast-bad.toml")).expect_err("no heals at all").to_string();
        assert!(err.contains("rule `a`: blast_radius: max_heals must be at least 1"), "{err}");
        Ok(())
    });
}

#[test]
fn https_urls_are_accepted_for_prometheus_and_alertmanager() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "selfheal.toml",
            "[prometheus]\nurl = \"https://prometheus.example:9090\"\n[alertmanager]\nurl = \"https://am.example\"\n",
        )?;
        let c = load(jail, None).expect("https is supported");
        assert_eq!(
            (c.prometheus.url.as_str(), c.alertmanager.url.as_str()),
            ("https://prometheus.example:9090", "https://am.example")
        );
        Ok(())
    });
}

#[test]
fn database_urls_other_than_sqlite_and_postgres_are_refused_naming_the_key() {
    Jail::expect_with(|jail| {
        for (value, wanted) in [
            ("postgres://selfheal@[db/selfheal", "not a PostgreSQL URL"),
            ("mysql://db/x", "`mysql://` is not a supported database"),
            ("sqlite::memory:", "needs a file path"),
            ("sqlite://", "needs a file path"),
        ] {
            jail.set_env("SELFHEAL_DATABASE", value);
            let err = load(jail, None).expect_err(value).to_string();
            assert!(
                err.to_lowercase().contains("key \"database\"") && err.contains(wanted),
                "{value}: {err}"
            );
        }
        for (value, path) in [
            ("sqlite:///var/lib/selfheal/selfheal.db", "/var/lib/selfheal/selfheal.db"),
            ("sqlite://data/selfheal.db", "data/selfheal.db"),
            ("sqlite:selfheal.db?mode=rwc", "selfheal.db"),
            ("state/selfheal.db", "state/selfheal.db"),
            ("odd:name/selfheal.db", "odd:name/selfheal.db"),
        ] {
            jail.set_env("SELFHEAL_DATABASE", value);
            assert_eq!(
                load(jail, None).expect(value).database,
                Database::Sqlite(PathBuf::from(path)),
                "{value}"
            );
        }
        // PostgreSQL by URL: kept whole, shown without its password; selfheal's own files go
        // in .selfheal.
        for scheme in ["postgres", "postgresql"] {
            let url = format!("{scheme}://selfheal:s3cret@db.example.org:5432/selfheal?sslmode=verify-full");
            jail.set_env("SELFHEAL_DATABASE", &url);
            let c = load(jail, None).expect(&url);
            assert_eq!(c.database, Database::Postgres(url.clone()));
            assert_eq!(c.database.data_dir(), PathBuf::from(".selfheal"));
            let summary = c.summary();
            assert!(
                !summary.contains("s3cret") && summary.contains("selfheal:***@db.example.org"),
                "{summary}"
            );
        }
        Ok(())
    });
}

#[test]
fn file_notify_targets_are_beside_the_database_unless_absolute() {
    Jail::expect_with(|jail| {
        std::fs::create_dir_all(jail.directory().join("ansible")).expect("mkdir");
        jail.create_file("ansible/heal-nginx.yml", "- hosts: all\n  tasks: []\n")?;
        jail.create_file(
            "n.toml",
            "database = \"state/selfheal.db\"\n[[rules]]\nname = \"r\"\nmatch = { alertname = \"A\" }\n\
             playbook = \"heal-nginx.yml\"\nnotify = [\"file:notifications.jsonl\", \"file:///var/log/n.jsonl\", \
             \"file:/srv/n.jsonl\", \"https://hooks.example/x?token=1\"]\n",
        )?;
        let c = load(jail, Some("n.toml")).expect("valid");
        let rules = c.build_rules().expect("rules");
        let beside = std::path::absolute(jail.directory().join("state/notifications.jsonl")).unwrap();
        assert_eq!(
            rules[0].config.notify,
            [
                format!("file:{}", beside.display()),
                "file:/var/log/n.jsonl".to_owned(),
                "file:/srv/n.jsonl".to_owned(),
                "https://hooks.example/x?token=1".to_owned()
            ]
        );
        Ok(())
    });
}

#[test]
fn a_world_readable_file_with_secrets_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let with_secret = dir.path().join("secret.toml");
    std::fs::write(&with_secret, "[webhook]\npassword = \"hunter2-hunter2\"\n").expect("write");
    let without = dir.path().join("plain.toml");
    std::fs::write(&without, "listen = \"127.0.0.1:5000\"\n# password = \"only a comment\"\n")
        .expect("write");
    for (path, mode, warned) in
        [(&with_secret, 0o644, true), (&with_secret, 0o600, false), (&without, 0o644, false)]
    {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let warning = Config::exposed_secrets_warning(Some(path));
        assert_eq!(warning.is_some(), warned, "{} mode {mode:o}: {warning:?}", path.display());
        assert!(warning.is_none_or(|w| w.contains("644") && !w.contains("hunter2")));
    }
}

#[test]
fn secret_values_are_the_configured_secrets_longest_first() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "selfheal.toml",
            "admin_password = \"quartz-ferry-anvil-2\"\n[webhook]\npassword = \"hook-secret\"\n\
             [ansible]\nredact = [\"vault-pass-longer-one\"]\n",
        )?;
        let config = load(jail, None).expect("valid");
        assert_eq!(config.secret_values(), ["vault-pass-longer-one", "quartz-ferry-anvil-2", "hook-secret"]);
        assert!(config.summary().contains("ansible.redact = 1 value(s)"));
        assert!(!config.summary().contains("vault-pass"));
        jail.create_file("short.toml", "[ansible]\nredact = [\"ab\"]\n")?;
        assert!(load(jail, Some("short.toml")).is_err(), "a 2-character redact value is refused");
        Ok(())
    });
}

#[test]
fn retention_defaults_keep_audit_longest_and_export_beside_the_database() {
    Jail::expect_with(|jail| {
        let c = load(jail, None).expect("defaults are valid");
        let r = &c.retention;
        assert!(r.enabled);
        let days = |d: Duration| d.as_secs() / 86_400;
        let ages = [r.alerts, r.notifications, r.run_output, r.runs, r.audit].map(days);
        assert_eq!(ages, [30, 14, 30, 180, 400]);
        assert_eq!((r.interval, r.alerts_max), (Duration::from_secs(3600), 1_000_000));
        assert_eq!(c.audit_export_dir(), PathBuf::from(".selfheal/audit-export"));
        assert!(c.summary().contains("retention = every 1h: alerts 30days"), "{}", c.summary());
        Ok(())
    });
}

#[test]
fn retention_can_be_switched_off_and_set_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("selfheal.toml", "[retention]\nenabled = false\nexport_dir = \"/srv/audit\"\n")?;
        jail.set_env("SELFHEAL_RETENTION__ALERTS", "7d");
        let c = load(jail, None).expect("valid");
        assert!(!c.retention.enabled);
        assert_eq!(c.retention.alerts, Duration::from_secs(7 * 86_400));
        assert_eq!(c.audit_export_dir(), PathBuf::from("/srv/audit"));
        assert!(c.summary().contains("retention = off"), "{}", c.summary());
        Ok(())
    });
}

#[test]
fn ldap_sign_in_is_configured_with_its_secret_from_the_environment_and_checked() {
    Jail::expect_with(|jail| {
        let section = "[auth]\nrole_refresh = \"2m\"\n[auth.ldap]\nurl = \"URL\"\nbind_dn = \"cn=selfheal,dc=example,dc=org\"\n\
             user_base = \"ou=people,dc=example,dc=org\"\ngroup_base = \"ou=groups,dc=example,dc=org\"\n\
             [auth.ldap.roles]\noperator = [\"sre\"]\n";
        jail.create_file("selfheal.toml", &section.replace("URL", "ldaps://ldap.example.org"))?;
        let err = load(jail, None).expect_err("bind_dn without its password").to_string();
        assert!(err.contains("auth.ldap.bind_password"), "{err}");
        jail.set_env("SELFHEAL_AUTH__LDAP__BIND_PASSWORD", "from-the-environment");
        let c = load(jail, None).expect("the secret comes from the environment");
        let ldap = c.auth.ldap.expect("configured");
        assert_eq!(c.auth.role_refresh, std::time::Duration::from_secs(120));
        assert_eq!(
            ldap.bind_password.map(|p| secrecy::ExposeSecret::expose_secret(&p).to_owned()).as_deref(),
            Some("from-the-environment")
        );
        assert_eq!(ldap.roles.operator, vec!["sre".to_owned()]);
        jail.create_file("selfheal.toml", &section.replace("URL", "ldap://ldap.example.org"))?;
        let err = load(jail, None).expect_err("passwords in clear").to_string();
        assert!(err.contains("auth.ldap.url") && err.contains("in clear"), "{err}");
        Ok(())
    });
}

#[test]
fn the_replica_timeout_defaults_to_fifteen_seconds_and_refuses_less_than_three() {
    Jail::expect_with(|jail| {
        assert_eq!(load(jail, None).expect("defaults").ha.replica_timeout, Duration::from_secs(15));
        jail.create_file("ha.toml", "[ha]\nreplica_timeout = \"30s\"\n")?;
        assert_eq!(load(jail, Some("ha.toml")).expect("30s").ha.replica_timeout, Duration::from_secs(30));
        jail.create_file("short.toml", "[ha]\nreplica_timeout = \"2s\"\n")?;
        let err = load(jail, Some("short.toml")).expect_err("2s").to_string();
        assert!(err.contains("ha.replica_timeout") && err.contains("at least 3s"), "{err}");
        Ok(())
    });
}
