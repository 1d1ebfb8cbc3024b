package dlqcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// recordingQueue is a receiver.Queue that keeps what is enqueued.
type recordingQueue struct {
	mu     sync.Mutex
	events []*receiver.Event
}

func (q *recordingQueue) Enqueue(_ context.Context, e *receiver.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, e)
	return nil
}
func (q *recordingQueue) Start(driver.Processor) error   { return nil }
func (q *recordingQueue) Shutdown(context.Context) error { return nil }

// memBackend keeps dead letters in memory; Locate finds endpoints in known.
type memBackend struct {
	dl    *receiver.MemoryDeadLetters
	q     *recordingQueue
	store dedupe.Store
	known map[string]string // event ID → endpoint
}

func (b *memBackend) List(ctx context.Context) ([]Entry, error) {
	all, err := b.dl.List(ctx, 0)
	var out []Entry
	for _, d := range all {
		out = append(out, Entry{DeadLetter: d})
	}
	return out, err
}

func (b *memBackend) Delete(ctx context.Context, m Entry) error {
	return b.dl.Delete(ctx, m.DeadLetter.Event.Provider, m.DeadLetter.Key())
}

func (b *memBackend) Locate(_ context.Context, m Entry) (Entry, error) {
	m.Endpoint = b.known[m.DeadLetter.Event.ID]
	return m, nil
}

func (b *memBackend) Replayer(_ context.Context, m Entry) (receiver.Replayer, error) {
	if m.Endpoint == "" {
		return receiver.Replayer{}, ErrNoLocation
	}
	return receiver.Replayer{Queue: b.q, Store: b.store, DeadLetters: b.dl}, nil
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newBackend(t *testing.T) *memBackend {
	t.Helper()
	b := &memBackend{dl: receiver.NewMemoryDeadLetters(100), q: &recordingQueue{}, store: dedupe.NewMemory(),
		known: map[string]string{"evt_a": "billing"}}
	ctx := context.Background()
	put := func(id, typ string, failed time.Time, body string, h http.Header) {
		e := &receiver.Event{Provider: "stripe", ID: id, Type: typ, Attempt: 3, ReceivedAt: failed.Add(-time.Minute),
			ClaimToken: "tok_" + id, Body: []byte(body), Header: h}
		require.NoError(t, b.dl.Put(ctx, receiver.DeadLetter{Event: e, Reason: "billing said no", FailedAt: failed}))
		require.NoError(t, b.store.Complete(ctx, dedupe.Key("stripe", id), "tok_"+id, time.Hour))
	}
	put("evt_b", "payment_intent.succeeded", t0.Add(-2*time.Hour), `{"id":"evt_b","amount":42}`, nil)
	put("evt_a", "invoice.paid", t0.Add(-3*time.Hour), `{"id":"evt_a","amount_paid":4200}`,
		http.Header{"Stripe-Signature": {"t=1,v1=abcdef"}, "Content-Type": {"application/json"}})
	put("evt_c", "invoice.voided", t0.Add(-30*time.Minute), "name=Ann%1B%5B31m&x=%1b%5D0%3Bpwn%07", nil)
	return b
}

func run(b Backend, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	c := &Command{Name: "tool", Help: "usage: tool dlq …\n", Stdout: &out, Stderr: &errb, Now: func() time.Time { return t0 },
		Open: func(context.Context) (Backend, func(), error) { return b, nil, nil }}
	err := c.Run(context.Background(), args)
	code := ExitOK
	var x *ExitError
	if errors.As(err, &x) {
		code = x.Code
		if x.Err != nil {
			errb.WriteString(x.Err.Error())
		}
	} else if err != nil {
		code = -1
	}
	return code, out.String(), errb.String()
}

func TestListFiltersAndOrder(t *testing.T) {
	b := newBackend(t)
	code, out, _ := run(b, "list")
	require.Equal(t, ExitOK, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.True(t, strings.HasPrefix(lines[0], "FAILED"))
	assert.Contains(t, lines[1], "evt_a") // oldest first
	assert.Contains(t, lines[2], "evt_b")
	assert.Contains(t, lines[3], "evt_c")
	assert.Contains(t, lines[1], "billing said no")

	code, out, _ = run(b, "list", "-type", "invoice.*", "-json")
	require.Equal(t, ExitOK, code)
	dec := json.NewDecoder(strings.NewReader(out))
	var ids []string
	for dec.More() {
		var l Listed
		require.NoError(t, dec.Decode(&l))
		ids = append(ids, l.ID)
		assert.Empty(t, l.Stream)
		assert.Nil(t, l.Payload, "list does not carry payloads")
	}
	assert.Equal(t, []string{"evt_a", "evt_c"}, ids)

	code, out, _ = run(b, "list", "-older-than", "1h", "-newer-than", "150m")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "evt_b")
	assert.NotContains(t, out, "evt_a")
	assert.NotContains(t, out, "evt_c")

	code, out, _ = run(b, "list", "-provider", " Stripe ", "-limit", "1")
	require.Equal(t, ExitOK, code)
	assert.Equal(t, 2, strings.Count(out, "\n"))

	code, _, errOut := run(b, "list", "-provider", "github")
	assert.Equal(t, ExitNegative, code)
	assert.Contains(t, errOut, "tool: no dead letter matches")
}

// show decodes the payload, redacts signatures, names the endpoint the
// Locator found, and never writes a control character of the delivery raw.
func TestShowDecodesRedactsAndEscapes(t *testing.T) {
	b := newBackend(t)
	code, out, _ := run(b, "show", "evt_a", "evt_c")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "endpoint:    billing")
	assert.Contains(t, out, `"amount_paid": 4200`)
	assert.Contains(t, out, "Stripe-Signature: [redacted]")
	assert.NotContains(t, out, "abcdef")
	assert.Contains(t, out, `name = Ann\u001b[31m`)
	assert.Contains(t, out, `x = \u001b]0;pwn\u0007`)
	for _, r := range out {
		assert.False(t, unicode.IsControl(r) && r != '\n', "raw control character %U", r)
	}
	code, out, _ = run(b, "show", "-json", "evt_a")
	require.Equal(t, ExitOK, code)
	var l Listed
	require.NoError(t, json.Unmarshal([]byte(out), &l))
	assert.Equal(t, "billing", l.Endpoint)
	assert.Equal(t, []string{"[redacted]"}, l.Header["Stripe-Signature"])
	assert.JSONEq(t, `{"id":"evt_a","amount_paid":4200}`, string(l.Payload))
}

// replay goes through the Replayer: a fresh attempt and claim token, the
// dedupe mark released, the event queued, the dead letter deleted; an
// entry whose queue is unknown is reported and left alone (exit 3).
func TestReplayThroughReplayer(t *testing.T) {
	b := newBackend(t)
	code, out, errOut := run(b, "replay", "-type", "invoice.*", "-all-matching")
	assert.Equal(t, ExitIO, code)
	assert.Contains(t, out, "replayed stripe evt_a invoice.paid (endpoint billing)")
	assert.Contains(t, errOut, "tool: replay stripe evt_c: "+ErrNoLocation.Error())
	assert.Contains(t, errOut, "dlq replay: 1 of 2 failed")
	require.Len(t, b.q.events, 1)
	e := b.q.events[0]
	assert.Equal(t, "evt_a", e.ID)
	assert.Equal(t, 1, e.Attempt)
	assert.NotEqual(t, "tok_evt_a", e.ClaimToken)
	outcome, err := b.store.Claim(context.Background(), dedupe.Key("stripe", "evt_a"), "other", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Claimed, outcome, "the done mark was released")
	left, err := b.dl.List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, left, 2)
	for _, d := range left {
		assert.NotEqual(t, "evt_a", d.Event.ID)
	}

	code, out, _ = run(b, "purge", "evt_c", "evt_b")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "purged stripe evt_b payment_intent.succeeded\n")
	code, _, _ = run(b, "list")
	assert.Equal(t, ExitNegative, code)
}

func TestUsageAndOpenErrors(t *testing.T) {
	b := newBackend(t)
	for _, args := range [][]string{
		{}, {"nope"}, {"show"}, {"replay"}, {"purge", "-provider", "stripe"},
		{"purge", "-all-matching", "evt_a"}, {"list", "-older-than", "soon"}, {"list", "-no-such-flag"},
	} {
		code, _, _ := run(b, args...)
		assert.Equal(t, ExitUsage, code, args)
	}
	code, out, _ := run(b, "-h")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "usage: tool dlq")
	code, _, _ = run(b, "list", "-h")
	assert.Equal(t, ExitOK, code)

	var errb bytes.Buffer
	c := &Command{Name: "tool", Stdout: &bytes.Buffer{}, Stderr: &errb,
		Open: func(context.Context) (Backend, func(), error) { return nil, nil, errors.New("connection refused") }}
	var x *ExitError
	require.ErrorAs(t, c.Run(context.Background(), []string{"list"}), &x)
	assert.Equal(t, ExitIO, x.Code)
	c.Open = func(context.Context) (Backend, func(), error) {
		return nil, nil, Exit(ExitUsage, errors.New("bad URL"))
	}
	require.ErrorAs(t, c.Run(context.Background(), []string{"list"}), &x)
	assert.Equal(t, ExitUsage, x.Code)
	closed := false
	c.Open = func(context.Context) (Backend, func(), error) { return failingList{}, func() { closed = true }, nil }
	require.ErrorAs(t, c.Run(context.Background(), []string{"list"}), &x)
	assert.Equal(t, ExitIO, x.Code)
	assert.True(t, closed, "the backend is closed")
}

type failingList struct{ *memBackend }

func (failingList) List(context.Context) ([]Entry, error) { return nil, errors.New("down") }

func TestParseAgeBounds(t *testing.T) {
	d, err := ParseAge("7d")
	require.NoError(t, err)
	assert.Equal(t, 7*24*time.Hour, d)
	_, err = ParseAge("99999d")
	assert.NoError(t, err)
	for _, s := range []string{"100000d", "-1h", "-1d", "soon", ""} {
		_, err = ParseAge(s)
		assert.ErrorIs(t, err, ErrUsage, s)
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	assert.Equal(t, "abc", truncate("abc", 3))
	assert.Equal(t, "a…", truncate("aé", 2)) // é is 2 bytes: cut before it
}

// FuzzPrintable: whatever a delivery's text holds, what show writes has no
// control character but newlines and tabs (printableText) or none at all
// (printable), and text without any is written unchanged.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b[31mred", "\u009b2J", "\xff\xfe", "line\nnext\ttab", "é\u2028", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		one, text := printable(s), printableText(s)
		for _, r := range one {
			if unicode.IsControl(r) {
				t.Fatalf("printable(%q) has %U", s, r)
			}
		}
		for _, r := range text {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("printableText(%q) has %U", s, r)
			}
		}
		clean := true
		for _, r := range s {
			clean = clean && !unicode.IsControl(r)
		}
		if clean && strings.ToValidUTF8(s, "") == s && one != s {
			t.Fatalf("printable(%q) = %q, want it unchanged", s, one)
		}
	})
}

// Fan-out copies' dead letters: listed under their own keys, selected by
// -target, shown with their target, replayed with it.
func TestFanoutDeadLettersByTarget(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	for _, target := range []string{"billing", "crm"} {
		e := &receiver.Event{Provider: "stripe", ID: "evt_f", Type: "invoice.paid", Attempt: 5, ReceivedAt: t0.Add(-time.Hour),
			ClaimToken: "tok_f_" + target, Body: []byte(`{"id":"evt_f"}`), Target: target}
		require.NoError(t, b.dl.Put(ctx, receiver.DeadLetter{Event: e, Reason: target + " down", FailedAt: t0.Add(-10 * time.Minute)}))
	}
	b.known["evt_f"] = "stripe"

	code, out, _ := run(b, "list", "-target", "crm", "-json")
	require.Equal(t, ExitOK, code)
	var l Listed
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &l))
	assert.Equal(t, "crm", l.Target)
	assert.Equal(t, "~crm~evt_f", l.Key)

	code, out, _ = run(b, "show", "~billing~evt_f")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "target:      billing\n")
	assert.NotContains(t, out, "crm")

	code, out, _ = run(b, "replay", "-target", "billing", "evt_f")
	require.Equal(t, ExitOK, code, out)
	require.Len(t, b.q.events, 1, "only billing's copy replayed")
	assert.Equal(t, "billing", b.q.events[0].Target)
	left, err := b.dl.List(ctx, 0)
	require.NoError(t, err)
	var keys []string
	for _, d := range left {
		keys = append(keys, d.Key())
	}
	assert.Contains(t, keys, "~crm~evt_f")
	assert.NotContains(t, keys, "~billing~evt_f")
}
