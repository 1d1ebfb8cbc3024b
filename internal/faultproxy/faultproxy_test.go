package faultproxy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/leakcheck"
	"github.com/hookwise/hookwise/internal/redistest"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// patience bounds waits that succeed at once on an idle machine.
const patience = 10 * time.Second

func newClient(t testing.TB, addr string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: addr}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func noRetries(o *redis.Options) { o.MaxRetries = -1 }

func readTimeout(d time.Duration) func(*redis.Options) {
	return func(o *redis.Options) { o.ReadTimeout = d }
}

// setup starts Redis, a proxy in front of it and a client that talks to
// Redis directly (to check what Redis holds without the proxy).
func setup(t *testing.T) (*redistest.Server, *Proxy, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	p := New(t, srv.Addr)
	return srv, p, newClient(t, srv.Addr)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func TestForwardSetGet(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())

	require.NoError(t, rdb.Set(ctx, "k", "v\r\nwith CRLF", 0).Err())
	got, err := rdb.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v\r\nwith CRLF", got)
	_, err = rdb.Get(ctx, "missing").Result()
	assert.ErrorIs(t, err, redis.Nil)
	assert.Equal(t, "v\r\nwith CRLF", direct.Get(ctx, "k").Val())

	st := p.Stats()
	assert.Equal(t, 1, st.Commands["SET"])
	assert.Equal(t, 2, st.Commands["GET"])
	assert.Equal(t, 1, st.Connections)
}

func TestForwardPipeline(t *testing.T) {
	_, p, _ := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())

	pipe := rdb.Pipeline()
	var gets []*redis.StringCmd
	for i := 0; i < 50; i++ {
		pipe.Set(ctx, "k"+strconv.Itoa(i), i, 0)
		gets = append(gets, pipe.Get(ctx, "k"+strconv.Itoa(i)))
	}
	cmds, err := pipe.Exec(ctx)
	require.NoError(t, err)
	require.Len(t, cmds, 100)
	for i, g := range gets {
		assert.Equal(t, strconv.Itoa(i), g.Val())
	}
	st := p.Stats()
	assert.Equal(t, 50, st.Commands["SET"])
	assert.Equal(t, 50, st.Commands["GET"])
}

// go-redis v9 speaks RESP3 (HELLO 3) by default: maps, sets, doubles and
// nulls cross the proxy in both a single command and a pipeline.
func TestForwardRESP3(t *testing.T) {
	_, p, _ := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())

	hello, err := rdb.Do(ctx, "HELLO", "3").Result()
	require.NoError(t, err)
	m, ok := hello.(map[interface{}]interface{})
	require.True(t, ok, "HELLO 3 answers a RESP3 map, got %T", hello)
	assert.EqualValues(t, 3, m["proto"])

	require.NoError(t, rdb.HSet(ctx, "h", "a", "1", "b", "2").Err())
	require.NoError(t, rdb.SAdd(ctx, "s", "x", "y").Err())
	require.NoError(t, rdb.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "m"}).Err())
	pipe := rdb.Pipeline()
	hg := pipe.HGetAll(ctx, "h")
	sm := pipe.SMembers(ctx, "s")
	zs := pipe.ZScore(ctx, "z", "m")
	nl := pipe.Do(ctx, "HGET", "h", "missing")
	_, err = pipe.Exec(ctx)
	require.ErrorIs(t, err, redis.Nil)
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, hg.Val())
	assert.ElementsMatch(t, []string{"x", "y"}, sm.Val())
	assert.Equal(t, 1.5, zs.Val())
	assert.ErrorIs(t, nl.Err(), redis.Nil)
	assert.GreaterOrEqual(t, p.Stats().Commands["HELLO"], 2, "go-redis's own HELLO and ours")
}

func TestForwardStreamsBlocking(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())
	require.NoError(t, rdb.XGroupCreateMkStream(ctx, "s", "g", "0").Err())

	type result struct {
		streams []redis.XStream
		err     error
	}
	got := make(chan result, 1)
	go func() {
		s, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c1", Streams: []string{"s", ">"}, Count: 1, Block: 5 * time.Second}).Result()
		got <- result{s, err}
	}()
	// The read blocks in Redis (its reply delayed) while another connection
	// of the pool adds the entry.
	require.Eventually(t, func() bool { return p.Stats().Commands["XREADGROUP"] == 1 }, patience, 5*time.Millisecond)
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: map[string]any{"f": "v"}}).Result()
	require.NoError(t, err)
	r := <-got
	require.NoError(t, r.err)
	require.Len(t, r.streams, 1)
	require.Len(t, r.streams[0].Messages, 1)
	assert.Equal(t, id, r.streams[0].Messages[0].ID)

	claimed, _, err := rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: "s", Group: "g", Consumer: "c2", MinIdle: 0, Start: "0"}).Result()
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	n, err := rdb.XAck(ctx, "s", "g", id).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.EqualValues(t, 0, direct.XPending(ctx, "s", "g").Val().Count)
	st := p.Stats()
	for _, c := range []string{"XADD", "XREADGROUP", "XAUTOCLAIM", "XACK"} {
		assert.Equal(t, 1, st.Commands[c], c)
	}
}

// rawConn is a client connection that writes commands and reads values
// itself, to see exactly what the proxy delivers.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	rr *respReader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(patience)))
	return &rawConn{t: t, nc: nc, rr: newRespReader(bufio.NewReader(nc), 0, 0)}
}

func (c *rawConn) send(cmds ...[]string) {
	var b strings.Builder
	for _, cmd := range cmds {
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	_, err := io.WriteString(c.nc, b.String())
	require.NoError(c.t, err)
}

func (c *rawConn) read() (value, error) {
	v, _, err := c.rr.readValue()
	return v, err
}

// A RESP3 push frame that arrives while a command waits for its reply is
// forwarded at once and is not taken for that reply.
func TestPushFramesAreNotReplies(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	c := dialRaw(t, p.Addr())
	c.send([]string{"HELLO", "3"}, []string{"CLIENT", "TRACKING", "ON"}, []string{"GET", "k"})
	for i := 0; i < 3; i++ {
		_, err := c.read()
		require.NoError(t, err)
	}
	cut := p.CutAfterApply(Command("BLPOP"), 1)
	c.send([]string{"BLPOP", "nolist", "1"})
	require.Eventually(t, func() bool { return p.Stats().Commands["BLPOP"] == 1 }, patience, 5*time.Millisecond)
	require.NoError(t, direct.Set(ctx, "k", "changed", 0).Err()) // invalidates k: a push to c

	v, err := c.read()
	require.NoError(t, err, "the push is delivered, not taken for BLPOP's reply")
	require.Equal(t, byte('>'), v.Kind)
	assert.Equal(t, "invalidate", v.Elems[0].Str)
	assert.Equal(t, 0, cut.Fired())

	_, err = c.read() // BLPOP times out after 1s; its reply is cut
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 1, cut.Fired())
}

// CutAfterApply on a SET NX: Redis applies it; the client never sees that
// reply.
func TestCutAfterApplySetNX(t *testing.T) {
	t.Run("retries disabled: the client gets an error, Redis holds the key", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr(), noRetries)
		cut := p.CutAfterApply(Command("SET"), 1)

		_, err := rdb.SetNX(ctx, "claim", "token", time.Hour).Result()
		require.Error(t, err)
		assert.ErrorIs(t, err, io.EOF)
		assert.Equal(t, "token", direct.Get(ctx, "claim").Val(), "the cut command was applied")
		assert.Equal(t, 1, cut.Fired())
		assert.Equal(t, 1, p.Stats().Commands["SET"])
		assert.Equal(t, 1, p.Stats().Cuts)
	})
	t.Run("default retries: go-redis re-sends the SET, which sees its own key", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr()) // MaxRetries 3
		cut := p.CutAfterApply(Command("SET"), 1)

		ok, err := rdb.SetNX(ctx, "claim", "token", time.Hour).Result()
		require.NoError(t, err, "the retry's reply is what the caller sees")
		assert.False(t, ok, "the retried SET NX finds the key the cut attempt wrote: the hazard of issue 8")
		assert.Equal(t, "token", direct.Get(ctx, "claim").Val())
		st := p.Stats()
		assert.Equal(t, 2, st.Commands["SET"], "sent twice")
		assert.Equal(t, 1, st.Rules[0].Fired, "cut once")
		assert.Equal(t, 2, st.Connections, "the retry used a new connection")
		select {
		case <-cut.Done():
		default:
			t.Fatal("Done not closed after the rule fired n times")
		}
	})
	t.Run("n=2: the first two attempts are cut, the third goes through", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr())
		p.CutAfterApply(Command("INCR"), 2)

		n, err := rdb.Incr(ctx, "ctr").Result()
		require.NoError(t, err)
		assert.EqualValues(t, 3, n, "every attempt was applied")
		assert.Equal(t, "3", direct.Get(ctx, "ctr").Val())
		st := p.Stats()
		assert.Equal(t, 3, st.Commands["INCR"])
		assert.Equal(t, RuleStats{ID: 1, Kind: KindCutAfterApply, Matched: 2, Fired: 2}, st.Rules[0])
	})
}

// In a pipeline, replies before the cut command are delivered, the cut
// command is applied, and the commands after it are not forwarded.
func TestCutAfterApplyPipeline(t *testing.T) {
	t.Run("raw connection", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		c := dialRaw(t, p.Addr())
		p.CutAfterApply(All(Command("SET"), func(cmd []string) bool { return cmd[1] == "b" }), 1)

		c.send([]string{"SET", "a", "A"}, []string{"GET", "a"}, []string{"SET", "b", "B"}, []string{"SET", "c", "C"})
		v, err := c.read()
		require.NoError(t, err)
		assert.Equal(t, value{Kind: '+', Str: "OK"}, v)
		v, err = c.read()
		require.NoError(t, err)
		assert.Equal(t, value{Kind: '$', Str: "A"}, v, "replies before the cut are delivered")
		_, err = c.read()
		assert.ErrorIs(t, err, io.EOF, "then the connection ends, without SET b's reply")

		assert.Equal(t, "B", direct.Get(ctx, "b").Val(), "the cut command is applied")
		assert.ErrorIs(t, direct.Get(ctx, "c").Err(), redis.Nil, "commands after the cut are not forwarded")
		assert.Equal(t, 2, p.Stats().Commands["SET"], "SET c was never read")
	})
	t.Run("go-redis with default retries re-sends the whole pipeline", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr())
		p.CutAfterApply(Command("SET"), 1)

		pipe := rdb.Pipeline()
		before := pipe.Incr(ctx, "before")
		pipe.Set(ctx, "b", "B", 0)
		after := pipe.Incr(ctx, "after")
		_, err := pipe.Exec(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 2, before.Val(), "the command before the cut ran in both attempts")
		assert.EqualValues(t, 1, after.Val(), "the command after the cut ran once")
		assert.Equal(t, "2", direct.Get(ctx, "before").Val())
		assert.Equal(t, 2, p.Stats().Commands["SET"])
	})
}

func TestHoldReply(t *testing.T) {
	const hold = time.Second
	t.Run("delivered late, in order", func(t *testing.T) {
		_, p, _ := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr())
		require.NoError(t, rdb.Ping(ctx).Err())
		r := p.HoldReply(Command("SET"), 300*time.Millisecond, 1)

		start := time.Now()
		pipe := rdb.Pipeline()
		set := pipe.Set(ctx, "k", "v", 0)
		get := pipe.Get(ctx, "k")
		_, err := pipe.Exec(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
		assert.Equal(t, "OK", set.Val())
		assert.Equal(t, "v", get.Val(), "the later reply waited behind the held one")
		assert.Equal(t, 1, r.Fired())
	})
	t.Run("read timeout, retries disabled: a timeout error, the command applied", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr(), noRetries, readTimeout(200*time.Millisecond))
		p.HoldReply(Command("SET"), hold, 1)

		_, err := rdb.SetNX(ctx, "claim", "token", time.Hour).Result()
		require.Error(t, err)
		assert.True(t, isTimeout(err), "want a timeout, got %v", err)
		assert.Equal(t, "token", direct.Get(ctx, "claim").Val())
		assert.Equal(t, 1, p.Stats().Commands["SET"])
	})
	t.Run("context deadline: a timeout error, the command applied", func(t *testing.T) {
		_, p, direct := setup(t)
		rdb := newClient(t, p.Addr(), func(o *redis.Options) { o.ContextTimeoutEnabled = true })
		require.NoError(t, rdb.Ping(ctxT(t)).Err())
		p.HoldReply(Command("SET"), hold, 1)

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := rdb.SetNX(ctx, "claim", "token", time.Hour).Result()
		require.Error(t, err)
		assert.True(t, isTimeout(err), "want a timeout, got %v", err)
		assert.Equal(t, "token", direct.Get(ctxT(t), "claim").Val())
		assert.Equal(t, 1, p.Stats().Commands["SET"], "no retry after the caller's deadline")
	})
	t.Run("read timeout, default retries: the retry sees the applied command", func(t *testing.T) {
		_, p, direct := setup(t)
		ctx := ctxT(t)
		rdb := newClient(t, p.Addr(), readTimeout(200*time.Millisecond))
		p.HoldReply(Command("SET"), hold, 1)

		ok, err := rdb.SetNX(ctx, "claim", "token", time.Hour).Result()
		require.NoError(t, err)
		assert.False(t, ok, "go-redis retries a read timeout; the retry finds the key")
		assert.Equal(t, "token", direct.Get(ctx, "claim").Val())
		assert.Equal(t, 2, p.Stats().Commands["SET"])
	})
}

// DropReply on XADD with go-redis's default retries: the client gets an
// ID, and the stream holds two entries.
func TestDropReplyXAddTwice(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr(), readTimeout(300*time.Millisecond))
	drop := p.DropReply(Command("XADD"), 1)

	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: map[string]any{"id": "evt_1"}}).Result()
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	n, err := direct.XLen(ctx, "events").Result() // from Redis, not through the proxy
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "the dropped XADD was applied and retried: one event, two entries")
	assert.Equal(t, 2, p.Stats().Commands["XADD"])
	assert.Equal(t, 1, drop.Fired())
}

// A dropped reply stalls the connection: the replies after it are never
// delivered either, and nothing arrives out of order. The connection ends
// when the client closes it.
func TestDropReplyStallsLaterReplies(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	c := dialRaw(t, p.Addr())
	drop := p.DropReply(Command("GET"), 1)

	c.send([]string{"SET", "a", "A"}, []string{"GET", "a"}, []string{"INCR", "n"})
	v, err := c.read()
	require.NoError(t, err)
	assert.Equal(t, value{Kind: '+', Str: "OK"}, v)
	require.Eventually(t, func() bool { return drop.Fired() == 1 }, patience, 5*time.Millisecond)
	require.Eventually(t, func() bool { return direct.Get(ctx, "n").Val() == "1" }, patience, 5*time.Millisecond,
		"later commands are still forwarded and applied")
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = c.read()
	assert.True(t, isTimeout(err), "nothing after the dropped reply is delivered, got %v", err)
	require.Equal(t, 1, p.liveConns())

	require.NoError(t, c.nc.Close())
	require.Eventually(t, func() bool { return p.liveConns() == 0 }, patience, 10*time.Millisecond,
		"the stalled connection ends when the client closes it")
}

// DropReply with go-redis and retries disabled: a single command times out
// and go-redis closes the stalled connection.
func TestDropReplyGoRedisTimeout(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr(), noRetries, readTimeout(300*time.Millisecond))
	p.DropReply(Command("SET"), 1)

	err := rdb.Set(ctx, "k", "v", 0).Err()
	assert.True(t, isTimeout(err), "got %v", err)
	assert.Equal(t, "v", direct.Get(ctx, "k").Val())
	require.Eventually(t, func() bool { return p.liveConns() == 0 }, patience, 10*time.Millisecond)
}

// liveConns returns the number of live connections, for tests.
func (p *Proxy) liveConns() int { return p.core.Live() }

func TestPauseResume(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())
	require.NoError(t, rdb.Ping(ctx).Err())

	p.Pause()
	done := make(chan error, 1)
	go func() { done <- rdb.Set(ctx, "k", "v", 0).Err() }()
	require.Eventually(t, func() bool { return p.Stats().Commands["SET"] == 1 }, patience, 5*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("a command completed while paused: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	assert.ErrorIs(t, direct.Get(ctx, "k").Err(), redis.Nil, "not forwarded while paused")
	p.Resume()
	require.NoError(t, <-done)
	assert.Equal(t, "v", direct.Get(ctx, "k").Val())
}

// Restarting Redis under load: pause, crash and restart Redis, cut the
// stale connections, resume. The client's next command succeeds on a new
// connection and the data written before the crash survives (AOF).
func TestCutAllRestart(t *testing.T) {
	srv, p, _ := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())
	require.NoError(t, rdb.Set(ctx, "before", "1", 0).Err())

	p.Pause()
	srv.Stop()
	srv.Restart(t)
	assert.Equal(t, 1, p.CutAll())
	p.Resume()

	got, err := rdb.Get(ctx, "before").Result()
	require.NoError(t, err, "go-redis retries on a new connection")
	assert.Equal(t, "1", got)
	assert.Equal(t, 1, p.Stats().Cuts)
	assert.Equal(t, 2, p.Stats().Connections)
}

// A go-redis Script runs as EVALSHA; cut after it applies, the retry runs
// the script again.
func TestScriptRetriedAfterCut(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr())
	script := redis.NewScript(`return redis.call("INCR", KEYS[1])`)
	require.NoError(t, script.Load(ctx, rdb).Err())
	cut := p.CutAfterApply(Script(script.Hash()), 1)

	n, err := script.Run(ctx, rdb, []string{"ctr"}).Int()
	require.NoError(t, err)
	assert.Equal(t, 2, n, "applied by the cut attempt and by the retry")
	assert.Equal(t, "2", direct.Get(ctx, "ctr").Val())
	assert.Equal(t, 2, p.Stats().Commands["EVALSHA"])
	assert.Equal(t, 1, cut.Fired())
}

func TestMatchers(t *testing.T) {
	src := `return 1`
	sum := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(sum[:])
	cases := []struct {
		name string
		m    Matcher
		cmd  []string
		want bool
	}{
		{"command", Command("set"), []string{"SET", "k", "v"}, true},
		{"command other", Command("SET"), []string{"GET", "k"}, false},
		{"command list", Command("GET", "XADD"), []string{"XADD", "s", "*"}, true},
		{"subcommand", Command("CLIENT SETINFO"), []string{"CLIENT", "setinfo", "LIB-NAME", "x"}, true},
		{"subcommand other", Command("CLIENT SETINFO"), []string{"CLIENT", "ID"}, false},
		{"empty", Command("SET"), nil, false},
		{"evalsha", Script(sha), []string{"EVALSHA", strings.ToUpper(sha), "0"}, true},
		{"evalsha other", Script(sha), []string{"EVALSHA", strings.Repeat("0", 40), "0"}, false},
		{"eval by content", Script(sha), []string{"EVAL", src, "0"}, true},
		{"eval other", Script(sha), []string{"EVAL", "return 2", "0"}, false},
		{"source", ScriptSource(src), []string{"EVALSHA_RO", sha, "0"}, true},
		{"all", All(Command("SET"), func(c []string) bool { return c[1] == "k" }), []string{"SET", "k"}, true},
		{"all fails", All(Command("SET"), func(c []string) bool { return c[1] == "k" }), []string{"SET", "j"}, false},
		{"any", Any(Command("GET"), Command("SET")), []string{"SET", "j"}, true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.m(c.cmd), c.name)
	}
}

// Rules are shared by all connections and fire exactly n times under
// concurrent load; every applied command is counted.
func TestConcurrentRules(t *testing.T) {
	_, p, direct := setup(t)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr(), func(o *redis.Options) { o.PoolSize = 8 })
	cut := p.CutAfterApply(Command("INCR"), 5)
	hold := p.HoldReply(Command("INCR"), 20*time.Millisecond, 10)

	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := rdb.Incr(ctx, "ctr").Err(); err != nil {
					errs <- err
				}
				_ = p.Stats()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, 5, cut.Fired())
	assert.Equal(t, 10, hold.Fired())
	assert.Equal(t, 405, p.Stats().Commands["INCR"], "400 calls, 5 retried after a cut")
	assert.Equal(t, "405", direct.Get(ctx, "ctr").Val(), "every forwarded INCR was applied")
}

func TestProxyFrameBounds(t *testing.T) {
	srv := redistest.Start(t)
	direct := newClient(t, srv.Addr)
	ctx := ctxT(t)

	t.Run("command too large", func(t *testing.T) {
		p := NewWith(t, srv.Addr, Options{MaxFrameBytes: 1024})
		rdb := newClient(t, p.Addr(), noRetries)
		require.NoError(t, rdb.Set(ctx, "small", strings.Repeat("x", 512), 0).Err())
		err := rdb.Set(ctx, "big", strings.Repeat("x", 2048), 0).Err()
		require.Error(t, err)
		assert.ErrorIs(t, direct.Get(ctx, "big").Err(), redis.Nil, "never forwarded")
	})
	t.Run("reply too large", func(t *testing.T) {
		p := NewWith(t, srv.Addr, Options{MaxFrameBytes: 1024})
		rdb := newClient(t, p.Addr(), noRetries)
		require.NoError(t, direct.Set(ctx, "bigval", strings.Repeat("x", 2048), 0).Err())
		assert.Error(t, rdb.Get(ctx, "bigval").Err())
	})
	t.Run("default bound, refused on the header", func(t *testing.T) {
		p := New(t, srv.Addr)
		c := dialRaw(t, p.Addr())
		_, err := io.WriteString(c.nc, "*1\r\n$"+strconv.Itoa(DefaultMaxFrameBytes)+"\r\n")
		require.NoError(t, err)
		_, err = c.read()
		assert.ErrorIs(t, err, io.EOF, "the proxy closes the connection without waiting for 64 MiB")
	})
	nested := func(n int) string {
		return "return " + strings.Repeat("{", n) + "1" + strings.Repeat("}", n)
	}
	t.Run("nesting at the bound", func(t *testing.T) {
		p := New(t, srv.Addr)
		rdb := newClient(t, p.Addr(), noRetries)
		v, err := rdb.Eval(ctx, nested(DefaultMaxDepth), nil).Result()
		require.NoError(t, err)
		for i := 0; i < DefaultMaxDepth; i++ {
			s, ok := v.([]interface{})
			require.True(t, ok)
			v = s[0]
		}
		assert.EqualValues(t, 1, v)
	})
	t.Run("nesting beyond the bound", func(t *testing.T) {
		p := New(t, srv.Addr)
		rdb := newClient(t, p.Addr(), noRetries)
		err := rdb.Eval(ctx, nested(DefaultMaxDepth+1), nil).Err()
		require.Error(t, err)
		assert.ErrorIs(t, err, io.EOF, "the proxy closed the connection")
	})
}

// Close ends every connection, paused or stalled, and every goroutine
// (TestMain checks for leaks).
func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	p, err := Start(srv.Addr)
	require.NoError(t, err)
	ctx := ctxT(t)
	rdb := newClient(t, p.Addr(), noRetries)
	require.NoError(t, rdb.Ping(ctx).Err())
	p.DropReply(Command("GET"), 1)
	stalled := make(chan error, 1)
	go func() { stalled <- rdb.Get(ctx, "k").Err() }()
	require.Eventually(t, func() bool { return p.Stats().Commands["GET"] == 1 }, patience, 5*time.Millisecond)
	p.Pause()
	blocked, err := net.Dial("tcp", p.Addr()) // accepted, waits for Resume
	require.NoError(t, err)
	defer blocked.Close()

	require.NoError(t, p.Close())
	assert.Error(t, <-stalled)
	require.NoError(t, blocked.SetReadDeadline(time.Now().Add(patience)))
	_, err = blocked.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
	assert.NoError(t, p.Close(), "closing twice")
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	assert.Error(t, err, "no longer listening")
}
