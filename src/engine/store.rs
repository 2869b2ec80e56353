//! The job store: every job (and where its log is) persists in SQLite in the data dir,
//! so after a restart the Jobs pane shows past jobs, and a job that was running when its
//! process died shows as interrupted.
//!
//! Several opsdeck processes may share one data dir: each row records the owning
//! process (`owner_pid`, plus a per-process token so that a later process that happens
//! to get the same pid doesn't mistake a dead process's jobs for its own).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::model::{JobId, JobKind, JobRecord, JobState, now_ms};

/// `PRAGMA user_version` after all of [`MIGRATIONS`] ran.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT    NOT NULL,
        operation   TEXT    NOT NULL,
        title       TEXT    NOT NULL,
        target      TEXT,
        state       TEXT    NOT NULL,
        created_ms  INTEGER NOT NULL,
        started_ms  INTEGER,
        finished_ms INTEGER,
        progress    REAL,
        error       TEXT,
        log_path    TEXT,
        owner_pid   INTEGER NOT NULL,
        owner_token TEXT    NOT NULL
    );
    CREATE INDEX jobs_created_ms ON jobs (created_ms);
    CREATE INDEX jobs_state ON jobs (state);
",
    "
    ALTER TABLE jobs ADD COLUMN origin TEXT;
",
    "
    ALTER TABLE jobs ADD COLUMN parent INTEGER;
",
    // Capability records: small JSON documents a capability keeps beside the jobs (the
    // assistant's conversation and token usage), by kind, oldest first.
    "
    CREATE TABLE records (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT    NOT NULL,
        created_ms  INTEGER NOT NULL,
        body        TEXT    NOT NULL
    );
    CREATE INDEX records_kind ON records (kind, created_ms);
",
];

const COLUMNS: &str = "id, kind, operation, title, target, state, created_ms, started_ms, \
                       finished_ms, progress, error, log_path, parent";

/// Error text of a job whose process died while it was queued or running.
pub const DIED_ERROR: &str = "the opsdeck process ended while this job was running";
/// Error text of a job still queued or running when this process shut down.
pub const SHUTDOWN_ERROR: &str = "opsdeck shut down while this job was running";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job store {}: cannot create it or its directory privately: {source}", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("job store {}: {source}", .path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "job store {}: schema version {found} is newer than this opsdeck understands ({supported}); upgrade opsdeck",
        .path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("job store {}: job {id} has an unknown {field} {value:?}", .path.display())]
    Corrupt {
        path: PathBuf,
        id: JobId,
        field: &'static str,
        value: String,
    },
    #[error("job store {}: no job {id}", .path.display())]
    NotFound { path: PathBuf, id: JobId },
    #[error("job store {}: job {id} cannot finish as {state:?}, which is not a final state", .path.display())]
    NotFinal {
        path: PathBuf,
        id: JobId,
        state: JobState,
    },
}

/// What the scheduler knows about a job before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    pub operation: String,
    pub title: String,
    pub target: Option<String>,
    pub log_path: Option<String>,
    /// For a change: who asked and where, for the audit entry if the process dies.
    pub origin: Option<ChangeOrigin>,
    /// The job this one is a part of (one target of an installer run).
    pub parent: Option<JobId>,
}

/// Who asked for a change, in which environment, about what: stored with the job when the
/// change is submitted, so that a later process finding it interrupted (after a crash or
/// `kill -9`) records the `interrupted` audit entry with the same actor, environment, request
/// id and target as the `started` entry it closes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeOrigin {
    pub actor: crate::audit::Actor,
    /// `DEV`, `TST`, `PRD` or `UNMAPPED`, as in the audit log.
    pub environment: String,
    pub request_id: u64,
    /// The audit entries' `target`: the resolved target as JSON (secrets already `****`).
    pub target: serde_json::Value,
}

/// A job [`JobStore::recover_interrupted`] found orphaned and marked interrupted.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredJob {
    pub record: JobRecord,
    /// Recorded for changes; `None` for reads and for rows an older version wrote.
    pub origin: Option<ChangeOrigin>,
}

pub struct JobStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Identifies this process among all that ever had its pid: `<pid>:<start ms>`.
fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| format!("{}:{}", std::process::id(), now_ms()))
}

fn own_pid() -> i64 {
    i64::from(std::process::id())
}

/// Whether a process with this pid exists. A pid that can't be a process counts as dead;
/// EPERM means it exists but belongs to someone else.
fn pid_alive(pid: i64) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        // kill(0 or negative) would address process groups, not one process.
        return false;
    }
    !matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH))
}

impl JobStore {
    /// Opens (creating the parent dir and schema if needed) the store at `path`, in WAL
    /// mode with a 5 s busy timeout. The directory is 0700 and the database 0600, and so are
    /// its `-wal` and `-shm` files (SQLite gives them the database's mode; older ones are
    /// tightened).
    pub fn open(path: &Path) -> Result<JobStore, StoreError> {
        let create_dir = |source| StoreError::CreateDir {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::files::ensure_private_dir(parent).map_err(create_dir)?;
        }
        // Create the file ourselves, 0600, before SQLite would create it 0644.
        crate::files::open_private_append(path).map_err(create_dir)?;
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        let store = JobStore::init(conn, path.to_path_buf())?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            crate::files::tighten_file(Path::new(&side)).map_err(create_dir)?;
        }
        Ok(store)
    }

    pub fn open_in_memory() -> Result<JobStore, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        JobStore::init(conn, path)
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<JobStore, StoreError> {
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        // Returns the mode in effect ("memory" for an in-memory database); not an error.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;

        // IMMEDIATE: two consoles starting at once must not both run a migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            for migration in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
                tx.execute_batch(migration).map_err(sql)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;

        Ok(JobStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done Rust state behind: every
        // statement is atomic in SQLite. Keep going with the connection.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Inserts a queued job owned by this process; returns its id (AUTOINCREMENT: never
    /// reused, even after deleting the newest row).
    pub fn insert(&self, job: &NewJob) -> Result<JobId, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO jobs (kind, operation, title, target, state, created_ms, log_path,
                               owner_pid, owner_token, origin, parent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                job.kind.as_str(),
                job.operation,
                job.title,
                job.target,
                JobState::Queued.as_str(),
                now_ms(),
                job.log_path,
                own_pid(),
                process_token(),
                job.origin
                    .as_ref()
                    .and_then(|o| serde_json::to_string(o).ok()),
                job.parent,
            ],
        )
        .map_err(|e| self.sql(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Runs an UPDATE of one job; no such job is [`StoreError::NotFound`].
    fn update_one(
        &self,
        id: JobId,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StoreError> {
        let changed = self.conn().execute(sql, params).map_err(|e| self.sql(e))?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    pub fn set_log_path(&self, id: JobId, path: &str) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE jobs SET log_path = ?2 WHERE id = ?1",
            params![id, path],
        )
    }

    /// State `running`, `started_ms` now.
    pub fn mark_running(&self, id: JobId) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE jobs SET state = ?2, started_ms = ?3 WHERE id = ?1",
            params![id, JobState::Running.as_str(), now_ms()],
        )
    }

    /// Fraction done, clamped to 0.0..=1.0; a NaN or infinite value clears it (unknown).
    pub fn set_progress(&self, id: JobId, progress: f32) -> Result<(), StoreError> {
        let value = progress
            .is_finite()
            .then(|| f64::from(progress.clamp(0.0, 1.0)));
        self.update_one(
            id,
            "UPDATE jobs SET progress = ?2 WHERE id = ?1",
            params![id, value],
        )
    }

    /// Final state (must be one: `state.is_finished()`), `finished_ms` now, and the error
    /// if any.
    pub fn finish(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        if !state.is_finished() {
            return Err(StoreError::NotFinal {
                path: self.path.clone(),
                id,
                state,
            });
        }
        self.update_one(
            id,
            "UPDATE jobs SET state = ?2, finished_ms = ?3, error = ?4 WHERE id = ?1",
            params![id, state.as_str(), now_ms(), error],
        )
    }

    pub fn get(&self, id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                RawJob::from_row,
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        raw.map(|r| r.into_record(&self.path)).transpose()
    }

    /// The newest `limit` jobs, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<JobRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM jobs ORDER BY created_ms DESC, id DESC LIMIT ?1"
                ))
                .map_err(|e| self.sql(e))?;
            stmt.query_map([limit], RawJob::from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.sql(e))?
        };
        raws.into_iter()
            .map(|r| r.into_record(&self.path))
            .collect()
    }

    /// At start-up: every queued/running job whose owner process is gone becomes
    /// Interrupted (finished now, error [`DIED_ERROR`]). Jobs of another live opsdeck
    /// process are left alone. Returns the jobs it changed.
    pub fn recover_interrupted(&self) -> Result<Vec<RecoveredJob>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let owners: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT DISTINCT owner_pid, owner_token FROM jobs
                     WHERE state IN (?1, ?2)",
                )
                .map_err(|e| self.sql(e))?;
            stmt.query_map(
                [JobState::Queued.as_str(), JobState::Running.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sql(e))?
        };
        let now = now_ms();
        let mut recovered: Vec<JobId> = Vec::new();
        for (pid, token) in owners {
            let alive = if pid == own_pid() {
                // Our pid: ours if the token matches, else an earlier process that had it.
                token == process_token()
            } else {
                pid_alive(pid)
            };
            if alive {
                continue;
            }
            let ids: Vec<JobId> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT id FROM jobs
                         WHERE owner_pid = ?1 AND owner_token = ?2 AND state IN (?3, ?4)",
                    )
                    .map_err(|e| self.sql(e))?;
                stmt.query_map(
                    params![
                        pid,
                        token,
                        JobState::Queued.as_str(),
                        JobState::Running.as_str()
                    ],
                    |r| r.get(0),
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.sql(e))?
            };
            recovered.extend(ids);
            tx.execute(
                "UPDATE jobs SET state = ?1, finished_ms = ?2, error = ?3
                     WHERE owner_pid = ?4 AND owner_token = ?5 AND state IN (?6, ?7)",
                params![
                    JobState::Interrupted.as_str(),
                    now,
                    DIED_ERROR,
                    pid,
                    token,
                    JobState::Queued.as_str(),
                    JobState::Running.as_str(),
                ],
            )
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        // `get` takes the connection lock again: release it first.
        drop(conn);
        let mut records = Vec::with_capacity(recovered.len());
        for id in recovered {
            if let Some(record) = self.get(id)? {
                records.push(RecoveredJob {
                    origin: self.origin(id)?,
                    record,
                });
            }
        }
        Ok(records)
    }

    /// What was recorded about who asked for job `id` (a change), if anything. A value this
    /// version cannot read counts as none: the entry is then written with what is known.
    pub fn origin(&self, id: JobId) -> Result<Option<ChangeOrigin>, StoreError> {
        let text: Option<String> = self
            .conn()
            .query_row("SELECT origin FROM jobs WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))?
            .flatten();
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Keep `body` as a record of `kind` (a capability's own name, e.g. `assistant.usage`),
    /// stamped now. Returns its id.
    pub fn append_record(&self, kind: &str, body: &serde_json::Value) -> Result<i64, StoreError> {
        self.append_record_at(kind, now_ms(), body)
    }

    /// As [`JobStore::append_record`], stamped `created_ms` (tests of periods).
    pub fn append_record_at(
        &self,
        kind: &str,
        created_ms: i64,
        body: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO records (kind, created_ms, body) VALUES (?1, ?2, ?3)",
            params![kind, created_ms, body.to_string()],
        )
        .map_err(|e| self.sql(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// The newest `limit` records of `kind` made at or after `since_ms`, oldest first, each
    /// with its time. A body this version cannot read is skipped.
    pub fn records(
        &self,
        kind: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT created_ms, body FROM records WHERE kind = ?1 AND created_ms >= ?2
                     ORDER BY created_ms DESC, id DESC LIMIT ?3",
                )
                .map_err(|e| self.sql(e))?;
            stmt.query_map(params![kind, since_ms, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sql(e))?
        };
        Ok(rows
            .into_iter()
            .rev()
            .filter_map(|(at, body)| serde_json::from_str(&body).ok().map(|v| (at, v)))
            .collect())
    }

    /// Remove every record of `kind`; returns how many.
    pub fn delete_records(&self, kind: &str) -> Result<usize, StoreError> {
        self.conn()
            .execute("DELETE FROM records WHERE kind = ?1", params![kind])
            .map_err(|e| self.sql(e))
    }

    /// At shutdown (quit, SIGTERM, SIGHUP): this process's own queued/running jobs become
    /// Interrupted (error [`SHUTDOWN_ERROR`]). Returns how many.
    pub fn interrupt_own(&self) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE jobs SET state = ?1, finished_ms = ?2, error = ?3
                 WHERE owner_pid = ?4 AND owner_token = ?5 AND state IN (?6, ?7)",
                params![
                    JobState::Interrupted.as_str(),
                    now_ms(),
                    SHUTDOWN_ERROR,
                    own_pid(),
                    process_token(),
                    JobState::Queued.as_str(),
                    JobState::Running.as_str(),
                ],
            )
            .map_err(|e| self.sql(e))
    }
}

/// A row as stored; kind and state still strings until checked.
struct RawJob {
    id: JobId,
    kind: String,
    operation: String,
    title: String,
    target: Option<String>,
    state: String,
    created_ms: i64,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    progress: Option<f64>,
    error: Option<String>,
    log_path: Option<String>,
    parent: Option<JobId>,
}

impl RawJob {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawJob> {
        Ok(RawJob {
            id: r.get(0)?,
            kind: r.get(1)?,
            operation: r.get(2)?,
            title: r.get(3)?,
            target: r.get(4)?,
            state: r.get(5)?,
            created_ms: r.get(6)?,
            started_ms: r.get(7)?,
            finished_ms: r.get(8)?,
            progress: r.get(9)?,
            error: r.get(10)?,
            log_path: r.get(11)?,
            parent: r.get(12)?,
        })
    }

    fn into_record(self, path: &Path) -> Result<JobRecord, StoreError> {
        let corrupt = |field, value: &str| StoreError::Corrupt {
            path: path.to_path_buf(),
            id: self.id,
            field,
            value: value.to_string(),
        };
        let kind = JobKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?;
        let state = JobState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?;
        Ok(JobRecord {
            id: self.id,
            kind,
            operation: self.operation,
            title: self.title,
            target: self.target,
            state,
            created_ms: self.created_ms,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            progress: self.progress.map(|p| p as f32),
            error: self.error,
            log_path: self.log_path,
            parent: self.parent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(op: &str) -> NewJob {
        NewJob {
            kind: JobKind::Mutation,
            operation: op.to_string(),
            title: format!("{op} web"),
            target: Some("stack web in 123456789012/eu-west-1".to_string()),
            log_path: None,
            origin: None,
            parent: None,
        }
    }

    /// A pid that certainly belonged to a process that is gone now.
    fn dead_pid() -> i64 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        i64::from(pid)
    }

    fn set_owner(store: &JobStore, id: JobId, pid: i64, token: &str) {
        store
            .conn()
            .execute(
                "UPDATE jobs SET owner_pid = ?2, owner_token = ?3 WHERE id = ?1",
                params![id, pid, token],
            )
            .unwrap();
    }

    #[test]
    fn insert_run_finish_round_trip() {
        let store = JobStore::open_in_memory().unwrap();
        let before = now_ms();
        let id = store.insert(&job("delete-stack")).unwrap();
        let rec = store.get(id).unwrap().unwrap();
        assert_eq!(rec.id, id);
        assert_eq!(rec.kind, JobKind::Mutation);
        assert_eq!(rec.operation, "delete-stack");
        assert_eq!(rec.title, "delete-stack web");
        assert_eq!(
            rec.target.as_deref(),
            Some("stack web in 123456789012/eu-west-1")
        );
        assert_eq!(rec.state, JobState::Queued);
        assert!(rec.created_ms >= before);
        assert_eq!(
            (rec.started_ms, rec.finished_ms, rec.progress),
            (None, None, None)
        );

        store.set_log_path(id, "/data/logs/1.log").unwrap();
        store.mark_running(id).unwrap();
        store.set_progress(id, 0.5).unwrap();
        let rec = store.get(id).unwrap().unwrap();
        assert_eq!(rec.state, JobState::Running);
        assert!(rec.started_ms.unwrap() >= rec.created_ms);
        assert_eq!(rec.progress, Some(0.5));
        assert_eq!(rec.log_path.as_deref(), Some("/data/logs/1.log"));

        store.set_progress(id, 7.0).unwrap();
        assert_eq!(store.get(id).unwrap().unwrap().progress, Some(1.0));
        store.set_progress(id, f32::NAN).unwrap();
        assert_eq!(store.get(id).unwrap().unwrap().progress, None);

        store
            .finish(id, JobState::Failed, Some("AccessDenied"))
            .unwrap();
        let rec = store.get(id).unwrap().unwrap();
        assert_eq!(rec.state, JobState::Failed);
        assert_eq!(rec.error.as_deref(), Some("AccessDenied"));
        assert!(rec.finished_ms.unwrap() >= rec.started_ms.unwrap());

        assert!(store.get(id + 100).unwrap().is_none());
    }

    #[test]
    fn missing_job_and_non_final_finish_are_errors() {
        let store = JobStore::open_in_memory().unwrap();
        assert!(matches!(
            store.mark_running(42),
            Err(StoreError::NotFound { id: 42, .. })
        ));
        assert!(matches!(
            store.finish(42, JobState::Succeeded, None),
            Err(StoreError::NotFound { .. })
        ));
        let id = store.insert(&job("x")).unwrap();
        assert!(matches!(
            store.finish(id, JobState::Running, None),
            Err(StoreError::NotFinal { .. })
        ));
    }

    #[test]
    fn recent_is_newest_first_and_limited() {
        let store = JobStore::open_in_memory().unwrap();
        let ids: Vec<JobId> = (0..5)
            .map(|i| store.insert(&job(&format!("op{i}"))).unwrap())
            .collect();
        let recent = store.recent(3).unwrap();
        assert_eq!(
            recent.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[4], ids[3], ids[2]]
        );
        assert_eq!(store.recent(100).unwrap().len(), 5);
        assert!(store.recent(0).unwrap().is_empty());
        // created_ms decides, not the id.
        store
            .conn()
            .execute(
                "UPDATE jobs SET created_ms = created_ms + 60000 WHERE id = ?1",
                [ids[0]],
            )
            .unwrap();
        assert_eq!(store.recent(1).unwrap()[0].id, ids[0]);
    }

    #[test]
    fn unknown_state_reads_back_as_error() {
        let store = JobStore::open_in_memory().unwrap();
        let id = store.insert(&job("x")).unwrap();
        store
            .conn()
            .execute("UPDATE jobs SET state = 'exploded' WHERE id = ?1", [id])
            .unwrap();
        let err = store.get(id).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { field: "state", .. }),
            "{err}"
        );
        assert!(err.to_string().contains(":memory:"));
        assert!(store.recent(10).is_err());
        store
            .conn()
            .execute(
                "UPDATE jobs SET state = 'queued', kind = 'weird' WHERE id = ?1",
                [id],
            )
            .unwrap();
        assert!(matches!(
            store.get(id),
            Err(StoreError::Corrupt { field: "kind", .. })
        ));
    }

    #[test]
    fn recover_interrupted_marks_dead_owners_only() {
        let store = JobStore::open_in_memory().unwrap();
        let dead = store.insert(&job("dead-running")).unwrap();
        store.mark_running(dead).unwrap();
        set_owner(&store, dead, dead_pid(), "gone:1");
        let dead_queued = store.insert(&job("dead-queued")).unwrap();
        set_owner(&store, dead_queued, dead_pid(), "gone:2");
        let dead_done = store.insert(&job("dead-done")).unwrap();
        store.finish(dead_done, JobState::Succeeded, None).unwrap();
        set_owner(&store, dead_done, dead_pid(), "gone:3");
        // An earlier process that had our pid.
        let reused = store.insert(&job("reused-pid")).unwrap();
        set_owner(&store, reused, own_pid(), "earlier:0");
        let mine = store.insert(&job("mine")).unwrap();
        store.mark_running(mine).unwrap();

        assert_eq!(store.recover_interrupted().unwrap().len(), 3);
        for id in [dead, dead_queued, reused] {
            let rec = store.get(id).unwrap().unwrap();
            assert_eq!(rec.state, JobState::Interrupted, "job {id}");
            assert_eq!(rec.error.as_deref(), Some(DIED_ERROR));
            assert!(rec.finished_ms.is_some());
        }
        assert_eq!(
            store.get(dead_done).unwrap().unwrap().state,
            JobState::Succeeded
        );
        let rec = store.get(mine).unwrap().unwrap();
        assert_eq!(rec.state, JobState::Running);
        assert_eq!(rec.finished_ms, None);
        assert_eq!(store.recover_interrupted().unwrap().len(), 0);
    }

    #[test]
    fn recover_leaves_other_live_process_alone() {
        let store = JobStore::open_in_memory().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = store.insert(&job("other-console")).unwrap();
        set_owner(&store, id, i64::from(child.id()), "other:1");
        let result = store.recover_interrupted();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(result.unwrap().is_empty());
        assert_eq!(store.get(id).unwrap().unwrap().state, JobState::Queued);
    }

    #[test]
    fn interrupt_own_marks_only_own_unfinished_jobs() {
        let store = JobStore::open_in_memory().unwrap();
        let queued = store.insert(&job("q")).unwrap();
        let running = store.insert(&job("r")).unwrap();
        store.mark_running(running).unwrap();
        let done = store.insert(&job("d")).unwrap();
        store.finish(done, JobState::Cancelled, None).unwrap();
        let other = store.insert(&job("o")).unwrap();
        set_owner(&store, other, 1, "init:0");

        assert_eq!(store.interrupt_own().unwrap(), 2);
        for id in [queued, running] {
            let rec = store.get(id).unwrap().unwrap();
            assert_eq!(rec.state, JobState::Interrupted);
            assert_eq!(rec.error.as_deref(), Some(SHUTDOWN_ERROR));
            assert!(rec.finished_ms.is_some());
        }
        assert_eq!(store.get(done).unwrap().unwrap().state, JobState::Cancelled);
        assert_eq!(store.get(other).unwrap().unwrap().state, JobState::Queued);
        assert_eq!(store.interrupt_own().unwrap(), 0);
    }

    #[test]
    fn reopen_file_sees_jobs_and_ids_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/jobs.sqlite");
        let (a, b) = {
            let store = JobStore::open(&path).unwrap();
            let a = store.insert(&job("a")).unwrap();
            let b = store.insert(&job("b")).unwrap();
            store.finish(a, JobState::Succeeded, None).unwrap();
            (a, b)
        };
        assert!(b > a);
        let store = JobStore::open(&path).unwrap();
        assert_eq!(store.get(a).unwrap().unwrap().state, JobState::Succeeded);
        assert_eq!(store.get(b).unwrap().unwrap().operation, "b");
        assert_eq!(store.recent(10).unwrap().len(), 2);
        let version: i64 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");

        let c = store.insert(&job("c")).unwrap();
        assert!(c > b);
        // Even after the newest row goes away, its id is not handed out again.
        store
            .conn()
            .execute("DELETE FROM jobs WHERE id = ?1", [c])
            .unwrap();
        drop(store);
        let store = JobStore::open(&path).unwrap();
        let d = store.insert(&job("d")).unwrap();
        assert!(d > c);
    }

    #[test]
    fn records_are_kept_by_kind_oldest_first_and_cleared() {
        let store = JobStore::open_in_memory().expect("opens");
        for (at, n) in [(10, 1), (20, 2), (30, 3)] {
            store
                .append_record_at("chat", at, &serde_json::json!({ "n": n }))
                .expect("append");
        }
        store
            .append_record_at("usage", 15, &serde_json::json!({ "tokens": 7 }))
            .expect("append");
        let all = store.records("chat", 0, 10).expect("read");
        assert_eq!(
            all.iter()
                .map(|(at, v)| (*at, v["n"].clone()))
                .collect::<Vec<_>>(),
            vec![(10, 1.into()), (20, 2.into()), (30, 3.into())]
        );
        let newest_two = store.records("chat", 0, 2).expect("read");
        assert_eq!(newest_two[0].1["n"], 2, "the newest, still oldest first");
        assert_eq!(store.records("chat", 20, 10).expect("read").len(), 2);
        assert_eq!(store.delete_records("chat").expect("delete"), 3);
        assert!(store.records("chat", 0, 10).expect("read").is_empty());
        assert_eq!(store.records("usage", 0, 10).expect("read").len(), 1);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        drop(JobStore::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = JobStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { .. }));
        assert!(err.to_string().contains("jobs.sqlite"));
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let store = std::sync::Arc::new(JobStore::open_in_memory().unwrap());
        let s = store.clone();
        let _ = std::thread::spawn(move || {
            let _guard = s.conn();
            panic!("poison the lock");
        })
        .join();
        assert!(store.conn.is_poisoned());
        assert!(store.insert(&job("after")).is_ok());
    }
}
