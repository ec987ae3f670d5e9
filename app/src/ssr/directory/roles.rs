//! Which role a directory's groups give (`[auth.ldap.roles]`, `[auth.oidc.roles]`): the highest
//! role one of the user's groups is listed under; no listed group, no role (refused).
use serde::Deserialize;

use crate::model::Role;

/// `admin = ["sre-leads"]`, `operator = ["sre"]`, `viewer = ["eng"]`: group names per role.
/// Names compare without regard to ASCII case (directories differ on it: `SRE` in Active
/// Directory is `sre` in a copy of it).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RoleMap {
    pub admin: Vec<String>,
    pub operator: Vec<String>,
    pub viewer: Vec<String>,
}

/// The role a user's groups gave, and which of their groups gave it (shown on the users page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    pub role: Role,
    pub by: Vec<String>,
}

impl RoleMap {
    /// Whether no group is listed at all (then nobody could sign in: a config error).
    pub fn is_empty(&self) -> bool {
        self.admin.is_empty() && self.operator.is_empty() && self.viewer.is_empty()
    }

    fn groups_of(&self, role: Role) -> &[String] {
        match role {
            Role::Admin => &self.admin,
            Role::Operator => &self.operator,
            Role::Viewer => &self.viewer,
        }
    }

    /// The highest role one of `groups` is listed under, with the groups that gave it; `None`
    /// when no group of the user's is listed.
    pub fn role_for(&self, groups: &[String]) -> Option<Granted> {
        Role::ALL.iter().rev().find_map(|&role| {
            let listed = self.groups_of(role);
            let by: Vec<String> =
                groups.iter().filter(|g| listed.iter().any(|l| l.eq_ignore_ascii_case(g))).cloned().collect();
            (!by.is_empty()).then_some(Granted { role, by })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> RoleMap {
        RoleMap {
            admin: vec!["sre-leads".into()],
            operator: vec!["sre".into(), "oncall".into()],
            viewer: vec!["eng".into()],
        }
    }

    #[test]
    fn the_highest_listed_group_decides_and_is_named() {
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        type Case<'a> = (&'a str, &'a [&'a str], Option<(Role, &'a [&'a str])>);
        let cases: [Case; 7] = [
            ("none", &[], None),
            ("unlisted only", &["marketing"], None),
            ("viewer", &["eng", "marketing"], Some((Role::Viewer, &["eng"]))),
            ("operator over viewer", &["eng", "sre"], Some((Role::Operator, &["sre"]))),
            ("two operator groups", &["oncall", "sre"], Some((Role::Operator, &["oncall", "sre"]))),
            ("admin", &["sre", "sre-leads"], Some((Role::Admin, &["sre-leads"]))),
            ("case differs", &["SRE"], Some((Role::Operator, &["SRE"]))),
        ];
        for (case, given, want) in cases {
            let got = map().role_for(&groups(given));
            let want = want.map(|(role, by)| Granted { role, by: groups(by) });
            assert_eq!(got, want, "{case}");
        }
        assert!(RoleMap::default().is_empty());
        assert!(!map().is_empty());
    }
}
