//! A private PKI for the TLS tests, made with the openssl command line: a CA (`ca.pem`,
//! `ca.key`), a server certificate for 127.0.0.1 (`server.pem`, `server.key`) and a client
//! certificate (`client.pem`, `client.key`), EC P-256, valid two days.
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/// The CA, `server` and `client` in `dir`.
pub fn make_pki(dir: &Path) {
    let mut ca = vec!["req", "-x509"];
    ca.extend(EC);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=selfheal test CA"]);
    openssl(dir, &ca);
    issue(dir, "server", "serverAuth");
    issue(dir, "client", "clientAuth");
}

/// `NAME.pem` and `NAME.key` signed by the CA in `dir`, for 127.0.0.1, with subject
/// `CN=selfheal test NAME` and extended key usage `usage` (serverAuth, clientAuth).
pub fn issue(dir: &Path, name: &str, usage: &str) {
    let mut req = vec!["req"];
    req.extend(EC);
    let (key, csr, subject) =
        (format!("{name}.key"), format!("{name}.csr"), format!("/CN=selfheal test {name}"));
    req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
    openssl(dir, &req);
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"),
    )
    .unwrap();
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}
