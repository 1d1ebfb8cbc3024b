// Command loadtest drives a webhook receiver over loopback with correctly
// signed, distinct Stripe deliveries and reports throughput, acknowledgement
// latency and, for the targets it starts itself, how many acknowledged
// events were handled.
//
//	go run -C examples ./loadtest                                  # bare, memory, memory-sleep; 5s each
//	go run -C examples ./loadtest -redis-url redis://127.0.0.1:6379/0  # adds redis, redis-sleep
//	go run -C examples ./loadtest -url http://127.0.0.1:8080/webhooks/stripe -secret whsec_…
//
// Every mode starts a fresh in-process server on 127.0.0.1:0 and runs in the
// same process, one after the other, so their numbers compare side by side:
//
//	bare          a net/http handler that reads the body and answers 200
//	memory        the full Hookwise pipeline (verify, parse, dedupe, enqueue,
//	              200) with the in-memory dedupe store and queue; handlers count
//	memory-sleep  memory, with handlers that sleep -sleep (100ms) each
//	redis         Redis dedupe and the Redis Streams queue (needs -redis-url)
//	redis-sleep   redis, with sleeping handlers
//
// Deliveries are signed before each mode starts (a warm-up phase that also
// opens the keep-alive connections), so the generator only sends. A mode
// stops after -n requests or -duration, whichever comes first. Then the tool
// waits up to -drain for the handlers to catch up, shuts the receiver down,
// and counts handled, dead-lettered, still pending (Redis) and lost events:
// lost = acknowledged − handled − dead-lettered − pending, which must be 0.
//
// The client and the server share this process and its CPUs: the numbers
// are a comparison between modes on one machine, not a capacity figure. On a
// machine shared with other work, -rounds 3 runs the modes interleaved three
// times and reports each mode's median round, and the cpu µs/req column (this
// process's CPU time per request) is steadier than req/s.
// -cpuprofile writes a CPU profile whose samples are labelled side=server or
// side=client (go tool pprof -tagfocus side=server).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
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
	size         int
	sleep        time.Duration
	sleepWorkers int
	drain        time.Duration
	rounds       int
	json         bool
	cpuprofile   string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modes := fs.String("modes", "", "comma-separated modes: bare, memory, memory-sleep, redis, redis-sleep (default bare,memory,memory-sleep, plus redis,redis-sleep with -redis-url)")
	fs.StringVar(&c.url, "url", "", "drive this external receiver (http://127.0.0.1:…) instead of in-process modes")
	fs.StringVar(&c.secret, "secret", "whsec_loadtest", "Stripe endpoint secret to sign with")
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis for the redis modes (redis://127.0.0.1:6379/0)")
	fs.IntVar(&c.n, "n", 300000, "maximum requests per mode")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "maximum duration per mode")
	fs.IntVar(&c.concurrency, "c", 32, "concurrent requests")
	fs.IntVar(&c.size, "size", 1024, "body bytes per delivery")
	fs.DurationVar(&c.sleep, "sleep", 100*time.Millisecond, "handler sleep in the *-sleep modes")
	fs.IntVar(&c.sleepWorkers, "sleep-workers", 8192, "queue workers in the *-sleep modes (sized for handlers that wait)")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "how long to wait for handlers to finish after a mode")
	fs.IntVar(&c.rounds, "rounds", 1, "run the modes this many times, interleaved, and report each mode's median round by req/s (damps a noisy machine)")
	fs.BoolVar(&c.json, "json", false, "print results as JSON")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (labelled side=server/client)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.n < 1 || c.concurrency < 1 || c.sleepWorkers < 1 || c.rounds < 1:
		return c, errors.New("-n, -c, -rounds and -sleep-workers must be positive")
	case c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case c.size < minBody:
		return c, fmt.Errorf("-size must be at least %d bytes (the envelope)", minBody)
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
		*modes = "bare,memory,memory-sleep"
		if c.redisURL != "" {
			*modes += ",redis,redis-sleep"
		}
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "bare", "memory", "memory-sleep":
		case "redis", "redis-sleep":
			if c.redisURL == "" {
				return c, fmt.Errorf("mode %s needs -redis-url", m)
			}
		default:
			return c, fmt.Errorf("unknown mode %q", m)
		}
		c.modes = append(c.modes, m)
	}
	return c, nil
}

// result is one mode's numbers. Counts after drain are null for an external
// target.
type result struct {
	Mode     string  `json:"mode"`
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	P999ms   float64 `json:"p999_ms"`
	// CPUusPerReq is this process's CPU time (client and server, user and
	// system; not redis-server's) per request while measuring: unlike req/s
	// it barely moves when other processes load the machine.
	CPUusPerReq float64        `json:"cpu_us_per_req"`
	Status      map[string]int `json:"status"`
	Errors      int            `json:"errors"`
	FirstError  string         `json:"first_error,omitempty"`
	// RoundsRPS lists every round's req/s when -rounds > 1; the other
	// fields are the median round's.
	RoundsRPS    []float64 `json:"rounds_rps,omitempty"`
	Acknowledged int       `json:"acknowledged"` // 2xx, warm-up included
	Handled      *int64    `json:"handled"`
	DeadLettered *int64    `json:"dead_lettered"`
	Pending      *int64    `json:"pending"`
	Lost         *int64    `json:"lost"`
	RPSvsBare    *float64  `json:"rps_vs_bare,omitempty"`
	P99vsBare    *float64  `json:"p99_vs_bare,omitempty"`
	// CPUvsBare is bare's CPU per request over this mode's: the req/s ratio
	// the mode would reach with the machine to itself.
	CPUvsBare *float64 `json:"cpu_vs_bare,omitempty"`
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
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
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
	rounds := make(map[string][]*result)
	for round := range c.rounds {
		for _, mode := range c.modes {
			if err := ctx.Err(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "loadtest: %s (round %d): signing %d deliveries…\n", mode, round+1, c.n+warmup(c))
			res, err := runMode(ctx, c, mode, runID+strconv.Itoa(round))
			if err != nil {
				return fmt.Errorf("%s: %w", mode, err)
			}
			fmt.Fprintf(stderr, "loadtest: %s (round %d): %.0f req/s\n", mode, round+1, res.RPS)
			rounds[mode] = append(rounds[mode], res)
		}
	}
	for _, mode := range c.modes {
		rep.Results = append(rep.Results, median(rounds[mode]))
	}
	compare(rep.Results)
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

// runMode signs, starts the target, warms up, measures, drains and counts.
func runMode(ctx context.Context, c config, mode, runID string) (*result, error) {
	// Signed just before sending, so even a long run stays well inside
	// Stripe's five-minute tolerance.
	ds := presign(c.secret, runID+"_"+strings.ReplaceAll(mode, "-", "_"), warmup(c)+c.n, c.size, time.Now())
	tg, err := startTarget(ctx, c, mode, runID)
	if err != nil {
		return nil, err
	}
	if tg.cleanup != nil {
		defer tg.cleanup(context.Background())
	}
	client := newClient(c.concurrency)
	defer client.CloseIdleConnections()

	warm := send(ctx, client, tg.url, ds[:warmup(c)], c.concurrency, time.Minute)
	cpu0 := processCPU()
	lr := send(ctx, client, tg.url, ds[warmup(c):], c.concurrency, c.duration)
	cpu := processCPU() - cpu0
	acked := int64(warm.acked() + lr.acked())
	res := &result{
		Mode: mode, Requests: lr.requests, Seconds: lr.elapsed.Seconds(),
		RPS:   float64(lr.requests) / lr.elapsed.Seconds(),
		P50ms: ms(percentile(lr.latencies, 0.50)), P99ms: ms(percentile(lr.latencies, 0.99)),
		P999ms: ms(percentile(lr.latencies, 0.999)), Status: map[string]int{},
		Errors: lr.errors, Acknowledged: int(acked),
	}
	if cpu > 0 && lr.requests > 0 {
		res.CPUusPerReq = math.Round(float64(cpu.Microseconds())/float64(lr.requests)*10) / 10
	}
	for code, n := range lr.status {
		res.Status[strconv.Itoa(code)] = n
	}
	if lr.firstErr != nil {
		res.FirstError = lr.firstErr.Error()
	}
	client.CloseIdleConnections()

	if tg.counted && strings.HasPrefix(mode, "bare") {
		tg.handled.Store(acked) // the baseline "handles" what it answers
	}
	// Drain: wait for the handlers to catch up, then shut down (the
	// in-memory queue dead-letters what it could not finish in time).
	dctx, cancel := context.WithTimeout(ctx, c.drain)
	defer cancel()
	if tg.counted {
		for tg.handled.Load() < acked && dctx.Err() == nil {
			if dl, err := tg.deadLettered(dctx); err == nil && tg.handled.Load()+dl >= acked {
				break
			}
			select {
			case <-dctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), c.drain)
	defer ccancel()
	closeErr := tg.close(cctx)
	if !tg.counted {
		return res, closeErr
	}
	handled := tg.handled.Load()
	dl, err := tg.deadLettered(cctx)
	if err != nil {
		return nil, fmt.Errorf("count dead letters: %w", err)
	}
	pending, err := tg.pending(cctx)
	if err != nil {
		return nil, fmt.Errorf("count pending: %w", err)
	}
	lost := acked - handled - dl - pending
	res.Handled, res.DeadLettered, res.Pending, res.Lost = &handled, &dl, &pending, &lost
	if closeErr != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %s: shutdown: %v\n", mode, closeErr)
	}
	return res, nil
}

// median returns the round with the median req/s, listing every round's.
// The counts after drain are summed over the rounds, so a loss in any round
// shows.
func median(rs []*result) *result {
	if len(rs) == 1 {
		return rs[0]
	}
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *result) int { return cmp.Compare(a.RPS, b.RPS) })
	m := *sorted[len(sorted)/2]
	m.RoundsRPS = nil
	for _, r := range rs {
		m.RoundsRPS = append(m.RoundsRPS, math.Round(r.RPS))
	}
	if m.Lost != nil {
		var acked int
		var handled, dead, pending, lost int64
		for _, r := range rs {
			acked += r.Acknowledged
			handled += *r.Handled
			dead += *r.DeadLettered
			pending += *r.Pending
			lost += *r.Lost
		}
		m.Acknowledged, m.Handled, m.DeadLettered, m.Pending, m.Lost = acked, &handled, &dead, &pending, &lost
	}
	return &m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// compare fills the ratios to bare and to the mode without sleeping handlers.
func compare(rs []*result) {
	by := map[string]*result{}
	for _, r := range rs {
		by[r.Mode] = r
	}
	ratio := func(a, b float64) *float64 {
		if b == 0 {
			return nil
		}
		v := math.Round(a/b*100) / 100
		return &v
	}
	for _, r := range rs {
		if b := by["bare"]; b != nil && r.Mode != "bare" {
			r.RPSvsBare, r.P99vsBare = ratio(r.RPS, b.RPS), ratio(r.P99ms, b.P99ms)
			r.CPUvsBare = ratio(b.CPUusPerReq, r.CPUusPerReq)
		}
		if base, ok := strings.CutSuffix(r.Mode, "-sleep"); ok && by[base] != nil {
			r.P99vsNoSleep = ratio(r.P99ms, by[base].P99ms)
		}
	}
}

func printTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "GOMAXPROCS=%d (client and server share these CPUs), -c %d, -size %d, -n %d, -duration %s, -rounds %d, handler sleep %s\n",
		rep.GOMAXPROCS, rep.Concurrency, rep.Size, rep.MaxRequests, rep.Duration, rep.Rounds, rep.Sleep)
	if rep.Rounds > 1 {
		fmt.Fprintln(w, "each row is the mode's median round by req/s; acked..lost are summed over the rounds")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\trequests\treq/s\tx bare\tcpu µs/req\tbare/cpu\tp50 ms\tp99 ms\tp99.9 ms\tp99 x bare\tp99 x no-sleep\tstatus\terrors\tacked\thandled\tdead\tpending\tlost\t")
	for _, r := range rep.Results {
		codes := make([]string, 0, len(r.Status))
		for code, n := range r.Status {
			codes = append(codes, code+":"+strconv.Itoa(n))
		}
		slices.Sort(codes)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%.1f\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n",
			r.Mode, r.Requests, r.RPS, fx(r.RPSvsBare), r.CPUusPerReq, fx(r.CPUvsBare), r.P50ms, r.P99ms, r.P999ms, fx(r.P99vsBare), fx(r.P99vsNoSleep),
			strings.Join(codes, " "), r.Errors, r.Acknowledged, fn(r.Handled), fn(r.DeadLettered), fn(r.Pending), fn(r.Lost))
	}
	tw.Flush()
	for _, r := range rep.Results {
		if len(r.RoundsRPS) > 1 {
			fmt.Fprintf(w, "%s: req/s per round %v\n", r.Mode, r.RoundsRPS)
		}
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.Mode, r.FirstError)
		}
	}
}

func fx(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + "x"
}

func fn(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
