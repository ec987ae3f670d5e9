//! A network namespace of a test's own, with loopback up: the shipped stack binds its fixed
//! 127.0.0.1 ports in there and collides with nothing (another test, a demo stack). Deleted on
//! drop.
use std::process::{Command, Stdio};

use crate::common::process::checked;

pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add <prefix>-<pid>`, loopback up.
    pub fn new(prefix: &str) -> Netns {
        let name = format!("{prefix}-{}", std::process::id());
        checked(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        checked(&mut ns.cmd(["ip", "link", "set", "lo", "up"]));
        ns
    }

    /// A command run inside the namespace.
    pub fn cmd<const N: usize>(&self, args: [&str; N]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        cmd
    }

    /// GET inside the namespace; the body when the answer is 2xx.
    pub fn get(&self, url: &str) -> Option<String> {
        let out = self.cmd(["curl", "-fsS", "--max-time", "2", url]).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.name]).output();
    }
}
