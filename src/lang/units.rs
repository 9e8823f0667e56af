//! Literal syntax for sizes, durations, times, numbers and booleans, and their human display.
//!
//! Owns the text forms: `4G 512M 1.5T 100K` (binary units, `G` = GiB as PVE writes them),
//! `90s 2h 3d 1w 1h30m`, ISO-8601 UTC times, and the human renderings `4.0 GiB`, `3d 4h`,
//! `2026-11-21T10:00:00Z`. Pure functions, no allocation on the parse side.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

const SIZE_UNITS: [(char, u32); 5] = [('K', 1), ('M', 2), ('G', 3), ('T', 4), ('P', 5)];

/// Parses a size in bytes: `4G`, `512M`, `1.5T`, `100K`, `4GiB`, `4GB`, `4g`, `10B` or a bare
/// number of bytes. All units are binary (1K = 1024), as in PVE's own size strings.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let power = match unit {
        "" | "B" | "b" => 0,
        _ => {
            let mut chars = unit.chars();
            let letter = chars.next()?.to_ascii_uppercase();
            let rest = chars.as_str();
            if !matches!(rest, "" | "B" | "iB" | "ib" | "b") {
                return None;
            }
            SIZE_UNITS.iter().find(|(l, _)| *l == letter)?.1
        }
    };
    scale(number, 1024f64.powi(power as i32))
}

/// Parses a duration in seconds: `90s`, `5m`, `2h`, `3d`, `1w`, combinations such as `1h30m`, or
/// a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(secs);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let unit = tail.chars().next()?;
        let factor = match unit {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86_400.0,
            'w' => 604_800.0,
            _ => return None,
        };
        total = total.checked_add(scale(number, factor)?)?;
        rest = &tail[1..];
    }
    Some(total)
}

/// `number * factor` as a whole number, when `number` is a plain non-negative decimal.
fn scale(number: &str, factor: f64) -> Option<u64> {
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let scaled = (value * factor).round();
    (scaled.is_finite() && scaled < u64::MAX as f64).then_some(scaled as u64)
}

/// Parses a boolean: `true false yes no on off` (any case).
pub fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 3] = ["true", "yes", "on"];
    const FALSE: [&str; 3] = ["false", "no", "off"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// Parses a UTC time as unix seconds: `2026-11-21`, `2026-11-21T10:00:00Z`, `2026-11-21 10:00`,
/// an RFC 3339 time with an offset, or a bare number of seconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

/// Parses a percentage as a fraction: `50%` → 0.5, `12.5%` → 0.125.
pub fn parse_percent(text: &str) -> Option<f64> {
    let number = text.trim().strip_suffix('%')?.trim_end();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    number
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f / 100.0)
}

/// `4.0 GiB`, `512.0 MiB`, `100 B`: one decimal above bytes.
pub fn format_size(bytes: u64) -> String {
    let mut out = String::with_capacity(12);
    let _ = write_size(&mut out, bytes);
    out
}

/// `bytes` in binary units with one decimal by float arithmetic: how sizes were always written,
/// and what [`write_size`] does above f64's exact integers.
fn write_size_by_float(out: &mut impl std::fmt::Write, bytes: u64) -> std::fmt::Result {
    const NAMES: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return write!(out, "{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for name in NAMES {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = name;
    }
    write!(out, "{value:.1} {unit}")
}

/// Writes [`format_size`]'s text without allocating: tables of 10 000 guests write two sizes a
/// row. The decimal is the exact value rounded half to even, as `{:.1}` rounds an `f64`
/// (bytes / 1024ⁿ is exact in binary, so integers give the same digit).
pub fn write_size(out: &mut impl std::fmt::Write, bytes: u64) -> std::fmt::Result {
    const NAMES: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return write!(out, "{bytes} B");
    }
    if bytes >= 1 << 53 {
        // Beyond f64's exact integers: let the float formatting round as before.
        return write_size_by_float(out, bytes);
    }
    let mut shift = 0u32;
    let mut unit = "B";
    for name in NAMES {
        if bytes >> shift < 1024 {
            break;
        }
        shift += 10;
        unit = name;
    }
    // tenths = round_half_even(bytes * 10 / 2^shift), in 128 bits (no overflow).
    let num = u128::from(bytes) * 10;
    let den = 1u128 << shift;
    let (mut tenths, rest) = (num / den, num % den);
    if rest * 2 > den || (rest * 2 == den && tenths % 2 == 1) {
        tenths += 1;
    }
    write!(out, "{}.{} {unit}", tenths / 10, tenths % 10)
}

/// Writes `value` with one decimal, as `{:.1}` does (the exact binary value rounded half to
/// even), by integer arithmetic where the value allows it (a table of 10 000 guests writes a
/// share a row; `{:.1}` falls back to slow big-number code for many of them).
pub fn write_one_decimal(out: &mut impl std::fmt::Write, value: f64) -> std::fmt::Result {
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    // value = mantissa · 2^-shift, with 0 < shift < 120 so that mantissa·10 fits 128 bits.
    let (mantissa, shift) = match exponent {
        0 => (fraction, 1074),
        0x7ff => return write!(out, "{value:.1}"),
        e => (fraction | (1u64 << 52), 1075 - e),
    };
    if mantissa == 0 {
        return out.write_str(if negative { "-0.0" } else { "0.0" });
    }
    if !(1..120).contains(&shift) {
        return write!(out, "{value:.1}");
    }
    let num = u128::from(mantissa) * 10;
    let (mut tenths, rest) = (num >> shift, num & ((1u128 << shift) - 1));
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && tenths % 2 == 1) {
        tenths += 1;
    }
    let sign = if negative { "-" } else { "" };
    write!(out, "{sign}{}.{}", tenths / 10, tenths % 10)
}

/// `3d 4h`, `1m 30s`, `0s`: the two largest non-zero units.
pub fn format_duration(secs: u64) -> String {
    let mut out = String::with_capacity(8);
    let _ = write_duration(&mut out, secs);
    out
}

/// Writes [`format_duration`]'s text without allocating.
pub fn write_duration(out: &mut impl std::fmt::Write, secs: u64) -> std::fmt::Result {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    if secs == 0 {
        return out.write_str("0s");
    }
    let mut parts = 0;
    let mut rest = secs;
    for (size, name) in UNITS {
        if rest >= size {
            if parts > 0 {
                out.write_str(" ")?;
            }
            write!(out, "{}{name}", rest / size)?;
            rest %= size;
            parts += 1;
        } else if parts > 0 {
            // Skipping a zero unit after the first keeps `1d 0h 5m` from reading as `1d 5m`.
            break;
        }
        if parts == 2 {
            break;
        }
    }
    Ok(())
}

/// ISO-8601 UTC with seconds: `2026-11-21T10:00:00Z`; out-of-range values print as a number.
pub fn format_time(unix: i64) -> String {
    match DateTime::from_timestamp(unix, 0) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// The float formatting `format_size` used to do; `write_size` must give the same text.
    fn size_by_float(bytes: u64) -> String {
        let mut out = String::new();
        super::write_size_by_float(&mut out, bytes).unwrap();
        out
    }

    #[test]
    fn one_decimal_by_integers_is_the_float_text() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            1.25,
            2.5,
            -2.25,
            17.000000000000004,
            99.95,
            100.0,
            1e-10,
            1e-300,
            5e-324,
            1e15,
            1e17,
            4.5e15,
            9.007199254740993e15,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Shares as PVE sends them (cpu 0.0123) times 100, and ties at every scale.
        for i in 0..20_000u32 {
            cases.push(f64::from(i) / 10_000.0 * 100.0);
            cases.push(f64::from(i) * 0.05);
            cases.push(f64::from(i) / 3.0);
        }
        for v in cases {
            let mut got = String::new();
            super::write_one_decimal(&mut got, v).unwrap();
            assert_eq!(got, format!("{v:.1}"), "{v:e}");
        }
    }

    #[test]
    fn sizes_by_integers_are_the_float_texts() {
        let mut cases: Vec<u64> = (0..5000u64).map(|i| i * 37 + i * i).collect();
        for shift in [10u32, 20, 30, 40, 50] {
            for k in 0..2048u64 {
                // Ties (x.x5 exactly), their neighbours, and round values.
                let base = (k << shift) / 20;
                cases.extend([base.saturating_sub(1), base, base + 1, k << shift]);
            }
        }
        cases.extend([
            u64::MAX,
            1 << 53,
            (1 << 53) - 1,
            (1 << 53) + 1,
            1536,
            1280,
            3840,
        ]);
        for bytes in cases {
            assert_eq!(super::format_size(bytes), size_by_float(bytes), "{bytes}");
        }
    }

    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("4G", Some(4 << 30)),
            ("512M", Some(512 << 20)),
            ("1.5T", Some(3 << 39)),
            ("100K", Some(102_400)),
            ("4GiB", Some(4 << 30)),
            ("4GB", Some(4 << 30)),
            ("4g", Some(4 << 30)),
            ("1P", Some(1 << 50)),
            ("10B", Some(10)),
            ("2048", Some(2048)),
            ("0", Some(0)),
            ("", None),
            ("G", None),
            ("4X", None),
            ("4GG", None),
            ("-4G", None),
            (".5G", None),
            ("4.G", None),
            ("1.2.3G", None),
            ("99999999999P", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_size(text), *expected, "parse_size({text:?})");
        }
    }

    #[test]
    fn durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("2h", Some(7200)),
            ("3d", Some(259_200)),
            ("1w", Some(604_800)),
            ("1h30m", Some(5400)),
            ("1.5h", Some(5400)),
            ("42", Some(42)),
            ("", None),
            ("h", None),
            ("3x", None),
            ("1h30", None),
            ("-1h", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), *expected, "parse_duration({text:?})");
        }
    }

    #[test]
    fn booleans_and_times() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_time("2026-11-21"), Some(1_795_219_200));
        assert_eq!(parse_time("2026-11-21T10:00:00Z"), Some(1_795_255_200));
        assert_eq!(parse_time("2026-11-21 10:00"), Some(1_795_255_200));
        assert_eq!(parse_time("2026-11-21T12:00:00+02:00"), Some(1_795_255_200));
        assert_eq!(parse_time("1795255200"), Some(1_795_255_200));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn human_forms() {
        assert_eq!(format_size(100), "100 B");
        assert_eq!(format_size(4 << 30), "4.0 GiB");
        assert_eq!(format_size(1536 << 20), "1.5 GiB");
        assert_eq!(format_size(u64::MAX), "16.0 EiB");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90), "1m 30s");
        assert_eq!(format_duration(273_600), "3d 4h");
        assert_eq!(format_duration(86_400 + 300), "1d");
        assert_eq!(format_duration(7200), "2h");
        assert_eq!(format_time(1_795_255_200), "2026-11-21T10:00:00Z");
        assert_eq!(format_time(i64::MAX), i64::MAX.to_string());
    }
}
