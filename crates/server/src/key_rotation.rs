//! `openclaw-fleet rotate-internal-key`: re-seals every registered sealed column
//! (`crypto::sealed_columns`) under a new internal key.
//!
//! Offline by design: every server must be stopped (the command takes the database's
//! maintenance lock, which a running server's shared lock denies), so no replica can
//! write under a key another cannot read. The pass opens with the old key (kept as
//! retired meanwhile) and seals with the new one, in committed batches: a pass that is
//! interrupted is simply run again, and skips what is done. Meanwhile `meta` holds
//! `rotation_to` and servers refuse to start.
//!
//! Keys kept in the data dir are handled whole: the new key is written to
//! `internal.key.next` (mode 0600), and at the end `internal.key` becomes
//! `internal.key.retired` and `.next` becomes `internal.key` (each step a rename, redone
//! on the next run if it was cut short). A key given by `INTERNAL_ENCRYPTION_KEY` or a
//! key file is the operator's to swap: the new one goes to `--new-key-file`. The retired
//! key is dropped by `--drop-retired` once no value is sealed under it.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context};
use serde_json::{json, Value};

use crate::crypto::at_rest::{AtRest, Slot};
use crate::crypto::internal_key::{self, InternalKey, KEY_FILE, NEXT_KEY_FILE, RETIRED_KEY_FILE};
use crate::crypto::sealed_columns::SEALED_COLUMNS;
use crate::settings::Settings;
use crate::store::{self, SharedStore};

pub struct RotateOptions {
    /// Where the new key is read from or written to, for keys kept outside the data dir.
    pub new_key_file: Option<PathBuf>,
    /// Re-seal at most this many values in this run.
    pub limit: Option<u64>,
    /// Values per committed batch.
    pub batch: u64,
    /// Drop the retired key instead of rotating.
    pub drop_retired: bool,
}

const SERVERS_RUNNING: &str = "a server is running on this database: stop every server \
    first (a server would go on writing under the old key), then run this again";

pub async fn rotate(settings: &Settings, opts: &RotateOptions) -> anyhow::Result<Value> {
    let store = store::connect(&settings.database_url()).await?;
    let _lock = store
        .maintenance_lock()
        .await?
        .ok_or_else(|| anyhow!(SERVERS_RUNNING))?;
    let Some(current_id) = store.meta("key_id").await? else {
        bail!("this database holds no sealed data yet: there is nothing to rotate");
    };
    let outside =
        internal_key::configured_outside(settings.internal_encryption_key_file.as_deref());
    let dir = &settings.data_dir;
    if outside {
        ensure!(
            opts.drop_retired || opts.new_key_file.is_some(),
            "the internal key is configured outside the data dir: give --new-key-file FILE \
             (read if it exists, else a new key is written there with mode 0600)"
        );
    } else {
        ensure!(
            opts.new_key_file.is_none(),
            "the internal key lives in the data dir and is rotated in place; --new-key-file \
             is for keys configured with INTERNAL_ENCRYPTION_KEY or a key file"
        );
        finish_swap(dir, &current_id)?;
    }
    let retired_id = store.meta("retired_key_id").await?;
    let target_id = store.meta("rotation_to").await?;
    if opts.drop_retired {
        return drop_retired(&store, dir, outside, &current_id, retired_id, target_id).await;
    }
    let current = match internal_key::resolve(
        dir,
        settings.internal_encryption_key_file.as_deref(),
        Some(&current_id),
    ) {
        Ok((key, _)) => key,
        Err(e) => return Err(e.context("the current internal key is needed to open the values")),
    };
    if let (None, Some(retired)) = (&target_id, &retired_id) {
        return Ok(json!({
            "done": true, "resealed": 0, "key_id": current_id, "retired_key_id": retired,
            "note": "the last rotation is complete; to rotate again, first drop the retired key \
                     (rotate-internal-key --drop-retired)",
        }));
    }
    let next_path = match &opts.new_key_file {
        Some(p) => p.clone(),
        None => dir.join(NEXT_KEY_FILE),
    };
    let next = match &target_id {
        Some(t) => {
            let key = internal_key::read_key_file(&next_path).with_context(|| {
                format!(
                    "the unfinished rotation to key id {t} needs that key in {}",
                    next_path.display()
                )
            })?;
            ensure!(
                key.id() == t,
                "{} holds key id {}, but the unfinished rotation is to key id {t}",
                next_path.display(),
                key.id()
            );
            key
        }
        None => {
            let key = next_key(&next_path)?;
            ensure!(key.id() != current.id(), "the new key is the current key");
            store.set_meta("rotation_to", key.id()).await?;
            key
        }
    };
    let (old_id, new_id) = (current.id().to_string(), next.id().to_string());
    let at_rest = AtRest::new(next, vec![current]);
    let resealed = reseal(&store, &at_rest, &new_id, opts).await?;
    let mut remaining = 0;
    for col in SEALED_COLUMNS {
        remaining += store.count_not_under(col, &new_id).await?;
    }
    if remaining > 0 {
        return Ok(json!({
            "done": false, "resealed": resealed, "remaining": remaining,
            "key_id": old_id, "rotating_to": new_id,
            "note": "run rotate-internal-key again to go on; servers refuse to start until it is done",
        }));
    }
    store.finish_rotation(&new_id, &old_id).await?;
    let note = if outside {
        format!(
            "configure every server with the new key ({}) in place of the old one before \
             starting them; keep the old key (id {old_id}) with the backups made before now",
            next_path.display()
        )
    } else {
        finish_swap(dir, &new_id)?;
        format!(
            "{} now holds the new key and {} the old one (id {old_id}): keep a copy of it \
             with the backups made before now, then drop it with --drop-retired",
            dir.join(KEY_FILE).display(),
            dir.join(RETIRED_KEY_FILE).display()
        )
    };
    Ok(json!({
        "done": true, "resealed": resealed, "key_id": new_id, "retired_key_id": old_id, "note": note,
    }))
}

/// Re-seals, in committed batches, every value not yet under `new_id`.
async fn reseal(
    store: &SharedStore,
    at_rest: &AtRest,
    new_id: &str,
    opts: &RotateOptions,
) -> anyhow::Result<u64> {
    let mut resealed = 0u64;
    for col in SEALED_COLUMNS {
        loop {
            let room = opts
                .limit
                .map_or(opts.batch, |l| l.saturating_sub(resealed).min(opts.batch));
            if room == 0 {
                return Ok(resealed);
            }
            let rows = store.sealed_not_under(col, new_id, room as i64).await?;
            if rows.is_empty() {
                break;
            }
            let mut changes = Vec::with_capacity(rows.len());
            for (row, value) in rows {
                let slot = Slot {
                    table: col.table,
                    column: col.column,
                    row: &row,
                };
                let plain = at_rest.open(slot, &value).map_err(|e| {
                    anyhow!(
                        "{}.{} of row {row} cannot be opened ({e}); nothing of it was changed",
                        col.table,
                        col.column
                    )
                })?;
                let sealed = at_rest.seal(slot, &plain);
                changes.push((row, value, sealed));
            }
            resealed += store.replace_sealed(col, &changes).await?;
        }
    }
    Ok(resealed)
}

/// The key at `path`, or a new one written there (mode 0600).
fn next_key(path: &Path) -> anyhow::Result<InternalKey> {
    if path.exists() {
        return internal_key::read_key_file(path);
    }
    let key = InternalKey::generate();
    internal_key::write_key_file(path, &key)?;
    Ok(key)
}

/// Once the database names `.next`'s key as current: `internal.key` → `.retired`,
/// `.next` → `internal.key`. Safe to repeat after any interruption.
fn finish_swap(dir: &Path, current_id: &str) -> anyhow::Result<()> {
    let (key, next, retired) = (
        dir.join(KEY_FILE),
        dir.join(NEXT_KEY_FILE),
        dir.join(RETIRED_KEY_FILE),
    );
    if !next.exists() || internal_key::read_key_file(&next)?.id() != current_id {
        return Ok(());
    }
    if key.exists() && internal_key::read_key_file(&key)?.id() != current_id {
        ensure!(
            !retired.exists(),
            "{} exists; move it away first",
            retired.display()
        );
        std::fs::rename(&key, &retired).context("cannot retire the old key file")?;
    }
    std::fs::rename(&next, &key).context("cannot put the new key file in place")?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

async fn drop_retired(
    store: &SharedStore,
    dir: &Path,
    outside: bool,
    current_id: &str,
    retired_id: Option<String>,
    target_id: Option<String>,
) -> anyhow::Result<Value> {
    ensure!(
        target_id.is_none(),
        "a rotation is not finished: run rotate-internal-key first"
    );
    let Some(retired) = retired_id else {
        bail!("there is no retired key to drop");
    };
    let mut remaining = 0;
    for col in SEALED_COLUMNS {
        remaining += store.count_not_under(col, current_id).await?;
    }
    ensure!(
        remaining == 0,
        "{remaining} values are not sealed under the current key; run rotate-internal-key first"
    );
    store.delete_meta("retired_key_id").await?;
    let file = dir.join(RETIRED_KEY_FILE);
    if !outside && file.exists() {
        std::fs::remove_file(&file).with_context(|| format!("cannot remove {}", file.display()))?;
    }
    Ok(json!({ "dropped": retired, "key_id": current_id }))
}
