//! The target picker: after the form, the person chooses where the installer runs (`local`,
//! the hosts of their ssh config, or any target they type) and the rate control. Nothing is
//! resolved here: preflight and the environments come with the plan, off the UI thread.

use super::form::InstallForm;
use crate::installers::manifest::InputValue;
use crate::installers::ops::{Rate, Target};
use crate::tui::input::LineInput;

/// The presets `c` cycles through.
pub const CONCURRENCY: [Rate; 7] = [
    Rate::Count(1),
    Rate::Count(2),
    Rate::Count(5),
    Rate::Count(10),
    Rate::Percent(25),
    Rate::Percent(50),
    Rate::Percent(100),
];

/// The presets `e` cycles through.
pub const ERRORS: [Rate; 7] = [
    Rate::Count(0),
    Rate::Count(1),
    Rate::Count(2),
    Rate::Count(5),
    Rate::Percent(10),
    Rate::Percent(50),
    Rate::Percent(100),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub target: Target,
    pub checked: bool,
}

pub struct TargetPicker {
    /// The form it came from, as it was: Esc goes back to it.
    pub form: Box<InstallForm>,
    /// The form's values, checked.
    pub inputs: Vec<InputValue>,
    pub candidates: Vec<Candidate>,
    pub selected: usize,
    /// Typing a target to add.
    pub adding: Option<LineInput>,
    pub max_concurrency: Rate,
    pub max_errors: Rate,
    pub error: Option<String>,
}

fn next_in(presets: &[Rate], current: Rate) -> Rate {
    let at = presets.iter().position(|r| *r == current);
    presets[at.map_or(0, |i| (i + 1) % presets.len())]
}

impl TargetPicker {
    /// `local` first, then the ssh hosts known from the ssh config.
    pub fn new(
        form: Box<InstallForm>,
        inputs: Vec<InputValue>,
        ssh_hosts: &[String],
    ) -> TargetPicker {
        let mut candidates = vec![Candidate {
            target: Target::Local,
            checked: false,
        }];
        for host in ssh_hosts {
            if let Ok(target) = Target::parse(&format!("ssh:{host}"))
                && !candidates.iter().any(|c| c.target == target)
            {
                candidates.push(Candidate {
                    target,
                    checked: false,
                });
            }
        }
        TargetPicker {
            form,
            inputs,
            candidates,
            selected: 0,
            adding: None,
            max_concurrency: Rate::Count(1),
            max_errors: Rate::Count(0),
            error: None,
        }
    }

    pub fn chosen(&self) -> Vec<Target> {
        self.candidates
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.target.clone())
            .collect()
    }

    pub fn toggle(&mut self) {
        if let Some(c) = self.candidates.get_mut(self.selected) {
            c.checked = !c.checked;
            self.error = None;
        }
    }

    /// Add (and select) a typed target; a known one is selected instead.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let target = Target::parse(text.trim())?;
        match self.candidates.iter().position(|c| c.target == target) {
            Some(i) => {
                self.candidates[i].checked = true;
                self.selected = i;
            }
            None => {
                self.candidates.push(Candidate {
                    target,
                    checked: true,
                });
                self.selected = self.candidates.len() - 1;
            }
        }
        Ok(())
    }

    pub fn cycle_concurrency(&mut self) {
        self.max_concurrency = next_in(&CONCURRENCY, self.max_concurrency);
    }

    pub fn cycle_errors(&mut self) {
        self.max_errors = next_in(&ERRORS, self.max_errors);
    }
}

/// `Host` names of an ssh config that name one host (no patterns), in order.
pub fn ssh_hosts(config: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for line in config.lines() {
        let line = line.trim();
        let Some((keyword, rest)) = line.split_once(|c: char| c.is_whitespace() || c == '=') else {
            continue;
        };
        if !keyword.eq_ignore_ascii_case("host") {
            continue;
        }
        for name in rest.trim_start_matches(['=', ' ', '\t']).split_whitespace() {
            if name.contains(['*', '?', '!', '"']) || hosts.iter().any(|h| h == name) {
                continue;
            }
            hosts.push(name.to_string());
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_hosts_without_patterns() {
        let config = "Host *\n  User root\nHost web1 web2 *.prod\nHost=db1\n  HostName 10.0.0.5\nhost !bad web1\n";
        assert_eq!(ssh_hosts(config), vec!["web1", "web2", "db1"]);
    }

    #[test]
    fn presets_cycle() {
        assert_eq!(next_in(&CONCURRENCY, Rate::Count(1)), Rate::Count(2));
        assert_eq!(next_in(&CONCURRENCY, Rate::Percent(100)), Rate::Count(1));
        assert_eq!(next_in(&ERRORS, Rate::Count(7)), Rate::Count(0));
    }
}
