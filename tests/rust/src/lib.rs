//! Test harness for the Rust gRPC acceptance suite (issue 3).
//!
//! Design: every test starts its own Quiver process ([`Server::start`]) from
//! the binary named by `$QUIVER_BIN` (default `../../build/release/quiver`
//! relative to this crate), on a free REST port and a free gRPC port, with a
//! fresh temporary storage directory, configured the way Qdrant is configured
//! (`QDRANT__SERVICE__HTTP_PORT`, `QDRANT__SERVICE__GRPC_PORT`,
//! `QDRANT__STORAGE__STORAGE_PATH`).  It is ready once `GET /readyz` answers
//! 200 (a hand-written HTTP/1.1 request over `std::net`, no HTTP client
//! crate) and the gRPC port accepts TCP.  [`Server::stop`] sends SIGTERM,
//! waits, asserts exit code 0 and removes the storage directory; a server
//! that is dropped without `stop` (failed test) is killed.  Per-test servers
//! keep tests independent, so `cargo test` may run them in parallel.
//!
//! Also here: a seeded PRNG (splitmix64) for reproducible data, brute-force
//! scoring for the four distances, the expected ranking comparison
//! ([`assert_ranking`]), point-id helpers, and a counting TCP proxy
//! ([`CountingProxy`]) used to prove that user errors are not retried by the
//! client on a new connection.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vector_output::Vector as OutVector;
use qdrant_client::qdrant::{PointId, Value, VectorsOutput};
use qdrant_client::{Qdrant, QdrantError};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

/// Path of the server binary: `$QUIVER_BIN` or `../../build/release/quiver`
/// relative to this crate (relative `$QUIVER_BIN` values are resolved
/// against the current directory first, then the repository root).
pub fn quiver_bin() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo_root = crate_dir.join("../..");
    match std::env::var_os("QUIVER_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                let cwd = std::env::current_dir().unwrap().join(&p);
                if cwd.exists() {
                    cwd
                } else {
                    repo_root.join(p)
                }
            }
        }
        _ => repo_root.join("build/release/quiver"),
    }
}

static PORTS_HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A TCP port that was free on 127.0.0.1 a moment ago and that this process
/// has not handed out before.
pub fn free_port() -> u16 {
    let mut keep = Vec::new();
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        let mut used = PORTS_HANDED_OUT.lock().unwrap();
        if used.contains(&port) {
            keep.push(l); // hold it so the kernel hands out another one
            continue;
        }
        used.push(port);
        return port;
    }
}

fn unique_temp_dir(prefix: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// One running Quiver process.
pub struct Server {
    child: Option<Child>,
    pub http_port: u16,
    pub grpc_port: u16,
    dir: PathBuf,
    log_path: PathBuf,
}

/// `GET path` over a plain HTTP/1.1 connection; returns (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP answer: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

impl Server {
    /// Starts a server and waits until it is ready (REST `/readyz` 200 and
    /// the gRPC port accepting TCP).  Retries with new ports when the process
    /// dies early (a free port can be taken between probe and bind).
    pub fn start() -> Server {
        let bin = quiver_bin();
        assert!(
            bin.exists(),
            "server binary {} not found (set QUIVER_BIN)",
            bin.display()
        );
        let mut last = String::new();
        for _attempt in 0..3 {
            let dir = unique_temp_dir("quiver-rust");
            let storage = dir.join("storage");
            let log_path = dir.join("server.log");
            let http_port = free_port();
            let grpc_port = free_port();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new(&bin);
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().to_uppercase().starts_with("QDRANT__") {
                    cmd.env_remove(k);
                }
            }
            let child = cmd
                .current_dir(&dir) // no config/config.yaml there
                .env("QDRANT__SERVICE__HOST", "127.0.0.1")
                .env("QDRANT__SERVICE__HTTP_PORT", http_port.to_string())
                .env("QDRANT__SERVICE__GRPC_PORT", grpc_port.to_string())
                .env("QDRANT__STORAGE__STORAGE_PATH", &storage)
                .env("QDRANT__LOG_LEVEL", "INFO")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let mut srv = Server {
                child: Some(child),
                http_port,
                grpc_port,
                dir,
                log_path,
            };
            match srv.wait_ready() {
                Ok(()) => return srv,
                Err(e) => {
                    last = e;
                    let died = srv
                        .child
                        .as_mut()
                        .unwrap()
                        .try_wait()
                        .ok()
                        .flatten()
                        .is_some();
                    drop(srv); // kills and cleans up
                    if !died {
                        break; // alive but not ready: not a port clash
                    }
                }
            }
        }
        panic!("quiver did not become ready: {last}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last;
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!(
                    "quiver exited before it was ready ({st})\n--- server output ---\n{}",
                    self.log()
                ));
            }
            match http_get(self.http_port, "/readyz") {
                Ok((200, _)) => break,
                Ok((code, body)) => last = format!("HTTP {code} {body}"),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no 200 on GET /readyz within {READY_TIMEOUT:?} (last: {last})\n--- server output ---\n{}",
                    self.log()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
        let addr: SocketAddr = ([127, 0, 0, 1], self.grpc_port).into();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("gRPC port {} refuses TCP: {e}", self.grpc_port))
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// An official client on this server's gRPC port (generous timeout: the
    /// machine running the suite may be busy).
    pub fn client(&self) -> Qdrant {
        client_for(self.grpc_port)
    }

    /// SIGTERM, wait, assert exit code 0, remove the storage directory.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "quiver did not exit within {STOP_TIMEOUT:?} of SIGTERM\n--- server output ---\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            status.code(),
            Some(0),
            "quiver exit status after SIGTERM: {status}\n--- server output ---\n{}",
            self.log()
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if thread::panicking() {
                eprintln!(
                    "--- quiver output (test failed) ---\n{}",
                    tail(&self.log(), 8000)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// An official client for 127.0.0.1:`port`.
pub fn client_for(port: u16) -> Qdrant {
    Qdrant::from_url(&format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The gRPC status of a failed call (panics on success or on a non-status error).
pub fn status_of<T: std::fmt::Debug>(r: Result<T, QdrantError>, what: &str) -> tonic::Status {
    match r {
        Ok(v) => panic!("{what}: expected an error, got success {v:?}"),
        Err(QdrantError::ResponseError { status }) => status,
        Err(QdrantError::ResourceExhaustedError { status, .. }) => status,
        Err(e) => panic!("{what}: expected a gRPC status, got {e:?}"),
    }
}

/// Asserts that `r` failed with gRPC status `code`; returns the message.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(
    r: Result<T, QdrantError>,
    code: tonic::Code,
    what: &str,
) -> String {
    let st = status_of(r, what);
    assert_eq!(
        st.code(),
        code,
        "{what}: expected {code:?}, got {:?}: {}",
        st.code(),
        st.message()
    );
    st.message().to_string()
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/// splitmix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform f32 in [-1, 1) with 24 random bits.
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.f32()).collect()
    }
}

/// Brute-force distances, in f64 over the f32 inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Cosine,
    Dot,
    Euclid,
    Manhattan,
}

impl Dist {
    pub fn score(self, a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let it = a.iter().zip(b).map(|(&x, &y)| (x as f64, y as f64));
        match self {
            Dist::Dot => it.map(|(x, y)| x * y).sum(),
            Dist::Cosine => {
                let (mut d, mut na, mut nb) = (0.0, 0.0, 0.0);
                for (x, y) in it {
                    d += x * y;
                    na += x * x;
                    nb += y * y;
                }
                if na == 0.0 || nb == 0.0 {
                    0.0
                } else {
                    d / (na.sqrt() * nb.sqrt())
                }
            }
            Dist::Euclid => it.map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt(),
            Dist::Manhattan => it.map(|(x, y)| (x - y).abs()).sum(),
        }
    }
    /// Larger is better for similarities, smaller for distances.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Dist::Cosine | Dist::Dot)
    }
    pub fn api(self) -> qdrant_client::qdrant::Distance {
        use qdrant_client::qdrant::Distance;
        match self {
            Dist::Cosine => Distance::Cosine,
            Dist::Dot => Distance::Dot,
            Dist::Euclid => Distance::Euclid,
            Dist::Manhattan => Distance::Manhattan,
        }
    }
}

/// A point id as the tests compare it: numbers before UUIDs (Qdrant's order).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Id {
    Num(u64),
    Uuid(String),
}

impl From<u64> for Id {
    fn from(n: u64) -> Id {
        Id::Num(n)
    }
}

impl From<&Id> for PointId {
    fn from(id: &Id) -> PointId {
        match id {
            Id::Num(n) => PointId::from(*n),
            Id::Uuid(u) => PointId::from(u.clone()),
        }
    }
}

impl From<Id> for PointId {
    fn from(id: Id) -> PointId {
        PointId::from(&id)
    }
}

/// The id of a returned point (panics when absent).
pub fn id_of(p: &Option<PointId>) -> Id {
    match p.as_ref().and_then(|p| p.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => Id::Num(*n),
        Some(PointIdOptions::Uuid(u)) => Id::Uuid(u.clone()),
        None => panic!("point without id"),
    }
}

/// A payload map as JSON (object keys sorted; integers and doubles stay distinct).
pub fn payload_json(p: &HashMap<String, Value>) -> serde_json::Value {
    serde_json::Value::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), v.clone().into_json()))
            .collect(),
    )
}

/// The dense default (unnamed) vector of a returned point.
pub fn dense_of(v: &Option<VectorsOutput>) -> Option<Vec<f32>> {
    match v.as_ref()?.get_vector()? {
        OutVector::Dense(d) => Some(d.data),
        other => panic!("expected a dense vector, got {other:?}"),
    }
}

/// The named dense vectors of a returned point, by name.
pub fn named_of(v: &Option<VectorsOutput>) -> HashMap<String, Vec<f32>> {
    use qdrant_client::qdrant::vectors_output::VectorsOptions;
    match v.as_ref().and_then(|v| v.vectors_options.as_ref()) {
        None => HashMap::new(),
        Some(VectorsOptions::Vector(_)) => panic!("expected named vectors, got an unnamed one"),
        Some(VectorsOptions::Vectors(n)) => n
            .vectors
            .iter()
            .map(|(k, v)| match v.clone().into_vector() {
                OutVector::Dense(d) => (k.clone(), d.data),
                other => panic!("expected a dense vector, got {other:?}"),
            })
            .collect(),
    }
}

/// Cosine vectors are stored normalised (in f32 by the server).
pub fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    v.iter().map(|&x| (x as f64 / n) as f32).collect()
}

/// Expected ranking: every candidate with its brute-force score, best first,
/// ties by id.
pub fn rank(dist: Dist, q: &[f32], cands: &[(Id, &[f32])]) -> Vec<(Id, f64)> {
    let mut v: Vec<(Id, f64)> = cands
        .iter()
        .map(|(id, vec)| (id.clone(), dist.score(q, vec)))
        .collect();
    v.sort_by(|a, b| {
        let o = if dist.higher_is_better() {
            b.1.partial_cmp(&a.1).unwrap()
        } else {
            a.1.partial_cmp(&b.1).unwrap()
        };
        o.then_with(|| a.0.cmp(&b.0))
    });
    v
}

pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
}

/// Asserts that `got` (id, score) is the top `got.len()` of `expected`
/// (`expected` ranked by [`rank`], already cut to the wanted length or
/// longer): scores within rel 1e-4, ids in order.  Exact ties must come in id
/// order; only candidates whose brute-force scores differ by less than the
/// float32 noise (rel 1e-5) may appear in either order.
#[track_caller]
pub fn assert_ranking(got: &[(Id, f32)], expected: &[(Id, f64)], want_len: usize, what: &str) {
    let want_len = want_len.min(expected.len());
    assert_eq!(
        got.len(),
        want_len,
        "{what}: number of results\n got: {got:?}\nwant: {:?}",
        &expected[..want_len]
    );
    let mut i = 0;
    while i < want_len {
        // block of near-tied expected entries starting at i
        let mut j = i + 1;
        while j < expected.len() && close(expected[j].1, expected[j - 1].1, 1e-5) {
            j += 1;
        }
        let exact = expected[i..j].iter().all(|e| e.1 == expected[i].1);
        if exact {
            // no near tie, or exact ties only (same vectors): ids in order
            for k in i..j.min(want_len) {
                assert_eq!(
                    got[k].0,
                    expected[k].0,
                    "{what}: id at rank {k}\n got: {got:?}\nwant: {:?}",
                    &expected[..want_len]
                );
            }
        } else {
            let block: Vec<&Id> = expected[i..j].iter().map(|e| &e.0).collect();
            for (k, g) in got.iter().enumerate().take(j.min(want_len)).skip(i) {
                assert!(
                    block.contains(&&g.0),
                    "{what}: id at rank {k} ({:?}) not among the near-tied {block:?}",
                    g.0
                );
            }
        }
        for (k, g) in got.iter().enumerate().take(j.min(want_len)).skip(i) {
            assert!(
                close(g.1 as f64, expected[k].1, 1e-4),
                "{what}: score at rank {k}: got {} want {}",
                g.1,
                expected[k].1
            );
        }
        i = j;
    }
}

// ---------------------------------------------------------------------------
// Counting TCP proxy
// ---------------------------------------------------------------------------

/// A TCP proxy on 127.0.0.1 in front of `upstream`, counting accepted
/// connections and bytes in both directions (std::net and threads).
pub struct CountingProxy {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    pub bytes_to_server: Arc<AtomicU64>,
    pub bytes_to_client: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    pub fn start(upstream_port: u16) -> CountingProxy {
        Self::start_inner(upstream_port, None)
    }

    /// Like [`start`](Self::start), but the FIRST accepted connection is
    /// never forwarded: the proxy reads from the client until `marker` has
    /// arrived (or EOF) and then closes it.  Later connections are forwarded.
    pub fn start_breaking_first(upstream_port: u16, marker: &[u8]) -> CountingProxy {
        Self::start_inner(upstream_port, Some(marker.to_vec()))
    }

    fn start_inner(upstream_port: u16, mut break_first: Option<Vec<u8>>) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, u, d, s) = (connections.clone(), up.clone(), down.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                if let Some(marker) = break_first.take() {
                    let mut client = client;
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(marker.len()).any(|w| w == &marker[..]) {
                        match client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    u.clone(),
                );
                pipe(server, client, d.clone());
            }
        });
        CountingProxy {
            port,
            connections,
            bytes_to_server: up,
            bytes_to_client: down,
            stop,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_to_server.load(Ordering::SeqCst),
            self.bytes_to_client.load(Ordering::SeqCst),
        )
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake accept()
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, counter: Arc<AtomicU64>) {
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}
