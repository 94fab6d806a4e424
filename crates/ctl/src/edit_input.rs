//! Turns the edit flags of `config set` / `config apply` into one
//! [`DocumentEdit`]: `--env KEY=VALUE` or `--env KEY` (prompted), `--unset`,
//! dotenv files and JSON5 fragments. Standard input can feed only one of them.
//! Parse errors name the file and position, never the text around it.

use openclaw_fleet_protocol::{valid_env_name, DocumentEdit};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cli::EditArgs;
use crate::envfile;
use crate::error::{CtlError, Result};
use crate::input;

fn uses_stdin(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// How many of the edit's inputs read standard input (at most one may).
pub fn stdin_readers(args: &EditArgs) -> usize {
    args.env_file
        .iter()
        .chain(&args.openclaw)
        .filter(|p| uses_stdin(p))
        .count()
}

pub fn build(args: &EditArgs) -> Result<DocumentEdit> {
    let mut edit = DocumentEdit::default();
    let mut argv_values = false;
    for item in &args.env {
        match item.split_once('=') {
            Some((name, value)) => {
                argv_values = true;
                edit.set_env(name, Zeroizing::new(value.to_owned()))?;
            }
            None => {
                if !valid_env_name(item) {
                    return Err(CtlError::usage(
                        "--env expects KEY=VALUE or KEY, with KEY matching ^[A-Z_][A-Z0-9_]*$",
                    ));
                }
                let value =
                    input::prompt(&format!("Value for {item}"), "use --env-file or `env set`")?;
                edit.set_env(item, value)?;
            }
        }
    }
    for name in &args.unset {
        edit.unset_env(name)?;
    }
    for path in &args.env_file {
        let text = input::read_text(path)?;
        for (name, value) in envfile::parse(&text, &path.display().to_string())? {
            edit.set_env(&name, value)?;
        }
    }
    for path in &args.openclaw {
        edit.merge_openclaw(read_fragment(path)?)?;
    }
    if edit.is_empty() {
        return Err(CtlError::usage(
            "nothing to change: give --env, --unset, --env-file or --openclaw",
        ));
    }
    if argv_values {
        eprintln!(
            "note: values given as --env KEY=VALUE are visible to other users (ps) and kept in \
             shell history; for secrets use --env KEY (prompted), --env-file or `env set`"
        );
    }
    Ok(edit)
}

fn read_fragment(path: &std::path::Path) -> Result<Value> {
    let text = input::read_text(path)?;
    json5::from_str::<Value>(&text).map_err(|e| {
        let at = match e {
            json5::Error::Message {
                location: Some(l), ..
            } => format!(" (line {}, column {})", l.line, l.column),
            json5::Error::Message { .. } => String::new(),
        };
        CtlError::usage(format!("{} is not valid JSON5{at}", path.display()))
    })
}
