//! Parameter specs and PVE-style parameter validation.
//!
//! Each route declares its parameters as short spec strings, parsed once at start:
//!
//! ```text
//! name[?]:type [fmt=FORMAT] [min=N] [max=N] [maxlen=N] [minlen=N] [enum=a|b|c] [idx=LO..HI] [props=KIND] [pattern=REGEX]
//! ```
//!
//! `?` marks an optional parameter; `type` is `string`, `integer`, `number`, `boolean` or
//! `array`; a name ending in `[n]` is an indexed family (`net[n]` with `idx=0..31` accepts
//! `net0`..`net31`); `props` names a property-string format whose sub-keys are checked;
//! `pattern` takes the rest of the line. The checks and their texts follow PVE's
//! `JSONSchema.pm` (FACTS §1): type, then format, pattern, maxLength, minimum/maximum, enum.
//! This module only validates; it knows nothing about routes or HTTP.

use indexmap::IndexMap;
use regex::Regex;

/// Request parameters after decoding: every value as the string PVE would see.
pub type Params = IndexMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
}

impl PType {
    pub fn as_str(self) -> &'static str {
        match self {
            PType::String => "string",
            PType::Integer => "integer",
            PType::Number => "number",
            PType::Boolean => "boolean",
            PType::Array => "array",
        }
    }
}

/// A property-string format: which sub-keys `key=value,...` may use.
#[derive(Debug)]
pub struct PropFormat {
    pub name: &'static str,
    pub default_key: Option<&'static str>,
    pub keys: &'static [&'static str],
}

const DISK_KEYS: &[&str] = &[
    "aio",
    "backup",
    "bps",
    "bps_max_length",
    "bps_rd",
    "bps_rd_length",
    "bps_rd_max_length",
    "bps_wr",
    "bps_wr_length",
    "bps_wr_max_length",
    "cache",
    "detect_zeroes",
    "discard",
    "file",
    "format",
    "import-from",
    "iops",
    "iops_max",
    "iops_max_length",
    "iops_rd",
    "iops_rd_length",
    "iops_rd_max",
    "iops_rd_max_length",
    "iops_wr",
    "iops_wr_length",
    "iops_wr_max",
    "iops_wr_max_length",
    "iothread",
    "mbps",
    "mbps_max",
    "mbps_rd",
    "mbps_rd_max",
    "mbps_wr",
    "mbps_wr_max",
    "media",
    "model",
    "product",
    "queues",
    "replicate",
    "rerror",
    "ro",
    "scsiblock",
    "serial",
    "shared",
    "size",
    "snapshot",
    "ssd",
    "vendor",
    "volume",
    "werror",
    "wwn",
];

/// The property-string formats the simulator checks (sub-keys from `pve-api-lookup --formats`).
pub const PROP_FORMATS: &[PropFormat] = &[
    PropFormat {
        name: "net",
        default_key: Some("model"),
        keys: &[
            "bridge",
            "e1000",
            "e1000-82540em",
            "e1000-82544gc",
            "e1000-82545em",
            "e1000e",
            "firewall",
            "i82551",
            "i82557b",
            "i82559er",
            "link_down",
            "macaddr",
            "model",
            "mtu",
            "ne2k_isa",
            "ne2k_pci",
            "pcnet",
            "queues",
            "rate",
            "rtl8139",
            "tag",
            "trunks",
            "virtio",
            "vmxnet3",
        ],
    },
    PropFormat {
        name: "disk",
        default_key: Some("file"),
        keys: DISK_KEYS,
    },
    PropFormat {
        name: "lxcnet",
        default_key: None,
        keys: &[
            "bridge",
            "firewall",
            "gw",
            "gw6",
            "host-managed",
            "hwaddr",
            "ip",
            "ip6",
            "link_down",
            "mtu",
            "name",
            "rate",
            "tag",
            "trunks",
            "type",
        ],
    },
    PropFormat {
        name: "lxcdisk",
        default_key: Some("volume"),
        keys: &[
            "acl",
            "backup",
            "keepattrs",
            "mountoptions",
            "mp",
            "quota",
            "replicate",
            "ro",
            "shared",
            "size",
            "volume",
        ],
    },
    PropFormat {
        name: "ipconfig",
        default_key: None,
        keys: &["ip", "gw", "ip6", "gw6"],
    },
    PropFormat {
        name: "agent",
        default_key: Some("enabled"),
        keys: &[
            "enabled",
            "freeze-fs",
            "freeze-fs-on-backup",
            "fstrim_cloned_disks",
            "guest-fsfreeze",
            "type",
        ],
    },
    PropFormat {
        name: "memory",
        default_key: Some("current"),
        keys: &["current"],
    },
];

#[derive(Debug)]
pub struct ParamSpec {
    /// The schema name: `vmid`, or `net[n]` for an indexed family.
    pub name: String,
    pub ptype: PType,
    pub optional: bool,
    pub format: Option<String>,
    pub props: Option<&'static PropFormat>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub enumeration: Vec<String>,
    pub pattern: Option<(String, Regex)>,
    /// For `name[n]`: the base name and the inclusive index range.
    pub indexed: Option<(String, u32, u32)>,
}

/// Parses one spec line. Errors name the line and the bad part.
pub fn parse_spec(line: &str) -> Result<ParamSpec, String> {
    let line = line.trim();
    let (head, mut rest) = line.split_once(' ').unwrap_or((line, ""));
    let (name, ty) = head
        .split_once(':')
        .ok_or_else(|| format!("spec '{line}': expected name:type"))?;
    let (name, optional) = match name.strip_suffix('?') {
        Some(n) => (n, true),
        None => (name, false),
    };
    let ptype = match ty {
        "string" => PType::String,
        "integer" => PType::Integer,
        "number" => PType::Number,
        "boolean" => PType::Boolean,
        "array" => PType::Array,
        other => return Err(format!("spec '{line}': unknown type '{other}'")),
    };
    let mut spec = ParamSpec {
        name: name.to_string(),
        ptype,
        optional,
        format: None,
        props: None,
        minimum: None,
        maximum: None,
        max_length: None,
        min_length: None,
        enumeration: Vec::new(),
        pattern: None,
        indexed: None,
    };
    let num = |v: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("spec '{line}': '{v}' is not a number"))
    };
    while !rest.trim().is_empty() {
        rest = rest.trim_start();
        if let Some(p) = rest.strip_prefix("pattern=") {
            let re = Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| format!("spec '{line}': bad pattern: {e}"))?;
            spec.pattern = Some((p.to_string(), re));
            break;
        }
        let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = tail;
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("spec '{line}': expected key=value, got '{word}'"))?;
        match k {
            "fmt" => spec.format = Some(v.to_string()),
            "min" => spec.minimum = Some(num(v)?),
            "max" => spec.maximum = Some(num(v)?),
            "maxlen" => spec.max_length = Some(num(v)? as usize),
            "minlen" => spec.min_length = Some(num(v)? as usize),
            "enum" => spec.enumeration = v.split('|').map(str::to_string).collect(),
            "props" => {
                spec.props = Some(
                    PROP_FORMATS
                        .iter()
                        .find(|f| f.name == v)
                        .ok_or_else(|| format!("spec '{line}': unknown props '{v}'"))?,
                )
            }
            "idx" => {
                let (lo, hi) = v
                    .split_once("..")
                    .ok_or_else(|| format!("spec '{line}': idx wants LO..HI"))?;
                let base = name
                    .strip_suffix("[n]")
                    .ok_or_else(|| format!("spec '{line}': idx needs a name ending in [n]"))?;
                spec.indexed = Some((base.to_string(), num(lo)? as u32, num(hi)? as u32));
            }
            other => return Err(format!("spec '{line}': unknown key '{other}'")),
        }
    }
    if spec.name.ends_with("[n]") && spec.indexed.is_none() {
        return Err(format!("spec '{line}': an indexed name needs idx=LO..HI"));
    }
    Ok(spec)
}

impl ParamSpec {
    /// Whether a concrete parameter name belongs to this spec (`net3` for `net[n]`).
    pub fn matches(&self, key: &str) -> bool {
        match &self.indexed {
            None => self.name == key,
            Some((base, lo, hi)) => key
                .strip_prefix(base.as_str())
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .filter(|d| d.len() == 1 || !d.starts_with('0'))
                .and_then(|d| d.parse::<u32>().ok())
                .is_some_and(|i| (*lo..=*hi).contains(&i)),
        }
    }

    /// Checks one value; the error text is what PVE puts in `errors`.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let type_err = || {
            format!(
                "type check ('{}') failed - got '{value}'",
                self.ptype.as_str()
            )
        };
        match self.ptype {
            PType::Boolean if value != "0" && value != "1" => return Err(type_err()),
            PType::Integer if !is_integer(value) => return Err(type_err()),
            PType::Number if !is_number(value) => return Err(type_err()),
            _ => {}
        }
        if let Some(fmt) = &self.format {
            check_named_format(fmt, value).map_err(|e| format!("invalid format - {e}\n"))?;
        }
        if let Some(props) = self.props {
            check_property_string(props, value).map_err(|e| format!("invalid format - {e}"))?;
        }
        if let Some((_, re)) = &self.pattern
            && !re.is_match(value)
        {
            return Err("value does not match the regex pattern".into());
        }
        if let Some(max) = self.max_length
            && value.chars().count() > max
        {
            return Err(format!("value may only be {max} characters long"));
        }
        if let Some(min) = self.min_length
            && value.chars().count() < min
        {
            return Err(format!("value must be at least {min} characters long"));
        }
        if is_number(value) {
            let v: f64 = value.parse().unwrap_or(0.0);
            if let Some(max) = self.maximum
                && v > max
            {
                return Err(format!("value must have a maximum value of {max}"));
            }
            if let Some(min) = self.minimum
                && v < min
            {
                return Err(format!("value must have a minimum value of {min}"));
            }
        }
        if !self.enumeration.is_empty() && !self.enumeration.iter().any(|e| e == value) {
            return Err(format!(
                "value '{value}' does not have a value in the enumeration '{}'",
                self.enumeration.join(", ")
            ));
        }
        Ok(())
    }
}

fn is_integer(v: &str) -> bool {
    let d = v.strip_prefix(['+', '-']).unwrap_or(v);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_number(v: &str) -> bool {
    let d = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (mant, exp) = match d.find(['e', 'E']) {
        Some(i) => (&d[..i], Some(&d[i + 1..])),
        None => (d, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mant.is_empty() && mant.bytes().all(|c| c.is_ascii_digit()),
    };
    mant_ok && exp.is_none_or(is_integer)
}

/// The named formats the simulator checks; the rest are accepted as PVE would for a plain string.
fn check_named_format(fmt: &str, v: &str) -> Result<(), String> {
    let ok = |re: &str| Regex::new(re).map(|r| r.is_match(v)).unwrap_or(true);
    match fmt {
        "pve-node" if !ok(r"^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$") => {
            Err("value does not look like a valid node name".into())
        }
        "pve-vmid" if !ok(r"^[1-9][0-9]{2,8}$") => {
            Err("value does not look like a valid VM ID".into())
        }
        "pve-configid" if !ok(r"^(?i:[a-z][a-z0-9_-]+)$") => {
            Err(format!("invalid configuration ID '{v}'"))
        }
        "pve-storage-id" if !ok(r"^(?i:[a-z][a-z0-9\-_.]*[a-z0-9])$") => {
            Err(format!("storage ID '{v}' contains illegal characters"))
        }
        "pve-poolid" if !ok(r"^[A-Za-z0-9_\-]+$") => {
            Err(format!("pool name '{v}' contains illegal characters"))
        }
        "pve-userid" if !ok(r"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$") => {
            Err(format!("value '{v}' does not look like a valid user name"))
        }
        "pve-roleid" if !ok(r"^[A-Za-z0-9.\-_]+$") => {
            Err(format!("role name '{v}' contains invalid characters"))
        }
        "pve-priv-list" => match v
            .split([',', ';', ' '])
            .find(|p| !p.is_empty() && !super::perms::is_privilege(p))
        {
            Some(bad) => Err(format!("invalid privilege '{bad}'")),
            None => Ok(()),
        },
        "dns-name"
            if !ok(
                r"^(?i:[a-z0-9]([a-z0-9\-]*[a-z0-9])?)(\.(?i:[a-z0-9]([a-z0-9\-]*[a-z0-9])?))*$",
            ) =>
        {
            Err(format!("value '{v}' does not look like a valid DNS name"))
        }
        _ => Ok(()),
    }
}

/// PVE's `parse_property_string` key rules (pve-common JSONSchema.pm).
pub fn check_property_string(fmt: &PropFormat, data: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for part in data.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                if seen.contains(&k) {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {k}\n"
                    ));
                }
                if !fmt.keys.contains(&k) {
                    return Err(format!(
                        "invalid key in comma-separated list property: {k}\n"
                    ));
                }
                seen.push(k);
            }
            None => {
                let Some(dk) = fmt.default_key else {
                    return Err(
                        "value without key, but schema does not define a default key\n".into(),
                    );
                };
                if seen.contains(&dk) {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {dk}\n"
                    ));
                }
                seen.push(dk);
            }
            Some(_) => return Err("missing key in comma-separated list property\n".into()),
        }
    }
    Ok(())
}

/// Validates `params` against `specs`: `Err` holds one message per bad parameter.
pub fn validate(specs: &[ParamSpec], params: &Params) -> Result<(), IndexMap<String, String>> {
    let mut errors = IndexMap::new();
    for (key, value) in params {
        match specs.iter().find(|s| s.matches(key)) {
            None => {
                errors.insert(
                    key.clone(),
                    "property is not defined in schema and the schema does not allow additional properties"
                        .to_string(),
                );
            }
            Some(spec) => {
                if let Err(e) = spec.check(value) {
                    errors.insert(key.clone(), e);
                }
            }
        }
    }
    for spec in specs.iter().filter(|s| !s.optional && s.indexed.is_none()) {
        if !params.contains_key(&spec.name) {
            errors.insert(
                spec.name.clone(),
                "property is missing and it is not optional".into(),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ParamSpec> {
        [
            "node:string fmt=pve-node",
            "vmid:integer fmt=pve-vmid min=100 max=999999999",
            "snapname?:string fmt=pve-configid maxlen=40",
            "vmstate?:boolean",
            "cores?:integer min=1",
            "cpulimit?:number min=0 max=128",
            "scsihw?:string enum=lsi|virtio-scsi-pci|virtio-scsi-single",
            "size?:string pattern=\\+?\\d+(\\.\\d+)?[KMGT]?",
            "net[n]?:string idx=0..31 props=net",
            "ipconfig[n]?:string idx=0..31 props=ipconfig",
        ]
        .iter()
        .map(|s| parse_spec(s).unwrap())
        .collect()
    }

    fn check(input: &[(&str, &str)], expected: &[(&str, &str)]) {
        let params: Params = input
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = match validate(&specs(), &params) {
            Ok(()) => IndexMap::new(),
            Err(e) => e,
        };
        let want: IndexMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "input {input:?}");
    }

    const BASE: [(&str, &str); 2] = [("node", "pve1"), ("vmid", "100")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn validation_table() {
        let unknown =
            "property is not defined in schema and the schema does not allow additional properties";
        check(&BASE, &[]);
        check(
            &[("node", "pve1")],
            &[("vmid", "property is missing and it is not optional")],
        );
        check(&with(&[("foo", "1")]), &[("foo", unknown)]);
        check(
            &[("node", "pve1"), ("vmid", "x")],
            &[("vmid", "type check ('integer') failed - got 'x'")],
        );
        check(
            &[("node", "pve1"), ("vmid", "99")],
            &[(
                "vmid",
                "invalid format - value does not look like a valid VM ID\n",
            )],
        );
        // PVE checks the format before the range, so a 10-digit VMID fails the format.
        check(
            &[("node", "pve1"), ("vmid", "1000000000")],
            &[(
                "vmid",
                "invalid format - value does not look like a valid VM ID\n",
            )],
        );
        check(
            &with(&[("cpulimit", "129")]),
            &[("cpulimit", "value must have a maximum value of 128")],
        );
        check(
            &with(&[("vmstate", "true")]),
            &[("vmstate", "type check ('boolean') failed - got 'true'")],
        );
        check(&with(&[("vmstate", "1")]), &[]);
        check(
            &with(&[("cores", "0")]),
            &[("cores", "value must have a minimum value of 1")],
        );
        check(&with(&[("cpulimit", "1.5")]), &[]);
        check(
            &with(&[("cpulimit", "1.5x")]),
            &[("cpulimit", "type check ('number') failed - got '1.5x'")],
        );
        check(
            &with(&[("scsihw", "foo")]),
            &[(
                "scsihw",
                "value 'foo' does not have a value in the enumeration 'lsi, virtio-scsi-pci, virtio-scsi-single'",
            )],
        );
        check(&with(&[("size", "+10G")]), &[]);
        check(
            &with(&[("size", "ten")]),
            &[("size", "value does not match the regex pattern")],
        );
        check(
            &with(&[("snapname", "a234567890123456789012345678901234567890x")]),
            &[("snapname", "value may only be 40 characters long")],
        );
        check(
            &with(&[("snapname", "1bad")]),
            &[(
                "snapname",
                "invalid format - invalid configuration ID '1bad'\n",
            )],
        );
        check(
            &with(&[("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1")]),
            &[],
        );
        check(&with(&[("net31", "virtio,bridge=vmbr0")]), &[]);
        check(
            &with(&[("net32", "virtio,bridge=vmbr0")]),
            &[("net32", unknown)],
        );
        check(&with(&[("net01", "virtio")]), &[("net01", unknown)]);
        check(
            &with(&[("net0", "virtio,brdge=vmbr0")]),
            &[(
                "net0",
                "invalid format - invalid key in comma-separated list property: brdge\n",
            )],
        );
        check(
            &with(&[("net0", "virtio,e1000")]),
            &[(
                "net0",
                "invalid format - duplicate key in comma-separated list property: model\n",
            )],
        );
        check(&with(&[("ipconfig0", "ip=dhcp")]), &[]);
        check(
            &with(&[("ipconfig0", "dhcp")]),
            &[(
                "ipconfig0",
                "invalid format - value without key, but schema does not define a default key\n",
            )],
        );
    }

    #[test]
    fn spec_parser_rejects_bad_lines() {
        for bad in [
            "novalue",
            "x:float",
            "x:string min=abc",
            "x[n]:string",
            "x:string wat=1",
            "x:string props=nope",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
        let s = parse_spec("scsi[n]?:string idx=0..30 props=disk").unwrap();
        assert!(s.matches("scsi30") && !s.matches("scsi31") && !s.matches("scsi"));
        assert_eq!(s.name, "scsi[n]");
    }
}
