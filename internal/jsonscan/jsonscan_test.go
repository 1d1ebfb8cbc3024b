package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if found != tt.found || string(raw) != tt.raw {
				t.Fatalf("Get = %q, %v; want %q, %v", raw, found, tt.raw, tt.found)
			}
		})
	}
}

func TestGetNoPath(t *testing.T) {
	raw, found, err := Get([]byte("  [1, 2]\n"))
	if err != nil || !found || string(raw) != "[1, 2]" {
		t.Fatalf("Get() = %q, %v, %v", raw, found, err)
	}
}

func TestGetNonObject(t *testing.T) {
	for _, doc := range []string{`"id"`, `[{"id":1}]`, `1`, `null`} {
		raw, found, err := Get([]byte(doc), "id")
		if err != nil || found || raw != nil {
			t.Errorf("Get(%s) = %q, %v, %v; want not found", doc, raw, found, err)
		}
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
			_, _, err := Get([]byte(tt.doc), "id")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get(%q) err = %v, want %v", tt.doc, err, tt.want)
			}
			if tt.want == ErrSyntax && json.Valid([]byte(tt.doc)) {
				t.Fatalf("test bug: encoding/json accepts %q", tt.doc)
			}
		})
	}
	// The nested duplicate is found by the nested path.
	if _, _, err := Get([]byte(`{"event":{"type":"a"},"event":{"type":"b"}}`), "event", "type"); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("nested duplicate: err = %v", err)
	}
}

func TestGetMany(t *testing.T) {
	doc := []byte(`{"type":"event_callback","event":{"type":"app_mention","user":"U1"},"event_id":"Ev1","x":[{"type":1}]}`)
	paths := [][]string{{"event_id"}, {"type"}, {"event", "type"}, {"challenge"}, {"event", "user"}}
	vals := make([][]byte, len(paths))
	vals[3] = []byte("stale")
	if err := GetMany(doc, paths, vals); err != nil {
		t.Fatal(err)
	}
	want := []string{`"Ev1"`, `"event_callback"`, `"app_mention"`, ``, `"U1"`}
	for i := range want {
		if string(vals[i]) != want[i] {
			t.Errorf("vals[%d] = %q, want %q", i, vals[i], want[i])
		}
	}
	if vals[3] != nil {
		t.Errorf("absent value not reset to nil")
	}
	if err := GetMany(doc, paths, vals[:2]); !errors.Is(err, ErrTooManyPaths) {
		t.Errorf("short vals: err = %v", err)
	}
	if err := GetMany(doc, [][]string{{}}, vals); !errors.Is(err, ErrTooManyPaths) {
		t.Errorf("empty path: err = %v", err)
	}
	many := make([][]string, 65)
	for i := range many {
		many[i] = []string{"k"}
	}
	if err := GetMany(doc, many, make([][]byte, 65)); !errors.Is(err, ErrTooManyPaths) {
		t.Errorf("65 paths: err = %v", err)
	}
	// The same path twice is not a duplicate key.
	if err := GetMany(doc, [][]string{{"type"}, {"type"}}, vals); err != nil || string(vals[1]) != `"event_callback"` {
		t.Errorf("repeated path: %q, %v", vals[1], err)
	}
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
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("String(%q) = %q, %v; want %q, %v", tt.raw, got, err, tt.want, tt.err)
			}
			if tt.err == nil {
				var std string
				if err := json.Unmarshal([]byte(tt.raw), &std); err != nil || std != got {
					t.Fatalf("encoding/json gives %q, %v", std, err)
				}
			}
		})
	}
	if !IsNull([]byte("null")) || IsNull([]byte(`"null"`)) {
		t.Fatal("IsNull")
	}
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
	if n != 0 {
		t.Fatalf("allocations per run = %v, want 0", n)
	}
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
