//! The real binary in a real pty (a tmux pane) against moto: keys in, screen out.
//!
//! Each test runs its own tmux server (`-L <unique socket>`, no config file, sockets in the
//! test's temp dir) and kills it in a drop guard, so a failing test leaves nothing running.

mod support;

use std::path::Path;
use support::bedrock_stub::{BedrockStub, Reply};
use support::fault_proxy::FaultProxy;
use support::tmux::{POLL, SCREEN_TIMEOUT, Tmux};
use support::{MotoServer, TestDirs};

const WIDTH: u16 = 100;
const HEIGHT: u16 = 30;

/// opsdeck at `endpoint` with `extra_args`, in a pane of the e2e size.
fn console(name: &str, dirs: &TestDirs, endpoint: &str, extra_args: &[&str]) -> Tmux {
    console_with_env(name, dirs, endpoint, extra_args, &[])
}

/// As [`console`], with more variables in opsdeck's environment.
fn console_with_env(
    name: &str,
    dirs: &TestDirs,
    endpoint: &str,
    extra_args: &[&str],
    extra_env: &[(&str, &str)],
) -> Tmux {
    let mut args = vec!["--endpoint-url", endpoint];
    args.extend_from_slice(extra_args);
    Tmux::start(name, dirs, &args, extra_env, (WIDTH, HEIGHT))
}

/// Stack names in the Inventory list: rows of the left-hand pane that start with the prefix.
fn inventory_rows<'a>(screen: &'a str, prefix: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter_map(|line| line.strip_prefix('│'))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

fn assert_exited_cleanly(tmux: &Tmux) {
    tmux.wait_for("opsdeck to exit with status 0", |s| {
        s.contains("OPSDECK_EXIT=0")
    });
    // The terminal is handed back: main screen, cursor visible.
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor left hidden");
}

fn audit_decisions(path: &Path, stack: &str) -> Vec<String> {
    support::decisions_for_stack(&support::read_audit(path), stack)
}

fn assert_chain_intact(path: &Path) {
    let report = opsdeck::audit::verify(path).expect("audit log readable");
    assert!(
        matches!(report, opsdeck::audit::VerifyReport::Ok { .. }),
        "{report:?}"
    );
}

#[test]
fn delete_a_stack_by_typing_its_name_then_quit() {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    rt.block_on(support::create_stacks(
        &cfn,
        &["e2e-alpha", "e2e-bravo", "e2e-charlie"],
    ));
    let dirs = TestDirs::new();
    let tmux = console("delete", &dirs, &moto.endpoint(), &[]);

    tmux.wait_for("the three stacks", |s| {
        inventory_rows(s, "e2e-") == ["e2e-alpha", "e2e-bravo", "e2e-charlie"]
    });
    // While the console runs it owns the screen: alternate screen on, cursor hidden.
    assert_eq!(tmux.format("#{alternate_on}"), "1");
    assert_eq!(tmux.format("#{cursor_flag}"), "0");

    tmux.keys(&["j", "d"]);
    // Waits for the whole dialog: a capture can catch a frame half drawn.
    let dialog = tmux.wait_for("the delete dialog", |s| {
        s.contains("Confirm: delete-stack") && s.contains("Type e2e-bravo to confirm")
    });
    assert!(
        dialog
            .lines()
            .any(|l| l.contains("Stack ") && l.contains("e2e-bravo")),
        "{dialog}"
    );
    // Typing: the cursor shows in the text field.
    assert_eq!(tmux.format("#{cursor_flag}"), "1");

    tmux.type_text("e2e-bravo");
    tmux.wait_for("the typed name", |s| s.contains("> e2e-bravo"));
    tmux.keys(&["Enter"]);

    let screen = tmux.wait_for("the delete to finish and the list to refresh", |s| {
        inventory_rows(s, "e2e-") == ["e2e-alpha", "e2e-charlie"]
            && s.lines()
                .any(|l| l.contains("Delete stack e2e-bravo") && l.contains("done"))
    });
    assert!(!screen.contains("Confirm: delete-stack"), "{screen}");
    assert!(screen.contains("e2e-bravo deleted"), "{screen}");
    // The change stays selected in Jobs: its log is the one shown.
    let delete_row = screen
        .lines()
        .find(|l| l.contains("Delete stack e2e-bravo"))
        .expect("delete row");
    let job_id = delete_row
        .trim_start_matches('│')
        .split_whitespace()
        .next()
        .expect("job id column");
    assert!(
        screen.contains(&format!("log {job_id} ")),
        "the Jobs log does not show the delete job {job_id}:\n{screen}"
    );

    assert!(
        rt.block_on(support::stack_is_gone(&cfn, "e2e-bravo")),
        "moto still has e2e-bravo"
    );
    assert_eq!(
        rt.block_on(support::live_stack_names(&cfn)),
        ["e2e-alpha", "e2e-charlie"]
    );

    tmux.keys(&["q"]);
    assert_exited_cleanly(&tmux);

    assert_eq!(
        audit_decisions(&dirs.audit_log(), "e2e-bravo"),
        ["requested", "confirmed", "started", "succeeded"]
    );
    assert_chain_intact(&dirs.audit_log());
}

#[test]
fn read_only_console_refuses_a_delete() {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    rt.block_on(support::create_stacks(&cfn, &["ro-alpha", "ro-bravo"]));
    let dirs = TestDirs::new();
    let tmux = console("read-only", &dirs, &moto.endpoint(), &["--read-only"]);

    tmux.wait_for("the two stacks", |s| {
        inventory_rows(s, "ro-") == ["ro-alpha", "ro-bravo"]
    });

    tmux.keys(&["d"]);
    let screen = tmux.wait_for("the refusal", |s| s.contains("refused"));
    assert!(screen.contains("read-only"), "{screen}");
    assert!(!screen.contains("Confirm: delete-stack"), "{screen}");
    assert_eq!(inventory_rows(&screen, "ro-"), ["ro-alpha", "ro-bravo"]);
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "ro-alpha"))
            .as_deref(),
        Some("CREATE_COMPLETE")
    );

    tmux.keys(&["q"]);
    assert_exited_cleanly(&tmux);

    assert_eq!(
        audit_decisions(&dirs.audit_log(), "ro-alpha"),
        ["requested", "refused-read-only"]
    );
    assert_chain_intact(&dirs.audit_log());
}

/// Decisions recorded for one operation on one stack, in file order.
fn audit_of(path: &Path, operation: &str, stack: &str) -> Vec<String> {
    support::read_audit(path)
        .iter()
        .filter(|e| e["operation"] == operation && e["target"]["stack_name"] == stack)
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `n`, pick s3-bucket, fill the form (a refused stack name corrected), review the
/// parameters and compute the change set. Returns when the preview is on screen.
fn fill_the_s3_form_and_compute(tmux: &Tmux) -> String {
    tmux.keys(&["n"]);
    tmux.wait_for("the template picker", |s| {
        s.contains("Deploy: pick a template") && s.contains("s3-bucket")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the S3 form", |s| {
        s.contains("Deploy a new stack from library:s3-bucket") && s.contains("Stack name")
    });

    // A name CloudFormation would refuse: the form says why, next to the field.
    tmux.type_text("9web");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the stack-name error", |s| {
        s.contains("must start with a letter") && s.contains("need attention")
    });
    tmux.keys(&["BSpace", "BSpace", "BSpace", "BSpace"]);
    tmux.type_text("web-assets");
    // Sending again moves the focus to the next field that needs a value: Owner, then
    // CostCenter (both have no default).
    tmux.keys(&["C-s"]);
    tmux.wait_for("the Owner field to need a value", |s| {
        s.lines().any(|l| l.contains("▸ Owner"))
    });
    tmux.type_text("platform-team");
    tmux.keys(&["C-s"]);
    tmux.wait_for("the CostCenter field to need a value", |s| {
        s.lines().any(|l| l.contains("▸ Cost center"))
    });
    tmux.type_text("cc-42");
    tmux.keys(&["C-s"]);

    let review = tmux.wait_for("the parameter review", |s| {
        s.contains("Confirm: create-change-set") && s.contains("nothing changes until you execute")
    });
    assert!(
        review
            .lines()
            .any(|l| l.contains("Owner") && l.contains("platform-team")),
        "{review}"
    );
    assert!(review.contains("DEV"), "{review}");
    tmux.keys(&["y"]);

    tmux.wait_for("the change-set preview", |s| {
        s.contains("Review change set") && s.contains("AWS::S3::Bucket")
    })
}

#[test]
fn deploy_the_s3_template_through_the_form_and_watch_it_complete() {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let dirs = TestDirs::new();
    let tmux = console("deploy", &dirs, &moto.endpoint(), &["--env", "DEV"]);
    tmux.wait_for("the empty inventory", |s| s.contains("No stacks in"));

    let preview = fill_the_s3_form_and_compute(&tmux);
    assert!(preview.contains("(CREATE)"), "{preview}");
    assert!(preview.contains("Add 2"), "{preview}");
    // The review opened by itself: a single `y` does nothing; Tab to Execute, then Enter.
    tmux.keys(&["y"]);
    tmux.wait_for("the hint", |s| s.contains("Tab to Execute, then Enter"));
    tmux.keys(&["Tab", "Enter"]);

    let done = tmux.wait_for("the stack to be created and listed", |s| {
        s.contains("web-assets: CREATE_COMPLETE")
            && s.lines().any(|l| {
                l.contains("web-assets") && l.contains("CREATE_COMPLETE") && l.starts_with('│')
            })
    });
    assert!(!done.contains("Review change set"), "{done}");
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "web-assets"))
            .as_deref(),
        Some("CREATE_COMPLETE")
    );

    tmux.keys(&["q"]);
    assert_exited_cleanly(&tmux);
    let audit = dirs.audit_log();
    for operation in ["create-change-set", "execute-change-set"] {
        assert_eq!(
            audit_of(&audit, operation, "web-assets"),
            ["requested", "confirmed", "started", "succeeded"],
            "{operation}"
        );
    }
    assert_chain_intact(&audit);
}

#[test]
fn a_review_left_open_when_the_session_drops_is_discarded() {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let dirs = TestDirs::new();
    let tmux = console("drop", &dirs, &moto.endpoint(), &["--env", "DEV"]);
    tmux.wait_for("the empty inventory", |s| s.contains("No stacks in"));
    fill_the_s3_form_and_compute(&tmux);
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "web-assets"))
            .as_deref(),
        Some("REVIEW_IN_PROGRESS"),
        "the change set's empty stack exists while the review is open"
    );
    // The SSH session drops: tmux hangs up on the pane.
    assert!(tmux.run(&["kill-pane", "-t", "0"]).status.success());
    let deadline = std::time::Instant::now() + SCREEN_TIMEOUT;
    while !rt.block_on(support::stack_is_gone(&cfn, "web-assets")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the empty stack was left behind"
        );
        std::thread::sleep(POLL);
    }
    let deadline = std::time::Instant::now() + SCREEN_TIMEOUT;
    loop {
        let discarded = audit_of(&dirs.audit_log(), "discard-change-set", "web-assets");
        if discarded.last().map(String::as_str) == Some("succeeded") {
            assert_eq!(
                discarded,
                ["requested", "confirmed", "started", "succeeded"]
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{discarded:?}");
        std::thread::sleep(POLL);
    }
    assert_eq!(
        audit_of(&dirs.audit_log(), "execute-change-set", "web-assets"),
        ["requested", "cancelled"]
    );
}

#[test]
fn the_console_asks_sts_again_once_the_endpoint_is_up() {
    let moto = MotoServer::start();
    let port = support::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dirs = TestDirs::new();
    // Started while nothing listens at the endpoint: unreachable, not "no credentials".
    let tmux = console("sts-down", &dirs, &endpoint, &["--env", "DEV"]);
    let screen = tmux.wait_for("the unreachable endpoint in the status bar", |s| {
        status_bar(s).contains("AWS unreachable")
    });
    assert!(!screen.contains("no AWS credentials"), "{screen}");
    // The endpoint comes up; `r` asks STS at once, and the account shows.
    let _proxy = FaultProxy::start_on(port, &moto.endpoint());
    tmux.keys(&["r"]);
    let screen = tmux.wait_for("the account in the status bar", |s| {
        status_bar(s).contains(support::MOTO_ACCOUNT)
    });
    assert!(!status_bar(&screen).contains("AWS unreachable"), "{screen}");
}

/// The status bar: the line that starts with the product name.
fn status_bar(screen: &str) -> &str {
    screen
        .lines()
        .find(|l| l.starts_with(" opsdeck "))
        .unwrap_or_default()
}

#[test]
fn run_an_installer_from_the_console_form_targets_confirm_then_jobs() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let config = dirs.config_home().join("opsdeck");
    let folder = config.join("installers/hello");
    std::fs::create_dir_all(&folder).expect("installer folder");
    std::fs::write(
        config.join("config.toml"),
        "[targets]\nssh_config = \"/nonexistent/opsdeck-e2e/ssh_config\"\n\n[[targets.environment]]\nname = \"DEV\"\nhosts = [\"local\"]\n",
    )
    .expect("config");
    std::fs::write(
        folder.join("manifest.yml"),
        "id: hello\nname: Hello world\nversion: 0.1.0\ninstall_script: install.sh\ntimeout_seconds: 60\n\
         inputs:\n  - name: who\n    type: string\n    required: true\n  - name: token\n    type: password\n",
    )
    .expect("manifest");
    std::fs::write(
        folder.join("install.sh"),
        "echo \"hello, $WHO\"\necho \"token: $TOKEN\"\n",
    )
    .expect("script");
    let secret = "e2e-s3cret-token";
    let tmux = console("installer", &dirs, &moto.endpoint(), &[]);
    tmux.wait_for("the first frame", |s| s.contains("Inventory"));

    tmux.keys(&[":"]);
    tmux.type_text("installers");
    tmux.keys(&["Enter"]);
    let list = tmux.wait_for("the installers", |s| s.contains("Hello world 0.1.0"));
    assert!(list.contains("debian 11+, ubuntu 20.04+"), "{list}");
    tmux.keys(&["G", "Enter"]);
    tmux.wait_for("the form", |s| {
        s.contains("Install Hello world 0.1.0 (hello)")
    });
    tmux.type_text("operators");
    tmux.keys(&["Tab"]);
    tmux.type_text(secret);
    tmux.wait_for("the masked token", |s| s.contains("••••••••"));
    tmux.keys(&["C-s"]);
    tmux.wait_for("the target picker", |s| {
        s.contains("Where should hello 0.1.0 run?")
    });
    tmux.keys(&["Space", "Enter"]);
    let dialog = tmux.wait_for("the confirmation", |s| s.contains("Confirm: run-installer"));
    assert!(dialog.contains("local"), "{dialog}");
    assert!(
        dialog.contains("token") && dialog.contains("****"),
        "{dialog}"
    );
    assert!(!dialog.contains(secret), "{dialog}");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the run to finish in Jobs", |s| {
        s.lines()
            .any(|l| l.contains("hello 0.1.0 on local") && l.contains("done"))
            && s.lines()
                .any(|l| l.contains("Run installer hello") && l.contains("done"))
    });
    assert!(!screen.contains(secret), "{screen}");
    tmux.keys(&["q"]);
    assert_exited_cleanly(&tmux);

    let entries = support::read_audit(&dirs.audit_log());
    let decisions: Vec<&str> = entries
        .iter()
        .filter(|e| e["operation"] == "run-installer")
        .map(|e| e["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        decisions,
        ["requested", "confirmed", "started", "succeeded"]
    );
    assert_chain_intact(&dirs.audit_log());
    let logs = std::fs::read_dir(dirs.job_logs_dir()).expect("job logs");
    let mut said_hello = false;
    for log in logs.flatten() {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        assert!(!text.contains(secret), "{}", log.path().display());
        said_hello |= text.contains("hello, operators") && text.contains("token: ****");
    }
    assert!(
        said_hello,
        "the target's job log holds the script's output, masked"
    );
}

/// A console whose assistant is the loopback Bedrock `stub`, with AWS at moto.
fn assistant_console(
    name: &str,
    dirs: &TestDirs,
    moto: &MotoServer,
    stub: &BedrockStub,
    extra_args: &[&str],
) -> Tmux {
    let config = dirs.paths().config_file;
    std::fs::create_dir_all(config.parent().expect("config dir")).expect("config dir");
    std::fs::write(
        &config,
        format!("[assistant]\nmodel_id = \"{ASSISTANT_MODEL}\"\n"),
    )
    .expect("config");
    console_with_env(
        name,
        dirs,
        &moto.endpoint(),
        extra_args,
        &[("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stub.url.as_str())],
    )
}

const ASSISTANT_MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/// Everything decided about `stack`, in file order, with each entry's detail.
fn audit_with_detail(path: &Path, stack: &str) -> Vec<(String, String)> {
    support::read_audit(path)
        .iter()
        .filter(|e| e["target"]["stack_name"] == stack)
        .map(|e| {
            (
                e["decision"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_assistants_delete_proposal_opens_the_dialog_esc_keeps_the_stack_and_the_typed_name_deletes_it()
 {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    rt.block_on(support::create_stacks(&cfn, &["logs-bucket"]));
    let (stub, _stub_rt) = BedrockStub::start_blocking(vec![
        Reply::tool(
            "I can propose that.",
            "tu_1",
            "delete-stack",
            serde_json::json!({"stack": "logs-bucket"}),
        ),
        Reply::text(&["Kept: you cancelled it."]),
        Reply::tool(
            "Proposing it again.",
            "tu_2",
            "delete-stack",
            serde_json::json!({"stack": "logs-bucket"}),
        ),
        Reply::text(&["It is being deleted."]),
    ]);
    let dirs = TestDirs::new();
    let tmux = assistant_console("assistant", &dirs, &moto, &stub, &[]);
    tmux.wait_for("the stack and the model in the Chat title", |s| {
        inventory_rows(s, "logs-") == ["logs-bucket"] && s.contains("claude-sonnet-4-5")
    });

    tmux.keys(&["1"]);
    tmux.type_text("please delete logs-bucket");
    tmux.keys(&["Enter"]);
    let dialog = tmux.wait_for("the dialog the proposal opens", |s| {
        s.contains("Confirm: delete-stack") && s.contains("Type logs-bucket to confirm")
    });
    assert!(dialog.contains("I can propose that."), "{dialog}");

    tmux.keys(&["Escape"]);
    tmux.wait_for("the model hearing it was cancelled", |s| {
        s.contains("Kept: you cancelled it.") && !s.contains("Confirm: delete-stack")
    });
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "logs-bucket"))
            .as_deref(),
        Some("CREATE_COMPLETE"),
        "Esc kept the stack"
    );

    tmux.type_text("delete it for real");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the dialog again", |s| {
        s.contains("Confirm: delete-stack") && s.contains("Type logs-bucket to confirm")
    });
    tmux.type_text("logs-bucket");
    tmux.wait_for("the typed name", |s| s.contains("> logs-bucket"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the delete to finish and the model's last words", |s| {
        s.lines()
            .any(|l| l.contains("Delete stack logs-bucket") && l.contains("done"))
            && s.contains("It is being deleted.")
    });
    assert!(
        rt.block_on(support::stack_is_gone(&cfn, "logs-bucket")),
        "the typed name deleted it"
    );

    let requests = stub.requests();
    assert_eq!(requests.len(), 4);
    let told = |i: usize| {
        requests[i]
            .tool_results()
            .last()
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    assert!(told(1).contains("the operator cancelled"), "{}", told(1));
    assert!(told(3).contains("the operator confirmed"), "{}", told(3));

    tmux.keys(&["q"]);
    assert_exited_cleanly(&tmux);
    let trail = audit_with_detail(&dirs.audit_log(), "logs-bucket");
    let decisions: Vec<&str> = trail.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        decisions,
        [
            "requested",
            "cancelled",
            "requested",
            "confirmed",
            "started",
            "succeeded"
        ]
    );
    assert_eq!(
        trail[0].1,
        format!("proposed by the assistant ({ASSISTANT_MODEL})")
    );
    assert_chain_intact(&dirs.audit_log());
}

#[test]
fn read_only_refuses_the_assistants_proposal_without_a_dialog() {
    let rt = support::runtime();
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    rt.block_on(support::create_stacks(&cfn, &["ro-logs"]));
    let (stub, _stub_rt) = BedrockStub::start_blocking(vec![
        Reply::tool(
            "",
            "tu_1",
            "delete-stack",
            serde_json::json!({"stack": "ro-logs"}),
        ),
        Reply::text(&["Refused, as it should be."]),
    ]);
    let dirs = TestDirs::new();
    let tmux = assistant_console("assistant-ro", &dirs, &moto, &stub, &["--read-only"]);
    tmux.wait_for("the stack", |s| inventory_rows(s, "ro-") == ["ro-logs"]);
    tmux.keys(&["1"]);
    tmux.type_text("delete ro-logs");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the refusal told to the model", |s| {
        s.contains("Refused, as it should be.")
    });
    assert!(!screen.contains("Confirm: delete-stack"), "{screen}");
    assert!(screen.contains("refused"), "{screen}");
    let told = stub.requests()[1]
        .tool_results()
        .last()
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    assert!(told.starts_with("refused: read-only mode"), "{told}");
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "ro-logs"))
            .as_deref(),
        Some("CREATE_COMPLETE")
    );
    tmux.keys(&["Tab", "q"]);
    assert_exited_cleanly(&tmux);
    assert_eq!(
        audit_decisions(&dirs.audit_log(), "ro-logs"),
        ["requested", "refused-read-only"]
    );
}
