use super::*;
use std::os::unix::fs::PermissionsExt;

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        actor: Actor {
            os_user: "alice".into(),
            principal: Some("arn:aws:iam::123456789012:role/ops".into()),
        },
        operation: "delete-stack".into(),
        target: serde_json::json!({
            "account": "123456789012",
            "region": "eu-west-1",
            "stack": format!("web-{n}"),
        }),
        environment: "PRD".into(),
        decision: Decision::Requested,
        request_id: Some(n as u64),
        detail: Some(format!("detail number {n}")),
    }
}

fn log_with(n: usize) -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(dir.path().join("audit.jsonl")).expect("open");
    for i in 1..=n {
        log.append(&record(i)).expect("append");
    }
    (dir, log)
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("write");
}

fn broken_at(report: VerifyReport) -> (u64, String) {
    match report {
        VerifyReport::Broken { line, reason } => (line, reason),
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[test]
fn append_three_then_verify_ok_and_mode_0600() {
    let (_dir, log) = log_with(3);
    assert_eq!(
        verify(log.path()).expect("verify"),
        VerifyReport::Ok { entries: 3 }
    );
    let mode = std::fs::metadata(log.path())
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn line_format_is_exact() {
    let (_dir, log) = log_with(2);
    let lines = read_lines(log.path());
    assert_eq!(lines.len(), 2);
    let mut prev = GENESIS_HASH.to_owned();
    for (i, line) in lines.iter().enumerate() {
        let at = line.rfind(",\"hash\":\"").expect("hash field");
        let body = &line[..at];
        assert!(
            body.starts_with(&format!("{{\"seq\":{},\"ts\":\"", i + 1)),
            "{body}"
        );
        assert!(
            body.contains(&format!(",\"prev\":\"{prev}\",\"actor\":{{")),
            "{body}"
        );
        let hash = format::sha256_hex(body.as_bytes());
        assert_eq!(&line[at..], format!(",\"hash\":\"{hash}\"}}"));
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let ts = v["ts"].as_str().expect("ts");
        assert!(
            ts.ends_with('Z') && ts.len() == "2024-01-01T00:00:00.000Z".len(),
            "{ts}"
        );
        humantime::parse_rfc3339(ts).expect("RFC 3339");
        assert_eq!(v["decision"], "requested");
        assert_eq!(v["environment"], "PRD");
        assert_eq!(v["request_id"], (i + 1) as u64);
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 11);
        prev = hash;
    }
    assert!(std::fs::read(log.path()).expect("read").ends_with(b"}\n"));
}

#[test]
fn decision_names_are_kebab_case() {
    let v = serde_json::to_value(Decision::RefusedReadOnly).expect("ser");
    assert_eq!(v, "refused-read-only");
    let back: Decision = serde_json::from_str("\"refused-role\"").expect("de");
    assert_eq!(back, Decision::RefusedRole);
}

#[test]
fn one_byte_changed_in_middle_line_is_hash_mismatch_at_line_2() {
    let (_dir, log) = log_with(3);
    let mut lines = read_lines(log.path());
    assert!(lines[1].contains("detail number 2"));
    lines[1] = lines[1].replacen("detail number 2", "detail number 9", 1);
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
    assert!(reason.contains("hash mismatch"), "{reason}");
}

#[test]
fn one_byte_changed_in_line_1_hash_is_reported_at_line_1() {
    let (_dir, log) = log_with(3);
    let mut bytes = std::fs::read(log.path()).expect("read");
    let first_nl = bytes.iter().position(|&b| b == b'\n').expect("newline");
    // Last hex digit of line 1's hash sits just before `"}` + newline.
    let i = first_nl - 3;
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    std::fs::write(log.path(), &bytes).expect("write");
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 1);
    assert!(reason.contains("hash mismatch"), "{reason}");
}

#[test]
fn non_hex_hash_is_malformed() {
    let (_dir, log) = log_with(2);
    let mut lines = read_lines(log.path());
    let n = lines[1].len();
    lines[1].replace_range(n - 3..n - 2, "Z");
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
    assert!(reason.contains("malformed"), "{reason}");
}

#[test]
fn deleted_middle_line_breaks_the_chain_at_that_position() {
    let (_dir, log) = log_with(3);
    let mut lines = read_lines(log.path());
    lines.remove(1);
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
    assert!(
        reason.contains("prev does not match line 1's hash"),
        "{reason}"
    );
}

#[test]
fn reordered_lines_break_the_chain() {
    let (_dir, log) = log_with(3);
    let mut lines = read_lines(log.path());
    lines.swap(1, 2);
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
    assert!(reason.contains("prev"), "{reason}");
}

#[test]
fn deleted_first_line_is_reported_at_line_1() {
    let (_dir, log) = log_with(3);
    let mut lines = read_lines(log.path());
    lines.remove(0);
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 1);
    assert!(reason.contains("genesis"), "{reason}");
}

#[test]
fn empty_line_in_the_middle_is_broken() {
    let (_dir, log) = log_with(3);
    let mut lines = read_lines(log.path());
    lines.insert(2, String::new());
    write_lines(log.path(), &lines);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 3);
    assert!(reason.contains("empty line"), "{reason}");
}

#[test]
fn valid_json_with_bad_seq_is_reported() {
    // A line with a correct hash but a wrong seq (e.g. a buggy writer).
    let (_dir, log) = log_with(1);
    let lines = read_lines(log.path());
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    let hash = v["hash"].as_str().expect("hash").to_owned();
    let body = format!(
        "{{\"seq\":5,\"ts\":\"2024-01-01T00:00:00.000Z\",\"prev\":\"{hash}\",\"operation\":\"x\""
    );
    let forged = String::from_utf8(format::finish_line(body.as_bytes())).expect("utf8");
    let mut text = std::fs::read_to_string(log.path()).expect("read");
    text.push_str(&forged);
    std::fs::write(log.path(), text).expect("write");
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
    assert!(reason.contains("seq is 5, expected 2"), "{reason}");
}

#[test]
fn empty_file_is_ok_with_zero_entries_and_missing_file_is_err() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(dir.path().join("a/b/audit.jsonl")).expect("open creates dirs");
    assert_eq!(std::fs::metadata(log.path()).expect("stat").len(), 0);
    assert_eq!(
        verify(log.path()).expect("verify"),
        VerifyReport::Ok { entries: 0 }
    );
    let err = verify(&dir.path().join("missing.jsonl")).expect_err("missing file");
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}

#[test]
fn verifying_a_fifo_or_a_device_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("audit.jsonl");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let err = crate::files::bounded(move || verify(&fifo)).expect_err("a FIFO");
    assert!(err.to_string().contains("a FIFO (named pipe)"), "{err}");
    let err = verify(Path::new("/dev/zero")).expect_err("a device");
    assert!(err.to_string().contains("a character device"), "{err}");
}

#[test]
fn an_existing_loose_log_and_its_directory_are_tightened_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = data.join("audit.jsonl");
    std::fs::write(&path, "").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    AuditLog::open(&path).expect("open");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn two_handles_and_many_threads_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let a = AuditLog::open(&path).expect("open a");
    let b = AuditLog::open(&path).expect("open b");
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = if t % 2 == 0 { &a } else { &b };
            s.spawn(move || {
                for i in 0..50 {
                    log.append(&record(t * 100 + i)).expect("append");
                }
            });
        }
    });
    assert_eq!(
        verify(&path).expect("verify"),
        VerifyReport::Ok { entries: 200 }
    );
}

#[test]
fn memory_audit_records_and_fails_on_demand() {
    let mem = MemoryAudit::default();
    mem.append(&record(1)).expect("append");
    mem.set_failing(true);
    let err = mem.append(&record(2)).expect_err("failing");
    assert!(matches!(err, AuditError::MemoryFailing));
    mem.set_failing(false);
    mem.append(&record(3)).expect("append");
    assert_eq!(mem.records(), vec![record(1), record(3)]);

    // Usable behind Arc<dyn AuditSink> as well.
    let shared: std::sync::Arc<dyn AuditSink> = std::sync::Arc::new(MemoryAudit::default());
    shared.append(&record(4)).expect("append via Arc");
}

#[test]
fn reopened_log_continues_the_chain() {
    let (dir, log) = log_with(2);
    let path = log.path().to_owned();
    drop(log);
    let log = AuditLog::open(&path).expect("reopen");
    log.append(&record(3)).expect("append");
    assert_eq!(
        verify(&path).expect("verify"),
        VerifyReport::Ok { entries: 3 }
    );
    let lines = read_lines(&path);
    assert!(lines[2].starts_with("{\"seq\":3,"));
    drop(dir);
}

#[test]
fn torn_last_line_still_records_and_verify_points_at_it() {
    let (_dir, log) = log_with(2);
    let mut text = std::fs::read_to_string(log.path()).expect("read");
    text.push_str("{\"seq\":3,\"ts\":\"2024-01-"); // a write cut short, no newline
    std::fs::write(log.path(), text).expect("write");
    log.append(&record(4)).expect("append after torn line");
    let lines = read_lines(log.path());
    assert_eq!(lines.len(), 4);
    assert!(lines[2].starts_with("{\"seq\":3,\"ts\":\"2024-01-"));
    assert!(lines[3].starts_with("{\"seq\":4,"), "{}", lines[3]);
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 3);
    assert!(reason.contains("malformed"), "{reason}");
}

#[test]
fn modified_last_line_is_still_chained_off_its_hash_text() {
    let (_dir, log) = log_with(2);
    let mut lines = read_lines(log.path());
    let stored_hash = lines[1][lines[1].len() - 66..lines[1].len() - 2].to_owned();
    lines[1] = lines[1].replacen("detail number 2", "detail number X", 1);
    write_lines(log.path(), &lines);
    log.append(&record(3)).expect("append");
    let lines = read_lines(log.path());
    assert!(lines[2].contains(&format!("\"prev\":\"{stored_hash}\"")));
    assert!(lines[2].starts_with("{\"seq\":3,"));
    let (line, _) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!(line, 2);
}

#[test]
fn trailing_blank_lines_are_skipped_when_chaining() {
    let (_dir, log) = log_with(1);
    let mut text = std::fs::read_to_string(log.path()).expect("read");
    text.push('\n');
    std::fs::write(log.path(), text).expect("write");
    log.append(&record(2)).expect("append");
    let lines = read_lines(log.path());
    assert!(lines[2].starts_with("{\"seq\":2,"));
    let (line, reason) = broken_at(verify(log.path()).expect("verify"));
    assert_eq!((line, reason.as_str()), (2, "empty line"));
}

#[test]
fn last_line_without_newline_still_verifies() {
    let (_dir, log) = log_with(2);
    let mut bytes = std::fs::read(log.path()).expect("read");
    assert_eq!(bytes.pop(), Some(b'\n'));
    std::fs::write(log.path(), &bytes).expect("write");
    assert_eq!(
        verify(log.path()).expect("verify"),
        VerifyReport::Ok { entries: 2 }
    );
    // The next append terminates the line first, so the chain stays intact.
    log.append(&record(3)).expect("append");
    assert_eq!(
        verify(log.path()).expect("verify"),
        VerifyReport::Ok { entries: 3 }
    );
}

#[test]
fn oversized_record_is_refused_without_writing() {
    let (_dir, log) = log_with(1);
    let before = std::fs::read(log.path()).expect("read");
    let mut big = record(2);
    big.detail = Some("x".repeat(MAX_LINE_BYTES));
    let err = log.append(&big).expect_err("too large");
    assert!(matches!(err, AuditError::TooLarge { .. }), "{err}");
    assert_eq!(std::fs::read(log.path()).expect("read"), before);
}

#[test]
fn garbage_without_newlines_is_bounded_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, vec![b'a'; MAX_LINE_BYTES + 10]).expect("write");
    let (line, reason) = broken_at(verify(&path).expect("verify"));
    assert_eq!(line, 1);
    assert!(reason.contains("longer than"), "{reason}");
    let log = AuditLog::open(&path).expect("open");
    log.append(&record(1)).expect("append still records");
    let text = std::fs::read(&path).expect("read");
    let tail = &text[MAX_LINE_BYTES + 10..];
    assert!(tail.starts_with(b"\n{\"seq\":1,"));
}

#[test]
fn error_messages_name_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").expect("write");
    let err = AuditLog::open(blocker.join("audit.jsonl")).expect_err("parent is a file");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
