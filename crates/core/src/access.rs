//! Who may do what in the dashboard: a person's role on a project. API keys are for
//! machines and keep their own kinds ([`crate::KeyKind`]); roles are for people.

use serde::{Deserialize, Serialize};

/// A person's role on a project (or on every project).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Reads everything; edits the catalog, surveys and rules.
    Analyst,
    /// Everything, keys and people included.
    Owner,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See analyses, customers, surveys.
    Read,
    /// Change the catalog, surveys, rules.
    Edit,
    /// Manage keys, people and the project's settings.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Owner];

    /// The role as stored and shown (`owner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Owner => "owner",
        }
    }

    /// Read a role's name (case-insensitive).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether the role allows `p`.
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::Read => true,
            Permission::Edit => self >= Role::Analyst,
            Permission::Admin => self == Role::Owner,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each role against each permission, one line per role.
    #[test]
    fn roles_allow_what_the_issue_says() {
        let check = |r: Role, want: [bool; 3]| {
            let got = [Permission::Read, Permission::Edit, Permission::Admin].map(|p| r.allows(p));
            assert_eq!(got, want, "{r}");
        };
        check(Role::Viewer, [true, false, false]);
        check(Role::Analyst, [true, true, false]);
        check(Role::Owner, [true, true, true]);
        assert_eq!(Role::parse(" Owner "), Some(Role::Owner));
        assert_eq!(Role::parse("admin"), None);
        assert!(Role::ALL.iter().all(|r| Role::parse(r.as_str()) == Some(*r)));
    }
}
