//! Reads `--env-file`: dotenv lines `NAME=value` (optionally `export NAME=…`),
//! blank lines and `#` comments. A value is taken literally: inside matching
//! single quotes, double quotes or backticks (the quoting the host agent
//! writes), or bare up to a ` #` comment, trimmed. Nothing is expanded: a
//! `$VAR` stays `$VAR`, so no variable of the operator's own shell can leak
//! into a fleet's config (the reason this is not a general dotenv parser).
//! Errors name the line number, never the line.

use openclaw_fleet_protocol::valid_env_name;
use zeroize::Zeroizing;

use crate::error::{CtlError, Result};

/// The `(name, value)` pairs of a dotenv text, in file order.
pub fn parse(text: &str, origin: &str) -> Result<Vec<(String, Zeroizing<String>)>> {
    let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let at = || format!("{origin}, line {}", i + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((name, rest)) = line.split_once('=') else {
            return Err(CtlError::usage(format!("{}: expected NAME=value", at())));
        };
        let name = name.trim_end();
        if !valid_env_name(name) {
            return Err(CtlError::usage(format!(
                "{}: a variable name must match ^[A-Z_][A-Z0-9_]*$",
                at()
            )));
        }
        let value = value_of(rest.trim_start()).ok_or_else(|| {
            CtlError::usage(format!(
                "{}: unterminated or trailing text after a quoted value",
                at()
            ))
        })?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(CtlError::usage(format!("{}: {name} is set twice", at())));
        }
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

fn value_of(rest: &str) -> Option<Zeroizing<String>> {
    let Some(quote) = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))
    else {
        let bare = match rest.find(" #") {
            Some(i) => &rest[..i],
            None => rest,
        };
        return Some(Zeroizing::new(bare.trim_end().to_owned()));
    };
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    let after = inner[end + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    Some(Zeroizing::new(inner[..end].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text, "t")
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.as_str().to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_common_forms_literally() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC='a b'\nD=\"x $HOME y\"\nE=`a'b\"c`\nF=\nG='#not a comment'\nH=$PATH\n";
        assert_eq!(
            pairs(text),
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "a b"),
                ("D", "x $HOME y"),
                ("E", "a'b\"c"),
                ("F", ""),
                ("G", "#not a comment"),
                ("H", "$PATH"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn reads_back_what_the_agent_writes() {
        let text = "# >>> openclaw-fleet managed >>>\nANTHROPIC_API_KEY='sk-ant-1'\nQ=\"it's\"\n# <<< openclaw-fleet managed <<<\n";
        assert_eq!(
            pairs(text),
            [("ANTHROPIC_API_KEY", "sk-ant-1"), ("Q", "it's")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn refuses_without_echoing_the_line() {
        for bad in [
            "sk-ant-SECRET",
            "A='sk-ant-SECRET",
            "A='x' sk-ant-SECRET",
            "A=1\nA=2",
            "sk-ant-SECRET=1",
        ] {
            let err = parse(bad, "f.env").unwrap_err().to_string();
            assert!(err.contains("f.env, line"), "{err}");
            assert!(!err.contains("SECRET"), "{err}");
        }
    }
}
