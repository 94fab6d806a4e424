//! The evaluator: a state machine over what the server already learns, with no I/O and no
//! scan per agent per tick. It is fed heartbeat facts (from this replica's heartbeats and
//! the other replicas' bus notices), plaintext-secret sightings and clock ticks, and
//! answers with the notices to send.
//!
//! Per agent it keeps its owner, fleet, last heartbeat time and whether it has an entry
//! in the deadline set. "Offline for N minutes" is a deadline: when a heartbeat arrives
//! for an agent without one, an entry `(last_seen + the shortest offline rule's N, agent)`
//! goes into a `BTreeSet`; a tick pops only the entries that are due, checks each against
//! the agent's latest heartbeat (later heartbeats only move `last_seen`, so the entry is
//! checked lazily rather than moved on every heartbeat) and re-arms it for the next rule.
//! "Above X % for N minutes" keeps, per rule and agent, since when the value is above.
//!
//! A rule and agent pair is firing or not; a firing notice is sent on the transition
//! unless the pair's cooldown since its last sent firing has not run out (then the
//! firing and its resolution are both kept quiet), and a resolved notice when the
//! condition clears. A plaintext secret seen is an event: it fires once, never resolves.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::{Condition, Rule};

/// What one heartbeat says that rules look at (no other value of it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Facts {
    pub status_error: bool,
    /// The agent reports a `config_…` error: the last config was refused or not written.
    pub config_failed: bool,
    /// `Some(true)` unreachable, `Some(false)` reachable, `None` unknown.
    pub gateway_unreachable: Option<bool>,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

impl Facts {
    /// The compact form carried by the replicas' bus (`eG:12.5:40`).
    pub fn encode(&self) -> String {
        let mut flags = String::new();
        if self.status_error {
            flags.push('e');
        }
        if self.config_failed {
            flags.push('c');
        }
        match self.gateway_unreachable {
            Some(true) => flags.push('G'),
            Some(false) => flags.push('g'),
            None => {}
        }
        let num = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        format!("{flags}:{}:{}", num(self.cpu), num(self.memory))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let flags = parts.next()?;
        let num = |p: Option<&str>| -> Option<Option<f64>> {
            match p? {
                "" => Some(None),
                v => v.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some),
            }
        };
        let (cpu, memory) = (num(parts.next())?, num(parts.next())?);
        if parts.next().is_some() || !flags.chars().all(|c| "ecGg".contains(c)) {
            return None;
        }
        Some(Self {
            status_error: flags.contains('e'),
            config_failed: flags.contains('c'),
            gateway_unreachable: if flags.contains('G') {
                Some(true)
            } else if flags.contains('g') {
                Some(false)
            } else {
                None
            },
            cpu,
            memory,
        })
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Firing,
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Firing => "firing",
            Event::Resolved => "resolved",
        }
    }
}

/// A notice to send.
#[derive(Debug, Clone)]
pub struct Notice {
    pub rule: Arc<Rule>,
    pub agent_id: String,
    pub event: Event,
    /// When the condition began (for offline: the last heartbeat).
    pub since: i64,
    pub at: i64,
    /// The value that crossed the threshold (CPU or memory).
    pub value: Option<f64>,
}

struct AgentState {
    owner: String,
    fleet: Option<String>,
    last_seen: Option<i64>,
    /// Whether the agent has an entry in the deadline set.
    armed: bool,
}

#[derive(Clone, Copy)]
struct Firing {
    since: i64,
    /// Whether the firing notice was sent (not within the cooldown).
    notified: bool,
}

type Key = (String, String);

/// The evaluator's state (see the module docs).
#[derive(Default)]
pub struct Engine {
    rules: HashMap<String, Vec<Arc<Rule>>>,
    agents: HashMap<String, AgentState>,
    deadlines: BTreeSet<(i64, String)>,
    over: HashMap<Key, i64>,
    firing: HashMap<Key, Firing>,
    last_fired: HashMap<Key, i64>,
}

fn key(rule: &Rule, agent: &str) -> Key {
    (rule.id.clone(), agent.to_owned())
}

fn in_scope(rule: &Rule, fleet: Option<&String>) -> bool {
    rule.fleet_id.is_none() || rule.fleet_id.as_ref() == fleet
}

impl Engine {
    /// Whether the owner has an enabled rule.
    pub fn owner_has_rules(&self, owner: &str) -> bool {
        self.rules.get(owner).is_some_and(|r| !r.is_empty())
    }

    /// Learns an agent at start (or after its owner's rules changed).
    pub fn seed(&mut self, id: &str, owner: &str, fleet: Option<String>, last_seen: Option<i64>) {
        let st = self
            .agents
            .entry(id.to_owned())
            .or_insert_with(|| AgentState {
                owner: owner.to_owned(),
                fleet: None,
                last_seen: None,
                armed: false,
            });
        st.fleet = fleet;
        st.last_seen = st.last_seen.max(last_seen);
        self.arm(id);
    }

    /// Replaces an owner's enabled rules. State of rules that are gone is dropped
    /// without notices; the owner's agents are armed for new offline rules (one pass
    /// over the agents per rule change, never per tick).
    pub fn set_rules(&mut self, owner: &str, rules: Vec<Arc<Rule>>) {
        let old: Vec<String> = self
            .rules
            .get(owner)
            .map(|r| r.iter().map(|r| r.id.clone()).collect())
            .unwrap_or_default();
        let kept = |id: &String| rules.iter().any(|r| &r.id == id);
        let gone: Vec<String> = old.into_iter().filter(|id| !kept(id)).collect();
        if !gone.is_empty() {
            self.over.retain(|(r, _), _| !gone.contains(r));
            self.firing.retain(|(r, _), _| !gone.contains(r));
            self.last_fired.retain(|(r, _), _| !gone.contains(r));
        }
        if rules.is_empty() {
            self.rules.remove(owner);
        } else {
            self.rules.insert(owner.to_owned(), rules);
        }
        let ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.owner == owner && !a.armed)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.arm(&id);
        }
    }

    /// Forgets a deleted agent (no notices).
    pub fn forget(&mut self, agent: &str) {
        self.agents.remove(agent);
        self.over.retain(|(_, a), _| a != agent);
        self.firing.retain(|(_, a), _| a != agent);
        self.last_fired.retain(|(_, a), _| a != agent);
    }

    fn rules_for(&self, agent: &str) -> Vec<Arc<Rule>> {
        let Some(st) = self.agents.get(agent) else {
            return Vec::new();
        };
        self.rules
            .get(&st.owner)
            .map(|rules| {
                rules
                    .iter()
                    .filter(|r| in_scope(r, st.fleet.as_ref()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Puts the agent's next offline deadline into the set, if it has none and one of
    /// its offline rules is not firing yet.
    fn arm(&mut self, agent: &str) {
        let Some(st) = self.agents.get(agent) else {
            return;
        };
        let (Some(seen), false) = (st.last_seen, st.armed) else {
            return;
        };
        let next = self
            .rules_for(agent)
            .iter()
            .filter(|r| r.condition == Condition::AgentOffline)
            .filter(|r| !self.firing.contains_key(&key(r, agent)))
            .map(|r| seen + r.for_secs)
            .min();
        if let Some(at) = next {
            self.deadlines.insert((at, agent.to_owned()));
            if let Some(st) = self.agents.get_mut(agent) {
                st.armed = true;
            }
        }
    }

    fn fire(
        &mut self,
        rule: &Arc<Rule>,
        agent: &str,
        since: i64,
        now: i64,
        value: Option<f64>,
    ) -> Option<Notice> {
        let k = key(rule, agent);
        if self.firing.contains_key(&k) {
            return None;
        }
        let notified = self
            .last_fired
            .get(&k)
            .is_none_or(|t| now - t >= rule.cooldown_secs);
        if notified {
            self.last_fired.insert(k.clone(), now);
        }
        if rule.condition != Condition::PlaintextSecret {
            self.firing.insert(k, Firing { since, notified });
        }
        notified.then(|| Notice {
            rule: rule.clone(),
            agent_id: agent.to_owned(),
            event: Event::Firing,
            since,
            at: now,
            value,
        })
    }

    fn resolve(&mut self, rule: &Arc<Rule>, agent: &str, now: i64) -> Option<Notice> {
        let f = self.firing.remove(&key(rule, agent))?;
        f.notified.then(|| Notice {
            rule: rule.clone(),
            agent_id: agent.to_owned(),
            event: Event::Resolved,
            since: f.since,
            at: now,
            value: None,
        })
    }

    /// A heartbeat of `agent` at `now`.
    pub fn heartbeat(
        &mut self,
        agent: &str,
        owner: &str,
        fleet: Option<&str>,
        facts: &Facts,
        now: i64,
    ) -> Vec<Notice> {
        // Looked up before inserting, and the fleet copied only when it moved: a known
        // agent's heartbeat allocates nothing here.
        if !self.agents.contains_key(agent) {
            self.agents.insert(
                agent.to_owned(),
                AgentState {
                    owner: owner.to_owned(),
                    fleet: None,
                    last_seen: None,
                    armed: false,
                },
            );
        }
        if let Some(st) = self.agents.get_mut(agent) {
            if st.fleet.as_deref() != fleet {
                st.fleet = fleet.map(str::to_owned);
            }
            st.last_seen = Some(now);
        }
        let mut out = Vec::new();
        for rule in self.rules_for(agent) {
            let k = key(&rule, agent);
            let verdict = match rule.condition {
                Condition::AgentOffline => Some(false),
                Condition::StatusError => Some(facts.status_error),
                Condition::ConfigApplyFailed => Some(facts.config_failed),
                Condition::GatewayUnreachable => facts.gateway_unreachable,
                Condition::CpuAbove | Condition::MemoryAbove => {
                    let value = if rule.condition == Condition::CpuAbove {
                        facts.cpu
                    } else {
                        facts.memory
                    };
                    match value {
                        Some(v) if v > rule.threshold => {
                            let since = *self.over.entry(k.clone()).or_insert(now);
                            if now - since >= rule.for_secs {
                                out.extend(self.fire(&rule, agent, since, now, Some(v)));
                            }
                            None
                        }
                        Some(_) => {
                            self.over.remove(&k);
                            Some(false)
                        }
                        None => None,
                    }
                }
                Condition::PlaintextSecret => None,
            };
            match verdict {
                Some(true) => out.extend(self.fire(&rule, agent, now, now, None)),
                Some(false) => out.extend(self.resolve(&rule, agent, now)),
                None => {}
            }
        }
        self.arm(agent);
        out
    }

    /// The agent sent its secret in plaintext.
    pub fn plaintext_secret(&mut self, agent: &str, now: i64) -> Vec<Notice> {
        let rules = self.rules_for(agent);
        rules
            .iter()
            .filter(|r| r.condition == Condition::PlaintextSecret)
            .filter_map(|r| self.fire(r, agent, now, now, None))
            .collect()
    }

    /// Fires the offline rules whose deadline is due at `now`.
    pub fn tick(&mut self, now: i64) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Some((at, agent)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(st) = self.agents.get_mut(&agent) else {
                continue;
            };
            st.armed = false;
            let Some(seen) = st.last_seen else {
                continue;
            };
            for rule in self.rules_for(&agent) {
                if rule.condition == Condition::AgentOffline && seen + rule.for_secs <= now {
                    out.extend(self.fire(&rule, &agent, seen, now, None));
                }
            }
            self.arm(&agent);
        }
        out
    }

    /// How many agents and pending deadlines are held (for tests and figures).
    pub fn sizes(&self) -> (usize, usize) {
        (self.agents.len(), self.deadlines.len())
    }
}

#[cfg(test)]
mod tests;
