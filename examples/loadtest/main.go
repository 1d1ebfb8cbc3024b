// Command loadtest drives a webhook receiver over loopback with correctly
// signed, distinct Stripe deliveries and reports, against a bare net/http
// handler measured in the same run, requests per second, events handled per
// second and the server's CPU time per event.
//
//	go run -C examples ./loadtest                                      # bare, memory; 3 rounds of 5s
//	go run -C examples ./loadtest -redis-url redis://127.0.0.1:6379/0  # adds redis
//	go run -C examples ./loadtest -url http://127.0.0.1:8080/webhooks/stripe -secret whsec_…
//
// Modes (-modes; each runs in a fresh server child process on 127.0.0.1:0):
//
//	bare          a net/http handler that reads the body and answers 200
//	memory        the full Hookwise pipeline (verify, parse, dedupe, enqueue,
//	              200) with the in-memory dedupe store and queue; the handler
//	              writes the quickstart's JSON line per event (to os.DevNull)
//	memory-sleep  memory, with handlers that sleep -sleep (100ms) each
//	redis         Redis dedupe and the Redis Streams queue (needs -redis-url)
//	redis-sleep   redis, with sleeping handlers
//	redis-floor   no Hookwise: the bare handler plus one XADD of the body per
//	              request before the 200, and one consumer that reads batches
//	              and acknowledges and deletes them (XACK, XDEL): the least a
//	              receiver that acknowledges only what Redis holds must do
//	redis-floor-sleep  redis-floor, its consumer taking -sleep-workers
//	              entries at a time and sleeping -sleep before counting them
//
// The generator is a raw HTTP/1.1 client: every request (headers, Stripe
// signature and body, one distinct event each) is built and signed before a
// mode starts; -c goroutines each own one keep-alive connection, write a
// request, and read only the answer's status line, Content-Length and
// Connection header (no pipelining: one request in flight per connection).
// It sends with GOMAXPROCS 1 (-gen-procs), which keeps its idle threads from
// spinning on the CPUs the server needs; -gen-cpuprofile profiles it.
//
// The server runs in a child process (this executable again), so the tool
// reads the server's own CPU time (getrusage in the child) and the
// generator's (getrusage here) separately. For each mode and round: warm up
// (4×-c requests, which open the connections) and wait until they are
// handled; measure for -n requests or -duration, whichever comes first; then
// wait up to -drain for the handlers to finish the backlog. It reports:
//
//	req/s        answers per second while sending
//	handled/s    handler completions of the measured events divided by the
//	             time from the first request to the last completion (so a
//	             backlog finished after the generator stopped counts against it)
//	catch-up/s   completions after the generator stopped divided by the time
//	             from then to the last completion: how fast the workers finish
//	             a backlog once no request competes for the CPUs; shown only
//	             when at least 200 acknowledged events were left to handle
//	srv µs/ev    the server child's CPU time (user+system) from the start of
//	             the measured phase to the end of the drain, per event handled
//	redis µs/ev  redis-server's CPU time (INFO cpu) over the same span, per
//	             event handled (redis modes; the whole server, so use a Redis
//	             that nothing else is busy on)
//	gen µs/req   the generator's CPU time per request
//
// and each against bare: the median over rounds of the round's ratio. The
// modes run interleaved (-rounds, default 3), and each figure is the median
// of the rounds. After the drain the server shuts down and counts handled,
// dead-lettered, still pending (Redis) and lost events: lost = acknowledged
// − handled − dead-lettered − pending, which must be 0.
//
// -cpuprofile FILE makes each server child write a CPU profile of its
// measured phase and drain to FILE.<mode>.<round> (go tool pprof -top).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	if cfg, ok := os.LookupEnv(childEnv); ok {
		if err := serveChild(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	modes        []string
	url          string
	secret       string
	redisURL     string
	n            int
	duration     time.Duration
	concurrency  int
	genProcs     int
	size         int
	sleep        time.Duration
	sleepWorkers int
	drain        time.Duration
	rounds       int
	json         bool
	cpuprofile   string
	genProfile   string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modes := fs.String("modes", "", "comma-separated modes: bare, memory, memory-sleep, redis, redis-sleep, redis-floor, redis-floor-sleep (default bare,memory, plus redis with -redis-url)")
	fs.StringVar(&c.url, "url", "", "drive this external receiver (http://127.0.0.1:PORT/…) instead of in-process modes")
	fs.StringVar(&c.secret, "secret", "whsec_loadtest", "Stripe endpoint secret to sign with")
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis for the redis modes (redis://127.0.0.1:6379/0)")
	fs.IntVar(&c.n, "n", 300000, "maximum requests per mode and round")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "maximum duration per mode and round")
	fs.IntVar(&c.concurrency, "c", 32, "connections (one request in flight on each)")
	fs.IntVar(&c.genProcs, "gen-procs", 1, "GOMAXPROCS of the generator while it sends (0: leave it); the server child keeps its own")
	fs.IntVar(&c.size, "size", 1024, "body bytes per delivery")
	fs.DurationVar(&c.sleep, "sleep", 100*time.Millisecond, "handler sleep in the *-sleep modes")
	fs.IntVar(&c.sleepWorkers, "sleep-workers", 8192, "queue workers in the *-sleep modes (sized for handlers that wait)")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "how long to wait for handlers to finish after a mode")
	fs.IntVar(&c.rounds, "rounds", 3, "run the modes this many times, interleaved, and report medians")
	fs.BoolVar(&c.json, "json", false, "print results as JSON")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "each server child writes a CPU profile to FILE.<mode>.<round>")
	fs.StringVar(&c.genProfile, "gen-cpuprofile", "", "write a CPU profile of the generator (the whole run) to FILE")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.genProcs < 0:
		return c, errors.New("-gen-procs must not be negative")
	case c.n < 1 || c.concurrency < 1 || c.sleepWorkers < 1 || c.rounds < 1:
		return c, errors.New("-n, -c, -rounds and -sleep-workers must be positive")
	case c.n > 10_000_000 || c.concurrency > 4096 || c.rounds > 100:
		return c, errors.New("-n is at most 10,000,000, -c 4096 and -rounds 100")
	case c.duration <= 0 || c.drain <= 0:
		return c, errors.New("-duration and -drain must be positive")
	case c.size < minBody || c.size > 1<<20:
		return c, fmt.Errorf("-size must be between %d bytes (the envelope) and 1 MiB", minBody)
	case strings.TrimSpace(c.secret) == "":
		return c, errors.New("-secret must not be blank")
	}
	if c.url != "" {
		if err := loopbackOnly(c.url); err != nil {
			return c, err
		}
		c.modes = []string{"external"}
		return c, nil
	}
	if *modes == "" {
		*modes = "bare,memory"
		if c.redisURL != "" {
			*modes += ",redis"
		}
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "bare", "memory", "memory-sleep":
		case "redis", "redis-sleep", "redis-floor", "redis-floor-sleep":
			if c.redisURL == "" {
				return c, fmt.Errorf("mode %s needs -redis-url", m)
			}
		default:
			return c, fmt.Errorf("unknown mode %q", m)
		}
		if slices.Contains(c.modes, m) {
			return c, fmt.Errorf("mode %s given twice", m)
		}
		c.modes = append(c.modes, m)
	}
	return c, nil
}

// round is one mode's measurement in one round.
type round struct {
	requests, errors, acked int
	status                  map[int]int
	firstErr                error
	rps, handledPS          float64
	catchUp                 float64 // 0: too small a backlog to measure
	srvCPU, genCPU          float64 // µs per event handled, per request sent
	redisCPU                float64 // redis-server's µs per event handled; 0: not measured
	p50, p99, p999          float64 // ms
	drained                 bool
	final                   *serverStats // nil for an external target
}

// result is one mode's numbers: medians over the rounds, counts summed.
// Fields after drain are null for an external target.
type result struct {
	Mode     string  `json:"mode"`
	Requests int     `json:"requests"` // median round's requests
	RPS      float64 `json:"rps"`
	// HandledPS is handler completions of the measured events per second,
	// from the first request to the last completion. Null if external.
	HandledPS *float64 `json:"handled_per_s"`
	// CatchUpPS is handler completions per second after the generator
	// stopped, from then to the last completion: the rate at which the
	// workers finish a backlog alone. Null when no round left a backlog of
	// minCatchUpBacklog events (or for an external target).
	CatchUpPS *float64 `json:"catch_up_per_s"`
	// ServerCPUus is the server child's CPU time per event handled (µs),
	// from the start of the measured phase to the end of the drain.
	ServerCPUus *float64 `json:"server_cpu_us_per_event"`
	// RedisCPUus is redis-server's CPU time per event handled (µs), over the
	// same span (INFO cpu: used_cpu_user + used_cpu_sys, the whole server,
	// so other clients' commands count too). Null for modes without Redis.
	RedisCPUus *float64 `json:"redis_cpu_us_per_event"`
	// GenCPUus is the generator's CPU time per request (µs).
	GenCPUus float64        `json:"generator_cpu_us_per_req"`
	P50ms    float64        `json:"p50_ms"`
	P99ms    float64        `json:"p99_ms"`
	P999ms   float64        `json:"p999_ms"`
	Status   map[string]int `json:"status"` // summed over rounds
	Errors   int            `json:"errors"`
	// FirstError is the first transport error or unexpected status seen.
	FirstError string `json:"first_error,omitempty"`
	// Drained is false if some round's backlog was not handled within -drain.
	Drained      bool      `json:"drained"`
	RoundsRPS    []float64 `json:"rounds_rps"`
	RoundsHPS    []float64 `json:"rounds_handled_per_s,omitempty"`
	Acknowledged int       `json:"acknowledged"` // 2xx, warm-up included, summed
	Handled      *int64    `json:"handled"`
	DeadLettered *int64    `json:"dead_lettered"`
	Pending      *int64    `json:"pending"`
	Lost         *int64    `json:"lost"`
	// The ratios to bare are the medians over rounds of each round's ratio.
	RPSvsBare     *float64 `json:"rps_vs_bare,omitempty"`
	HandledVsBare *float64 `json:"handled_vs_bare,omitempty"`
	// CatchUpVsBare is catch-up/s over bare's handled/s.
	CatchUpVsBare *float64 `json:"catch_up_vs_bare,omitempty"`
	// CPUvsBare is bare's server CPU per event over this mode's: the ratio
	// of throughputs with the server alone on the CPUs.
	CPUvsBare *float64 `json:"cpu_vs_bare,omitempty"`
	P99vsBare *float64 `json:"p99_vs_bare,omitempty"`
	// P99vsNoSleep compares a *-sleep mode's p99 with its mode without
	// sleeping handlers.
	P99vsNoSleep *float64 `json:"p99_vs_no_sleep,omitempty"`
}

// report is the whole run, as printed with -json.
type report struct {
	GOMAXPROCS  int       `json:"gomaxprocs"`
	NumCPU      int       `json:"num_cpu"`
	Concurrency int       `json:"concurrency"`
	Size        int       `json:"size"`
	MaxRequests int       `json:"max_requests"`
	Duration    string    `json:"duration"`
	Rounds      int       `json:"rounds"`
	Sleep       string    `json:"sleep"`
	Results     []*result `json:"results"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.genProfile != "" {
		f, err := os.Create(c.genProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep := report{
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Concurrency: c.concurrency,
		Size: c.size, MaxRequests: c.n, Duration: c.duration.String(), Rounds: c.rounds, Sleep: c.sleep.String(),
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	rounds := make(map[string][]*round)
	for r := range c.rounds {
		for _, mode := range c.modes {
			if err := ctx.Err(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "loadtest: %s (round %d): signing %d deliveries…\n", mode, r+1, c.n+warmup(c))
			res, err := runMode(ctx, c, mode, runID+"r"+strconv.Itoa(r+1), r+1, stderr)
			if err != nil {
				return fmt.Errorf("%s: %w", mode, err)
			}
			fmt.Fprintf(stderr, "loadtest: %s (round %d): %.0f req/s, %.0f handled/s, catch-up %s/s, server %.1f µs/event, generator %.1f µs/req\n",
				mode, r+1, res.rps, res.handledPS, ff(measured(res.catchUp), 0), res.srvCPU, res.genCPU)
			if res.redisCPU > 0 {
				fmt.Fprintf(stderr, "loadtest: %s (round %d): redis-server %.1f µs/event\n", mode, r+1, res.redisCPU)
			}
			rounds[mode] = append(rounds[mode], res)
		}
	}
	for _, mode := range c.modes {
		rep.Results = append(rep.Results, summarize(mode, rounds[mode]))
	}
	compare(rep.Results, rounds)
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(stdout, rep)
	return nil
}

// warmup is how many deliveries open the connections before measuring.
func warmup(c config) int { return 4 * c.concurrency }

// runMode builds the requests, starts the server child, warms up, measures,
// drains and counts.
func runMode(ctx context.Context, c config, mode, runID string, roundNo int, stderr io.Writer) (*round, error) {
	path := "/webhooks/stripe"
	var srv *server
	addr := ""
	if mode == "external" {
		u, _ := url.Parse(c.url)
		addr, path = u.Host, u.RequestURI()
	}
	// Signed just before sending, so even a long run stays well inside
	// Stripe's five-minute tolerance.
	rs := buildRequests(c.secret, path, runID+"_"+strings.ReplaceAll(mode, "-", "_"), warmup(c)+c.n, c.size, time.Now())
	if mode != "external" {
		cc := childConfig{Mode: mode, Secret: c.secret, RedisURL: c.redisURL, RunID: runID, Sleep: c.sleep,
			SleepWorkers: c.sleepWorkers, Concurrency: c.concurrency, Drain: c.drain}
		if c.cpuprofile != "" {
			cc.CPUProfile = c.cpuprofile + "." + mode + "." + strconv.Itoa(roundNo)
		}
		var err error
		if srv, err = startServer(ctx, cc, stderr); err != nil {
			return nil, err
		}
		defer srv.kill()
		addr = srv.addr
	}
	var rcl *redis.Client // reads redis-server's CPU time in the redis modes
	if strings.HasPrefix(mode, "redis") {
		var err error
		if rcl, err = redisClient(ctx, c.redisURL, 1); err != nil {
			return nil, err
		}
		defer rcl.Close()
	}
	if c.genProcs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.genProcs))
	}
	conns := make([]*conn, c.concurrency)
	for i := range conns {
		conns[i] = &conn{addr: addr}
	}
	defer func() {
		for _, cn := range conns {
			cn.close()
		}
	}()

	warm := send(ctx, conns, rs.reqs[:warmup(c)], time.Minute)
	warmAcked := int64(warm.acked())
	var s0 serverStats
	if srv != nil {
		// Start from an empty backlog.
		if _, _, err := waitHandled(ctx, srv, warmAcked, c.drain); err != nil {
			return nil, err
		}
		var err error
		if s0, err = srv.command("begin"); err != nil {
			return nil, err
		}
	}
	var rc0 time.Duration
	if rcl != nil {
		var err error
		if rc0, err = redisCPU(ctx, rcl); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	g0 := processCPU()
	lr := send(ctx, conns, rs.reqs[warmup(c):], c.duration)
	genCPU := processCPU() - g0
	var sent serverStats // the server's count once sending stopped
	var sentAt time.Time
	if srv != nil {
		var err error
		if sent, err = srv.command("stats"); err != nil {
			return nil, err
		}
		sentAt = time.Now()
	}
	res := &round{
		requests: lr.requests, errors: lr.errors, acked: int(warmAcked) + lr.acked(), status: lr.status, firstErr: lr.firstErr,
		rps: float64(lr.requests) / lr.elapsed.Seconds(),
		p50: ms(percentile(lr.latencies, 0.50)), p99: ms(percentile(lr.latencies, 0.99)), p999: ms(percentile(lr.latencies, 0.999)),
	}
	if warm.firstErr != nil && res.firstErr == nil {
		res.firstErr = warm.firstErr
	}
	if lr.requests > 0 {
		res.genCPU = us(genCPU) / float64(lr.requests)
	}
	if srv == nil {
		return res, nil
	}
	for _, cn := range conns {
		cn.close()
	}
	s1, drained, err := waitHandled(ctx, srv, int64(res.acked), c.drain)
	if err != nil {
		return nil, err
	}
	res.drained = drained
	if n := s1.Handled - s0.Handled; n > 0 {
		if d := time.Duration(s1.LastDone - start.UnixNano()); d > 0 {
			res.handledPS = float64(n) / d.Seconds()
		}
		res.srvCPU = us(time.Duration(s1.CPU-s0.CPU)) / float64(n)
		if rcl != nil {
			rc1, err := redisCPU(ctx, rcl)
			if err != nil {
				return nil, err
			}
			res.redisCPU = us(rc1-rc0) / float64(n)
		}
	}
	res.catchUp = catchUp(int64(res.acked)-sent.Handled, s1.Handled-sent.Handled, time.Duration(s1.LastDone-sentAt.UnixNano()), drained)
	final, err := srv.close()
	if err != nil {
		return nil, fmt.Errorf("server shutdown: %w", err)
	}
	res.final = &final
	return res, nil
}

// redisCPU returns redis-server's CPU time so far (INFO cpu: user + system).
func redisCPU(ctx context.Context, rcl *redis.Client) (time.Duration, error) {
	info, err := rcl.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO cpu: %w", err)
	}
	return parseRedisCPU(info)
}

// parseRedisCPU sums used_cpu_user and used_cpu_sys (seconds) of an INFO
// cpu answer.
func parseRedisCPU(info string) (time.Duration, error) {
	var total float64
	found := 0
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("redis INFO cpu: %s: %w", k, err)
		}
		total += f
		found++
	}
	if found != 2 {
		return 0, errors.New("redis INFO cpu: no used_cpu_user and used_cpu_sys")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// minCatchUpBacklog is the fewest events left to handle when sending stops
// for which a round reports catch-up/s: a smaller backlog is finished within
// a few reads, too quickly to time.
const minCatchUpBacklog = 200

// catchUp returns the events handled per second after sending stopped:
// done events completed in took, out of the left that were acknowledged and
// not yet handled then. It returns 0 (not measured) when fewer than
// minCatchUpBacklog were left or the backlog was not drained.
func catchUp(left, done int64, took time.Duration, drained bool) float64 {
	if left < minCatchUpBacklog || !drained || done <= 0 || took <= 0 {
		return 0
	}
	return float64(done) / took.Seconds()
}

// waitHandled polls the server until it has handled want events or d has
// passed, and returns its last stats.
func waitHandled(ctx context.Context, srv *server, want int64, d time.Duration) (serverStats, bool, error) {
	deadline := time.Now().Add(d)
	for {
		st, err := srv.command("stats")
		if err != nil || st.Handled >= want {
			return st, err == nil, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, false, ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// med returns the median of f over rs (the mean of the middle two for an
// even count).
func med(rs []*round, f func(*round) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// summarize takes the medians of a mode's rounds and sums its counts, so a
// loss in any round shows.
func summarize(mode string, rs []*round) *result {
	res := &result{
		Mode: mode, Status: map[string]int{}, Drained: true,
		Requests: int(med(rs, func(r *round) float64 { return float64(r.requests) })),
		RPS:      math.Round(med(rs, func(r *round) float64 { return r.rps })),
		GenCPUus: round1(med(rs, func(r *round) float64 { return r.genCPU })),
		P50ms:    med(rs, func(r *round) float64 { return r.p50 }),
		P99ms:    med(rs, func(r *round) float64 { return r.p99 }),
		P999ms:   med(rs, func(r *round) float64 { return r.p999 }),
	}
	var counted bool
	var handled, dead, pending int64
	for _, r := range rs {
		res.RoundsRPS = append(res.RoundsRPS, math.Round(r.rps))
		for code, n := range r.status {
			res.Status[strconv.Itoa(code)] += n
		}
		res.Errors += r.errors
		if res.FirstError == "" && r.firstErr != nil {
			res.FirstError = r.firstErr.Error()
		}
		res.Acknowledged += r.acked
		if r.final != nil {
			counted = true
			res.RoundsHPS = append(res.RoundsHPS, math.Round(r.handledPS))
			res.Drained = res.Drained && r.drained
			handled += r.final.Handled
			dead += r.final.DeadLettered
			pending += r.final.Pending
		}
	}
	if !counted {
		res.Drained = false
		return res
	}
	hps := math.Round(med(rs, func(r *round) float64 { return r.handledPS }))
	cpu := round1(med(rs, func(r *round) float64 { return r.srvCPU }))
	lost := int64(res.Acknowledged) - handled - dead - pending
	res.HandledPS, res.ServerCPUus = &hps, &cpu
	res.RedisCPUus = measured(round1(med(rs, func(r *round) float64 { return r.redisCPU })))
	res.CatchUpPS = measured(math.Round(medianOf(catchUps(rs))))
	res.Handled, res.DeadLettered, res.Pending, res.Lost = &handled, &dead, &pending, &lost
	return res
}

// catchUps returns the catch-up rates of the rounds that measured one.
func catchUps(rs []*round) []float64 {
	var v []float64
	for _, r := range rs {
		if r.catchUp > 0 {
			v = append(v, r.catchUp)
		}
	}
	return v
}

// compare fills the ratios to bare (medians of the rounds' ratios) and to
// the mode without sleeping handlers.
func compare(rs []*result, rounds map[string][]*round) {
	by := map[string]*result{}
	for _, r := range rs {
		by[r.Mode] = r
	}
	ratio := func(mode string, f func(mode, bare *round) float64) *float64 {
		m, b := rounds[mode], rounds["bare"]
		var v []float64
		for i := range min(len(m), len(b)) {
			if x := f(m[i], b[i]); !math.IsNaN(x) && !math.IsInf(x, 0) {
				v = append(v, x)
			}
		}
		if len(v) == 0 {
			return nil
		}
		x := math.Round(medianOf(v)*100) / 100
		return &x
	}
	for _, r := range rs {
		if _, ok := rounds["bare"]; ok && r.Mode != "bare" && r.Mode != "external" {
			r.RPSvsBare = ratio(r.Mode, func(m, b *round) float64 { return m.rps / b.rps })
			r.HandledVsBare = ratio(r.Mode, func(m, b *round) float64 { return m.handledPS / b.handledPS })
			r.CatchUpVsBare = ratio(r.Mode, func(m, b *round) float64 {
				if m.catchUp == 0 {
					return math.NaN() // not measured in this round
				}
				return m.catchUp / b.handledPS
			})
			r.CPUvsBare = ratio(r.Mode, func(m, b *round) float64 { return b.srvCPU / m.srvCPU })
			r.P99vsBare = ratio(r.Mode, func(m, b *round) float64 { return m.p99 / b.p99 })
		}
		if base, ok := strings.CutSuffix(r.Mode, "-sleep"); ok && by[base] != nil && by[base].P99ms > 0 {
			v := math.Round(r.P99ms/by[base].P99ms*100) / 100
			r.P99vsNoSleep = &v
		}
	}
}

func printTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "GOMAXPROCS=%d (server child and generator share %d CPUs), -c %d, -size %d, -n %d, -duration %s, -rounds %d, handler sleep %s\n",
		rep.GOMAXPROCS, rep.NumCPU, rep.Concurrency, rep.Size, rep.MaxRequests, rep.Duration, rep.Rounds, rep.Sleep)
	fmt.Fprintln(w, "figures are medians over rounds; x bare columns are medians of each round's ratio; status..lost are summed over rounds")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\treq/s\tx bare\thandled/s\tx bare\tcatch-up/s\tx bare\tsrv µs/ev\tbare/srv\tredis µs/ev\tgen µs/req\tp50 ms\tp99 ms\tp99.9 ms\tp99 x bare\tp99 x no-sleep\tstatus\terrors\tacked\thandled\tdead\tpending\tlost\tdrained\t")
	for _, r := range rep.Results {
		codes := make([]string, 0, len(r.Status))
		for code, n := range r.Status {
			codes = append(codes, code+":"+strconv.Itoa(n))
		}
		slices.Sort(codes)
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%v\t\n",
			r.Mode, r.RPS, fx(r.RPSvsBare), ff(r.HandledPS, 0), fx(r.HandledVsBare), ff(r.CatchUpPS, 0), fx(r.CatchUpVsBare), ff(r.ServerCPUus, 1), fx(r.CPUvsBare), ff(r.RedisCPUus, 1), r.GenCPUus,
			r.P50ms, r.P99ms, r.P999ms, fx(r.P99vsBare), fx(r.P99vsNoSleep),
			strings.Join(codes, " "), r.Errors, r.Acknowledged, fn(r.Handled), fn(r.DeadLettered), fn(r.Pending), fn(r.Lost), r.Drained)
	}
	tw.Flush()
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s: req/s per round %v", r.Mode, r.RoundsRPS)
		if len(r.RoundsHPS) > 0 {
			fmt.Fprintf(w, ", handled/s per round %v", r.RoundsHPS)
		}
		fmt.Fprintln(w)
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.Mode, r.FirstError)
		}
	}
}

// measured returns v for ff and fx, or nil for 0, a figure not measured.
func measured(v float64) *float64 {
	if v == 0 {
		return nil
	}
	return &v
}

func fx(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + "x"
}

func ff(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

func fn(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
