//! Every column the at-rest layer seals, in ONE list: the key rotation pass re-seals
//! exactly these, and `audit` opens exactly these. A new sealed column is registered
//! here and nowhere else (and its table in `store::maintenance::TEXT_COLUMNS`, with the
//! same row expression, so the audit reads it).

/// What a sealed column must hold once opened (checked by `audit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    /// An agent secret (`ocf_as_…` or another opaque secret).
    AgentSecret,
    /// A SPEC §4 config envelope; with `for_row_agent`, for the agent the row names.
    ConfigEnvelope { for_row_agent: bool },
    /// A config history envelope for the agent and version its row names.
    HistoryEnvelope,
    /// An alert rule's webhook URL (`http://` or `https://`).
    WebhookUrl,
    /// An alert rule's webhook signing secret (`ocf_whs_…`).
    WebhookSecret,
}

/// A sealed column and how its rows are named in the AAD (`table|column|row|key id`).
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    /// The SQL expression whose text value is the AAD's row (usually the primary key).
    pub row: &'static str,
    pub column: &'static str,
    pub plaintext: Plaintext,
}

pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "agents",
        row: "id",
        column: "secret_sealed",
        plaintext: Plaintext::AgentSecret,
    },
    SealedColumn {
        table: "agents",
        row: "id",
        column: "config_sealed",
        plaintext: Plaintext::ConfigEnvelope {
            for_row_agent: true,
        },
    },
    SealedColumn {
        table: "config_history",
        row: crate::store::HISTORY_ROW_SQL,
        column: "envelope_sealed",
        plaintext: Plaintext::HistoryEnvelope,
    },
    SealedColumn {
        table: "alert_rules",
        row: "id",
        column: "url_sealed",
        plaintext: Plaintext::WebhookUrl,
    },
    SealedColumn {
        table: "alert_rules",
        row: "id",
        column: "secret_sealed",
        plaintext: Plaintext::WebhookSecret,
    },
];

/// The registered sealed column `table.column`, if it is one.
pub fn find(table: &str, column: &str) -> Option<&'static SealedColumn> {
    SEALED_COLUMNS
        .iter()
        .find(|c| c.table == table && c.column == column)
}
