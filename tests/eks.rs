//! EKS: clusters and node groups from moto (ListClusters, DescribeCluster, ListNodegroups),
//! `opsdeck eks kubeconfig` writing a context that runs `opsdeck eks token`, and the token
//! itself, whose SigV4 signature is recomputed here from the access key's secret.

mod support;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use opsdeck::kube::model::EksCluster;
use opsdeck::kube::ops::KubeRead;
use opsdeck::kube::port::KubeOutput;
use opsdeck::ops::ReadOp;
use sha2::{Digest, Sha256};
use std::process::{Command, Output};
use std::time::{Duration, UNIX_EPOCH};
use support::{MotoServer, TestDirs, hermetic_aws_env};

fn eks_client(endpoint: &str) -> aws_sdk_eks::Client {
    hermetic_aws_env();
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(support::REGION))
        .credentials_provider(aws_sdk_eks::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

/// Two clusters in moto; the first with a node group.
async fn clusters(eks: &aws_sdk_eks::Client) {
    for name in ["dev-eu", "prod-api"] {
        eks.create_cluster()
            .name(name)
            .version("1.33")
            .role_arn("arn:aws:iam::123456789012:role/eks")
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-1")
                    .subnet_ids("subnet-2")
                    .build(),
            )
            .send()
            .await
            .expect("create cluster");
    }
    eks.create_nodegroup()
        .cluster_name("dev-eu")
        .nodegroup_name("general")
        .node_role("arn:aws:iam::123456789012:role/node")
        .subnets("subnet-1")
        .instance_types("m6i.large")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(2)
                .max_size(6)
                .desired_size(3)
                .build(),
        )
        .send()
        .await
        .expect("create node group");
}

#[test]
fn eks_clusters_are_listed_with_version_status_endpoint_and_node_groups() {
    let moto = MotoServer::start();
    let rt = support::runtime();
    rt.block_on(clusters(&eks_client(&moto.endpoint())));
    let dirs = TestDirs::new();
    let (_, result) = rt.block_on(async {
        let mut rig = support::rig::Rig::start(&moto.endpoint(), &dirs);
        rig.read(ReadOp::Kube(KubeRead::ListEksClusters {
            scope: support::rig::scope(),
        }))
        .await
    });
    let Ok(opsdeck::engine::ReadOutput::Kube(KubeOutput::EksClusters(mut found))) = result else {
        panic!("{result:?}");
    };
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["dev-eu", "prod-api"]);
    let dev: &EksCluster = &found[0];
    assert_eq!(dev.version, "1.33");
    assert!(dev.arn.ends_with(":cluster/dev-eu"), "{}", dev.arn);
    assert!(
        !dev.status.is_empty() && !dev.endpoint.is_empty(),
        "{dev:?}"
    );
    assert_eq!(dev.nodegroups.len(), 1, "{dev:?}");
    let group = &dev.nodegroups[0];
    assert_eq!(group.name, "general");
    assert_eq!(group.instance_types, ["m6i.large"]);
    assert_eq!(
        (group.min, group.desired, group.max),
        (Some(2), Some(3), Some(6))
    );
    assert!(found[1].nodegroups.is_empty());
}

fn opsdeck(dirs: &TestDirs, endpoint: Option<&str>, args: &[&str]) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .env_remove("KUBECONFIG")
        .env("OPSDECK_LOG", "warn");
    if let Some(endpoint) = endpoint {
        command.args(["--endpoint-url", endpoint]);
    }
    command.output().expect("run opsdeck")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn eks_kubeconfig_writes_a_context_whose_token_comes_from_opsdeck() {
    let moto = MotoServer::start();
    let rt = support::runtime();
    rt.block_on(clusters(&eks_client(&moto.endpoint())));
    let dirs = TestDirs::new();
    // Someone else's context is kept.
    let kube_dir = dirs.home().join(".kube");
    std::fs::create_dir_all(&kube_dir).unwrap();
    std::fs::write(
        kube_dir.join("config"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kind\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: kind-dev\n  context:\n    cluster: kind\n    user: kind\nusers:\n- name: kind\n  user:\n    token: keep-me\ncurrent-context: kind-dev\n",
    )
    .unwrap();
    let out = opsdeck(
        &dirs,
        Some(&moto.endpoint()),
        &["eks", "kubeconfig", "--cluster", "dev-eu"],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let config = std::fs::read_to_string(kube_dir.join("config")).unwrap();
    assert!(
        config.contains("keep-me") && config.contains("kind-dev"),
        "{config}"
    );
    assert!(config.contains("current-context: arn:aws:eks:"), "{config}");
    assert!(config.contains(env!("CARGO_BIN_EXE_opsdeck")), "{config}");
    assert!(config.contains("interactiveMode: Never"), "{config}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(kube_dir.join("config"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // What kubectl would find: the context's user runs opsdeck for an EKS token.
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&config).expect("a kubeconfig");
    let view =
        opsdeck::kube::provider::kubeconfig::view(&opsdeck::kube::provider::kubeconfig::Loaded {
            files: vec![],
            config: kubeconfig,
        });
    let context = view
        .context(view.current.as_deref().unwrap())
        .expect("current context");
    let eks = context
        .eks
        .as_ref()
        .expect("opsdeck signs this context's token");
    assert_eq!(eks.cluster, "dev-eu");
    assert_eq!(eks.region.as_deref(), Some(support::REGION));
    // Again: replaced in place, not duplicated.
    let out = opsdeck(
        &dirs,
        Some(&moto.endpoint()),
        &["eks", "kubeconfig", "--cluster", "dev-eu"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = std::fs::read_to_string(kube_dir.join("config")).unwrap();
    assert_eq!(again.matches("name: arn:aws:eks:").count(), 3, "{again}");
    // A cluster moto does not have: a sentence, exit 1, nothing written.
    let out = opsdeck(
        &dirs,
        Some(&moto.endpoint()),
        &["eks", "kubeconfig", "--cluster", "nope"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot describe EKS cluster nope"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(kube_dir.join("config")).unwrap(),
        again
    );
}

#[test]
fn eks_token_prints_only_an_exec_credential() {
    let dirs = TestDirs::new();
    let out = opsdeck(
        &dirs,
        None,
        &[
            "eks",
            "token",
            "--cluster",
            "dev-eu",
            "--region",
            "eu-west-1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let credential: serde_json::Value = serde_json::from_str(&stdout).expect("only JSON on stdout");
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    let token = credential["status"]["token"].as_str().expect("a token");
    let url = decode(token);
    assert!(
        url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Credential=testing%2F"), "{url}");
    // kubectl asking for v1 gets v1.
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    let out = command
        .args(["eks", "token", "--cluster", "dev-eu", "--region", "eu-west-1"])
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        )
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1");
}

fn decode(token: &str) -> String {
    let body = token
        .strip_prefix("k8s-aws-v1.")
        .expect("the EKS token prefix");
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .expect("base64url without padding"),
    )
    .expect("UTF-8")
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// AWS's URI encoding: unreserved characters as they are, every other byte `%XX`.
fn aws_encode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Recompute the presigned URL's SigV4 signature from the secret key, as STS will.
fn check_signature(token: &str, secret: &str, region: &str, cluster: &str) {
    let url = decode(token);
    let (base, query) = url.split_once('?').expect("a query");
    assert_eq!(base, format!("https://sts.{region}.amazonaws.com/"));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').expect("k=v");
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let signature = pairs
        .iter()
        .position(|(k, _)| k == "X-Amz-Signature")
        .map(|i| pairs.remove(i).1)
        .expect("a signature");
    let allowed = [
        "Action",
        "Version",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
    ];
    assert!(
        pairs.iter().all(|(k, _)| allowed.contains(&k.as_str())),
        "{pairs:?}"
    );
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("X-Amz-Expires").as_deref(), Some("60"));
    assert_eq!(
        get("X-Amz-SignedHeaders").as_deref(),
        Some("host;x-k8s-aws-id")
    );
    let date = get("X-Amz-Date").expect("a date");
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", aws_encode(k), aws_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_request = format!(
        "GET\n/\n{canonical_query}\nhost:sts.{region}.amazonaws.com\nx-k8s-aws-id:{cluster}\n\nhost;x-k8s-aws-id\n{}",
        hex::encode(Sha256::digest(b""))
    );
    let scope = format!("{}/{region}/sts/aws4_request", &date[..8]);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = hmac(format!("AWS4{secret}").as_bytes(), &date[..8]);
    let key = hmac(&key, region);
    let key = hmac(&key, "sts");
    let key = hmac(&key, "aws4_request");
    assert_eq!(
        hex::encode(hmac(&key, &string_to_sign)),
        signature,
        "the signature STS would compute"
    );
}

#[test]
fn the_token_signature_is_what_sts_computes_with_and_without_a_session_token() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for session in [None, Some("FwoGZXIvYXdzEJr//session+token=")] {
        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session.map(str::to_string),
            None,
            "test",
        );
        let token = opsdeck::kube::provider::token::eks_token(&creds, "eu-west-1", "dev-eu", now)
            .expect("signs");
        assert!(token.len() <= 4096);
        check_signature(
            &token,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "eu-west-1",
            "dev-eu",
        );
        let url = decode(&token);
        assert_eq!(
            url.contains("X-Amz-Security-Token="),
            session.is_some(),
            "{url}"
        );
        // Signed for this cluster only: another cluster's name breaks it.
        let other = std::panic::catch_unwind(|| {
            check_signature(
                &token,
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "eu-west-1",
                "prod",
            )
        });
        assert!(
            other.is_err(),
            "a token must not verify for another cluster"
        );
    }
}
