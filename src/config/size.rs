//! `Size`: a byte count written the way people write it in YAML (`2G`, `512M`, `1.5T`).
//!
//! Units are binary (K = 1024), as Proxmox uses them; `G`, `GB` and `GiB` all mean 2^30. A bare
//! number is refused: PVE counts memory in MiB and disks in GiB, so `memory: 2048` would be
//! ambiguous. This file only parses and prints sizes; it knows nothing about quotas or VMs.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(u64);

const UNITS: [(char, u32); 5] = [('K', 1), ('M', 2), ('G', 3), ('T', 4), ('P', 5)];

impl Size {
    pub const fn from_bytes(bytes: u64) -> Self {
        Size(bytes)
    }

    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// Whole MiB, rounded down: the unit of a QEMU guest's `memory`.
    pub const fn mib(self) -> u64 {
        self.0 >> 20
    }

    /// Whole GiB, rounded down: the unit of a disk `size` when creating a volume.
    pub const fn gib(self) -> u64 {
        self.0 >> 30
    }
}

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid size `{text}`: write a number and a unit, e.g. 512M, 2G, 1.5T");
        let s = text.trim();
        let digits_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(digits_end);
        if number.is_empty() {
            return Err(bad());
        }
        let unit = unit.trim();
        let exponent = if unit.eq_ignore_ascii_case("b") {
            0
        } else {
            let mut chars = unit.chars();
            let letter = chars.next().map(|c| c.to_ascii_uppercase());
            let rest = chars.as_str();
            let power = UNITS
                .iter()
                .find(|(u, _)| Some(*u) == letter)
                .map(|(_, p)| *p);
            match power {
                Some(p) if matches!(rest, "" | "B" | "iB" | "ib" | "b") => p,
                _ if unit.is_empty() && number == "0" => 0,
                _ if unit.is_empty() => {
                    return Err(format!(
                        "size `{text}` has no unit: write e.g. {text}M or {text}G"
                    ));
                }
                _ => return Err(bad()),
            }
        };
        let scale = 1u64 << (10 * exponent);
        let bytes = match number.split_once('.') {
            None => number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(scale)),
            Some((whole, frac)) => {
                // Exact decimal arithmetic: whole * scale + frac * scale / 10^len, rounded down.
                let whole: u64 = if whole.is_empty() {
                    Some(0)
                } else {
                    whole.parse().ok()
                }
                .ok_or_else(bad)?;
                if frac.is_empty() || frac.len() > 6 {
                    return Err(bad());
                }
                let denom = 10u64.pow(frac.len() as u32);
                let frac: u64 = frac.parse().map_err(|_| bad())?;
                whole.checked_mul(scale).and_then(|w| {
                    (frac as u128 * scale as u128 / denom as u128)
                        .try_into()
                        .ok()
                        .and_then(|f: u64| w.checked_add(f))
                })
            }
        };
        bytes
            .map(Size)
            .ok_or_else(|| format!("size `{text}` is too large"))
    }
}

impl fmt::Display for Size {
    /// The largest unit that divides the size exactly: `2G`, `1536M`, `100B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, power) in UNITS.iter().rev() {
            let scale = 1u64 << (10 * power);
            if self.0 != 0 && self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = Size;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 512M or 2G")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
                self.visit_str(&v.to_string())
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u64, &str>) {
        assert_eq!(
            input.parse::<Size>().map(Size::bytes),
            expected.map_err(str::to_string),
            "{input}"
        );
    }

    #[test]
    fn parses() {
        const G: u64 = 1 << 30;
        check("2G", Ok(2 * G));
        check("2GB", Ok(2 * G));
        check("2GiB", Ok(2 * G));
        check("2g", Ok(2 * G));
        check("512M", Ok(512 << 20));
        check("1.5G", Ok(3 * G / 2));
        check("0.5K", Ok(512));
        check("4 T", Ok(4 << 40));
        check("100B", Ok(100));
        check("0", Ok(0));
        check(
            "2X",
            Err("invalid size `2X`: write a number and a unit, e.g. 512M, 2G, 1.5T"),
        );
        check(
            "G",
            Err("invalid size `G`: write a number and a unit, e.g. 512M, 2G, 1.5T"),
        );
        check(
            "2048",
            Err("size `2048` has no unit: write e.g. 2048M or 2048G"),
        );
        check(
            "1.2.3G",
            Err("invalid size `1.2.3G`: write a number and a unit, e.g. 512M, 2G, 1.5T"),
        );
        check("99999999999P", Err("size `99999999999P` is too large"));
    }

    #[test]
    fn prints_the_largest_exact_unit() {
        for (bytes, text) in [
            (2u64 << 30, "2G"),
            (1536 << 20, "1536M"),
            (100, "100B"),
            (0, "0B"),
            (1 << 50, "1P"),
        ] {
            assert_eq!(Size::from_bytes(bytes).to_string(), text);
        }
        assert_eq!("1.5G".parse::<Size>().map(Size::mib), Ok(1536));
    }
}
