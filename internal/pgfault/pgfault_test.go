package pgfault

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/leakcheck"
	"github.com/hookwise/hookwise/internal/pgtest"
)

// The package's PostgreSQL server, started by the first test that needs
// one and stopped after the tests.
var (
	srvOnce sync.Once
	srv     *pgtest.Server
	srvErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	if code == 0 {
		if leaked := leakcheck.Leaked(5 * time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutines still running after the tests:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

func server(t testing.TB) *pgtest.Server {
	t.Helper()
	srvOnce.Do(func() { srv, srvErr = pgtest.New() })
	if srvErr != nil {
		pgtest.Fail(t, srvErr)
	}
	return srv
}

// patience bounds waits that succeed at once on an idle machine.
const patience = 10 * time.Second

// wire is a minimal PostgreSQL client: the startup (trust authentication),
// simple and extended queries with text parameters and results.
type wire struct {
	t  testing.TB
	c  net.Conn
	fr *frameReader
}

// result is what the server answered up to a ReadyForQuery.
type result struct {
	tags []string   // CommandComplete tags
	rows [][]string // data rows, text
	errs []string   // ErrorResponse messages
	note []string   // NotificationResponse payloads
}

func dialWire(t testing.TB, addr string) (*wire, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		return nil, err
	}
	w := &wire{t: t, c: c, fr: newFrameReader(bufio.NewReader(c), 0)}
	t.Cleanup(func() { _ = c.Close() })
	if err := w.send(startupPacket("user", pgtest.User, "database", "postgres")); err != nil {
		return nil, err
	}
	res, err := w.ready()
	if err != nil {
		return nil, err
	}
	if len(res.errs) > 0 {
		return nil, errors.New(res.errs[0])
	}
	return w, nil
}

func connect(t testing.TB, addr string) *wire {
	t.Helper()
	w, err := dialWire(t, addr)
	require.NoError(t, err)
	return w
}

func (w *wire) send(msgs ...[]byte) error {
	_ = w.c.SetWriteDeadline(time.Now().Add(patience))
	_, err := w.c.Write(bytes.Join(msgs, nil))
	return err
}

// ready reads the server's messages up to a ReadyForQuery, within
// patience.
func (w *wire) ready() (result, error) { return w.readyWithin(patience) }

func (w *wire) readyWithin(d time.Duration) (result, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(d))
	var res result
	for {
		f, err := w.fr.readMessage()
		if err != nil {
			return res, err
		}
		switch f.typ {
		case 'C':
			tag, _ := queryMessage(f.body)
			res.tags = append(res.tags, tag)
		case 'D':
			res.rows = append(res.rows, dataRow(f.body))
		case 'E':
			res.errs = append(res.errs, errorText(f.body))
		case 'A':
			c := newCursor(f.body[4:])
			c.cstring()
			res.note = append(res.note, c.cstring())
		case 'R':
			if binary.BigEndian.Uint32(f.body) != 0 {
				return res, errors.New("authentication other than trust asked for")
			}
		case 'Z':
			return res, nil
		}
	}
}

func dataRow(b []byte) []string {
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	row := make([]string, 0, n)
	for range n {
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l < 0 {
			row = append(row, "NULL")
			continue
		}
		row = append(row, string(b[:l]))
		b = b[l:]
	}
	return row
}

func errorText(b []byte) string {
	c := newCursor(b)
	for c.ok && len(c.b) > 0 && c.b[0] != 0 {
		code := c.byte1()
		v := c.cstring()
		if code == 'M' {
			return v
		}
	}
	return "error"
}

// simple runs a simple Query.
func (w *wire) simple(q string) (result, error) {
	if err := w.send(feQuery(q)); err != nil {
		return result{}, err
	}
	return w.ready()
}

// extended runs q as an unnamed statement with text parameters, in one
// Sync group.
func (w *wire) extended(q string, params ...string) (result, error) {
	ps := make([]*string, len(params))
	for i := range params {
		ps[i] = &params[i]
	}
	if err := w.send(feParse("", q), feBind("", "", ps...), feExecute(""), feSync()); err != nil {
		return result{}, err
	}
	return w.ready()
}

// must runs a simple query and fails t on any error.
func (w *wire) must(q string) result {
	w.t.Helper()
	res, err := w.simple(q)
	require.NoError(w.t, err)
	require.Empty(w.t, res.errs, q)
	return res
}

// env is a proxy in front of the package's server, a direct client and a
// table of its own.
type env struct {
	p      *Proxy
	direct *wire
	table  string
}

var tables atomic.Int64

func setup(t *testing.T) *env {
	t.Helper()
	s := server(t)
	target := fmt.Sprintf("127.0.0.1:%d", s.Port)
	e := &env{p: New(t, target), direct: connect(t, target), table: fmt.Sprintf("t%d", tables.Add(1))}
	e.direct.must("CREATE TABLE " + e.table + " (v text)")
	return e
}

// values returns the table's values, read directly.
func (e *env) values(t *testing.T) []string {
	t.Helper()
	res := e.direct.must("SELECT v FROM " + e.table + " ORDER BY v")
	out := []string{}
	for _, r := range res.rows {
		out = append(out, r[0])
	}
	return out
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(fmt.Sprint(err), "connection reset")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestForwardSimpleAndExtended(t *testing.T) {
	e := setup(t)
	w := connect(t, e.p.Addr())
	res, err := w.extended("INSERT INTO "+e.table+" VALUES ($1), ($2)", "a", "b\x01c")
	require.NoError(t, err)
	assert.Equal(t, []string{"INSERT 0 2"}, res.tags)
	res, err = w.simple("SELECT v FROM " + e.table + " ORDER BY v; SELECT 1")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"a"}, {"b\x01c"}, {"1"}}, res.rows)
	res, err = w.extended("SELECT 1/0")
	require.NoError(t, err)
	assert.Equal(t, []string{"division by zero"}, res.errs)

	// A named statement prepared, then run twice in one Sync group.
	require.NoError(t, w.send(feParse("ins", "INSERT INTO "+e.table+" VALUES ($1)"), feDescribe('S', "ins"), feSync()))
	_, err = w.ready()
	require.NoError(t, err)
	require.NoError(t, w.send(feBind("", "ins", str("c")), feExecute(""), feBind("", "ins", str("d")), feExecute(""), feSync()))
	res, err = w.ready()
	require.NoError(t, err)
	assert.Equal(t, []string{"INSERT 0 1", "INSERT 0 1"}, res.tags)
	assert.Equal(t, []string{"a", "b\x01c", "c", "d"}, e.values(t))

	st := e.p.Stats()
	assert.Equal(t, 5, st.Statements, "Execute and Query messages")
	assert.Equal(t, 3, st.Verbs["INSERT"])
	assert.Equal(t, 2, st.Verbs["SELECT"])
	assert.Equal(t, 1, st.Connections)
	assert.Zero(t, st.Cuts)
}

// An SSLRequest is answered 'N' by the proxy; the startup follows on the
// same connection.
func TestSSLRequestRefused(t *testing.T) {
	e := setup(t)
	c, err := net.DialTimeout("tcp", e.p.Addr(), patience)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(patience))
	_, err = c.Write(requestPacket(sslRequestCode))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	assert.Equal(t, byte('N'), b[0])
	w := &wire{t: t, c: c, fr: newFrameReader(bufio.NewReader(c), 0)}
	require.NoError(t, w.send(startupPacket("user", pgtest.User, "database", "postgres")))
	_, err = w.ready()
	require.NoError(t, err)
	res := w.must("SELECT 42")
	assert.Equal(t, [][]string{{"42"}}, res.rows)
}

// An autocommit INSERT cut after the server applied it: the client reads
// EOF and nothing of the reply; the row is committed.
func TestCutAfterApplyExtended(t *testing.T) {
	e := setup(t)
	cut := e.p.CutAfterApply(Contains("INSERT INTO "+e.table), 1)
	w := connect(t, e.p.Addr())
	w.must("SELECT 1") // statements that do not match pass
	res, err := w.extended("INSERT INTO "+e.table+" VALUES ($1)", "x")
	assert.True(t, isEOF(err), "the client reads the end of the connection, got %v", err)
	assert.Empty(t, res.tags, "nothing of the reply delivered")
	assert.Equal(t, []string{"x"}, e.values(t), "committed")
	assert.Equal(t, 1, cut.Fired())
	assert.Equal(t, 1, cut.Matched())
	select {
	case <-cut.Done():
	default:
		t.Error("Done not closed after the rule fired n times")
	}

	// The rule is spent: a new connection runs the same statement.
	w2 := connect(t, e.p.Addr())
	res, err = w2.extended("INSERT INTO "+e.table+" VALUES ($1)", "y")
	require.NoError(t, err)
	assert.Equal(t, []string{"INSERT 0 1"}, res.tags)
	st := e.p.Stats()
	assert.Equal(t, 1, st.Cuts)
	assert.Equal(t, 2, st.Connections)
	require.Len(t, st.Rules, 1)
	assert.Equal(t, RuleStats{ID: 1, Kind: KindCutAfterApply, Matched: 1, Fired: 1}, st.Rules[0])
}

// A simple Query cut: committed, client sees EOF.
func TestCutAfterApplySimple(t *testing.T) {
	e := setup(t)
	cut := e.p.CutAfterApply(Verbs("insert"), 1)
	w := connect(t, e.p.Addr())
	_, err := w.simple("INSERT INTO " + e.table + " VALUES ('s')")
	assert.True(t, isEOF(err), "got %v", err)
	assert.Equal(t, []string{"s"}, e.values(t))
	assert.Equal(t, 1, cut.Fired())
}

// Inside a transaction block, a cut statement is rolled back with its
// connection; a cut COMMIT is committed.
func TestCutAfterApplyInTransaction(t *testing.T) {
	e := setup(t)
	cut := e.p.CutAfterApply(Contains("VALUES ('in tx')"), 1)
	w := connect(t, e.p.Addr())
	w.must("BEGIN")
	_, err := w.extended("INSERT INTO " + e.table + " VALUES ('in tx')")
	assert.True(t, isEOF(err), "got %v", err)
	assert.Equal(t, 1, cut.Fired())

	commit := e.p.CutAfterApply(Verbs("COMMIT"), 1)
	w = connect(t, e.p.Addr())
	w.must("BEGIN")
	res, err := w.extended("INSERT INTO "+e.table+" VALUES ($1)", "committed")
	require.NoError(t, err)
	assert.Equal(t, []string{"INSERT 0 1"}, res.tags)
	_, err = w.simple("commit")
	assert.True(t, isEOF(err), "got %v", err)
	assert.Equal(t, 1, commit.Fired())
	assert.Equal(t, []string{"committed"}, e.values(t), "the first INSERT rolled back, the cut COMMIT committed")
}

// Two statements in one Sync group, the first matched: the cut waits for
// the group's ReadyForQuery, so both commit (one implicit transaction).
func TestCutAfterApplyWaitsForSync(t *testing.T) {
	e := setup(t)
	cut := e.p.CutAfterApply(Contains("'first'"), 1)
	w := connect(t, e.p.Addr())
	require.NoError(t, w.send(
		feParse("", "INSERT INTO "+e.table+" VALUES ('first')"), feBind("", ""), feExecute(""),
		feParse("", "INSERT INTO "+e.table+" VALUES ('second')"), feBind("", ""), feExecute(""),
		feSync()))
	res, err := w.ready()
	assert.True(t, isEOF(err), "got %v", err)
	assert.Empty(t, res.tags, "nothing of the cut statement's reply, nor after it")
	assert.Equal(t, []string{"first", "second"}, e.values(t))
	assert.Equal(t, 1, cut.Fired())
}

// A matched statement that the server skips (an error earlier in its
// Sync group) does not fire; the connection stays in step.
func TestSkippedStatementDoesNotFire(t *testing.T) {
	e := setup(t)
	cut := e.p.CutAfterApply(Contains("INSERT INTO "+e.table), 1)
	w := connect(t, e.p.Addr())
	require.NoError(t, w.send(
		feParse("", "SELEKT 1"), feBind("", ""), feExecute(""),
		feParse("", "INSERT INTO "+e.table+" VALUES ('skipped')"), feBind("", ""), feExecute(""),
		feSync()))
	res, err := w.ready()
	require.NoError(t, err)
	require.Len(t, res.errs, 1)
	assert.Contains(t, res.errs[0], "syntax error")
	assert.Equal(t, 1, cut.Matched())
	assert.Zero(t, cut.Fired())
	res, err = w.extended("INSERT INTO "+e.table+" VALUES ($1)", "after")
	require.NoError(t, err, "the rule is spent and the connection in step")
	assert.Equal(t, []string{"INSERT 0 1"}, res.tags)
	assert.Equal(t, []string{"after"}, e.values(t))
}

func TestHoldReply(t *testing.T) {
	e := setup(t)
	const hold = 300 * time.Millisecond
	r := e.p.HoldReply(Contains("pg_sleep(0)"), hold, 1)
	w := connect(t, e.p.Addr())
	start := time.Now()
	res, err := w.extended("SELECT 7, pg_sleep(0)")
	took := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"7", ""}}, res.rows)
	assert.GreaterOrEqual(t, took, hold)
	assert.Equal(t, 1, r.Fired())

	start = time.Now()
	w.must("SELECT pg_sleep(0)")
	assert.Less(t, time.Since(start), hold, "the rule is spent")
}

// A reply held past the client's deadline: the client gives up while the
// statement is applied.
func TestHoldReplyPastDeadline(t *testing.T) {
	e := setup(t)
	r := e.p.HoldReply(Contains("INSERT"), 2*time.Second, 1)
	w := connect(t, e.p.Addr())
	require.NoError(t, w.send(feQuery("INSERT INTO "+e.table+" VALUES ('held')")))
	_, err := w.readyWithin(200 * time.Millisecond)
	assert.True(t, isTimeout(err), "got %v", err)
	assert.Equal(t, []string{"held"}, e.values(t))
	assert.Equal(t, 1, r.Fired())
	start := time.Now()
	require.NoError(t, w.c.Close())
	// The proxy ends the connection when the client closes, not after the
	// hold: Close waits for its goroutines.
	require.NoError(t, e.p.Close())
	assert.Less(t, time.Since(start), time.Second)
}

// A dropped reply: the client connection stays open and silent; the
// statement is applied; the client's close ends it.
func TestDropReply(t *testing.T) {
	e := setup(t)
	r := e.p.DropReply(Contains("INSERT"), 1)
	w := connect(t, e.p.Addr())
	_, err := w.simple("SELECT 1")
	require.NoError(t, err)
	require.NoError(t, w.send(feParse("", "INSERT INTO "+e.table+" VALUES ($1)"), feBind("", "", str("dropped")), feExecute(""), feSync()))
	_, err = w.readyWithin(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "silent, not closed: got %v", err)
	_, err = w.readyWithin(200 * time.Millisecond)
	assert.True(t, isTimeout(err), "still silent: got %v", err)
	assert.Equal(t, []string{"dropped"}, e.values(t))
	assert.Equal(t, 1, r.Fired())
	assert.Zero(t, e.p.Stats().Cuts)
	require.NoError(t, w.c.Close())
	assert.Eventually(t, func() bool { return e.p.core.Live() == 0 }, patience, 10*time.Millisecond,
		"the client's close ends the connection")
}

func TestCutAll(t *testing.T) {
	e := setup(t)
	a, b := connect(t, e.p.Addr()), connect(t, e.p.Addr())
	assert.Equal(t, 2, e.p.CutAll())
	_, errA := a.simple("SELECT 1")
	_, errB := b.simple("SELECT 1")
	assert.Error(t, errA)
	assert.Error(t, errB)
	c := connect(t, e.p.Addr())
	c.must("SELECT 1")
	st := e.p.Stats()
	assert.Equal(t, 2, st.Cuts)
	assert.Equal(t, 3, st.Connections)
}

func TestPauseResume(t *testing.T) {
	e := setup(t)
	w := connect(t, e.p.Addr())
	e.p.Pause()
	require.NoError(t, w.send(feQuery("INSERT INTO "+e.table+" VALUES ('paused')")))
	_, err := w.readyWithin(200 * time.Millisecond)
	assert.True(t, isTimeout(err), "got %v", err)
	assert.Empty(t, e.values(t), "not forwarded while paused")
	e.p.Resume()
	res, err := w.ready()
	require.NoError(t, err)
	assert.Equal(t, []string{"INSERT 0 1"}, res.tags)
	assert.Equal(t, []string{"paused"}, e.values(t))
}

// Notifications are forwarded in place and are nobody's reply: a rule on
// the next statement fires on that statement.
func TestNotificationsForwarded(t *testing.T) {
	e := setup(t)
	w := connect(t, e.p.Addr())
	w.must("LISTEN ch_" + e.table)
	r := e.p.HoldReply(Verbs("SELECT"), 100*time.Millisecond, 1)
	e.direct.must("NOTIFY ch_" + e.table + ", 'hello'")
	require.NoError(t, w.send(feQuery("SELECT 5")))
	start := time.Now()
	res, err := w.ready()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"5"}}, res.rows)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	if len(res.note) == 0 { // delivered before the query's reply, or not yet
		res, err = w.simple("SELECT 6")
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"hello"}, res.note)
	assert.Equal(t, 1, r.Fired())
}

// A malformed message from the client closes its connection.
func TestMalformedMessageCloses(t *testing.T) {
	e := setup(t)
	w := connect(t, e.p.Addr())
	require.NoError(t, w.send([]byte{'Q', 0, 0, 0, 2}))
	_, err := w.ready()
	assert.True(t, isEOF(err), "got %v", err)
}
