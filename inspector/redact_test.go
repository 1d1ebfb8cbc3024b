package inspector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shownHeader matches the names of headers that carry no secret: a
// signature header shown by the inspector would fail
// TestCatalogSignatureHeadersRedacted.
var shownHeader = regexp.MustCompile(`(?i)^(content-type|user-agent|.*-(id|uuid|identifier|delivery|event|event-id|event-name|event-uuid|` +
	`timestamp|time|triggered-at|type|version|retry|topic|domain|instance|resource|attempt-number|api-version|webhook-id|cert-url)|` +
	`x-event-key)$`)

// TestCatalogSignatureHeadersRedacted checks, against the headers of every
// known-answer vector of the catalog (providers/testdata/vectors.json),
// that the inspector shows only headers that carry no secret, and never a
// signature's value.
func TestCatalogSignatureHeadersRedacted(t *testing.T) {
	raw, err := os.ReadFile("../providers/testdata/vectors.json")
	require.NoError(t, err)
	var vectors []struct {
		ID       string            `json:"id"`
		Provider string            `json:"provider"`
		Headers  map[string]string `json:"headers"`
		Body     string            `json:"body"`
	}
	require.NoError(t, json.Unmarshal(raw, &vectors))
	require.Greater(t, len(vectors), 100)
	r := newRedactor(nil, nil)
	providers := map[string]bool{}
	redactedSome := 0
	for _, v := range vectors {
		h := http.Header{}
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		lines, _ := r.renderHeaders(h)
		for _, l := range lines {
			if l.Redacted {
				redactedSome++
				continue
			}
			assert.Regexp(t, shownHeader, l.Name, "%s: header %s shown", v.ID, l.Name)
		}
		providers[v.Provider] = true
	}
	assert.Greater(t, redactedSome, 90)
	assert.Greater(t, len(providers), 25)
	// Every name of SignatureHeaders is redacted, in any case.
	for _, name := range SignatureHeaders {
		assert.True(t, r.header(strings.ToLower(name)), name)
		assert.True(t, r.header(strings.ToUpper(name)), name)
	}
	for _, name := range []string{"Content-Type", "X-GitHub-Event", "X-GitHub-Delivery", "Webhook-Id", "Webhook-Timestamp", "Twitch-Eventsub-Message-Type"} {
		assert.False(t, r.header(name), name)
	}
}

// TestBodySecretsOfTheCatalogRedacted covers providers that put secrets in
// the body: Mailgun's signature block, Microsoft Graph's clientState,
// Slack's verification token, SNS's Signature and Token, Zoom's plainToken,
// Stripe's client_secret, PayPal IPN's verify_sign.
func TestBodySecretsOfTheCatalogRedacted(t *testing.T) {
	r := newRedactor(nil, nil)
	for name, doc := range map[string]string{
		"mailgun":        `{"signature":{"timestamp":"1","token":"SECRET1","signature":"SECRET2"},"event-data":{"id":"x"}}`,
		"microsoftgraph": `{"value":[{"subscriptionId":"s","clientState":"SECRET1","resource":"r"}]}`,
		"slack":          `{"token":"SECRET1","type":"url_verification","challenge":"c"}`,
		"sns":            `{"Type":"SubscriptionConfirmation","Token":"SECRET1","Signature":"SECRET2","MessageId":"m"}`,
		"zoom":           `{"event":"endpoint.url_validation","payload":{"plainToken":"SECRET1"}}`,
		"stripe":         `{"data":{"object":{"client_secret":"SECRET1","amount":1}}}`,
		"escaped key":    `{"\u0074oken":"SECRET1","To\u006Ben":"SECRET2"}`,
		"duplicate keys": `{"token":"SECRET1","token":"SECRET2"}`,
		"array value":    `{"api_key":["SECRET1",{"a":"SECRET2"}]}`,
	} {
		out := r.renderPayload([]byte(doc), "application/json", 4096)
		assert.Equal(t, kindJSON, out.Kind, name)
		assert.NotContains(t, out.Text, "SECRET", name)
		assert.Contains(t, out.Text, Redacted, name)
	}
	form := r.renderPayload([]byte("txn_id=1&verify_sign=SECRET1&token=SECRET2&payload=%7B%22password%22%3A%22SECRET3%22%2C%22a%22%3A1%7D&name=%3Cb%3E"), "application/x-www-form-urlencoded", 4096)
	assert.Equal(t, kindForm, form.Kind)
	assert.NotContains(t, form.Text, "SECRET")
	assert.Contains(t, form.Text, "txn_id: 1\n")
	assert.Contains(t, form.Text, "name: <b>\n")
	assert.Contains(t, form.Text, `"a": 1`)

	opaque := r.renderPayload([]byte("<xml><secret>SECRET1</secret></xml>"), "application/xml", 4096)
	assert.Equal(t, kindOpaque, opaque.Kind)
	assert.NotContains(t, opaque.Text, "SECRET")
	assert.Equal(t, kindNone, r.renderPayload(nil, "", 4096).Kind)

	assert.Equal(t, "validationToken="+Redacted+"&hub.mode=subscribe&hub.verify_token="+Redacted+"&x",
		r.query("validationToken=abc&hub.mode=subscribe&hub.verify_token=def&x"))
}

func TestRenderJSONShapes(t *testing.T) {
	r := newRedactor(nil, []string{"iban"})
	for doc, want := range map[string]string{
		`{}`:                    `{}`,
		`[]`:                    `[]`,
		`1.50`:                  `1.50`,
		`{"a":[1,{"b":null}]}`:  "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}",
		`{"IBAN":"x","b":true}`: "{\n  \"IBAN\": \"[redacted]\",\n  \"b\": true\n}",
		`{"a":1} {"b":2}`:       "{\n  \"a\": 1\n}\n… (not valid JSON beyond this point)",
		`{"a":1`:                "{\n  \"a\": 1\n… (not valid JSON beyond this point)",
	} {
		out := r.renderPayload([]byte(doc), "", 4096)
		assert.Equal(t, want, out.Text, doc)
	}
}

// FuzzRenderPayload: any input renders within the bound, as valid UTF-8,
// without panicking, and a secret field's value never shows.
func FuzzRenderPayload(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"token":"x"}]`, `{"a":"<script>"}`, "a=1&token=2", `{"a":` + strings.Repeat("[", 100),
		"\xff\xfe", `{"x":"\xff"}`, `"` + strings.Repeat("é", 300) + `"`, `{"a":{"secret":{"b":[1,2,{"c":3}]}},"d":4}`, `{"a":1}}`, ``} {
		f.Add([]byte(s), "k", "v")
	}
	r := newRedactor(nil, nil)
	f.Fuzz(func(t *testing.T, doc []byte, key, value string) {
		for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
			out := r.renderPayload(doc, ct, 512)
			if len(out.Text) > 512+64 {
				t.Fatalf("rendered %d bytes", len(out.Text))
			}
			if out.Kind == kindJSON && !utf8.ValidString(out.Text) {
				t.Fatalf("invalid UTF-8: %q", out.Text)
			}
		}
		// Against encoding/json: a valid document within the bounds renders
		// whole, as valid JSON, equal to it when nothing is redacted; an
		// invalid one never renders as complete.
		if len(doc) <= 4096 {
			out := r.renderPayload(doc, "", 1<<20)
			complete := out.Kind == kindJSON && !out.Truncated && !strings.Contains(out.Text, "\n… (")
			valid := json.Valid(doc) && len(bytes.TrimSpace(doc)) > 0
			if complete != valid {
				t.Fatalf("json.Valid %v, rendered as complete %v: %q", valid, complete, out.Text)
			}
			if valid && !strings.Contains(out.Text, Redacted) && utf8.Valid(doc) {
				var a, b bytes.Buffer
				if json.Compact(&a, doc) != nil || json.Compact(&b, []byte(out.Text)) != nil || a.String() != b.String() {
					t.Fatalf("rendered %q as %q", doc, out.Text)
				}
			}
		}
		// A secret next to any member keeps hidden.
		const sentinel = "S3NT1N3L"
		member, _ := json.Marshal(map[string]string{key: value})
		doc2 := `{"client_secret":"` + sentinel + `",` + string(member[1:])
		out := r.renderPayload([]byte(doc2), "application/json", 4096)
		if strings.Contains(out.Text, sentinel) {
			t.Fatalf("secret shown: %q", out.Text)
		}
	})
}
