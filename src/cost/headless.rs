//! `opsdeck cost`, `opsdeck spend`, `opsdeck idle` and `opsdeck prices refresh`.
//!
//! `cost` estimates templates (files, directories, library names; none and no `--stack`: the
//! whole library) and deployed stacks (`--stack`: their template and parameter values). Exit
//! 0 ok; 1 a threshold (`--max-total`, `--max-increase`) is crossed; 2 an error (a template
//! that does not parse, a bad usage file, an AWS error). `spend` and `idle` exit 0 with their
//! report (parts that failed are said in it), 2 when nothing could be read. `prices refresh`
//! exits 0 when the catalogue was replaced, 2 when it was not (the old one stays).

use crate::config::{Config, Paths};
use crate::cost::catalogue::Catalogue;
use crate::cost::estimate::{CostReport, Pricing, SourceEstimate, estimate_template, round, usd};
use crate::cost::ops::CostRead;
use crate::cost::port::CostOutput;
use crate::cost::usage::Usage;
use crate::cost::verdict::CostVerdict;
use crate::engine::ReadOutput;
use crate::headless::runner::{Runner, Stop};
use crate::model::Environment;
use crate::ops::{ReadOp, ReadScope};
use crate::setup::Options;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output format of `cost`, `spend` and `idle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// The catalogue and usage file, loaded as the console loads them.
pub struct PricingInputs {
    pub catalogue: Arc<Catalogue>,
    pub usage: Arc<Usage>,
    pub settings: crate::config::CostSettings,
    pub data_dir: PathBuf,
}

impl PricingInputs {
    /// `usage`: `--usage FILE` (must exist); else `cost.usage_file`; else the default
    /// `usage.yml` in the config dir (optional).
    pub fn load(
        config: &Config,
        paths: &Paths,
        usage: Option<&Path>,
    ) -> Result<PricingInputs, String> {
        let catalogue = Catalogue::load(&paths.data_dir, &config.cost.region_multipliers);
        if let Some(problem) = &catalogue.refresh_problem {
            crate::errln!("warning: {problem}");
        }
        let usage = match usage.or(config.cost.usage_file.as_deref()) {
            Some(file) => Usage::load(file, true),
            None => Usage::load(&crate::cost::usage::default_path(&paths.config_dir), false),
        }
        .map_err(|e| format!("usage file: {e}"))?;
        Ok(PricingInputs {
            catalogue: Arc::new(catalogue),
            usage: Arc::new(usage),
            settings: config.cost.clone(),
            data_dir: paths.data_dir.clone(),
        })
    }

    pub fn pricing<'a>(&'a self, region: &'a str) -> Pricing<'a> {
        Pricing {
            catalogue: &self.catalogue,
            usage: &self.usage,
            region,
        }
    }

    /// A deploy's cost verdict, as the console judges it (the account's cached spend is the
    /// budget's baseline).
    pub fn verdict(
        &self,
        account: &str,
        region: &str,
        environment: Environment,
        before: Option<(&str, &BTreeMap<String, String>)>,
        after: (&str, &BTreeMap<String, String>),
        origin: &str,
    ) -> CostVerdict {
        let cached = crate::cost::spend::load_cached(&self.data_dir, account);
        crate::cost::plan::change_verdict(
            &self.catalogue,
            &self.usage,
            region,
            before.map(|(body, parameters)| crate::cost::plan::Side { body, parameters }),
            crate::cost::plan::Side {
                body: after.0,
                parameters: after.1,
            },
            origin,
            environment,
            &self.settings,
            cached.as_ref().map(|r| (r, account)),
            crate::model::now_ms(),
        )
    }
}

/// `--max-increase`: dollars or a percentage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Increase {
    Usd(f64),
    Percent(f64),
}

impl Increase {
    pub fn parse(text: &str) -> Result<Increase, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n, true),
            None => (t.trim_start_matches('$'), false),
        };
        let value: f64 = number
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                format!(
                    "--max-increase {text:?}: expected USD (e.g. 100) or a percentage (e.g. 10%)"
                )
            })?;
        Ok(if percent {
            Increase::Percent(value)
        } else {
            Increase::Usd(value)
        })
    }
}

#[derive(Debug, Clone)]
pub struct CostArgs {
    pub paths: Vec<String>,
    pub stacks: Vec<String>,
    pub params: Vec<String>,
    pub usage: Option<PathBuf>,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub max_total: Option<f64>,
    pub max_increase: Option<Increase>,
}

/// The region prices are looked up in: `--region`, config, the environment, else us-east-1.
fn pricing_region(opts: &Options, config: &Config) -> String {
    opts.aws
        .region
        .clone()
        .or_else(|| config.aws.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| crate::cost::catalogue::BASE_REGION.to_string())
}

/// `opsdeck cost`. Returns the exit code.
pub async fn cost(opts: &Options, paths: &Paths, args: CostArgs, out: &mut dyn Write) -> i32 {
    let params = match crate::cfn::deploy::parse_param_args(&args.params) {
        Ok(p) => p,
        Err(e) => {
            crate::errln!("opsdeck cost: --param {e}");
            return 2;
        }
    };
    let config = match Config::load(paths, opts.config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            crate::errln!("opsdeck cost: {e}");
            return 2;
        }
    };
    let inputs = match PricingInputs::load(&config, paths, args.usage.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            crate::errln!("opsdeck cost: {e}");
            return 2;
        }
    };
    let region = pricing_region(opts, &config);
    let pricing = inputs.pricing(&region);
    let mut errors = Vec::new();
    let sources = if args.paths.is_empty() && args.stacks.is_empty() {
        crate::cfn::library::LIBRARY
            .iter()
            .map(|t| crate::compliance::headless::Source {
                name: format!("templates/{}.yaml", t.name),
                text: t.body.to_string(),
                discovered: false,
            })
            .collect()
    } else {
        crate::compliance::headless::collect(&args.paths, &mut errors)
    };
    let mut templates = Vec::new();
    for source in sources {
        match estimate_template(pricing, &source.text, &source.name, &params) {
            Ok(e) => templates.push(e),
            Err(e)
                if source.discovered
                    && (e.message.starts_with("Resources: missing")
                        || e.message.contains("the top level is not a mapping")) =>
            {
                crate::errln!(
                    "opsdeck cost: skipped {}: not a CloudFormation template",
                    source.name
                );
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut stacks = Vec::new();
    if !args.stacks.is_empty() {
        match Runner::start(opts, paths) {
            Ok(mut runner) => {
                let result = stack_estimates(&mut runner, pricing, &args.stacks).await;
                runner.shutdown();
                match result {
                    Ok((found, stack_errors)) => {
                        stacks = found;
                        errors.extend(stack_errors);
                    }
                    Err(stop) => errors.push(stop.to_string()),
                }
            }
            Err(e) => errors.push(crate::output::error_text(&e)),
        }
    }
    for e in &errors {
        crate::errln!("opsdeck cost: {e}");
    }
    let templates_total: f64 = templates.iter().map(|t| t.total_monthly).sum();
    let stacks_total: f64 = stacks.iter().map(|s| s.total_monthly).sum();
    let has_stacks = !stacks.is_empty();
    let mut all = templates;
    all.extend(stacks);
    let report = CostReport::new(&inputs.catalogue, &region, all);
    let rendered = match args.format {
        Format::Json => format!("{:#}\n", serde_json::to_value(&report).unwrap_or_default()),
        Format::Csv => csv(&report),
        Format::Text => text(&report, &inputs.catalogue),
    };
    let written = match &args.output {
        Some(file) => crate::files::private::write_output(file, rendered.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", file.display())),
        None => out
            .write_all(rendered.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(e) = written {
        crate::errln!("opsdeck cost: {e}");
        return 2;
    }
    if !errors.is_empty() {
        return 2;
    }
    let mut crossed = Vec::new();
    if let Some(max) = args.max_total
        && round(report.total_monthly) > max
    {
        crossed.push(format!(
            "the total {} a month is over --max-total {}",
            usd(report.total_monthly),
            usd(max)
        ));
    }
    if let Some(max) = args.max_increase {
        // The templates given are the new state; the stacks given are what runs now.
        let increase = templates_total - if has_stacks { stacks_total } else { 0.0 };
        let over = match max {
            Increase::Usd(limit) => round(increase) > limit,
            Increase::Percent(pct) if stacks_total > 0.0 => increase / stacks_total * 100.0 > pct,
            Increase::Percent(_) => increase > 0.0,
        };
        if over {
            crossed.push(format!(
                "the increase {} a month (templates {} against stacks {}) is over --max-increase {}",
                crate::cost::estimate::signed_usd(increase),
                usd(templates_total),
                usd(stacks_total),
                match max {
                    Increase::Usd(v) => usd(v),
                    Increase::Percent(p) => format!("{p}%"),
                }
            ));
        }
    }
    for c in &crossed {
        crate::errln!("opsdeck cost: {c}");
    }
    i32::from(!crossed.is_empty())
}

/// Each named stack's estimate (its template and deployed parameter values).
async fn stack_estimates(
    runner: &mut Runner,
    pricing: Pricing<'_>,
    names: &[String],
) -> Result<(Vec<SourceEstimate>, Vec<String>), Stop> {
    runner.identify().await?;
    runner.region.clone().ok_or_else(|| {
        Stop::Input("no AWS region configured: use --region or AWS_REGION".to_string())
    })?;
    let listed = crate::cfn::plan::list_stacks(&*runner)
        .await
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match listed
            .iter()
            .find(|s| &s.name == name && s.status != "DELETE_COMPLETE")
        {
            Some(s) => found.push(s.clone()),
            None => errors.push(format!("stack:{name}: no stack named {name}")),
        }
    }
    let templates = crate::cost::plan::deployed_templates(&*runner, &found).await;
    let mut estimates = Vec::new();
    for stack in crate::cost::plan::estimate_stacks(pricing, templates) {
        match stack.estimate {
            Ok(mut e) => {
                e.source = format!("stack:{}", stack.name);
                estimates.push(e);
            }
            Err(why) => errors.push(format!("stack:{}: {why}", stack.name)),
        }
    }
    Ok((estimates, errors))
}

/// The report as text: each source's resources, totals, and what is not (fully) priced.
pub fn text(report: &CostReport, catalogue: &Catalogue) -> String {
    let mut out = format!(
        "Monthly cost estimate, {} ({} h a month), {}\n",
        report.region,
        report.hours_per_month,
        catalogue.as_of_line()
    );
    for s in &report.sources {
        out.push_str(&format!("\n{}  {}/mo\n", s.source, usd(s.total_monthly)));
        for r in &s.resources {
            let mut flags = Vec::new();
            if !r.priced {
                flags.push("NOT PRICED".to_string());
            }
            if r.usage_pending() {
                flags.push("depends on usage".to_string());
            }
            if r.estimate {
                flags.push("estimate".to_string());
            }
            if r.free() {
                flags.push("free".to_string());
            }
            out.push_str(&format!(
                "  {:<32} {:<44} {:>12}  {}\n",
                r.logical_id,
                r.resource_type,
                usd(r.monthly),
                flags.join(", ")
            ));
            for c in r
                .components
                .iter()
                .filter(|c| c.monthly.is_some() || c.pending())
            {
                let figure = match (c.quantity, c.monthly) {
                    (Some(q), Some(m)) => format!(
                        "{q} {} × {} = {}",
                        c.unit,
                        c.unit_price.map(|p| format!("${p}")).unwrap_or_default(),
                        usd(m)
                    ),
                    _ => format!(
                        "depends on usage: set {} in the usage file",
                        c.usage_key.unwrap_or("its usage")
                    ),
                };
                out.push_str(&format!("      {:<40} {figure}\n", c.name));
            }
            if let Some(note) = &r.note {
                out.push_str(&format!("      note: {note}\n"));
            }
        }
        if !s.not_created.is_empty() {
            out.push_str(&format!(
                "  left out (condition false): {}\n",
                s.not_created.join(", ")
            ));
        }
        if s.not_priced() > 0 {
            out.push_str(&format!("  {} resource(s) not priced\n", s.not_priced()));
        }
        if s.usage_pending() > 0 {
            out.push_str(&format!(
                "  {} resource(s) depend on usage (0 counted; see --usage)\n",
                s.usage_pending()
            ));
        }
        if s.estimated() > 0 {
            out.push_str(&format!(
                "  {} resource(s) priced from us-east-1 (estimate)\n",
                s.estimated()
            ));
        }
    }
    out.push_str(&format!("\nTotal {}/mo\n", usd(report.total_monthly)));
    out
}

/// One row per component (and one per resource without components).
pub fn csv(report: &CostReport) -> String {
    let f = crate::compliance::export::csv::field_text;
    let num = |v: Option<f64>| v.map(|v| format!("{}", round(v))).unwrap_or_default();
    let mut out = String::from(
        "source,logical_id,type,priced,usage_based,estimate,component,quantity,unit,unit_price,monthly\n",
    );
    for s in &report.sources {
        for r in &s.resources {
            let head = format!(
                "{},{},{},{},{},{}",
                f(&s.source),
                f(&r.logical_id),
                f(&r.resource_type),
                r.priced,
                r.usage_based,
                r.estimate
            );
            if r.components.is_empty() {
                out.push_str(&format!("{head},,,,,{}\n", round(r.monthly)));
            }
            for c in &r.components {
                out.push_str(&format!(
                    "{head},{},{},{},{},{}\n",
                    f(&c.name),
                    num(c.quantity),
                    f(&c.unit),
                    c.unit_price.map(|p| p.to_string()).unwrap_or_default(),
                    num(c.monthly)
                ));
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct SpendArgs {
    pub months: u32,
    pub format: Format,
    /// Fetch even when the cache is fresh.
    pub refresh: bool,
    /// Read only the free billing metric.
    pub free: bool,
}

/// `opsdeck spend`. Returns the exit code.
pub async fn spend(opts: &Options, paths: &Paths, args: SpendArgs, out: &mut dyn Write) -> i32 {
    let mut runner = match Runner::start(opts, paths) {
        Ok(r) => r,
        Err(e) => {
            crate::errln!("opsdeck spend: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    let result = spend_with(&mut runner, paths, &args, out).await;
    runner.finish(
        "spend",
        result.map_err(|e| match e {
            Stop::Failed(why) => Stop::Input(why),
            other => other,
        }),
    )
}

async fn spend_with(
    runner: &mut Runner,
    paths: &Paths,
    args: &SpendArgs,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let identity = runner.identify().await?;
    let account = identity.account;
    let settings = runner.config.cost.clone();
    let now = crate::model::now_ms();
    // The read answers from the account's cache while it is fresh and keeps what it fetches
    // there: the same read the assistant's `show-spend` makes.
    let mut query =
        crate::cost::plan::spend_query(&settings, &paths.data_dir, now, args.months, args.free);
    query.cache = Some(crate::cost::spend::cache_for(
        &paths.data_dir,
        &account,
        settings.cache_hours,
        args.refresh,
    ));
    let report = match runner.read(ReadOp::Cost(CostRead::Spend(query))).await {
        Ok(ReadOutput::Cost(CostOutput::Spend(r))) => *r,
        Ok(_) => return Err(Stop::Failed("unexpected answer to the spend read".into())),
        Err(e) => return Err(Stop::Failed(e.to_string())),
    };
    if report.fetched_ms < now {
        crate::errln!(
            "using the spend fetched {} ago (--refresh fetches again)",
            crate::cost::spend::age_text(report.fetched_ms, now)
        );
    }
    let budget = crate::cost::spend::call_budget(&paths.data_dir, settings.daily_call_budget);
    let calls = budget.used(&crate::cost::dates::format_day(crate::cost::dates::today(
        now,
    )));
    let rendered = match args.format {
        Format::Text => {
            crate::cost::spend::text(&report, &account, now, calls, settings.daily_call_budget)
        }
        Format::Json => format!(
            "{:#}\n",
            crate::cost::spend::json(&report, &account, now, calls, settings.daily_call_budget)
        ),
        Format::Csv => crate::cost::spend::csv(&report),
    };
    out.write_all(rendered.as_bytes())
        .map_err(|e| Stop::Failed(format!("cannot write the report: {e}")))?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct IdleArgs {
    pub format: Format,
}

/// `opsdeck idle`. Returns the exit code.
pub async fn idle(opts: &Options, paths: &Paths, args: IdleArgs, out: &mut dyn Write) -> i32 {
    let mut runner = match Runner::start(opts, paths) {
        Ok(r) => r,
        Err(e) => {
            crate::errln!("opsdeck idle: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    let catalogue = Catalogue::load(&paths.data_dir, &runner.config.cost.region_multipliers);
    let result = idle_with(&mut runner, &catalogue, &args, out).await;
    runner.finish(
        "idle",
        result.map_err(|e| match e {
            Stop::Failed(why) => Stop::Input(why),
            other => other,
        }),
    )
}

async fn idle_with(
    runner: &mut Runner,
    catalogue: &Catalogue,
    args: &IdleArgs,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    runner.identify().await?;
    let region = runner.region.clone().ok_or_else(|| {
        Stop::Input("no AWS region configured: use --region or AWS_REGION".into())
    })?;
    let mut report = match runner
        .read(ReadOp::Cost(CostRead::Idle {
            scope: ReadScope { region },
            prices: None,
        }))
        .await
    {
        Ok(ReadOutput::Cost(CostOutput::Idle(r))) => *r,
        Ok(_) => return Err(Stop::Failed("unexpected answer to the idle scan".into())),
        Err(e) => return Err(Stop::Failed(e.to_string())),
    };
    crate::cost::idle::price(&mut report, catalogue);
    for e in &report.errors {
        crate::errln!("opsdeck idle: {e}");
    }
    let rendered = match args.format {
        Format::Json => format!("{:#}\n", idle_json(&report, catalogue)),
        Format::Csv => {
            let f = crate::compliance::export::csv::field_text;
            let mut s = String::from("kind,id,name,region,monthly,reason,priced_as,stack,detail\n");
            for x in &report.findings {
                s.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    x.kind.as_str(),
                    f(&x.id),
                    f(x.name.as_deref().unwrap_or_default()),
                    x.region,
                    x.monthly.map(|m| round(m).to_string()).unwrap_or_default(),
                    f(&x.reason),
                    f(&x.priced_as),
                    f(x.stack.as_deref().unwrap_or_default()),
                    f(&x.detail)
                ));
            }
            s
        }
        Format::Text => {
            let mut s = format!(
                "Idle resources in {}: {} found, {} a month; {} unknown (no data); {}\n",
                report.region,
                report.findings.len(),
                usd(report.monthly_total()),
                report.unknown.len(),
                catalogue.as_of_line()
            );
            for x in &report.findings {
                s.push_str(&format!(
                    "  {:<14} {:<40} {:>12}  {}{}\n",
                    x.kind.as_str(),
                    x.name
                        .as_ref()
                        .map_or(x.id.clone(), |n| format!("{} ({n})", x.id)),
                    x.monthly.map(usd).unwrap_or_else(|| "—".into()),
                    x.reason,
                    x.kind
                        .reaping()
                        .map(|r| format!(" [reap: {r}, DEV only]"))
                        .unwrap_or_default()
                ));
            }
            for (id, why) in &report.unknown {
                s.push_str(&format!("  unknown        {id}: {why}\n"));
            }
            s
        }
    };
    out.write_all(rendered.as_bytes())
        .map_err(|e| Stop::Failed(format!("cannot write the report: {e}")))?;
    Ok(())
}

/// `opsdeck idle --format json`.
pub fn idle_json(
    report: &crate::cost::model::IdleReport,
    catalogue: &Catalogue,
) -> serde_json::Value {
    serde_json::json!({
        "currency": "USD",
        "region": report.region,
        "scanned_at_ms": report.scanned_ms,
        "prices_as_of": catalogue.as_of(),
        "monthly_total": round(report.monthly_total()),
        "findings": report.findings.iter().map(|f| serde_json::json!({
            "kind": f.kind,
            "id": f.id,
            "name": f.name,
            "region": f.region,
            "reason": f.reason,
            "monthly": f.monthly.map(round),
            "priced_as": f.priced_as,
            "stack": f.stack,
            "detail": f.detail,
            "reap": f.kind.reaping(),
        })).collect::<Vec<_>>(),
        "unknown": report.unknown.iter().map(|(id, why)| serde_json::json!({"id": id, "why": why})).collect::<Vec<_>>(),
        "errors": report.errors,
        "metric_calls": report.metric_calls,
    })
}

/// `opsdeck prices refresh`. Returns the exit code.
pub async fn prices_refresh(
    opts: &Options,
    paths: &Paths,
    regions: Vec<String>,
    offer_url: Option<String>,
    out: &mut dyn Write,
) -> i32 {
    let config = match Config::load(paths, opts.config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            crate::errln!("opsdeck prices refresh: {e}");
            return 2;
        }
    };
    let base = match crate::cost::refresh::Base::parse(
        offer_url.as_deref().unwrap_or(&config.cost.offer_url),
    ) {
        Ok(b) => b,
        Err(e) => {
            crate::errln!("opsdeck prices refresh: {e}");
            return 2;
        }
    };
    let regions = if regions.is_empty() {
        crate::cost::refresh::DEFAULT_REGIONS
            .iter()
            .map(|r| r.to_string())
            .collect()
    } else {
        regions
    };
    let progress = |p: crate::cost::refresh::Progress| {
        let mb = p.bytes as f64 / 1e6;
        match p.total {
            Some(t) if t > 0 => crate::errln!(
                "{}: {mb:.1} MB of {:.1} MB ({:.0}%)",
                p.what,
                t as f64 / 1e6,
                p.bytes as f64 * 100.0 / t as f64
            ),
            _ => crate::errln!("{}: {mb:.1} MB", p.what),
        }
    };
    let started = std::time::Instant::now();
    match crate::cost::refresh::refresh(&base, &regions, &paths.data_dir, &progress).await {
        Ok(summary) => {
            let secs = started.elapsed().as_secs_f64().max(1e-6);
            let _ = writeln!(
                out,
                "refreshed {}: {} prices for {} (published {}), {:.1} MB in {:.1} s ({:.1} MB/s){}",
                summary.path.display(),
                summary.prices,
                summary.regions.join(", "),
                summary.publication,
                summary.bytes as f64 / 1e6,
                secs,
                summary.bytes as f64 / 1e6 / secs,
                if summary.ambiguous > 0 {
                    format!("; {} ambiguous price(s) left out", summary.ambiguous)
                } else {
                    String::new()
                }
            );
            0
        }
        Err(e) => {
            crate::errln!("opsdeck prices refresh: {e}; the previous catalogue is unchanged");
            2
        }
    }
}
