package sns_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/keyfetch"
	"github.com/hookwise/hookwise/providers/sns"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

// The known-answer messages in testdata were signed by OpenSSL with
// testdata/signing.key (see testdata/README.md).
const (
	katCertURL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
	katTopic   = "arn:aws:sns:us-west-2:123456789012:MyTopic"
)

var katNow = time.Date(2027, time.January, 1, 0, 0, 30, 0, time.UTC)

// fakeFetcher serves fixed documents by URL and counts its calls.
type fakeFetcher struct {
	docs  map[string][]byte
	calls atomic.Int32
}

func (f *fakeFetcher) Fetch(_ context.Context, u string) ([]byte, error) {
	f.calls.Add(1)
	if d, ok := f.docs[u]; ok {
		return d, nil
	}
	return nil, keyfetch.ErrFetch
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func katProvider(t *testing.T, opts ...sns.Option) (*sns.Provider, *fakeFetcher) {
	t.Helper()
	f := &fakeFetcher{docs: map[string][]byte{katCertURL: readFile(t, "signing.pem")}}
	opts = append([]sns.Option{sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow })}, opts...)
	p, err := sns.New(opts...)
	require.NoError(t, err)
	return p, f
}

func post(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://example.com/sns", bytes.NewReader(body))
	r.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	return r
}

// setField returns body with the top-level field k set to v.
func setField(t testing.TB, body []byte, k string, v any) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestKnownAnswers(t *testing.T) {
	p, _ := katProvider(t)
	for _, c := range []struct{ file, id, typ string }{
		{"notification-v1.json", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", sns.TypeNotification},
		{"notification-v2.json", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", sns.TypeNotification},
		{"subscription-v2.json", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", sns.TypeSubscriptionConfirmation},
	} {
		t.Run(c.file, func(t *testing.T) {
			body := readFile(t, c.file)
			require.NoError(t, p.Verify(post(body), body))
			env, err := p.Parse(post(body), body)
			require.NoError(t, err)
			assert.Equal(t, c.id, env.ID)
			assert.Equal(t, c.typ, env.Type)
			assert.Nil(t, env.Reply)
			assert.Equal(t, c.typ != sns.TypeNotification, env.Optional)

			// Each signed field changed, or a field removed, fails.
			fields := []string{"Message", "MessageId", "Timestamp", "TopicArn", "Type"}
			if c.typ == sns.TypeNotification {
				fields = append(fields, "Subject")
			} else {
				fields = append(fields, "SubscribeURL", "Token")
			}
			for _, k := range fields {
				var m map[string]any
				require.NoError(t, json.Unmarshal(body, &m))
				v := m[k].(string)
				if k == "Timestamp" {
					v = "2027-01-01T00:00:01.000Z"
				} else if k == "Type" {
					v = map[bool]string{true: sns.TypeUnsubscribeConfirmation, false: sns.TypeSubscriptionConfirmation}[c.typ == sns.TypeSubscriptionConfirmation]
				} else {
					v += "x"
				}
				forged := setField(t, body, k, v)
				assert.ErrorIs(t, p.Verify(post(forged), forged), verify.ErrVerification, "%s changed", k)
				removed := setField(t, body, k, nil)
				assert.ErrorIs(t, p.Verify(post(removed), removed), verify.ErrVerification, "%s removed", k)
			}
			// The other version's hash fails.
			other := map[string]string{"1": "2", "2": "1"}
			var m map[string]any
			require.NoError(t, json.Unmarshal(body, &m))
			swapped := setField(t, body, "SignatureVersion", other[m["SignatureVersion"].(string)])
			assert.ErrorIs(t, p.Verify(post(swapped), swapped), sns.ErrSignature)
			// Unsigned fields may change.
			extra := setField(t, body, "UnsubscribeURL", "https://sns.us-west-2.amazonaws.com/?other")
			assert.NoError(t, p.Verify(post(extra), extra))
		})
	}
}

func TestSubjectAbsentAndNull(t *testing.T) {
	key, certPEM := newCert(t, time.Time{}, time.Time{})
	f := &fakeFetcher{docs: map[string][]byte{katCertURL: certPEM}}
	p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(t, err)
	base := []byte(`{"Type":"Notification","MessageId":"m-1","TopicArn":"` + katTopic + `","Message":"hi"}`)
	body, err := sns.Sign(base, key, katCertURL, "2", katNow)
	require.NoError(t, err)
	require.NoError(t, p.Verify(post(body), body), "no Subject")
	// A Subject added afterwards is signed, so it fails.
	withSubject := setField(t, body, "Subject", "added")
	assert.ErrorIs(t, p.Verify(post(withSubject), withSubject), sns.ErrSignature)
	// A null Subject is an absent one.
	withNull := bytes.Replace(body, []byte(`{`), []byte(`{"Subject":null,`), 1)
	assert.NoError(t, p.Verify(post(withNull), withNull))
	// An empty Subject is present, and signed as such.
	empty, err := sns.Sign(setField(t, base, "Subject", ""), key, katCertURL, "1", katNow)
	require.NoError(t, err)
	assert.NoError(t, p.Verify(post(empty), empty))
	stripped := setField(t, empty, "Subject", nil)
	assert.ErrorIs(t, p.Verify(post(stripped), stripped), sns.ErrSignature)
}

func TestCertificateURLRefusedBeforeFetch(t *testing.T) {
	body := readFile(t, "notification-v2.json")
	for _, u := range []string{
		"http://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem",
		"https://sns.us-west-2.amazonaws.com.evil.com/x.pem",
		"https://evil.com/sns.us-west-2.amazonaws.com/x.pem",
		"https://sns.us-west-2.amazonaws.com@evil.com/x.pem",
		"https://user@sns.us-west-2.amazonaws.com/x.pem",
		"https://sns.a.b.amazonaws.com/x.pem",
		"https://sqs.us-west-2.amazonaws.com/x.pem",
		"https://sns.us-west-2.amazonaws.com:8443/x.pem",
		"https://sns.us-west-2.amazonaws.com/x.pem?a=b",
		"https://sns.us-west-2.amazonaws.com/x.pem#f",
		"https://sns.us-west-2.amazonaws.com/x.txt",
		"https://sns.us-west-2.amazonaws.com/",
		"",
	} {
		p, f := katProvider(t)
		forged := setField(t, body, "SigningCertURL", u)
		assert.ErrorIs(t, p.Verify(post(forged), forged), sns.ErrCertURL, u)
		assert.Zero(t, f.calls.Load(), "%s fetched", u)
	}
	// China regions are SNS hosts too (the fake has no document there).
	p, f := katProvider(t)
	cn := setField(t, body, "SigningCertURL", "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem")
	assert.ErrorIs(t, p.Verify(post(cn), cn), sns.ErrCertificate)
	assert.EqualValues(t, 1, f.calls.Load())
}

func TestTopics(t *testing.T) {
	body := readFile(t, "notification-v1.json")
	p, f := katProvider(t, sns.WithTopics("arn:aws:sns:us-west-2:123456789012:Other"))
	assert.ErrorIs(t, p.Verify(post(body), body), sns.ErrTopic)
	assert.Zero(t, f.calls.Load(), "a foreign topic fetches nothing")
	p, _ = katProvider(t, sns.WithTopics("arn:aws:sns:us-west-2:123456789012:Other", katTopic))
	assert.NoError(t, p.Verify(post(body), body))
}

func TestTimestampWindow(t *testing.T) {
	key, certPEM := newCert(t, time.Time{}, time.Time{})
	f := &fakeFetcher{docs: map[string][]byte{katCertURL: certPEM}}
	base := []byte(`{"Type":"Notification","MessageId":"m-1","TopicArn":"` + katTopic + `","Message":"hi"}`)
	for _, c := range []struct {
		window, offset time.Duration
		ok             bool
	}{
		{0, 0, true},
		{0, sns.DefaultTolerance - time.Second, true},
		{0, -sns.DefaultTolerance + time.Second, true},
		{0, sns.DefaultTolerance + time.Second, false},
		{0, -sns.DefaultTolerance - time.Second, false},
		{time.Minute, 59 * time.Second, true},
		{time.Minute, 61 * time.Second, false},
		{time.Minute, -61 * time.Second, false},
	} {
		p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }), sns.WithTolerance(c.window))
		require.NoError(t, err)
		body, err := sns.Sign(base, key, katCertURL, "2", katNow.Add(c.offset))
		require.NoError(t, err)
		err = p.Verify(post(body), body)
		if c.ok {
			assert.NoError(t, err, "%v %v", c.window, c.offset)
		} else {
			assert.ErrorIs(t, err, sns.ErrTimestamp, "%v %v", c.window, c.offset)
		}
	}
}

// newCert returns an RSA key and a PEM certificate for it, valid from
// notBefore to notAfter (2020–2040 when zero).
func newCert(t testing.TB, notBefore, notAfter time.Time) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key, certFor(t, &key.PublicKey, key, notBefore, notAfter)
}

func certFor(t testing.TB, pub any, signer any, notBefore, notAfter time.Time) []byte {
	t.Helper()
	if notBefore.IsZero() {
		notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if notAfter.IsZero() {
		notAfter = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCertificateChecks(t *testing.T) {
	key, _ := newCert(t, time.Time{}, time.Time{})
	base := []byte(`{"Type":"Notification","MessageId":"m-1","TopicArn":"` + katTopic + `","Message":"hi"}`)
	body, err := sns.Sign(base, key, katCertURL, "2", katNow)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, _ := newCert(t, time.Time{}, time.Time{})
	for name, doc := range map[string][]byte{
		"expired":     certFor(t, &key.PublicKey, key, katNow.Add(-48*time.Hour), katNow.Add(-time.Hour)),
		"not yet":     certFor(t, &key.PublicKey, key, katNow.Add(time.Hour), katNow.Add(48*time.Hour)),
		"ecdsa":       certFor(t, &ec.PublicKey, ec, time.Time{}, time.Time{}),
		"not PEM":     []byte("not a certificate"),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"garbage DER": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("xx")}),
	} {
		f := &fakeFetcher{docs: map[string][]byte{katCertURL: doc}}
		p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
		require.NoError(t, err)
		assert.ErrorIs(t, p.Verify(post(body), body), sns.ErrCertificate, name)
	}
	// Another key's valid certificate: signature mismatch.
	f := &fakeFetcher{docs: map[string][]byte{katCertURL: certFor(t, &other.PublicKey, other, time.Time{}, time.Time{})}}
	p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(t, err)
	assert.ErrorIs(t, p.Verify(post(body), body), sns.ErrSignature)
	// A failed fetch: certificate error, no URL in the message.
	f = &fakeFetcher{}
	p, err = sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(t, err)
	err = p.Verify(post(body), body)
	assert.ErrorIs(t, err, sns.ErrCertificate)
	assert.NotContains(t, err.Error(), "SimpleNotificationService")
}

func TestMalformedMessages(t *testing.T) {
	p, f := katProvider(t)
	body := readFile(t, "notification-v2.json")
	dup := bytes.Replace(body, []byte(`{`), []byte(`{"Message":"evil",`), 1)
	lower := bytes.Replace(body, []byte(`"Message":`), []byte(`"message":`), 1)
	for name, b := range map[string][]byte{
		"empty":             nil,
		"array":             []byte(`[]`),
		"not JSON":          []byte(`Type=Notification`),
		"repeated field":    dup,
		"trailing data":     append(bytes.Clone(body), []byte(`{}`)...),
		"non-string field":  setField(t, body, "MessageId", 12),
		"unknown type":      setField(t, body, "Type", "Other"),
		"no MessageId":      setField(t, body, "MessageId", nil),
		"version 3":         setField(t, body, "SignatureVersion", "3"),
		"no signature":      setField(t, body, "Signature", nil),
		"signature not b64": setField(t, body, "Signature", "!!!"),
		"huge signature":    setField(t, body, "Signature", strings.Repeat("A", 4096)),
		"bad timestamp":     setField(t, body, "Timestamp", "yesterday"),
		"lower-case key":    lower,
	} {
		err := p.Verify(post(b), b)
		assert.ErrorIs(t, err, verify.ErrVerification, name)
	}
	assert.Zero(t, f.calls.Load(), "malformed messages fetch nothing")
	_, err := p.Parse(post([]byte(`{}`)), []byte(`{}`))
	assert.ErrorIs(t, err, provider.ErrMalformedEnvelope)
	_, err = p.Parse(post([]byte(`{"Type":"Other","MessageId":"x"}`)), []byte(`{"Type":"Other","MessageId":"x"}`))
	assert.ErrorIs(t, err, provider.ErrMalformedEnvelope)
}

// snsClient returns a client that sends every https request, whatever its
// host, to srv on loopback, trusting srv's certificate as example.com.
func snsClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr}
}

func TestDefaultFetcherOverLoopbackTLS(t *testing.T) {
	var hits atomic.Int32
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mu.Lock()
		paths = append(paths, r.Host+r.URL.Path)
		mu.Unlock()
		_, _ = w.Write(readFile(t, "signing.pem"))
	}))
	defer srv.Close()
	f := keyfetch.New(keyfetch.Config{Client: snsClient(srv), AllowedHosts: sns.Hosts})
	p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(t, err)
	for _, name := range []string{"notification-v1.json", "notification-v2.json", "subscription-v2.json"} {
		body := readFile(t, name)
		assert.NoError(t, p.Verify(post(body), body), name)
	}
	assert.EqualValues(t, 1, hits.Load(), "the certificate is fetched once and cached")
	assert.Equal(t, []string{"sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"}, paths)
}

func TestSubscriptionConfirmation(t *testing.T) {
	body := readFile(t, "subscription-v2.json")
	var hits atomic.Int32
	status := atomic.Int32{}
	status.Store(http.StatusOK)
	var gotQuery atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotQuery.Store(r.Method + " " + r.Host + " " + r.URL.RawQuery)
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "<ConfirmSubscriptionResponse/>")
	}))
	defer srv.Close()

	_, err := sns.New(sns.WithAutoConfirm())
	assert.ErrorIs(t, err, sns.ErrConfiguration, "auto-confirm needs topics")

	t.Run("off", func(t *testing.T) {
		p, _ := katProvider(t, sns.WithConfirmClient(snsClient(srv)), sns.WithLogger(slog.New(slog.DiscardHandler)))
		env, err := p.Parse(post(body), body)
		require.NoError(t, err)
		assert.True(t, env.Optional)
		assert.Nil(t, env.Reply)
		assert.Zero(t, hits.Load(), "not confirmed")
	})
	t.Run("on", func(t *testing.T) {
		p, _ := katProvider(t, sns.WithTopics(katTopic), sns.WithAutoConfirm(), sns.WithConfirmClient(snsClient(srv)), sns.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, p.Verify(post(body), body))
		env, err := p.Parse(post(body), body)
		require.NoError(t, err)
		require.NotNil(t, env.Reply)
		assert.Equal(t, http.StatusOK, env.Reply.Status)
		assert.EqualValues(t, 1, hits.Load())
		assert.Equal(t, "GET sns.us-west-2.amazonaws.com Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37", gotQuery.Load())
		// A failing confirmation answers 502, so that SNS may send it again.
		status.Store(http.StatusForbidden)
		env, err = p.Parse(post(body), body)
		require.NoError(t, err)
		require.NotNil(t, env.Reply)
		assert.Equal(t, http.StatusBadGateway, env.Reply.Status)
		// A SubscribeURL off SNS hosts, or not a confirmation, is never fetched.
		before := hits.Load()
		for _, u := range []string{
			"https://evil.com/?Action=ConfirmSubscription",
			"http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
			"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe",
		} {
			b := setField(t, body, "SubscribeURL", u)
			env, err := p.Parse(post(b), b)
			require.NoError(t, err)
			require.NotNil(t, env.Reply)
			assert.Equal(t, http.StatusBadGateway, env.Reply.Status, u)
		}
		assert.Equal(t, before, hits.Load())
		// Redirects are not followed.
		status.Store(http.StatusFound)
		env, err = p.Parse(post(body), body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadGateway, env.Reply.Status)
		assert.Equal(t, before+1, hits.Load())
	})
	t.Run("unsubscribe", func(t *testing.T) {
		p, _ := katProvider(t)
		b := setField(t, body, "Type", sns.TypeUnsubscribeConfirmation)
		env, err := p.Parse(post(b), b)
		require.NoError(t, err)
		assert.True(t, env.Optional)
		assert.Equal(t, sns.TypeUnsubscribeConfirmation, env.Type)
	})
}

func TestSignRoundTrip(t *testing.T) {
	key, certPEM := newCert(t, time.Time{}, time.Time{})
	f := &fakeFetcher{docs: map[string][]byte{katCertURL: certPEM}}
	p, err := sns.New(sns.WithFetcher(f), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(t, err)
	unsigned := []byte(`{"Type":"Notification","MessageId":"da41e39f-ea4d-435a-b922-c6aae3915ebe","TopicArn":"` + katTopic +
		`","Subject":"Order","Message":"{\"order\":42,\"note\":\"caf\u00e9 \\u2028\"}","MessageAttributes":{"k":{"Type":"String","Value":"v"}}}`)
	for _, v := range []string{"1", "2"} {
		body, err := sns.Sign(unsigned, key, katCertURL, v, katNow)
		require.NoError(t, err)
		require.NoError(t, p.Verify(post(body), body), v)
		env, err := p.Parse(post(body), body)
		require.NoError(t, err)
		assert.Equal(t, "da41e39f-ea4d-435a-b922-c6aae3915ebe", env.ID)
		assert.Equal(t, sns.TypeNotification, env.Type)
	}
	_, err = sns.Sign([]byte(`[]`), key, katCertURL, "2", katNow)
	assert.Error(t, err)
	_, err = sns.Sign(unsigned, key, katCertURL, "9", katNow)
	assert.Error(t, err)
}

// FuzzVerify feeds arbitrary bodies to Verify: it must not panic, must
// answer an error matching verify.ErrVerification for anything but the
// known-answer messages, and must never quote the body.
func FuzzVerify(f *testing.F) {
	for _, name := range []string{"notification-v1.json", "notification-v2.json", "subscription-v2.json"} {
		b := readFile(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(bytes.Replace(b, []byte(`"1"`), []byte(`"2"`), 1))
	}
	f.Add([]byte(`{"Type":"Notification","Type":"Notification"}`))
	f.Add([]byte(`{"Signature":null}`))
	fetcher := &fakeFetcher{docs: map[string][]byte{katCertURL: readFile(f, "signing.pem")}}
	p, err := sns.New(sns.WithFetcher(fetcher), sns.WithClock(func() time.Time { return katNow }))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		err := p.Verify(post(body), body)
		if err == nil {
			return
		}
		if !errors.Is(err, verify.ErrVerification) {
			t.Errorf("error does not match verify.ErrVerification: %v", err)
		}
		if len(body) >= 8 && strings.Contains(err.Error(), string(body)) {
			t.Errorf("error quotes the body: %v", err)
		}
		_, _ = p.Parse(post(body), body)
	})
}

func TestReceiverEndToEnd(t *testing.T) {
	p, _ := katProvider(t, sns.WithTopics(katTopic), sns.WithLogger(slog.New(slog.DiscardHandler)))
	var mu sync.Mutex
	var got []string
	rc, err := receiver.New(p, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		mu.Lock()
		got = append(got, e.ID+" "+e.Type)
		mu.Unlock()
		return nil
	}))
	require.NoError(t, err)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	send := func(body []byte) int {
		resp, err := srv.Client().Post(srv.URL, "text/plain; charset=UTF-8", bytes.NewReader(body))
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	body := readFile(t, "notification-v2.json")
	assert.Less(t, send(body), 300)
	assert.Less(t, send(readFile(t, "notification-v1.json")), 300, "the same MessageId again: acknowledged")
	assert.Equal(t, http.StatusUnauthorized, send(setField(t, body, "Message", "forged")))
	assert.Less(t, send(readFile(t, "subscription-v2.json")), 300, "a confirmation is acknowledged")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 1 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, rc.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324 Notification"}, got, "handled once; the confirmation reaches no handler")
}

// The known-answer certificate is issued by the test CA beside it (the
// provider itself does not check chains; see the package documentation).
func TestKnownAnswerCertificateIssuedByTestCA(t *testing.T) {
	parse := func(name string) *x509.Certificate {
		block, _ := pem.Decode(readFile(t, name))
		require.NotNil(t, block)
		c, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		return c
	}
	ca, leaf := parse("ca.pem"), parse("signing.pem")
	assert.NoError(t, leaf.CheckSignatureFrom(ca))
	assert.Equal(t, "sns.amazonaws.com", leaf.Subject.CommonName)
	assert.True(t, katNow.After(leaf.NotBefore) && katNow.Before(leaf.NotAfter))
}
