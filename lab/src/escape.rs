//! Names and paths made safe for what people read and paste: control
//! characters escaped on one line, words shell-quoted so a command line
//! pastes back. A leaf module: every writer (tables, markdown, TOML
//! comments) may use it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with each control character written as its escape (`\n`,
/// `\u{1b}`): a name or a path on one line of a table, a markdown page or a
/// TOML comment, and no terminal escape sequence.
pub fn escaped(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` as one shell word that pastes back as `s`: as it is when plain, in
/// single quotes otherwise, and in bash's `$'...'` when it holds control
/// characters, so that it stays on one line of markdown. (A quoting crate
/// would keep a newline raw inside single quotes.)
pub fn shell_word(s: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return Cow::Borrowed(s);
    }
    if !s.chars().any(char::is_control) {
        return Cow::Owned(format!("'{}'", s.replace('\'', "'\\''")));
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\\' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                for b in c.to_string().bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Words as one command line that pastes back ([`shell_word`] each).
pub fn shell_line<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<Cow<'_, str>> = words.into_iter().map(shell_word).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_onto_one_line() {
        assert_eq!(escaped("optane-p4800x"), "optane-p4800x");
        assert_eq!(escaped("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert!(!escaped("x\r\t\u{85}y").chars().any(char::is_control));
    }

    #[test]
    fn shell_words_paste_back_through_bash() {
        let words = [
            "plain",
            "my local.toml",
            "it's",
            "a\nb",
            "\u{1b}[31m'\\",
            "é\u{85}",
        ];
        for w in words {
            let quoted = shell_word(w);
            assert!(!quoted.contains('\n'), "{quoted}");
            let o = std::process::Command::new("bash")
                .args(["-c", &format!("printf '%s' {quoted}")])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(o.stdout).unwrap(), w, "{quoted}");
        }
        assert_eq!(shell_line(["pollwise", "a b"]), "pollwise 'a b'");
    }
}
