//! The one entry point the console, the deploy gate and `opsdeck check` share: the loaded
//! rule pack and waivers, and "judge this template with these parameters".

use super::input;
use super::policy::{Evaluation, PolicyError, PolicyPack};
use super::report::Report;
use super::waivers::{self, Waiver, WaiverError};
use crate::cfn::template::TemplateError;
use crate::config::{ComplianceSettings, Paths};
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Checker {
    pub pack: PolicyPack,
    /// Policies that could not be loaded (the rest still judge).
    pub load_errors: Vec<PolicyError>,
    pub waivers: Vec<Waiver>,
    /// Waivers that apply to nothing and why: an invalid entry (date, horizon, empty field,
    /// unknown rule), or a file that cannot be read (then no waiver applies: fail closed).
    pub waiver_errors: Vec<WaiverError>,
    /// `YYYY-MM-DD`, for waiver expiry.
    pub today: String,
}

impl Checker {
    /// The bundled pack, `config_dir/policies/*.rego`, and `config_dir/waivers.toml`.
    pub fn load(paths: &Paths, settings: &ComplianceSettings) -> Checker {
        let (pack, load_errors) = PolicyPack::load(&[paths.config_dir.join("policies")]);
        let today = waivers::today();
        let file = paths.config_dir.join("waivers.toml");
        let (valid, mut waiver_errors) = waivers::load(&file, &today, settings.waiver_max_days);
        let (waivers, unknown) = waivers::known_rules_only(
            valid,
            |id| pack.rules().any(|r| r.id == id),
            &file.display().to_string(),
        );
        waiver_errors.extend(unknown);
        waiver_errors.sort_by_key(|e| e.line);
        Checker {
            pack,
            load_errors,
            waivers,
            waiver_errors,
            today,
        }
    }

    /// The bundled pack alone, no waivers (tests, benchmarks).
    pub fn bundled() -> Checker {
        let (pack, load_errors) = PolicyPack::bundled();
        Checker {
            pack,
            load_errors,
            waivers: Vec::new(),
            waiver_errors: Vec::new(),
            today: waivers::today(),
        }
    }

    /// Judge a CloudFormation template (text) with the parameters a deploy would pass, in the
    /// environment it would land in. Waivers are applied.
    pub fn judge_template(
        &self,
        text: &str,
        source: &str,
        parameters: &BTreeMap<String, String>,
        environment: Option<&str>,
    ) -> Result<Evaluation, TemplateError> {
        let (input, lines) = input::from_template(text, source, parameters, environment)?;
        let mut eval = self.pack.evaluate(&input, Some(&lines));
        waivers::apply(&mut eval.findings, &self.waivers, &self.today);
        Ok(eval)
    }

    /// Why waivers did not apply, one line each (`file:line: …`).
    pub fn waiver_problems(&self) -> impl Iterator<Item = String> + '_ {
        self.waiver_errors.iter().map(|e| format!("waivers: {e}"))
    }

    /// One report over several judged sources.
    pub fn report(&self, judged: Vec<(String, Evaluation)>) -> Report {
        let mut report = Report::build(
            self.pack.rules().cloned().collect(),
            judged,
            &self.load_errors,
        );
        report.errors.extend(self.waiver_problems());
        report
    }
}
