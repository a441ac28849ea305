//! Applying a [`HostConfig`] as a list of undo actions, and reverting it.

use crate::dns::{Dns, DnsUndo};
use crate::firewall::{Firewall, FirewallUndo};
use crate::net::{NetUndo, Network, Plan};
use crate::{ApplyError, ApplyOptions, HostConfig, OsError, RevertError, UndoFailure};
use serde::{Deserialize, Serialize};

/// One change made to the host, described by how to undo it. Serializable, so a journal can
/// replay it after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "concern", rename_all = "snake_case")]
pub enum UndoAction {
    /// Addresses, link, routes, rules, sysctls.
    Net(NetUndo),
    /// Packet filter.
    Firewall(FirewallUndo),
    /// Resolver configuration.
    Dns(DnsUndo),
}

impl std::fmt::Display for UndoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UndoAction::Net(a) => a.fmt(f),
            UndoAction::Firewall(a) => a.fmt(f),
            UndoAction::Dns(a) => a.fmt(f),
        }
    }
}

/// What [`crate::apply`] changed, in order; [`Applied::revert`] undoes it in reverse order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The interface the changes were made for.
    pub interface: String,
    /// The MTU set on the interface.
    pub mtu: u32,
    /// The plan that was applied.
    pub plan: Plan,
    /// Every change made, in the order made.
    pub actions: Vec<UndoAction>,
}

impl Applied {
    /// The mark the driver's UDP socket must carry, when routing depends on it.
    pub fn fwmark(&self) -> Option<u32> {
        self.plan.fwmark
    }

    /// Undoes every action, newest first. Idempotent: something already gone (a route removed
    /// with its link, a rule deleted by an earlier revert) counts as undone. Continues past
    /// failures and reports them all.
    pub async fn revert(&self) -> Result<(), RevertError> {
        revert_actions(&self.actions).await
    }

    /// [`Applied::revert`] for synchronous callers: runs it on a private current-thread tokio
    /// runtime in a helper thread (safe to call from inside another runtime, but it blocks the
    /// calling thread).
    pub fn revert_blocking(&self) -> Result<(), RevertError> {
        let actions = self.actions.clone();
        let result = std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| RevertError {
                        failures: actions
                            .iter()
                            .map(|a| UndoFailure {
                                action: a.clone(),
                                error: format!("cannot start a tokio runtime: {e}"),
                            })
                            .collect(),
                    })?;
                rt.block_on(revert_actions(&actions))
            })
            .join()
        });
        result.unwrap_or_else(|_| {
            Err(RevertError {
                failures: self
                    .actions
                    .iter()
                    .map(|a| UndoFailure {
                        action: a.clone(),
                        error: "revert thread panicked".into(),
                    })
                    .collect(),
            })
        })
    }
}

/// Undoes `actions` newest first, continuing past failures.
pub(crate) async fn revert_actions(actions: &[UndoAction]) -> Result<(), RevertError> {
    let mut failures = Vec::new();
    let needs_net = actions.iter().any(|a| matches!(a, UndoAction::Net(_)));
    let net = if needs_net {
        match Network::open() {
            Ok(n) => Some(n),
            Err(e) => {
                for a in actions.iter().filter(|a| matches!(a, UndoAction::Net(_))) {
                    failures.push(UndoFailure {
                        action: a.clone(),
                        error: e.to_string(),
                    });
                }
                None
            }
        }
    } else {
        None
    };
    for action in actions.iter().rev() {
        let result = match action {
            UndoAction::Net(a) => match &net {
                Some(net) => net.undo(a).await,
                None => continue,
            },
            UndoAction::Firewall(a) => Firewall::undo(a).await,
            UndoAction::Dns(a) => Dns::undo(a).await,
        };
        if let Err(e) = result {
            tracing::warn!(action = %action, error = %e, "undo failed");
            failures.push(UndoFailure {
                action: action.clone(),
                error: e.to_string(),
            });
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RevertError { failures })
    }
}

pub(crate) async fn apply(
    config: &HostConfig,
    options: &ApplyOptions,
) -> Result<Applied, ApplyError> {
    let fail = |error: OsError| ApplyError {
        error,
        rollback_failures: Vec::new(),
    };
    let net = Network::open().map_err(fail)?;
    let plan = net.plan(config).await.map_err(fail)?;
    let mut actions = Vec::new();
    let result = async {
        let mtu = net.apply(config, &plan, &mut actions).await?;
        for spec in &plan.firewall {
            if let Some(undo) = Firewall::apply(&config.interface, spec).await? {
                actions.push(UndoAction::Firewall(undo));
            }
        }
        if !config.dns.servers.is_empty() {
            let dns = Dns::choose(options.dns_method).await;
            if let Some(undo) = dns.apply(&config.interface, &config.dns, options).await? {
                actions.push(UndoAction::Dns(undo));
            }
        }
        Ok::<u32, OsError>(mtu)
    }
    .await;
    match result {
        Ok(mtu) => Ok(Applied {
            interface: config.interface.clone(),
            mtu,
            plan,
            actions,
        }),
        Err(error) => {
            let rollback_failures = match revert_actions(&actions).await {
                Ok(()) => Vec::new(),
                Err(e) => e.failures,
            };
            Err(ApplyError {
                error,
                rollback_failures,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::ResolvConfOriginal;
    use crate::{Family, RuleKind, RuleSpec};

    #[test]
    fn every_undo_action_round_trips_through_json() {
        let actions = vec![
            UndoAction::Net(NetUndo::DeleteAddress {
                interface: "gh0".into(),
                address: "10.0.0.1/24".parse().expect("net"),
            }),
            UndoAction::Net(NetUndo::RestoreLink {
                interface: "gh0".into(),
                mtu: 1500,
                up: false,
            }),
            UndoAction::Net(NetUndo::DeleteRoute {
                table: 254,
                destination: "203.0.113.5/32".parse().expect("net"),
                interface: Some("eth0".into()),
                gateway: Some("198.51.100.1".parse().expect("ip")),
            }),
            UndoAction::Net(NetUndo::DeleteRule(RuleSpec {
                family: Family::V6,
                kind: RuleKind::NotFwmark {
                    fwmark: 51820,
                    table: 51820,
                },
            })),
            UndoAction::Net(NetUndo::DeleteRule(RuleSpec {
                family: Family::V4,
                kind: RuleKind::SuppressMainDefault,
            })),
            UndoAction::Net(NetUndo::RestoreSysctl {
                key: "net/ipv4/conf/all/src_valid_mark".into(),
                value: "0".into(),
            }),
            UndoAction::Firewall(FirewallUndo::DeleteNftTable {
                family: "ip6".into(),
                name: "gatehouse-gh0".into(),
            }),
            UndoAction::Dns(DnsUndo::ResolvedRevert {
                interface: "gh0".into(),
            }),
            UndoAction::Dns(DnsUndo::ResolvconfDelete {
                name: "tun.gh0".into(),
            }),
            UndoAction::Dns(DnsUndo::RestoreResolvConf {
                path: "/etc/resolv.conf".into(),
                backup: "/var/lib/gatehouse/resolv.conf.gh0.backup".into(),
                original: ResolvConfOriginal::Symlink {
                    target: "../run/systemd/resolve/stub-resolv.conf".into(),
                },
                written: "nameserver 10.0.0.53\n".into(),
            }),
        ];
        let json = serde_json::to_string(&actions).expect("serialize");
        let back: Vec<UndoAction> = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, actions);
    }
}
