//! Scalar typing and rendering exactly as Go sops 3.11 does it.
//!
//! Splicing decrypted values back into an encrypted file only reproduces `sops decrypt`
//! byte for byte if every leaf is written the way Go's emitters write it: go yaml.v3
//! (`resolve.go`, `encode.go`, `emitterc.go`), `encoding/json` and `strconv.FormatFloat`.
//! The rules and the confirmed examples are in `docs/sops-rendering.md`; section
//! numbers below refer to that document.

use std::fmt;

use crate::value::{Value, go_format_float_f};

// ---------------------------------------------------------------------------
// Resolving plain YAML scalars (yaml.v3 `resolve`)
// ---------------------------------------------------------------------------

/// What go yaml.v3 (as sops 3.11 uses it) resolves an untagged PLAIN scalar to.
///
/// The type decides the `type:` of the token sops writes, so it must match yaml.v3
/// exactly (`resolve.go`, sops-rendering §1.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// `null`, `Null`, `NULL`, `~` or the empty scalar: never encrypted.
    Null,
    /// A string, int, float, bool or timestamp.
    Value(Value),
    /// An integer >= 2^63 that fits in 64 bits unsigned (yaml.v3 gives `uint64`; sops
    /// refuses to encrypt it with "unknown type: uint64").
    Uint64,
}

/// What go yaml.v3 resolves the untagged plain scalar `text` to (`resolve("", text)`).
///
/// Timestamps carry their canonical Go `time.MarshalText` (RFC 3339 with nanoseconds)
/// text, which is also the plaintext sops encrypts. A plain `<<` (the merge key, which
/// yaml.v3's resolver itself treats as a string) resolves to the string `<<`. A zone
/// offset of 24 hours or more (`+24:00`) is a timestamp to yaml.v3, but Go's
/// `MarshalText` then fails, so sops cannot encrypt it; we keep the offset as written.
pub fn yaml_resolve_plain(text: &str) -> Resolved {
    match resolve(text) {
        Res::Null => Resolved::Null,
        Res::Str => Resolved::Value(Value::Str(text.to_string())),
        Res::Bool(b) => Resolved::Value(Value::Bool(b)),
        Res::Int(i) => Resolved::Value(Value::Int(i)),
        Res::Uint64 => Resolved::Uint64,
        Res::Float(f) => Resolved::Value(Value::Float(f)),
        Res::Time(t) => Resolved::Value(Value::Time(t)),
    }
}

/// Whether yaml.v3 would read `s`, written as a plain scalar, back as something other
/// than a string. The YAML encoder double-quotes such strings (§1.3 step 2), and a
/// writer needs the same test to decide whether a plain scalar must be quoted.
pub fn yaml_reads_as_non_string(s: &str) -> bool {
    !matches!(resolve(s), Res::Str)
}

/// Internal resolution result; no allocation for the string case.
enum Res {
    Null,
    Str,
    Bool(bool),
    Int(i64),
    Uint64,
    Float(f64),
    Time(String),
}

/// Port of yaml.v3 `resolve` for an empty tag (plain scalars).
fn resolve(s: &str) -> Res {
    // The first byte selects what is tried at all (`resolveTable`); `""` hints 'N'.
    let Some(&first) = s.as_bytes().first() else {
        return Res::Null;
    };
    let hint = match first {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return Res::Str,
    };
    match s {
        "true" | "True" | "TRUE" => return Res::Bool(true),
        "false" | "False" | "FALSE" => return Res::Bool(false),
        "~" | "null" | "Null" | "NULL" => return Res::Null,
        ".nan" | ".NaN" | ".NAN" => return Res::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Res::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Res::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => {
            if let Some(f) = go_parse_float_dot(s) {
                return Res::Float(f);
            }
        }
        b'D' | b'S' => {
            if let Some(t) = parse_timestamp(s) {
                return Res::Time(t);
            }
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain, 0) {
                return Res::Int(i);
            }
            if go_parse_uint(&plain, 0).is_some() {
                return Res::Uint64;
            }
            if is_yaml_style_float(&plain) {
                // Go's ParseFloat fails (ErrRange) where the value overflows to infinity.
                if let Ok(f) = plain.parse::<f64>()
                    && f.is_finite()
                {
                    return Res::Float(f);
                }
            }
            // yaml.v3's own 0b / 0o handling, run after the base-0 parse. It only adds
            // the quirk that a sign after the prefix (`0b-101`) is accepted.
            if let Some(rest) = plain.strip_prefix("0b") {
                if let Some(i) = go_parse_int(rest, 2) {
                    return Res::Int(i);
                }
                if go_parse_uint(rest, 2).is_some() {
                    return Res::Uint64;
                }
            } else if let Some(rest) = plain.strip_prefix("-0b")
                && let Some(i) = go_parse_int(&format!("-{rest}"), 2)
            {
                return Res::Int(i);
            }
            if let Some(rest) = plain.strip_prefix("0o") {
                if let Some(i) = go_parse_int(rest, 8) {
                    return Res::Int(i);
                }
                if go_parse_uint(rest, 8).is_some() {
                    return Res::Uint64;
                }
            } else if let Some(rest) = plain.strip_prefix("-0o")
                && let Some(i) = go_parse_int(&format!("-{rest}"), 8)
            {
                return Res::Int(i);
            }
        }
        _ => {} // 'M': only the exact entries above count.
    }
    Res::Str
}

/// Go `strconv.ParseUint(s, base, 64)` without underscores (yaml.v3 removes them first).
/// `base == 0` means Go's prefix rules: `0b`/`0o`/`0x` (any case), a lone leading `0`
/// means octal. Any failure (syntax or range) is `None`: yaml.v3 only looks at success.
fn go_parse_uint(s: &str, base: u32) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (digits, base) = if base == 0 {
        if b[0] == b'0' {
            match b.get(1).map(|c| c.to_ascii_lowercase()) {
                Some(b'b') if b.len() >= 3 => (&b[2..], 2),
                Some(b'o') if b.len() >= 3 => (&b[2..], 8),
                Some(b'x') if b.len() >= 3 => (&b[2..], 16),
                _ => (&b[1..], 8),
            }
        } else {
            (b, 10)
        }
    } else {
        (b, base)
    };
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'z' => u32::from(c - b'a') + 10,
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go `strconv.ParseInt(s, base, 64)` (underscore-free input), `None` on any error.
fn go_parse_int(s: &str, base: u32) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let un = go_parse_uint(rest, base)?;
    const CUTOFF: u64 = 1 << 63;
    if neg {
        if un > CUTOFF {
            None
        } else {
            Some((un as i64).wrapping_neg())
        }
    } else if un >= CUTOFF {
        None
    } else {
        Some(un as i64)
    }
}

/// yaml.v3 `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_digits = count_digits(&b[i..]);
    i += int_digits;
    if int_digits == 0 {
        if b.get(i) != Some(&b'.') {
            return false;
        }
        i += 1;
        let frac = count_digits(&b[i..]);
        if frac == 0 {
            return false;
        }
        i += frac;
    } else if b.get(i) == Some(&b'.') {
        i += 1;
        i += count_digits(&b[i..]);
    }
    exponent_ends(b, i)
}

/// True if `b[i..]` is empty or exactly `[eE][-+]?[0-9]+`.
fn exponent_ends(b: &[u8], mut i: usize) -> bool {
    if i == b.len() {
        return true;
    }
    if !matches!(b[i], b'e' | b'E') {
        return false;
    }
    i += 1;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let n = count_digits(&b[i..]);
    n > 0 && i + n == b.len()
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Go `strconv.ParseFloat` for a string starting with `.` (yaml.v3's '.' hint): decimal
/// digits, optional exponent, `_` only between digits. `None` where Go fails, including
/// overflow to infinity (ErrRange).
fn go_parse_float_dot(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !before || !after {
                return None;
            }
        }
    }
    let plain = s.replace('_', "");
    let p = plain.as_bytes();
    if p.first() != Some(&b'.') {
        return None;
    }
    let frac = count_digits(&p[1..]);
    if frac == 0 || !exponent_ends(p, 1 + frac) {
        return None;
    }
    let f = plain.parse::<f64>().ok()?;
    f.is_finite().then_some(f)
}

// ---------------------------------------------------------------------------
// Timestamps (yaml.v3 parseTimestamp + Go time.Parse + time.MarshalText)
// ---------------------------------------------------------------------------

/// The separator between date and time in one of yaml.v3's `allowedTimestampFormats`.
#[derive(Clone, Copy)]
enum Layout {
    /// `2006-1-2T15:4:5.999999999Z07:00` (or with `t`).
    Zoned(u8),
    /// `2006-1-2 15:4:5.999999999` (no zone: UTC).
    Spaced,
    /// `2006-1-2`.
    DateOnly,
}

/// yaml.v3 `parseTimestamp`, returning the Go `time.MarshalText` text of the result.
///
/// If the zone offset is 24 hours or more Go's `MarshalText` itself fails (sops then
/// cannot encrypt the value); we still report a timestamp, with the offset as written.
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let i = count_digits(b);
    if i != 4 || b.get(4) != Some(&b'-') {
        return None;
    }
    [
        Layout::Zoned(b'T'),
        Layout::Zoned(b't'),
        Layout::Spaced,
        Layout::DateOnly,
    ]
    .into_iter()
    .find_map(|layout| parse_layout(b, layout))
}

/// Go `getnum(s, false)`: one or two digits.
fn getnum(b: &[u8]) -> Option<(u32, &[u8])> {
    let d0 = *b.first().filter(|c| c.is_ascii_digit())?;
    match b.get(1).filter(|c| c.is_ascii_digit()) {
        Some(&d1) => Some((u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'), &b[2..])),
        None => Some((u32::from(d0 - b'0'), &b[1..])),
    }
}

fn expect(b: &[u8], c: u8) -> Option<&[u8]> {
    b.strip_prefix(&[c])
}

/// One `time.Parse(layout, s)` attempt.
fn parse_layout(b: &[u8], layout: Layout) -> Option<String> {
    let year: u32 = std::str::from_utf8(&b[..4]).ok()?.parse().ok()?;
    let rest = expect(&b[4..], b'-')?;
    let (month, rest) = getnum(rest)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let rest = expect(rest, b'-')?;
    let (day, mut rest) = getnum(rest)?;
    let (mut hour, mut min, mut sec, mut nsec) = (0, 0, 0, 0u32);
    // Offset east of UTC in seconds; None = UTC (`Z` or no zone).
    let mut offset: Option<i32> = None;
    if !matches!(layout, Layout::DateOnly) {
        rest = match layout {
            Layout::Zoned(sep) => expect(rest, sep)?,
            // A space in a Go layout matches one or more spaces.
            _ => {
                if rest.first() != Some(&b' ') {
                    return None;
                }
                let n = rest.iter().take_while(|&&c| c == b' ').count();
                &rest[n..]
            }
        };
        (hour, rest) = getnum(rest)?;
        if hour >= 24 {
            return None;
        }
        rest = expect(rest, b':')?;
        (min, rest) = getnum(rest)?;
        if min >= 60 {
            return None;
        }
        rest = expect(rest, b':')?;
        (sec, rest) = getnum(rest)?;
        if sec >= 60 {
            return None;
        }
        // Optional fraction: `.` or `,` then any number of digits; only 9 count.
        if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
            let n = count_digits(&rest[1..]);
            let digits = &rest[1..1 + n.min(9)];
            let mut ns = 0u32;
            for &d in digits {
                ns = ns * 10 + u32::from(d - b'0');
            }
            for _ in digits.len()..9 {
                ns *= 10;
            }
            nsec = ns;
            rest = &rest[1 + n..];
        }
        if let Layout::Zoned(_) = layout {
            if let Some(r) = rest.strip_prefix(b"Z") {
                rest = r;
            } else {
                if rest.len() < 6 || rest[3] != b':' {
                    return None;
                }
                let two = |d: &[u8]| -> Option<i32> {
                    (d[0].is_ascii_digit() && d[1].is_ascii_digit())
                        .then(|| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0'))
                };
                let hh = two(&rest[1..3])?;
                let mm = two(&rest[4..6])?;
                if hh > 24 || mm > 60 {
                    return None;
                }
                let secs = (hh * 60 + mm) * 60;
                offset = Some(match rest[0] {
                    b'+' => secs,
                    b'-' => -secs,
                    _ => return None,
                });
                rest = &rest[6..];
            }
        }
    }
    if !rest.is_empty() || day < 1 || day > days_in(month, year) {
        return None;
    }
    Some(format_rfc3339_nano(
        year, month, day, hour, min, sec, nsec, offset,
    ))
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go `Time.Format(RFC3339Nano)`: trailing zeros of the fraction trimmed, `Z` for a
/// zero offset (including `-00:00`).
#[allow(clippy::too_many_arguments)]
fn format_rfc3339_nano(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nsec: u32,
    offset: Option<i32>,
) -> String {
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}");
    if nsec > 0 {
        let frac = format!("{nsec:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    match offset {
        None | Some(0) => out.push('Z'),
        Some(off) => {
            let sign = if off < 0 { '-' } else { '+' };
            let abs = off.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// YAML rendering (yaml.v3 encoder + emitter)
// ---------------------------------------------------------------------------

/// sops' rendering of a decrypted value in YAML output (go yaml.v3 emitter, §0, §0.1,
/// §1.2–§1.5): the exact text that replaces the token.
///
/// `indent` is the configured indent I (4 by default); it is also the `|N` digit of a
/// literal block (yaml.v3 uses 2 when I is outside 2..=9). `content_col` is the column N
/// at which block-scalar body lines start, and the indentation after a U+2028/U+2029
/// inside a single-quoted or literal scalar (the caller computes it: for a mapping value
/// whose key is at column K, N = I*floor((K+I)/I); for a sequence item whose `-` is at
/// column D, N = D+2). A literal block is header + "\n" + body lines WITHOUT a final
/// newline: the file's own newline after the token ends the last line.
pub fn yaml_render(v: &Value, indent: usize, content_col: usize) -> String {
    match v {
        Value::Str(s) => yaml_render_str(s, indent, content_col),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float_yaml(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.clone(),
        Value::Comment(c) => format!("#{c}"),
    }
}

/// Requested style (`encode.go` `stringv`) then final style
/// (`yaml_emitter_select_scalar_style`), §1.3.
fn yaml_render_str(s: &str, indent: usize, n: usize) -> String {
    let a = analyze(s);
    if s.contains('\n') {
        return if a.block {
            literal(s, indent, n)
        } else {
            yaml_double_quoted(s)
        };
    }
    if yaml_reads_as_non_string(s) || is_old_bool(s) || is_base60_float(s) {
        return yaml_double_quoted(s);
    }
    if a.plain {
        // The re-parse in `Node.Encode` tags a plain `<<` as `!!merge`, and the tag is
        // then written out.
        return if s == "<<" {
            "!!merge <<".to_string()
        } else {
            s.to_string()
        };
    }
    if a.single {
        return single_quoted(s, n);
    }
    yaml_double_quoted(s)
}

/// yaml.v3 `isOldBool`: YAML 1.1 booleans, quoted on output for other parsers.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// yaml.v3 `isBase60Float`:
/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    i += b[i..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count();
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // Nothing after a group may be a digit, so the digit run decides.
        let n = count_digits(&b[i..]);
        let ok = n == 1 || (n == 2 && b[i] <= b'5');
        if !ok {
            return false;
        }
        i += n;
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        i += b[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'_')
            .count();
    }
    i == b.len()
}

/// yaml.v3 `is_printable` (unicode output on).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

/// yaml.v3 `is_break`.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// yaml.v3 `is_blankz` minus end-of-input (handled by the caller).
fn is_blankz(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\0' || is_break(c)
}

/// Which styles the emitter allows for a value in block context
/// (`yaml_emitter_analyze_scalar`, §1.3 step 3).
struct Analysis {
    plain: bool,
    single: bool,
    block: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            plain: true,
            single: true,
            block: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;

    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_whitespace = matches!(next, None | Some(' ' | '\t'));
        let last = next.is_none();
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(c);
    }
    let plain = !(leading_space
        || leading_break
        || trailing_space
        || trailing_break
        || break_space
        || space_break
        || tabs
        || special
        || line_breaks
        || block_indicators);
    let single = !(break_space || space_break || tabs || special);
    let block = !(trailing_space || space_break || special);
    Analysis {
        plain,
        single,
        block,
    }
}

/// Double-quoted YAML scalar exactly as yaml.v3 writes it (§1.4), quotes included:
/// escapes for non-printable characters, U+FEFF, breaks, `"` and `\`, uppercase hex,
/// never wrapped.
pub fn yaml_double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    // yaml.v3's `is_bom(value, i)` tests the first bytes of the whole value, not those at `i`:
    // in a string that starts with U+FEFF, every character is escaped (seen with sops 3.11)
    let bom_quirk = s.starts_with('\u{feff}');
    for c in s.chars() {
        if !bom_quirk && is_printable(c) && !is_break(c) && c != '"' && c != '\\' {
            out.push(c);
            continue;
        }
        out.push('\\');
        match c {
            '\0' => out.push('0'),
            '\u{7}' => out.push('a'),
            '\u{8}' => out.push('b'),
            '\t' => out.push('t'),
            '\n' => out.push('n'),
            '\u{b}' => out.push('v'),
            '\u{c}' => out.push('f'),
            '\r' => out.push('r'),
            '\u{1b}' => out.push('e'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '\u{85}' => out.push('N'),
            '\u{2028}' => out.push('L'),
            '\u{2029}' => out.push('P'),
            _ => {
                let v = u32::from(c);
                if v <= 0xFF {
                    out.push_str(&format!("x{v:02X}"));
                } else if v <= 0xFFFF {
                    out.push_str(&format!("u{v:04X}"));
                } else {
                    out.push_str(&format!("U{v:08X}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// Single-quoted scalar (§1.4), quotes included, if yaml.v3 allows that style for `s`
/// (no tab, no special character, no space next to a break).
///
/// Returns `None` as well for strings with a line break (including U+2028/U+2029):
/// their layout depends on the column (`yaml_render` handles that), and a key holding
/// one is always double-quoted.
pub fn yaml_single_quoted(s: &str) -> Option<String> {
    if s.chars().any(is_break) || !analyze(s).single {
        return None;
    }
    Some(single_quoted(s, 0))
}

/// `yaml_emitter_write_single_quoted_scalar` with unlimited width: `'` doubled, a break
/// written raw and followed by `n` spaces before the next non-break character.
fn single_quoted(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    let mut breaks = false;
    for c in s.chars() {
        if is_break(c) {
            out.push(c);
            breaks = true;
        } else {
            if breaks && c != ' ' {
                push_spaces(&mut out, n);
                breaks = false;
            }
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
    }
    out.push('\'');
    out
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// `yaml_emitter_write_literal_scalar` (§1.5): header (`|`, indentation digit if the
/// value starts with a space or break, chomping), then the body at column `n`, minus the
/// final newline that the file already has. (A value ending in U+2028/U+2029 is the one
/// case where Go writes no newline after the block; we cannot express that in a splice.)
fn literal(s: &str, indent: usize, n: usize) -> String {
    let mut out = String::from("|");
    let chars: Vec<char> = s.chars().collect();
    if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
        // yaml.v3 falls back to 2 for an indent outside 2..=9.
        let digit = if (2..=9).contains(&indent) { indent } else { 2 };
        out.push_str(&digit.to_string());
    }
    match chars.as_slice() {
        [] => out.push('-'),
        [.., last] if !is_break(*last) => out.push('-'),
        [_] => out.push('+'),
        [.., prev, _] if is_break(*prev) => out.push('+'),
        _ => {}
    }
    out.push('\n');
    let mut at_break = true;
    for &c in &chars {
        if is_break(c) {
            out.push(c);
            at_break = true;
        } else {
            if at_break {
                push_spaces(&mut out, n);
            }
            out.push(c);
            at_break = false;
        }
    }
    if s.ends_with('\n') {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------
// JSON rendering (encoding/json)
// ---------------------------------------------------------------------------

/// Why a value cannot be written as JSON. The message never contains the value.
#[derive(Debug)]
pub enum RenderError {
    /// NaN or ±Inf: Go's `encoding/json` fails with "json: unsupported value".
    NonFinite,
    /// Comments have no JSON form (sops drops them from arrays; §2.4).
    Comment,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NonFinite => f.write_str("json: unsupported value: non-finite float"),
            RenderError::Comment => f.write_str("a comment cannot be rendered as a json value"),
        }
    }
}

impl std::error::Error for RenderError {}

/// sops' JSON rendering of a decrypted value (Go `encoding/json` with HTML escaping,
/// §2.2, §2.3): the exact text that replaces the token, quotes included.
pub fn json_render(v: &Value) -> Result<String, RenderError> {
    match v {
        Value::Str(s) | Value::Time(s) => Ok(json_string(s)),
        Value::Int(i) => Ok(i.to_string()),
        Value::Float(f) if !f.is_finite() => Err(RenderError::NonFinite),
        Value::Float(f) => Ok(go_float_json(*f)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Comment(_) => Err(RenderError::Comment),
    }
}

/// Go `encoding/json` string encoding with `escapeHTML` on (§2.2).
pub fn json_string(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xF]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parse a JSON number literal the way we type it when encrypting (like sops 3.13.2's
/// `UseNumber` path): an integer literal (no `.`, `e`, `E`) that fits i64 → `Int`;
/// anything else → `Float`. `raw` must be a valid JSON number; a literal too large for
/// f64 gives an infinite `Float` (Go's decoder would reject it).
pub fn json_number(raw: &str) -> Value {
    if !raw.contains(['.', 'e', 'E'])
        && let Ok(i) = raw.parse::<i64>()
    {
        return Value::Int(i);
    }
    Value::Float(raw.parse::<f64>().unwrap_or(f64::NAN))
}

// ---------------------------------------------------------------------------
// Go float formats (strconv.FormatFloat), §0.1
// ---------------------------------------------------------------------------

/// Shortest round-trip digits `d` (no leading zeros; `"0"` for zero) and the decimal
/// exponent x with |f| = d₁.d₂…dₙ × 10^x. Finite input only.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-trip digits, like Go's precision -1.
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Go `%e` with precision -1: `d₁[.d₂…]e±XX`, at least two exponent digits.
fn format_exp(f: f64, upper: bool) -> String {
    let (digits, x) = shortest_digits(f);
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push(if upper { 'E' } else { 'e' });
    out.push(if x < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", x.unsigned_abs()));
    out
}

/// Go `'g'`/`'G'` with precision -1: exponent form when x < -4 or x >= 6 (the shortest
/// form fixes the switch precision at 6), positional otherwise. Finite input only.
fn format_g(f: f64, upper: bool) -> String {
    let (_, x) = shortest_digits(f);
    if f != 0.0 && !(-4..6).contains(&x) {
        format_exp(f, upper)
    } else {
        go_format_float_f(f)
    }
}

/// YAML float (yaml.v3 `floatv`): Go `'g'` -1 with `.inf`, `-.inf`, `.nan`.
pub fn go_float_yaml(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        format_g(f, false)
    }
}

/// JSON float (`encoding/json` `floatEncoder`): `'f'` when 1e-6 <= |v| < 1e21 or v is 0,
/// else `'e'` with a two-digit negative exponent shortened (`e-07` → `e-7`). NaN and
/// ±Inf are not JSON; they come back as Go's `+Inf`/`-Inf`/`NaN` text (`json_render`
/// refuses them).
pub fn go_float_json(f: f64) -> String {
    if !f.is_finite() {
        return go_format_float_f(f);
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_exp(f, false);
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            return format!("{}{}", &s[..n - 2], &s[n - 1..]);
        }
        s
    } else {
        go_format_float_f(f)
    }
}

/// sops `ValToString` for floats (dotenv, INI): Go `'G'` -1, then `.0` appended if the
/// result has neither `.` nor `E`; `NaN`, `+Inf`, `-Inf` as they are.
pub fn go_float_val_to_string(f: f64) -> String {
    if !f.is_finite() {
        return go_format_float_f(f);
    }
    let s = format_g(f, true);
    if s.contains(['.', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Render a string as a mapping value whose key is at column 0 (I = 4, N = 4).
    fn y(s: &str) -> String {
        yaml_render(&Value::Str(s.into()), 4, 4)
    }

    fn res(text: &str) -> Resolved {
        yaml_resolve_plain(text)
    }

    fn int(i: i64) -> Resolved {
        Resolved::Value(Value::Int(i))
    }

    fn float(f: f64) -> Resolved {
        Resolved::Value(Value::Float(f))
    }

    fn time(t: &str) -> Resolved {
        Resolved::Value(Value::Time(t.into()))
    }

    fn string(s: &str) -> Resolved {
        Resolved::Value(Value::Str(s.into()))
    }

    fn resolved_float(text: &str) -> f64 {
        match res(text) {
            Resolved::Value(Value::Float(f)) => f,
            other => panic!("{text}: not a float: {other:?}"),
        }
    }

    // ----- §0.1 float formats ------------------------------------------------

    /// (value, plaintext, YAML, JSON, dotenv/INI); "" where the table has "—".
    const FLOAT_TABLE: &[(f64, &str, &str, &str, &str)] = &[
        (1.0, "1", "1", "1", "1.0"),
        (1.5, "1.5", "1.5", "1.5", "1.5"),
        (-0.0, "-0", "-0", "-0", "-0.0"),
        (0.0001, "0.0001", "0.0001", "", "0.0001"),
        (1e-5, "0.00001", "1e-05", "0.00001", "1E-05"),
        (1e-7, "0.0000001", "1e-07", "1e-7", "1E-07"),
        (5e-324, "", "5e-324", "5e-324", ""),
        (100000.0, "100000", "100000", "100000", "100000.0"),
        (123456.7, "123456.7", "123456.7", "", ""),
        (1e6, "1000000", "1e+06", "", "1E+06"),
        (
            1234567.0,
            "1234567",
            "1.234567e+06",
            "1234567",
            "1.234567E+06",
        ),
        (1234567.8, "1234567.8", "1.2345678e+06", "", ""),
        (
            12345678.5,
            "12345678.5",
            "1.23456785e+07",
            "12345678.5",
            "1.23456785E+07",
        ),
        (
            1e20,
            "100000000000000000000",
            "1e+20",
            "100000000000000000000",
            "1E+20",
        ),
        (1e21, "1000000000000000000000", "1e+21", "1e+21", "1E+21"),
        (1.5e300, "", "1.5e+300", "1.5e+300", "1.5E+300"),
        // 3.141592653589793238 as f64 is exactly PI.
        (
            std::f64::consts::PI,
            "3.141592653589793",
            "3.141592653589793",
            "3.141592653589793",
            "",
        ),
    ];

    #[test]
    fn float_table_0_1() {
        for &(v, plain, yaml, json, dotenv) in FLOAT_TABLE {
            if !plain.is_empty() {
                assert_eq!(go_format_float_f(v), plain, "plaintext of {v:e}");
            }
            assert_eq!(go_float_yaml(v), yaml, "yaml of {v:e}");
            assert_eq!(yaml_render(&Value::Float(v), 4, 4), yaml);
            if !json.is_empty() {
                assert_eq!(go_float_json(v), json, "json of {v:e}");
                assert_eq!(json_render(&Value::Float(v)).unwrap(), json);
            }
            if !dotenv.is_empty() {
                assert_eq!(go_float_val_to_string(v), dotenv, "dotenv of {v:e}");
            }
        }
    }

    #[test]
    fn float_table_0_1_long_plaintexts() {
        let tiny = go_format_float_f(5e-324);
        assert_eq!(tiny, format!("0.{}5", "0".repeat(323)));
        let big = go_format_float_f(1.5e300);
        assert_eq!(big.len(), 301);
        assert!(big.starts_with("15") && big[2..].bytes().all(|b| b == b'0'));
    }

    #[test]
    fn float_table_0_1_specials() {
        let specials = [
            (f64::INFINITY, "+Inf", ".inf"),
            (f64::NEG_INFINITY, "-Inf", "-.inf"),
            (f64::NAN, "NaN", ".nan"),
        ];
        for (v, plain, yaml) in specials {
            assert_eq!(go_format_float_f(v), plain);
            assert_eq!(go_float_yaml(v), yaml);
            assert_eq!(go_float_val_to_string(v), plain);
            assert!(matches!(
                json_render(&Value::Float(v)),
                Err(RenderError::NonFinite)
            ));
        }
    }

    #[test]
    fn float_formats_extra() {
        assert_eq!(go_float_yaml(0.0), "0");
        assert_eq!(go_float_yaml(-1.5e-3), "-0.0015");
        assert_eq!(go_float_yaml(1e-4), "0.0001");
        assert_eq!(go_float_yaml(999999.0), "999999");
        assert_eq!(go_float_yaml(-1e100), "-1e+100");
        assert_eq!(go_float_json(1e-6), "0.000001");
        assert_eq!(go_float_json(1.5e-10), "1.5e-10");
        assert_eq!(go_float_json(-1e-7), "-1e-7");
        assert_eq!(go_float_json(0.0), "0");
        assert_eq!(go_float_val_to_string(0.0), "0.0");
        assert_eq!(go_float_val_to_string(1e-7), "1E-07");
    }

    // ----- §1.2 non-string types ---------------------------------------------

    #[test]
    fn resolve_table_1_2_ints() {
        for (text, want, rendered) in [
            ("42", 42, "42"),
            ("+7", 7, "7"),
            ("-5", -5, "-5"),
            ("0x1F", 31, "31"),
            ("0o17", 15, "15"),
            ("017", 15, "15"),
            ("0b101", 5, "5"),
            ("1_000", 1000, "1000"),
            ("9223372036854775807", i64::MAX, "9223372036854775807"),
            ("-9223372036854775808", i64::MIN, "-9223372036854775808"),
        ] {
            assert_eq!(res(text), int(want), "{text}");
            assert_eq!(yaml_render(&Value::Int(want), 4, 4), rendered);
        }
    }

    #[test]
    fn resolve_table_1_2_uint64() {
        assert_eq!(res("9223372036854775808"), Resolved::Uint64);
        assert_eq!(res("18446744073709551615"), Resolved::Uint64);
        assert_eq!(res("0xFFFFFFFFFFFFFFFF"), Resolved::Uint64);
    }

    #[test]
    fn resolve_table_1_2_floats() {
        let f = resolved_float("123456789012345678901234567890");
        assert_eq!(go_format_float_f(f), "123456789012345680000000000000");
        assert_eq!(go_float_yaml(f), "1.2345678901234568e+29");
        for (text, plain, rendered) in [
            ("1.0", "1", "1"),
            ("5.", "5", "5"),
            ("1E3", "1000", "1000"),
            (".5", "0.5", "0.5"),
            (".inf", "+Inf", ".inf"),
            ("+.inf", "+Inf", ".inf"),
            (".Inf", "+Inf", ".inf"),
            ("-.inf", "-Inf", "-.inf"),
            (".nan", "NaN", ".nan"),
            (".NAN", "NaN", ".nan"),
        ] {
            let f = resolved_float(text);
            assert_eq!(go_format_float_f(f), plain, "{text}");
            assert_eq!(yaml_render(&Value::Float(f), 4, 4), rendered, "{text}");
        }
    }

    #[test]
    fn resolve_table_1_2_bools() {
        for (text, b, rendered) in [
            ("true", true, "true"),
            ("True", true, "true"),
            ("false", false, "false"),
            ("FALSE", false, "false"),
        ] {
            assert_eq!(res(text), Resolved::Value(Value::Bool(b)));
            assert_eq!(yaml_render(&Value::Bool(b), 4, 4), rendered);
        }
    }

    #[test]
    fn resolve_table_1_2_times() {
        for (text, want) in [
            ("2024-01-01", "2024-01-01T00:00:00Z"),
            ("2024-1-2", "2024-01-02T00:00:00Z"),
            ("2024-01-01 10:00:00", "2024-01-01T10:00:00Z"),
            ("2024-01-01 10:00:00.25", "2024-01-01T10:00:00.25Z"),
            ("2024-01-01T10:00:00.100Z", "2024-01-01T10:00:00.1Z"),
            (
                "2024-01-01T10:00:00.1234567891Z",
                "2024-01-01T10:00:00.123456789Z",
            ),
            ("2024-01-01T10:00:00+00:00", "2024-01-01T10:00:00Z"),
            ("2024-01-01T10:00:00-00:00", "2024-01-01T10:00:00Z"),
            ("2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00+02:00"),
            ("2024-01-01T1:2:3Z", "2024-01-01T01:02:03Z"),
            ("0001-01-01", "0001-01-01T00:00:00Z"),
        ] {
            assert_eq!(res(text), time(want), "{text}");
            // The rendering equals the plaintext, plain.
            assert_eq!(yaml_render(&Value::Time(want.into()), 4, 4), want);
        }
    }

    #[test]
    fn resolve_table_1_2_time_lookalikes_stay_strings() {
        for text in [
            "2024-01-01T10:00:00",
            "2024-01-01t10:00:00z",
            "2024-01-01T10:00:00+0200",
            "2024-01-01 10:00:00 +02:00",
        ] {
            assert_eq!(res(text), string(text), "{text}");
            // Rendered plain and unchanged.
            assert_eq!(y(text), text);
        }
    }

    #[test]
    fn resolve_table_1_2_nulls_and_empty() {
        for text in ["null", "~", "", "Null", "NULL"] {
            assert_eq!(res(text), Resolved::Null, "{text:?}");
        }
        // `""` is never a token, but it renders the way it stays in the file.
        assert_eq!(y(""), "\"\"");
        // `!!str 123`: a string that reads back as an int is double-quoted.
        assert_eq!(y("123"), "\"123\"");
    }

    #[test]
    fn resolve_edge_cases() {
        assert_eq!(res("0"), int(0));
        assert_eq!(res("-0"), int(0));
        assert_eq!(res("00"), int(0));
        assert_eq!(res("0B101"), int(5));
        assert_eq!(res("-0b101"), int(-5));
        assert_eq!(res("-0o17"), int(-15));
        assert_eq!(res("1__0"), int(10));
        assert_eq!(res("1_"), int(1));
        // yaml.v3 quirk: its own 0b/0o branch accepts a sign after the prefix.
        assert_eq!(res("0b-101"), int(-5));
        assert_eq!(res("0o+17"), int(15));
        // 08 is not octal, but it is a yamlStyleFloat.
        assert_eq!(res("08"), float(8.0));
        assert_eq!(res("0."), float(0.0));
        assert_eq!(res("+.5"), float(0.5));
        assert_eq!(res(".5_0"), float(0.5));
        // A signed value beyond i64 is no uint64 (ParseUint takes no sign): a float.
        assert_eq!(res("+9223372036854775808"), float(9223372036854775808.0));
        assert_eq!(res("-9223372036854775809"), float(-9223372036854775808.0));
        // Out-of-range floats are an error in Go, so they stay strings.
        assert_eq!(res("1e400"), string("1e400"));
        assert_eq!(res(".5e400"), string(".5e400"));
        for text in [
            "0b2",
            "0xG",
            "_1",
            "1.2.3",
            "+",
            "-",
            ".",
            "=",
            "._5",
            "0x",
            "yes",
            "on",
            "tRUE",
            "<<",
            "Infinity",
            "+inf",
            "0x1p-2",
            "1e",
            "-0x8000000000000001",
        ] {
            assert_eq!(res(text), string(text), "{text}");
        }
        // Timestamps: Go time.Parse details.
        assert_eq!(res("2024-02-29"), time("2024-02-29T00:00:00Z"));
        assert_eq!(res("2023-02-29"), string("2023-02-29"));
        assert_eq!(res("2024-13-01"), string("2024-13-01"));
        assert_eq!(res("2024-01-01T24:00:00Z"), string("2024-01-01T24:00:00Z"));
        assert_eq!(res("2024-01-01T10:60:00Z"), string("2024-01-01T10:60:00Z"));
        assert_eq!(
            res("2024-01-01T10:00:00,5Z"),
            time("2024-01-01T10:00:00.5Z")
        );
        assert_eq!(res("2024-01-01   10:00:00"), time("2024-01-01T10:00:00Z"));
        assert_eq!(
            res("2024-01-01T10:00:00.Z"),
            string("2024-01-01T10:00:00.Z")
        );
        assert_eq!(res("2024-01-01 10:00:00Z"), string("2024-01-01 10:00:00Z"));
        assert_eq!(res("2024-01-01t10:00:00Z"), time("2024-01-01T10:00:00Z"));
        assert_eq!(
            res("2024-01-01T10:00:00-05:30"),
            time("2024-01-01T10:00:00-05:30")
        );
        assert_eq!(
            res("2024-01-01T10:00:00+01:60"),
            time("2024-01-01T10:00:00+02:00")
        );
        assert_eq!(res("2024-001-01"), string("2024-001-01"));
        assert_eq!(res("12024-01-01"), string("12024-01-01"));
        assert_eq!(
            res("2024-01-01T10:00:00.000Z"),
            time("2024-01-01T10:00:00Z")
        );
    }

    #[test]
    fn reads_as_non_string() {
        for s in [
            "1",
            "1.0",
            ".5",
            "true",
            "null",
            "~",
            "",
            ".inf",
            "2024-01-01",
            "0x1F",
            "08",
            "9223372036854775808",
        ] {
            assert!(yaml_reads_as_non_string(s), "{s:?}");
        }
        for s in ["yes", "<<", "12:30", "hello", "0b2", "1e400", "Infinity"] {
            assert!(!yaml_reads_as_non_string(s), "{s:?}");
        }
    }

    // ----- §1.3 confirmed single-line strings ---------------------------------

    #[test]
    fn strings_table_1_3_unchanged_plain() {
        for s in [
            "hello world",
            "Infinity",
            "NaN",
            "a:b",
            "a :b",
            "a#b",
            "-a",
            "--",
            "?a",
            ":a",
            "a,b",
            "a[b]",
            "a{b}",
            "a - b",
            "it's",
            "a\"b",
            "a\\b",
            "a/b",
            "0b2",
            "0xG",
            "_1",
            "1.2.3",
            "+",
            ".",
            "=",
            "tRUE",
            "nULL",
            "a  b",
            "é",
            "日本語",
            "café au lait",
            "\u{a0}lead",
            "\u{3000}x",
            "\u{e000}",
            "\u{fffd}",
        ] {
            assert_eq!(y(s), s, "{s:?}");
        }
    }

    #[test]
    fn strings_table_1_3_double_quoted() {
        for s in [
            "yes",
            "Yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "true",
            "True",
            "FALSE",
            "NO",
            "Off",
            "null",
            "Null",
            "NULL",
            "~",
            "1",
            "-5",
            "+1",
            "0",
            "-0",
            "00",
            "017",
            "0x1F",
            "0o17",
            "1_000",
            "1__0",
            "1_",
            "1.0",
            "1e3",
            ".5",
            "0.",
            "+.5",
            ".inf",
            "-.Inf",
            ".nan",
            "2024-01-01",
            "2024-01-01T10:00:00Z",
            "2024-01-01 10:00:00",
            "12:30",
            "1:2:3",
            "190:20:30",
        ] {
            assert_eq!(y(s), format!("\"{s}\""), "{s:?}");
        }
    }

    #[test]
    fn strings_table_1_3_merge_key() {
        assert_eq!(y("<<"), "!!merge <<");
    }

    #[test]
    fn strings_table_1_3_single_quoted() {
        for (s, want) in [
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            (" ", "' '"),
            ("   ", "'   '"),
            ("a: b", "'a: b'"),
            ("a:", "'a:'"),
            ("a #b", "'a #b'"),
            ("a # b", "'a # b'"),
            ("-", "'-'"),
            ("- a", "'- a'"),
            ("- ", "'- '"),
            ("?", "'?'"),
            ("? a", "'? a'"),
            (":", "':'"),
            (": a", "': a'"),
            ("---", "'---'"),
            ("--- a", "'--- a'"),
            ("...", "'...'"),
            (",a", "',a'"),
            ("[a", "'[a'"),
            ("]a", "']a'"),
            ("{a", "'{a'"),
            ("}a", "'}a'"),
            ("#a", "'#a'"),
            ("#", "'#'"),
            ("&a", "'&a'"),
            ("*a", "'*a'"),
            ("!a", "'!a'"),
            ("%a", "'%a'"),
            ("@a", "'@a'"),
            ("|a", "'|a'"),
            (">a", "'>a'"),
            ("`a", "'`a'"),
            ("'a", "'''a'"),
            ("'quoted'", "'''quoted'''"),
            ("'", "''''"),
            ("\"a", "'\"a'"),
            ("\"dq\"", "'\"dq\"'"),
            ("\"", "'\"'"),
        ] {
            assert_eq!(y(s), want, "{s:?}");
            assert_eq!(yaml_single_quoted(s).as_deref(), Some(want), "{s:?}");
        }
    }

    #[test]
    fn strings_table_1_3_escaped() {
        for (s, want) in [
            ("tab\tin", r#""tab\tin""#),
            ("\tlead", r#""\tlead""#),
            ("a:\tb", r#""a:\tb""#),
            ("cr\rx", r#""cr\rx""#),
            ("ctl\u{1}x", r#""ctl\x01x""#),
            ("x\u{1f}", r#""x\x1F""#),
            ("nul\0x", r#""nul\0x""#),
            ("bell\u{7}", r#""bell\a""#),
            ("esc\u{1b}", r#""esc\e""#),
            ("del\u{7f}x", r#""del\x7Fx""#),
            ("c1\u{85}x", r#""c1\Nx""#),
            ("\u{80}", r#""\x80""#),
            ("\u{9f}", r#""\x9F""#),
            ("bom\u{feff}x", r#""bom\uFEFFx""#),
            ("\u{fffe}", r#""\uFFFE""#),
            ("\u{ffff}", r#""\uFFFF""#),
            ("emoji😀", r#""emoji\U0001F600""#),
            ("😀", r#""\U0001F600""#),
            ("\u{10000}", r#""\U00010000""#),
        ] {
            assert_eq!(y(s), want, "{s:?}");
            assert_eq!(yaml_single_quoted(s), None, "{s:?}");
        }
    }

    #[test]
    fn strings_table_1_3_paragraph_separators() {
        // Key at column 4: N = 8.
        assert_eq!(
            yaml_render(&Value::Str("x\u{2028}y".into()), 4, 8),
            "'x\u{2028}        y'"
        );
        assert_eq!(y("a\u{2029}"), "'a\u{2029}'");
        assert_eq!(yaml_single_quoted("x\u{2028}y"), None);
    }

    #[test]
    fn strings_table_1_3_long_lines_not_folded() {
        let xs = "x".repeat(120);
        assert_eq!(y(&xs), xs);
        let words = "word ".repeat(30);
        // Trailing space: single-quoted, still one line.
        assert_eq!(y(&words), format!("'{words}'"));
        let words = words.trim_end();
        assert_eq!(y(words), words);
    }

    // ----- §1.4 quoted scalars ----------------------------------------------

    #[test]
    fn double_quoted_1_4() {
        assert_eq!(
            yaml_double_quoted("\0\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\"\\\u{85}\u{2028}\u{2029}"),
            r#""\0\a\b\t\n\v\f\r\e\"\\\N\L\P""#
        );
        assert_eq!(
            yaml_double_quoted("a/b it's é\u{a0}"),
            "\"a/b it's é\u{a0}\""
        );
        assert_eq!(yaml_double_quoted("\u{2}\u{d7ff}"), "\"\\x02\u{d7ff}\"");
        assert_eq!(
            yaml_double_quoted("\u{e000}\u{feff}"),
            "\"\u{e000}\\uFEFF\""
        );
        assert_eq!(yaml_double_quoted(""), "\"\"");
        assert_eq!(
            yaml_double_quoted(&"word ".repeat(50)),
            format!("\"{}\"", "word ".repeat(50))
        );
    }

    #[test]
    fn single_quoted_1_4() {
        assert_eq!(yaml_single_quoted("it's").as_deref(), Some("'it''s'"));
        assert_eq!(yaml_single_quoted("").as_deref(), Some("''"));
        assert_eq!(yaml_single_quoted("a\tb"), None);
        assert_eq!(yaml_single_quoted("a\nb"), None);
        assert_eq!(
            yaml_render(&Value::Str("x\u{2028}\u{2029}y'".into()), 4, 6),
            "'x\u{2028}\u{2029}      y'''"
        );
    }

    // ----- §1.5 literal blocks ---------------------------------------------------

    #[test]
    fn literal_blocks_1_5() {
        // (value, N, rendering); I = 4, keys at K = 0 unless noted.
        for (s, n, want) in [
            ("a\nb", 4, "|-\n    a\n    b"),
            ("a\nb\n", 4, "|\n    a\n    b"),
            ("a\nb\n\n", 4, "|+\n    a\n    b\n"),
            ("\n", 4, "|4+\n"),
            (" lead\nb", 4, "|4-\n     lead\n    b"),
            ("  two\nb\n", 4, "|4\n      two\n    b"),
            ("\nlead break", 4, "|4-\n\n    lead break"),
            ("a\n b", 4, "|-\n    a\n     b"),
            ("a\tb\nc", 4, "|-\n    a\tb\n    c"),
            ("a\n\nb", 4, "|-\n    a\n\n    b"),
            // In a list: D = 8, N = 10, digit still 4.
            (" x\ny", 10, "|4-\n           x\n          y"),
            // `- k:` with K = 10: N = 12.
            ("p\nq\n\n", 12, "|+\n            p\n            q\n"),
            // Raw non-ASCII in a literal.
            ("é\n日本", 4, "|-\n    é\n    日本"),
        ] {
            assert_eq!(yaml_render(&Value::Str(s.into()), 4, n), want, "{s:?}");
        }
    }

    #[test]
    fn literal_blocks_1_5_indent_2() {
        // I = 2, K = 2 gives `|2-` with N = 4.
        assert_eq!(
            yaml_render(&Value::Str(" a\nb".into()), 2, 4),
            "|2-\n     a\n    b"
        );
    }

    #[test]
    fn literal_blocks_1_5_line_separator_inside() {
        assert_eq!(
            yaml_render(&Value::Str("a\u{2028}b\nc".into()), 4, 4),
            "|-\n    a\u{2028}    b\n    c"
        );
    }

    #[test]
    fn multiline_double_quoted_1_5() {
        for (s, want) in [
            ("a \nb", r#""a \nb""#),
            ("a\nb ", r#""a\nb ""#),
            ("a\n  \nb", r#""a\n  \nb""#),
            ("trail\n ", r#""trail\n ""#),
            (" \n", r#"" \n""#),
            ("a\u{1}\nb", r#""a\x01\nb""#),
            ("a\r\nb\r\n", r#""a\r\nb\r\n""#),
            ("😀\nb", r#""\U0001F600\nb""#),
        ] {
            assert_eq!(y(s), want, "{s:?}");
        }
    }

    #[test]
    fn comments_render_raw() {
        for t in [" note", "no space", "#double", "   x   ", "\ttab 😀"] {
            assert_eq!(
                yaml_render(&Value::Comment(t.into()), 4, 4),
                format!("#{t}")
            );
        }
        assert!(matches!(
            json_render(&Value::Comment("x".into())),
            Err(RenderError::Comment)
        ));
    }

    // ----- §2.2 JSON strings ---------------------------------------------------

    #[test]
    fn json_strings_2_2() {
        for (s, want) in [
            ("<tag> & \"q\"", r#""\u003ctag\u003e \u0026 \"q\"""#),
            ("a/b", r#""a/b""#),
            ("it's", r#""it's""#),
            ("nl\nx", r#""nl\nx""#),
            ("cr\rx", r#""cr\rx""#),
            ("tab\tx", r#""tab\tx""#),
            ("bs\u{8}x", r#""bs\bx""#),
            ("ff\u{c}x", r#""ff\fx""#),
            ("c\u{1}x", r#""c\u0001x""#),
            ("x\u{1f}\u{1b}", r#""x\u001f\u001b""#),
            ("del\u{7f}x", "\"del\u{7f}x\""),
            ("c1\u{85}x", "\"c1\u{85}x\""),
            ("ls\u{2028}ps\u{2029}", r#""ls\u2028ps\u2029""#),
            ("é日本", "\"é日本\""),
            ("😀", "\"😀\""),
            ("bom\u{feff}", "\"bom\u{feff}\""),
            ("nbsp\u{a0}x", "\"nbsp\u{a0}x\""),
            ("back\\slash", r#""back\\slash""#),
        ] {
            assert_eq!(json_render(&Value::Str(s.into())).unwrap(), want, "{s:?}");
        }
    }

    // ----- §2.3 JSON numbers, bools, time ------------------------------------

    #[test]
    fn json_numbers_2_3() {
        for (input, want) in [
            ("0", "0"),
            ("1", "1"),
            ("-1", "-1"),
            ("1.0", "1"),
            ("100", "100"),
            ("1E2", "100"),
            ("-0.0", "-0"),
            ("1.5", "1.5"),
            ("0.1", "0.1"),
            ("-0.0015", "-0.0015"),
            ("3.141592653589793238", "3.141592653589793"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("123456789012345678901", "123456789012345680000"),
            ("12345678901234567890", "12345678901234567000"),
            ("1.5e300", "1.5e+300"),
            ("1e-6", "0.000001"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("0.0000001", "1e-7"),
        ] {
            assert_eq!(json_render(&json_number(input)).unwrap(), want, "{input}");
        }
        // 3.13 types integers in the int64 range exactly; 3.11 would have made this a
        // float64 and printed 9007199254740992.
        assert_eq!(
            json_number("9007199254740993"),
            Value::Int(9007199254740993)
        );
        assert_eq!(
            json_render(&Value::Float(9007199254740993.0)).unwrap(),
            "9007199254740992"
        );
        assert_eq!(json_render(&Value::Int(42)).unwrap(), "42");
        assert_eq!(json_render(&Value::Int(-7)).unwrap(), "-7");
        assert_eq!(
            json_render(&Value::Int(i64::MAX)).unwrap(),
            "9223372036854775807"
        );
        // Typing of the literals.
        assert_eq!(json_number("1.0"), Value::Float(1.0));
        assert_eq!(json_number("1E2"), Value::Float(100.0));
        assert_eq!(json_number("-0"), Value::Int(0));
        assert_eq!(
            json_number("9223372036854775808"),
            Value::Float(9223372036854775808.0)
        );
    }

    #[test]
    fn json_bools_and_times_2_3() {
        assert_eq!(json_render(&Value::Bool(true)).unwrap(), "true");
        assert_eq!(json_render(&Value::Bool(false)).unwrap(), "false");
        for t in ["2024-01-01T00:00:00Z", "2024-01-01T10:00:00.5+02:00"] {
            assert_eq!(
                json_render(&Value::Time(t.into())).unwrap(),
                format!("\"{t}\"")
            );
        }
    }

    #[test]
    fn render_error_messages_hold_no_value() {
        assert_eq!(
            RenderError::NonFinite.to_string(),
            "json: unsupported value: non-finite float"
        );
        assert_eq!(
            RenderError::Comment.to_string(),
            "a comment cannot be rendered as a json value"
        );
    }

    // ----- §3/§4: ValToString of YAML floats -------------------------------------

    #[test]
    fn val_to_string_of_yaml_floats() {
        for (text, want) in [
            ("1.0", "1.0"),
            ("1e21", "1E+21"),
            ("1e-7", "1E-07"),
            ("1234567.0", "1.234567E+06"),
            (".inf", "+Inf"),
            (".nan", "NaN"),
            ("-0.0", "-0.0"),
        ] {
            assert_eq!(go_float_val_to_string(resolved_float(text)), want, "{text}");
        }
    }
}
