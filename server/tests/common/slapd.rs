//! A real LDAP directory for the sign-in tests: Debian's `slapd` in its own temp directory on a
//! free 127.0.0.1 port, its tree seeded with `slapadd` (people, groups, a service account), and
//! changed while it runs with `ldapmodify`/`ldapdelete` as its root. Killed on drop.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::alertmanager::free_port;

pub const SUFFIX: &str = "dc=example,dc=org";
const ROOT_DN: &str = "cn=root,dc=example,dc=org";
const ROOT_PW: &str = "root-secret-for-tests";
/// The service account selfheal searches as.
pub const SERVICE_DN: &str = "cn=selfheal,ou=services,dc=example,dc=org";
pub const SERVICE_PW: &str = "service-secret-for-tests";

/// The seeded users (uid, password, groups), all under `ou=people`: the role map of
/// [`Slapd::config`] makes ann an admin, bob an operator, cat a viewer, and dan nothing.
pub const PEOPLE: [(&str, &str, &[&str]); 4] = [
    ("ann", "ann-directory-pass", &["sre-leads", "sre"]),
    ("bob", "bob-directory-pass", &["sre"]),
    ("cat", "cat-directory-pass", &["eng"]),
    ("dan", "dan-directory-pass", &["marketing"]),
];
const GROUPS: [&str; 4] = ["sre-leads", "sre", "eng", "marketing"];

pub struct Slapd {
    child: Child,
    /// `ldap://127.0.0.1:PORT` (StartTLS offered there too when started with TLS).
    pub url: String,
    /// `ldaps://127.0.0.1:PORT`, when started with TLS.
    pub ldaps_url: Option<String>,
    dir: TempDir,
}

fn slapd_conf(dir: &Path, pki: Option<&Path>) -> String {
    let d = dir.display();
    let tls = pki.map_or_else(String::new, |p| {
        let p = p.display();
        format!(
            "TLSCACertificateFile {p}/ca.pem\nTLSCertificateFile {p}/server.pem\nTLSCertificateKeyFile {p}/server.key\n"
        )
    });
    format!(
        "{tls}include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/nis.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         pidfile {d}/slapd.pid\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         database mdb\n\
         maxsize 10485760\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ROOT_DN}\"\n\
         rootpw {ROOT_PW}\n\
         directory {d}/data\n\
         access to attrs=userPassword by self write by anonymous auth by * none\n\
         access to * by dn.exact=\"{SERVICE_DN}\" read by users read by * none\n"
    )
}

fn seed() -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: person\ncn: selfheal\nsn: selfheal\nuserPassword: {SERVICE_PW}\n\n"
    );
    for (uid, password, _) in PEOPLE {
        ldif += &format!(
            "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
             userPassword: {password}\n\n"
        );
    }
    for group in GROUPS {
        // groupOfNames must have a member: a placeholder lets a test remove every real one.
        ldif += &format!(
            "dn: cn={group},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {group}\nmember: cn=placeholder,{SUFFIX}\n"
        );
        for (uid, _, groups) in PEOPLE {
            if groups.contains(&group) {
                ldif += &format!("member: uid={uid},ou=people,{SUFFIX}\n");
            }
        }
        ldif += "\n";
    }
    ldif
}

impl Slapd {
    /// Seeds and starts a directory; returns once it answers a search.
    pub fn start() -> Slapd {
        Slapd::start_inner(None)
    }

    /// The same, offering TLS with the server certificate of `pki` (`common::pki`): StartTLS on
    /// `url`, and LDAPS on `ldaps_url`.
    pub fn start_with_tls(pki: &Path) -> Slapd {
        Slapd::start_inner(Some(pki))
    }

    fn start_inner(pki: Option<&Path>) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, slapd_conf(dir.path(), pki)).unwrap();
        std::fs::write(dir.path().join("seed.ldif"), seed()).unwrap();
        let conf_arg = conf.to_str().unwrap();
        let seeded = Command::new("/usr/sbin/slapadd")
            .args(["-f", conf_arg, "-l"])
            .arg(dir.path().join("seed.ldif"))
            .output()
            .expect("slapadd runs (Debian's slapd: scripts/setup.sh test)");
        assert!(seeded.status.success(), "slapadd: {}", String::from_utf8_lossy(&seeded.stderr));
        let url = format!("ldap://127.0.0.1:{}", free_port());
        let ldaps_url = pki.map(|_| format!("ldaps://127.0.0.1:{}", free_port()));
        let listen = match &ldaps_url {
            Some(ldaps) => format!("{url}/ {ldaps}/"),
            None => format!("{url}/"),
        };
        // -d 0: in the foreground (a child we can kill), logging nothing.
        let child = Command::new("/usr/sbin/slapd")
            .args(["-f", conf_arg, "-h", &listen, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd starts");
        let slapd = Slapd { child, url, ldaps_url, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !slapd.answers() {
            assert!(Instant::now() < deadline, "slapd did not answer within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        slapd
    }

    fn answers(&self) -> bool {
        Command::new("ldapsearch")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW, "-b", SUFFIX, "-s", "base", "dn"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// The `[auth.ldap]` section for this directory, searching as the service account.
    pub fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url,
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PW,
            "user_base": format!("ou=people,{SUFFIX}"),
            "group_base": format!("ou=groups,{SUFFIX}"),
            "timeout": "3s",
            "roles": { "admin": ["sre-leads"], "operator": ["sre"], "viewer": ["eng"] },
        })
    }

    /// Applies an LDIF change as the directory's root (`ldapmodify`).
    pub fn modify(&self, ldif: &str) {
        let path = self.dir.path().join("change.ldif");
        std::fs::write(&path, ldif).unwrap();
        let out = Command::new("ldapmodify")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW, "-f"])
            .arg(&path)
            .output()
            .expect("ldapmodify runs (ldap-utils)");
        assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Removes `uid` from `group`.
    pub fn remove_from_group(&self, uid: &str, group: &str) {
        self.modify(&format!(
            "dn: cn={group},ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid={uid},ou=people,{SUFFIX}\n"
        ));
    }

    /// Deletes `uid` from the directory (their group memberships stay, as in a careless cleanup).
    pub fn delete_user(&self, uid: &str) {
        self.modify(&format!("dn: uid={uid},ou=people,{SUFFIX}\nchangetype: delete\n"));
    }

    /// Stops the directory (an outage); `Drop` is fine with it already gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
