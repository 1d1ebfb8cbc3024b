package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/examples/internal/eventline"
	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// childEnv, when set in the environment, makes this executable the server
// side of one mode: it holds the JSON of a childConfig.
const childEnv = "HOOKWISE_LOADTEST_SERVER"

// childConfig is what the generator tells a server child.
type childConfig struct {
	Mode         string        `json:"mode"`
	Secret       string        `json:"secret"`
	RedisURL     string        `json:"redis_url,omitempty"`
	RunID        string        `json:"run_id"`
	Sleep        time.Duration `json:"sleep"`
	SleepWorkers int           `json:"sleep_workers"`
	Concurrency  int           `json:"concurrency"`
	Drain        time.Duration `json:"drain"`
	CPUProfile   string        `json:"cpu_profile,omitempty"`
}

// serverStats is the server child's answer to every command.
type serverStats struct {
	// Handled counts handler completions (bare: handler returns).
	Handled int64 `json:"handled"`
	// LastDone is the wall clock (Unix ns) of the latest completion.
	LastDone int64 `json:"last_done"`
	// CPU is the child's own CPU time (user + system, getrusage), in ns.
	CPU int64 `json:"cpu_ns"`
	// DeadLettered and Pending are counted after close only.
	DeadLettered int64  `json:"dead_lettered"`
	Pending      int64  `json:"pending"`
	Err          string `json:"err,omitempty"`
}

// server is the generator's handle on a server child.
type server struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

// startServer runs this executable again as the server of one mode, on
// 127.0.0.1:0, and returns once it listens. The child's stderr is ours.
func startServer(ctx context.Context, cc childConfig, stderr io.Writer) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(cc)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(out)}
	line, err := s.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server child did not start (%q): %v", strings.TrimSpace(line), err)
	}
	s.addr = strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	return s, nil
}

// command sends one command line and decodes the answer.
func (s *server) command(cmd string) (serverStats, error) {
	var st serverStats
	if _, err := io.WriteString(s.in, cmd+"\n"); err != nil {
		return st, err
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return st, fmt.Errorf("server child: %s: %w", cmd, err)
	}
	if err := json.Unmarshal(line, &st); err != nil {
		return st, err
	}
	if st.Err != "" {
		return st, errors.New(st.Err)
	}
	return st, nil
}

// close shuts the child down and returns its final counts.
func (s *server) close() (serverStats, error) {
	st, err := s.command("close")
	s.in.Close()
	if werr := s.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	return st, err
}

// kill ends a child that did not close.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// serveChild is main in a server child: it listens, prints its address, and
// answers commands on stdin (stats, begin, close) with JSON lines on stdout.
func serveChild(raw string) error {
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		return err
	}
	ctx := context.Background()
	t := &target{}
	h, err := t.start(ctx, cc)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "listening %s\n", l.Addr())
	out.Flush()
	var profile *os.File
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		st := t.stats()
		switch in.Text() {
		case "stats":
		case "begin": // the measured phase starts: profile from here
			if cc.CPUProfile != "" && profile == nil {
				if profile, err = os.Create(cc.CPUProfile); err == nil {
					err = pprof.StartCPUProfile(profile)
				}
				if err != nil {
					st.Err = err.Error()
				}
			}
		case "close":
			if profile != nil {
				pprof.StopCPUProfile()
				profile.Close()
			}
			sctx, cancel := context.WithTimeout(ctx, cc.Drain)
			err := srv.Shutdown(sctx)
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			err = errors.Join(err, t.shutdown(sctx))
			st = t.stats()
			if err == nil {
				st.DeadLettered, err = t.deadLettered(sctx)
			}
			if err == nil {
				st.Pending, err = t.pending(sctx)
			}
			if t.cleanup != nil {
				t.cleanup(context.Background())
			}
			cancel()
			if err != nil {
				st.Err = err.Error()
			}
			writeJSON(out, st)
			return nil
		default:
			st.Err = "unknown command"
		}
		writeJSON(out, st)
	}
	return in.Err()
}

func writeJSON(w *bufio.Writer, v any) {
	b, _ := json.Marshal(v)
	w.Write(b)
	w.WriteByte('\n')
	w.Flush()
}

// target is the server side of one mode.
type target struct {
	handled  atomic.Int64
	lastDone atomic.Int64
	shutdown func(ctx context.Context) error
	// deadLettered and pending count after shutdown; pending is what a Redis
	// queue still holds (never lost, not yet handled).
	deadLettered func(ctx context.Context) (int64, error)
	pending      func(ctx context.Context) (int64, error)
	// cleanup, when set, removes what the target left in Redis after counting.
	cleanup func(ctx context.Context)
	// lines receives the quickstart-like line per event (os.DevNull).
	lines *eventline.Writer
}

func (t *target) stats() serverStats {
	return serverStats{Handled: t.handled.Load(), LastDone: t.lastDone.Load(), CPU: int64(processCPU())}
}

// done counts one completion.
func (t *target) done() {
	t.lastDone.Store(time.Now().UnixNano())
	t.handled.Add(1)
}

func (t *target) start(ctx context.Context, cc childConfig) (http.Handler, error) {
	t.shutdown = func(context.Context) error { return nil }
	t.deadLettered = func(context.Context) (int64, error) { return 0, nil }
	t.pending = func(context.Context) (int64, error) { return 0, nil }
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	t.lines = eventline.NewWriter(devNull)
	sleep := time.Duration(0)
	if strings.HasSuffix(cc.Mode, "-sleep") {
		sleep = cc.Sleep
	}
	switch cc.Mode {
	case "bare":
		return http.HandlerFunc(t.bare), nil
	case "memory", "memory-sleep":
		return t.memory(cc, sleep)
	case "redis", "redis-sleep":
		return t.redis(ctx, cc, sleep)
	case "redis-floor", "redis-floor-sleep":
		return t.redisFloor(ctx, cc, sleep)
	}
	return nil, fmt.Errorf("unknown mode %q", cc.Mode)
}

// bare is the baseline: read the body as the receiver does (one buffer
// sized from Content-Length), answer 200, count a completion.
func (t *target) bare(w http.ResponseWriter, r *http.Request) {
	if _, ok := readBody(w, r); !ok {
		return
	}
	w.WriteHeader(http.StatusOK)
	t.done()
}

// readBody reads the body as the receiver does (one buffer sized from
// Content-Length), or answers 400 and returns false.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= receiver.DefaultMaxBodyBytes {
		buf = make([]byte, n)
		_, err = io.ReadFull(r.Body, buf)
	} else {
		buf, err = io.ReadAll(http.MaxBytesReader(w, r.Body, receiver.DefaultMaxBodyBytes))
	}
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return nil, false
	}
	return buf, true
}

// handler writes the quickstart's JSON line per event (to os.DevNull: one
// write system call per event, as the quickstart's stdout redirected to a
// file) and counts it, after sleeping when asked to.
func (t *target) handler(sleep time.Duration) receiver.Handler {
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		if sleep > 0 && !sleepCtx(ctx, sleep) {
			return ctx.Err()
		}
		if err := t.lines.Write(eventline.Line{Provider: e.Provider, ID: e.ID, Type: e.Type}); err != nil {
			return err
		}
		t.done()
		return nil
	})
	return mux
}

func (t *target) memory(cc childConfig, sleep time.Duration) (http.Handler, error) {
	p, err := stripe.New(cc.Secret)
	if err != nil {
		return nil, err
	}
	opts := []receiver.Option{}
	if sleep > 0 {
		opts = append(opts, receiver.Workers(cc.SleepWorkers))
	}
	rc, err := receiver.New(p, t.handler(sleep), opts...)
	if err != nil {
		return nil, err
	}
	t.deadLettered = func(ctx context.Context) (int64, error) {
		dls, err := rc.DeadLetters().List(ctx, 0)
		return int64(len(dls)), err
	}
	t.shutdown = rc.Shutdown
	return rc, nil
}

// redisClient connects to -redis-url with room for poolSize connections,
// and checks that the server answers.
func redisClient(ctx context.Context, url string, poolSize int) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis-url: %w", err)
	}
	opt.PoolSize = poolSize
	opt.ContextTimeoutEnabled = true
	opt.Protocol = 2 // RESP2: no peek for push notifications before each reply
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("-redis-url: cannot reach redis at %s: %w", opt.Addr, err)
	}
	return client, nil
}

// streamName is the stream of a redis mode's run.
func streamName(cc childConfig) string {
	return "hookwise:{loadtest-" + cc.RunID + "-" + cc.Mode + "}:stream"
}

func (t *target) redis(ctx context.Context, cc childConfig, sleep time.Duration) (http.Handler, error) {
	client, err := redisClient(ctx, cc.RedisURL, cc.Concurrency+64)
	if err != nil {
		return nil, err
	}
	workers := 8
	if sleep > 0 {
		workers = cc.SleepWorkers
	}
	name := streamName(cc)
	stream := redisq.Stream(name)
	q := redisq.New(client, stream, redisq.Consumer("loadtest"), redisq.Workers(workers))
	dl := redisq.NewDeadLetters(client, stream)
	p, err := stripe.New(cc.Secret)
	if err != nil {
		client.Close()
		return nil, err
	}
	rc, err := receiver.New(p, t.handler(sleep),
		receiver.WithStore(dedupe.NewRedis(client, dedupe.WithRedisPrefix("hookwise:loadtest:"+cc.RunID+":"+cc.Mode+":"))),
		receiver.WithQueue(q), receiver.WithDeadLetters(dl),
		// The run's keys expire soon after it; the lease still outlasts it.
		receiver.WithLease(10*time.Minute), receiver.WithRetention(10*time.Minute))
	if err != nil {
		client.Close()
		return nil, err
	}
	keys := []string{name, name + ":delayed", name + ":dead", name + ":dead:order"}
	t.deadLettered = func(ctx context.Context) (int64, error) { return client.ZCard(ctx, keys[3]).Result() }
	t.pending = func(ctx context.Context) (int64, error) {
		n, err := client.XLen(ctx, keys[0]).Result()
		if err != nil {
			return 0, err
		}
		d, err := client.ZCard(ctx, keys[1]).Result()
		return n + d, err
	}
	t.shutdown = rc.Shutdown
	// The stream and dead letters are removed by cleanup, after counting.
	t.cleanup = func(ctx context.Context) {
		_ = client.Del(ctx, keys...).Err()
		client.Close()
	}
	return rc, nil
}

// redisFloor is the least any receiver that acknowledges only what Redis
// holds must do, with nothing of Hookwise in it: the bare handler, plus one
// XADD of the body per request (in the pipelines the receiver's Redis queue
// shares, redisbatch.Shared) before the 200, and one consumer that reads
// entries in batches of up to 256 (XREADGROUP), acknowledges and deletes
// each batch in one pipeline (XACK, XDEL), and then counts its entries
// handled. In redis-floor-sleep it reads -sleep-workers entries at a time and
// sleeps -sleep first, as that many workers sleeping side by side. No
// verification, dedupe, backlog bound, retries or handler: its rates bound
// what the redis mode could reach on the machine.
func (t *target) redisFloor(ctx context.Context, cc childConfig, sleep time.Duration) (http.Handler, error) {
	client, err := redisClient(ctx, cc.RedisURL, cc.Concurrency+64)
	if err != nil {
		return nil, err
	}
	stream := streamName(cc)
	const group = "floor"
	if err := client.XGroupCreateMkStream(ctx, stream, group, "0").Err(); err != nil {
		client.Close()
		return nil, err
	}
	b := redisbatch.Shared(client, 5*time.Second)
	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		count := int64(256)
		if sleep > 0 {
			count = int64(max(cc.SleepWorkers, 1))
		}
		for cctx.Err() == nil {
			res, err := client.XReadGroup(cctx, &redis.XReadGroupArgs{
				Group: group, Consumer: "floor", Streams: []string{stream, ">"}, Count: count, Block: 100 * time.Millisecond,
			}).Result()
			if errors.Is(err, redis.Nil) || (err == nil && len(res) == 0) {
				continue // nothing within the block
			}
			if err != nil {
				sleepCtx(cctx, 10*time.Millisecond) // a cancelled read ends the loop
				continue
			}
			if sleep > 0 && !sleepCtx(cctx, sleep) {
				return
			}
			ids := make([]string, 0, len(res[0].Messages))
			for _, m := range res[0].Messages {
				ids = append(ids, m.ID)
			}
			// Counted once deleted, so an entry is either handled or still
			// pending (XLEN), never both.
			pipe := client.Pipeline()
			pipe.XAck(ctx, stream, group, ids...)
			pipe.XDel(ctx, stream, ids...)
			if _, err := pipe.Exec(ctx); err == nil {
				for range ids {
					t.done()
				}
			}
		}
	}()
	t.shutdown = func(context.Context) error {
		// The generator has waited for the drain already (waitHandled).
		stop()
		<-consumed
		return nil
	}
	t.pending = func(ctx context.Context) (int64, error) { return client.XLen(ctx, stream).Result() }
	t.cleanup = func(ctx context.Context) {
		_ = client.Del(ctx, stream).Err()
		client.Close()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		cmd := redis.NewStringCmd(r.Context(), "xadd", stream, "*", "e", body)
		if err := b.Do(r.Context(), cmd); err != nil || cmd.Err() != nil {
			http.Error(w, "not queued", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}), nil
}

// sleepCtx sleeps d, or less if ctx ends first; it reports whether it slept d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
