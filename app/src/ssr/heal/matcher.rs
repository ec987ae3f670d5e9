//! Label matchers in Alertmanager's syntax: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.
//! Regexes are anchored, as in Alertmanager. Pure.
use std::collections::BTreeMap;

use regex::Regex;

/// How a matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One parsed matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// An equality matcher (from `match = { name = "value" }`).
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher { name: name.to_owned(), op: MatchOp::Equal, value: value.to_owned(), regex: None }
    }

    /// Parses `name<op>"value"` (the value may also be unquoted).
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("`{text}`: expected name, operator and value"))?;
        let name = &text[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("`{text}`: a label name must start with a letter or _"));
        }
        let rest = text[name_end..].trim_start();
        let (op, rest) = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (op, r.trim())))
        .ok_or_else(|| format!("`{text}`: operator must be =, !=, =~ or !~"))?;
        let value = unquote(rest).map_err(|e| format!("`{text}`: {e}"))?;
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("`{text}`: bad regex: {e}"))?)
            }
            _ => None,
        };
        Ok(Matcher { name: name.to_owned(), op, value, regex })
    }

    /// Whether the labels satisfy this matcher (a missing label reads as "").
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

fn unquote(s: &str) -> Result<String, String> {
    let Some(inner) = s.strip_prefix('"') else {
        if s.contains(['"', ',', '{', '}']) {
            return Err("an unquoted value may not contain quotes, commas or braces".to_owned());
        }
        return Ok(s.to_owned());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                return if chars.as_str().trim().is_empty() {
                    Ok(out)
                } else {
                    Err("text after the closing quote".to_owned())
                };
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return Err("unterminated escape".to_owned()),
            },
            c => out.push(c),
        }
    }
    Err("missing closing quote".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn matchers_parse_and_match_like_alertmanager() {
        let l = labels(&[("alertname", "NginxDown"), ("severity", "critical"), ("env", "prod")]);
        let cases = [
            ("equal", r#"alertname="NginxDown""#, true),
            ("equal unquoted", "alertname=NginxDown", true),
            ("equal miss", r#"alertname="Other""#, false),
            ("not equal", r#"env!="staging""#, true),
            ("regex anchored", r#"severity=~"crit.*""#, true),
            ("regex is anchored", r#"severity=~"rit""#, false),
            ("not regex", r#"severity!~"warn|info""#, true),
            ("missing label equals empty", r#"team="""#, true),
            ("missing label regex", r#"team=~".+""#, false),
            ("spaces", r#" env = "prod" "#, true),
            ("escaped quote", r#"env!="a\"b""#, true),
        ];
        for (name, text, want) in cases {
            let m = Matcher::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(m.matches(&l), want, "{name}");
        }
    }

    #[test]
    fn bad_matchers_are_refused_with_a_reason() {
        for text in
            ["", "=x", "1abc=x", "name", "name>3", r#"name="open"#, r#"name=~"(""#, r#"name="a" extra"#]
        {
            assert!(Matcher::parse(text).is_err(), "{text:?} should be refused");
        }
    }
}
