package github

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hookwise/hookwise/providers/internal/vectortest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVectors(t *testing.T) {
	for _, v := range vectortest.Load(t, "github") {
		t.Run(v.ID, func(t *testing.T) {
			r, body := v.Request()
			var opts []Option
			sha1Only := r.Header.Get(HeaderSignature256) == "" && r.Header.Get(HeaderSignature1) != ""
			if sha1Only {
				opts = append(opts, WithSHA1())
			}
			p, err := New(v.Secret, opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Verify(r, body)
			if v.Valid() != (err == nil) {
				t.Fatalf("Verify = %v, want valid=%v", err, v.Valid())
			}
			if err != nil && !errors.Is(err, verify.ErrVerification) {
				t.Fatalf("error %v does not match verify.ErrVerification", err)
			}
			if sha1Only {
				// Without the opt-in, the SHA-1 header alone is never enough.
				p, _ := New(v.Secret)
				if err := p.Verify(r, body); !errors.Is(err, verify.ErrMissingSignature) {
					t.Fatalf("default provider: Verify = %v, want ErrMissingSignature", err)
				}
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
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			err = p.Verify(r, body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, verify.ErrVerification) || !strings.HasPrefix(err.Error(), "github: ") {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
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
			if _, err := New(tt.secret, tt.opts...); !errors.Is(err, verify.ErrNoSecret) {
				t.Fatalf("New err = %v, want ErrNoSecret", err)
			}
		})
	}
	p, err := New("s")
	if err != nil || p.Name() != "github" {
		t.Fatalf("New: %v, %v", p, err)
	}
}

func TestNewRequest(t *testing.T) {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	r := NewRequest("https://example.com/hook", secret, "ping", "d-1", body)
	p, _ := New(secret)
	if err := p.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", HeaderEvent: "ping", HeaderDelivery: "d-1",
		HeaderSignature256: Sign(secret, body), HeaderSignature1: SignSHA1(secret, body),
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "GitHub-Hookshot/") {
		t.Errorf("User-Agent = %q", ua)
	}
	if r.Method != http.MethodPost || r.URL.String() != "https://example.com/hook" {
		t.Errorf("request %s %s", r.Method, r.URL)
	}
	if got := readAll(t, r); !bytes.Equal(got, body) {
		t.Errorf("body = %q", got)
	}
}

func readAll(t *testing.T, r *http.Request) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := b.ReadFrom(r.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
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
	for _, v := range vectortest.Load(t, "github") {
		if v.ID != "github-go-github-form" {
			continue
		}
		r, body := v.Request()
		r.Header.Set(HeaderEvent, "push")
		r.Header.Set(HeaderDelivery, guid)
		p, _ := New(v.Secret, WithSHA1())
		if err := p.Verify(r, body); err != nil {
			t.Fatal(err)
		}
		doc, err := p.Payload(r.Header, body)
		if err != nil || string(doc) != `{"yo":true}` {
			t.Fatalf("Payload = %s, %v", doc, err)
		}
		return
	}
	t.Fatal("vector github-go-github-form not found")
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
