//! Where secrets come from: a file, standard input (`-`), or a prompt on the
//! terminal without echo. Never from a command-line argument, which every
//! user of the machine can read in `ps` and which shells keep in history.
//! One trailing line break is removed; anything else is kept as typed.

use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{CtlError, Result};

/// Where one secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Stdin,
    Prompt,
}

impl SecretSource {
    /// `-` means standard input; no path means a prompt.
    pub fn from_arg(path: Option<&Path>) -> Self {
        match path {
            Some(p) if p.as_os_str() == "-" => Self::Stdin,
            Some(p) => Self::File(p.to_owned()),
            None => Self::Prompt,
        }
    }
}

fn strip_line_break(mut s: Zeroizing<String>) -> Zeroizing<String> {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

fn read_stdin() -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| CtlError::io("cannot read standard input", e))?;
    Ok(strip_line_break(buf))
}

fn read_file(path: &Path) -> Result<Zeroizing<String>> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} is readable by other users; chmod 600 it",
                path.display()
            );
        }
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| CtlError::file(path, "read", e))?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CtlError::usage(format!("{} is not UTF-8 text", path.display())))?;
    Ok(strip_line_break(Zeroizing::new(text.to_owned())))
}

/// Prompts on the controlling terminal without echo.
pub fn prompt(label: &str, flag_hint: &str) -> Result<Zeroizing<String>> {
    rpassword::prompt_password(format!("{label}: "))
        .map(Zeroizing::new)
        .map_err(|_| {
            CtlError::usage(format!(
                "no terminal to ask for the {} on: {flag_hint}",
                label.to_lowercase()
            ))
        })
}

/// Reads one secret; an empty one is refused.
pub fn read_secret(
    source: &SecretSource,
    label: &str,
    flag_hint: &str,
) -> Result<Zeroizing<String>> {
    let secret = match source {
        SecretSource::File(p) => read_file(p)?,
        SecretSource::Stdin => read_stdin()?,
        SecretSource::Prompt => prompt(label, flag_hint)?,
    };
    if secret.is_empty() {
        return Err(CtlError::usage(format!(
            "the {} is empty",
            label.to_lowercase()
        )));
    }
    Ok(secret)
}

/// A value piped into standard input, or typed at a prompt when standard
/// input is a terminal.
pub fn read_value(label: &str) -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        prompt(label, "pipe the value into standard input")
    } else {
        read_stdin()
    }
}

/// Reads a whole text file (`-`: standard input) that may hold secrets.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>> {
    if path.as_os_str() == "-" {
        let mut buf = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| CtlError::io("cannot read standard input", e))?;
        return Ok(buf);
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| CtlError::file(path, "read", e))?);
    std::str::from_utf8(&bytes)
        .map(|t| Zeroizing::new(t.to_owned()))
        .map_err(|_| CtlError::usage(format!("{} is not UTF-8 text", path.display())))
}
