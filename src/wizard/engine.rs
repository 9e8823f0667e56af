//! The wizard engine: walks a [`WizardSpec`]'s steps, asks each through a [`Prompter`], and
//! returns the [`Answers`].
//!
//! The engine knows nothing about VMs: what a `$lookup` default means, where `from: templates`
//! gets its choices and what a `validate: memory` rule checks are the [`Facts`] of the wizard
//! being run. Answers given in advance (flags of the non-interactive `new`) skip their question
//! but pass the same checks. With [`DefaultsOnly`] as the prompter, every remaining question
//! takes its default, which is how a script runs a wizard without a person.
//!
//! Must not: do IO, touch the terminal, or have side effects beyond asking.

use indexmap::IndexMap;

use super::prompter::{Choice, Prompter, choice_names, find_choice};
use super::spec::{Ask, Rule, Step, WizardSpec};
use crate::error::{Error, ErrorKind, Result};

/// The answers, by step key, in the order asked. A skipped step (its `when` does not hold) is
/// absent; a `none` choice is the empty string.
pub type Answers = IndexMap<String, String>;

/// What a wizard knows about the world: defaults, choices and checks.
pub trait Facts {
    /// The value of `$name` given the answers so far, if it has one.
    fn lookup(&self, name: &str, answers: &Answers) -> Option<String>;
    /// The choices of `from: source`.
    fn choices(&self, source: &str, answers: &Answers) -> Vec<Choice>;
    /// Checks typed text against a rule; `Err` is the sentence shown.
    fn check(&self, rule: Rule, text: &str, answers: &Answers) -> std::result::Result<(), String>;
    /// The configured policy (a quota) a well-formed value breaks, naming the rule. `check`
    /// refuses it too (a prompt asks again); a value given up front exits 4 with it.
    fn quota(&self, _rule: Rule, _text: &str, _answers: &Answers) -> Option<String> {
        None
    }
    /// Where the quotas are changed, for the hint of a refusal.
    fn where_to_change(&self) -> String {
        crate::config::FILE_NAME.to_string()
    }
}

/// The first default candidate that resolves: `$name` through `facts`, else the literal.
fn default_of(step: &Step, facts: &dyn Facts, answers: &Answers) -> Option<String> {
    step.default.iter().find_map(|d| match d.strip_prefix('$') {
        Some(name) => facts.lookup(name, answers),
        None => Some(d.clone()),
    })
}

fn choices_of(step: &Step, facts: &dyn Facts, answers: &Answers) -> Vec<Choice> {
    let mut out = Vec::new();
    if let Some(label) = &step.none {
        out.push(Choice::new("", label.clone()));
    }
    match &step.from {
        Some(source) => out.extend(facts.choices(source, answers)),
        None => out.extend(
            step.options
                .iter()
                .map(|o| Choice::new(o.clone(), o.clone())),
        ),
    }
    out
}

fn is_yes(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "1" => Some(true),
        "n" | "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Runs a wizard. `given` holds answers known in advance; they are checked like typed ones.
pub fn run(
    spec: &WizardSpec,
    prompter: &mut dyn Prompter,
    facts: &dyn Facts,
    given: &Answers,
) -> Result<Answers> {
    let mut answers = Answers::new();
    for step in &spec.steps {
        if let Some(w) = &step.when
            && !w.holds(answers.get(&w.key).map(String::as_str))
        {
            continue;
        }
        let default = default_of(step, facts, &answers);
        let value = match step.ask {
            Ask::Select => {
                let choices = choices_of(step, facts, &answers);
                if choices.is_empty() {
                    return Err(Error::not_found(format!(
                        "nothing to choose for '{}': the cluster has no {}",
                        step.prompt,
                        step.from.as_deref().unwrap_or("choices")
                    )));
                }
                let index = match given.get(&step.key) {
                    Some(v) => find_choice(&choices, v).ok_or_else(|| {
                        Error::usage(format!(
                            "'{v}' is not a choice for '{}'; choices: {}",
                            step.prompt,
                            choice_names(&choices)
                        ))
                    })?,
                    None => {
                        let at = default
                            .as_deref()
                            .and_then(|d| find_choice(&choices, d))
                            .or(step.none.as_ref().map(|_| 0));
                        prompter.select(&step.prompt, &choices, at)?
                    }
                };
                choices
                    .get(index)
                    .map(|c| c.value.clone())
                    .ok_or_else(|| Error::internal("the prompter chose outside the list"))?
            }
            Ask::Input => {
                let rule = step.validate.unwrap_or(Rule::Text);
                let check = |text: &str| facts.check(rule, text, &answers);
                match given.get(&step.key) {
                    Some(v) => {
                        if let Some(m) = facts.quota(rule, v, &answers) {
                            return Err(Error::new(
                                ErrorKind::Policy,
                                format!("{}: {m}", step.prompt),
                            )
                            .hinted(format!(
                                "nothing was created; ask for less, or raise the quota in {}",
                                facts.where_to_change()
                            )));
                        }
                        check(v).map_err(|m| Error::usage(format!("{}: {m}", step.prompt)))?;
                        v.clone()
                    }
                    None => prompter.input(&step.prompt, default.as_deref(), &check)?,
                }
            }
            Ask::Confirm => {
                let fallback = default.as_deref().and_then(is_yes).unwrap_or(false);
                let yes = match given.get(&step.key) {
                    Some(v) => is_yes(v).ok_or_else(|| {
                        Error::usage(format!("'{v}' is not yes or no (for '{}')", step.prompt))
                    })?,
                    None => prompter.confirm(&step.prompt, fallback)?,
                };
                if yes { "yes" } else { "no" }.to_string()
            }
        };
        answers.insert(step.key.clone(), value.trim().to_string());
    }
    Ok(answers)
}

/// A prompter for scripts: every question takes its default; one without a default is an
/// error naming the question (and, through `flag_for`, the flag that answers it).
pub struct DefaultsOnly<'a> {
    pub flag_for: &'a dyn Fn(&str) -> Option<String>,
}

impl DefaultsOnly<'_> {
    fn missing(&self, prompt: &str) -> Error {
        let err = Error::usage(format!("no value for '{prompt}' and no default"));
        match (self.flag_for)(prompt) {
            Some(flag) => err.hinted(format!("give it with {flag}")),
            None => err,
        }
    }
}

impl Prompter for DefaultsOnly<'_> {
    fn select(&mut self, prompt: &str, _: &[Choice], default: Option<usize>) -> Result<usize> {
        default.ok_or_else(|| self.missing(prompt))
    }

    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: super::prompter::Check<'_>,
    ) -> Result<String> {
        let value = default.ok_or_else(|| self.missing(prompt))?;
        check(value).map_err(|m| Error::usage(format!("{prompt}: {m}")))?;
        Ok(value.to_string())
    }

    fn confirm(&mut self, _: &str, default: bool) -> Result<bool> {
        Ok(default)
    }

    fn show(&mut self, _: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::prompter::ScriptedPrompter;

    struct Fixed;

    impl Facts for Fixed {
        fn lookup(&self, name: &str, answers: &Answers) -> Option<String> {
            match name {
                "profile.cores" if answers.get("profile").is_some_and(|p| p == "big") => {
                    Some("8".into())
                }
                _ => None,
            }
        }
        fn choices(&self, _: &str, _: &Answers) -> Vec<Choice> {
            vec![
                Choice::new("big", "big (8 cores)"),
                Choice::new("small", "small"),
            ]
        }
        fn check(&self, rule: Rule, text: &str, _: &Answers) -> std::result::Result<(), String> {
            match rule {
                Rule::Cores => crate::wizard::validate::cores(text).map(|_| ()),
                _ => Ok(()),
            }
        }
    }

    const SPEC: &str = "name: t\nabout: t\nsteps:
  - { key: profile, ask: select, prompt: Profile, from: profiles, none: no profile }
  - { key: cores, ask: input, prompt: Cores, validate: cores, default: [$profile.cores, '2'] }
  - { key: network, ask: select, prompt: Network, options: [dhcp, static], default: dhcp }
  - { key: ip, ask: input, prompt: IP, when: network=static }
  - { key: start, ask: confirm, prompt: Start, default: 'yes' }
";

    fn check(script: &[&str], given: &[(&str, &str)], expected: Result<&str, &str>) {
        let spec = WizardSpec::parse(SPEC, "t").unwrap();
        let mut p = ScriptedPrompter::new(script.iter().copied());
        let given: Answers = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = run(&spec, &mut p, &Fixed, &given).map(|a| {
            a.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        });
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(want)) => {
                assert!(e.message.contains(want), "'{}' lacks '{want}'", e.message)
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn runs() {
        check(
            &["big", "", "dhcp", ""],
            &[],
            Ok("profile=big cores=8 network=dhcp start=yes"),
        );
        check(
            &["", "", "static", "10.0.0.5/24", "no"],
            &[],
            Ok("profile= cores=2 network=static ip=10.0.0.5/24 start=no"),
        );
        check(
            &["small", "zero"],
            &[],
            Err("Cores: 'zero' is not a core count"),
        );
        check(
            &["dhcp", ""],
            &[("profile", "big"), ("cores", "4")],
            Ok("profile=big cores=4 network=dhcp start=yes"),
        );
        check(
            &[],
            &[("profile", "huge")],
            Err("'huge' is not a choice for 'Profile'; choices: big, small"),
        );
        check(&[], &[("cores", "0")], Err("no answer for 'Profile'"));
    }

    #[test]
    fn defaults_only() {
        let spec = WizardSpec::parse(SPEC, "t").unwrap();
        let flag_for = |p: &str| (p == "IP").then(|| "--ip".to_string());
        let mut p = DefaultsOnly {
            flag_for: &flag_for,
        };
        let a = run(&spec, &mut p, &Fixed, &Answers::new()).unwrap();
        assert_eq!(a.get("cores").map(String::as_str), Some("2"));
        let given: Answers = [("network".to_string(), "static".to_string())]
            .into_iter()
            .collect();
        let err = run(&spec, &mut p, &Fixed, &given).unwrap_err();
        assert_eq!(err.message, "no value for 'IP' and no default");
        assert_eq!(err.hints, vec!["give it with --ip"]);
    }
}
