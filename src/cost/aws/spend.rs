//! Spend: Cost Explorer (GetCostAndUsage MONTHLY and DAILY by SERVICE, by the allocation tag
//! and by `aws:cloudformation:stack-name`; GetCostForecast), every request counted against
//! the daily call budget before it is sent; the free `AWS/Billing EstimatedCharges` metric
//! when Cost Explorer cannot answer. A part that fails is marked unavailable with the reason.

use super::CostProvider;
use crate::cost::dates::{format_day, month_of, month_start, parse_day};
use crate::cost::model::{Amount, DaySpend, MonthSpend, Part, SpendReport, SpendSource};
use crate::cost::ops::SpendQuery;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use aws_sdk_costexplorer::types::{
    DateInterval, Granularity, GroupDefinition, GroupDefinitionType, Metric, ResultByTime,
};
use std::collections::BTreeMap;

const METRIC: &str = "UnblendedCost";
/// Pages one Cost Explorer question may take (each is a paid request).
const MAX_PAGES: u32 = 10;
/// The tag CloudFormation puts on what it creates.
const STACK_TAG: &str = "aws:cloudformation:stack-name";

pub(super) async fn spend(
    p: &CostProvider,
    q: &SpendQuery,
    ctx: &TaskCtx,
) -> ProviderResult<SpendReport> {
    let Some(today) = parse_day(&q.today) else {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!("{:?} is not a date", q.today),
        ));
    };
    let mut calls = 0;
    let fallback_reason = if q.free_only {
        Some("asked for the free billing metric only".to_string())
    } else {
        match cost_explorer(p, q, today, &mut calls, ctx).await {
            Ok(report) => return Ok(report),
            Err(why) => {
                ctx.warn(format!(
                    "Cost Explorer: {why}; trying the AWS/Billing metric"
                ));
                Some(why)
            }
        }
    };
    match billing_metric(p, today, ctx).await {
        Ok(mut report) => {
            report.months_requested = q.months;
            report.calls = calls;
            report.fallback_reason = fallback_reason;
            Ok(report)
        }
        // Never a transient kind: the engine must not repeat paid requests.
        Err(why) => Err(ProviderError::new(
            ErrorKind::Other,
            match fallback_reason {
                Some(ce) => format!(
                    "no spend could be read: Cost Explorer: {ce}; AWS/Billing metric: {why}"
                ),
                None => format!("no spend could be read: AWS/Billing metric: {why}"),
            },
        )),
    }
}

/// One Cost Explorer question, every page, each page paid for from the budget first.
async fn cost_and_usage(
    p: &CostProvider,
    q: &SpendQuery,
    period: (i64, i64),
    granularity: Granularity,
    group: Option<GroupDefinition>,
    calls: &mut u32,
    ctx: &TaskCtx,
) -> Result<Vec<ResultByTime>, String> {
    let interval = DateInterval::builder()
        .start(format_day(period.0))
        .end(format_day(period.1))
        .build()
        .map_err(|e| e.to_string())?;
    let mut token: Option<String> = None;
    let mut results = Vec::new();
    for _ in 0..MAX_PAGES {
        if ctx.is_cancelled() {
            return Err("cancelled".into());
        }
        q.budget.take(&q.today).map_err(|e| e.to_string())?;
        *calls += 1;
        let out =
            p.ce.get_cost_and_usage()
                .time_period(interval.clone())
                .granularity(granularity.clone())
                .metrics(METRIC)
                .set_group_by(group.clone().map(|g| vec![g]))
                .set_next_page_token(token.clone())
                .send()
                .await
                .map_err(|e| super::describe_error(&p.sites.ce, "GetCostAndUsage", e))?;
        results.extend(out.results_by_time().iter().cloned());
        token = out.next_page_token().map(str::to_string);
        if token.is_none() {
            return Ok(results);
        }
    }
    Err(format!(
        "more than {MAX_PAGES} pages; stopped to spare the call budget"
    ))
}

fn amount(
    metrics: Option<&std::collections::HashMap<String, aws_sdk_costexplorer::types::MetricValue>>,
) -> f64 {
    metrics
        .and_then(|m| m.get(METRIC))
        .and_then(|v| v.amount())
        .and_then(|a| a.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Group amounts summed by their first key (`Service`, or `Tag$value`), largest first.
fn grouped(results: &[ResultByTime], strip_prefix: Option<&str>) -> Vec<Amount> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for r in results {
        for g in r.groups() {
            let key = g.keys().first().map(String::as_str).unwrap_or_default();
            let key = match strip_prefix {
                Some(prefix) => key.strip_prefix(prefix).unwrap_or(key),
                None => key,
            };
            let key = if key.is_empty() { "(untagged)" } else { key };
            *sums.entry(crate::aws::clean(Some(key))).or_default() += amount(g.metrics());
        }
    }
    let mut out: Vec<Amount> = sums
        .into_iter()
        .map(|(name, amount)| Amount { name, amount })
        .collect();
    out.sort_by(|a, b| b.amount.total_cmp(&a.amount));
    out
}

fn total(r: &ResultByTime) -> f64 {
    let from_total = amount(r.total());
    if from_total != 0.0 || r.groups().is_empty() {
        from_total
    } else {
        // Grouped answers leave Total empty: the groups add up to it.
        r.groups().iter().map(|g| amount(g.metrics())).sum()
    }
}

async fn cost_explorer(
    p: &CostProvider,
    q: &SpendQuery,
    today: i64,
    calls: &mut u32,
    ctx: &TaskCtx,
) -> Result<SpendReport, String> {
    let this_month = month_start(today, 0);
    let next_month = month_start(today, 1);
    let first = month_start(today, -(q.months as i64));
    let by_service = GroupDefinition::builder()
        .r#type(GroupDefinitionType::Dimension)
        .key("SERVICE")
        .build();
    ctx.info("Cost Explorer: monthly spend by service");
    // The core question: if it cannot be answered, the billing metric answers instead.
    let monthly = cost_and_usage(
        p,
        q,
        (first, next_month),
        Granularity::Monthly,
        Some(by_service),
        calls,
        ctx,
    )
    .await?;
    let mut months: Vec<MonthSpend> = Vec::new();
    for r in &monthly {
        let start = r
            .time_period()
            .and_then(|t| parse_day(t.start()))
            .unwrap_or(this_month);
        let month = month_of(start);
        let services = grouped(std::slice::from_ref(r), None);
        let sum = total(r);
        match months.iter_mut().find(|m| m.month == month) {
            // Pages may split one month's groups.
            Some(m) => {
                m.total += sum;
                m.services.extend(services);
                m.services.sort_by(|a, b| b.amount.total_cmp(&a.amount));
            }
            None => months.push(MonthSpend {
                month,
                total: sum,
                estimated: r.estimated(),
                services,
            }),
        }
    }
    let current = month_of(today);
    let month_to_date = months
        .iter()
        .find(|m| m.month == current)
        .map(|m| m.total)
        .unwrap_or(0.0);

    ctx.info("Cost Explorer: daily spend");
    let daily = match cost_and_usage(
        p,
        q,
        (today - 30, today + 1),
        Granularity::Daily,
        None,
        calls,
        ctx,
    )
    .await
    {
        Ok(results) => Part::Ok(
            results
                .iter()
                .map(|r| DaySpend {
                    date: r
                        .time_period()
                        .map(|t| t.start().to_string())
                        .unwrap_or_default(),
                    amount: total(r),
                })
                .collect(),
        ),
        Err(why) => Part::Unavailable(why),
    };

    ctx.info("Cost Explorer: month-end forecast");
    let forecast = match forecast(p, q, today, next_month, calls).await {
        Ok(rest) => Part::Ok(month_to_date + rest),
        Err(why) => Part::Unavailable(why),
    };

    let by_tag = match &q.allocation_tag {
        Some(tag) => {
            ctx.info(format!("Cost Explorer: this month by tag {tag}"));
            let group = GroupDefinition::builder()
                .r#type(GroupDefinitionType::Tag)
                .key(tag)
                .build();
            Some(
                match cost_and_usage(
                    p,
                    q,
                    (this_month, next_month),
                    Granularity::Monthly,
                    Some(group),
                    calls,
                    ctx,
                )
                .await
                {
                    Ok(results) => Part::Ok(grouped(&results, Some(&format!("{tag}$")))),
                    Err(why) => Part::Unavailable(why),
                },
            )
        }
        None => None,
    };

    ctx.info("Cost Explorer: this month by stack");
    let group = GroupDefinition::builder()
        .r#type(GroupDefinitionType::Tag)
        .key(STACK_TAG)
        .build();
    let by_stack = match cost_and_usage(
        p,
        q,
        (this_month, next_month),
        Granularity::Monthly,
        Some(group),
        calls,
        ctx,
    )
    .await
    {
        Ok(results) => Part::Ok(
            grouped(&results, Some(&format!("{STACK_TAG}$")))
                .into_iter()
                .filter(|a| a.name != "(untagged)")
                .collect(),
        ),
        Err(why) => Part::Unavailable(format!(
            "{why} (the {STACK_TAG} tag must be activated as a cost-allocation tag)"
        )),
    };
    ctx.info(format!(
        "Cost Explorer: {calls} request(s), ${:.2}",
        *calls as f64 * 0.01
    ));
    Ok(SpendReport {
        source: SpendSource::CostExplorer,
        currency: "USD".into(),
        fetched_ms: crate::model::now_ms(),
        month_to_date: Part::Ok(month_to_date),
        months: Part::Ok(months),
        daily,
        forecast,
        by_tag,
        by_stack,
        calls: *calls,
        fallback_reason: None,
        months_requested: q.months,
    })
}

/// The forecast of the rest of the month (today included).
async fn forecast(
    p: &CostProvider,
    q: &SpendQuery,
    today: i64,
    next_month: i64,
    calls: &mut u32,
) -> Result<f64, String> {
    let interval = DateInterval::builder()
        .start(format_day(today))
        .end(format_day(next_month.max(today + 1)))
        .build()
        .map_err(|e| e.to_string())?;
    q.budget.take(&q.today).map_err(|e| e.to_string())?;
    *calls += 1;
    let out =
        p.ce.get_cost_forecast()
            .time_period(interval)
            .metric(Metric::UnblendedCost)
            .granularity(Granularity::Monthly)
            .send()
            .await
            .map_err(|e| super::describe_error(&p.sites.ce, "GetCostForecast", e))?;
    out.total()
        .and_then(|t| t.amount())
        .and_then(|a| a.parse::<f64>().ok())
        .ok_or_else(|| "Cost Explorer answered without a forecast total".to_string())
}

/// `AWS/Billing EstimatedCharges` (us-east-1): month to date, by service, and the daily trend
/// as the day-to-day growth of the month-to-date total. Free.
async fn billing_metric(
    p: &CostProvider,
    today: i64,
    ctx: &TaskCtx,
) -> Result<SpendReport, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};
    ctx.info("CloudWatch: AWS/Billing EstimatedCharges metrics");
    let mut listed: Vec<CwMetric> = Vec::new();
    let mut token: Option<String> = None;
    for page in 0.. {
        if page >= 20 {
            return Err("more than 20 pages of billing metrics".into());
        }
        let out = p
            .billing
            .list_metrics()
            .namespace("AWS/Billing")
            .metric_name("EstimatedCharges")
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| super::describe_error(&p.sites.billing, "ListMetrics", e))?;
        listed.extend(out.metrics().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // The account's own figures: no LinkedAccount dimension.
    let metrics: Vec<(Option<String>, CwMetric)> = listed
        .into_iter()
        .filter(|m| {
            !m.dimensions()
                .iter()
                .any(|d| d.name() == Some("LinkedAccount"))
        })
        .filter(|m| {
            m.dimensions()
                .iter()
                .any(|d| d.name() == Some("Currency") && d.value() == Some("USD"))
        })
        .map(|m| {
            let service = m
                .dimensions()
                .iter()
                .find(|d| d.name() == Some("ServiceName"))
                .and_then(|d| d.value())
                .map(|v| crate::aws::clean(Some(v)));
            (service, m)
        })
        .collect();
    if metrics.is_empty() {
        return Err("no EstimatedCharges metric in USD: turn on \"Receive Billing Alerts\" in the billing preferences".into());
    }
    let start = month_start(today, 0);
    let queries: Vec<MetricDataQuery> = metrics
        .iter()
        .enumerate()
        .map(|(i, (_, m))| {
            let metric = CwMetric::builder()
                .namespace("AWS/Billing")
                .metric_name("EstimatedCharges")
                .set_dimensions(Some(
                    m.dimensions()
                        .iter()
                        .map(|d| {
                            Dimension::builder()
                                .name(d.name().unwrap_or_default())
                                .value(d.value().unwrap_or_default())
                                .build()
                        })
                        .collect(),
                ))
                .build();
            MetricDataQuery::builder()
                .id(format!("q{i}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(86_400)
                        .stat("Maximum")
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    ctx.info(format!("CloudWatch: {} billing series", queries.len()));
    let (series, _) =
        super::idle::metric_data(&p.billing, &p.sites.billing, queries, start, today + 1)
            .await
            .map_err(|e| e.to_string())?;
    let mut total_series: Vec<(i64, f64)> = Vec::new();
    let mut services = Vec::new();
    for (i, (service, _)) in metrics.iter().enumerate() {
        let points = series.get(&format!("q{i}")).cloned().unwrap_or_default();
        let latest = points.iter().max_by_key(|(t, _)| *t).map(|(_, v)| *v);
        match service {
            Some(name) => {
                if let Some(v) = latest {
                    services.push(Amount {
                        name: name.clone(),
                        amount: v,
                    })
                }
            }
            None => total_series = points,
        }
    }
    services.sort_by(|a, b| b.amount.total_cmp(&a.amount));
    total_series.sort_by_key(|(t, _)| *t);
    let month_to_date = match total_series.last() {
        Some((_, v)) => Part::Ok(*v),
        None if !services.is_empty() => Part::Ok(services.iter().map(|s| s.amount).sum()),
        None => Part::Unavailable("no EstimatedCharges datapoint this month".into()),
    };
    let mut daily = Vec::new();
    let mut previous = 0.0;
    for (t, v) in &total_series {
        daily.push(DaySpend {
            date: format_day(t.div_euclid(86_400)),
            amount: (v - previous).max(0.0),
        });
        previous = *v;
    }
    let mtd = month_to_date.ok().copied();
    Ok(SpendReport {
        source: SpendSource::Cloudwatch,
        currency: "USD".into(),
        fetched_ms: crate::model::now_ms(),
        months: match mtd {
            Some(total) => Part::Ok(vec![MonthSpend {
                month: month_of(today),
                total,
                estimated: true,
                services,
            }]),
            None => Part::Unavailable("no EstimatedCharges datapoint this month".into()),
        },
        month_to_date,
        daily: if daily.is_empty() {
            Part::Unavailable("no daily EstimatedCharges datapoints".into())
        } else {
            Part::Ok(daily)
        },
        forecast: Part::Unavailable(
            "the billing metric has no forecast (Cost Explorer gives one)".into(),
        ),
        by_tag: None,
        by_stack: Part::Unavailable("only Cost Explorer groups spend by stack".into()),
        calls: 0,
        fallback_reason: None,
        months_requested: 0,
    })
}
