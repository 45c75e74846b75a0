// Go peer of spindle's benchmark suite: the workloads of bench/*.c with the
// same sizes, the same checks and the same checksum folding, on Go's own
// scheduler with GOMAXPROCS set explicitly per case (variant=gomaxprocsN).
// See docs/benchmarks.md. Built from Debian's golang-go with no modules.
//
// Output: one line per case, as bench/harness.h prints them,
//
//	RESULT workload=<w> runtime=go variant=<v> value=<median> unit=<u>
//	       min=<min> max=<max> reps=<n> [key=value ...]
//
// or value=NA with a reason= field for a shape Go cannot express.
//
// Options: -r N repetitions (default 5), -w N untimed warm-ups (default 1),
// -q quick sizes (or BENCH_QUICK=1), -f TEXT only cases whose
// "workload/runtime/variant" contains TEXT, -l list the cases. Repetitions
// are interleaved across cases, as in bench/harness.c.
//
// Go has no join handle: "join in spawn order" is a sync.WaitGroup (or one
// done channel per goroutine where the order matters) with the results
// folded in spawn order afterwards, which gives the same checksum.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var quick bool

func size(full, q uint64) uint64 {
	if quick {
		return q
	}
	return full
}

type result struct {
	value float64
	extra string
}

// --- spawn_join ------------------------------------------------------------

func spawnJoin(aliveAll bool) (result, error) {
	total := size(1000000, 100000)
	per := uint64(1000)
	if aliveAll {
		per = total
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	for r := uint64(0); r < total/per; r++ {
		wg.Add(int(per))
		for i := uint64(0); i < per; i++ {
			go wg.Done()
		}
		wg.Wait()
	}
	ns := time.Since(t0).Nanoseconds()
	return result{float64(ns) / float64(total), fmt.Sprintf("tasks=%d", total)}, nil
}

// --- yield_pingpong --------------------------------------------------------

func yieldPingpong() (result, error) {
	rounds := size(2000000, 200000)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(2)
	for k := 0; k < 2; k++ {
		go func() {
			for i := uint64(0); i < rounds; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	ns := time.Since(t0).Nanoseconds()
	return result{float64(ns) / float64(rounds), fmt.Sprintf("rounds=%d", rounds)}, nil
}

// --- chan_pingpong ---------------------------------------------------------

const cpWarm = 64

func chanPingpong(xshard, busy bool) (result, error) {
	maxRounds := size(2000000, 200000)
	budget := int64(0)
	if xshard {
		maxRounds = size(1000000, 100000)
		budget = int64(size(500, 100)) * 1000000
	}
	ping := make(chan uint64)
	pong := make(chan uint64)
	var stop atomic.Bool
	var bg sync.WaitGroup
	if busy {
		bg.Add(2)
		for k := 0; k < 2; k++ {
			go func() {
				for !stop.Load() {
					runtime.Gosched()
				}
				bg.Done()
			}()
		}
	}
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	var t0 time.Time
	i := uint64(0)
	var err error
	for ; i < cpWarm+maxRounds; i++ {
		if i == cpWarm {
			t0 = time.Now()
		} else if budget > 0 && i > cpWarm && i&1023 == 0 && time.Since(t0).Nanoseconds() >= budget {
			break
		}
		ping <- i
		if back := <-pong; back != i {
			err = fmt.Errorf("got %d for %d", back, i)
			break
		}
	}
	ns := time.Since(t0).Nanoseconds()
	close(ping)
	<-pong
	stop.Store(true)
	bg.Wait()
	rounds := i - cpWarm
	if err != nil || rounds == 0 {
		return result{}, errors.New("chan_pingpong failed")
	}
	return result{float64(ns) / float64(rounds), fmt.Sprintf("rounds=%d", rounds)}, nil
}

// --- mutex_contended -------------------------------------------------------

func outsideWork(x *uint64) {
	for i := 0; i < 20; i++ {
		*x ^= *x << 13
		*x ^= *x >> 7
		*x ^= *x << 17
	}
}

var sink uint64

func mutexContended() (result, error) {
	const tasks = 4
	iters := size(400000, 40000) / tasks
	var m sync.Mutex
	var counter uint64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(tasks)
	for k := 0; k < tasks; k++ {
		go func() {
			x := uint64(88172645463325252)
			for i := uint64(0); i < iters; i++ {
				m.Lock()
				counter++
				m.Unlock()
				outsideWork(&x)
			}
			atomic.AddUint64(&sink, x)
			wg.Done()
		}()
	}
	wg.Wait()
	ns := time.Since(t0).Nanoseconds()
	if counter != iters*tasks {
		return result{}, fmt.Errorf("counter %d expected %d", counter, iters*tasks)
	}
	return result{float64(ns) / float64(counter),
		fmt.Sprintf("tasks=%d sections=%d", tasks, counter)}, nil
}

// --- fanout_fanin ----------------------------------------------------------

const ffRequests = 64
const ffFanout = 16

func ffWork(seed, steps uint64) uint64 {
	x := seed
	for i := uint64(0); i < steps; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
		x ^= x << 11
		x ^= x >> 31
	}
	return x
}

func ffPass(skewed bool) uint64 {
	var acc uint64
	var res [ffFanout]uint64
	var wg sync.WaitGroup
	for r := uint64(0); r < ffRequests; r++ {
		wg.Add(ffFanout)
		for n := uint64(0); n < ffFanout; n++ {
			seed := (r<<8|n)*0x9e3779b97f4a7c15 + 1
			steps := uint64(2000)
			if skewed {
				steps = 500
				if n == r%ffFanout {
					steps = 20000
				}
			}
			go func(n, seed, steps uint64) {
				res[n] = ffWork(seed, steps)
				wg.Done()
			}(n, seed, steps)
		}
		wg.Wait()
		for n := 0; n < ffFanout; n++ {
			acc = (acc ^ res[n]) * 0x100000001b3
			acc ^= acc >> 32
		}
	}
	return acc
}

func fanout(skewed bool) (result, error) {
	passes := size(20, 3)
	first := ffPass(skewed)
	t0 := time.Now()
	for p := uint64(0); p < passes; p++ {
		if s := ffPass(skewed); s != first {
			return result{}, fmt.Errorf("checksum changed: %016x vs %016x", s, first)
		}
	}
	ns := time.Since(t0).Nanoseconds()
	reqs := passes * ffRequests
	return result{float64(ns) / float64(reqs) / 1000,
		fmt.Sprintf("checksum=%016x requests=%d fanout=%d", first, reqs, ffFanout)}, nil
}

// --- steady ----------------------------------------------------------------

const stPings = 256
const stOneWay = 2048
const stWarm = 5
const stFlush = ^uint64(0)

func steady(oneWay bool) (result, error) {
	iters := size(200, 20)
	capacity := 0
	if oneWay {
		capacity = stOneWay
	}
	req := make(chan uint64, capacity)
	rsp := make(chan uint64)
	go func() {
		var sum uint64
		for v := range req {
			if !oneWay {
				rsp <- v
			} else if v == stFlush {
				rsp <- sum
				sum = 0
			} else {
				sum += v
			}
		}
	}()
	defer close(req)
	var t0 time.Time
	for it := uint64(0); it < stWarm+iters; it++ {
		if it == stWarm {
			t0 = time.Now()
		}
		if !oneWay {
			for i := uint64(0); i < stPings; i++ {
				v := it*stPings + i
				req <- v
				if <-rsp != v {
					return result{}, errors.New("bad echo")
				}
			}
		} else {
			var want uint64
			for i := uint64(0); i < stOneWay; i++ {
				v := it + i
				want += v
				req <- v
			}
			req <- stFlush
			if <-rsp != want {
				return result{}, errors.New("bad sum")
			}
		}
	}
	ns := time.Since(t0).Nanoseconds()
	return result{float64(ns) / 1e3 / float64(iters), fmt.Sprintf("iters=%d", iters)}, nil
}

// --- timer_storm -----------------------------------------------------------

func timerStorm() (result, error) {
	tasks := size(100000, 10000)
	sleepUs := func(i uint64) uint64 { return (i * 7919) % 1000 }
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(int(tasks))
	for i := uint64(0); i < tasks; i++ {
		go func(d time.Duration) {
			time.Sleep(d)
			wg.Done()
		}(time.Duration(sleepUs(i)) * time.Microsecond)
	}
	wg.Wait()
	ns := time.Since(t0).Nanoseconds()
	var sum uint64
	for i := uint64(0); i < tasks; i++ {
		sum += sleepUs(i)
	}
	return result{float64(ns) / float64(tasks), fmt.Sprintf("checksum=%d tasks=%d", sum, tasks)}, nil
}

// --- net_echo --------------------------------------------------------------

const rttMsg = 256
const frame = 4096
const window = 32
const ack = 8

func netServe(c net.Conn, stream bool, rounds uint64) error {
	buf := make([]byte, frame)
	n := rttMsg
	if stream {
		n = frame
	}
	var a [ack]byte
	for i := uint64(0); i < rounds; i++ {
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return err
		}
		var err error
		if stream {
			a[0] = byte(i)
			_, err = c.Write(a[:])
		} else {
			_, err = c.Write(buf[:n])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func netDrive(c net.Conn, stream bool, rounds uint64) (int64, error) {
	out := make([]byte, frame)
	for i := range out {
		out[i] = 'x'
	}
	in := make([]byte, frame)
	t0 := time.Now()
	if !stream {
		for i := uint64(0); i < rounds; i++ {
			if _, err := c.Write(out[:rttMsg]); err != nil {
				return 0, err
			}
			if _, err := io.ReadFull(c, in[:rttMsg]); err != nil {
				return 0, err
			}
		}
	} else {
		var sent, acked uint64
		for acked < rounds {
			for sent < rounds && sent-acked < window {
				if _, err := c.Write(out); err != nil {
					return 0, err
				}
				sent++
			}
			if _, err := io.ReadFull(c, in[:ack]); err != nil {
				return 0, err
			}
			acked++
		}
	}
	return time.Since(t0).Nanoseconds(), nil
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func netEcho(stream bool) (result, error) {
	rounds := size(512, 128)
	if stream {
		rounds = size(2048, 256)
	}
	c0, w0 := cpuNs(), time.Now()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		c.(*net.TCPConn).SetNoDelay(true)
		srvErr <- netServe(c, stream, rounds)
		c.Close()
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return result{}, err
	}
	c.(*net.TCPConn).SetNoDelay(true)
	ns, err := netDrive(c, stream, rounds)
	c.Close()
	if e := <-srvErr; err == nil {
		err = e
	}
	if err != nil {
		return result{}, err
	}
	cpu := float64(cpuNs()-c0) / float64(time.Since(w0).Nanoseconds()) * 100
	extra := fmt.Sprintf("round_trips=%d process_cpu_pct=%.0f", rounds, cpu)
	if stream {
		extra = fmt.Sprintf("frames=%d mib_per_s=%.0f process_cpu_pct=%.0f", rounds,
			float64(rounds)*frame/(1<<20)/(float64(ns)/1e9), cpu)
	}
	return result{float64(ns) / float64(rounds), extra}, nil
}

// --- fs_read ---------------------------------------------------------------

const fileBytes = 16 << 20
const block = 4096
const nblocks = fileBytes / block
const rttReads = 256
const qd = 32
const batches = 128

var file *os.File

func makeFile() error {
	dir := os.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	f, err := os.CreateTemp(dir, "spindle-peer-go-")
	if err != nil {
		return err
	}
	os.Remove(f.Name())
	b := make([]byte, block)
	for i := 0; i < nblocks; i++ {
		for k := range b {
			b[k] = byte(i * 37)
		}
		if _, err := f.WriteAt(b, int64(i)*block); err != nil {
			return err
		}
	}
	for i := 0; i < nblocks; i++ {
		if _, err := f.ReadAt(b, int64(i)*block); err != nil {
			return err
		}
	}
	file = f
	return nil
}

func readBlock(buf []byte, b uint64) error {
	n, err := file.ReadAt(buf, int64(b)*block)
	if err != nil || n != block || buf[0] != byte(b*37) {
		return fmt.Errorf("bad read of block %d", b)
	}
	return nil
}

func fsRead(qd32 bool) (result, error) {
	passes := size(64, 8)
	t0 := time.Now()
	var reads uint64
	if !qd32 {
		buf := make([]byte, block)
		for p := uint64(0); p < passes; p++ {
			for i := uint64(0); i < rttReads; i++ {
				if err := readBlock(buf, (p*rttReads+i)%nblocks); err != nil {
					return result{}, err
				}
			}
		}
		reads = passes * rttReads
	} else {
		var bufs [qd][block]byte
		var failed atomic.Bool
		var wg sync.WaitGroup
		for p := uint64(0); p < passes; p++ {
			for bt := uint64(0); bt < batches; bt++ {
				wg.Add(qd)
				for i := uint64(0); i < qd; i++ {
					go func(i, b uint64) {
						if readBlock(bufs[i][:], b) != nil {
							failed.Store(true)
						}
						wg.Done()
					}(i, (bt*qd+i)%nblocks)
				}
				wg.Wait()
			}
		}
		if failed.Load() {
			return result{}, errors.New("bad read")
		}
		reads = passes * batches * qd
	}
	ns := time.Since(t0).Nanoseconds()
	return result{float64(ns) / float64(reads), fmt.Sprintf("reads=%d path=direct-pread", reads)}, nil
}

// --- the harness -----------------------------------------------------------

type benchCase struct {
	workload, variant, unit string
	procs                   int
	run                     func() (result, error)
	na                      string
	samples                 []float64
	extra                   string
	err                     error
}

func cases() []*benchCase {
	c := func(w string, procs int, u string, f func() (result, error)) *benchCase {
		return &benchCase{workload: w, variant: fmt.Sprintf("gomaxprocs%d", procs), unit: u,
			procs: procs, run: f}
	}
	return []*benchCase{
		c("spawn_join_batch1k", 2, "ns", func() (result, error) { return spawnJoin(false) }),
		c("spawn_join_batch1k", 1, "ns", func() (result, error) { return spawnJoin(false) }),
		c("spawn_join_alive1m", 2, "ns", func() (result, error) { return spawnJoin(true) }),
		c("yield_pingpong", 1, "ns", yieldPingpong),
		c("chan_pingpong", 1, "ns", func() (result, error) { return chanPingpong(false, false) }),
		c("chan_pingpong_xshard_idle", 2, "ns", func() (result, error) { return chanPingpong(true, false) }),
		c("chan_pingpong_xshard_busy", 2, "ns", func() (result, error) { return chanPingpong(true, true) }),
		c("mutex_contended", 2, "ns", mutexContended),
		c("fanout_fanin_balanced", 2, "us", func() (result, error) { return fanout(false) }),
		c("fanout_fanin_skewed", 2, "us", func() (result, error) { return fanout(true) }),
		c("steady_ping_pong_rtt", 2, "us", func() (result, error) { return steady(false) }),
		c("steady_one_way_send_drain", 2, "us", func() (result, error) { return steady(true) }),
		{workload: "cold_start_ping_pong", variant: "gomaxprocs2", unit: "us",
			na: "go_runtime_cannot_be_created_or_shut_down_in_a_process"},
		c("timer_storm", 2, "ns", timerStorm),
		c("net_echo_rtt_256b", 2, "ns", func() (result, error) { return netEcho(false) }),
		c("net_stream_throughput_4k_window32", 2, "ns", func() (result, error) { return netEcho(true) }),
		c("net_stream_imbalanced_4k_hot1_light7", 2, "us", hsImbalanced),
		c("net_stream_hotspot_rotation_4k_free", 2, "us", func() (result, error) { return hsRotation(false, false) }),
		c("net_stream_hotspot_rotation_4k_barrier", 2, "us", func() (result, error) { return hsRotation(true, false) }),
		c("net_pipeline_hotspot_rotation_4k_window32", 2, "us", hsPipeline),
		c("net_keyed_hotspot_rotation_4k", 2, "us", func() (result, error) { return hsRotation(false, true) }),
		c("net_echo_1kconn_256b", 2, "ns", hsManyConns),
		c("net_echo_1kconn_256b", 1, "ns", hsManyConns),
		c("fs_read_rtt_4k", 2, "ns", func() (result, error) { return fsRead(false) }),
		c("fs_read_throughput_4k_qd32", 2, "ns", func() (result, error) { return fsRead(true) }),
	}
}

func main() {
	reps := flag.Int("r", 5, "repetitions")
	warmup := flag.Int("w", 1, "untimed warm-up repetitions")
	flag.BoolVar(&quick, "q", false, "quick sizes")
	filter := flag.String("f", "", "only cases whose workload/runtime/variant contains this")
	list := flag.Bool("l", false, "list the cases")
	flag.Parse()
	if v := os.Getenv("BENCH_QUICK"); v != "" && v != "0" {
		quick = true
	}
	var cs []*benchCase
	for _, c := range cases() {
		if strings.Contains(c.workload+"/go/"+c.variant, *filter) {
			cs = append(cs, c)
		}
	}
	if *list {
		for _, c := range cs {
			fmt.Printf("%s/go/%s\n", c.workload, c.variant)
		}
		return
	}
	if err := makeFile(); err != nil {
		fmt.Fprintln(os.Stderr, "spindle-peer-go: fs_read file:", err)
		os.Exit(1)
	}
	for rep := 0; rep < *warmup+*reps; rep++ {
		for _, c := range cs {
			if c.run == nil || c.err != nil {
				continue
			}
			runtime.GOMAXPROCS(c.procs)
			runtime.GC()
			r, err := c.run()
			if err != nil {
				fmt.Fprintf(os.Stderr, "spindle-peer-go: %s/%s: %v\n", c.workload, c.variant, err)
				c.err = err
			} else if rep >= *warmup {
				c.samples = append(c.samples, r.value)
				c.extra = r.extra
			}
		}
	}
	status := 0
	q := ""
	if quick {
		q = " quick=1"
	}
	for _, c := range cs {
		head := fmt.Sprintf("RESULT workload=%s runtime=go variant=%s", c.workload, c.variant)
		switch {
		case c.run == nil:
			fmt.Printf("%s value=NA unit=%s reason=%s\n", head, c.unit, c.na)
		case c.err != nil || len(c.samples) == 0:
			fmt.Printf("%s value=NA unit=%s reason=failed\n", head, c.unit)
			status = 1
		default:
			s := append([]float64(nil), c.samples...)
			sort.Float64s(s)
			n := len(s)
			med := s[n/2]
			if n%2 == 0 {
				med = (s[n/2-1] + s[n/2]) / 2
			}
			fmt.Printf("%s value=%.3f unit=%s min=%.3f max=%.3f reps=%d %s%s\n", head, med,
				c.unit, s[0], s[n-1], n, c.extra, q)
		}
	}
	os.Exit(status)
}
