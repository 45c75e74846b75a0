//! The multi-connection network workloads of program "net_hotspot"
//! (bench/net_hotspot.c): W1 net_stream_imbalanced_4k_hot1_light7, W2
//! net_stream_hotspot_rotation_4k_{free,barrier}, W3
//! net_pipeline_hotspot_rotation_4k_window32, W4
//! net_keyed_hotspot_rotation_4k and W5 net_echo_1kconn_256b, with the same
//! sizes, checks and checksums as the C and Go programs.
//!
//! Client and server run in one process over loopback TCP (TCP_NODELAY on
//! both ends). Every connection is connected and accepted, and its server
//! task spawned (it blocks in its first read), before the clock starts. The
//! timed phase spawns the client tasks (and the owner tasks of W4) and joins
//! them all; the servers are joined, and their results checked, after the
//! clock stops. process_cpu_pct = CPU time of the whole process during the
//! timed phase / its wall time * 100.
//!
//! A frame's first 8 bytes are its little-endian tag (c << 32) | f, f
//! counting from 0 over the whole connection; the rest is 'x'.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Barrier};
use tokio::task::JoinHandle;

use super::{cpu_ns, now_ns, run_on, size, Kind, Res};

const FRAME: usize = 4096;
const CONNS: u64 = 8;
const HOT_FRAMES: u64 = 32;
const COLD_FRAMES: u64 = 2;
const WINDOW: u64 = 32;
const ACK: usize = 8;
const MSGS_PER_FRAME: u64 = 16;
const OWNERS: u64 = 2;
const OWNER_CAP: usize = 1024;
const SMALL: usize = 256;

fn tag(c: u64, f: u64) -> u64 {
    (c << 32) | f
}

/// The CPU stage: the fan-out workload's LCG/xorshift mix.
fn mix(seed: u64, steps: u64) -> u64 {
    crate::ff_work(seed, steps)
}

/// Frames connection c sends at step s of the rotating hotspot (W2, W4).
fn rotation_frames(s: u64, c: u64) -> u64 {
    if c == s % CONNS {
        HOT_FRAMES
    } else {
        COLD_FRAMES
    }
}

fn io_err(e: std::io::Error) -> String {
    e.to_string()
}

/// What the timed phase measured.
struct Phase {
    ns: u64,
    cpu_pct: f64,
    checksum: u64,
}

fn phase_end(t0: Instant, c0: u64, checksum: u64) -> Phase {
    let ns = now_ns(t0);
    let cpu = cpu_ns() - c0;
    Phase { ns, cpu_pct: cpu as f64 / ns.max(1) as f64 * 100.0, checksum }
}

/// Connects and accepts n connections, one after the other, so the i-th
/// accepted stream is the server end of the i-th client stream (checked).
/// Returns (client ends, server ends).
async fn connect_all(n: u64) -> Result<(Vec<TcpStream>, Vec<TcpStream>), String> {
    let l = TcpListener::bind("127.0.0.1:0").await.map_err(io_err)?;
    let addr = l.local_addr().map_err(io_err)?;
    let mut cli = Vec::with_capacity(n as usize);
    let mut srv = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let c = TcpStream::connect(addr).await.map_err(io_err)?;
        let (s, peer) = l.accept().await.map_err(io_err)?;
        if peer != c.local_addr().map_err(io_err)? {
            return Err("accepted a connection other than the one just connected".into());
        }
        c.set_nodelay(true).map_err(io_err)?;
        s.set_nodelay(true).map_err(io_err)?;
        cli.push(c);
        srv.push(s);
    }
    Ok((cli, srv))
}

async fn join_all<T>(hs: Vec<JoinHandle<Result<T, String>>>) -> Result<Vec<T>, String> {
    let mut out = Vec::with_capacity(hs.len());
    let mut err = None;
    for h in hs {
        match h.await {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => err = err.or(Some(e)),
            Err(e) => err = err.or(Some(e.to_string())),
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

// --- echo servers and clients (W1, W2, W4, W5) ------------------------------

/// Echoes `count` messages of `len` bytes, then exits.
async fn echo_server(mut s: TcpStream, len: usize, count: u64) -> Result<(), String> {
    let mut buf = vec![0u8; len];
    for _ in 0..count {
        s.read_exact(&mut buf).await.map_err(io_err)?;
        s.write_all(&buf).await.map_err(io_err)?;
    }
    Ok(())
}

/// Sends `k` messages of out.len() bytes (frames f.. of connection c) one at
/// a time, reading and checking each echo. Returns the sum of their tags.
async fn echo_round_trips(
    s: &mut TcpStream,
    out: &mut [u8],
    inb: &mut [u8],
    c: u64,
    f: &mut u64,
    k: u64,
) -> Result<u64, String> {
    let mut sum = 0u64;
    for _ in 0..k {
        let t = tag(c, *f);
        out[..8].copy_from_slice(&t.to_le_bytes());
        s.write_all(out).await.map_err(io_err)?;
        s.read_exact(inb).await.map_err(io_err)?;
        let back = u64::from_le_bytes(inb[..8].try_into().unwrap());
        if back != t {
            return Err(format!("conn {} frame {}: echo tag {:#x}, expected {:#x}", c, *f, back, t));
        }
        sum = sum.wrapping_add(t);
        *f += 1;
    }
    Ok(sum)
}

/// The client of one connection: steps[s] frames at step s, then (W2
/// barrier) a wait on the barrier, or (W4) frames*16 messages to owner
/// s mod 2. After an error it still waits on the barrier at every remaining
/// step, so the other clients are not left hanging.
async fn echo_client(
    mut s: TcpStream,
    c: u64,
    steps: Vec<u64>,
    barrier: Option<Arc<Barrier>>,
    owners: Option<Vec<mpsc::Sender<u64>>>,
) -> Result<u64, String> {
    let mut out = vec![b'x'; FRAME];
    let mut inb = vec![0u8; FRAME];
    let mut f = 0u64;
    let mut sum = 0u64;
    let mut err = None;
    for (st, &k) in steps.iter().enumerate() {
        if err.is_none() {
            match echo_round_trips(&mut s, &mut out, &mut inb, c, &mut f, k).await {
                Ok(v) => sum = sum.wrapping_add(v),
                Err(e) => err = Some(e),
            }
        }
        if err.is_none() {
            if let Some(ow) = &owners {
                let st = st as u64;
                let tx = &ow[(st % OWNERS) as usize];
                for j in 0..k * MSGS_PER_FRAME {
                    if tx.send((c << 40) | (st << 20) | j).await.is_err() {
                        err = Some("owner gone".into());
                        break;
                    }
                }
            }
        }
        if let Some(b) = &barrier {
            b.wait().await;
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}

/// Sums `count` messages, then returns the sum.
async fn owner(mut rx: mpsc::Receiver<u64>, count: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for _ in 0..count {
        sum = sum.wrapping_add(rx.recv().await.ok_or("owner: channel closed early")?);
    }
    Ok(sum)
}

/// W1, W2 and W4: connection c runs plan[c] (frames per step), window 1.
async fn echo_phase(plan: Vec<Vec<u64>>, barrier: bool, keyed: bool) -> Result<Phase, String> {
    let n = plan.len();
    let (cli, srv) = connect_all(n as u64).await?;
    let servers: Vec<_> = srv
        .into_iter()
        .zip(&plan)
        .map(|(s, p)| tokio::spawn(echo_server(s, FRAME, p.iter().sum())))
        .collect();
    // Owner o's total: the frames of every step s with s mod 2 == o, * 16.
    let mut owner_count = [0u64; OWNERS as usize];
    for p in &plan {
        for (st, &k) in p.iter().enumerate() {
            owner_count[st % OWNERS as usize] += k * MSGS_PER_FRAME;
        }
    }
    let b = barrier.then(|| Arc::new(Barrier::new(n)));

    let c0 = cpu_ns();
    let t0 = Instant::now();
    let mut owner_hs = Vec::new();
    let mut txs = Vec::new();
    if keyed {
        for &count in &owner_count {
            let (tx, rx) = mpsc::channel::<u64>(OWNER_CAP);
            txs.push(tx);
            owner_hs.push(tokio::spawn(owner(rx, count)));
        }
    }
    let clients: Vec<_> = cli
        .into_iter()
        .zip(plan)
        .enumerate()
        .map(|(c, (s, p))| {
            let ow = keyed.then(|| txs.clone());
            tokio::spawn(echo_client(s, c as u64, p, b.clone(), ow))
        })
        .collect();
    drop(txs);
    let tags = join_all(clients).await;
    let owned = join_all(owner_hs).await;
    let mut checksum = 0u64;
    for v in tags?.into_iter().chain(owned?) {
        checksum = checksum.wrapping_add(v);
    }
    let ph = phase_end(t0, c0, checksum);

    join_all(servers).await?;
    Ok(ph)
}

fn echo_res(kind: Kind, plan: Vec<Vec<u64>>, barrier: bool, keyed: bool) -> Res {
    let frames: u64 = plan.iter().flatten().sum();
    let ph = run_on(kind, echo_phase(plan, barrier, keyed))?;
    Ok((
        ph.ns as f64 / 1e3,
        format!("checksum={} process_cpu_pct={:.0} frames={}", ph.checksum, ph.cpu_pct, frames),
    ))
}

/// W1 net_stream_imbalanced_4k_hot1_light7 (us).
pub fn stream_imbalanced(kind: Kind) -> Res {
    let hot = size(2048, 256);
    let light = size(128, 16);
    let plan = (0..CONNS).map(|c| vec![if c == 0 { hot } else { light }]).collect();
    echo_res(kind, plan, false, false)
}

fn rotation_plan() -> Vec<Vec<u64>> {
    let steps = size(64, 16);
    (0..CONNS).map(|c| (0..steps).map(|s| rotation_frames(s, c)).collect()).collect()
}

/// W2 net_stream_hotspot_rotation_4k_free / _barrier (us).
pub fn stream_rotation(kind: Kind, barrier: bool) -> Res {
    echo_res(kind, rotation_plan(), barrier, false)
}

/// W4 net_keyed_hotspot_rotation_4k (us).
pub fn keyed_rotation(kind: Kind) -> Res {
    echo_res(kind, rotation_plan(), false, true)
}

// --- W3 net_pipeline_hotspot_rotation_4k_window32 ----------------------------

async fn pipeline_server(mut s: TcpStream, c: u64, n: u64) -> Result<(), String> {
    let mut buf = vec![0u8; FRAME];
    for f in 0..n {
        s.read_exact(&mut buf).await.map_err(io_err)?;
        let t = u64::from_le_bytes(buf[..8].try_into().unwrap());
        if t != tag(c, f) {
            return Err(format!("conn {} frame {}: tag {:#x}, expected {:#x}", c, f, t, tag(c, f)));
        }
        let hot = (f / 64) % CONNS;
        let steps = if c == hot { 4000 } else { 150 };
        s.write_all(&mix(t, steps).to_le_bytes()).await.map_err(io_err)?;
    }
    Ok(())
}

async fn pipeline_client(mut s: TcpStream, c: u64, n: u64) -> Result<u64, String> {
    let mut out = vec![b'x'; FRAME];
    let mut ack = [0u8; ACK];
    let (mut sent, mut acked, mut sum) = (0u64, 0u64, 0u64);
    while acked < n {
        while sent < n && sent - acked < WINDOW {
            out[..8].copy_from_slice(&tag(c, sent).to_le_bytes());
            s.write_all(&out).await.map_err(io_err)?;
            sent += 1;
        }
        s.read_exact(&mut ack).await.map_err(io_err)?;
        sum = sum.wrapping_add(u64::from_le_bytes(ack));
        acked += 1;
    }
    Ok(sum)
}

async fn pipeline_phase(n: u64) -> Result<Phase, String> {
    let (cli, srv) = connect_all(CONNS).await?;
    let servers: Vec<_> = srv
        .into_iter()
        .enumerate()
        .map(|(c, s)| tokio::spawn(pipeline_server(s, c as u64, n)))
        .collect();
    let c0 = cpu_ns();
    let t0 = Instant::now();
    let clients: Vec<_> = cli
        .into_iter()
        .enumerate()
        .map(|(c, s)| tokio::spawn(pipeline_client(s, c as u64, n)))
        .collect();
    let acks = join_all(clients).await?;
    let ph = phase_end(t0, c0, acks.into_iter().fold(0u64, u64::wrapping_add));
    join_all(servers).await?;
    Ok(ph)
}

/// W3 net_pipeline_hotspot_rotation_4k_window32 (us).
pub fn pipeline_rotation(kind: Kind) -> Res {
    let n = size(1024, 256);
    let ph = run_on(kind, pipeline_phase(n))?;
    Ok((
        ph.ns as f64 / 1e3,
        format!("checksum={} process_cpu_pct={:.0} frames={}", ph.checksum, ph.cpu_pct, CONNS * n),
    ))
}

// --- W5 net_echo_1kconn_256b ---------------------------------------------------

/// Raises the soft RLIMIT_NOFILE to the hard limit.
fn raise_nofile() -> Result<(), String> {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: rl is a valid rlimit for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}

async fn small_echo_client(mut s: TcpStream, c: u64, rounds: u64) -> Result<u64, String> {
    let mut out = vec![b'x'; SMALL];
    let mut inb = vec![0u8; SMALL];
    let mut f = 0u64;
    echo_round_trips(&mut s, &mut out, &mut inb, c, &mut f, rounds).await
}

async fn many_phase(conns: u64, rounds: u64) -> Result<Phase, String> {
    let (cli, srv) = connect_all(conns).await?;
    let servers: Vec<_> =
        srv.into_iter().map(|s| tokio::spawn(echo_server(s, SMALL, rounds))).collect();
    let c0 = cpu_ns();
    let t0 = Instant::now();
    let clients: Vec<_> = cli
        .into_iter()
        .enumerate()
        .map(|(c, s)| tokio::spawn(small_echo_client(s, c as u64, rounds)))
        .collect();
    let tags = join_all(clients).await?;
    let ph = phase_end(t0, c0, tags.into_iter().fold(0u64, u64::wrapping_add));
    join_all(servers).await?;
    Ok(ph)
}

/// W5 net_echo_1kconn_256b (ns per round trip).
pub fn echo_1kconn(kind: Kind) -> Res {
    let conns = size(1000, 200);
    let rounds = size(32, 8);
    raise_nofile()?;
    let ph = run_on(kind, many_phase(conns, rounds))?;
    let rts = conns * rounds;
    Ok((
        ph.ns as f64 / rts as f64,
        format!("checksum={} process_cpu_pct={:.0} round_trips={}", ph.checksum, ph.cpu_pct, rts),
    ))
}
