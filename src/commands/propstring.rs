//! PVE property strings in guest configs (`net0: virtio=BC:24:11:F0:A9:B4,bridge=vmbr0`),
//! expanded into sub-fields (`net0.model`, `net0.macaddr`, `net0.bridge`) so that
//! `config @all | where net0.bridge=vmbr1` works.
//!
//! Pure: no IO. Only keys known to hold property strings are expanded; free text such as
//! `description` or `args` is never split. Sub-field values are typed conservatively: a disk
//! `size` (`32G`) becomes a size, whole numbers become integers, anything else stays a string.

use crate::lang::Value;

/// The NIC models whose key carries the MAC address in QEMU's `netN` shorthand (`virtio=MAC`).
const NIC_MODELS: &[&str] = &[
    "virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "i82551", "i82557b", "i82559er", "ne2k_isa",
    "ne2k_pci", "pcnet",
];

/// The key of the unnamed first part of a property string (`local-lvm:vm-101-disk-0,size=32G`
/// → `file`), or `None` when `key` does not hold property strings.
fn default_key(key: &str) -> Option<&'static str> {
    let base = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let indexed = base.len() < key.len();
    Some(match base {
        "ide" | "sata" | "scsi" | "virtio" | "efidisk" | "tpmstate" | "unused" if indexed => "file",
        "mp" if indexed => "volume",
        "rootfs" if !indexed => "volume",
        "net" | "ipconfig" | "numa" | "serial" if indexed => "value",
        "hostpci" | "usb" if indexed => "host",
        "cpu" if !indexed => "cputype",
        "agent" if !indexed => "enabled",
        "vga" if !indexed => "type",
        "memory" if !indexed => "current",
        "rng" if indexed => "source",
        "audio" if indexed => "device",
        "boot" | "startup" | "smbios1" | "meta" | "features" | "spice_enhancements" if !indexed => {
            "value"
        }
        _ => return None,
    })
}

/// The sub-fields of `key: value`, named `key.sub`, or nothing when it is not a property string.
pub fn expand(key: &str, value: &str) -> Vec<(String, Value)> {
    let Some(default) = default_key(key) else {
        return Vec::new();
    };
    if !value.contains('=') && !value.contains(',') {
        return Vec::new();
    }
    let is_net = key.starts_with("net");
    let mut out = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if is_net && NIC_MODELS.contains(&k) => {
                out.push((format!("{key}.model"), Value::String(k.to_string())));
                out.push((format!("{key}.macaddr"), Value::String(v.to_string())));
            }
            Some((k, v)) => out.push((format!("{key}.{k}"), typed(k, v))),
            None => out.push((format!("{key}.{default}"), typed(default, part))),
        }
    }
    out
}

fn typed(sub: &str, v: &str) -> Value {
    if sub == "size" {
        match Value::parse_literal(v) {
            Value::Size(n) => return Value::Size(n),
            Value::Int(i) if i >= 0 => return Value::Size(i as u64),
            _ => {}
        }
    }
    // Leading zeros are kept as text: `0x1`, `00:1f.0`-like ids must not become numbers.
    match v.parse::<i64>() {
        Ok(i) if !v.starts_with('0') || v == "0" => Value::Int(i),
        _ => Value::String(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, value: &str, expected: &[(&str, &str)]) {
        let got: Vec<(String, String)> = expand(key, value)
            .into_iter()
            .map(|(k, v)| (k, format!("{v:?}")))
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{key}: {value}");
    }

    #[test]
    fn expands_known_property_strings() {
        check(
            "net0",
            "virtio=BC:24:11:F0:A9:B4,bridge=vmbr0,firewall=1,tag=20",
            &[
                ("net0.model", "String(\"virtio\")"),
                ("net0.macaddr", "String(\"BC:24:11:F0:A9:B4\")"),
                ("net0.bridge", "String(\"vmbr0\")"),
                ("net0.firewall", "Int(1)"),
                ("net0.tag", "Int(20)"),
            ],
        );
        check(
            "scsi0",
            "local-lvm:vm-101-disk-0,iothread=1,size=32G",
            &[
                ("scsi0.file", "String(\"local-lvm:vm-101-disk-0\")"),
                ("scsi0.iothread", "Int(1)"),
                ("scsi0.size", "Size(34359738368)"),
            ],
        );
        check(
            "ide2",
            "none,media=cdrom",
            &[
                ("ide2.file", "String(\"none\")"),
                ("ide2.media", "String(\"cdrom\")"),
            ],
        );
        check(
            "ipconfig0",
            "ip=10.0.0.5/24,gw=10.0.0.1",
            &[
                ("ipconfig0.ip", "String(\"10.0.0.5/24\")"),
                ("ipconfig0.gw", "String(\"10.0.0.1\")"),
            ],
        );
        check(
            "net0",
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:FD:46:9E,ip=dhcp,type=veth",
            &[
                ("net0.name", "String(\"eth0\")"),
                ("net0.bridge", "String(\"vmbr0\")"),
                ("net0.hwaddr", "String(\"BC:24:11:FD:46:9E\")"),
                ("net0.ip", "String(\"dhcp\")"),
                ("net0.type", "String(\"veth\")"),
            ],
        );
        check(
            "rootfs",
            "local-lvm:vm-200-disk-0,size=8G",
            &[
                ("rootfs.volume", "String(\"local-lvm:vm-200-disk-0\")"),
                ("rootfs.size", "Size(8589934592)"),
            ],
        );
        check(
            "boot",
            "order=scsi0;ide2;net0",
            &[("boot.order", "String(\"scsi0;ide2;net0\")")],
        );
        check(
            "agent",
            "1,fstrim_cloned_disks=1",
            &[
                ("agent.enabled", "Int(1)"),
                ("agent.fstrim_cloned_disks", "Int(1)"),
            ],
        );
    }

    #[test]
    fn leaves_other_values_alone() {
        check("agent", "1", &[]);
        check("cpu", "host", &[]);
        check("description", "a=b, c=d", &[]);
        check("name", "web01", &[]);
        check("net", "virtio=x", &[]);
        check("scsihw", "virtio-scsi-single", &[]);
        check(
            "hostpci0",
            "0000:01:00.0,pcie=1",
            &[
                ("hostpci0.host", "String(\"0000:01:00.0\")"),
                ("hostpci0.pcie", "Int(1)"),
            ],
        );
    }
}
