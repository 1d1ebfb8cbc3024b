package schema

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, data := range files {
		m[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return m
}

func mustNew(t testing.TB, fsys fstest.MapFS, opts ...Option) *Registry {
	t.Helper()
	r, err := New(fsys, opts...)
	require.NoError(t, err)
	return r
}

func validate(r *Registry, provider, typ, version, body string) error {
	return r.Validate(context.Background(), &receiver.Event{Provider: provider, Type: typ, Version: version, Body: []byte(body)})
}

// requires returns a schema requiring the named top-level properties.
func requires(props ...string) string {
	b, _ := json.Marshal(map[string]any{"type": "object", "required": props})
	return string(b)
}

func TestRefAcrossFiles(t *testing.T) {
	fsys := mapFS(map[string]string{
		"_defs/common.json": `{"$defs":{"email":{"type":"string","format":"email"},
			"user":{"type":"object","required":["email"],"properties":{"email":{"$ref":"#/$defs/email"}}}}}`,
		"acme/envelope.json":        `{"type":"object","required":["kind","user"],"properties":{"user":{"$ref":"../_defs/common.json#/$defs/user"}}}`,
		"acme/user.created/v1.json": `{"$ref":"../envelope.json","properties":{"kind":{"const":"user"}}}`,
		"README.md":                 `not a schema, ignored`,
	})
	r := mustNew(t, fsys)
	require.NoError(t, validate(r, "acme", "user.created", "v1", `{"kind":"user","user":{"email":"a@example.com"}}`))

	tests := []struct{ name, body, pointer, keyword string }{
		{"nested ref", `{"kind":"user","user":{"email":"nope"}}`, "/user/email", "format"},
		{"ref target required", `{"kind":"user","user":{}}`, "/user", "required"},
		{"local const", `{"kind":"org","user":{"email":"a@example.com"}}`, "/kind", "const"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ve := asValidation(t, validate(r, "acme", "user.created", "v1", tt.body))
			assert.True(t, hasProblem(ve, tt.pointer, tt.keyword), "problems: %v", ve.Problems)
		})
	}
}

func TestDraft7(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{
		"p/t/v1.json": `{"$schema":"http://json-schema.org/draft-07/schema#",
			"definitions":{"mail":{"type":"string","format":"email"}},
			"type":"object","required":["to"],"properties":{"to":{"$ref":"#/definitions/mail"}},
			"dependencies":{"cc":["to"]}}`,
	}))
	require.NoError(t, validate(r, "p", "t", "v1", `{"to":"a@example.com"}`))
	ve := asValidation(t, validate(r, "p", "t", "v1", `{"to":"a"}`))
	assert.Equal(t, "/to", ve.Problems[0].Pointer)
	assert.Equal(t, "format", ve.Problems[0].Keyword)
}

func TestNewRejectsBrokenSchemas(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  []Option
		want  string
	}{
		{"bad JSON", map[string]string{"p/t/v1.json": `{"type":`}, nil, "p/t/v1.json"},
		{"bad JSON in a shared file", map[string]string{"p/defs.json": `{,}`}, nil, "p/defs.json"},
		{"ref to a missing file", map[string]string{"p/t/v1.json": `{"$ref":"../missing.json"}`}, nil, "p/t/v1.json"},
		{"ref to a missing fragment", map[string]string{"p/d.json": `{"$defs":{}}`, "p/t/v1.json": `{"$ref":"../d.json#/$defs/x"}`}, nil, "p/t/v1.json"},
		{"ref to the network", map[string]string{"p/t/v1.json": `{"$ref":"https://example.com/s.json"}`}, nil, "p/t/v1.json"},
		{"ref to the file system", map[string]string{"p/t/v1.json": `{"$ref":"file:///etc/passwd"}`}, nil, "p/t/v1.json"},
		{"invalid keyword value", map[string]string{"p/t/v1.json": `{"type":5}`}, nil, "p/t/v1.json"},
		{"invalid required", map[string]string{"p/t/v1.json": `{"required":"id"}`}, nil, "p/t/v1.json"},
		{"invalid pattern regexp", map[string]string{"p/t/v1.json": `{"pattern":"(["}`}, nil, "p/t/v1.json"},
		{"unknown draft", map[string]string{"p/t/v1.json": `{"$schema":"https://example.com/draft/1999/schema"}`}, nil, "p/t/v1.json"},
		{"invalid event-type pattern", map[string]string{"p/in*voice/v1.json": `{}`}, nil, "in*voice"},
		{"duplicate version", map[string]string{"p/t/v1.json": `{}`}, []Option{WithSchema("p", "t", "v1", []byte(`{}`))}, "duplicate"},
		{"bad inline schema", nil, []Option{WithSchema("p", "t", "v1", []byte(`{"minimum":"x"}`))}, "inline schema 0"},
		{"inline without provider", nil, []Option{WithSchema("", "t", "v1", []byte(`{}`))}, "empty provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(mapFS(tt.files), tt.opts...)
			require.ErrorIs(t, err, ErrCompile)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "schema: "), err)
		})
	}
}

func TestPatternPrecedence(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{
		"p/_/_.json":                      `{}`,
		"p/invoice._/_.json":              `{}`,
		"p/invoice.payment._/_.json":      `{}`,
		"p/invoice.paid/_.json":           `{}`,
		"p/issues/_.json":                 `{}`,
		"p/issue_comment.created/v2.json": `{}`,
		"p/issue_comment._/_.json":        `{}`,
	}))
	tests := []struct{ typ, version, want string }{
		{"invoice.paid", "", "invoice.paid"},
		{"invoice.payment.failed", "", "invoice.payment.*"},
		{"invoice.created", "", "invoice.*"},
		{"invoice", "", "*"}, // "invoice.*" needs the dot
		{"issues", "", "issues"},
		{"issues.opened", "", "issues"},
		{"issuesx", "", "*"},
		{"customer.created", "", "*"},
		// The exact pattern has no schema for v1, so the prefix one applies.
		{"issue_comment.created", "v1", "issue_comment.*"},
		{"issue_comment.created", "v2", "issue_comment.created"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"@"+tt.version, func(t *testing.T) {
			got, _, ok := r.SchemaFor("p", tt.typ, tt.version)
			require.True(t, ok, "no schema")
			assert.Equal(t, tt.want, got)
		})
	}
	_, _, ok := r.SchemaFor("other", "invoice.paid", "")
	assert.False(t, ok, "schema for an unknown provider")
}

func TestVersionSelection(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{
		"p/t/v1.json":         `{}`,
		"p/t/v2.json":         `{}`,
		"p/t/v10.json":        `{}`,
		"d/t/2023-10-16.json": `{}`,
		"d/t/2024-06-20.json": `{}`,
		"d/t/_.json":          `{}`,
		"o/t/alpha.json":      `{}`,
	}))
	tests := []struct {
		provider, version, want string
		ok                      bool
	}{
		{"p", "v2", "v2", true},
		{"p", "v3", "v2", true}, // newest not newer
		{"p", "v9", "v2", true}, // numeric, not lexical
		{"p", "v11", "v10", true},
		{"p", "2.0", "v2", true}, // same number
		{"p", "v0", "", false},   // older than all, no AnyVersion
		{"p", "", "v10", true},   // unknown version: the newest
		{"p", "beta", "", false}, // not comparable
		{"d", "2024-01-01", "2023-10-16", true},
		{"d", "2025-03-31.basil", "2024-06-20", true},
		{"d", "2020-01-01", AnyVersion, true},
		{"d", "v7", AnyVersion, true},
		{"d", "", AnyVersion, true},
		{"o", "alpha", "alpha", true},
		{"o", "", "alpha", true},
		{"o", "beta", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"@"+tt.version, func(t *testing.T) {
			_, got, ok := r.SchemaFor(tt.provider, "t", tt.version)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"v1", "v2", -1, true},
		{"v10", "v9", 1, true},
		{"v1", "v1.0", 0, true},
		{"V2", "2", 0, true},
		{"1.2.3", "1.10", -1, true},
		{"2024-06-20", "2023-10-16", 1, true},
		{"2024-06-20", "2024-06-20.basil", -1, true},
		{"2025-03-31.basil", "2025-03-31.acacia", 1, true},
		{"2024-06-20", "v1", 0, false},
		{"beta", "beta", 0, false},
		{"v", "v1", 0, false},
		{"v-1", "v1", 0, false},
		{"2024-13-01", "2024-01-01", 0, false},
		{"", "v1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			c, ok := CompareVersions(tt.a, tt.b)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.cmp, c)
		})
	}
}

// versionedRegistry has schemas v1 (needs "a") and v2 (needs "b") for
// provider "p", type "t".
func versionedRegistry(t testing.TB, opts ...Option) *Registry {
	return mustNew(t, mapFS(map[string]string{
		"p/t/v1.json": requires("a"),
		"p/t/v2.json": requires("b"),
	}), opts...)
}

func TestVersionResolvers(t *testing.T) {
	tests := []struct {
		name     string
		resolver VersionResolver
		event    receiver.Event
		want     string // the version whose schema applied
	}{
		{"event version (default resolver)", nil, receiver.Event{Version: "v1"}, "v1"},
		{"header", FromHeader("X-Api-Version"), receiver.Event{Header: http.Header{"X-Api-Version": {" v2 "}}, Version: "v1"}, "v2"},
		{"missing header falls to default", FirstOf(FromHeader("X-Api-Version"), Default("v1")), receiver.Event{}, "v1"},
		{"payload field", FromField("version"), receiver.Event{Payload: json.RawMessage(`{"version":"v1"}`)}, "v1"},
		{"numeric payload field", FromField("version"), receiver.Event{Payload: json.RawMessage(`{"version":2}`)}, "2"},
		{"default", Default("v2"), receiver.Event{Version: "v1"}, "v2"},
		{"first of", FirstOf(FromField("api"), FromEvent()), receiver.Event{Version: "v1", Payload: json.RawMessage(`{}`)}, "v1"},
	}
	for _, tt := range tests {
		for _, perProvider := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{true: "/provider", false: "/registry"}[perProvider], func(t *testing.T) {
				var opt Option = func(*config) {}
				if tt.resolver != nil {
					opt = WithVersionResolver(tt.resolver)
					if perProvider {
						opt = WithProviderVersionResolver("p", tt.resolver)
					}
				}
				r := versionedRegistry(t, opt, Strict())
				e := tt.event
				e.Provider, e.Type = "p", "t"
				if e.Payload == nil {
					e.Body = []byte(`{}`)
				}
				err := r.Validate(context.Background(), &e)
				ve := asValidation(t, err)
				assert.Equal(t, tt.want, ve.Version)
				missing := map[string]string{"v1": "'a'", "v2": "'b'", "2": "'b'"}[tt.want]
				assert.Contains(t, ve.Problems[0].Message, missing)
			})
		}
	}
	// A provider resolver does not apply to other providers.
	r := mustNew(t, mapFS(map[string]string{"q/t/v1.json": requires("a"), "q/t/v2.json": requires("b")}),
		WithProviderVersionResolver("p", Default("v2")))
	ve := asValidation(t, validate(r, "q", "t", "v1", `{}`))
	assert.Equal(t, "v1", ve.Version)
}

func TestStrict(t *testing.T) {
	fsys := mapFS(map[string]string{"p/t/v2.json": requires("b")})
	lax, strict := mustNew(t, fsys), mustNew(t, fsys, Strict())
	tests := []struct{ name, provider, typ, version string }{
		{"unknown provider", "x", "t", "v2"},
		{"unknown type", "p", "u", "v2"},
		{"version older than every schema", "p", "t", "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, validate(lax, tt.provider, tt.typ, tt.version, `{}`))
			err := validate(strict, tt.provider, tt.typ, tt.version, `{}`)
			assert.ErrorIs(t, err, ErrUnknownType)
			assert.ErrorIs(t, err, receiver.ErrInvalidPayload)
			ve := asValidation(t, err)
			assert.Equal(t, [3]string{tt.provider, tt.typ, tt.version}, [3]string{ve.Provider, ve.Type, ve.Version})
			assert.Equal(t, "schema", ve.Problems[0].Keyword)
		})
	}
	require.NoError(t, validate(strict, "p", "t", "v2", `{"b":1}`))
}

func TestMalformedJSON(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": `{}`}))
	for _, body := range []string{``, `{`, `{"a":1} {"b":2}`, `{"a":1}x`, `nul`, "\xff"} {
		t.Run(body, func(t *testing.T) {
			err := validate(r, "p", "t", "", body)
			assert.ErrorIs(t, err, ErrMalformedJSON)
			assert.ErrorIs(t, err, receiver.ErrInvalidPayload)
			ve := asValidation(t, err)
			assert.Equal(t, "json", ve.Problems[0].Keyword)
			assert.Equal(t, "", ve.Problems[0].Pointer)
			// Nothing to check against: malformed bodies of unknown types pass.
			require.NoError(t, validate(r, "p", "other", "", body))
		})
	}
	require.NoError(t, validate(r, "p", "t", "", " {\"a\":1}\n "))
}

func TestPayloadTakesPrecedenceOverBody(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": requires("a")}))
	e := &receiver.Event{Provider: "p", Type: "t", Body: []byte(`payload=%7B%7D`), Payload: json.RawMessage(`{"a":1}`)}
	require.NoError(t, r.Validate(context.Background(), e))
	e.Payload = json.RawMessage(`{}`)
	assert.ErrorIs(t, r.Validate(context.Background(), e), receiver.ErrInvalidPayload)
}

func TestValidationErrorOutput(t *testing.T) {
	ve := &ValidationError{Provider: "standard", Type: "user.created", Version: "v1", Problems: []Problem{
		{Pointer: "/data/email", Keyword: "format", Message: `'x' is not valid 'email'`},
		{Pointer: "", Keyword: "required", Message: "missing properties: 'type'"},
	}}
	assert.Equal(t, `schema: standard user.created v1: /data/email: format: 'x' is not valid 'email'; (root): required: missing properties: 'type'`, ve.Error())

	var doc struct {
		Type   string    `json:"type"`
		Title  string    `json:"title"`
		Status int       `json:"status"`
		Detail string    `json:"detail"`
		Errors []Problem `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(ve.ProblemJSON(), &doc))
	assert.Equal(t, 422, doc.Status)
	assert.Equal(t, ProblemTypeURI, doc.Type)
	assert.Equal(t, "Invalid payload", doc.Title)
	assert.Equal(t, ve.Error(), doc.Detail)
	assert.Equal(t, ve.Problems, doc.Errors)

	b, err := json.Marshal(ve)
	require.NoError(t, err)
	assert.Equal(t, `{"provider":"standard","type":"user.created","version":"v1","problems":[{"pointer":"/data/email","keyword":"format","message":"'x' is not valid 'email'"},{"pointer":"","keyword":"required","message":"missing properties: 'type'"}]}`, string(b))

	empty := &ValidationError{Provider: "p", Type: "t"}
	assert.Equal(t, "schema: p t: invalid payload", empty.Error())
	assert.Contains(t, string(empty.ProblemJSON()), `"errors":[]`)
}

func TestProblemsAreBounded(t *testing.T) {
	props := map[string]any{}
	var body strings.Builder
	body.WriteString("{")
	for i := range 50 {
		name := "f" + strings.Repeat("x", i)
		props[name] = map[string]any{"type": "string"}
		if i > 0 {
			body.WriteString(",")
		}
		body.WriteString(`"` + name + `":1`)
	}
	body.WriteString("}")
	s, _ := json.Marshal(map[string]any{"properties": props})
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": string(s)}))
	ve := asValidation(t, validate(r, "p", "t", "", body.String()))
	assert.Equal(t, maxProblems, len(ve.Problems))
}

func TestConcurrentValidate(t *testing.T) {
	reg := Bundled(Strict())
	valid := loadValid(t)
	var events []*receiver.Event
	for key, body := range valid {
		events = append(events, &receiver.Event{Provider: key[0], Type: key[1], Version: "v1", Body: body})
	}
	bad := &receiver.Event{Provider: "standard", Type: "user.created", Version: "v1",
		Body: []byte(`{"type":"user.created","timestamp":"2024-01-01T00:00:00Z","data":{"id":"u1","email":"x"}}`)}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				for _, e := range events {
					if err := reg.Validate(context.Background(), e); err != nil {
						errs <- err
						return
					}
				}
				if err := reg.Validate(context.Background(), bad); err == nil {
					errs <- errNotRejected
					return
				}
				// Exercise the lookup cache with fresh types.
				_ = reg.Validate(context.Background(), &receiver.Event{Provider: "stripe", Type: strings.Repeat("x", g) + "." + string(rune('a'+i%26)), Body: []byte(`{}`)})
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			reg.RegisterUpgrader("standard", "user.*", "v"+string(rune('a'+i)), "v1", func(b json.RawMessage) (json.RawMessage, error) { return b, nil })
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var errNotRejected = &ValidationError{Provider: "test", Type: "invalid payload accepted"}

func FuzzValidate(f *testing.F) {
	reg := Bundled()
	for _, body := range loadValid(f) {
		f.Add("standard", "user.created", "v1", body)
	}
	f.Add("stripe", "invoice.paid", "2024-06-20", []byte(`{"object":"event","data":{"object":{"object":"invoice"}}}`))
	f.Add("github", "push", "", []byte(`{"commits":[{"author":null}]}`))
	f.Add("slack", "event_callback", "", []byte(`{"type":"event_callback","event":[]}`))
	f.Add("standard", "user.created", "v1", []byte(`{"data":{"email":"\u0000@\ud800"}}`))
	f.Add("github", "issues.opened", "", []byte(`[1e999999, -0, 1.0e-400]`))
	f.Add("stripe", "x", "", []byte(``))
	f.Add("stripe", "x", "", []byte(`{"a":1}{`))
	f.Add("slack", "url_verification", "", []byte(strings.Repeat("[", 10000)))
	f.Fuzz(func(t *testing.T, provider, typ, version string, body []byte) {
		e := &receiver.Event{Provider: provider, Type: typ, Version: version, Body: body}
		err := reg.Validate(context.Background(), e)
		if err == nil {
			return
		}
		ve := asValidation(t, err)
		require.NotEmpty(t, ve.Problems)
		require.LessOrEqual(t, len(ve.Problems), maxProblems)
		assert.True(t, strings.HasPrefix(ve.Error(), "schema: "), "bad output %q", ve.Error())
		assert.True(t, json.Valid(ve.ProblemJSON()), "bad problem JSON for %q", ve.Error())
	})
}

func TestLongMessagesAreTruncated(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": `{"properties":{"s":{"format":"email"}}}`}), WithValuesInErrors())
	long := strings.Repeat("é", 10000)
	ve := asValidation(t, validate(r, "p", "t", "", `{"s":"`+long+`"}`))
	msg := ve.Problems[0].Message
	assert.LessOrEqual(t, len(msg), maxMessage)
	assert.True(t, utf8.ValidString(msg), "invalid UTF-8")
	assert.True(t, strings.HasSuffix(msg, "…"), msg)
	assert.Equal(t, "format", ve.Problems[0].Keyword)
}
