//! Start-up benchmark for the console, run against the release binary in a real pty.
//!
//! 1. First frame: time from spawning `opsdeck` to the last byte of its first complete frame,
//!    over several runs. The console promises a frame before any AWS call (budget ≤ 30 ms).
//! 2. Idle bytes: once start-up has settled (the reads against a closed port have failed and
//!    stopped retrying), count the bytes the console writes in 10 s with nothing happening
//!    (budget 0: it redraws only when an event arrives). Then `q` must end the process.
//!
//! The child gets a fresh config/data dir, dummy credentials and `--endpoint-url` pointing at a
//! closed local port, so no network is touched. This is a measurement, not a test: figures over
//! budget are reported, never failed on.
//!
//! The bench plays the terminal: before its first frame the console asks for the cursor position
//! (`ESC[6n`, from ratatui's `Terminal::clear`) and waits for the answer, so the first frame
//! includes one round trip to the person's terminal. The bench answers at once (a local
//! terminal); `OPSDECK_BENCH_TERM_DELAY_MS` delays the answer to model a terminal across SSH.
//!
//! `OPSDECK_BENCH_RUNS` overrides the number of first-frame runs (default 20).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::pty::openpty;
use tempfile::TempDir;

const COLS: u16 = 100;
const ROWS: u16 = 30;
const DEFAULT_RUNS: usize = 20;
const FIRST_FRAME_BUDGET_MS: f64 = 30.0;
/// The status bar's first span, drawn in every frame including the first, and nowhere else
/// (see `tui/view/status.rs`; the chat's "opsdeck ›" has no leading space).
const FRAME_MARKER: &[u8] = b" opsdeck ";
/// ratatui ends every draw by hiding the cursor (no widget sets a cursor position on the start
/// screen); after the marker it closes the frame that was written in one flush.
const FRAME_END: &[u8] = b"\x1b[?25l";
/// A frame arrives as back-to-back reads; a gap this long means the flush is over.
const BURST_GAP: Duration = Duration::from_millis(15);
/// Device status report "where is the cursor?": `Terminal::clear` asks it before the first frame
/// and waits (crossterm gives up after 2 s), so the bench answers like a terminal would.
const CURSOR_QUERY: &[u8] = b"\x1b[6n";
const CURSOR_REPLY: &[u8] = b"\x1b[1;1R";
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
const SETTLE_QUIET: Duration = Duration::from_secs(3);
const SETTLE_MIN: Duration = Duration::from_secs(20);
const SETTLE_MAX: Duration = Duration::from_secs(120);
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    let exe = env!("CARGO_BIN_EXE_opsdeck");
    // `cargo bench` passes --bench. Under `cargo test --all-targets` this binary only checks
    // that a first frame still appears (one run, no idle wait), and fails if it does not.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let runs = if smoke {
        1
    } else {
        env_number("OPSDECK_BENCH_RUNS")
            .filter(|&n| n > 0)
            .map_or(DEFAULT_RUNS, |n| n as usize)
    };
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let answer_delay =
        Duration::from_millis(env_number("OPSDECK_BENCH_TERM_DELAY_MS").unwrap_or(0));
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let load_before = load_average();

    // One unmeasured run warms the page cache so the first measured run is not an outlier
    // caused by reading the binary from disk.
    if !smoke {
        let mut warm = Console::spawn(exe, &endpoint, answer_delay);
        let _ = warm.first_frame();
    }

    let mut first_frame_ms = Vec::with_capacity(runs);
    let mut query_ms = Vec::with_capacity(runs);
    let mut frame_bytes = 0usize;
    for run in 0..runs {
        let mut console = Console::spawn(exe, &endpoint, answer_delay);
        match console.first_frame() {
            Ok(frame) => {
                first_frame_ms.push(ms(frame.elapsed));
                if let Some(q) = frame.query {
                    query_ms.push(ms(q));
                }
                frame_bytes = frame.bytes;
            }
            Err(e) => {
                eprintln!("run {}: {e}", run + 1);
                eprintln!("  output so far: {}", preview(&console.output, 400));
            }
        }
        // Dropping the console kills the child and reaps it.
    }

    if smoke {
        match first_frame_ms.first() {
            Some(ms) => {
                println!(
                    "startup smoke check ({profile}): first frame after {ms:.1} ms; `cargo bench --bench startup` measures"
                );
                return;
            }
            None => {
                eprintln!("startup smoke check: the console drew no first frame");
                std::process::exit(1);
            }
        }
    }
    let idle = idle_run(exe, &endpoint, answer_delay);

    println!();
    println!("opsdeck startup ({profile}, pty {COLS}x{ROWS}, {runs} runs)");
    // Timings on a shared machine mean little without this.
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    match (load_before, load_average()) {
        (Some(before), Some(after)) => println!(
            "  machine: load average {before} before, {after} after (1 min), {cores} cores"
        ),
        _ => println!("  machine: {cores} cores"),
    }
    if first_frame_ms.is_empty() {
        println!("  first frame: no run produced a frame");
    } else {
        first_frame_ms.sort_by(f64::total_cmp);
        let failed = runs - first_frame_ms.len();
        println!(
            "  first frame: min {:.1} ms  median {:.1} ms  p95 {:.1} ms  max {:.1} ms   (budget ≤ {FIRST_FRAME_BUDGET_MS:.0} ms){}",
            first_frame_ms[0],
            median(&first_frame_ms),
            percentile(&first_frame_ms, 95.0),
            first_frame_ms[first_frame_ms.len() - 1],
            if failed > 0 {
                format!("  [{failed} run(s) without a frame]")
            } else {
                String::new()
            },
        );
        println!("               {frame_bytes} bytes from spawn to the end of the first frame");
        if !query_ms.is_empty() {
            query_ms.sort_by(f64::total_cmp);
            println!(
                "               cursor-position query (ESC[6n) sent at median {:.1} ms; answered after {} ms{}",
                median(&query_ms),
                answer_delay.as_millis(),
                if query_ms.len() < first_frame_ms.len() {
                    " (not asked in every run)"
                } else {
                    ""
                }
            );
        }
    }
    match idle {
        Ok(idle) => {
            println!(
                "  idle: {} bytes in {:.1} s after start-up settled                    (budget 0)",
                idle.bytes,
                IDLE_WINDOW.as_secs_f64()
            );
            println!("        settled: {}", idle.settled);
            if idle.bytes > 0 {
                println!("        written while idle: {}", preview(&idle.sample, 600));
            }
            println!("  quit: {}", idle.exit);
        }
        Err(e) => println!("  idle: not measured: {e}"),
    }
}

/// The 1-minute load average, as the kernel prints it.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_string)
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

struct FirstFrame {
    /// Spawn to the arrival of the frame's last byte.
    elapsed: Duration,
    /// Spawn to the arrival of the cursor-position query, if the console sent one.
    query: Option<Duration>,
    bytes: usize,
}

struct Idle {
    bytes: usize,
    sample: Vec<u8>,
    settled: String,
    exit: String,
}

fn idle_run(exe: &str, endpoint: &str, answer_delay: Duration) -> Result<Idle, String> {
    let mut console = Console::spawn(exe, endpoint, answer_delay);
    console.first_frame()?;

    // Settle: the reads fail against the closed port and retry with backoff (5 attempts from
    // 0.4 s, doubling); while they run a 1 s tick redraws durations. Wait for 3 s of silence
    // after at least 20 s: the first "failed" on screen is not the end, since reads that start
    // at launch (who am I, the stacks, spend, contexts) fail at different times and a backoff
    // gap can be longer than 3 s.
    let mut saw_failed = false;
    let settled = loop {
        let now = Instant::now();
        let since_start = now - console.started;
        let quiet = now - console.last_byte;
        if quiet >= SETTLE_QUIET && since_start >= SETTLE_MIN {
            break format!(
                "{:.1} s after spawn, last byte {:.1} s before{}",
                since_start.as_secs_f64(),
                quiet.as_secs_f64(),
                if saw_failed {
                    ", screen shows \"failed\""
                } else {
                    ""
                }
            );
        }
        if since_start >= SETTLE_MAX {
            break format!(
                "NOT settled: still writing {:.0} s after spawn (measuring anyway)",
                since_start.as_secs_f64()
            );
        }
        let seen = console.output.len();
        console.pump(Duration::from_millis(200))?;
        if !saw_failed && contains(&console.output[seen.saturating_sub(16)..], b"failed") {
            saw_failed = true;
        }
    };

    let seen = console.output.len();
    let deadline = Instant::now() + IDLE_WINDOW;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        console.pump(deadline - now)?;
    }
    let sample = console.output[seen..].to_vec();

    console.send(b"q")?;
    let exit = match console.wait_exit(EXIT_TIMEOUT) {
        Some(status) => format!("exited after q ({status})"),
        None => {
            let tail = console.output.len().saturating_sub(300);
            format!(
                "did NOT exit within {:.0} s of q; killed. Last output: {}",
                EXIT_TIMEOUT.as_secs_f64(),
                preview(&console.output[tail..], 300)
            )
        }
    };
    Ok(Idle {
        bytes: sample.len(),
        sample,
        settled,
        exit,
    })
}

/// A bound-then-released local port: connecting to it is refused at once.
fn closed_port() -> u16 {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port to find a free one");
    listener
        .local_addr()
        .expect("local address of the bound listener")
        .port()
}

/// `opsdeck` running on the slave side of a fresh pty; the master is drained by a thread.
struct Console {
    child: Child,
    master: File,
    chunks: Receiver<(Instant, Vec<u8>)>,
    started: Instant,
    last_byte: Instant,
    output: Vec<u8>,
    /// (end offset in `output`, arrival) of every read.
    arrivals: Vec<(usize, Instant)>,
    reaped: bool,
    _home: TempDir,
}

impl Console {
    fn spawn(exe: &str, endpoint: &str, answer_delay: Duration) -> Console {
        let home = tempfile::tempdir().expect("create a temp home for the console");
        let pty = openpty(None, None).expect("openpty");
        let winsize = libc::winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a `winsize` through a pointer that is valid for the call.
        let rc = unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &winsize) };
        assert_eq!(rc, 0, "TIOCSWINSZ on the pty master failed");
        // Neither end may leak into the child beyond its stdio.
        cloexec(&pty.master);
        cloexec(&pty.slave);

        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        let mut cmd = Command::new(exe);
        cmd.arg("--endpoint-url")
            .arg(endpoint)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("TERM", "xterm-256color")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", home.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(home.path())
            .stdin(stdio(&pty.slave))
            .stdout(stdio(&pty.slave))
            .stderr(stdio(&pty.slave));
        // SAFETY: between fork and exec this only makes async-signal-safe calls (setsid, ioctl).
        unsafe {
            cmd.pre_exec(|| {
                // A new session whose controlling terminal is the pty (stdin is the slave).
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }

        let started = Instant::now();
        let child = cmd.spawn().expect("spawn the opsdeck binary");
        // Only the child may hold the slave now, so the master reports EOF/EIO when it exits.
        drop(cmd);
        drop(pty.slave);

        let master = File::from(pty.master);
        let mut reader = master.try_clone().expect("dup the pty master");
        let answerer = master.try_clone().expect("dup the pty master");
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            // The end of the previous read, so a query split across reads is still seen.
            let mut carry: Vec<u8> = Vec::new();
            loop {
                match reader.read(&mut buf) {
                    // EIO once the child and its slave are gone.
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let at = Instant::now();
                        let bytes = &buf[..n];
                        carry.extend_from_slice(bytes);
                        let queries = count(&carry, CURSOR_QUERY);
                        let keep = carry.len().saturating_sub(CURSOR_QUERY.len() - 1);
                        carry.drain(..keep);
                        if queries > 0 {
                            answer_cursor_queries(&answerer, queries, answer_delay);
                        }
                        if tx.send((at, bytes.to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        });

        Console {
            child,
            master,
            chunks,
            started,
            last_byte: started,
            output: Vec::new(),
            arrivals: Vec::new(),
            reaped: false,
            _home: home,
        }
    }

    /// Take what arrives within `timeout`, then everything already queued. Ok(false) when
    /// nothing came.
    fn pump(&mut self, timeout: Duration) -> Result<bool, String> {
        match self.chunks.recv_timeout(timeout) {
            Ok((at, bytes)) => {
                self.take(at, bytes);
                while let Ok((at, bytes)) = self.chunks.try_recv() {
                    self.take(at, bytes);
                }
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => Err(self.gone()),
        }
    }

    fn take(&mut self, at: Instant, bytes: Vec<u8>) {
        self.last_byte = at;
        self.output.extend_from_slice(&bytes);
        self.arrivals.push((self.output.len(), at));
    }

    fn gone(&mut self) -> String {
        match self.wait_exit(Duration::from_millis(500)) {
            Some(status) => format!("the console exited ({status})"),
            None => "the pty closed".to_string(),
        }
    }

    /// Read until the first frame is complete: the status-bar marker has arrived and, after it,
    /// the sequence that ends a draw (or, failing that, a pause in the output). The time is the
    /// arrival of the frame's last byte.
    fn first_frame(&mut self) -> Result<FirstFrame, String> {
        let deadline = self.started + FIRST_FRAME_TIMEOUT;
        let marker_at = loop {
            if let Some(i) = find(&self.output, FRAME_MARKER) {
                break i;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no frame within {:.0} s",
                    FIRST_FRAME_TIMEOUT.as_secs_f64()
                ));
            }
            self.pump(deadline - now)?;
        };
        let after = marker_at + FRAME_MARKER.len();
        loop {
            if let Some(i) = find(&self.output[after..], FRAME_END) {
                let end = after + i + FRAME_END.len();
                // The read that delivered the frame's last byte (later reads may be queued).
                let at = self.arrival_at(end).unwrap_or(self.last_byte);
                return Ok(FirstFrame {
                    elapsed: at - self.started,
                    query: self.arrival_of(CURSOR_QUERY),
                    bytes: end,
                });
            }
            if !self.pump(BURST_GAP)? {
                // No end-of-draw sequence, but the burst is over: take its last byte.
                return Ok(FirstFrame {
                    elapsed: self.last_byte - self.started,
                    query: self.arrival_of(CURSOR_QUERY),
                    bytes: self.output.len(),
                });
            }
        }
    }

    /// When the read holding byte `offset - 1` arrived.
    fn arrival_at(&self, offset: usize) -> Option<Instant> {
        self.arrivals
            .iter()
            .find(|(upto, _)| *upto >= offset)
            .map(|&(_, at)| at)
    }

    /// Spawn to the arrival of the end of the first `needle` in the output.
    fn arrival_of(&self, needle: &[u8]) -> Option<Duration> {
        let i = find(&self.output, needle)?;
        Some(self.arrival_at(i + needle.len())? - self.started)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.master
            .write_all(bytes)
            .map_err(|e| format!("cannot write to the pty: {e}"))
    }

    /// Wait for the child to exit, draining the pty meanwhile. None if it is still running.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Some(status);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // Keep the pty drained so the child is never blocked writing.
            while let Ok((at, bytes)) = self.chunks.try_recv() {
                self.take(at, bytes);
            }
            thread::sleep(Duration::from_millis(10).min(deadline - now));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Answer like a terminal at the top-left corner, after `delay` (the round trip to the person's
/// terminal; zero for a local one).
fn answer_cursor_queries(master: &File, queries: usize, delay: Duration) {
    let mut master = match master.try_clone() {
        Ok(m) => m,
        Err(_) => return,
    };
    let reply = CURSOR_REPLY.repeat(queries);
    if delay.is_zero() {
        let _ = master.write_all(&reply);
    } else {
        thread::spawn(move || {
            thread::sleep(delay);
            let _ = master.write_all(&reply);
        });
    }
}

fn cloexec(fd: &impl AsFd) {
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("set FD_CLOEXEC on the pty");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `sorted` must be sorted and non-empty.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile; `sorted` must be sorted and non-empty.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Printable form of terminal output: escapes shown as `\e`, control bytes as `\xNN`.
fn preview(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    if bytes.len() > max {
        out.push_str(&format!("… ({} bytes in all)", bytes.len()));
    }
    out
}
