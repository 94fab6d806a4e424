//! The agent's part of OpenClaw's `.env`: one block between two marker lines
//! that the agent rewrites whole on every apply, so a variable a previous
//! config version set and the new one no longer holds disappears with it.
//! Every line outside the block is the owner's and is kept byte for byte
//! (line endings included). The block is always written last, because dotenv
//! lets the last assignment of a name win. The rules are pinned by
//! `spec/test-vectors/apply.json`.

use std::collections::BTreeMap;

use openclaw_fleet_protocol::dotenv_quote;
use zeroize::Zeroizing;

pub const BEGIN_MARKER: &str = "# >>> openclaw-fleet managed >>>";
pub const END_MARKER: &str = "# <<< openclaw-fleet managed <<<";

/// Why the `.env` file could not be rewritten. No variant carries a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvFileError {
    #[error("the managed block of .env has a begin marker without an end marker (or the reverse)")]
    UnmatchedMarker,
    #[error(".env is not valid UTF-8")]
    NotUtf8,
    #[error("the managed block of .env appears more than once")]
    DuplicateBlock,
    #[error("the value of {0} cannot be written to .env")]
    Unrepresentable(String),
}

/// The `.env` content with `env` as the managed block: `existing` minus its
/// old block, then the new block (none when `env` is empty). The block's
/// lines end in CRLF when `existing` holds one CRLF, else in LF.
pub fn render(
    existing: &str,
    env: &BTreeMap<String, String>,
) -> Result<Zeroizing<String>, EnvFileError> {
    let newline = if existing.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = Zeroizing::new(String::with_capacity(existing.len() + 64 * env.len()));
    for line in foreign_lines(existing)? {
        out.push_str(line);
    }
    if env.is_empty() {
        return Ok(out);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(newline);
    }
    out.push_str(BEGIN_MARKER);
    out.push_str(newline);
    for (name, value) in env {
        let quote = dotenv_quote(value)
            .filter(|_| !value.contains(['\0', '\n', '\r']))
            .ok_or_else(|| EnvFileError::Unrepresentable(name.clone()))?;
        out.push_str(name);
        out.push('=');
        out.push(quote);
        out.push_str(value);
        out.push(quote);
        out.push_str(newline);
    }
    out.push_str(END_MARKER);
    out.push_str(newline);
    Ok(out)
}

enum Line {
    Begin,
    End,
    Other,
}

/// A marker line is the marker alone, with any spaces, tabs, CR or LF around it.
fn classify(line: &str) -> Line {
    match line.trim_matches([' ', '\t', '\r', '\n']) {
        BEGIN_MARKER => Line::Begin,
        END_MARKER => Line::End,
        _ => Line::Other,
    }
}

/// The lines outside the managed block, each with its own line ending,
/// refusing a file whose markers do not pair up: guessing where a block ends
/// could delete the owner's lines.
fn foreign_lines(existing: &str) -> Result<Vec<&str>, EnvFileError> {
    let mut kept = Vec::new();
    let mut inside = false;
    let mut blocks = 0;
    for line in existing.split_inclusive('\n') {
        match (classify(line), inside) {
            (Line::Begin, false) => {
                inside = true;
                blocks += 1;
            }
            (Line::End, true) => inside = false,
            (Line::Begin, true) | (Line::End, false) => return Err(EnvFileError::UnmatchedMarker),
            (Line::Other, true) => {}
            (Line::Other, false) => kept.push(line),
        }
    }
    if inside {
        return Err(EnvFileError::UnmatchedMarker);
    }
    if blocks > 1 {
        return Err(EnvFileError::DuplicateBlock);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keeps_foreign_lines_and_appends_the_block() {
        let existing = "# mine\nFOO=bar\n\nexport BAZ=\"q\"\n";
        let out = render(existing, &env(&[("API_KEY", "sk-1")])).unwrap();
        assert_eq!(
            out.as_str(),
            format!("# mine\nFOO=bar\n\nexport BAZ=\"q\"\n{BEGIN_MARKER}\nAPI_KEY='sk-1'\n{END_MARKER}\n")
        );
    }

    #[test]
    fn removes_stale_vars_and_keeps_lines_around_the_old_block() {
        let first = render("A=1\n", &env(&[("OLD", "x"), ("KEEP", "y")])).unwrap();
        let with_tail = format!("{}TAIL=2\n", first.as_str());
        let second = render(&with_tail, &env(&[("KEEP", "z")])).unwrap();
        assert_eq!(
            second.as_str(),
            format!("A=1\nTAIL=2\n{BEGIN_MARKER}\nKEEP='z'\n{END_MARKER}\n")
        );
    }

    #[test]
    fn is_idempotent() {
        let vars = env(&[("B", "2"), ("A", "it's")]);
        let once = render("X=1\n", &vars).unwrap();
        let twice = render(&once, &vars).unwrap();
        assert_eq!(once.as_str(), twice.as_str());
    }

    #[test]
    fn empty_env_removes_the_block() {
        let with = render("X=1", &env(&[("A", "1")])).unwrap();
        assert_eq!(render(&with, &BTreeMap::new()).unwrap().as_str(), "X=1\n");
    }

    #[test]
    fn quotes_so_dotenv_reads_the_value_back() {
        let out = render("", &env(&[("A", "it's"), ("B", r#"it's \n"#)])).unwrap();
        assert!(out.contains("A=\"it's\"\n"));
        assert!(out.contains("B=`it's \\n`\n"));
        let bad = env(&[("C", "'\"`")]);
        assert_eq!(
            render("", &bad).unwrap_err(),
            EnvFileError::Unrepresentable("C".into())
        );
    }

    #[test]
    fn refuses_unpaired_or_repeated_markers() {
        let open = format!("A=1\n{BEGIN_MARKER}\nB=2\n");
        assert_eq!(
            render(&open, &BTreeMap::new()).unwrap_err(),
            EnvFileError::UnmatchedMarker
        );
        let close = format!("{END_MARKER}\n");
        assert_eq!(
            render(&close, &BTreeMap::new()).unwrap_err(),
            EnvFileError::UnmatchedMarker
        );
        let two = format!("{BEGIN_MARKER}\n{END_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n");
        assert_eq!(
            render(&two, &BTreeMap::new()).unwrap_err(),
            EnvFileError::DuplicateBlock
        );
    }
}
