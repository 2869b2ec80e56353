//! The one entry point the console, the deploy gate and `opsdeck check` share: the loaded
//! rule pack and waivers, and "judge this template with these parameters".

use super::input;
use super::policy::{Evaluation, PolicyError, PolicyPack};
use super::report::Report;
use super::waivers::{self, Waiver, WaiverError};
use crate::cfn::template::TemplateError;
use crate::config::Paths;
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Checker {
    pub pack: PolicyPack,
    /// Policies that could not be loaded (the rest still judge).
    pub load_errors: Vec<PolicyError>,
    pub waivers: Vec<Waiver>,
    /// The waivers file could not be read: no waiver applies (fail closed), and this says why.
    pub waiver_error: Option<WaiverError>,
    /// `YYYY-MM-DD`, for waiver expiry.
    pub today: String,
}

impl Checker {
    /// The bundled pack, `config_dir/policies/*.rego`, and `config_dir/waivers.toml`.
    pub fn load(paths: &Paths) -> Checker {
        let (pack, load_errors) = PolicyPack::load(&[paths.config_dir.join("policies")]);
        let (waivers, waiver_error) = match waivers::load(&paths.config_dir.join("waivers.toml")) {
            Ok(w) => (w, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Checker {
            pack,
            load_errors,
            waivers,
            waiver_error,
            today: waivers::today(),
        }
    }

    /// The bundled pack alone, no waivers (tests, benchmarks).
    pub fn bundled() -> Checker {
        let (pack, load_errors) = PolicyPack::bundled();
        Checker {
            pack,
            load_errors,
            waivers: Vec::new(),
            waiver_error: None,
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

    /// One report over several judged sources.
    pub fn report(&self, judged: Vec<(String, Evaluation)>) -> Report {
        let mut report = Report::build(
            self.pack.rules().cloned().collect(),
            judged,
            &self.load_errors,
        );
        if let Some(e) = &self.waiver_error {
            report.errors.push(format!("waivers not applied: {e}"));
        }
        report
    }
}
