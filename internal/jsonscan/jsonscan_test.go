package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGet(t *testing.T) {
	doc := []byte(` { "id" : "evt_1", "n": -1.5e+3, "arr": [1, "x\"]", {"id": "inner"}, [], {}],
		"event": {"type": "app_mention", "nested": {"type": "deep"}}, "esc\u0061ped": "a\nb",
		"t": true, "f": false, "z": null, "empty": {} } `)
	tests := []struct {
		path  []string
		raw   string
		found bool
	}{
		{[]string{"id"}, `"evt_1"`, true},
		{[]string{"n"}, `-1.5e+3`, true},
		{[]string{"arr"}, `[1, "x\"]", {"id": "inner"}, [], {}]`, true},
		{[]string{"event", "type"}, `"app_mention"`, true},
		{[]string{"event", "nested", "type"}, `"deep"`, true},
		{[]string{"event", "missing"}, ``, false},
		{[]string{"id", "x"}, ``, false}, // intermediate not an object
		{[]string{"escaped"}, `"a\nb"`, true},
		{[]string{"t"}, `true`, true},
		{[]string{"f"}, `false`, true},
		{[]string{"z"}, `null`, true},
		{[]string{"empty"}, `{}`, true},
		{[]string{"type"}, ``, false}, // only nested
		// "ID" would be ErrKeyCase: see TestGetCaseFoldedKeys.
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.path, "."), func(t *testing.T) {
			raw, found, err := Get(doc, tt.path...)
			require.NoError(t, err)
			require.Equal(t, tt.found, found, "found")
			require.Equal(t, tt.raw, string(raw))
		})
	}
}

func TestGetNoPath(t *testing.T) {
	raw, found, err := Get([]byte("  [1, 2]\n"))
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "[1, 2]", string(raw))
}

func TestGetNonObject(t *testing.T) {
	for _, doc := range []string{`"id"`, `[{"id":1}]`, `1`, `null`} {
		raw, found, err := Get([]byte(doc), "id")
		assert.NoError(t, err, doc)
		assert.False(t, found, doc)
		assert.Nil(t, raw, doc)
	}
}

func TestGetErrors(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	okDeep := `{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", ``, ErrSyntax},
		{"space", `   `, ErrSyntax},
		{"trailing", `{"id":"a"} x`, ErrSyntax},
		{"two values", `{} {}`, ErrSyntax},
		{"unterminated", `{"id":"a`, ErrSyntax},
		{"defect after value", `{"id":"a", "b": [1,}`, ErrSyntax},
		{"trailing comma", `{"id":"a",}`, ErrSyntax},
		{"missing colon", `{"id" "a"}`, ErrSyntax},
		{"bad key", `{id:"a"}`, ErrSyntax},
		{"control char", "{\"id\":\"a\tb\"}", ErrSyntax},
		{"bad escape", `{"id":"\x"}`, ErrSyntax},
		{"short unicode", `{"id":"\u12"}`, ErrSyntax},
		{"bad unicode", `{"id":"\u12g4"}`, ErrSyntax},
		{"leading zero", `{"n":01}`, ErrSyntax},
		{"bare minus", `{"n":-}`, ErrSyntax},
		{"dot no digit", `{"n":1.}`, ErrSyntax},
		{"exp no digit", `{"n":1e+}`, ErrSyntax},
		{"plus", `{"n":+1}`, ErrSyntax},
		{"bad literal", `{"n":tru}`, ErrSyntax},
		{"NaN", `{"n":NaN}`, ErrSyntax},
		{"single quote", `{'id':1}`, ErrSyntax},
		{"too deep", deep, ErrDepth},
		{"too deep under key", `{"id":` + deep + `}`, ErrDepth},
		{"duplicate", `{"id":"a","id":"b"}`, ErrDuplicateKey},
		{"duplicate escaped", `{"id":"a","\u0069d":"b"}`, ErrDuplicateKey},
		{"ok deep", okDeep, nil},
		{"duplicate of other key ok", `{"x":1,"x":2,"id":"a"}`, nil},
		{"duplicate in nested unrelated ok", `{"id":"a","o":{"id":1,"id":2}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// errors.Is(err, nil) holds only for a nil err.
			_, _, err := Get([]byte(tt.doc), "id")
			require.ErrorIs(t, err, tt.want, "Get(%q)", tt.doc)
			if tt.want == ErrSyntax {
				require.False(t, json.Valid([]byte(tt.doc)), "test bug: encoding/json accepts %q", tt.doc)
			}
		})
	}
	// The nested duplicate is found by the nested path.
	_, _, err := Get([]byte(`{"event":{"type":"a"},"event":{"type":"b"}}`), "event", "type")
	require.ErrorIs(t, err, ErrDuplicateKey, "nested duplicate")
}

func TestGetMany(t *testing.T) {
	doc := []byte(`{"type":"event_callback","event":{"type":"app_mention","user":"U1"},"event_id":"Ev1","x":[{"type":1}]}`)
	paths := [][]string{{"event_id"}, {"type"}, {"event", "type"}, {"challenge"}, {"event", "user"}}
	vals := make([][]byte, len(paths))
	vals[3] = []byte("stale")
	require.NoError(t, GetMany(doc, paths, vals))
	want := []string{`"Ev1"`, `"event_callback"`, `"app_mention"`, ``, `"U1"`}
	for i := range want {
		assert.Equal(t, want[i], string(vals[i]), "vals[%d]", i)
	}
	assert.Nil(t, vals[3], "absent value not reset to nil")
	assert.ErrorIs(t, GetMany(doc, paths, vals[:2]), ErrTooManyPaths, "short vals")
	assert.ErrorIs(t, GetMany(doc, [][]string{{}}, vals), ErrTooManyPaths, "empty path")
	many := make([][]string, 65)
	for i := range many {
		many[i] = []string{"k"}
	}
	assert.ErrorIs(t, GetMany(doc, many, make([][]byte, 65)), ErrTooManyPaths, "65 paths")
	// The same path twice is not a duplicate key.
	assert.NoError(t, GetMany(doc, [][]string{{"type"}, {"type"}}, vals), "repeated path")
	assert.Equal(t, `"event_callback"`, string(vals[1]), "repeated path")
}

func TestString(t *testing.T) {
	tests := []struct {
		raw  string
		want string
		err  error
	}{
		{`"plain"`, "plain", nil},
		{`""`, "", nil},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", nil},
		{`"\u00e9\u4e16"`, "é世", nil},
		{`"\ud83d\ude00"`, "😀", nil},
		{`"\ud83d"`, "\ufffd", nil},
		{`"\ud83dx"`, "\ufffdx", nil},
		{`"\ude00\ud83d"`, "\ufffd\ufffd", nil},
		{`"\ud83d\u0041"`, "\ufffdA", nil},
		{"\"\xff\"", "\ufffd", nil},
		{"\"é\"", "é", nil},
		{`null`, "", ErrNotString},
		{`1`, "", ErrNotString},
		{``, "", ErrNotString},
		{`"abc`, "", ErrSyntax},
		{`"a"b"`, "", ErrSyntax},
		{`"\q"`, "", ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := String([]byte(tt.raw))
			require.ErrorIs(t, err, tt.err)
			require.Equal(t, tt.want, got)
			if tt.err == nil {
				var std string
				require.NoError(t, json.Unmarshal([]byte(tt.raw), &std), "encoding/json")
				require.Equal(t, std, got, "encoding/json disagrees")
			}
		})
	}
	assert.True(t, IsNull([]byte("null")), "IsNull")
	assert.False(t, IsNull([]byte(`"null"`)), "IsNull")
}

func TestGetAllocs(t *testing.T) {
	doc := realisticBody(4096)
	paths := [][]string{{"id"}, {"type"}, {"api_version"}}
	vals := make([][]byte, 3)
	n := testing.AllocsPerRun(100, func() {
		if err := GetMany(doc, paths, vals); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Get(doc, "data", "object", "id"); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, n, "allocations per run")
}

// realisticBody returns a Stripe-like event of at least size bytes.
func realisticBody(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1686089970,` +
		`"data":{"object":{"id":"pi_3NG8Dt2eZvKYlo2C0N5r9pOz","object":"payment_intent","amount":2000,"currency":"usd",` +
		`"description":"Caf\u00e9 \"order\" #42","metadata":{"order_id":"6735","note":"line\nbreak"},"items":[`)
	for i := 0; b.Len() < size-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":"sku_123456","qty":2,"price":19.99,"tags":["a","b\\c"],"gift":false,"ref":null}`)
	}
	b.WriteString(`]}},"livemode":false,"pending_webhooks":1,"request":{"id":"req_abc","idempotency_key":null},` +
		`"type":"payment_intent.succeeded"}`)
	return []byte(b.String())
}

// TestSkipPlain checks the eight-bytes-at-a-time scan against the byte
// loop for every byte value at every offset of strings up to 24 bytes, with
// the plain filler both ASCII and non-ASCII.
func TestSkipPlain(t *testing.T) {
	slow := func(d []byte, i int) int {
		for i < len(d) && plain[d[i]] {
			i++
		}
		return i
	}
	for _, fill := range []byte{'x', 0x20, 0x7f, 0x80, 0xff, '"' + 1, '\\' - 1} {
		for n := 0; n <= 24; n++ {
			for at := 0; at < n; at++ {
				for c := range 256 {
					d := bytes.Repeat([]byte{fill}, n)
					d[at] = byte(c)
					for start := range min(n, 9) {
						if got, want := skipPlain(d, start), slow(d, start); got != want {
							t.Fatalf("fill %#x, len %d, byte %#x at %d, from %d: got %d, want %d", fill, n, c, at, start, got, want)
						}
					}
				}
			}
		}
	}
}
