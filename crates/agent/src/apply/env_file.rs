//! The agent's part of OpenClaw's `.env`: one block between two marker lines
//! that the agent rewrites whole on every apply, so a variable a previous
//! config version set and the new one no longer holds disappears with it.
//! Every line outside the block is the owner's and is kept as it was. The
//! block is always written last, because dotenv lets the last assignment of
//! a name win.

use std::collections::BTreeMap;

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
    #[error("the value of {0} holds every dotenv quote character and cannot be written")]
    Unrepresentable(String),
}

/// The `.env` content with `env` as the managed block: `existing` minus its
/// old block, then the new block (none when `env` is empty).
pub fn render(
    existing: &str,
    env: &BTreeMap<String, String>,
) -> Result<Zeroizing<String>, EnvFileError> {
    let mut out = Zeroizing::new(String::with_capacity(existing.len() + 64 * env.len()));
    for line in foreign_lines(existing)? {
        out.push_str(line);
        out.push('\n');
    }
    if !env.is_empty() {
        out.push_str(BEGIN_MARKER);
        out.push('\n');
        for (name, value) in env {
            out.push_str(name);
            out.push('=');
            push_quoted(&mut out, name, value)?;
            out.push('\n');
        }
        out.push_str(END_MARKER);
        out.push('\n');
    }
    Ok(out)
}

enum Line {
    Begin,
    End,
    Other,
}

fn classify(line: &str) -> Line {
    match line.trim_end() {
        BEGIN_MARKER => Line::Begin,
        END_MARKER => Line::End,
        _ => Line::Other,
    }
}

/// The lines outside the managed block, refusing a file whose markers do not
/// pair up: guessing where a block ends could delete the owner's lines.
fn foreign_lines(existing: &str) -> Result<Vec<&str>, EnvFileError> {
    let mut kept = Vec::new();
    let mut inside = false;
    let mut blocks = 0;
    for line in existing.lines() {
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

/// Quotes `value` so that dotenv reads it back unchanged: single quotes are
/// literal; double quotes expand `\n`/`\r`, so they serve only values without
/// those sequences; backticks are the last resort.
fn push_quoted(out: &mut String, name: &str, value: &str) -> Result<(), EnvFileError> {
    let quote = if !value.contains('\'') {
        '\''
    } else if !value.contains('"') && !value.contains("\\n") && !value.contains("\\r") {
        '"'
    } else if !value.contains('`') {
        '`'
    } else {
        return Err(EnvFileError::Unrepresentable(name.to_owned()));
    };
    out.push(quote);
    out.push_str(value);
    out.push(quote);
    Ok(())
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
        let out = render("", &env(&[("A", "it's"), ("B", r#"it's "x" \n"#)])).unwrap();
        assert!(out.contains("A=\"it's\"\n"));
        assert!(out.contains("B=`it's \"x\" \\n`\n"));
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
