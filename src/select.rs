//! Which leaves sops encrypts: the six crypt-selection rules of the metadata and `.sops.yaml`
//! (`unencrypted_suffix`, `encrypted_suffix`, `unencrypted_regex`, `encrypted_regex`,
//! `unencrypted_comment_regex`, `encrypted_comment_regex`), as `Tree.shouldBeEncrypted` applies
//! them (sops-compat §1.5).
//!
//! This module owns the rule itself and the Go-regex dialect; it does not walk documents, build
//! comment stacks or handle `mac_only_encrypted`.
//!
//! Regexes in sops are Go RE2. The `regex` crate is also RE2-like, but its Perl classes
//! (`\d \w \s \b`) are Unicode-aware where Go's are ASCII-only, and several spellings differ
//! (`\Q…\E`, octal escapes, literal `{`, `[` inside classes, `\<`). [`GoRegex`] translates Go
//! syntax into an equivalent `regex` pattern so a selector picks exactly the leaves sops picks.
//!
//! Deviation from sops (deliberate, see security.md M9): sops ignores an invalid regex at match
//! time (it then matches nothing); here it is an error when the selector is built.

use std::fmt;

/// The default rule when none is set: keys ending in `_unencrypted` stay plaintext.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// The metadata / `.sops.yaml` key names of the six rules, in the order sops lists them.
pub const SELECTOR_KEYS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// Errors from building selectors and Go regexes. Messages name the key and the pattern (both
/// come from metadata or config, never from a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// A pattern that Go's `regexp` (or its translation) rejects.
    #[error("invalid regex {pattern:?}: {reason}")]
    InvalidRegex {
        /// The pattern as written.
        pattern: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A selector whose regex is invalid.
    #[error("invalid {key} {pattern:?}: {reason}")]
    InvalidSelectorRegex {
        /// The metadata key, e.g. `encrypted_regex`.
        key: &'static str,
        /// The pattern as written.
        pattern: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A key that is not one of [`SELECTOR_KEYS`].
    #[error("unknown crypt-selection key {0:?}")]
    UnknownKey(String),
    /// More than one rule is set; sops refuses this in files and in creation rules.
    #[error(
        "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
         unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex (found {})",
        .0.join(", ")
    )]
    MoreThanOne(Vec<&'static str>),
}

/// One crypt-selection rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Not encrypted if any path component ends with this suffix.
    UnencryptedSuffix(String),
    /// Encrypted only if some path component ends with this suffix.
    EncryptedSuffix(String),
    /// Not encrypted if any path component matches.
    UnencryptedRegex(GoRegex),
    /// Encrypted only if some path component matches.
    EncryptedRegex(GoRegex),
    /// Not encrypted if any stacked comment matches.
    UnencryptedCommentRegex(GoRegex),
    /// Encrypted only if some stacked comment matches.
    EncryptedCommentRegex(GoRegex),
}

impl Default for Selector {
    /// `unencrypted_suffix: _unencrypted`, which sops applies (and writes) when no rule is set.
    fn default() -> Self {
        Selector::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_owned())
    }
}

impl Selector {
    /// The metadata key name, e.g. `"unencrypted_suffix"`.
    pub fn key(&self) -> &'static str {
        match self {
            Selector::UnencryptedSuffix(_) => "unencrypted_suffix",
            Selector::EncryptedSuffix(_) => "encrypted_suffix",
            Selector::UnencryptedRegex(_) => "unencrypted_regex",
            Selector::EncryptedRegex(_) => "encrypted_regex",
            Selector::UnencryptedCommentRegex(_) => "unencrypted_comment_regex",
            Selector::EncryptedCommentRegex(_) => "encrypted_comment_regex",
        }
    }

    /// The value as written in the metadata (the suffix, or the regex source).
    pub fn value(&self) -> &str {
        match self {
            Selector::UnencryptedSuffix(s) | Selector::EncryptedSuffix(s) => s,
            Selector::UnencryptedRegex(r)
            | Selector::EncryptedRegex(r)
            | Selector::UnencryptedCommentRegex(r)
            | Selector::EncryptedCommentRegex(r) => r.as_str(),
        }
    }

    /// Builds the selector for a metadata key and its value.
    ///
    /// An empty value is kept as given; [`Selector::should_encrypt`] then treats the rule as
    /// absent, as sops does (`if m.UnencryptedSuffix != ""`). [`at_most_one`] instead treats an
    /// empty value as unset.
    ///
    /// # Errors
    /// [`SelectError::UnknownKey`] for a key outside [`SELECTOR_KEYS`];
    /// [`SelectError::InvalidSelectorRegex`] (naming the key) for an invalid regex.
    pub fn from_key_value(key: &str, value: &str) -> Result<Selector, SelectError> {
        let regex = |key: &'static str| {
            GoRegex::new(value).map_err(|e| match e {
                SelectError::InvalidRegex { pattern, reason } => {
                    SelectError::InvalidSelectorRegex {
                        key,
                        pattern,
                        reason,
                    }
                }
                other => other,
            })
        };
        Ok(match key {
            "unencrypted_suffix" => Selector::UnencryptedSuffix(value.to_owned()),
            "encrypted_suffix" => Selector::EncryptedSuffix(value.to_owned()),
            "unencrypted_regex" => Selector::UnencryptedRegex(regex("unencrypted_regex")?),
            "encrypted_regex" => Selector::EncryptedRegex(regex("encrypted_regex")?),
            "unencrypted_comment_regex" => {
                Selector::UnencryptedCommentRegex(regex("unencrypted_comment_regex")?)
            }
            "encrypted_comment_regex" => {
                Selector::EncryptedCommentRegex(regex("encrypted_comment_regex")?)
            }
            other => return Err(SelectError::UnknownKey(other.to_owned())),
        })
    }

    /// Should a leaf at `path` (the map keys from the root; list indexes are not part of a sops
    /// path), preceded by the stacked `comments`, be encrypted?
    ///
    /// Every path component is tested, ancestors included, so `a_unencrypted: {b: 1}` leaves
    /// `b` plaintext. The suffix and path-regex rules ignore `comments`; the comment rules ignore
    /// `path`. A rule with an empty value has no effect (everything is encrypted), as in sops.
    pub fn should_encrypt(&self, path: &[&str], comments: &[&str]) -> bool {
        if self.value().is_empty() {
            return true;
        }
        match self {
            Selector::UnencryptedSuffix(s) => !path.iter().any(|p| p.ends_with(s.as_str())),
            Selector::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            Selector::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p)),
            Selector::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p)),
            Selector::UnencryptedCommentRegex(r) => !comments.iter().any(|c| r.is_match(c)),
            Selector::EncryptedCommentRegex(r) => comments.iter().any(|c| r.is_match(c)),
        }
    }
}

/// Picks the one rule that is set among `(key, value)` pairs, as sops' `ToInternal` and
/// `configFromRule` do. A `None` or empty value counts as unset (Go's `!= ""`). Returns
/// `Ok(None)` when nothing is set; the caller then uses [`Selector::default`].
///
/// # Errors
/// [`SelectError::MoreThanOne`] listing the keys that are set; [`SelectError::UnknownKey`];
/// [`SelectError::InvalidSelectorRegex`] for the chosen rule.
pub fn at_most_one(
    pairs: &[(&'static str, Option<&str>)],
) -> Result<Option<Selector>, SelectError> {
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !SELECTOR_KEYS.contains(k)) {
        return Err(SelectError::UnknownKey((*key).to_owned()));
    }
    let set: Vec<(&'static str, &str)> = pairs
        .iter()
        .filter_map(|&(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    match set.as_slice() {
        [] => Ok(None),
        [(key, value)] => Selector::from_key_value(key, value).map(Some),
        more => Err(SelectError::MoreThanOne(
            more.iter().map(|(k, _)| *k).collect(),
        )),
    }
}

/// A regex with Go RE2 (`regexp`) meaning, run by the `regex` crate.
///
/// The Go pattern is translated: `\d \D \w \W \s \S` become their ASCII sets (Go's `\s` is
/// `[\t\n\f\r ]`, without `\v`), inside and outside `[...]`; `\b \B` become ASCII word
/// boundaries; `\Q…\E`, octal escapes, `\p{^X}`, a `{` that is not a repetition and a `[` inside
/// a class are spelled for `regex`. Constructs Go rejects (`a**`, `\1`, `(?x)`, `\e`, repeat
/// counts over 1000, …) are rejected. Matching is an unanchored search, like `regexp.Match`.
#[derive(Clone)]
pub struct GoRegex {
    source: String,
    re: regex::Regex,
}

impl GoRegex {
    /// Compiles a Go-syntax regex.
    ///
    /// # Errors
    /// [`SelectError::InvalidRegex`] when Go would reject the pattern (or, rarely, when the
    /// `regex` crate cannot build the translation, e.g. over its size limit).
    pub fn new(src: &str) -> Result<Self, SelectError> {
        let invalid = |reason: String| SelectError::InvalidRegex {
            pattern: src.to_owned(),
            reason,
        };
        let translated = Translator::new(src).run().map_err(invalid)?;
        let re = regex::Regex::new(&translated).map_err(|e| invalid(short_regex_error(&e)))?;
        Ok(GoRegex {
            source: src.to_owned(),
            re,
        })
    }

    /// Does the pattern match anywhere in `s`?
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The Go source as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GoRegex").field(&self.source).finish()
    }
}

impl fmt::Display for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for GoRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for GoRegex {}

/// The last line of a `regex` syntax error ("error: …"), without the caret diagram, which shows
/// the translated pattern rather than the user's.
fn short_regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_owned()
}

/// Go's `posixGroup` names (ASCII sets, same meaning in `regex`).
const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's Perl classes, as `regex` class items (for use inside `[...]`).
fn perl_class_items(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "0-9",
        'D' => "[^0-9]",
        'w' => "0-9A-Za-z_",
        'W' => "[^0-9A-Za-z_]",
        // Go: \s is [\t\n\f\r ] (no \v), unlike POSIX [:space:].
        's' => r"\x{09}\x{0A}\x{0C}\x{0D}\x{20}",
        'S' => r"[^\x{09}\x{0A}\x{0C}\x{0D}\x{20}]",
        _ => return None,
    })
}

/// Writes `c` as a literal that means the same inside or outside a `regex` class, whatever the
/// flags: ASCII punctuation and controls as `\x{..}`, everything else as itself.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:02X}}}", c as u32));
    }
}

/// A class that matches nothing. Go accepts surrogate code points (`\x{D800}`) and `\p{Cs}`,
/// which no valid UTF-8 text contains; `regex` rejects them, so they become this.
const NOTHING: &str = r"[^\x{0}-\x{10FFFF}]";

/// Like [`push_literal`] for a code point that may be a surrogate.
fn push_code(out: &mut String, c: u32) {
    match char::from_u32(c) {
        Some(c) => push_literal(out, c),
        None => out.push_str(NOTHING),
    }
}

/// Writes the class items for the range `lo..=hi` (already checked `lo <= hi`), leaving out
/// surrogates.
fn push_range(out: &mut String, lo: u32, hi: u32) {
    let mut any = false;
    for (a, b) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
        if a <= b {
            push_code(out, a);
            if b != a {
                out.push('-');
                push_code(out, b);
            }
            any = true;
        }
    }
    if !any {
        out.push_str(NOTHING);
    }
}

/// A one-pass translator from Go `regexp/syntax` (Perl flags) to `regex` syntax, following the
/// structure of Go's parser so the same inputs are accepted and rejected.
struct Translator {
    chars: Vec<char>,
    pos: usize,
    out: String,
}

impl Translator {
    fn new(src: &str) -> Self {
        Translator {
            chars: src.chars().collect(),
            pos: 0,
            out: String::with_capacity(src.len() * 2),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        (self.pos..)
            .zip(s.chars())
            .all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to.min(self.chars.len())].iter().collect()
    }

    fn run(mut self) -> Result<String, String> {
        // Whether the previous item can take a repetition operator (Go: not at the start, nor
        // after `(` or `|`), and whether the previous item was itself a repetition.
        let mut can_repeat = false;
        let mut last_repeat: Option<usize> = None;
        // Where in `out` a run of flag-only groups like `(?i)` starts, if `out` ends with one.
        // Go applies a repetition after them to the item before them (`a(?i)*` is `a*` with the
        // flag set); `regex` rejects that spelling, so the operator is moved in front.
        let mut flag_tail: Option<usize> = None;
        while let Some(c) = self.peek() {
            let start = self.pos;
            let out_len = self.out.len();
            let mut this_repeat = None;
            let mut this_flag_tail = None;
            match c {
                '(' => {
                    if self.peek_at(1) == Some('?') {
                        if self.perl_flags()? {
                            can_repeat = false;
                        } else {
                            this_flag_tail = Some(flag_tail.unwrap_or(out_len));
                        }
                    } else {
                        self.pos += 1;
                        self.out.push('(');
                        can_repeat = false;
                    }
                }
                ')' => {
                    self.pos += 1;
                    self.out.push(')');
                    can_repeat = true;
                }
                '|' => {
                    self.pos += 1;
                    self.out.push('|');
                    can_repeat = false;
                }
                '*' | '+' | '?' => {
                    self.pos += 1;
                    self.repeat_op(start, can_repeat, last_repeat)?;
                    self.emit_repeat(c.to_string(), flag_tail);
                    this_repeat = Some(start);
                }
                '{' => match self.parse_repeat() {
                    Some((min, max)) => {
                        let text = self.text(start, self.pos);
                        if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
                            return Err(format!("invalid repeat count: `{text}`"));
                        }
                        self.repeat_op(start, can_repeat, last_repeat)?;
                        let op = match max {
                            Some(m) if m == min => format!("{{{min}}}"),
                            Some(m) => format!("{{{min},{m}}}"),
                            None => format!("{{{min},}}"),
                        };
                        self.emit_repeat(op, flag_tail);
                        this_repeat = Some(start);
                    }
                    None => {
                        // Go: a `{` that does not start a valid repetition is a literal.
                        self.pos += 1;
                        push_literal(&mut self.out, '{');
                        can_repeat = true;
                    }
                },
                '[' => {
                    self.class()?;
                    can_repeat = true;
                }
                '\\' => {
                    if self.top_level_escape()? {
                        can_repeat = true;
                    }
                }
                '^' | '$' | '.' => {
                    self.pos += 1;
                    self.out.push(c);
                    can_repeat = true;
                }
                _ => {
                    self.pos += 1;
                    push_literal(&mut self.out, c);
                    can_repeat = true;
                }
            }
            last_repeat = this_repeat;
            flag_tail = this_flag_tail;
        }
        Ok(self.out)
    }

    /// Checks a repetition operator that started at `start` (already consumed up to `self.pos`).
    fn repeat_op(
        &self,
        start: usize,
        can_repeat: bool,
        last_repeat: Option<usize>,
    ) -> Result<(), String> {
        if let Some(prev) = last_repeat {
            // Go: "a**" is a syntax error, not a doubled star.
            let end = self.pos + usize::from(self.peek() == Some('?'));
            return Err(format!(
                "invalid nested repetition operator: `{}`",
                self.text(prev, end)
            ));
        }
        if !can_repeat {
            return Err(format!(
                "missing argument to repetition operator: `{}`",
                self.text(start, self.pos)
            ));
        }
        Ok(())
    }

    /// Writes a repetition operator (plus a following `?`, which makes it non-greedy), in front
    /// of the trailing flag-only groups if there are any.
    fn emit_repeat(&mut self, mut op: String, flag_tail: Option<usize>) {
        if self.peek() == Some('?') {
            self.pos += 1;
            op.push('?');
        }
        match flag_tail {
            Some(at) => self.out.insert_str(at, &op),
            None => self.out.push_str(&op),
        }
    }

    /// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` with decimal numbers without leading zeros.
    /// Consumes it and returns `(min, max)` (`max` None for open), or returns None and consumes
    /// nothing. Huge numbers saturate (and are then rejected as counts over 1000).
    fn parse_repeat(&mut self) -> Option<(u32, Option<u32>)> {
        let save = self.pos;
        let result = (|| {
            self.pos += 1; // `{`
            let min = self.parse_int()?;
            let max = match self.peek()? {
                ',' => {
                    self.pos += 1;
                    if self.peek()? == '}' {
                        None
                    } else {
                        Some(self.parse_int()?)
                    }
                }
                _ => Some(min),
            };
            if self.peek()? != '}' {
                return None;
            }
            self.pos += 1;
            Some((min, max))
        })();
        if result.is_none() {
            self.pos = save;
        }
        result
    }

    fn parse_int(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.chars[start..self.pos];
        if digits.is_empty() || (digits.len() >= 2 && digits[0] == '0') {
            return None;
        }
        Some(digits.iter().fold(0u32, |n, d| {
            n.saturating_mul(10)
                .saturating_add(d.to_digit(10).unwrap_or(0))
        }))
    }

    /// `(?` …: a named group, or flags with or without a group. Returns whether it opened a
    /// group.
    fn perl_flags(&mut self) -> Result<bool, String> {
        let start = self.pos;
        // Named captures: (?P<name>re) and (?<name>re).
        let name_start = if self.rest_starts_with("(?P<") {
            Some(start + 4)
        } else if self.rest_starts_with("(?<") {
            Some(start + 3)
        } else {
            None
        };
        if let Some(name_start) = name_start {
            let end = self.chars[name_start..]
                .iter()
                .position(|&c| c == '>')
                .map(|i| name_start + i)
                .ok_or_else(|| {
                    format!(
                        "invalid named capture: `{}`",
                        self.text(start, self.chars.len())
                    )
                })?;
            let name = self.text(name_start, end);
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "invalid named capture: `{}`",
                    self.text(start, end + 1)
                ));
            }
            self.pos = end + 1;
            // Names do not change what matches, and Go allows names `regex` does not: a leading
            // digit (`(?P<1a>x)`) and duplicates. Emit a plain group.
            self.out.push('(');
            return Ok(true);
        }

        // Flags: (?flags) and (?flags:re), flags from `imsU`, optionally negated after `-`.
        self.pos += 2;
        let mut flags = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                'i' | 'm' | 's' | 'U' => {
                    flags.push(c);
                    saw_flag = true;
                }
                '-' if !negated => {
                    flags.push('-');
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        self.out.push_str(&format!("(?{flags}:"));
                        return Ok(true);
                    }
                    if !flags.is_empty() {
                        self.out.push_str(&format!("(?{flags})"));
                    }
                    return Ok(false);
                }
                _ => break,
            }
        }
        Err(format!(
            "invalid or unsupported Perl syntax: `{}`",
            self.text(start, self.pos)
        ))
    }

    /// A backslash outside a class. Returns whether it produced something repeatable (false only
    /// for an empty `\Q\E`).
    fn top_level_escape(&mut self) -> Result<bool, String> {
        let start = self.pos;
        match self.peek_at(1) {
            Some('A') => self.out.push_str(r"\A"),
            Some('z') => self.out.push_str(r"\z"),
            // Go's \b and \B use ASCII word characters; `regex` only reports positions on char
            // boundaries, like Go.
            Some('b') => self.out.push_str(r"(?-u:\b)"),
            Some('B') => self.out.push_str(r"(?-u:\B)"),
            Some('C') => return Err("invalid escape sequence: `\\C`".to_owned()),
            Some('Q') => {
                // \Q…\E: everything up to \E (or the end) is literal.
                self.pos += 2;
                let mut any = false;
                while self.peek().is_some() && !self.rest_starts_with(r"\E") {
                    push_literal(&mut self.out, self.chars[self.pos]);
                    self.pos += 1;
                    any = true;
                }
                if self.peek().is_some() {
                    self.pos += 2;
                }
                return Ok(any);
            }
            Some('p' | 'P') => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                return Ok(true);
            }
            Some(c) if perl_class_items(c).is_some() => {
                let items = perl_class_items(c).unwrap_or_default();
                if items.starts_with('[') {
                    self.out.push_str(items);
                } else {
                    self.out.push('[');
                    self.out.push_str(items);
                    self.out.push(']');
                }
            }
            _ => {
                let c = self.escape()?;
                push_code(&mut self.out, c);
                return Ok(true);
            }
        }
        self.pos = start + 2;
        Ok(true)
    }

    /// Go's `parseEscape`: a backslash escape that denotes one character. `self.pos` is at the
    /// backslash.
    /// Returns a code point, which may be a surrogate (Go accepts `\x{D800}`).
    fn escape(&mut self) -> Result<u32, String> {
        let start = self.pos;
        self.pos += 1;
        let invalid = |t: &Self| format!("invalid escape sequence: `{}`", t.text(start, t.pos));
        let Some(c) = self.peek() else {
            return Err("trailing backslash at end of expression".to_owned());
        };
        self.pos += 1;
        let is_octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
        match c {
            // Escaped ASCII punctuation is always itself.
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c as u32),
            // \1-\7 alone would be a backreference: unsupported. Followed by an octal digit it
            // is octal, like \0: up to three digits in all.
            '0'..='7' => {
                if c != '0' && !is_octal(self.peek()) {
                    return Err(invalid(self));
                }
                let mut value = c as u32 - '0' as u32;
                for _ in 0..2 {
                    if !is_octal(self.peek()) {
                        break;
                    }
                    value = value * 8 + (self.chars[self.pos] as u32 - '0' as u32);
                    self.pos += 1;
                }
                Ok(value)
            }
            'x' => {
                let mut value: u32 = 0;
                if self.peek() == Some('{') {
                    self.pos += 1;
                    let mut digits = 0;
                    loop {
                        let Some(d) = self.peek() else {
                            return Err(invalid(self));
                        };
                        self.pos += 1;
                        if d == '}' {
                            break;
                        }
                        let v = d.to_digit(16).ok_or_else(|| invalid(self))?;
                        value = value * 16 + v;
                        if value > 0x10FFFF {
                            return Err(invalid(self));
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return Err(invalid(self));
                    }
                } else {
                    for _ in 0..2 {
                        let d = self.peek().and_then(|d| d.to_digit(16));
                        self.pos = (self.pos + 1).min(self.chars.len());
                        value = value * 16 + d.ok_or_else(|| invalid(self))?;
                    }
                }
                Ok(value)
            }
            'a' => Ok(0x07),
            'f' => Ok(0x0C),
            'n' => Ok(0x0A),
            'r' => Ok(0x0D),
            't' => Ok(0x09),
            'v' => Ok(0x0B),
            _ => Err(invalid(self)),
        }
    }

    /// Go's `parseUnicodeClass`: `\pN`, `\p{Name}`, `\PN`, `\P{Name}`, `\p{^Name}`. `self.pos`
    /// is at the backslash.
    fn unicode_class(&mut self) -> Result<String, String> {
        let start = self.pos;
        let mut negated = self.peek_at(1) == Some('P');
        self.pos += 2;
        let name = match self.peek() {
            Some('{') => {
                let end = self.chars[self.pos..]
                    .iter()
                    .position(|&c| c == '}')
                    .map(|i| self.pos + i)
                    .ok_or_else(|| {
                        format!(
                            "invalid character class range: `{}`",
                            self.text(start, self.chars.len())
                        )
                    })?;
                let name = self.text(self.pos + 1, end);
                self.pos = end + 1;
                name
            }
            Some(c) => {
                self.pos += 1;
                c.to_string()
            }
            None => String::new(),
        };
        let invalid = || {
            format!(
                "invalid character class range: `{}`",
                self.text(start, self.pos)
            )
        };
        let name = match name.strip_prefix('^') {
            Some(rest) => {
                negated = !negated;
                rest.to_owned()
            }
            None => name,
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-'))
        {
            return Err(invalid());
        }
        // Go knows Any, ASCII, Assigned, general categories and scripts (older Go: exact names;
        // Go ≥ 1.25 also aliases, matched loosely). Bare names in `regex` would also reach binary
        // properties, and scripts would mean Script_Extensions; spell out gc= / sc= instead.
        let loose: String = name
            .chars()
            .filter(|c| !matches!(c, '_' | ' ' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if matches!(loose.as_str(), "cs" | "surrogate") {
            return Ok(if negated {
                r"[\x{0}-\x{10FFFF}]"
            } else {
                NOTHING
            }
            .to_owned());
        }
        let body = match loose.as_str() {
            "any" => "Any".to_owned(),
            "ascii" => "ASCII".to_owned(),
            "assigned" => "Assigned".to_owned(),
            _ if regex::Regex::new(&format!(r"\p{{gc={name}}}")).is_ok() => format!("gc={name}"),
            _ if regex::Regex::new(&format!(r"\p{{sc={name}}}")).is_ok() => format!("sc={name}"),
            _ => return Err(invalid()),
        };
        Ok(format!("\\{}{{{body}}}", if negated { 'P' } else { 'p' }))
    }

    /// Go's `parseClass`. `self.pos` is at `[`. Emits a `regex` class with every item spelled so
    /// that `regex`'s extra class syntax (nested `[`, `&&`, `--`, `~~`) cannot be triggered.
    fn class(&mut self) -> Result<(), String> {
        let start = self.pos;
        self.pos += 1;
        let mut items = String::new();
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let missing = |t: &Self| format!("missing closing ]: `{}`", t.text(start, t.chars.len()));
        // `]` (and `-`) are literals when first.
        let mut first = true;
        loop {
            match self.peek() {
                None => return Err(missing(self)),
                Some(']') if !first => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            first = false;

            // POSIX classes: [:alpha:], [:^alpha:]. Go looks for the next ":]" anywhere.
            if self.rest_starts_with("[:") {
                let after = self.pos + 2;
                let close = (after..self.chars.len().saturating_sub(1))
                    .find(|&i| self.chars[i] == ':' && self.chars[i + 1] == ']');
                if let Some(close) = close {
                    let name = self.text(after, close);
                    let bare = name.strip_prefix('^').unwrap_or(&name);
                    if !POSIX_CLASSES.contains(&bare) {
                        return Err(format!("invalid character class range: `[:{name}:]`"));
                    }
                    items.push_str(&format!("[:{name}:]"));
                    self.pos = close + 2;
                    continue;
                }
            }

            if self.peek() == Some('\\') {
                match self.peek_at(1) {
                    Some('p' | 'P') => {
                        let class = self.unicode_class()?;
                        items.push_str(&class);
                        continue;
                    }
                    Some(c) if perl_class_items(c).is_some() => {
                        items.push_str(perl_class_items(c).unwrap_or_default());
                        self.pos += 2;
                        continue;
                    }
                    _ => {}
                }
            }

            // A single character or a range; `[a-]` means a or -.
            let range_start = self.pos;
            let lo = self.class_char(&missing)?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                hi = self.class_char(&missing)?;
                if hi < lo {
                    return Err(format!(
                        "invalid character class range: `{}`",
                        self.text(range_start, self.pos)
                    ));
                }
            }
            push_range(&mut items, lo, hi);
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        self.out.push_str(&items);
        self.out.push(']');
        Ok(())
    }

    /// Go's `parseClassChar`: one (possibly escaped) character inside a class.
    fn class_char(&mut self, missing: &dyn Fn(&Self) -> String) -> Result<u32, String> {
        match self.peek() {
            None => Err(missing(self)),
            Some('\\') => self.escape(),
            Some(c) => {
                self.pos += 1;
                Ok(c as u32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(src: &str) -> GoRegex {
        GoRegex::new(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    fn sel(key: &str, value: &str) -> Selector {
        Selector::from_key_value(key, value).unwrap()
    }

    /// (pattern, input, Go's regexp.MatchString result).
    fn check(cases: &[(&str, &str, bool)]) {
        for &(p, s, want) in cases {
            assert_eq!(re(p).is_match(s), want, "pattern {p:?} on {s:?}");
        }
    }

    #[test]
    fn default_is_unencrypted_suffix() {
        let d = Selector::default();
        assert_eq!(d, Selector::UnencryptedSuffix("_unencrypted".into()));
        assert_eq!(d.key(), "unencrypted_suffix");
        assert_eq!(d.value(), "_unencrypted");
    }

    #[test]
    fn key_value_round_trip() {
        for key in SELECTOR_KEYS {
            let s = sel(key, "^pass");
            assert_eq!(s.key(), key);
            assert_eq!(s.value(), "^pass");
            assert_eq!(Selector::from_key_value(s.key(), s.value()).unwrap(), s);
        }
        assert_eq!(
            Selector::from_key_value("mac_only_encrypted", "true"),
            Err(SelectError::UnknownKey("mac_only_encrypted".into()))
        );
    }

    #[test]
    fn unencrypted_suffix_checks_every_component() {
        let s = sel("unencrypted_suffix", "_unencrypted");
        assert!(s.should_encrypt(&["db", "password"], &[]));
        assert!(!s.should_encrypt(&["db", "note_unencrypted"], &[]));
        // An ancestor with the suffix keeps the whole subtree plaintext.
        assert!(!s.should_encrypt(&["public_unencrypted", "a", "b"], &[]));
        assert!(!s.should_encrypt(&["a", "x_unencrypted", "b"], &[]));
        // Suffix, not substring; comments are ignored.
        assert!(s.should_encrypt(&["x_unencrypted_not"], &["_unencrypted"]));
        assert!(s.should_encrypt(&[], &[]));
    }

    #[test]
    fn encrypted_suffix_checks_every_component() {
        let s = sel("encrypted_suffix", "_secret");
        assert!(s.should_encrypt(&["api_secret"], &[]));
        assert!(s.should_encrypt(&["creds_secret", "user", "name"], &[]));
        assert!(!s.should_encrypt(&["creds", "user"], &[]));
        assert!(!s.should_encrypt(&["creds"], &["_secret"]));
        assert!(!s.should_encrypt(&[], &[]));
    }

    #[test]
    fn unencrypted_regex_checks_every_component() {
        let s = sel("unencrypted_regex", "^(public|description)$");
        assert!(!s.should_encrypt(&["description"], &[]));
        assert!(!s.should_encrypt(&["public", "x", "y"], &[]));
        assert!(s.should_encrypt(&["descriptions"], &[]));
        assert!(s.should_encrypt(&["db", "password"], &["public"]));
    }

    #[test]
    fn encrypted_regex_checks_every_component() {
        // The common Kubernetes setting; unanchored search.
        let s = sel("encrypted_regex", "^(data|stringData)$");
        assert!(s.should_encrypt(&["data", "password"], &[]));
        assert!(s.should_encrypt(&["stringData", "a", "b"], &[]));
        assert!(!s.should_encrypt(&["metadata", "name"], &[]));
        let s = sel("encrypted_regex", "pass");
        assert!(s.should_encrypt(&["db", "db_password"], &[]));
        assert!(!s.should_encrypt(&["db", "user"], &["pass"]));
        // `encrypted_regex: '.'` encrypts every keyed value.
        assert!(sel("encrypted_regex", ".").should_encrypt(&["a"], &[]));
    }

    #[test]
    fn comment_regexes_use_only_comments() {
        let s = sel("unencrypted_comment_regex", "sops:nocrypt");
        assert!(!s.should_encrypt(&["a"], &["# sops:nocrypt"]));
        assert!(!s.should_encrypt(&["a"], &["other", " sops:nocrypt here"]));
        assert!(s.should_encrypt(&["sops:nocrypt"], &["other"]));
        assert!(s.should_encrypt(&["a"], &[]));

        let s = sel("encrypted_comment_regex", "^ ?sops:enc$");
        assert!(s.should_encrypt(&["a"], &[" sops:enc"]));
        assert!(s.should_encrypt(&["a"], &["x", "sops:enc"]));
        assert!(!s.should_encrypt(&["sops:enc"], &["x"]));
        assert!(!s.should_encrypt(&["a"], &[]));
    }

    #[test]
    fn empty_value_means_no_rule() {
        for key in SELECTOR_KEYS {
            assert!(
                sel(key, "").should_encrypt(&["a_unencrypted"], &["c"]),
                "{key}"
            );
        }
    }

    #[test]
    fn at_most_one_rules() {
        assert_eq!(at_most_one(&[]).unwrap(), None);
        assert_eq!(
            at_most_one(&[("unencrypted_suffix", None), ("encrypted_regex", Some(""))]).unwrap(),
            None
        );
        assert_eq!(
            at_most_one(&[
                ("unencrypted_suffix", None),
                ("encrypted_regex", Some("^data$"))
            ])
            .unwrap(),
            Some(sel("encrypted_regex", "^data$"))
        );
        let err = at_most_one(&[
            ("unencrypted_suffix", Some("_u")),
            ("encrypted_suffix", None),
            ("encrypted_regex", Some("x")),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            SelectError::MoreThanOne(vec!["unencrypted_suffix", "encrypted_regex"])
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot use more than one of encrypted_suffix"),
            "{msg}"
        );
        assert!(
            msg.ends_with("(found unencrypted_suffix, encrypted_regex)"),
            "{msg}"
        );
        assert!(matches!(
            at_most_one(&[("encrypted_regex", Some("("))]),
            Err(SelectError::InvalidSelectorRegex {
                key: "encrypted_regex",
                ..
            })
        ));
        assert!(matches!(
            at_most_one(&[("bogus", None)]),
            Err(SelectError::UnknownKey(_))
        ));
    }

    #[test]
    fn invalid_regex_errors_name_the_key() {
        let err = Selector::from_key_value("unencrypted_regex", "a(b").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("invalid unencrypted_regex \"a(b\": "),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
        let err = Selector::from_key_value("encrypted_comment_regex", "[z-a]").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid encrypted_comment_regex"),
            "{err}"
        );
    }

    #[test]
    fn go_rejects_these() {
        for p in [
            "a(b",
            "a)b",
            "[a",
            "[z-a]",
            "*a",
            "a**",
            "a+*",
            "a*?+",
            "a{2}{3}",
            "a{2}*",
            "(*)",
            "a|*",
            r"\1",
            r"\8",
            r"\e",
            r"\C",
            r"\pX",
            r"\p{Nope}",
            r"\p{Alphabetic}",
            "(?x)a",
            "(?-)a",
            "(?i-)a",
            "(?P=n)",
            "(?P<>a)",
            "a{1001}",
            "a{2,1}",
            "[[:foo:]]",
            r"\x{110000}",
            r"\xZ1",
            r"a\",
            "[a-\\d]",
            "[]",
            "[^]",
            "[a--]",
        ] {
            let err = GoRegex::new(p).expect_err(p);
            assert!(matches!(err, SelectError::InvalidRegex { .. }), "{p}");
            assert!(!err.to_string().contains('\n'), "{p}: {err}");
        }
    }

    #[test]
    fn perl_classes_are_ascii_like_go() {
        check(&[
            (r"\d", "٣", false),  // U+0663 ARABIC-INDIC DIGIT THREE: Unicode Nd, not Go's \d
            (r"\d", "３", false), // fullwidth digit
            (r"\d", "a3", true),
            (r"^\d+$", "123", true),
            (r"^\D$", "٣", true),
            (r"^\D$", "7", false),
            (r"\w", "é", false),
            (r"\w", "ж", false),
            (r"^\W$", "é", true),
            (r"\w", "_", true),
            (r"^\s$", "\u{a0}", false), // NBSP is Unicode White_Space, not Go \s
            (r"^\s$", "\u{2003}", false),
            (r"^\s$", "\x0B", false), // Go's \s has no \v
            (r"^\s$", "\x0C", true),
            (r"^\s+$", " \t\r\n", true),
            (r"^\S$", "\u{a0}", true),
            (r"^\S$", "\x0B", true),
            (r"^\S$", " ", false),
        ]);
    }

    #[test]
    fn perl_classes_inside_brackets() {
        check(&[
            (r"^[\d_]+$", "1_2", true),
            (r"^[\d_]+$", "٣", false),
            (r"^[\w.-]+$", "a.b-c_1", true),
            (r"^[\w.-]+$", "ä", false),
            (r"^[^\d]$", "٣", true),
            (r"^[^\d]$", "5", false),
            (r"^[\D]$", "٣", true),
            (r"^[\D]$", "5", false),
            (r"^[^\D]$", "5", true),
            (r"^[^\D]$", "٣", false),
            (r"^[\W\d]$", "é", true),
            (r"^[\W\d]$", "3", true),
            (r"^[\W\d]$", "a", false),
            (r"^[\s]$", "\x0B", false),
            (r"^[\S]$", "\x0B", true),
            (r"^[^\s]$", "\x0B", true),
            (r"^[[:digit:]]$", "٣", false),
            (r"^[[:^digit:]]$", "٣", true),
            (r"^[[:^digit:]x]$", "5", false),
            (r"^[[:space:]]$", "\x0B", true), // POSIX space does include \v, in Go too
            (r"^[[:word:]]+$", "ab_1", true),
            (r"^[a[]+$", "a[a", true), // `[` is a literal in a Go class
            (r"^[a&&b]+$", "a&b", true),
        ]);
        check(&[
            (r"^[a~~b]+$", "~a", true),
            (r"^[]a]+$", "]a", true),
            (r"^[^]a]$", "b", true),
            (r"^[^]a]$", "]", false),
            (r"^[a-]+$", "a-", true),
            (r"^[-a]+$", "-a", true),
            (r"^[\pN-z]+$", "5-z", true), // Go: \pN, '-', 'z' (no range)
            (r"^[\pN-z]+$", "y", false),
            (r"^[\]\\]+$", r"]\", true),
            (r"^[\x41-\x{5A}]+$", "AZ", true),
            (r"^[\101]$", "A", true),
            (r"^[[:x]+$", "[:x", true), // no ":]" ahead: `[` is a literal
        ]);
    }

    #[test]
    fn word_boundaries_are_ascii_like_go() {
        check(&[
            (r"\bfoo\b", "a foo b", true),
            (r"\bfoo\b", "foobar", false),
            // In Go é is not a word character, so there is a boundary between o and é.
            (r"foo\b", "fooé", true),
            (r"\bé", "é", false),
            (r"\Bé", "é", true),
            (r"foo\B", "fooé", false),
            (r"\B", "aéa", false),
            (r"\B", "é", true),
            (r"\b", "é", false),
        ]);
    }

    #[test]
    fn go_only_spellings() {
        check(&[
            (r"\Qa.b*\E+", "a.b**", true),
            (r"^\Qa.b\E$", "axb", false),
            (r"^\Q(x\E", "(x", true),
            (r"^\Qa.b", "a.b", true), // \Q without \E runs to the end
            (r"^a{$", "a{", true),    // not a repetition: literal
            (r"^a{,2}$", "a{,2}", true),
            (r"^a{01}$", "a{01}", true),
            (r"^a{2}$", "aa", true),
            (r"^a{2,}$", "aaa", true),
            (r"^a{1,2}?$", "a", true),
            (r"^}$", "}", true),
            (r"^]$", "]", true),
            (r"^\<a\>$", "<a>", true), // Go: escaped punctuation, not word anchors
            (r"^\_\-\ \/$", "_- /", true),
            (r"^\101\0$", "A\0", true),
            (r"^\12$", "\n", true),
            (r"^\x41\x{42}$", "AB", true),
            (r"^\a\f\t\n\r\v$", "\x07\x0C\t\n\r\x0B", true),
            (r"\p{^Greek}", "α", false),
            (r"\P{^Greek}", "α", true),
            (r"^\pL+$", "héllo", true),
            (r"^\p{Lu}$", "É", true),
            (r"^\p{Any}$", "\n", true),
            (r"^a#b$", "a#b", true),
            (r"^a b$", "a b", true),
        ]);
    }

    #[test]
    fn groups_flags_and_anchors() {
        check(&[
            (r"(?i)^PASS", "password", true),
            (r"^(?i:PASS)word$", "passWORD", false),
            (r"(?i)\d", "٣", false),
            (r"(?i)^[\W]$", "é", true),
            (r"(?s)^a.b$", "a\nb", true),
            (r"^a.b$", "a\nb", false),
            (r"(?m)^b$", "a\nb\nc", true),
            (r"^b$", "a\nb\nc", false),
            (r"a$", "a\n", false), // Go's $ without (?m) is end of text only
            (r"(?U)^a+", "aaa", true),
            (r"^(?P<x>a)(?<y>b)$", "ab", true),
            (r"(?)a", "a", true),
            (r"^a(?i)*$", "aaa", true), // Go: the star applies to `a`
            (r"^a(?i)(?s)+b$", "aaB", true),
            (r"^a(?i){2}b$", "aaB", true),
            (r"^(?:a|b)+$", "abba", true),
            (r"\Aab\z", "ab", true),
            (r"^$", "", true),
            ("", "anything", true),
        ]);
    }

    /// Inputs for [`GO_PARITY`].
    const PARITY_INPUTS: [&str; 50] = [
        r"",
        r"a",
        r"A",
        r"5",
        r"٣",
        r"３",
        r"é",
        r"É",
        r"ж",
        r"_",
        r" ",
        "\t",
        "\n",
        "\u{b}",
        "\u{c}",
        "\u{a0}",
        "\u{2003}",
        r"foo",
        r"a foo b",
        r"foobar",
        r"fooé",
        r"aéa",
        r"1_2",
        r"a.b-c_1",
        r"a[a",
        r"a&b",
        r"]a",
        r"5-z",
        r"a.b**",
        r"a{,2}",
        r"aa",
        r"<a>",
        "A\0",
        r"α",
        r"héllo",
        r"password",
        r"PASSWORD",
        "a\nb",
        "a\nb\nc",
        "a\n",
        r"K",
        r"ſ",
        r"K",
        r"db_password",
        r"stringData",
        r"metadata",
        r"x_unencrypted",
        r"sops:enc here",
        r"ǅ",
        r"😀",
    ];

    /// Go 1.19 `regexp.MatchString(pattern, input)` for each of [`PARITY_INPUTS`] (`1` = match),
    /// or `ERR` when `regexp.Compile` fails. Generated by a Go program, not by hand.
    #[rustfmt::skip]
    const GO_PARITY: &[(&str, &str)] = &[
        (r"\d", "00010000000000000000001100010100000000000000000000"),
        (r"^\d+$", "00010000000000000000000000000000000000000000000000"),
        (r"\D", "01101111111111111111111111111111111111111111111111"),
        (r"^\D$", "01101111111111111000000000000000010000001110000011"),
        (r"\w", "01110000010000000111111111111111101111111001111100"),
        (r"^\w+$", "01110000010000000101001000000010000110001001111000"),
        (r"\W", "00001111101111111010110111111101111001110110000111"),
        (r"^\W$", "00001111101111111000000000000000010000000110000011"),
        (r"\s", "00000000001110100010000000000000000001110000000100"),
        (r"^\s$", "00000000001110100000000000000000000000000000000000"),
        (r"^\S$", "01111111110001011000000000000000010000001110000011"),
        (r"\b", "01110000010000000111111111111111101111111001111100"),
        (r"\B", "10001111101111111111101100101111111110010111111111"),
        (r"\bfoo\b", "00000000000000000110100000000000000000000000000000"),
        (r"foo\b", "00000000000000000110100000000000000000000000000000"),
        (r"\bé", "00000000000000000000110000000000001000000000000000"),
        (r"\Bé", "00000010000000000000000000000000000000000000000000"),
        (r"foo\B", "00000000000000000001000000000000000000000000000000"),
        (r"^[\d_]+$", "00010000010000000000001000000000000000000000000000"),
        (r"^[\w.-]+$", "01110000010000000101001100010010000110001001111000"),
        (r"^[^\d]$", "01101111111111111000000000000000010000001110000011"),
        (r"^[\D]$", "01101111111111111000000000000000010000001110000011"),
        (r"^[^\D]$", "00010000000000000000000000000000000000000000000000"),
        (r"^[\W\d]$", "00011111101111111000000000000000010000000110000011"),
        (r"^[\s]$", "00000000001110100000000000000000000000000000000000"),
        (r"^[\S]$", "01111111110001011000000000000000010000001110000011"),
        (r"^[^\s]$", "01111111110001011000000000000000010000001110000011"),
        (r"^[^\S]$", "00000000001110100000000000000000000000000000000000"),
        (r"^[[:digit:]]$", "00010000000000000000000000000000000000000000000000"),
        (r"^[[:^digit:]]$", "01101111111111111000000000000000010000001110000011"),
        (r"^[[:^digit:]x]$", "01101111111111111000000000000000010000001110000011"),
        (r"^[[:space:]]$", "00000000001111100000000000000000000000000000000000"),
        (r"^[[:word:]]+$", "01110000010000000101001000000010000110001001111000"),
        (r"^[[:alpha:]]+$", "01100000000000000101000000000010000110001000110000"),
        (r"^[[:punct:]]+$", "00000000010000000000000000000000000000000000000000"),
        (r"^[a[]+$", "01000000000000000000000010000010000000000000000000"),
        (r"^[a&&b]+$", "01000000000000000000000001000010000000000000000000"),
        (r"^[a~~b]+$", "01000000000000000000000000000010000000000000000000"),
        (r"^[]a]+$", "01000000000000000000000000100010000000000000000000"),
        (r"^[^]a]$", "00111111111111111000000000000000010000001110000011"),
        (r"^[a-]+$", "01000000000000000000000000000010000000000000000000"),
        (r"^[-a]+$", "01000000000000000000000000000010000000000000000000"),
        (r"^[\pN-z]+$", "00011100000000000000000000010000000000000000000000"),
        (r"^[\]\\]+$", "00000000000000000000000000000000000000000000000000"),
        (r"^[\x41-\x{5A}]+$", "00100000000000000000000000000000000010001000000000"),
        (r"^[\101]$", "00100000000000000000000000000000000000000000000000"),
        (r"^[[:x]+$", "00000000000000000000000000000000000000000000000000"),
        (r"\Qa.b*\E+", "00000000000000000000000000001000000000000000000000"),
        (r"^\Qa.b\E$", "00000000000000000000000000000000000000000000000000"),
        (r"^\Q(x\E", "00000000000000000000000000000000000000000000000000"),
        (r"^\Qa.b", "00000000000000000000000100001000000000000000000000"),
        (r"^a{$", "00000000000000000000000000000000000000000000000000"),
        (r"^a{,2}$", "00000000000000000000000000000100000000000000000000"),
        (r"^a{01}$", "00000000000000000000000000000000000000000000000000"),
        (r"^a{2}$", "00000000000000000000000000000010000000000000000000"),
        (r"^a{2,}$", "00000000000000000000000000000010000000000000000000"),
        (r"^a{1,2}?$", "01000000000000000000000000000010000000000000000000"),
        (r"^}$", "00000000000000000000000000000000000000000000000000"),
        (r"^]$", "00000000000000000000000000000000000000000000000000"),
        (r"^\<a\>$", "00000000000000000000000000000001000000000000000000"),
        (r"^\_\-\ \/$", "00000000000000000000000000000000000000000000000000"),
        (r"^\101\0$", "00000000000000000000000000000000100000000000000000"),
        (r"^\12$", "00000000000010000000000000000000000000000000000000"),
        (r"^\x41\x{42}$", "00000000000000000000000000000000000000000000000000"),
        (r"^\a\f\t\n\r\v$", "00000000000000000000000000000000000000000000000000"),
        (r"\p{^Greek}", "01111111111111111111111111111111101111111111111111"),
        (r"\P{^Greek}", "00000000000000000000000000000000010000000000000000"),
        (r"\p{Greek}", "00000000000000000000000000000000010000000000000000"),
        (r"^\pL+$", "01100011100000000101110000000010011110001110110010"),
        (r"^\p{Lu}$", "00100001000000000000000000000000000000001010000000"),
        (r"^\p{Any}$", "01111111111111111000000000000000010000001110000011"),
        (r"\pN", "00011100000000000000001100010100000000000000000000"),
        (r"\p{Nd}", "00011100000000000000001100010100000000000000000000"),
        (r"^a#b$", "00000000000000000000000000000000000000000000000000"),
        (r"^a b$", "00000000000000000000000000000000000000000000000000"),
        (r"(?i)^PASS", "00000000000000000000000000000000000110000000000000"),
        (r"^(?i:PASS)word$", "00000000000000000000000000000000000100000000000000"),
        (r"(?i)\d", "00010000000000000000001100010100000000000000000000"),
        (r"(?i)^[\W]$", "00001111101111111000000000000000010000000000000011"),
        (r"(?i)\w", "01110000010000000111111111111111101111111111111100"),
        (r"(?i)^\W$", "00001111101111111000000000000000010000000000000011"),
        (r"(?i)k", "00000000000000000000000000000000000000001010000000"),
        (r"(?i)s", "00000000000000000000000000000000000110000101100100"),
        (r"(?s)^a.b$", "00000000000000000000000001000000000001000000000000"),
        (r"^a.b$", "00000000000000000000000001000000000000000000000000"),
        (r"(?m)^b$", "00000000000000000000000000000000000001100000000000"),
        (r"^b$", "00000000000000000000000000000000000000000000000000"),
        (r"a$", "01000000000000000000010010100010000000000000110000"),
        (r"(?m)a$", "01000000000000000000010010100010000001110000110000"),
        (r"(?m)^$", "10000000000010000000000000000000000000010000000000"),
        (r"(?U)^a+", "01000000000000000010010111001110000001110000000000"),
        (r"^(?P<x>a)(?P<y>b)$", "00000000000000000000000000000000000000000000000000"),
        (r"(?)a", "01000000000000000011010111101111000101110001110000"),
        (r"^(?:a|b)+$", "01000000000000000000000000000010000000000000000000"),
        (r"\Aab\z", "00000000000000000000000000000000000000000000000000"),
        (r"^$", "10000000000000000000000000000000000000000000000000"),
        (r"", "11111111111111111111111111111111111111111111111111"),
        (r"a(b", "ERR"),
        (r"a)b", "ERR"),
        (r"[a", "ERR"),
        (r"[z-a]", "ERR"),
        (r"*a", "ERR"),
        (r"a**", "ERR"),
        (r"a+*", "ERR"),
        (r"a*?+", "ERR"),
        (r"a{2}{3}", "ERR"),
        (r"a{2}*", "ERR"),
        (r"(*)", "ERR"),
        (r"a|*", "ERR"),
        (r"\1", "ERR"),
        (r"\8", "ERR"),
        (r"\e", "ERR"),
        (r"\C", "ERR"),
        (r"\pX", "ERR"),
        (r"\p{Nope}", "ERR"),
        (r"\p{Alphabetic}", "ERR"),
        (r"\p{L}", "01100011100000000111110111111111111111111111111110"),
        (r"\p{Latin}", "01100011000000000111110111111111101111111111111110"),
        (r"(?x)a", "ERR"),
        (r"(?-)a", "ERR"),
        (r"(?i-)a", "ERR"),
        (r"(?P=n)", "ERR"),
        (r"(?P<>a)", "ERR"),
        (r"a{1001}", "ERR"),
        (r"a{1000}", "00000000000000000000000000000000000000000000000000"),
        (r"a{2,1}", "ERR"),
        (r"[[:foo:]]", "ERR"),
        (r"\x{110000}", "ERR"),
        (r"\xZ1", "ERR"),
        ("a\\", "ERR"),
        (r"[a-\d]", "ERR"),
        (r"[]", "ERR"),
        (r"[^]", "ERR"),
        (r"[a--]", "ERR"),
        (r"^*", "11111111111111111111111111111111111111111111111111"),
        (r"\b*", "11111111111111111111111111111111111111111111111111"),
        (r"(?i)*", "ERR"),
        (r"a(?i)*", "11111111111111111111111111111111111111111111111111"),
        (r"$+", "11111111111111111111111111111111111111111111111111"),
        (r"^(a)*$", "11000000000000000000000000000010000000000000000000"),
        (r".*?", "11111111111111111111111111111111111111111111111111"),
        (r"a{0}", "11111111111111111111111111111111111111111111111111"),
        (r"[\b]", "ERR"),
        (r"\z*", "11111111111111111111111111111111111111111111111111"),
        (r"^_unencrypted$", "00000000000000000000000000000000000000000000000000"),
        (r"_unencrypted$", "00000000000000000000000000000000000000000000001000"),
        (r"^(data|stringData)$", "00000000000000000000000000000000000000000000100000"),
        (r"^(password|secret|key)$", "00000000000000000000000000000000000100000000000000"),
        (r"(?i)(pass|secret|token|key)", "00000000000000000000000000000000000110000001000000"),
        (r"^sops:enc", "00000000000000000000000000000000000000000000000100"),
        (r"[[:^alpha:][:digit:]]", "00011111111111111010111111111101111001110111001111"),
        (r"[a-z&&[^aeiou]]", "00000000000000000000000000000000000000000000000000"),
        (r"x*y+z?", "00000000000000000000000000000000000000000000001000"),
        (r"(a|b|)+", "11111111111111111111111111111111111111111111111111"),
        (r"\x{00e9}", "00000010000000000000110000000000001000000000000000"),
        (r"[\x{00e9}]", "00000010000000000000110000000000001000000000000000"),
        (r"(?i)É", "00000011000000000000110000000000001000000000000000"),
        (r"\pLu", "00000000000000000000000000000000000000000000000000"),
        (r"\p{^L}", "00011100011111111010001111111101100001110001001101"),
        (r"\PL", "00011100011111111010001111111101100001110001001101"),
        (r"[^\PL]", "01100011100000000111110111111111111111111111111110"),
        (r"[\p{L}\d]", "01110011100000000111111111111111111111111111111110"),
        (r"^a(?i)*$", "11000000000000000000000000000010000000000000000000"),
        (r"^a(?i)(?s)+b$", "00000000000000000000000000000000000000000000000000"),
        (r"^a(?i){2}b$", "00000000000000000000000000000000000000000000000000"),
        (r"(?i)[k]", "00000000000000000000000000000000000000001010000000"),
        (r"(?i)^[^k]$", "01111111111111111000000000000000010000000100000011"),
        (r"(?i)^[[:upper:]]$", "01100000000000000000000000000000000000001110000000"),
        (r"(?i)^\p{Lu}$", "01100011100000000000000000000000010000001110000010"),
        (r"(?i)^\P{Lu}$", "00011100011111111000000000000000000000000000000001"),
        (r"\777", "00000000000000000000000000000000000000000000000000"),
        (r"\x{D800}", "00000000000000000000000000000000000000000000000000"),
        (r"^[\x00-\x{10FFFF}]$", "01111111111111111000000000000000010000001110000011"),
        (r"\Q\E*", "ERR"),
        (r"a*\Q\E*", "11111111111111111111111111111111111111111111111111"),
        (r"(a)(?i)", "01000000000000000011010111101111000101110001110000"),
        (r"(?i-s:a.)", "00000000000000000011010111001111100110000001110000"),
        (r"(?im-sU)^a", "01100000000000000010010111001110100001110000000000"),
        (r"(?i)(?-i)A", "00100000000000000000000000000000100010000000000000"),
        (r"\p{Han}", "00000000000000000000000000000000000000000000000000"),
        (r"\p{Cs}", "00000000000000000000000000000000000000000000000000"),
        (r"\pZ", "00000000001000011010000000000000000000000000000100"),
        (r"\p{Zs}", "00000000001000011010000000000000000000000000000100"),
        (r"\p{Cyrillic}", "00000000100000000000000000000000000000000000000000"),
        (r"\p{Inherited}", "00000000000000000000000000000000000000000000000000"),
        (r"\p{Common}", "00010100011111111010001111111101100001110001001101"),
        (r"(?P<1a>x)", "00000000000000000000000000000000000000000000001000"),
        (r"(?P<a.b>x)", "ERR"),
        (r"(?P<ä>x)", "ERR"),
        (r"((a{100}){100}){100}", "ERR"),
        (r"(a{1000}){1000}", "ERR"),
        (r"[^\x00-\x{10FFFF}]", "00000000000000000000000000000000000000000000000000"),
        (r"a{,}", "00000000000000000000000000000000000000000000000000"),
        (r"a{1,2,3}", "00000000000000000000000000000000000000000000000000"),
        (r"\pN+?", "00011100000000000000001100010100000000000000000000"),
        (r"(?i)ß", "00000000000000000000000000000000000000000000000000"),
        (r"(?i)ǅ", "00000000000000000000000000000000000000000000000010"),
        (r"[[:^space:]]", "01111111110000011111111111111111111111111111111111"),
        (r"[\d-z]", "00010000000000000000001100010100000000000000000000"),
        (r"[a-\x{7A}]", "01000000000000000111110111111111001101110001111100"),
        (r"[\Q]\E]", "ERR"),
        (r"(?i)[^\W]", "01110000010000000111111111111111101111111111111100"),
        (r"\b\B", "00000000000000000000000000000000000000000000000000"),
        (r"^\B$", "10000000000000000000000000000000000000000000000000"),
        (r"[\pL--a]", "01110011110000000111111111111111111111111111111110"),
        (r"[\-a-c]", "01000000000000000011010111111111000101110001111100"),
        (r"a|", "11111111111111111111111111111111111111111111111111"),
        (r"|a", "11111111111111111111111111111111111111111111111111"),
        (r"()", "11111111111111111111111111111111111111111111111111"),
        (r"(|)", "11111111111111111111111111111111111111111111111111"),
        (r"(?:)", "11111111111111111111111111111111111111111111111111"),
        (r"x{2}?{3}", "ERR"),
        (r"[\x{D800}a]", "01000000000000000011010111101111000101110001110000"),
        (r"^[^\x{D800}]$", "01111111111111111000000000000000010000001110000011"),
        (r"[\x{D000}-\x{E000}]", "00000000000000000000000000000000000000000000000000"),
        (r"[\x{D800}-\x{DFFF}]", "00000000000000000000000000000000000000000000000000"),
        (r"^[^\x{D800}-\x{DFFF}]+$", "01111111111111111111111111111111111111111111111111"),
        (r"\P{Cs}", "01111111111111111111111111111111111111111111111111"),
        (r"[\p{Cs}a]", "01000000000000000011010111101111000101110001110000"),
        (r"[^\p{Cs}]", "01111111111111111111111111111111111111111111111111"),
        (r"\x{DFFF}*", "11111111111111111111111111111111111111111111111111"),
        (r"(?P<a>x)(?P<a>y)", "00000000000000000000000000000000000000000000000000"),
        (r"(?P<_>x)", "00000000000000000000000000000000000000000000001000"),
        (r"(?P<a1_B>x)", "00000000000000000000000000000000000000000000001000"),
    ];

    #[test]
    fn parity_with_go_regexp() {
        for &(pattern, expected) in GO_PARITY {
            match GoRegex::new(pattern) {
                Err(e) => assert_eq!(expected, "ERR", "{pattern:?} rejected: {e}"),
                Ok(r) => {
                    assert_ne!(expected, "ERR", "{pattern:?} accepted, Go rejects it");
                    let wrong: Vec<&str> = PARITY_INPUTS
                        .iter()
                        .zip(expected.bytes())
                        .filter(|&(s, want)| r.is_match(s) != (want == b'1'))
                        .map(|(s, _)| *s)
                        .collect();
                    assert!(wrong.is_empty(), "{pattern:?} differs from Go on {wrong:?}");
                }
            }
        }
    }

    #[test]
    fn newer_go_syntax_is_accepted() {
        // Go 1.19 (the table above) rejects these; Go ≥ 1.22 accepts `(?<name>re)` and Go ≥ 1.25
        // matches `\p{…}` names loosely (golang/go#70780), as `regex` does.
        check(&[
            (r"^(?<a>x)$", "x", true),
            (r"\p{greek}", "α", true),
            (r"\p{Letter}", "a", true),
        ]);
    }

    #[test]
    fn go_regex_display_debug_eq() {
        let r = re(r"^\d+$");
        assert_eq!(r.to_string(), r"^\d+$");
        assert_eq!(r.as_str(), r"^\d+$");
        assert_eq!(format!("{r:?}"), r#"GoRegex("^\\d+$")"#);
        assert_eq!(r, re(r"^\d+$"));
        assert_ne!(r, re(r"^[0-9]+$"));
        let err = GoRegex::new("(").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid regex \"(\": "),
            "{err}"
        );
    }
}
