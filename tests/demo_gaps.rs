//! The demo's loopback proxy (`scripts/cfn_gaps.py`) in front of moto: drift detection and
//! termination protection through the same provider code the console uses, so the README's
//! walk-through works as written.

mod support;

use aws_sdk_cloudformation::types::Parameter;
use opsdeck::cfn::ops::{CfnMutation, CfnRead};
use opsdeck::cfn::port::CfnOutput;
use opsdeck::engine::ReadOutput;
use opsdeck::ops::{DeleteStack, MutatingOp, ReadOp, SetTerminationProtection};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::rig::{Rig, scope, target};
use support::{MOTO_ACCOUNT, MotoServer, TestDirs};

/// The proxy on a free 127.0.0.1 port; killed and reaped when dropped.
struct GapsProxy {
    child: Child,
    port: u16,
}

impl GapsProxy {
    fn start(moto: &MotoServer) -> GapsProxy {
        let python = support::moto_server_bin().with_file_name("python");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cfn_gaps.py");
        let port = support::free_port();
        let child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(moto.endpoint())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scripts/cfn_gaps.py with the venv's python");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "cfn_gaps.py did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        GapsProxy { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for GapsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_termination_protection_work_through_the_demo_proxy() {
    let moto = MotoServer::start();
    let proxy = GapsProxy::start(&moto);
    let cfn = moto.cfn();
    let body = include_str!("../templates/s3-bucket.yaml");
    let param = |k: &str, v: &str| {
        Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    let id = cfn
        .create_stack()
        .stack_name("assets")
        .template_body(body)
        .parameters(param("Owner", "web"))
        .parameters(param("CostCenter", "cc-1"))
        .send()
        .await
        .expect("CreateStack")
        .stack_id()
        .expect("stack id")
        .to_string();
    let dirs = TestDirs::new();
    let mut rig = Rig::start(&proxy.endpoint(), &dirs);

    // moto creates buckets without applying VersioningConfiguration: a real drift.
    let (_, result) = rig
        .read(ReadOp::Cfn(CfnRead::DetectDrift {
            scope: scope(),
            stack_id: id.clone(),
            stack_name: "assets".into(),
        }))
        .await;
    let Ok(ReadOutput::Cfn(CfnOutput::Drift(drift))) = result else {
        panic!("drift detection failed: {result:?}");
    };
    assert_eq!(drift.status, "DRIFTED");
    let bucket = drift.drifted().next().expect("the bucket drifted");
    assert_eq!(bucket.resource_type, "AWS::S3::Bucket");
    assert_eq!(
        bucket.differences[0].path,
        "/VersioningConfiguration/Status"
    );
    assert_eq!(bucket.differences[0].expected, "Enabled");

    let protect = |enabled| {
        MutatingOp::Cfn(CfnMutation::SetTerminationProtection(
            SetTerminationProtection {
                target: target(MOTO_ACCOUNT, "assets", &id),
                enabled,
            },
        ))
    };
    let delete = || {
        MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
            target: target(MOTO_ACCOUNT, "assets", &id),
            retained: vec![],
        }))
    };
    let (_, result) = rig.run(protect(true)).await;
    assert!(result.is_ok(), "{result:?}");
    let (_, result) = rig.run(delete()).await;
    let error = result.expect_err("a protected stack is not deleted");
    assert!(error.contains("termination protection is on"), "{error}");
    assert!(!support::stack_is_gone(&cfn, "assets").await);

    let (_, result) = rig.run(protect(false)).await;
    assert!(result.is_ok(), "{result:?}");
    let (_, result) = rig.run(delete()).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(support::stack_is_gone(&cfn, "assets").await);
}
