package meta_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/meta"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// verifyToken is the verify token of the meta-verify-get vectors, which the
// harness configures on every provider it builds.
const verifyToken = "my-verify-token"

func sum(body string) string {
	s := sha256.Sum256([]byte(body))
	return hex.EncodeToString(s[:])
}

const (
	whatsapp = `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":` +
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},` +
		`"contacts":[{"profile":{"name":"Zo\u00eb"},"wa_id":"16315551181"}],"messages":[{"from":"16315551181",` +
		`"id":"wamid.ABGGFlA5Fpa","timestamp":"1735689600","text":{"body":"caf\u00e9 \ud83d\ude00"},"type":"text"}]},` +
		`"field":"messages"}]}]}`
	page = `{"object":"page","entry":[{"id":"1234567890","time":1735689600,"changes":[{"field":"feed",` +
		`"value":{"item":"comment","verb":"add","comment_id":"1234567890_111","message":"Nice!"}}]}]}`
)

func get(query string) string { return "https://example.com/webhooks/meta?" + query }

func subscribe(token, challenge string) string {
	return get(url.Values{meta.ParamMode: {"subscribe"}, meta.ParamVerifyToken: {token}, meta.ParamChallenge: {challenge}}.Encode())
}

func harness(t testing.TB) providertest.Harness {
	hs := func(name, u string, want providertest.Response) providertest.Handshake {
		return providertest.Handshake{Name: name, Method: http.MethodGet, URL: u, Want: want}
	}
	forbidden := providertest.Response{Status: 403}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return meta.New(c.Secrets[0], meta.WithSecrets(c.Secrets[1:]...), meta.WithVerifyToken(verifyToken))
		},
		Sign:    meta.SignRequest,
		Secrets: []string{"meta-app-secret-one", "meta-app-secret-two", "meta-app-secret-three"},
		Samples: []providertest.Sample{
			{Name: "whatsapp message", Header: jsonHeader, Body: []byte(whatsapp), ID: sum(whatsapp), Type: "whatsapp_business_account"},
			{Name: "page feed", Header: jsonHeader, Body: []byte(page), ID: sum(page), Type: "page"},
		},
		Malformed: []providertest.Sample{
			{Name: "no object", Header: jsonHeader, Body: []byte(`{"entry":[]}`)},
			{Name: "object twice", Header: jsonHeader, Body: []byte(`{"object":"page","object":"instagram","entry":[]}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`object=page`)},
		},
		Handshakes: []providertest.Handshake{
			hs("subscribe", subscribe(verifyToken, "1158201444"),
				providertest.Response{Status: 200, ContentType: "text/plain", Body: "1158201444"}),
			hs("markup is echoed as plain text", subscribe(verifyToken, "<b>1</b>"),
				providertest.Response{Status: 200, ContentType: "text/plain", Body: "<b>1</b>"}),
			hs("wrong token", subscribe("not-my-token", "1158201444"), forbidden),
			hs("token prefix", subscribe("my-verify", "1158201444"), forbidden),
			hs("empty token", subscribe("", "1158201444"), forbidden),
			hs("no token", get("hub.mode=subscribe&hub.challenge=1158201444"), forbidden),
			hs("app secret as token", subscribe("meta-app-secret-one", "1158201444"), forbidden),
			hs("other mode", get("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token="+verifyToken), forbidden),
			hs("token twice", get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=x&hub.verify_token="+verifyToken), forbidden),
			hs("challenge twice", get("hub.mode=subscribe&hub.challenge=1&hub.challenge=2&hub.verify_token="+verifyToken), forbidden),
			hs("empty challenge", subscribe(verifyToken, ""), providertest.Response{Status: 400}),
			hs("long challenge", subscribe(verifyToken, strings.Repeat("1", meta.MaxChallengeBytes+1)), providertest.Response{Status: 400}),
			hs("no hub.mode", get("hub.challenge=1&hub.verify_token="+verifyToken),
				providertest.Response{Status: 405, ContentType: "text/plain; charset=utf-8", Body: "Method Not Allowed\n"}),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", meta.Name),
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), meta.HeaderSignature)
}

// Without a verify token, every verification request is refused.
func TestNoVerifyToken(t *testing.T) {
	p, err := meta.New("app-secret")
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, subscribe("anything", "1"), nil)
	rep := p.Handshake(r, nil)
	require.NotNil(t, rep)
	assert.Equal(t, http.StatusForbidden, rep.Status)
	assert.Empty(t, rep.Body)

	// A POST is never a verification request.
	assert.Nil(t, p.Handshake(httptest.NewRequest(http.MethodPost, subscribe("anything", "1"), nil), []byte(`{}`)))
}

func TestVerifyTokens(t *testing.T) {
	_, err := meta.New("app-secret", meta.WithVerifyToken(" "))
	assert.ErrorIs(t, err, verify.ErrNoSecret)

	p, err := meta.New("app-secret", meta.WithVerifyToken("old-token", "new-token"))
	require.NoError(t, err)
	for _, tok := range []string{"old-token", "new-token"} {
		rep := p.Handshake(httptest.NewRequest(http.MethodGet, subscribe(tok, "42"), nil), nil)
		require.NotNil(t, rep)
		assert.Equal(t, 0, rep.Status, "200")
		assert.Equal(t, "42", string(rep.Body))
	}
	rep := p.Handshake(httptest.NewRequest(http.MethodGet, subscribe("other", "42"), nil), nil)
	require.NotNil(t, rep)
	assert.Equal(t, http.StatusForbidden, rep.Status)
}

// The meta-wrong-secret vector carries the MAC of its body under the app
// secret it was signed with: signed here, it is that MAC, and the escaped
// non-ASCII text is signed as sent.
func TestKnownAnswer(t *testing.T) {
	var v providertest.Vector
	for _, x := range providertest.LoadVectors(t, "../testdata/vectors.json", meta.Name) {
		if x.ID == "meta-wrong-secret" {
			v = x
		}
	}
	require.NotEmpty(t, v.Body)
	require.Contains(t, v.Body, `caf\u00e9`)
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, nil)
	require.NoError(t, err)
	require.NoError(t, meta.SignRequest(r, []byte(v.Body), "meta_app_secret_0123456789abcdef", time.Time{}))
	assert.Equal(t, v.Headers["X-Hub-Signature-256"], r.Header.Get(meta.HeaderSignature))
}

// FuzzVerification fuzzes the query of a GET: Handshake must not panic,
// and answers 200 only to the configured verify token, with the single
// challenge parameter's value.
func FuzzVerification(f *testing.F) {
	for _, s := range []string{
		"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken,
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=x", "hub.mode=&hub.challenge=&hub.verify_token=",
		"hub.mode=subscribe&hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + verifyToken,
		"hub.mode=subscribe;hub.challenge=1;hub.verify_token=" + verifyToken, "hub.mode=%zz", "hub.mode", "",
	} {
		f.Add(s)
	}
	p, err := meta.New("app-secret", meta.WithVerifyToken(verifyToken))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, query string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "example.com", Path: "/hooks", RawQuery: query}}
		rep := p.Handshake(r, nil)
		if rep == nil || rep.Status != 0 {
			return
		}
		q := r.URL.Query()
		assert.Equal(t, []string{verifyToken}, q[meta.ParamVerifyToken])
		assert.Equal(t, []string{"subscribe"}, q[meta.ParamMode])
		require.Len(t, q[meta.ParamChallenge], 1)
		assert.Equal(t, q[meta.ParamChallenge][0], string(rep.Body))
	})
}
