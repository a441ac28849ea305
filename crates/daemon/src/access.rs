//! Who may talk to the daemon.

/// The caller check: root, or a member of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The group's name (for messages).
    pub group: String,
    /// The group's id; `None` when the group does not exist (then only root gets in).
    pub gid: Option<u32>,
}

/// The supplementary and primary groups in the text of `/proc/PID/status` (`Groups:` and the
/// effective id of `Gid:`).
pub fn parse_groups(status: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("Groups:") {
            out.extend(
                rest.split_whitespace()
                    .filter_map(|g| g.parse::<u32>().ok()),
            );
        } else if let Some(rest) = line.strip_prefix("Gid:") {
            // real, effective, saved, filesystem
            if let Some(eff) = rest.split_whitespace().nth(1).and_then(|g| g.parse().ok()) {
                out.push(eff);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The groups of process `pid`, read from `/proc` (`None` when it is gone).
pub fn groups_of_pid(pid: i32) -> Option<Vec<u32>> {
    if pid <= 0 {
        return None;
    }
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .map(|s| parse_groups(&s))
}

impl Access {
    /// The check for group `group`, looked up now.
    pub fn for_group(group: &str) -> Access {
        let gid = nix::unistd::Group::from_name(group)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw());
        Access {
            group: group.to_owned(),
            gid,
        }
    }

    /// Whether a caller with effective `uid`, effective `gid` and the groups of its process
    /// (`None` when unknown) may talk to the daemon.
    pub fn allows(&self, uid: u32, gid: u32, groups: Option<&[u32]>) -> bool {
        if uid == 0 {
            return true;
        }
        let Some(want) = self.gid else { return false };
        gid == want || groups.is_some_and(|g| g.contains(&want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str =
        "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1001\t1000\t1000\n\
        FDSize:\t256\nGroups:\t4 24 27 990 \nNStgid:\t1\n";

    #[test]
    fn groups_come_from_groups_and_effective_gid() {
        assert_eq!(parse_groups(STATUS), vec![4, 24, 27, 990, 1001]);
        assert_eq!(parse_groups("Groups:\t\n"), Vec::<u32>::new());
        assert_eq!(parse_groups("garbage\nGroups: x y 7\nGid: a"), vec![7]);
    }

    #[test]
    fn root_or_member_only() {
        let a = Access {
            group: "gatehouse".into(),
            gid: Some(990),
        };
        let groups = parse_groups(STATUS);
        assert!(a.allows(0, 0, None));
        assert!(a.allows(1000, 1000, Some(&groups)));
        assert!(a.allows(1000, 990, None));
        assert!(!a.allows(1000, 1000, Some(&[4, 24])));
        assert!(!a.allows(1000, 1000, None));
        let none = Access {
            group: "gatehouse".into(),
            gid: None,
        };
        assert!(!none.allows(1000, 990, Some(&[990])));
        assert!(none.allows(0, 0, None));
    }

    #[test]
    fn this_process_is_readable() {
        let g = groups_of_pid(std::process::id() as i32);
        assert!(g.is_some_and(|g| !g.is_empty()));
        assert!(groups_of_pid(-1).is_none());
    }
}
