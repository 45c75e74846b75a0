//! tokio peer of spindle's benchmark suite: the workloads of bench/*.c with
//! the same sizes, the same checks and the same checksum folding, on tokio's
//! multi-thread runtime with 2 workers (runtime=tokio) and on its
//! current-thread runtime (runtime=tokio-ct). See docs/benchmarks.md.
//!
//! Output: one line per case, as bench/harness.h prints them,
//!   RESULT workload=<w> runtime=<tokio|tokio-ct> variant=<v> value=<median>
//!          unit=<u> min=<min> max=<max> reps=<n> [key=value ...]
//! or value=NA with a reason= field for a shape tokio cannot express.
//!
//! Options: -r N repetitions (default 5), -w N untimed warm-ups (default 1),
//! -q quick sizes (or BENCH_QUICK=1), -f TEXT only cases whose
//! "workload/runtime/variant" contains TEXT, -l list the cases.
//! Repetitions are interleaved across cases, as in bench/harness.c.
//!
//! Every multi-thread case runs its driver as a spawned task (so it runs on
//! a worker, as spindle's driver runs on shard 0), never in block_on's own
//! thread. Worker threads are not pinned to CPUs (tokio has no such option).

use std::fs::File;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::mpsc;

mod hotspot;

static QUICK: AtomicBool = AtomicBool::new(false);

fn size(full: u64, quick: u64) -> u64 {
    if QUICK.load(Ordering::Relaxed) {
        quick
    } else {
        full
    }
}

fn now_ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mt,   // multi-thread runtime, 2 workers
    Ct,   // current-thread runtime
    TwoCt, // two current-thread runtimes on two threads (cross-thread shapes)
}

fn build(kind: Kind) -> Runtime {
    match kind {
        Kind::Mt => Builder::new_multi_thread().worker_threads(2).enable_all().build(),
        _ => Builder::new_current_thread().enable_all().build(),
    }
    .expect("tokio runtime")
}

/// Runs fut as a spawned task of a fresh runtime of this kind.
fn run_on<F, T>(kind: Kind, fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = build(kind);
    let out = rt.block_on(async move { tokio::spawn(fut).await.expect("driver task") });
    drop(rt);
    out
}

type Res = Result<(f64, String), String>;

// --- spawn_join ---------------------------------------------------------

fn spawn_join(kind: Kind, alive_all: bool) -> Res {
    let total = size(1_000_000, 100_000);
    let per = if alive_all { total } else { 1000 };
    let ns = run_on(kind, async move {
        let mut hs = Vec::with_capacity(per as usize);
        let t0 = Instant::now();
        for _ in 0..total / per {
            for _ in 0..per {
                hs.push(tokio::spawn(async {}));
            }
            for h in hs.drain(..) {
                h.await.expect("join");
            }
        }
        now_ns(t0)
    });
    Ok((ns as f64 / total as f64, format!("tasks={}", total)))
}

// --- yield_pingpong -----------------------------------------------------

fn yield_pingpong(kind: Kind) -> Res {
    let rounds = size(2_000_000, 200_000);
    let ns = run_on(kind, async move {
        let t0 = Instant::now();
        let y = move || async move {
            for _ in 0..rounds {
                tokio::task::yield_now().await;
            }
        };
        let a = tokio::spawn(y());
        let b = tokio::spawn(y());
        a.await.expect("join");
        b.await.expect("join");
        now_ns(t0)
    });
    Ok((ns as f64 / rounds as f64, format!("rounds={}", rounds)))
}

// --- chan_pingpong ------------------------------------------------------

const CP_WARM: u64 = 64;

async fn background(stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        tokio::task::yield_now().await;
    }
}

async fn cp_responder(mut ping: mpsc::Receiver<u64>, pong: mpsc::Sender<u64>) {
    while let Some(v) = ping.recv().await {
        if pong.send(v).await.is_err() {
            break;
        }
    }
}

/// Returns (elapsed ns, timed rounds) or an error text.
async fn cp_client(
    ping: mpsc::Sender<u64>,
    mut pong: mpsc::Receiver<u64>,
    max_rounds: u64,
    budget_ns: u64,
) -> Result<(u64, u64), String> {
    let mut t0 = Instant::now();
    let mut i = 0;
    while i < CP_WARM + max_rounds {
        if i == CP_WARM {
            t0 = Instant::now();
        } else if budget_ns > 0 && i > CP_WARM && (i & 1023) == 0 && now_ns(t0) >= budget_ns {
            break;
        }
        ping.send(i).await.map_err(|_| "send")?;
        let back = pong.recv().await.ok_or("recv")?;
        if back != i {
            return Err(format!("got {} for {}", back, i));
        }
        i += 1;
    }
    Ok((now_ns(t0), i - CP_WARM))
}

fn chan_pingpong(kind: Kind, xshard: bool, busy: bool) -> Res {
    let max_rounds = if xshard { size(1_000_000, 100_000) } else { size(2_000_000, 200_000) };
    let budget = if xshard { size(500, 100) * 1_000_000 } else { 0 };
    let (ptx, prx) = mpsc::channel::<u64>(1);
    let (qtx, qrx) = mpsc::channel::<u64>(1);
    let stop = Arc::new(AtomicBool::new(false));
    let (ns, rounds) = if kind == Kind::TwoCt {
        // Client on this thread's runtime, responder on another thread's.
        let s2 = stop.clone();
        let th = std::thread::spawn(move || {
            run_on(Kind::Ct, async move {
                let bg = busy.then(|| tokio::spawn(background(s2.clone())));
                cp_responder(prx, qtx).await;
                s2.store(true, Ordering::Relaxed);
                if let Some(bg) = bg {
                    bg.await.expect("join");
                }
            })
        });
        let s1 = stop.clone();
        let r = run_on(Kind::Ct, async move {
            let bg = busy.then(|| tokio::spawn(background(s1.clone())));
            let r = cp_client(ptx, qrx, max_rounds, budget).await;
            if let Some(bg) = bg {
                // The other side stops it once the responder sees the close.
                while !s1.load(Ordering::Relaxed) {
                    tokio::task::yield_now().await;
                }
                bg.await.expect("join");
            }
            r
        });
        th.join().map_err(|_| "responder thread panicked")?;
        r?
    } else {
        run_on(kind, async move {
            let bgs: Vec<_> = if busy {
                (0..2).map(|_| tokio::spawn(background(stop.clone()))).collect()
            } else {
                Vec::new()
            };
            let q = tokio::spawn(cp_responder(prx, qtx));
            let c = tokio::spawn(cp_client(ptx, qrx, max_rounds, budget));
            let r = c.await.expect("join");
            q.await.expect("join");
            stop.store(true, Ordering::Relaxed);
            for b in bgs {
                b.await.expect("join");
            }
            r
        })?
    };
    if rounds == 0 {
        return Err("no rounds".into());
    }
    Ok((ns as f64 / rounds as f64, format!("rounds={}", rounds)))
}

// --- mutex_contended ----------------------------------------------------

fn outside_work(x: &mut u64) {
    for _ in 0..20 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }
}

fn mutex_contended(kind: Kind) -> Res {
    let tasks = 4u64;
    let iters = size(400_000, 40_000) / tasks;
    let (ns, counter) = run_on(kind, async move {
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        let t0 = Instant::now();
        let hs: Vec<_> = (0..tasks)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    let mut x = 88172645463325252u64;
                    for _ in 0..iters {
                        *m.lock().await += 1;
                        outside_work(&mut x);
                    }
                    std::hint::black_box(x);
                })
            })
            .collect();
        for h in hs {
            h.await.expect("join");
        }
        let ns = now_ns(t0);
        let c = *m.lock().await;
        (ns, c)
    });
    if counter != iters * tasks {
        return Err(format!("counter {} expected {}", counter, iters * tasks));
    }
    Ok((ns as f64 / counter as f64, format!("tasks={} sections={}", tasks, counter)))
}

// --- fanout_fanin -------------------------------------------------------

const FF_REQUESTS: u64 = 64;
const FF_FANOUT: u64 = 16;

fn ff_work(seed: u64, steps: u64) -> u64 {
    let mut x = seed;
    for _ in 0..steps {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x ^= x >> 29;
        x ^= x << 11;
        x ^= x >> 31;
    }
    x
}

async fn ff_pass(skewed: bool) -> u64 {
    let mut acc = 0u64;
    let mut hs = Vec::with_capacity(FF_FANOUT as usize);
    for r in 0..FF_REQUESTS {
        for n in 0..FF_FANOUT {
            let seed = ((r << 8) | n).wrapping_mul(0x9e3779b97f4a7c15).wrapping_add(1);
            let steps = if !skewed {
                2000
            } else if n == r % FF_FANOUT {
                20000
            } else {
                500
            };
            hs.push(tokio::spawn(async move { ff_work(seed, steps) }));
        }
        for h in hs.drain(..) {
            let res = h.await.expect("join");
            acc = (acc ^ res).wrapping_mul(0x100000001b3);
            acc ^= acc >> 32;
        }
    }
    acc
}

fn fanout(kind: Kind, skewed: bool) -> Res {
    let passes = size(20, 3);
    let r = run_on(kind, async move {
        let first = ff_pass(skewed).await;
        let t0 = Instant::now();
        for _ in 0..passes {
            let s = ff_pass(skewed).await;
            if s != first {
                return Err(format!("checksum changed: {:016x} vs {:016x}", s, first));
            }
        }
        Ok((now_ns(t0), first))
    });
    let (ns, sum) = r?;
    let reqs = passes * FF_REQUESTS;
    Ok((
        ns as f64 / reqs as f64 / 1000.0,
        format!("checksum={:016x} requests={} fanout={}", sum, reqs, FF_FANOUT),
    ))
}

// --- steady -------------------------------------------------------------

const ST_PINGS: u64 = 256;
const ST_ONE_WAY: u64 = 2048;
const ST_WARM: u64 = 5;
const ST_FLUSH: u64 = u64::MAX;

async fn st_responder(mut req: mpsc::Receiver<u64>, rsp: mpsc::Sender<u64>, one_way: bool) {
    let mut sum = 0u64;
    while let Some(v) = req.recv().await {
        if !one_way {
            if rsp.send(v).await.is_err() {
                return;
            }
        } else if v == ST_FLUSH {
            if rsp.send(sum).await.is_err() {
                return;
            }
            sum = 0;
        } else {
            sum = sum.wrapping_add(v);
        }
    }
}

async fn st_client(
    req: mpsc::Sender<u64>,
    mut rsp: mpsc::Receiver<u64>,
    one_way: bool,
    iters: u64,
) -> Result<u64, String> {
    let mut t0 = Instant::now();
    for it in 0..ST_WARM + iters {
        if it == ST_WARM {
            t0 = Instant::now();
        }
        if !one_way {
            for i in 0..ST_PINGS {
                let v = it * ST_PINGS + i;
                req.send(v).await.map_err(|_| "send")?;
                if rsp.recv().await != Some(v) {
                    return Err("bad echo".into());
                }
            }
        } else {
            let mut want = 0u64;
            for i in 0..ST_ONE_WAY {
                let v = it + i;
                want = want.wrapping_add(v);
                req.send(v).await.map_err(|_| "send")?;
            }
            req.send(ST_FLUSH).await.map_err(|_| "send")?;
            if rsp.recv().await != Some(want) {
                return Err("bad sum".into());
            }
        }
    }
    Ok(now_ns(t0))
}

fn steady(kind: Kind, one_way: bool) -> Res {
    let iters = size(200, 20);
    let ns = run_on(kind, async move {
        let (rtx, rrx) = mpsc::channel::<u64>(if one_way { ST_ONE_WAY as usize } else { 1 });
        let (stx, srx) = mpsc::channel::<u64>(1);
        let q = tokio::spawn(st_responder(rrx, stx, one_way));
        let c = tokio::spawn(st_client(rtx, srx, one_way, iters));
        let r = c.await.expect("join");
        q.await.expect("join");
        r
    })?;
    Ok((ns as f64 / 1e3 / iters as f64, format!("iters={}", iters)))
}

// --- cold_start_ping_pong -----------------------------------------------

const CS_ROUNDS: u64 = 64;

fn cold_start(kind: Kind) -> Res {
    let starts = size(50, 10);
    let mut total = 0u64;
    let mut sum = 0u64;
    for _ in 0..starts {
        let t0 = Instant::now();
        let rt = build(kind);
        let s = rt.block_on(async {
            tokio::spawn(async {
                let (ptx, prx) = mpsc::channel::<u64>(1);
                let (qtx, mut qrx) = mpsc::channel::<u64>(1);
                let q = tokio::spawn(cp_responder(prx, qtx));
                let c = tokio::spawn(async move {
                    let mut s = 0u64;
                    for i in 0..CS_ROUNDS {
                        if ptx.send(i).await.is_err() {
                            break;
                        }
                        s += qrx.recv().await.unwrap_or(0);
                    }
                    s
                });
                let s = c.await.expect("join");
                q.await.expect("join");
                s
            })
            .await
            .expect("join")
        });
        drop(rt);
        total += now_ns(t0);
        sum = s;
    }
    Ok((total as f64 / starts as f64 / 1e3, format!("checksum={} starts={}", sum, starts)))
}

// --- timer_storm ------------------------------------------------------

fn timer_storm(kind: Kind) -> Res {
    let tasks = size(100_000, 10_000);
    let (ns, sum) = run_on(kind, async move {
        let sleep_us = |i: u64| (i * 7919) % 1000;
        let t0 = Instant::now();
        let hs: Vec<_> = (0..tasks)
            .map(|i| {
                tokio::spawn(tokio::time::sleep(std::time::Duration::from_micros(sleep_us(i))))
            })
            .collect();
        let mut sum = 0u64;
        for (i, h) in hs.into_iter().enumerate() {
            h.await.expect("join");
            sum += sleep_us(i as u64);
        }
        (now_ns(t0), sum)
    });
    Ok((ns as f64 / tasks as f64, format!("checksum={} tasks={}", sum, tasks)))
}

// --- net_echo -----------------------------------------------------------

const RTT_MSG: usize = 256;
const FRAME: usize = 4096;
const WINDOW: u64 = 32;
const ACK: usize = 8;

async fn net_serve(mut s: TcpStream, stream: bool, rounds: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; FRAME];
    let n = if stream { FRAME } else { RTT_MSG };
    for i in 0..rounds {
        s.read_exact(&mut buf[..n]).await?;
        if stream {
            s.write_all(&i.to_ne_bytes()).await?;
        } else {
            s.write_all(&buf[..n]).await?;
        }
    }
    Ok(())
}

async fn net_drive(mut s: TcpStream, stream: bool, rounds: u64) -> std::io::Result<u64> {
    let out = vec![b'x'; FRAME];
    let mut inb = vec![0u8; FRAME];
    let t0 = Instant::now();
    if !stream {
        for _ in 0..rounds {
            s.write_all(&out[..RTT_MSG]).await?;
            s.read_exact(&mut inb[..RTT_MSG]).await?;
        }
    } else {
        let (mut sent, mut acked) = (0u64, 0u64);
        while acked < rounds {
            while sent < rounds && sent - acked < WINDOW {
                s.write_all(&out).await?;
                sent += 1;
            }
            s.read_exact(&mut inb[..ACK]).await?;
            acked += 1;
        }
    }
    Ok(now_ns(t0))
}

fn net_echo(kind: Kind, stream: bool) -> Res {
    let rounds = if stream { size(2048, 256) } else { size(512, 128) };
    let c0 = cpu_ns();
    let w0 = Instant::now();
    let ns = run_on(kind, async move {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let srv = tokio::spawn(async move {
            let (s, _) = l.accept().await?;
            s.set_nodelay(true)?;
            net_serve(s, stream, rounds).await
        });
        let cli = tokio::spawn(async move {
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            net_drive(s, stream, rounds).await
        });
        let ns = cli.await.expect("join")?;
        srv.await.expect("join")?;
        Ok::<u64, std::io::Error>(ns)
    })
    .map_err(|e| e.to_string())?;
    let cpu = (cpu_ns() - c0) as f64 / now_ns(w0) as f64 * 100.0;
    let extra = if stream {
        format!(
            "frames={} mib_per_s={:.0} process_cpu_pct={:.0}",
            rounds,
            rounds as f64 * FRAME as f64 / (1 << 20) as f64 / (ns as f64 / 1e9),
            cpu
        )
    } else {
        format!("round_trips={} process_cpu_pct={:.0}", rounds, cpu)
    };
    Ok((ns as f64 / rounds as f64, extra))
}

/// CPU time of this process (all threads), ns.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// --- fs_read ------------------------------------------------------------

const FILE_BYTES: u64 = 16 << 20;
const BLOCK: usize = 4096;
const NBLOCKS: u64 = FILE_BYTES / BLOCK as u64;
const RTT_READS: u64 = 256;
const QD: u64 = 32;
const BATCHES: u64 = 128;

fn make_file() -> std::io::Result<File> {
    let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    let path = format!("{}/spindle-peer-tokio-{}", dir, std::process::id());
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    let mut block = vec![0u8; BLOCK];
    for b in 0..NBLOCKS {
        block.fill((b * 37) as u8);
        f.write_all_at(&block, b * BLOCK as u64)?;
    }
    for b in 0..NBLOCKS {
        f.read_exact_at(&mut block, b * BLOCK as u64)?;
    }
    Ok(f)
}

/// One read the way tokio::fs reads: on the blocking pool. Checks the block.
async fn read_block(f: Arc<File>, b: u64, buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let (buf, n) = tokio::task::spawn_blocking(move || {
        let mut buf = buf;
        let n = f.read_at(&mut buf, b * BLOCK as u64);
        (buf, n)
    })
    .await
    .map_err(|e| e.to_string())?;
    match n {
        Ok(n) if n == BLOCK && buf[0] == (b * 37) as u8 => Ok(buf),
        _ => Err(format!("bad read of block {}", b)),
    }
}

fn fs_read(kind: Kind, qd32: bool, file: &Arc<File>) -> Res {
    let passes = size(64, 8);
    let f = file.clone();
    let (ns, reads) = run_on(kind, async move {
        let t0 = Instant::now();
        if !qd32 {
            let mut buf = vec![0u8; BLOCK];
            for p in 0..passes {
                for i in 0..RTT_READS {
                    buf = read_block(f.clone(), (p * RTT_READS + i) % NBLOCKS, buf).await?;
                }
            }
            return Ok((now_ns(t0), passes * RTT_READS));
        }
        let mut hs = Vec::with_capacity(QD as usize);
        for _ in 0..passes {
            for batch in 0..BATCHES {
                for i in 0..QD {
                    let b = (batch * QD + i) % NBLOCKS;
                    let f = f.clone();
                    hs.push(tokio::spawn(async move {
                        read_block(f, b, vec![0u8; BLOCK]).await.map(|_| ())
                    }));
                }
                for h in hs.drain(..) {
                    h.await.map_err(|e| e.to_string())??;
                }
            }
        }
        Ok::<(u64, u64), String>((now_ns(t0), passes * BATCHES * QD))
    })?;
    Ok((ns as f64 / reads as f64, format!("reads={} path=spawn_blocking", reads)))
}

// --- the harness --------------------------------------------------------

type CaseFn = Box<dyn Fn() -> Res>;

struct Case {
    workload: &'static str,
    runtime: &'static str,
    variant: &'static str,
    unit: &'static str,
    run: Option<CaseFn>,
    na: &'static str,
    samples: Vec<f64>,
    extra: String,
    err: Option<String>,
}

fn case(w: &'static str, kind: Kind, v: &'static str, u: &'static str, f: CaseFn) -> Case {
    let runtime = if kind == Kind::Mt { "tokio" } else { "tokio-ct" };
    Case { workload: w, runtime, variant: v, unit: u, run: Some(f), na: "", samples: vec![],
           extra: String::new(), err: None }
}

#[allow(dead_code)] // for a shape tokio cannot express; none today
fn na(w: &'static str, kind: Kind, v: &'static str, u: &'static str, why: &'static str) -> Case {
    let mut c = case(w, kind, v, u, Box::new(|| Err(String::new())));
    c.run = None;
    c.na = why;
    c
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn cases(file: Arc<File>) -> Vec<Case> {
    use Kind::*;
    const MT: &str = "mt-2workers";
    const CT: &str = "current-thread";
    let mut v = Vec::new();
    for &(k, name) in &[(Mt, MT), (Ct, CT)] {
        v.push(case("spawn_join_batch1k", k, name, "ns", Box::new(move || spawn_join(k, false))));
        v.push(case("spawn_join_alive1m", k, name, "ns", Box::new(move || spawn_join(k, true))));
        v.push(case("yield_pingpong", k, name, "ns", Box::new(move || yield_pingpong(k))));
        v.push(case("chan_pingpong", k, name, "ns", Box::new(move || chan_pingpong(k, false, false))));
        v.push(case("mutex_contended", k, name, "ns", Box::new(move || mutex_contended(k))));
        v.push(case("fanout_fanin_balanced", k, name, "us", Box::new(move || fanout(k, false))));
        v.push(case("fanout_fanin_skewed", k, name, "us", Box::new(move || fanout(k, true))));
        v.push(case("steady_ping_pong_rtt", k, name, "us", Box::new(move || steady(k, false))));
        v.push(case("steady_one_way_send_drain", k, name, "us", Box::new(move || steady(k, true))));
        v.push(case("cold_start_ping_pong", k, name, "us", Box::new(move || cold_start(k))));
        v.push(case("net_echo_rtt_256b", k, name, "ns", Box::new(move || net_echo(k, false))));
        v.push(case("net_stream_throughput_4k_window32", k, name, "ns",
                    Box::new(move || net_echo(k, true))));
        let f1 = file.clone();
        v.push(case("fs_read_rtt_4k", k, name, "ns", Box::new(move || fs_read(k, false, &f1))));
        let f2 = file.clone();
        v.push(case("fs_read_throughput_4k_qd32", k, name, "ns",
                    Box::new(move || fs_read(k, true, &f2))));
    }
    // Cross-thread channel ping-pong: the multi-thread runtime places the two
    // tasks itself; the current-thread flavour runs one runtime per thread.
    for &(busy, w) in &[(false, "chan_pingpong_xshard_idle"), (true, "chan_pingpong_xshard_busy")] {
        v.push(case(w, Mt, MT, "ns", Box::new(move || chan_pingpong(Mt, true, busy))));
        v.push(case(w, TwoCt, "2rt-2threads", "ns",
                    Box::new(move || chan_pingpong(TwoCt, true, busy))));
    }
    for &(k, name) in &[(Mt, MT), (Ct, CT)] {
        v.push(case("timer_storm", k, name, "ns", Box::new(move || timer_storm(k))));
    }
    // The multi-connection network workloads of bench/net_hotspot.c.
    for &(k, name) in &[(Mt, MT), (Ct, CT)] {
        v.push(case("net_stream_imbalanced_4k_hot1_light7", k, name, "us",
                    Box::new(move || hotspot::stream_imbalanced(k))));
        v.push(case("net_stream_hotspot_rotation_4k_free", k, name, "us",
                    Box::new(move || hotspot::stream_rotation(k, false))));
        v.push(case("net_stream_hotspot_rotation_4k_barrier", k, name, "us",
                    Box::new(move || hotspot::stream_rotation(k, true))));
        v.push(case("net_pipeline_hotspot_rotation_4k_window32", k, name, "us",
                    Box::new(move || hotspot::pipeline_rotation(k))));
        v.push(case("net_keyed_hotspot_rotation_4k", k, name, "us",
                    Box::new(move || hotspot::keyed_rotation(k))));
        v.push(case("net_echo_1kconn_256b", k, name, "ns",
                    Box::new(move || hotspot::echo_1kconn(k))));
    }
    v
}

fn main() {
    let mut reps = 5usize;
    let mut warmup = 1usize;
    let mut filter = String::new();
    let mut list = false;
    if std::env::var("BENCH_QUICK").map(|v| !v.is_empty() && v != "0").unwrap_or(false) {
        QUICK.store(true, Ordering::Relaxed);
    }
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let next = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "-r" => { reps = next(i).parse().expect("-r N"); i += 1; }
            "-w" => { warmup = next(i).parse().expect("-w N"); i += 1; }
            "-f" => { filter = next(i); i += 1; }
            "-q" => QUICK.store(true, Ordering::Relaxed),
            "-l" => list = true,
            a => { eprintln!("spindle-peer-tokio: unknown option {}", a); std::process::exit(2); }
        }
        i += 1;
    }
    let file = Arc::new(make_file().expect("fs_read file"));
    let mut cs = cases(file);
    cs.retain(|c| format!("{}/{}/{}", c.workload, c.runtime, c.variant).contains(&filter));
    if list {
        for c in &cs {
            println!("{}/{}/{}", c.workload, c.runtime, c.variant);
        }
        return;
    }
    for rep in 0..warmup + reps {
        for c in cs.iter_mut() {
            if c.err.is_some() {
                continue;
            }
            let Some(f) = c.run.as_ref() else { continue };
            match f() {
                Ok((val, extra)) if rep >= warmup => {
                    c.samples.push(val);
                    c.extra = extra;
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("spindle-peer-tokio: {}/{}/{}: {}", c.workload, c.runtime,
                              c.variant, e);
                    c.err = Some(e);
                }
            }
        }
    }
    let mut status = 0;
    for c in cs.iter_mut() {
        let head = format!("RESULT workload={} runtime={} variant={}", c.workload, c.runtime,
                           c.variant);
        if c.run.is_none() {
            println!("{} value=NA unit={} reason={}", head, c.unit, c.na);
        } else if c.err.is_some() || c.samples.is_empty() {
            println!("{} value=NA unit={} reason=failed", head, c.unit);
            status = 1;
        } else {
            let mut s = c.samples.clone();
            let med = median(&mut s);
            println!("{} value={:.3} unit={} min={:.3} max={:.3} reps={} {}{}", head, med,
                     c.unit, s[0], s[s.len() - 1], s.len(), c.extra,
                     if QUICK.load(Ordering::Relaxed) { " quick=1" } else { "" });
        }
    }
    std::process::exit(status);
}
