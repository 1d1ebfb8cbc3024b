package pgfault

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Message builders, for these tests, the fuzz seeds and the wire client of
// the proxy's tests.

func cstr(s string) []byte { return append([]byte(s), 0) }

func i16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func i32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// msg is a typed message of the given body parts.
func msg(typ byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(append([]byte{typ}, i32(4+len(body))...), body...)
}

// startupPacket is a StartupMessage (protocol 3.0) with the given
// parameters, name and value alternating.
func startupPacket(params ...string) []byte {
	body := i32(196608)
	for _, p := range params {
		body = append(body, cstr(p)...)
	}
	body = append(body, 0)
	return append(i32(4+len(body)), body...)
}

func requestPacket(code int, extra ...byte) []byte {
	body := append(i32(code), extra...)
	return append(i32(4+len(body)), body...)
}

func feParse(name, query string) []byte { return msg('P', cstr(name), cstr(query), i16(0)) }

// feBind binds stmt to portal with text parameters (nil: NULL) and text
// results.
func feBind(portal, stmt string, params ...*string) []byte {
	parts := [][]byte{cstr(portal), cstr(stmt), i16(0), i16(len(params))}
	for _, p := range params {
		if p == nil {
			parts = append(parts, i32(-1))
			continue
		}
		parts = append(parts, i32(len(*p)), []byte(*p))
	}
	parts = append(parts, i16(0))
	return msg('B', parts...)
}

func feDescribe(kind byte, name string) []byte { return msg('D', []byte{kind}, cstr(name)) }
func feClose(kind byte, name string) []byte    { return msg('C', []byte{kind}, cstr(name)) }
func feExecute(portal string) []byte           { return msg('E', cstr(portal), i32(0)) }
func feSync() []byte                           { return msg('S') }
func feFlush() []byte                          { return msg('H') }
func feQuery(q string) []byte                  { return msg('Q', cstr(q)) }
func feTerminate() []byte                      { return msg('X') }

func beReady() []byte              { return msg('Z', []byte{'I'}) }
func beComplete(tag string) []byte { return msg('C', cstr(tag)) }
func beError(text string) []byte {
	return msg('E', []byte{'S'}, cstr("ERROR"), []byte{'M'}, cstr(text), []byte{0})
}
func beNotice(text string) []byte {
	return msg('N', []byte{'S'}, cstr("NOTICE"), []byte{'M'}, cstr(text), []byte{0})
}
func beDataRow(v string) []byte { return msg('D', i16(1), i32(len(v)), []byte(v)) }
func beRowDesc() []byte {
	return msg('T', i16(1), cstr("c"), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0))
}
func beParamStatus(k, v string) []byte { return msg('S', cstr(k), cstr(v)) }

func str(s string) *string { return &s }

func frameReaderOf(b []byte) *frameReader {
	// A small buffer exercises messages longer than the buffer.
	return newFrameReader(bufio.NewReaderSize(bytes.NewReader(b), 16), 1<<20)
}

func TestReadMessage(t *testing.T) {
	in := bytes.Join([][]byte{feQuery("SELECT 1"), feSync(), feParse("s1", "SELECT $1")}, nil)
	fr := frameReaderOf(in)
	var got [][]byte
	for {
		f, err := fr.readMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, f.raw[5:], f.body)
		assert.Equal(t, f.raw[0], f.typ)
		got = append(got, f.raw)
	}
	assert.Equal(t, in, bytes.Join(got, nil), "the raw bytes of the messages are the input")
	require.Len(t, got, 3)
	q, err := queryMessage(got[0][5:])
	require.NoError(t, err)
	assert.Equal(t, "SELECT 1", q)
	name, query, err := parseMessage(got[2][5:])
	require.NoError(t, err)
	assert.Equal(t, "s1", name)
	assert.Equal(t, "SELECT $1", query)
}

func TestReadMessageErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"type only", []byte{'Q'}, io.ErrUnexpectedEOF},
		{"partial length", []byte{'Q', 0, 0}, io.ErrUnexpectedEOF},
		{"length below 4", []byte{'Q', 0, 0, 0, 3}, ErrProtocol},
		{"too large", append([]byte{'Q'}, i32(2<<20)...), ErrMessageTooLarge},
		{"length past the end", append([]byte{'Q'}, i32(10)...), io.ErrUnexpectedEOF},
		{"negative length", []byte{'Q', 0xff, 0xff, 0xff, 0xff}, ErrMessageTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := frameReaderOf(c.in).readMessage()
			assert.ErrorIs(t, err, c.want)
		})
	}
}

func TestReadStartup(t *testing.T) {
	in := bytes.Join([][]byte{requestPacket(sslRequestCode), startupPacket("user", "u", "database", "d"), feQuery("x")}, nil)
	fr := frameReaderOf(in)
	f, err := fr.readStartup()
	require.NoError(t, err)
	assert.EqualValues(t, sslRequestCode, startupCode(f))
	f, err = fr.readStartup()
	require.NoError(t, err)
	assert.True(t, isProtocol3(startupCode(f)))
	assert.Equal(t, startupPacket("user", "u", "database", "d"), f.raw)
	m, err := fr.readMessage()
	require.NoError(t, err)
	assert.Equal(t, byte('Q'), m.typ)

	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"empty":           {nil, io.EOF},
		"short length":    {i32(7), ErrProtocol},
		"over 10000":      {i32(10001), ErrProtocol},
		"truncated":       {append(i32(16), i32(196608)...), io.ErrUnexpectedEOF},
		"partial length":  {[]byte{0, 0}, io.ErrUnexpectedEOF},
		"length huge":     {[]byte{0xff, 0xff, 0xff, 0xff}, ErrProtocol},
		"only the length": {i32(8), io.ErrUnexpectedEOF},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := frameReaderOf(c.in).readStartup()
			assert.ErrorIs(t, err, c.want)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	_, _, err := parseMessage([]byte("s1\x00SELECT"))
	assert.ErrorIs(t, err, ErrProtocol, "query without its NUL")
	_, _, err = bindMessage([]byte("p"))
	assert.ErrorIs(t, err, ErrProtocol)
	_, err = executeMessage(nil)
	assert.ErrorIs(t, err, ErrProtocol)
	_, _, err = closeMessage('C', []byte("X\x00"))
	assert.ErrorIs(t, err, ErrProtocol, "kind neither S nor P")
	_, _, err = closeMessage('D', nil)
	assert.ErrorIs(t, err, ErrProtocol)
	_, err = queryMessage([]byte("SELECT 1"))
	assert.ErrorIs(t, err, ErrProtocol)

	s := newSession()
	assert.ErrorIs(t, s.fromClient(frame{typ: 'P', body: []byte("x")}, nil), ErrProtocol)
	assert.Empty(t, s.pending, "a malformed message queues nothing")
}

func TestVerb(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                      "SELECT",
		"  insert into t values (1)":    "INSERT",
		"commit":                        "COMMIT",
		"WITH c AS (SELECT 1) SELECT 1": "WITH",
		"-- ping":                       "",
		"-- a comment\nupdate t set":    "UPDATE",
		"/* c */ /* d */begin;":         "BEGIN",
		"/* unterminated":               "",
		"":                              "",
		";":                             "",
		"pg_notify":                     "PG_NOTIFY",
		"SÉLECT":                        "S",
	} {
		assert.Equal(t, want, Verb(q), "%q", q)
	}
	assert.True(t, Verbs("commit", "END")("COMMIT"))
	assert.False(t, Verbs("commit")("ROLLBACK"))
	assert.True(t, Any(Contains("x"), Contains("y"))("y"))
	assert.False(t, All(Contains("x"), Contains("y"))("y"))
}

// script drives a session: client messages, then server messages, each
// server message's reply checked.
type sessionScript struct {
	t    *testing.T
	s    *session
	rule *Rule
	// matches: the queries the rule claims.
	matches func(q string) bool
	seen    []string
}

func newScript(t *testing.T, matches func(q string) bool) *sessionScript {
	s := newSession()
	s.startup()
	sc := &sessionScript{t: t, s: s, rule: &Rule{}, matches: matches}
	sc.server(beParamStatus("server_version", "17"), reply{syncPending: true})
	sc.server(beReady(), reply{ready: true})
	return sc
}

func (sc *sessionScript) client(msgs ...[]byte) {
	sc.t.Helper()
	for _, m := range msgs {
		f, err := frameReaderOf(m).readMessage()
		require.NoError(sc.t, err)
		require.NoError(sc.t, sc.s.fromClient(f, func(q string) *Rule {
			sc.seen = append(sc.seen, q)
			if sc.matches(q) {
				return sc.rule
			}
			return nil
		}))
	}
}

// server feeds m and checks its reply; want.stmt is compared by whether
// it is the rule's statement (set: the rule's; nil: none or another).
func (sc *sessionScript) server(m []byte, want reply) reply {
	sc.t.Helper()
	f, err := frameReaderOf(m).readMessage()
	require.NoError(sc.t, err)
	got := sc.s.fromServer(f)
	norm := func(r reply) reply {
		if r.stmt != nil && r.stmt.rule == nil {
			r.stmt = &entry{} // a statement no rule claimed
		}
		if r.stmt != nil && r.stmt.rule != nil {
			r.stmt = &entry{rule: sc.rule}
		}
		return r
	}
	assert.Equal(sc.t, norm(want), norm(got), "reply to %q", m[0])
	return got
}

var (
	ruled   = &entry{rule: &Rule{}} // the rule's statement
	unruled = &entry{}              // a statement without a rule
)

func TestSessionExtended(t *testing.T) {
	sc := newScript(t, func(q string) bool { return q == "INSERT INTO t VALUES ($1)" })
	// pgx's prepare: Parse, Describe, Sync.
	sc.client(feParse("stmt_1", "INSERT INTO t VALUES ($1)"), feDescribe('S', "stmt_1"), feSync())
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('t', i16(1), i32(25)), reply{syncPending: true})
	sc.server(msg('n'), reply{syncPending: true})
	sc.server(beReady(), reply{ready: true})
	assert.Empty(t, sc.seen, "no statement ran yet")
	// Its execution: Bind, Describe portal, Execute, Sync.
	sc.client(feBind("", "stmt_1", str("1")), feDescribe('P', ""), feExecute(""), feSync())
	sc.server(msg('2'), reply{syncPending: true})
	sc.server(msg('n'), reply{syncPending: true})
	sc.server(beNotice("hello"), reply{syncPending: true})
	sc.server(beComplete("INSERT 0 1"), reply{stmt: ruled, first: true, end: true, syncPending: true})
	sc.server(beReady(), reply{ready: true})
	assert.Equal(t, []string{"INSERT INTO t VALUES ($1)"}, sc.seen)
	assert.Empty(t, sc.s.pending)
}

func TestSessionRowsThenComplete(t *testing.T) {
	sc := newScript(t, func(q string) bool { return q == "SELECT a" })
	sc.client(feParse("", "SELECT a"), feBind("", ""), feExecute(""), feSync())
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('2'), reply{syncPending: true})
	sc.server(beDataRow("1"), reply{stmt: ruled, first: true, syncPending: true})
	sc.server(beDataRow("2"), reply{stmt: ruled, syncPending: true})
	sc.server(beComplete("SELECT 2"), reply{stmt: ruled, end: true, syncPending: true})
	sc.server(beReady(), reply{ready: true})
}

func TestSessionSimpleQuery(t *testing.T) {
	sc := newScript(t, func(q string) bool { return q == "commit" })
	sc.client(feQuery("begin"))
	sc.server(beComplete("BEGIN"), reply{stmt: unruled, first: true, syncPending: true})
	sc.server(msg('Z', []byte{'T'}), reply{stmt: unruled, end: true, ready: true})
	sc.client(feQuery("commit"))
	sc.server(beComplete("COMMIT"), reply{stmt: ruled, first: true, syncPending: true})
	sc.server(beReady(), reply{stmt: ruled, end: true, ready: true})
	// A query of many statements, rows and an error: one reply.
	sc.client(feQuery("SELECT 1; SELECT x"))
	sc.server(beRowDesc(), reply{stmt: unruled, first: true, syncPending: true})
	sc.server(beDataRow("1"), reply{stmt: unruled, syncPending: true})
	sc.server(beComplete("SELECT 1"), reply{stmt: unruled, syncPending: true})
	sc.server(beError("column x does not exist"), reply{stmt: unruled, syncPending: true})
	sc.server(beReady(), reply{stmt: unruled, end: true, ready: true})
	assert.Empty(t, sc.s.pending)
}

// An error skips the rest of the Sync group: a matched Execute after it
// never starts, and the next group pairs as usual.
func TestSessionErrorSkipsToSync(t *testing.T) {
	sc := newScript(t, func(q string) bool { return q == "SELEKT 1" || q == "SELECT 2" })
	sc.client(feParse("", "SELEKT 1"), feBind("", ""), feExecute(""), feSync())
	sc.server(beError("syntax error"), reply{syncPending: true})
	assert.Len(t, sc.s.pending, 1, "only the Sync waits")
	sc.server(beReady(), reply{ready: true})
	sc.client(feParse("", "SELECT 2"), feBind("", ""), feExecute(""), feSync())
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('2'), reply{syncPending: true})
	sc.server(beDataRow("2"), reply{stmt: ruled, first: true, syncPending: true})
	sc.server(beError("division by zero"), reply{stmt: ruled, end: true, syncPending: true})
	sc.server(beReady(), reply{ready: true})
	assert.Empty(t, sc.s.pending)
}

// Two Executes in one Sync group, of named and unnamed statements; the
// unnamed one parsed again between them; a closed statement forgotten.
func TestSessionPipelinedExecutes(t *testing.T) {
	sc := newScript(t, func(q string) bool { return q == "Q2" })
	sc.client(feParse("a", "Q1"), feParse("", "Q0"), feBind("p1", "a"), feExecute("p1"),
		feParse("", "Q2"), feBind("", ""), feExecute(""), feClose('S', "a"), feSync())
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('2'), reply{syncPending: true})
	sc.server(beComplete("SELECT 0"), reply{stmt: unruled, first: true, end: true, syncPending: true})
	sc.server(msg('1'), reply{syncPending: true})
	sc.server(msg('2'), reply{syncPending: true})
	sc.server(beComplete("SELECT 0"), reply{stmt: ruled, first: true, end: true, syncPending: true})
	sc.server(msg('3'), reply{syncPending: true})
	sc.server(beReady(), reply{ready: true})
	assert.Equal(t, []string{"Q1", "Q2"}, sc.seen)
	sc.client(feBind("", "a"), feExecute(""), feFlush())
	assert.Equal(t, "", sc.seen[2], "a closed statement's query is unknown")
	sc.server(msg('2'), reply{})
	sc.server(beComplete("SELECT 0"), reply{stmt: unruled, first: true, end: true})
}

// FuzzFrames feeds arbitrary client and server byte streams to the
// message reader and the session: no panic, the raw bytes of the messages
// read are the input read, and the replies are consistent.
func FuzzFrames(f *testing.F) {
	fe := bytes.Join([][]byte{
		startupPacket("user", "hookwise", "database", "postgres"),
		feParse("s", "INSERT INTO t VALUES ($1)"), feDescribe('S', "s"), feSync(),
		feBind("", "s", str("1"), nil), feExecute(""), feSync(),
		feQuery("commit"), feClose('P', ""), feTerminate(),
	}, nil)
	be := bytes.Join([][]byte{
		msg('R', i32(0)), beParamStatus("a", "b"), msg('K', i32(1), i32(2)), beReady(),
		msg('1'), msg('t', i16(1), i32(23)), msg('n'), beReady(),
		msg('2'), beDataRow("x"), beComplete("INSERT 0 1"), beReady(),
		beComplete("COMMIT"), beNotice("n"), beReady(), msg('3'),
	}, nil)
	f.Add(fe, be)
	f.Add(append(requestPacket(sslRequestCode), fe...), beError("boom"))
	f.Add(bytes.Join([][]byte{startupPacket(), feParse("", "x"), feBind("", ""), feExecute(""), feSync()}, nil),
		bytes.Join([][]byte{beReady(), beError("e"), beReady(), beReady()}, nil))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47}, []byte{'Z', 0, 0, 0, 4})
	f.Add([]byte{'Q', 0, 0, 0, 3}, []byte{'D', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, fe, be []byte) {
		s := newSession()
		rule := &Rule{}
		n := 0
		classify := func(string) *Rule {
			n++
			if n%2 == 0 {
				return rule
			}
			return nil
		}
		fr := frameReaderOf(fe)
		var read []byte
		if f, err := fr.readStartup(); err == nil {
			read = append(read, f.raw...)
			if isProtocol3(startupCode(f)) {
				s.startup()
			}
			for {
				m, err := fr.readMessage()
				if err != nil {
					break
				}
				if len(m.raw) != 5+len(m.body) || m.raw[0] != m.typ {
					t.Fatalf("message framing: %d raw bytes, %d body bytes", len(m.raw), len(m.body))
				}
				read = append(read, m.raw...)
				_ = s.fromClient(m, classify)
			}
		}
		if !bytes.HasPrefix(fe, read) {
			t.Fatal("raw bytes are not the input")
		}
		fr = frameReaderOf(be)
		read = read[:0]
		for {
			m, err := fr.readMessage()
			if err != nil {
				break
			}
			read = append(read, m.raw...)
			r := s.fromServer(m)
			if (r.first || r.end) && r.stmt == nil {
				t.Fatalf("reply %+v without a statement", r)
			}
			for _, e := range s.pending {
				if e == nil {
					t.Fatal("nil entry pending")
				}
			}
		}
		if !bytes.HasPrefix(be, read) {
			t.Fatal("raw bytes are not the input")
		}
	})
}
