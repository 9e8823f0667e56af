//! Wizard definitions: the `prompts/*.yaml` files, parsed into [`WizardSpec`].
//!
//! A wizard is data: an ordered list of steps, each a question (`select`, `input` or
//! `confirm`) with a prompt, where its choices come from (`options` written out, or `from` a
//! live source such as `templates`), defaults (`$lookup` names resolved at run time, or
//! literals), a validation rule and a `when` condition on earlier answers. The files are
//! embedded in the binary; a file of the same name in `~/.config/pvesh-plus/prompts/` replaces
//! the embedded one.
//!
//! Must not: ask anything, read the cluster, or know what a wizard's answers are used for.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// The wizards shipped in the binary: (name, YAML text).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("new", include_str!("../../prompts/new.yaml")),
    ("new-iso", include_str!("../../prompts/new-iso.yaml")),
    ("new-lxc", include_str!("../../prompts/new-lxc.yaml")),
];

/// What kind of question a step asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ask {
    Select,
    Input,
    Confirm,
}

/// How typed text is checked (the rule names of the YAML files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// A VM name (DNS label syntax), not used by another guest.
    Name,
    /// A login name for cloud-init (`debian`, `ops_admin`).
    User,
    /// A core count within the quota.
    Cores,
    /// A memory size within the quota.
    Memory,
    /// A disk size within the quota, not smaller than the template's disk.
    Disk,
    /// A static IPv4 address with prefix (`192.168.1.50/24`).
    Cidr,
    /// A gateway inside the subnet of the `ip` answer.
    Gateway,
    /// IPv4 name servers, separated by commas or spaces.
    Nameservers,
    /// A readable file of SSH public keys (`~` expanded), or empty.
    Keyfile,
    /// Any text, even empty.
    Text,
}

/// A condition on an earlier answer: `key=value` or `key!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub key: String,
    pub value: String,
    pub equal: bool,
}

impl When {
    fn parse(text: &str) -> std::result::Result<When, String> {
        let (key, value, equal) = if let Some((k, v)) = text.split_once("!=") {
            (k, v, false)
        } else if let Some((k, v)) = text.split_once('=') {
            (k, v, true)
        } else {
            return Err(format!("`when: {text}` is not `key=value` or `key!=value`"));
        };
        Ok(When {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            equal,
        })
    }

    /// Whether the step applies, given the answers so far (a missing answer is empty).
    pub fn holds(&self, answer: Option<&str>) -> bool {
        (answer.unwrap_or("") == self.value) == self.equal
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<When, D::Error> {
        let text = String::deserialize(d)?;
        When::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The answer's name (what the plan reads).
    pub key: String,
    pub ask: Ask,
    pub prompt: String,
    /// Fixed choices of a `select`.
    #[serde(default)]
    pub options: Vec<String>,
    /// A live source of choices for a `select`: `profiles`, `templates`, `isos`, `nodes`,
    /// `storages`, `bridges`.
    pub from: Option<String>,
    /// For a `select`: a first choice meaning "none of these", with this label.
    pub none: Option<String>,
    /// Candidates for the default, first that resolves wins: `$name` looks a value up
    /// (`$profile.cores`, `$config.cloudinit.user`), anything else is literal.
    #[serde(default, deserialize_with = "one_or_many")]
    pub default: Vec<String>,
    pub validate: Option<Rule>,
    /// Ask only when an earlier answer matches.
    pub when: Option<When>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// A whole wizard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardSpec {
    pub name: String,
    pub about: String,
    pub steps: Vec<Step>,
    /// Where it was read from (`embedded` or a file), for errors.
    #[serde(skip)]
    pub source: String,
}

/// The live sources a `from:` may name.
pub const SOURCES: &[&str] = &[
    "profiles",
    "templates",
    "isos",
    "archives",
    "nodes",
    "storages",
    "bridges",
];

impl WizardSpec {
    /// Parses and checks a wizard definition; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<WizardSpec> {
        let mut spec: WizardSpec = serde_saphyr::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Config, format!("wizard {source}: {e}"))
                .hinted("compare it with the wizards shipped in prompts/ of the pvesh+ sources")
        })?;
        spec.source = source.to_string();
        spec.check()
            .map_err(|msg| Error::new(ErrorKind::Config, format!("wizard {source}: {msg}")))?;
        Ok(spec)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for step in &self.steps {
            if seen.contains(&step.key.as_str()) {
                return Err(format!("step '{}' appears twice", step.key));
            }
            if let Some(w) = &step.when
                && !seen.contains(&w.key.as_str())
            {
                return Err(format!(
                    "step '{}' depends on '{}', which is not asked before it",
                    step.key, w.key
                ));
            }
            match step.ask {
                Ask::Select => {
                    let has_source = step.from.is_some() || !step.options.is_empty();
                    if !has_source {
                        return Err(format!(
                            "select step '{}' needs `options` or `from`",
                            step.key
                        ));
                    }
                    if let Some(from) = &step.from
                        && !SOURCES.contains(&from.as_str())
                    {
                        return Err(format!(
                            "step '{}': unknown source `from: {from}` (known: {})",
                            step.key,
                            SOURCES.join(", ")
                        ));
                    }
                }
                Ask::Input | Ask::Confirm => {
                    if step.from.is_some() || !step.options.is_empty() {
                        return Err(format!(
                            "step '{}' is not a select: `options` and `from` do not apply",
                            step.key
                        ));
                    }
                }
            }
            seen.push(&step.key);
        }
        Ok(())
    }

    /// Whether the wizard asks for `key`.
    pub fn asks(&self, key: &str) -> bool {
        self.steps.iter().any(|s| s.key == key)
    }

    /// The wizard `name`: `dir/NAME.yaml` when it exists (a user's override), else the
    /// embedded one.
    pub fn load(name: &str, dir: Option<&Path>) -> Result<WizardSpec> {
        if let Some(path) = dir.map(|d| d.join(format!("{name}.yaml")))
            && path.is_file()
        {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            return WizardSpec::parse(&text, &path.display().to_string());
        }
        let (_, text) = EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::internal(format!("no wizard named '{name}'")))?;
        WizardSpec::parse(text, &format!("prompts/{name}.yaml (embedded)"))
    }
}

/// `~/.config/pvesh-plus/prompts` (or under `$XDG_CONFIG_HOME`), where overrides live.
pub fn override_dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var(name).ok();
    crate::config::default_path(&env).and_then(|p| p.parent().map(|d| d.join("prompts")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_wizards_parse() {
        for (name, _) in EMBEDDED {
            let spec = WizardSpec::load(name, None).unwrap();
            assert_eq!(&spec.name, name);
            assert!(!spec.steps.is_empty());
        }
    }

    fn check(yaml: &str, expected_error: &str) {
        let err = WizardSpec::parse(yaml, "t.yaml").unwrap_err();
        assert!(
            err.message.contains(expected_error),
            "'{}' lacks '{expected_error}'",
            err.message
        );
    }

    #[test]
    fn bad_definitions_are_refused() {
        let head = "name: t\nabout: t\nsteps:\n";
        check(
            &format!("{head}  - {{ key: a, ask: select, prompt: A }}"),
            "needs `options` or `from`",
        );
        check(
            &format!("{head}  - {{ key: a, ask: select, prompt: A, from: disks }}"),
            "unknown source",
        );
        check(
            &format!("{head}  - {{ key: a, ask: input, prompt: A, when: b=1 }}"),
            "not asked before it",
        );
        check(
            &format!(
                "{head}  - {{ key: a, ask: input, prompt: A }}\n  - {{ key: a, ask: input, prompt: A }}"
            ),
            "appears twice",
        );
        check(
            &format!("{head}  - {{ key: a, ask: input, prompt: A, validate: ipv9 }}"),
            "t.yaml",
        );
        check(
            &format!("{head}  - {{ key: a, ask: input, prompt: A, when: b }}"),
            "t.yaml",
        );
    }

    #[test]
    fn overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("new.yaml"),
            "name: new\nabout: mine\nsteps:\n  - { key: name, ask: input, prompt: Name }\n",
        )
        .unwrap();
        let spec = WizardSpec::load("new", Some(dir.path())).unwrap();
        assert_eq!(spec.about, "mine");
        assert!(spec.source.ends_with("new.yaml"));
    }

    #[test]
    fn conditions() {
        let w = When::parse("network=static").unwrap();
        assert!(w.holds(Some("static")));
        assert!(!w.holds(Some("dhcp")));
        let w = When::parse("network != static").unwrap();
        assert!(w.holds(None));
    }
}
