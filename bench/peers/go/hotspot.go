// The multi-connection network workloads of bench/net_hotspot.c (program
// "net_hotspot"): W1 net_stream_imbalanced_4k_hot1_light7, W2
// net_stream_hotspot_rotation_4k_{free,barrier}, W3
// net_pipeline_hotspot_rotation_4k_window32, W4
// net_keyed_hotspot_rotation_4k and W5 net_echo_1kconn_256b.
//
// Client and server run in this process over loopback TCP (TCP_NODELAY on
// both ends). All connections are dialed and accepted, and the server
// goroutines started (they block in their first read), before the clock
// starts; the clock covers spawning the client (and owner) goroutines until
// all of them are joined. Servers are joined after the clock stops and their
// errors checked. process_cpu_pct is the process's CPU time (all threads)
// over the timed phase divided by the phase's wall time.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

const hsConns = 8
const hsWindow = 32

// hsMix is the spec's mix(seed, steps) (the same generator as ffWork).
func hsMix(seed, steps uint64) uint64 { return ffWork(seed, steps) }

func hsTag(c, f uint64) uint64 { return c<<32 | f }

// hsFrames is frames(s, c) of W2/W4: 32 for the hot connection of step s.
func hsFrames(s, c uint64) uint64 {
	if c == s%hsConns {
		return 32
	}
	return 2
}

// hsBarrier is a reusable barrier of n parties (a generation counter tells
// the waiters of one round from the next).
type hsBarrier struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	count int
	gen   uint64
}

func newHsBarrier(n int) *hsBarrier {
	b := &hsBarrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *hsBarrier) wait() {
	b.mu.Lock()
	gen := b.gen
	b.count++
	if b.count == b.n {
		b.count = 0
		b.gen++
		b.cond.Broadcast()
	} else {
		for gen == b.gen {
			b.cond.Wait()
		}
	}
	b.mu.Unlock()
}

// hsRaiseNofile raises the soft RLIMIT_NOFILE to the hard limit (Go 1.19+
// does this itself when package os is initialised; doing it again is
// harmless and covers older toolchains).
func hsRaiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// hsSetup dials and accepts n loopback connections one after the other, so
// that accepted connection c is the peer of dialed connection c.
func hsSetup(n int) (l net.Listener, cli, srv []net.Conn, err error) {
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	addr := l.Addr().String()
	for c := 0; c < n; c++ {
		var a, b net.Conn
		if a, err = net.Dial("tcp", addr); err != nil {
			break
		}
		cli = append(cli, a)
		if b, err = l.Accept(); err != nil {
			break
		}
		srv = append(srv, b)
		a.(*net.TCPConn).SetNoDelay(true)
		b.(*net.TCPConn).SetNoDelay(true)
	}
	if err != nil {
		hsClose(l, cli, srv)
		return nil, nil, nil, err
	}
	return l, cli, srv, nil
}

func hsClose(l net.Listener, cli, srv []net.Conn) {
	for _, c := range cli {
		c.Close()
	}
	for _, c := range srv {
		c.Close()
	}
	if l != nil {
		l.Close()
	}
}

// hsEchoServer echoes exactly `frames` messages of `size` bytes; on an
// error it closes the connection so that its client fails instead of
// blocking.
func hsEchoServer(c net.Conn, size int, frames uint64) error {
	buf := make([]byte, size)
	for i := uint64(0); i < frames; i++ {
		if _, err := io.ReadFull(c, buf); err != nil {
			c.Close()
			return err
		}
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return err
		}
	}
	return nil
}

// hsEchoClient sends k frames of `size` bytes tagged (c<<32)|f starting at
// *f, each followed by reading its echo and checking the tag; it adds the
// tags to *sum.
func hsEchoClient(conn net.Conn, out, in []byte, c uint64, f *uint64, k uint64, sum *uint64) error {
	for i := uint64(0); i < k; i++ {
		tag := hsTag(c, *f)
		binary.LittleEndian.PutUint64(out, tag)
		if _, err := conn.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, in); err != nil {
			return err
		}
		if got := binary.LittleEndian.Uint64(in); got != tag {
			return fmt.Errorf("connection %d frame %d: echo tag %#x, want %#x", c, *f, got, tag)
		}
		*sum += tag
		*f++
	}
	return nil
}

func hsFill(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

// hsRun runs one workload over n connections: serve(c, conn) is each
// connection's server, started before the clock; client(c, conn) its
// client, started and joined inside the timed phase, together with
// inTiming (the owners of W4, may be nil), which runs on the calling
// goroutine after the clients are spawned and before they are joined.
// Client results are folded in connection order. It returns the phase's
// wall time, the folded checksum and process_cpu_pct.
func hsRun(n int,
	serve func(c uint64, conn net.Conn) error,
	client func(c uint64, conn net.Conn) (uint64, error),
	inTiming func() (uint64, error)) (int64, uint64, float64, error) {
	l, cli, srv, err := hsSetup(n)
	if err != nil {
		return 0, 0, 0, err
	}
	defer hsClose(l, cli, srv)
	srvErr := make([]error, n)
	var swg sync.WaitGroup
	swg.Add(n)
	for c := 0; c < n; c++ {
		go func(c int) {
			srvErr[c] = serve(uint64(c), srv[c])
			swg.Done()
		}(c)
	}
	sums := make([]uint64, n)
	cliErr := make([]error, n)
	var cwg sync.WaitGroup

	c0, t0 := cpuNs(), time.Now()
	cwg.Add(n)
	for c := 0; c < n; c++ {
		go func(c int) {
			sums[c], cliErr[c] = client(uint64(c), cli[c])
			if cliErr[c] != nil {
				cli[c].Close() // unblocks its server
			}
			cwg.Done()
		}(c)
	}
	var extra uint64
	var extraErr error
	if inTiming != nil {
		extra, extraErr = inTiming()
	}
	cwg.Wait()
	ns := time.Since(t0).Nanoseconds()
	cpu := float64(cpuNs()-c0) / float64(ns) * 100

	swg.Wait()
	sum := extra
	for c := 0; c < n; c++ {
		if cliErr[c] != nil {
			return 0, 0, 0, fmt.Errorf("client %d: %v", c, cliErr[c])
		}
		if srvErr[c] != nil {
			return 0, 0, 0, fmt.Errorf("server %d: %v", c, srvErr[c])
		}
		sum += sums[c]
	}
	if extraErr != nil {
		return 0, 0, 0, extraErr
	}
	return ns, sum, cpu, nil
}

// --- W1 net_stream_imbalanced_4k_hot1_light7 --------------------------------

func hsImbalanced() (result, error) {
	hot, light := size(2048, 256), size(128, 16)
	frames := func(c uint64) uint64 {
		if c == 0 {
			return hot
		}
		return light
	}
	ns, sum, cpu, err := hsRun(hsConns,
		func(c uint64, conn net.Conn) error { return hsEchoServer(conn, frame, frames(c)) },
		func(c uint64, conn net.Conn) (uint64, error) {
			out, in := hsFill(frame), make([]byte, frame)
			var f, sum uint64
			err := hsEchoClient(conn, out, in, c, &f, frames(c), &sum)
			return sum, err
		}, nil)
	if err != nil {
		return result{}, err
	}
	total := hot + (hsConns-1)*light
	return result{float64(ns) / 1e3,
		fmt.Sprintf("checksum=%d frames=%d process_cpu_pct=%.0f", sum, total, cpu)}, nil
}

// --- W2 net_stream_hotspot_rotation_4k_{free,barrier}, W4 net_keyed_... ------

// hsRotation runs W2 (barrier or free-running) or, with keyed, W4.
func hsRotation(barrier, keyed bool) (result, error) {
	steps := size(64, 16)
	perConn := func(c uint64) uint64 {
		var n uint64
		for s := uint64(0); s < steps; s++ {
			n += hsFrames(s, c)
		}
		return n
	}
	var bar *hsBarrier
	if barrier {
		bar = newHsBarrier(hsConns)
	}
	// W4's owners: owner o receives the messages of the steps s with
	// s mod 2 == o, frames(s,c)*16 per step and connection.
	var owners [2]chan uint64
	var ownerTotal [2]uint64
	if keyed {
		for o := range owners {
			owners[o] = make(chan uint64, 1024)
		}
		for s := uint64(0); s < steps; s++ {
			for c := uint64(0); c < hsConns; c++ {
				ownerTotal[s%2] += hsFrames(s, c) * 16
			}
		}
	}
	var inTiming func() (uint64, error)
	if keyed {
		inTiming = func() (uint64, error) {
			var osum [2]uint64
			var owg sync.WaitGroup
			owg.Add(2)
			for o := 0; o < 2; o++ {
				go func(o int) {
					var sum uint64
					for i := uint64(0); i < ownerTotal[o]; i++ {
						sum += <-owners[o]
					}
					osum[o] = sum
					owg.Done()
				}(o)
			}
			owg.Wait()
			return osum[0] + osum[1], nil
		}
	}
	var frames uint64
	for c := uint64(0); c < hsConns; c++ {
		frames += perConn(c)
	}
	ns, sum, cpu, err := hsRun(hsConns,
		func(c uint64, conn net.Conn) error { return hsEchoServer(conn, frame, perConn(c)) },
		func(c uint64, conn net.Conn) (uint64, error) {
			out, in := hsFill(frame), make([]byte, frame)
			var f, sum uint64
			for s := uint64(0); s < steps; s++ {
				k := hsFrames(s, c)
				if err := hsEchoClient(conn, out, in, c, &f, k, &sum); err != nil {
					// Let the other clients pass the barriers they
					// will wait on, and the owners count what they
					// expect, so that nothing hangs: the run fails.
					for s2 := s; s2 < steps; s2++ {
						if keyed {
							for j := uint64(0); j < hsFrames(s2, c)*16; j++ {
								owners[s2%2] <- 0
							}
						}
						if bar != nil {
							bar.wait()
						}
					}
					return 0, err
				}
				if keyed {
					ch := owners[s%2]
					for j := uint64(0); j < k*16; j++ {
						ch <- c<<40 | s<<20 | j
					}
				}
				if bar != nil {
					bar.wait()
				}
			}
			return sum, nil
		}, inTiming)
	if err != nil {
		return result{}, err
	}
	extra := fmt.Sprintf("checksum=%d frames=%d process_cpu_pct=%.0f", sum, frames, cpu)
	if keyed {
		extra = fmt.Sprintf("checksum=%d frames=%d messages=%d process_cpu_pct=%.0f", sum, frames,
			ownerTotal[0]+ownerTotal[1], cpu)
	}
	return result{float64(ns) / 1e3, extra}, nil
}

// --- W3 net_pipeline_hotspot_rotation_4k_window32 ----------------------------

func hsPipeline() (result, error) {
	n := size(1024, 256)
	ns, sum, cpu, err := hsRun(hsConns,
		func(c uint64, conn net.Conn) error {
			buf := make([]byte, frame)
			var a [8]byte
			for f := uint64(0); f < n; f++ {
				if _, err := io.ReadFull(conn, buf); err != nil {
					conn.Close()
					return err
				}
				tag := binary.LittleEndian.Uint64(buf)
				if tag != hsTag(c, f) {
					conn.Close()
					return fmt.Errorf("frame %d: tag %#x, want %#x", f, tag, hsTag(c, f))
				}
				steps := uint64(150)
				if c == (f/64)%hsConns {
					steps = 4000
				}
				binary.LittleEndian.PutUint64(a[:], hsMix(tag, steps))
				if _, err := conn.Write(a[:]); err != nil {
					conn.Close()
					return err
				}
			}
			return nil
		},
		func(c uint64, conn net.Conn) (uint64, error) {
			out := hsFill(frame)
			var a [8]byte
			var sent, acked, sum uint64
			for acked < n {
				for sent < n && sent-acked < hsWindow {
					binary.LittleEndian.PutUint64(out, hsTag(c, sent))
					if _, err := conn.Write(out); err != nil {
						return 0, err
					}
					sent++
				}
				if _, err := io.ReadFull(conn, a[:]); err != nil {
					return 0, err
				}
				sum += binary.LittleEndian.Uint64(a[:])
				acked++
			}
			return sum, nil
		}, nil)
	if err != nil {
		return result{}, err
	}
	return result{float64(ns) / 1e3,
		fmt.Sprintf("checksum=%d frames=%d process_cpu_pct=%.0f", sum, n*hsConns, cpu)}, nil
}

// --- W5 net_echo_1kconn_256b -------------------------------------------------

func hsManyConns() (result, error) {
	hsRaiseNofile()
	conns, rounds := size(1000, 200), size(32, 8)
	ns, sum, cpu, err := hsRun(int(conns),
		func(c uint64, conn net.Conn) error { return hsEchoServer(conn, rttMsg, rounds) },
		func(c uint64, conn net.Conn) (uint64, error) {
			out, in := hsFill(rttMsg), make([]byte, rttMsg)
			var f, sum uint64
			err := hsEchoClient(conn, out, in, c, &f, rounds, &sum)
			return sum, err
		}, nil)
	if err != nil {
		return result{}, err
	}
	rts := conns * rounds
	return result{float64(ns) / float64(rts),
		fmt.Sprintf("checksum=%d connections=%d round_trips=%d process_cpu_pct=%.0f", sum, conns, rts, cpu)}, nil
}
