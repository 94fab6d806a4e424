//! The owner's alert rules and delivery log. Rules are owner-scoped in SQL (another
//! owner's rule is not found: 404); every input is checked before anything is written
//! (clear 400s); each change writes its activity entry in its own transaction and
//! reloads the evaluator here and, through the bus, on the other replicas. The webhook
//! URL and the signing secret are sealed before they reach the store; the secret is
//! answered once, at creation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;
use crate::alerts::{webhook, Condition, WebhookKind};
use crate::store::{AlertRuleRow, DeliveryRow};

/// Offline and above-threshold durations: at most a week.
const MAX_MINUTES: i64 = 7 * 24 * 60;
/// Cooldown: at most a day.
const MAX_COOLDOWN_MINUTES: i64 = 24 * 60;
const DEFAULT_COOLDOWN_MINUTES: i64 = 15;
/// CPU and memory rules without `minutes` hold for this long.
const DEFAULT_ABOVE_MINUTES: i64 = 5;
/// Rules per owner at most.
const MAX_RULES: usize = 100;
/// Deliveries per page at most.
pub const MAX_DELIVERY_PAGE: i64 = 200;

/// Where notices go. The URL is a secret (Slack and Discord URLs embed a token).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `generic` (signed JSON), `slack` or `discord`.
    pub kind: String,
    /// `https://…` (or `http://…`); stored sealed, never shown again.
    pub url: String,
}

/// A new rule (`POST`) or the fields to change (`PATCH`; `condition` cannot change).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleInput {
    pub name: Option<String>,
    /// agent_offline, status_error, config_apply_failed, gateway_unreachable, cpu_above,
    /// memory_above, plaintext_secret.
    pub condition: Option<String>,
    /// Percent, above 0 and below 100 (cpu_above and memory_above only).
    pub threshold: Option<f64>,
    /// agent_offline: 1 to 10080 (required); cpu_above, memory_above: 0 to 10080
    /// (default 5); not for the others.
    pub minutes: Option<i64>,
    /// Only agents of this fleet (`null`: every agent of the owner).
    #[schema(value_type = Option<String>)]
    pub fleet_id: Option<Value>,
    /// After a firing notice, further firings of the same rule and agent are quiet for
    /// this long: 0 to 1440 (default 15).
    pub cooldown_minutes: Option<i64>,
    pub enabled: Option<bool>,
    pub webhook: Option<WebhookInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub kind: String,
    /// The URL's host only (the URL itself is never shown again).
    pub host: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleView {
    pub id: String,
    pub name: String,
    pub condition: String,
    pub threshold: Option<f64>,
    pub minutes: Option<i64>,
    pub fleet_id: Option<String>,
    pub cooldown_minutes: i64,
    pub enabled: bool,
    pub webhook: WebhookView,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&AlertRuleRow> for AlertRuleView {
    fn from(r: &AlertRuleRow) -> Self {
        let cond = Condition::parse(&r.condition);
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            condition: r.condition.clone(),
            threshold: r
                .threshold
                .filter(|_| cond.is_some_and(Condition::has_threshold)),
            minutes: cond
                .is_some_and(Condition::has_duration)
                .then_some(r.for_secs / 60),
            fleet_id: r.fleet_id.clone(),
            cooldown_minutes: r.cooldown_secs / 60,
            enabled: r.enabled != 0,
            webhook: WebhookView {
                kind: r.webhook_kind.clone(),
                host: r.webhook_host.clone(),
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A created rule and its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedAlertRule {
    pub rule: AlertRuleView,
    /// `ocf_whs_…`: the HMAC-SHA256 key of the `X-OpenClaw-Fleet-Signature` header.
    pub signing_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Increasing; pass the last one seen as `before` for the next page.
    pub id: i64,
    /// When the last attempt ended, Unix seconds.
    pub ts: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// `firing` or `resolved`.
    pub event: String,
    /// The receiver's last HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// What failed, if it did (never the URL).
    pub error: Option<String>,
    pub attempts: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; `null` when this is the last.
    pub next_before: Option<i64>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        Self {
            id: d.id,
            ts: d.ts,
            rule_id: d.rule_id,
            rule_name: d.rule_name,
            agent_id: d.agent_id,
            agent_name: d.agent_name,
            event: d.event,
            http_status: d.http_status,
            error: d.error,
            attempts: d.attempts,
        }
    }
}

/// Checks threshold and duration for `cond`; answers (threshold, seconds).
fn check_limits(
    cond: Condition,
    threshold: Option<f64>,
    minutes: Option<i64>,
) -> ApiResult<(Option<f64>, i64)> {
    let threshold = match (cond.has_threshold(), threshold) {
        (true, Some(t)) if t.is_finite() && t > 0.0 && t < 100.0 => Some(t),
        (true, Some(_)) => {
            return Err(ApiError::invalid(
                "threshold must be a percentage above 0 and below 100",
            ))
        }
        (true, None) => {
            return Err(ApiError::invalid(format!(
                "threshold is required for {}",
                cond.as_str()
            )))
        }
        (false, Some(_)) => {
            return Err(ApiError::invalid(
                "threshold applies only to cpu_above and memory_above",
            ))
        }
        (false, None) => None,
    };
    let minutes = match (cond, minutes) {
        (Condition::AgentOffline, None) => {
            return Err(ApiError::invalid("minutes is required for agent_offline"))
        }
        (Condition::AgentOffline, Some(m)) if !(1..=MAX_MINUTES).contains(&m) => {
            return Err(ApiError::invalid(format!(
                "minutes must be between 1 and {MAX_MINUTES}"
            )))
        }
        (c, Some(m)) if c.has_duration() && !(0..=MAX_MINUTES).contains(&m) => {
            return Err(ApiError::invalid(format!(
                "minutes must be between 0 and {MAX_MINUTES}"
            )))
        }
        (c, Some(m)) if c.has_duration() => m,
        (c, None) if c.has_duration() => DEFAULT_ABOVE_MINUTES,
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "minutes applies only to agent_offline, cpu_above and memory_above",
            ))
        }
        (_, None) => 0,
    };
    Ok((threshold, minutes * 60))
}

fn check_cooldown(m: i64) -> ApiResult<i64> {
    if (0..=MAX_COOLDOWN_MINUTES).contains(&m) {
        Ok(m * 60)
    } else {
        Err(ApiError::invalid(format!(
            "cooldown_minutes must be between 0 and {MAX_COOLDOWN_MINUTES}"
        )))
    }
}

fn parse_rule_id(id: &str) -> ApiResult<String> {
    parse_agent_id(id).map(|i| i.to_string())
}

impl Owner {
    /// The webhook's kind, host and sealed URL for the rule `rule_id`.
    fn seal_webhook(&self, rule_id: &str, w: &WebhookInput) -> ApiResult<(String, String, String)> {
        let kind = WebhookKind::parse(&w.kind)
            .ok_or_else(|| ApiError::invalid("webhook.kind must be generic, slack or discord"))?;
        let host = webhook::check_url(w.url.trim())
            .map_err(|m| ApiError::invalid(format!("webhook.url: {m}")))?;
        let sealed = self.state.seal(
            "alert_rules",
            "url_sealed",
            rule_id,
            w.url.trim().as_bytes(),
        );
        Ok((kind.as_str().into(), host, sealed))
    }

    /// A `fleet_id` of the input: `None` absent, `Some(None)` null, else the owner's fleet.
    async fn rule_fleet(&self, v: Option<&Value>) -> ApiResult<Option<Option<String>>> {
        match v {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => {
                Ok(Some(Some(self.own_fleet(s).await.map_err(|_| {
                    ApiError::invalid("fleet_id: no such fleet")
                })?)))
            }
            Some(_) => Err(ApiError::invalid("fleet_id must be a fleet id or null")),
        }
    }

    fn rule_entry(&self, action: Action, r: &AlertRuleRow) -> crate::store::Activity {
        let mut e = self.entry(action);
        e.object_id = Some(r.id.clone());
        e.object_name = Some(r.name.clone());
        e
    }

    pub async fn alert_rules(&self) -> ApiResult<Vec<AlertRuleView>> {
        let rows = self.state.0.store.alert_rules(self.id()).await?;
        Ok(rows.iter().map(AlertRuleView::from).collect())
    }

    pub async fn alert_rule(&self, id: &str) -> ApiResult<AlertRuleView> {
        let id = parse_rule_id(id)?;
        let row = self.state.0.store.alert_rule(self.id(), &id).await?;
        row.as_ref()
            .map(AlertRuleView::from)
            .ok_or(ApiError::NotFound)
    }

    pub async fn create_alert_rule(&self, input: &AlertRuleInput) -> ApiResult<CreatedAlertRule> {
        let name = Name::parse(
            input
                .name
                .as_deref()
                .ok_or_else(|| ApiError::invalid("name is required"))?,
        )
        .map_err(crate::json::field)?;
        let cond = input
            .condition
            .as_deref()
            .ok_or_else(|| ApiError::invalid("condition is required"))?;
        let cond = Condition::parse(cond).ok_or_else(|| {
            ApiError::invalid(
                "condition must be one of agent_offline, status_error, config_apply_failed, \
                 gateway_unreachable, cpu_above, memory_above, plaintext_secret",
            )
        })?;
        let (threshold, for_secs) = check_limits(cond, input.threshold, input.minutes)?;
        let cooldown_secs =
            check_cooldown(input.cooldown_minutes.unwrap_or(DEFAULT_COOLDOWN_MINUTES))?;
        let w = input
            .webhook
            .as_ref()
            .ok_or_else(|| ApiError::invalid("webhook is required: {kind, url}"))?;
        let id = AgentId::new_v4().to_string();
        let (kind, host, url_sealed) = self.seal_webhook(&id, w)?;
        let fleet_id = self.rule_fleet(input.fleet_id.as_ref()).await?.flatten();
        if self.state.0.store.alert_rules(self.id()).await?.len() >= MAX_RULES {
            return Err(ApiError::Conflict(format!(
                "an account has at most {MAX_RULES} alert rules"
            )));
        }
        let secret = tokens::generate(tokens::WEBHOOK_PREFIX);
        let now = self.state.now();
        let row = AlertRuleRow {
            id: id.clone(),
            owner_id: self.id().into(),
            fleet_id,
            name: name.as_str().into(),
            condition: cond.as_str().into(),
            threshold,
            for_secs,
            cooldown_secs,
            enabled: i64::from(input.enabled.unwrap_or(true)),
            webhook_kind: kind,
            webhook_host: host,
            url_sealed,
            secret_sealed: self
                .state
                .seal("alert_rules", "secret_sealed", &id, secret.as_bytes()),
            created_at: now,
            updated_at: now,
        };
        let entry = self.rule_entry(Action::AlertRuleCreated, &row);
        self.state.0.store.create_alert_rule(&row, &entry).await?;
        self.state.alert_rules_changed(self.id()).await?;
        Ok(CreatedAlertRule {
            rule: AlertRuleView::from(&row),
            signing_secret: secret.as_str().to_owned(),
        })
    }

    pub async fn update_alert_rule(
        &self,
        id: &str,
        input: &AlertRuleInput,
    ) -> ApiResult<AlertRuleView> {
        let id = parse_rule_id(id)?;
        let mut row = self
            .state
            .0
            .store
            .alert_rule(self.id(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if input.condition.is_some() {
            return Err(ApiError::invalid(
                "condition cannot be changed; create a new rule",
            ));
        }
        let cond = Condition::parse(&row.condition)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored alert condition unknown")))?;
        let mut fields: Vec<&str> = Vec::new();
        if let Some(n) = &input.name {
            row.name = Name::parse(n).map_err(crate::json::field)?.as_str().into();
            fields.push("name");
        }
        let threshold = input
            .threshold
            .or(row.threshold.filter(|_| cond.has_threshold()));
        let minutes = input
            .minutes
            .or(cond.has_duration().then_some(row.for_secs / 60));
        (row.threshold, row.for_secs) = check_limits(cond, threshold, minutes)?;
        if input.threshold.is_some() {
            fields.push("threshold");
        }
        if input.minutes.is_some() {
            fields.push("minutes");
        }
        if let Some(m) = input.cooldown_minutes {
            row.cooldown_secs = check_cooldown(m)?;
            fields.push("cooldown_minutes");
        }
        if let Some(e) = input.enabled {
            row.enabled = i64::from(e);
            fields.push("enabled");
        }
        if let Some(w) = &input.webhook {
            (row.webhook_kind, row.webhook_host, row.url_sealed) = self.seal_webhook(&id, w)?;
            fields.push("webhook");
        }
        if let Some(f) = self.rule_fleet(input.fleet_id.as_ref()).await? {
            row.fleet_id = f;
            fields.push("fleet_id");
        }
        if fields.is_empty() {
            return Err(ApiError::invalid("nothing to change"));
        }
        row.updated_at = self.state.now();
        let mut entry = self.rule_entry(Action::AlertRuleEdited, &row);
        entry.detail = Some(serde_json::json!({ "fields": fields }).to_string());
        if !self.state.0.store.update_alert_rule(&row, &entry).await? {
            return Err(ApiError::NotFound);
        }
        self.state.alert_rules_changed(self.id()).await?;
        Ok(AlertRuleView::from(&row))
    }

    pub async fn delete_alert_rule(&self, id: &str) -> ApiResult<()> {
        let id = parse_rule_id(id)?;
        let row = self
            .state
            .0
            .store
            .alert_rule(self.id(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let entry = self.rule_entry(Action::AlertRuleDeleted, &row);
        if !self
            .state
            .0
            .store
            .delete_alert_rule(self.id(), &id, &entry)
            .await?
        {
            return Err(ApiError::NotFound);
        }
        self.state.alert_rules_changed(self.id()).await
    }

    /// A page of the owner's deliveries, newest first (see `activity` for the paging).
    pub async fn alert_deliveries(
        &self,
        before: Option<i64>,
        rule_id: Option<&str>,
        limit: i64,
    ) -> ApiResult<DeliveryPage> {
        if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_DELIVERY_PAGE}"
            )));
        }
        if before.is_some_and(|b| b < 1) {
            return Err(ApiError::invalid("before must be a delivery id (≥ 1)"));
        }
        let rule_id = match rule_id {
            Some(r) => {
                Some(parse_rule_id(r).map_err(|_| ApiError::invalid("rule_id must be a UUID"))?)
            }
            None => None,
        };
        let rows = self
            .state
            .0
            .store
            .deliveries(
                self.id(),
                before.unwrap_or(i64::MAX),
                rule_id.as_deref(),
                limit,
            )
            .await?;
        let full = rows.len() as i64 == limit;
        let deliveries: Vec<DeliveryView> = rows.into_iter().map(DeliveryView::from).collect();
        let next_before = if full {
            deliveries.last().map(|d| d.id)
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries,
            next_before,
        })
    }
}
