package providertest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// toy is a provider for the suite's own tests: Toy-Signature carries
// "t=<unix>,v1=<hex>[,v1=<hex>…]", the HMAC-SHA256 of t + "." + body; the
// ID and type are the Toy-Id and Toy-Type headers. defect selects a bug.
type toy struct {
	secrets   [][]byte
	now       func() time.Time
	tolerance time.Duration
	defect    string
}

func newToy(c providertest.Config, defect string) (provider.Provider, error) {
	return newToyWindow(c, defect, 5*time.Minute)
}

// newToyWindow is newToy with a default window of its own.
func newToyWindow(c providertest.Config, defect string, window time.Duration) (provider.Provider, error) {
	p := &toy{now: c.Now, tolerance: c.Tolerance, defect: defect}
	if p.tolerance <= 0 || defect == "config-tolerance" {
		p.tolerance = window
	}
	if defect == "clock" {
		p.now = time.Now
	}
	for i, s := range c.Secrets {
		if s == "" && defect != "empty-secret" {
			return nil, verify.ErrNoSecret
		}
		if i > 0 && defect == "rotation" {
			break
		}
		p.secrets = append(p.secrets, []byte(s))
	}
	return p, nil
}

func (p *toy) Name() string { return "toy" }

func (p *toy) mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	if p.defect != "unsigned-timestamp" {
		m.Write([]byte(ts + "."))
	}
	m.Write(body)
	return m.Sum(nil)
}

func (p *toy) Verify(r *http.Request, body []byte) error {
	h := r.Header.Get("Toy-Signature")
	if h == "" {
		return verify.ErrMissingSignature
	}
	entries := strings.Split(h, ",")
	if p.defect != "unbounded" && (len(h) > verify.MaxSignatureHeaderBytes || len(entries) > verify.MaxSignatureEntries) {
		return verify.ErrSignatureHeaderTooLarge
	}
	var ts string
	var sigs [][]byte
	for _, e := range entries {
		k, v, _ := strings.Cut(strings.TrimSpace(e), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if p.defect != "stale" {
		if err := verify.CheckUnix(ts, p.now(), p.tolerance); err != nil {
			return err
		}
	}
	for _, s := range p.secrets {
		var want []byte
		for _, sig := range sigs {
			if want == nil || p.defect == "mac-per-entry" {
				want = p.mac(s, ts, body)
			}
			n := len(want)
			if p.defect == "prefix" {
				n = 4
			}
			if len(sig) >= n && hmac.Equal(sig[:n], want[:n]) {
				return nil
			}
		}
	}
	if p.defect == "leak" {
		return fmt.Errorf("toy: no match under %q: %w", p.secrets[0], verify.ErrSignatureMismatch)
	}
	return verify.ErrSignatureMismatch
}

func (p *toy) Parse(r *http.Request, _ []byte) (provider.Envelope, error) {
	id, typ := r.Header.Get("Toy-Id"), r.Header.Get("Toy-Type")
	if typ == "" {
		return provider.Envelope{}, fmt.Errorf("toy: no type: %w", provider.ErrMalformedEnvelope)
	}
	if p.defect == "id" {
		id = "x" + id
	}
	return provider.Envelope{ID: id, Type: typ}, nil
}

// sign signs as the toy with defect verifies.
func sign(secret string, now time.Time, body []byte, defect string) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	p := &toy{defect: defect}
	return "t=" + ts + ",v1=" + hex.EncodeToString(p.mac([]byte(secret), ts, body))
}

func toyHarness(defect string) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) { return newToy(c, defect) },
		Sign: func(r *http.Request, body []byte, secret string, now time.Time) error {
			r.Header.Set("Toy-Signature", sign(secret, now, body, defect))
			return nil
		},
		Secrets: []string{"toy-secret-one", "toy-secret-two", "toy-secret-three"},
		Samples: []providertest.Sample{{
			Name:   "order.paid",
			Header: http.Header{"Content-Type": {"application/json"}, "Toy-Id": {"ord_1"}, "Toy-Type": {"order.paid"}},
			Body:   []byte(`{"id":"ord_1","amount":1200}`), ID: "ord_1", Type: "order.paid",
		}},
		Malformed: []providertest.Sample{{Name: "no type", Header: http.Header{"Toy-Id": {"ord_2"}}, Body: []byte(`{}`)}},
		Tolerance: 5 * time.Minute,
		List: &providertest.SignatureList{Header: "Toy-Signature", Sep: ",", Entry: func(i int) string {
			sum := sha256.Sum256([]byte(strconv.Itoa(i)))
			return "v1=" + hex.EncodeToString(sum[:])
		}},
	}
}

func TestToyConformance(t *testing.T) {
	providertest.Run(t, toyHarness(""))
}

// toyWindowHarness is the toy with a short default window, as Paddle's
// five seconds.
func toyWindowHarness(defect string, window time.Duration) providertest.Harness {
	h := toyHarness(defect)
	h.New = func(c providertest.Config) (provider.Provider, error) { return newToyWindow(c, defect, window) }
	h.Tolerance = window
	return h
}

// A provider with a window of a few seconds passes the suite.
func TestShortWindowConformance(t *testing.T) {
	for _, window := range []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 3 * time.Second, 5 * time.Second, 31 * time.Second} {
		t.Run(window.String(), func(t *testing.T) {
			providertest.Run(t, toyWindowHarness("", window))
		})
	}
}

func TestConfiguredWindow(t *testing.T) {
	for _, def := range []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 3 * time.Second,
		4 * time.Second, 5 * time.Second, 10 * time.Second, 31 * time.Second, 32 * time.Second, time.Minute, 5 * time.Minute, time.Hour} {
		w := providertest.ConfiguredWindow(def)
		assert.GreaterOrEqual(t, w, 2*time.Second, "default %v", def)
		assert.Zero(t, w%time.Second, "default %v: %v is not whole seconds", def, w)
		// The checks accept up to w-1s and refuse from w+1s: one of them
		// must fall on the other side of def.
		assert.True(t, w+time.Second <= def || w-time.Second > def, "default %v: %v is too close", def, w)
	}
	assert.Equal(t, 30*time.Second, providertest.ConfiguredWindow(5*time.Minute))
	assert.Equal(t, 2*time.Second, providertest.ConfiguredWindow(5*time.Second))
	assert.Equal(t, 4*time.Second, providertest.ConfiguredWindow(2*time.Second))
}

// tokenToy authenticates the sender with "Toy-Token: Bearer <secret>",
// compared as SHA-256 digests in constant time; the ID and type are the
// Toy-Id and Toy-Type headers. defect selects a bug.
type tokenToy struct {
	digests [][sha256.Size]byte
	secrets []string
	defect  string
}

func newTokenToy(c providertest.Config, defect string) (provider.Provider, error) {
	p := &tokenToy{defect: defect}
	for _, s := range c.Secrets {
		if strings.TrimSpace(s) == "" {
			return nil, verify.ErrNoSecret
		}
		p.digests = append(p.digests, sha256.Sum256([]byte(s)))
		p.secrets = append(p.secrets, s)
	}
	return p, nil
}

func (p *tokenToy) Name() string { return "token-toy" }

func (p *tokenToy) Verify(r *http.Request, _ []byte) error {
	h := r.Header.Get("Toy-Token")
	if h == "" {
		if p.defect == "token-missing-ok" {
			return nil
		}
		return verify.ErrMissingSignature
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return verify.ErrMalformedSignature
	}
	if p.defect == "token-any" {
		return nil
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for i, d := range p.digests {
		if p.defect == "token-prefix" {
			if len(token) >= 4 && len(p.secrets[i]) >= 4 && subtle.ConstantTimeCompare([]byte(token[:4]), []byte(p.secrets[i][:4])) == 1 {
				match = 1
			}
			continue
		}
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	if match != 1 {
		return verify.ErrSignatureMismatch
	}
	return nil
}

func (p *tokenToy) Parse(r *http.Request, _ []byte) (provider.Envelope, error) {
	typ := r.Header.Get("Toy-Type")
	if typ == "" {
		return provider.Envelope{}, fmt.Errorf("token-toy: no type: %w", provider.ErrMalformedEnvelope)
	}
	return provider.Envelope{ID: r.Header.Get("Toy-Id"), Type: typ}, nil
}

func tokenToyHarness(defect string) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) { return newTokenToy(c, defect) },
		Sign: func(r *http.Request, _ []byte, secret string, _ time.Time) error {
			r.Header.Set("Toy-Token", "Bearer "+secret)
			return nil
		},
		Unsigned: true,
		Secrets:  []string{"toy-token-one", "toy-token-two", "toy-token-three"},
		Samples: []providertest.Sample{{
			Name:   "push",
			Header: http.Header{"Content-Type": {"application/json"}, "Toy-Id": {"d1"}, "Toy-Type": {"push"}},
			Body:   []byte(`{"ref":"main"}`), ID: "d1", Type: "push",
		}},
		Malformed: []providertest.Sample{{Name: "no type", Header: http.Header{"Toy-Id": {"d2"}}, Body: []byte(`{}`)}},
	}
}

// A token scheme, whose body is not authenticated, passes the suite with
// Unsigned set, and fails it without: its body can be tampered with.
func TestUnsignedConformance(t *testing.T) {
	providertest.Run(t, tokenToyHarness(""))
}

// stateToy authenticates the sender with a clientState in the body, as
// Microsoft Graph does: {"clientState":"<secret>",…}.
type stateToy struct {
	states [][sha256.Size]byte
	defect string
}

func (p *stateToy) Name() string { return "state-toy" }

func (p *stateToy) Verify(_ *http.Request, body []byte) error {
	var doc struct {
		ClientState string `json:"clientState"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.ClientState == "" {
		return verify.ErrMissingSignature
	}
	if p.defect == "state-any" {
		return nil
	}
	got := sha256.Sum256([]byte(doc.ClientState))
	match := 0
	for _, d := range p.states {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	if match != 1 {
		return verify.ErrSignatureMismatch
	}
	return nil
}

func (p *stateToy) Parse(_ *http.Request, body []byte) (provider.Envelope, error) {
	var doc struct{ ID, Type string }
	if err := json.Unmarshal(body, &doc); err != nil || doc.Type == "" {
		return provider.Envelope{}, fmt.Errorf("state-toy: %w", provider.ErrMalformedEnvelope)
	}
	return provider.Envelope{ID: doc.ID, Type: doc.Type}, nil
}

func stateToyHarness(defect string) providertest.Harness {
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			p := &stateToy{defect: defect}
			for _, s := range c.Secrets {
				if strings.TrimSpace(s) == "" {
					return nil, verify.ErrNoSecret
				}
				p.states = append(p.states, sha256.Sum256([]byte(s)))
			}
			return p, nil
		},
		Sign: func(*http.Request, []byte, string, time.Time) error { return nil },
		SignBody: func(body []byte, secret string, _ time.Time) []byte {
			return bytes.Replace(body, []byte("STATE"), []byte(secret), 1)
		},
		Unsigned: true,
		Secrets:  []string{"toy-state-one", "toy-state-two", "toy-state-three"},
		Samples: []providertest.Sample{{
			Name: "updated", Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"clientState":"STATE","id":"n1","type":"updated"}`), ID: "n1", Type: "updated",
		}},
		Malformed: []providertest.Sample{{Name: "no type", Body: []byte(`{"clientState":"STATE","id":"n2"}`)}},
	}
}

// A scheme whose credential lives in the body passes the suite with
// SignBody and Unsigned.
func TestBodyCredentialConformance(t *testing.T) {
	providertest.Run(t, stateToyHarness(""))
}

const defectEnv = "PROVIDERTEST_DEFECT"

// TestToyDefect runs the suite against a defective toy provider when
// TestSuiteCatchesDefects starts this binary with PROVIDERTEST_DEFECT set;
// otherwise it has nothing to do.
func TestToyDefect(t *testing.T) {
	defect := os.Getenv(defectEnv)
	switch {
	case defect == "":
	case strings.HasPrefix(defect, "token-"):
		providertest.Run(t, tokenToyHarness(defect))
	case strings.HasPrefix(defect, "state-"):
		providertest.Run(t, stateToyHarness(defect))
	case defect == "config-tolerance":
		providertest.Run(t, toyWindowHarness(defect, 5*time.Second))
	case defect == "signed-as-unsigned":
		h := tokenToyHarness("")
		h.Unsigned = false
		providertest.Run(t, h)
	default:
		providertest.Run(t, toyHarness(defect))
	}
}

// The suite fails a provider with each defect, in the subtest that checks
// for it.
func TestSuiteCatchesDefects(t *testing.T) {
	for defect, failing := range map[string]string{
		"clock":              "TestToyDefect/RoundTrip",
		"unsigned-timestamp": "TestToyDefect/TamperedHeaders/Toy-Signature",
		"stale":              "TestToyDefect/Timestamps/default",
		"rotation":           "TestToyDefect/Secrets/rotation",
		"empty-secret":       "TestToyDefect/Secrets/empty",
		"leak":               "TestToyDefect/Secrets/wrong",
		"mac-per-entry":      "TestToyDefect/SignatureList/cost",
		"unbounded":          "TestToyDefect/SignatureList/entries",
		"prefix":             "TestToyDefect/TamperedHeaders/Toy-Signature",
		"id":                 "TestToyDefect/RoundTrip/order.paid",
		"config-tolerance":   "TestToyDefect/Timestamps/configured",
		"token-missing-ok":   "TestToyDefect/Credentials/push",
		"token-any":          "TestToyDefect/Credentials/push",
		"token-prefix":       "TestToyDefect/Credentials/push",
		"state-any":          "TestToyDefect/Credentials/updated",
		"signed-as-unsigned": "TestToyDefect/TamperedBody/push",
	} {
		t.Run(defect, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestToyDefect$", "-test.v")
			cmd.Env = append(os.Environ(), defectEnv+"="+defect)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "the suite passed a provider with defect %q: %v\n%s", defect, err, out)
			assert.Contains(t, string(out), "--- FAIL: "+failing+" ", "the failing subtest")
		})
	}
}

func TestTamperings(t *testing.T) {
	for _, value := range []string{"sha256=0a1F", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "1614265330", "msg_1"} {
		got := providertest.Tamperings(value)
		assert.NotContains(t, got, value, "a tampering that changes nothing")
		assert.GreaterOrEqual(t, len(got), len(value)+2, "one change per character, appended and cut")
		for _, v := range got {
			if len(v) == len(value) && !strings.EqualFold(v, value) {
				continue
			}
			if len(v) != len(value) {
				continue
			}
			t.Errorf("%q: %q differs only in case", value, v)
		}
	}
	assert.Contains(t, providertest.Tamperings("1614265330"), "1614265331")
	assert.Contains(t, providertest.Tamperings("1614265330"), "1614265329")
}

func TestLoadVectors(t *testing.T) {
	vs := providertest.LoadVectors(t, "../testdata/vectors.json", "stripe", "github")
	require.NotEmpty(t, vs)
	for _, v := range vs {
		assert.Contains(t, []string{"stripe", "github"}, v.Provider)
		r, body := v.Request()
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, v.Body, string(body))
	}
}

func FuzzToySignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, toyHarness(""), "Toy-Signature")
}

func FuzzHeaderSeeds(f *testing.F) {
	providertest.FuzzHeader(f, func(v string) error {
		_, err := verify.ParseUnix(v)
		return err
	}, "1614265330")
}
