//! Pure checks of wizard answers and `new` flags: names, sizes, core counts, IPv4 addresses and
//! CIDRs, gateways. Each returns the parsed value or a sentence saying what is wrong and what a
//! good value looks like; the same functions back the interactive prompts and the flags, so both
//! paths accept exactly the same input.
//!
//! Must not: do IO, look at the cluster, or know about prompts.

use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::config::Size;

/// The smallest memory PVE accepts for a VM (`memory` minimum 16 MiB).
const MIN_MEMORY_MIB: u64 = 16;

/// A guest name as PVE's `dns-name` format wants it: labels of letters, digits and `-`, joined
/// by dots, each 1-63 characters and not starting or ending with `-`.
pub fn name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the name is empty; use letters, digits and -, such as web03".into());
    }
    for label in text.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "'{text}' is not a valid VM name: use letters, digits and - (not at the start or end), such as web03"
            ));
        }
    }
    Ok(text.to_string())
}

/// A login name for cloud-init's `ciuser`: a lower-case letter or `_`, then lower-case letters,
/// digits, `_` or `-`, at most 32 characters.
pub fn user(text: &str) -> Result<String, String> {
    let text = text.trim();
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first_ok && rest_ok && text.len() <= 32 {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a user name: start with a lower-case letter, then letters, digits, _ or -"
        ))
    }
}

/// The public keys in the text of a key file (`authorized_keys`, `id_ed25519.pub`): its lines
/// that look like keys, comments and blank lines left out. At least one is required.
pub fn ssh_keys(text: &str, file: &str) -> Result<String, String> {
    let keys: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| ["ssh-", "ecdsa-", "sk-"].iter().any(|p| l.starts_with(p)))
        .collect();
    if keys.is_empty() {
        return Err(format!(
            "{file} holds no SSH public key (lines starting with ssh-, ecdsa- or sk-)"
        ));
    }
    Ok(keys.join("\n"))
}

/// A size with a unit (`2G`, `512M`).
pub fn size(text: &str) -> Result<Size, String> {
    Size::from_str(text.trim()).map_err(|e| format!("'{}': {e}", text.trim()))
}

/// Memory for a VM: a size of at least 16 MiB, in whole MiB.
pub fn memory(text: &str) -> Result<Size, String> {
    let s = size(text)?;
    if s.mib() < MIN_MEMORY_MIB {
        return Err(format!(
            "memory {} is below PVE's minimum of 16M",
            text.trim()
        ));
    }
    Ok(s)
}

/// A core count: a whole number from 1.
pub fn cores(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{}' is not a core count: give a whole number from 1, such as 2",
            text.trim()
        )),
    }
}

/// An IPv4 address.
pub fn ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.trim().parse::<Ipv4Addr>().map_err(|_| {
        format!(
            "'{}' is not an IPv4 address such as 192.168.1.1",
            text.trim()
        )
    })
}

/// A host address with its prefix length (`192.168.1.50/24`), as `ipconfig0` wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// True when `ip` is in this address's subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A static address in CIDR notation: a host (not the network or broadcast address) and a
/// prefix length from 8 to 32.
pub fn cidr(text: &str) -> Result<Cidr, String> {
    let text = text.trim();
    let Some((addr, prefix)) = text.split_once('/') else {
        return Err(format!(
            "'{text}' has no prefix length: write the address as CIDR, such as 192.168.1.50/24"
        ));
    };
    let addr = ipv4(addr)?;
    let prefix: u8 = match prefix.parse() {
        Ok(p) if (8..=32).contains(&p) => p,
        _ => {
            return Err(format!(
                "'{text}': the prefix length must be a number from 8 to 32, such as /24"
            ));
        }
    };
    let c = Cidr { addr, prefix };
    if prefix <= 30 {
        let host_bits = !c.mask();
        let host = u32::from(addr) & host_bits;
        if host == 0 || host == host_bits {
            return Err(format!(
                "'{text}' is the network or broadcast address of its subnet: pick a host address"
            ));
        }
    }
    Ok(c)
}

/// A gateway for a static address: an IPv4 address inside the address's subnet, other than the
/// address itself.
pub fn gateway(text: &str, ip: Cidr) -> Result<Ipv4Addr, String> {
    let gw = ipv4(text)?;
    if gw == ip.addr {
        return Err(format!("the gateway {gw} is the VM's own address"));
    }
    if !ip.contains(gw) {
        return Err(format!("the gateway {gw} is outside the VM's subnet {ip}"));
    }
    Ok(gw)
}

/// A comma- or space-separated list of IPv4 name servers.
pub fn nameservers(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for p in &parts {
        ipv4(p)?;
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: std::fmt::Debug>(got: Result<T, String>, expected: Result<&str, &str>) {
        match (got, expected) {
            (Ok(v), Ok(want)) => assert_eq!(format!("{v:?}"), want),
            (Err(e), Err(want)) => assert!(e.contains(want), "error '{e}' lacks '{want}'"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn names() {
        check(name("web03"), Ok("\"web03\""));
        check(name(" db-1.lab "), Ok("\"db-1.lab\""));
        check(name(""), Err("empty"));
        check(name("-web"), Err("not a valid VM name"));
        check(name("web_01"), Err("not a valid VM name"));
        check(name("a..b"), Err("not a valid VM name"));
        check(user("debian"), Ok("\"debian\""));
        check(user("Admin"), Err("not a user name"));
        check(user(""), Err("not a user name"));
    }

    #[test]
    fn cidrs() {
        check(
            cidr("192.168.1.50/24"),
            Ok("Cidr { addr: 192.168.1.50, prefix: 24 }"),
        );
        check(
            cidr("10.0.0.1/32"),
            Ok("Cidr { addr: 10.0.0.1, prefix: 32 }"),
        );
        check(cidr("192.168.1.50"), Err("no prefix length"));
        check(cidr("192.168.1.50/33"), Err("from 8 to 32"));
        check(cidr("192.168.1.50/x"), Err("from 8 to 32"));
        check(cidr("192.168.1.0/24"), Err("network or broadcast"));
        check(cidr("192.168.1.255/24"), Err("network or broadcast"));
        check(cidr("192.168.1.300/24"), Err("not an IPv4 address"));
    }

    #[test]
    fn gateways() {
        let ip = cidr("192.168.1.50/24").unwrap();
        check(gateway("192.168.1.1", ip), Ok("192.168.1.1"));
        check(gateway("192.168.2.1", ip), Err("outside the VM's subnet"));
        check(gateway("192.168.1.50", ip), Err("own address"));
        check(gateway("gw", ip), Err("not an IPv4 address"));
    }

    #[test]
    fn sizes_and_counts() {
        check(memory("2G").map(|s| s.mib()), Ok("2048"));
        check(memory("8M"), Err("minimum of 16M"));
        check(memory("2"), Err("'2'"));
        check(cores("4"), Ok("4"));
        check(cores("0"), Err("not a core count"));
        check(cores("two"), Err("not a core count"));
        check(nameservers("1.1.1.1, 9.9.9.9"), Ok("\"1.1.1.1 9.9.9.9\""));
        check(nameservers("1.1.1"), Err("not an IPv4 address"));
        check(
            ssh_keys("# mine\nssh-ed25519 AAAA a@b\n\necdsa-sha2 BBBB\n", "f"),
            Ok("\"ssh-ed25519 AAAA a@b\\necdsa-sha2 BBBB\""),
        );
        check(
            ssh_keys("hello\n", "keys.txt"),
            Err("keys.txt holds no SSH public key"),
        );
    }
}
