package github

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVectors(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", "github") {
		t.Run(v.ID, func(t *testing.T) {
			r, body := v.Request()
			var opts []Option
			sha1Only := r.Header.Get(HeaderSignature256) == "" && r.Header.Get(HeaderSignature1) != ""
			if sha1Only {
				opts = append(opts, WithSHA1())
			}
			p, err := New(v.Secret, opts...)
			require.NoError(t, err)
			if err := p.Verify(r, body); v.Valid() {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, verify.ErrVerification)
			}
			if sha1Only {
				// Without the opt-in, the SHA-1 header alone is never enough.
				p, err := New(v.Secret)
				require.NoError(t, err)
				assert.ErrorIs(t, p.Verify(r, body), verify.ErrMissingSignature, "default provider")
			}
		})
	}
}

const secret = "It's a Secret to Everybody"

func TestVerify(t *testing.T) {
	body := []byte(`{"action":"opened","number":1}`)
	other := "new-secret"
	tests := []struct {
		name   string
		opts   []Option
		header map[string]string
		want   error
	}{
		{"valid", nil, map[string]string{HeaderSignature256: Sign(secret, body)}, nil},
		{"upper-case hex", nil, map[string]string{HeaderSignature256: "sha256=" + strings.ToUpper(strings.TrimPrefix(Sign(secret, body), "sha256="))}, nil},
		{"missing", nil, nil, verify.ErrMissingSignature},
		{"sha1 only, no opt-in", nil, map[string]string{HeaderSignature1: SignSHA1(secret, body)}, verify.ErrMissingSignature},
		{"sha1 only, opt-in", []Option{WithSHA1()}, map[string]string{HeaderSignature1: SignSHA1(secret, body)}, nil},
		{"sha1 opt-in, bad sha1", []Option{WithSHA1()}, map[string]string{HeaderSignature1: SignSHA1("x", body)}, verify.ErrSignatureMismatch},
		{"sha256 wins over sha1", []Option{WithSHA1()}, map[string]string{HeaderSignature256: Sign("x", body), HeaderSignature1: SignSHA1(secret, body)}, verify.ErrSignatureMismatch},
		{"sha1 in sha256 header", []Option{WithSHA1()}, map[string]string{HeaderSignature256: SignSHA1(secret, body)}, verify.ErrMalformedSignature},
		{"no prefix", nil, map[string]string{HeaderSignature256: strings.TrimPrefix(Sign(secret, body), "sha256=")}, verify.ErrMalformedSignature},
		{"not hex", nil, map[string]string{HeaderSignature256: "sha256=zz"}, verify.ErrMalformedSignature},
		{"truncated", nil, map[string]string{HeaderSignature256: Sign(secret, body)[:21]}, verify.ErrSignatureMismatch},
		{"wrong secret", nil, map[string]string{HeaderSignature256: Sign("wrong", body)}, verify.ErrSignatureMismatch},
		{"rotation: old secret", []Option{WithSecrets(other)}, map[string]string{HeaderSignature256: Sign(secret, body)}, nil},
		{"rotation: new secret", []Option{WithSecrets(other)}, map[string]string{HeaderSignature256: Sign(other, body)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(secret, tt.opts...)
			require.NoError(t, err)
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			err = p.Verify(r, body)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, verify.ErrVerification)
			if assert.Error(t, err) {
				assert.True(t, strings.HasPrefix(err.Error(), "github: "), err.Error())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secret string
		opts   []Option
	}{
		{"empty", "", nil},
		{"blank", " \t", nil},
		{"blank extra", "s", []Option{WithSecrets("")}},
		{"empty with sha1", "", []Option{WithSHA1()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.secret, tt.opts...)
			assert.ErrorIs(t, err, verify.ErrNoSecret)
		})
	}
	p, err := New("s")
	require.NoError(t, err)
	assert.Equal(t, "github", p.Name())
}

func TestNewRequest(t *testing.T) {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	r := NewRequest("https://example.com/hook", secret, "ping", "d-1", body)
	p, err := New(secret)
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body))
	for k, want := range map[string]string{
		"Content-Type": "application/json", HeaderEvent: "ping", HeaderDelivery: "d-1",
		HeaderSignature256: Sign(secret, body), HeaderSignature1: SignSHA1(secret, body),
	} {
		assert.Equal(t, want, r.Header.Get(k), k)
	}
	assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/"), r.Header.Get("User-Agent"))
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "https://example.com/hook", r.URL.String())
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.Equal(t, body, got)
}

const guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

func TestParse(t *testing.T) {
	prJSON := `{"action":"closed","number":2,"pull_request":{"number":2}}`
	formBody := "payload=" + url.QueryEscape(prJSON)
	form := "application/x-www-form-urlencoded"
	push := `{"ref":"refs/heads/main","before":"a","after":"b","commits":[],"head_commit":null}`
	tests := []struct {
		name     string
		event    string
		delivery string
		ctype    string
		body     string
		wantType string
		wantErr  bool
		wantJSON string
	}{
		{"push", "push", guid, "", push, "push", false, push},
		{"action", "issues", guid, "", `{"action":"opened","issue":{"action":"x"}}`, "issues.opened", false, ""},
		{"escaped action", "issues", guid, "", `{"action":"re\u006fpened","issue":{}}`, "issues.reopened", false, ""},
		{"null action", "issues", guid, "", `{"action":null,"issue":{}}`, "issues", false, ""},
		{"ping", "ping", guid, "", `{"zen":"z","hook_id":1}`, "ping", false, ""},
		{"upper-case GUID", "ping", strings.ToUpper(guid), "", `{"zen":"z","hook_id":1}`, "ping", false, ""},
		{"form", "pull_request", guid, form, formBody, "pull_request.closed", false, prJSON},
		{"form with charset", "pull_request", guid, form + "; charset=utf-8", formBody, "pull_request.closed", false, ""},
		{"unchecked event", "sub_issues", guid, "", `{"action":"sub_issue_added"}`, "sub_issues.sub_issue_added", false, ""},
		{"missing event", "", guid, "", `{}`, "", true, ""},
		{"missing delivery", "push", "", "", push, "", true, ""},
		{"bad json", "issues", guid, "", `{"action":`, "", true, ""},
		{"action not string", "issues", guid, "", `{"action":1,"issue":{}}`, "", true, ""},
		{"duplicate action", "issues", guid, "", `{"action":"opened","action":"closed","issue":{}}`, "", true, ""},
		{"case-variant action", "issues", guid, "", `{"action":"opened","Action":"deleted","issue":{}}`, "", true, ""},
		{"form without payload", "push", guid, form, "x=1", "", true, ""},
		{"form with two payloads", "push", guid, form, formBody + "&" + formBody, "", true, ""},
		{"bad form", "push", guid, form, "payload=%zz", "", true, ""},
	}
	p, err := New(secret)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseRequest(tt.event, tt.delivery, tt.body)
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			env, err := p.Parse(r, []byte(tt.body))
			if tt.wantErr {
				assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, receiver.Envelope{ID: EventID([]byte(tt.body)), Type: tt.wantType, Optional: tt.event == "ping"}, env)
			if tt.wantJSON != "" {
				doc, err := p.Payload(r.Header, []byte(tt.body))
				require.NoError(t, err)
				assert.Equal(t, tt.wantJSON, string(doc))
			}
		})
	}
}

// parseRequest returns a request with the given X-GitHub-Event and
// X-GitHub-Delivery headers (absent when empty).
func parseRequest(event, delivery, body string) *http.Request {
	r := NewRequest("https://example.com/", secret, event, delivery, []byte(body))
	if event == "" {
		r.Header.Del(HeaderEvent)
	}
	if delivery == "" {
		r.Header.Del(HeaderDelivery)
	}
	return r
}

func TestFormVectorParses(t *testing.T) {
	vectors := providertest.LoadVectors(t, "../testdata/vectors.json", "github")
	i := slices.IndexFunc(vectors, func(v providertest.Vector) bool { return v.ID == "github-go-github-form" })
	require.GreaterOrEqual(t, i, 0, "vector github-go-github-form not found")
	v := vectors[i]
	r, body := v.Request()
	r.Header.Set(HeaderEvent, "push")
	r.Header.Set(HeaderDelivery, guid)
	p, err := New(v.Secret, WithSHA1())
	require.NoError(t, err)
	require.NoError(t, p.Verify(r, body))
	doc, err := p.Payload(r.Header, body)
	require.NoError(t, err)
	assert.Equal(t, `{"yo":true}`, string(doc))
}

// FuzzVerify checks that any change to a signed body or its signature header
// fails verification and that nothing panics.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"action":"opened"}`)
	f.Add(body, Sign(secret, body))
	f.Add([]byte("Hello, World!"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	f.Add([]byte(""), "sha256=")
	f.Add([]byte("x"), "sha256=zz")
	p, _ := New(secret, WithSHA1())
	f.Fuzz(func(t *testing.T, b []byte, sig string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header[HeaderSignature256] = []string{sig}
		err := p.Verify(r, b)
		good := Sign(secret, b)
		if err == nil && !strings.EqualFold(strings.TrimSpace(sig), good) {
			t.Fatalf("forged signature %q verified for %q", sig, b)
		}
		if err != nil && !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("error %v does not match ErrVerification", err)
		}
		r.Header.Set(HeaderEvent, "push")
		r.Header.Set(HeaderDelivery, guid)
		_, _ = p.Parse(r, b)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = p.Parse(r, b)
		_, _ = p.Payload(r.Header, b)
	})
}
