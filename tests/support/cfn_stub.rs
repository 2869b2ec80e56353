//! A loopback CloudFormation for what moto cannot do: stacks that take several polls to
//! settle with resource-level events, rollbacks with reasons, change sets with
//! Replacement/Details and paging, drift detection, termination protection.
//!
//! It speaks the awsQuery protocol the Rust SDK uses (form-encoded POST with `Action=...`,
//! XML answers in the 2010-05-15 namespace, `ErrorResponse` with status 400) on 127.0.0.1:0,
//! records every request, and stops when dropped. Scenarios are plain data set per test.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const NS: &str = "https://cloudformation.amazonaws.com/doc/2010-05-15/";
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// Who the stub says the caller is (GetCallerIdentity).
pub const CALLER_ARN: &str = "arn:aws:sts::123456789012:assumed-role/ops/stub-session";

/// One event to appear in a stack's history.
#[derive(Debug, Clone)]
pub struct StubEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl StubEvent {
    pub fn new(logical_id: &str, resource_type: &str, status: &str) -> StubEvent {
        StubEvent {
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            status: status.into(),
            reason: None,
        }
    }

    pub fn because(mut self, reason: &str) -> StubEvent {
        self.reason = Some(reason.into());
        self
    }
}

/// What one DescribeStacks call while a script runs moves forward: new events, then maybe a
/// new stack status. A stack event (logical id = stack name) is written for a status change.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub events: Vec<StubEvent>,
    pub status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StubResource {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct StubChange {
    pub action: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub replacement: Option<String>,
    pub scope: Vec<String>,
    /// (attribute, name, requires recreation)
    pub details: Vec<(String, String, String)>,
}

/// How the next CreateChangeSet behaves.
#[derive(Debug, Clone)]
pub struct ChangeSetPlan {
    /// DescribeChangeSet answers CREATE_IN_PROGRESS this many times first.
    pub pending_polls: usize,
    /// `CREATE_COMPLETE` or `FAILED`.
    pub status: String,
    pub reason: Option<String>,
    pub changes: Vec<StubChange>,
    /// Changes per DescribeChangeSet page.
    pub page_size: usize,
}

/// (path, expected, actual, kind)
pub type Difference = (String, String, String, String);
/// (logical id, type, drift status, differences)
pub type DriftedResource = (String, String, String, Vec<Difference>);

#[derive(Debug, Clone)]
pub struct StubDrift {
    pub resources: Vec<DriftedResource>,
    pub in_progress_polls: usize,
    /// `DETECTION_COMPLETE` or `DETECTION_FAILED`.
    pub detection_status: String,
    pub reason: Option<String>,
    /// `DRIFTED`, `IN_SYNC`, ...
    pub stack_drift_status: String,
}

#[derive(Debug, Clone)]
pub struct StubStack {
    pub name: String,
    pub id: String,
    pub status: String,
    pub termination_protection: bool,
    pub resources: Vec<StubResource>,
    pub template: String,
    /// Played one step per DescribeStacks after ExecuteChangeSet (or at once when `running`).
    pub script: Vec<Step>,
    pub running: bool,
    pub drift: Option<StubDrift>,
    events: Vec<(String, StubEvent)>,
}

impl StubStack {
    pub fn new(name: &str, status: &str) -> StubStack {
        StubStack {
            name: name.into(),
            id: stack_arn(name),
            status: status.into(),
            termination_protection: false,
            resources: Vec::new(),
            template: r#"{"Resources":{}}"#.into(),
            script: Vec::new(),
            running: false,
            drift: None,
            events: Vec::new(),
        }
    }
}

pub fn stack_arn(name: &str) -> String {
    format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0000-{name}")
}

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: String,
    pub params: BTreeMap<String, String>,
    /// The raw, still form-encoded body.
    pub body: String,
}

struct ChangeSet {
    id: String,
    name: String,
    stack_id: String,
    kind: String,
    plan: ChangeSetPlan,
    polls: usize,
}

#[derive(Default)]
struct State {
    stacks: Vec<StubStack>,
    change_sets: Vec<ChangeSet>,
    next_plan: Option<ChangeSetPlan>,
    requests: Vec<Request>,
    next_event: u64,
    event_page_size: usize,
    drift_polls: usize,
}

pub struct CfnStub {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CfnStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl CfnStub {
    /// Listens on 127.0.0.1:0 on the current tokio runtime.
    pub async fn start() -> CfnStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State {
            event_page_size: 100,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        CfnStub {
            endpoint,
            state,
            task,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Adds a stack; its script steps' statuses and events play as described on [`Step`].
    pub fn add_stack(&self, stack: StubStack, history: Vec<StubEvent>) -> String {
        let mut state = lock(&self.state);
        let id = stack.id.clone();
        state.stacks.push(stack);
        for event in history {
            push_event(&mut state, &id, event);
        }
        id
    }

    pub fn plan_change_set(&self, plan: ChangeSetPlan) {
        lock(&self.state).next_plan = Some(plan);
    }

    pub fn set_event_page_size(&self, size: usize) {
        lock(&self.state).event_page_size = size.max(1);
    }

    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state).requests.clone()
    }

    pub fn actions(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.action).collect()
    }

    pub fn stack_status(&self, name: &str) -> Option<String> {
        lock(&self.state)
            .stacks
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.status.clone())
    }

    pub fn change_set_count(&self) -> usize {
        lock(&self.state).change_sets.len()
    }
}

fn push_event(state: &mut State, stack_id: &str, event: StubEvent) {
    state.next_event += 1;
    let id = format!("ev-{:04}", state.next_event);
    if let Some(stack) = state.stacks.iter_mut().find(|s| s.id == stack_id) {
        stack.events.push((id, event));
    }
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let (status, xml) = handle(&state, body);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nx-amzn-requestid: stub\r\n\r\n",
            xml.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(xml.as_bytes()).await?;
        write.flush().await?;
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn el(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", esc(value))
}

fn ok(action: &str, inner: &str) -> (&'static str, String) {
    (
        "200 OK",
        format!(
            r#"<{action}Response xmlns="{NS}"><{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></{action}Response>"#
        ),
    )
}

fn error(code: &str, message: &str) -> (&'static str, String) {
    (
        "400 Bad Request",
        format!(
            r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>stub</RequestId></ErrorResponse>"#,
            esc(message)
        ),
    )
}

fn timestamp(n: u64) -> String {
    format!("2025-01-01T00:{:02}:{:02}.000Z", (n / 60) % 60, n % 60)
}

fn handle(state: &Mutex<State>, body: String) -> (&'static str, String) {
    let params: BTreeMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let action = params.get("Action").cloned().unwrap_or_default();
    let mut st = lock(state);
    st.requests.push(Request {
        action: action.clone(),
        params: params.clone(),
        body,
    });
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let find = |st: &State, key: &str| st.stacks.iter().position(|s| s.id == key || s.name == key);
    let missing = |key: &str| {
        error(
            "ValidationError",
            &format!("Stack with id {key} does not exist"),
        )
    };
    match action.as_str() {
        // STS shares the awsQuery protocol: one endpoint can stand in for both, so the real
        // binary (which asks who it is before any change) can run against the stub.
        "GetCallerIdentity" => (
            "200 OK",
            format!(
                r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>{CALLER_ARN}</Arn><UserId>AROASTUBSTUBSTUBSTUB:stub</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
            ),
        ),
        "ListStacks" => {
            let members: String = st
                .stacks
                .iter()
                .filter(|s| s.status != "DELETE_COMPLETE")
                .map(|s| {
                    format!(
                        "<member>{}{}{}{}</member>",
                        el("StackId", &s.id),
                        el("StackName", &s.name),
                        el("CreationTime", "2025-01-01T00:00:00.000Z"),
                        el("StackStatus", &s.status),
                    )
                })
                .collect();
            ok(
                &action,
                &format!("<StackSummaries>{members}</StackSummaries>"),
            )
        }
        "DescribeStacks" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            advance(&mut st, i);
            let s = &st.stacks[i];
            let inner = format!(
                "<Stacks><member>{}{}{}{}{}</member></Stacks>",
                el("StackId", &s.id),
                el("StackName", &s.name),
                el("CreationTime", "2025-01-01T00:00:00.000Z"),
                el("StackStatus", &s.status),
                el(
                    "EnableTerminationProtection",
                    if s.termination_protection {
                        "true"
                    } else {
                        "false"
                    }
                ),
            );
            ok(&action, &inner)
        }
        "ListStackResources" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            let members: String = st.stacks[i]
                .resources
                .iter()
                .map(|r| {
                    format!(
                        "<member>{}{}{}{}</member>",
                        el("LogicalResourceId", &r.logical_id),
                        el("ResourceType", &r.resource_type),
                        el("LastUpdatedTimestamp", "2025-01-01T00:00:00.000Z"),
                        el("ResourceStatus", &r.status)
                    )
                })
                .collect();
            ok(
                &action,
                &format!("<StackResourceSummaries>{members}</StackResourceSummaries>"),
            )
        }
        "DescribeStackEvents" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            let s = &st.stacks[i];
            let offset: usize = p("NextToken").parse().unwrap_or(0);
            let newest_first: Vec<_> = s.events.iter().rev().collect();
            let page: Vec<_> = newest_first
                .iter()
                .skip(offset)
                .take(st.event_page_size)
                .collect();
            let members: String = page
                .iter()
                .map(|(id, e)| {
                    let n: u64 = id.trim_start_matches("ev-").parse().unwrap_or(0);
                    let physical = if e.logical_id == s.name {
                        s.id.clone()
                    } else {
                        format!("{}-phys", e.logical_id)
                    };
                    format!(
                        "<member>{}{}{}{}{}{}{}{}{}</member>",
                        el("StackId", &s.id),
                        el("EventId", id),
                        el("StackName", &s.name),
                        el("LogicalResourceId", &e.logical_id),
                        el("PhysicalResourceId", &physical),
                        el("ResourceType", &e.resource_type),
                        el("Timestamp", &timestamp(n)),
                        el("ResourceStatus", &e.status),
                        e.reason
                            .as_deref()
                            .map(|r| el("ResourceStatusReason", r))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let next = offset + page.len();
            let token = if next < newest_first.len() {
                el("NextToken", &next.to_string())
            } else {
                String::new()
            };
            ok(
                &action,
                &format!("<StackEvents>{members}</StackEvents>{token}"),
            )
        }
        "GetTemplate" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            ok(&action, &el("TemplateBody", &st.stacks[i].template))
        }
        "CreateChangeSet" => {
            let key = p("StackName");
            let kind = p("ChangeSetType");
            let stack_id = match (find(&st, &key), kind.as_str()) {
                (Some(i), "UPDATE") => st.stacks[i].id.clone(),
                (None, "CREATE") => {
                    let stack = StubStack::new(&key, "REVIEW_IN_PROGRESS");
                    let id = stack.id.clone();
                    st.stacks.push(stack);
                    push_event(
                        &mut st,
                        &id,
                        StubEvent::new(&key, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS"),
                    );
                    id
                }
                (Some(_), _) => {
                    return error(
                        "AlreadyExistsException",
                        &format!("Stack [{key}] already exists"),
                    );
                }
                (None, _) => return missing(&key),
            };
            let name = p("ChangeSetName");
            let id =
                format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/{name}/cs-{name}");
            let plan = st.next_plan.take().unwrap_or(ChangeSetPlan {
                pending_polls: 0,
                status: "CREATE_COMPLETE".into(),
                reason: None,
                changes: Vec::new(),
                page_size: 100,
            });
            st.change_sets.push(ChangeSet {
                id: id.clone(),
                name,
                stack_id: stack_id.clone(),
                kind,
                plan,
                polls: 0,
            });
            ok(
                &action,
                &format!("{}{}", el("Id", &id), el("StackId", &stack_id)),
            )
        }
        "DescribeChangeSet" => {
            let key = p("ChangeSetName");
            let Some(cs) = st.change_sets.iter_mut().find(|c| c.id == key) else {
                return error(
                    "ChangeSetNotFound",
                    &format!("ChangeSet [{key}] does not exist"),
                );
            };
            cs.polls += 1;
            let (status, reason) = if cs.polls <= cs.plan.pending_polls {
                ("CREATE_IN_PROGRESS".to_string(), None)
            } else {
                (cs.plan.status.clone(), cs.plan.reason.clone())
            };
            let offset: usize = p("NextToken").parse().unwrap_or(0);
            let page: Vec<_> = if status == "CREATE_COMPLETE" {
                cs.plan
                    .changes
                    .iter()
                    .skip(offset)
                    .take(cs.plan.page_size.max(1))
                    .collect()
            } else {
                Vec::new()
            };
            let next = offset + page.len();
            let token = if status == "CREATE_COMPLETE" && next < cs.plan.changes.len() {
                el("NextToken", &next.to_string())
            } else {
                String::new()
            };
            let changes: String = page.iter().map(|c| change_xml(c)).collect();
            let stack_name = cs
                .stack_id
                .split('/')
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let inner = format!(
                "{}{}{}{}{}{}<Changes>{changes}</Changes>{token}",
                el("ChangeSetName", &cs.name),
                el("ChangeSetId", &cs.id),
                el("StackId", &cs.stack_id),
                el("StackName", &stack_name),
                el("Status", &status),
                reason.map(|r| el("StatusReason", &r)).unwrap_or_default(),
            );
            ok(&action, &inner)
        }
        "DeleteChangeSet" => {
            let key = p("ChangeSetName");
            let before = st.change_sets.len();
            st.change_sets.retain(|c| c.id != key);
            if st.change_sets.len() == before {
                return error(
                    "ChangeSetNotFound",
                    &format!("ChangeSet [{key}] does not exist"),
                );
            }
            ok(&action, "")
        }
        "ListChangeSets" => {
            let stack = match find(&st, &p("StackName")) {
                Some(i) => st.stacks[i].id.clone(),
                None => p("StackName"),
            };
            let members: String = st
                .change_sets
                .iter()
                .filter(|c| c.stack_id == stack)
                .map(|c| {
                    format!(
                        "<member><ChangeSetId>{}</ChangeSetId><ChangeSetName>{}</ChangeSetName><StackId>{}</StackId></member>",
                        c.id, c.name, c.stack_id
                    )
                })
                .collect();
            ok(&action, &format!("<Summaries>{members}</Summaries>"))
        }
        "ExecuteChangeSet" => {
            let key = p("ChangeSetName");
            let Some(pos) = st.change_sets.iter().position(|c| c.id == key) else {
                return error(
                    "ChangeSetNotFound",
                    &format!("ChangeSet [{key}] does not exist"),
                );
            };
            let cs = st.change_sets.remove(pos);
            if let Some(i) = find(&st, &cs.stack_id) {
                st.stacks[i].running = true;
                if st.stacks[i].script.is_empty() {
                    let done = format!("{}_COMPLETE", cs.kind);
                    st.stacks[i].script.push(Step {
                        events: Vec::new(),
                        status: Some(done),
                    });
                }
            }
            ok(&action, "")
        }
        "DeleteStack" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return ok(&action, "");
            };
            if st.stacks[i].termination_protection {
                let name = st.stacks[i].name.clone();
                return error(
                    "ValidationError",
                    &format!(
                        "Stack [{name}] cannot be deleted while TerminationProtection is enabled"
                    ),
                );
            }
            let (id, name) = (st.stacks[i].id.clone(), st.stacks[i].name.clone());
            st.stacks[i].status = "DELETE_COMPLETE".into();
            push_event(
                &mut st,
                &id,
                StubEvent::new(&name, "AWS::CloudFormation::Stack", "DELETE_COMPLETE"),
            );
            ok(&action, "")
        }
        "ContinueUpdateRollback" | "CancelUpdateStack" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            // What CloudFormation accepts each from.
            let from = if action == "ContinueUpdateRollback" {
                "UPDATE_ROLLBACK_FAILED"
            } else {
                "UPDATE_IN_PROGRESS"
            };
            if st.stacks[i].status != from {
                let (name, status) = (st.stacks[i].name.clone(), st.stacks[i].status.clone());
                return error(
                    "ValidationError",
                    &format!("Stack [{name}] is in {status} state and can not be updated."),
                );
            }
            st.stacks[i].running = true;
            if st.stacks[i].script.is_empty() {
                st.stacks[i].script = vec![
                    Step {
                        events: Vec::new(),
                        status: Some("UPDATE_ROLLBACK_IN_PROGRESS".into()),
                    },
                    Step {
                        events: Vec::new(),
                        status: Some("UPDATE_ROLLBACK_COMPLETE".into()),
                    },
                ];
            }
            ok(&action, "")
        }
        "UpdateTerminationProtection" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            st.stacks[i].termination_protection = p("EnableTerminationProtection") == "true";
            let id = st.stacks[i].id.clone();
            ok(&action, &el("StackId", &id))
        }
        "DetectStackDrift" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            st.drift_polls = 0;
            let id = format!("drift-{}", st.stacks[i].name);
            ok(&action, &el("StackDriftDetectionId", &id))
        }
        "DescribeStackDriftDetectionStatus" => {
            let id = p("StackDriftDetectionId");
            let name = id.trim_start_matches("drift-").to_string();
            let Some(i) = find(&st, &name) else {
                return missing(&name);
            };
            st.drift_polls += 1;
            let polls = st.drift_polls;
            let s = &st.stacks[i];
            let drift = s
                .drift
                .clone()
                .expect("the scenario set drift for this stack");
            let done = polls > drift.in_progress_polls;
            let drifted = drift
                .resources
                .iter()
                .filter(|r| r.2 == "MODIFIED" || r.2 == "DELETED")
                .count();
            let inner = format!(
                "{}{}{}{}{}{}{}",
                el("StackId", &s.id),
                el("StackDriftDetectionId", &id),
                el(
                    "StackDriftStatus",
                    if done {
                        &drift.stack_drift_status
                    } else {
                        "UNKNOWN"
                    }
                ),
                el(
                    "DetectionStatus",
                    if done {
                        &drift.detection_status
                    } else {
                        "DETECTION_IN_PROGRESS"
                    }
                ),
                drift
                    .reason
                    .as_deref()
                    .filter(|_| done)
                    .map(|r| el("DetectionStatusReason", r))
                    .unwrap_or_default(),
                el(
                    "DriftedStackResourceCount",
                    &if done { drifted } else { 0 }.to_string()
                ),
                el("Timestamp", "2025-01-01T01:00:00.000Z"),
            );
            ok(&action, &inner)
        }
        "DescribeStackResourceDrifts" => {
            let Some(i) = find(&st, &p("StackName")) else {
                return missing(&p("StackName"));
            };
            let s = &st.stacks[i];
            let drift = s.drift.clone().unwrap_or(StubDrift {
                resources: Vec::new(),
                in_progress_polls: 0,
                detection_status: "DETECTION_COMPLETE".into(),
                reason: None,
                stack_drift_status: "IN_SYNC".into(),
            });
            // One resource per page, to make the reader page.
            let offset: usize = p("NextToken").parse().unwrap_or(0);
            let members: String = drift
                .resources
                .iter()
                .skip(offset)
                .take(1)
                .map(|(logical, rtype, status, diffs)| {
                    let diffs: String = diffs
                        .iter()
                        .map(|(path, expected, actual, kind)| {
                            format!(
                                "<member>{}{}{}{}</member>",
                                el("PropertyPath", path),
                                el("ExpectedValue", expected),
                                el("ActualValue", actual),
                                el("DifferenceType", kind)
                            )
                        })
                        .collect();
                    format!(
                        "<member>{}{}{}{}{}<PropertyDifferences>{diffs}</PropertyDifferences>{}</member>",
                        el("StackId", &s.id),
                        el("LogicalResourceId", logical),
                        el("PhysicalResourceId", &format!("{logical}-phys")),
                        el("ResourceType", rtype),
                        el("StackResourceDriftStatus", status),
                        el("Timestamp", "2025-01-01T01:00:00.000Z"),
                    )
                })
                .collect();
            let token = if offset + 1 < drift.resources.len() {
                el("NextToken", &(offset + 1).to_string())
            } else {
                String::new()
            };
            ok(
                &action,
                &format!("<StackResourceDrifts>{members}</StackResourceDrifts>{token}"),
            )
        }
        other => error(
            "InvalidAction",
            &format!("the stub does not implement {other}"),
        ),
    }
}

/// One DescribeStacks moves a running script one step.
fn advance(st: &mut State, i: usize) {
    if !st.stacks[i].running {
        return;
    }
    if st.stacks[i].script.is_empty() {
        st.stacks[i].running = false;
        return;
    }
    let step = st.stacks[i].script.remove(0);
    let (id, name) = (st.stacks[i].id.clone(), st.stacks[i].name.clone());
    for event in step.events {
        push_event(st, &id, event);
    }
    if let Some(status) = step.status {
        st.stacks[i].status = status.clone();
        push_event(
            st,
            &id,
            StubEvent::new(&name, "AWS::CloudFormation::Stack", &status),
        );
    }
    if st.stacks[i].script.is_empty() {
        st.stacks[i].running = false;
    }
}

fn change_xml(c: &StubChange) -> String {
    let scope: String = c.scope.iter().map(|s| el("member", s)).collect();
    let details: String = c
        .details
        .iter()
        .map(|(attribute, name, recreation)| {
            format!(
                "<member><Target>{}{}{}</Target>{}{}</member>",
                el("Attribute", attribute),
                el("Name", name),
                el("RequiresRecreation", recreation),
                el("Evaluation", "Static"),
                el("ChangeSource", "DirectModification"),
            )
        })
        .collect();
    format!(
        "<member><Type>Resource</Type><ResourceChange>{}{}{}{}{}<Scope>{scope}</Scope><Details>{details}</Details></ResourceChange></member>",
        el("Action", &c.action),
        el("LogicalResourceId", &c.logical_id),
        c.physical_id
            .as_deref()
            .map(|p| el("PhysicalResourceId", p))
            .unwrap_or_default(),
        el("ResourceType", &c.resource_type),
        c.replacement
            .as_deref()
            .map(|r| el("Replacement", r))
            .unwrap_or_default(),
    )
}
