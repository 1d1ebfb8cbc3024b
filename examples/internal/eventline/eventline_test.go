package eventline

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cases = []Line{
	{Provider: "stripe", ID: "evt_1", Type: "invoice.paid"},
	{Provider: "github", ID: "d-1", Type: "push", DeadLetter: "schema: missing property"},
	{ID: `quote " backslash \ slash /`, Type: "<script>&amp;</script>"},
	{ID: "\x00\x01\b\f\n\r\t\x1f\x7f", Type: "\u2028\u2029\u2027\u202a"},
	{ID: "bad \xff utf-8 \xe2\x82 end", Type: "é 日本 🎉"},
	{ID: strings.Repeat("x", 10_000)},
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, l := range cases {
		want, err := json.Marshal(l)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(l.AppendJSON(nil)))
	}
}

func TestWriterWritesWholeLinesOnce(t *testing.T) {
	var out countingWriter
	w := NewWriter(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				require.NoError(t, w.Write(cases[(g+i)%len(cases)]))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1600, out.writes, "one Write per line")
	want := map[string]bool{}
	for _, l := range cases {
		want[string(l.AppendJSON(nil))] = true
	}
	lines := bytes.Split(bytes.TrimSuffix(out.buf.Bytes(), []byte("\n")), []byte("\n"))
	require.Len(t, lines, 1600)
	bad := 0
	for _, b := range lines {
		if !want[string(b)] || !json.Valid(b) {
			bad++
		}
	}
	assert.Zero(t, bad, "lines that are not one case's whole JSON object")
}

func TestWriterKeepsNoLargeBuffer(t *testing.T) {
	w := NewWriter(&countingWriter{})
	require.NoError(t, w.Write(Line{ID: strings.Repeat("x", 64<<10)}))
	assert.Nil(t, w.buf, "a 64 KiB line's buffer is dropped")
	require.NoError(t, w.Write(cases[0]))
	assert.LessOrEqual(t, cap(w.buf), maxKept)
}

func TestWriterAllocations(t *testing.T) {
	w := NewWriter(&countingWriter{})
	l := cases[1]
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = w.Write(l) }))
}

func FuzzAppendJSON(f *testing.F) {
	for _, l := range cases {
		f.Add(l.Provider, l.ID, l.Type, l.DeadLetter)
	}
	f.Fuzz(func(t *testing.T, provider, id, typ, dead string) {
		l := Line{Provider: provider, ID: id, Type: typ, DeadLetter: dead}
		want, err := json.Marshal(l)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(l.AppendJSON(nil)))
	})
}

// countingWriter keeps what it is given and counts the calls.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}
