package paypal_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/paypal"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

const ipnMessage = "mc_gross=19.95&protection_eligibility=Eligible&address_status=confirmed&payer_id=LPLWNMTBWMFAY" +
	"&payment_date=20%3A12%3A59+Jan+13%2C+2009+PST&payment_status=Completed&charset=windows-1252" +
	"&first_name=Test&mc_fee=0.88&notify_version=2.6&custom=&payer_status=verified&business=seller%40paypalsandbox.com" +
	"&quantity=1&payer_email=buyer%40paypalsandbox.com&txn_id=61E67681CH3238416&payment_type=instant" +
	"&last_name=User&receiver_email=seller%40paypalsandbox.com&payment_fee=0.88&receiver_id=S8XGHLYDW9T3S" +
	"&txn_type=express_checkout&item_name=&mc_currency=USD&item_number=&residence_country=US" +
	"&handling_amount=0.00&transaction_subject=&payment_gross=19.95&shipping=0.00&ipn_track_id=545ad31b8a6b1"

// ipnServer stands in for PayPal's post-back endpoint on loopback: it
// records what it gets and answers answer with status.
type ipnServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	status int
	answer string
	delay  time.Duration
	// release, closed when the test ends, lets held handlers return.
	release chan struct{}
	calls   atomic.Int64
}

func newIPNServer(t *testing.T, status int, answer string) *ipnServer {
	s := &ipnServer{status: status, answer: answer}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, r.Method+" "+r.Header.Get("Content-Type")+" "+string(b))
		s.mu.Unlock()
		if s.delay > 0 {
			// Held until the delay or the end of the test, never cut short
			// by the request's context (which raced the client under load).
			select {
			case <-s.release:
				return
			case <-time.After(s.delay):
			}
		}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/cgi-bin/webscr", http.StatusFound)
			return
		}
		s.mu.Lock()
		status, answer := s.status, s.answer
		s.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	s.release = make(chan struct{})
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.release) }) // runs first: held handlers return, then Close
	return s
}

func (s *ipnServer) provider(t *testing.T, opts ...paypal.IPNOption) *paypal.IPN {
	p, err := paypal.NewIPN(append([]paypal.IPNOption{paypal.WithIPNEndpoint(s.URL + "/cgi-bin/webscr"), paypal.WithIPNClient(s.Client())}, opts...)...)
	require.NoError(t, err)
	return p
}

func ipnRequest(t *testing.T, body string) (*http.Request, []byte) {
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, strings.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r, []byte(body)
}

func TestIPNVerified(t *testing.T) {
	s := newIPNServer(t, http.StatusOK, "VERIFIED")
	p := s.provider(t)
	r, body := ipnRequest(t, ipnMessage)
	require.NoError(t, p.Verify(r, body))
	require.Len(t, s.bodies, 1)
	assert.Equal(t, "POST application/x-www-form-urlencoded cmd=_notify-validate&"+ipnMessage, s.bodies[0],
		"the raw message posted back, in its order and encoding, after cmd=_notify-validate")

	env, err := p.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, provider.Envelope{ID: "545ad31b8a6b1", Type: "express_checkout", Version: "2.6"}, env)
	payload, err := p.Payload(r.Header, body)
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(payload, &m))
	assert.Equal(t, "61E67681CH3238416", m["txn_id"])
	assert.Equal(t, "buyer@paypalsandbox.com", m["payer_email"])
	assert.Equal(t, paypal.IPNName, p.Name())
}

func TestIPNRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		answer string
	}{
		{"INVALID", http.StatusOK, "INVALID"},
		{"VERIFIED with a newline", http.StatusOK, "VERIFIED\n"},
		{"lower case", http.StatusOK, "verified"},
		{"VERIFIED and more", http.StatusOK, "VERIFIEDVERIFIED"},
		{"empty", http.StatusOK, ""},
		{"HTML", http.StatusOK, "<html>VERIFIED</html>"},
		{"VERIFIED with status 500", http.StatusInternalServerError, "VERIFIED"},
		{"VERIFIED with status 201", http.StatusCreated, "VERIFIED"},
		{"long answer", http.StatusOK, "VERIFIED" + strings.Repeat(" ", 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newIPNServer(t, tc.status, tc.answer)
			r, body := ipnRequest(t, ipnMessage)
			err := s.provider(t).Verify(r, body)
			assert.ErrorIs(t, err, verify.ErrVerification)
			assert.NotContains(t, err.Error(), "61E67681CH3238416", "the error quotes the message")
		})
	}
}

func TestIPNNoPostBackForMalformed(t *testing.T) {
	s := newIPNServer(t, http.StatusOK, "VERIFIED")
	p := s.provider(t)
	for _, b := range []string{"", "a=%zz", "a=1;b=2"} {
		r, body := ipnRequest(t, b)
		assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification, "%q", b)
	}
	assert.Zero(t, s.calls.Load())
}

func TestIPNRedirectNotFollowed(t *testing.T) {
	s := newIPNServer(t, http.StatusOK, "VERIFIED")
	p, err := paypal.NewIPN(paypal.WithIPNEndpoint(s.URL+"/redirect"), paypal.WithIPNClient(s.Client()))
	require.NoError(t, err)
	r, body := ipnRequest(t, ipnMessage)
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)
	assert.EqualValues(t, 1, s.calls.Load(), "the redirect was followed")
}

func TestIPNTimeouts(t *testing.T) {
	s := newIPNServer(t, http.StatusOK, "VERIFIED")
	s.delay = 5 * time.Second
	p := s.provider(t, paypal.WithIPNTimeout(100*time.Millisecond))
	r, body := ipnRequest(t, ipnMessage)
	start := time.Now()
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)
	assert.Less(t, time.Since(start), 3*time.Second, "the timeout bounds the post-back")

	// The request's context bounds it too.
	p = s.provider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	assert.ErrorIs(t, p.Verify(r.WithContext(ctx), body), verify.ErrVerification)
	assert.Less(t, time.Since(start), 3*time.Second)

	// A closed endpoint fails.
	s2 := newIPNServer(t, http.StatusOK, "VERIFIED")
	p = s2.provider(t)
	s2.Close()
	assert.ErrorIs(t, p.Verify(r, body), verify.ErrVerification)
}

func TestNewIPN(t *testing.T) {
	_, err := paypal.NewIPN()
	assert.NoError(t, err)
	_, err = paypal.NewIPN(paypal.WithIPNSandbox())
	assert.NoError(t, err)
	for _, u := range []string{"http://ipnpb.paypal.com/cgi-bin/webscr", "ipnpb.paypal.com", "", "https://u:p@ipnpb.paypal.com/"} {
		_, err = paypal.NewIPN(paypal.WithIPNEndpoint(u))
		assert.Error(t, err, u)
	}
}

func TestIPNParse(t *testing.T) {
	p, err := paypal.NewIPN()
	require.NoError(t, err)
	for _, tc := range []struct {
		body     string
		id, typ  string
		malforms bool
	}{
		{body: "txn_id=61E67681CH3238416&payment_status=Pending&txn_type=web_accept", id: "61E67681CH3238416/Pending", typ: "web_accept"},
		{body: "txn_id=61E67681CH3238416&payment_status=Completed&txn_type=web_accept", id: "61E67681CH3238416/Completed", typ: "web_accept"},
		{body: "txn_id=9XM0DSB1Z2R9&parent_txn_id=61E67681CH3238416&payment_status=Refunded&ipn_track_id=a1b2", id: "a1b2", typ: "ipn"},
		{body: "case_id=PP-D-1234&case_type=chargeback&ipn_track_id=c3d4&txn_id=1", id: "c3d4", typ: "chargeback"},
		{body: "txn_type=recurring_payment&recurring_payment_id=I-1", malforms: true},
		{body: "txn_id=1&txn_id=2&txn_type=web_accept", malforms: true},
		{body: "ipn_track_id=%20&txn_type=x", malforms: true},
		{body: "a=%zz", malforms: true},
	} {
		env, err := p.Parse(nil, []byte(tc.body))
		if tc.malforms {
			assert.ErrorIs(t, err, provider.ErrMalformedEnvelope, tc.body)
			continue
		}
		require.NoError(t, err, tc.body)
		assert.Equal(t, tc.id, env.ID, tc.body)
		assert.Equal(t, tc.typ, env.Type, tc.body)
	}
}

// An IPN goes end to end through a receiver: handled once, its resend a
// duplicate, an INVALID one answered 401.
func TestIPNReceiver(t *testing.T) {
	s := newIPNServer(t, http.StatusOK, "VERIFIED")
	p := s.provider(t)
	var mu sync.Mutex
	var got []receiver.Event
	rc, err := receiver.New(p, receiver.HandlerFunc(func(_ context.Context, ev *receiver.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, *ev)
		return nil
	}))
	require.NoError(t, err)
	post := func() int {
		r, _ := ipnRequest(t, ipnMessage)
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, 2, post()/100)
	assert.Equal(t, 2, post()/100)
	s.mu.Lock()
	s.answer = "INVALID"
	s.mu.Unlock()
	assert.Equal(t, http.StatusUnauthorized, post())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, rc.Shutdown(ctx))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	assert.Equal(t, "545ad31b8a6b1", got[0].ID)
	assert.Equal(t, "express_checkout", got[0].Type)
}

func FuzzIPNParse(f *testing.F) {
	f.Add(ipnMessage)
	for _, s := range []string{"", "&", "=", "txn_id=", "txn_id=1&txn_id=1", "ipn_track_id=%ff", "a=%zz", "txn_id=\x00"} {
		f.Add(s)
	}
	p, err := paypal.NewIPN()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		env, err := p.Parse(nil, []byte(body))
		if err != nil {
			if !assert.ErrorIs(t, err, provider.ErrMalformedEnvelope) {
				return
			}
			if len(body) >= 16 {
				assert.NotContains(t, err.Error(), body)
			}
			return
		}
		assert.NotEmpty(t, strings.TrimSpace(env.ID))
		assert.NotEmpty(t, env.Type)
		_, perr := p.Payload(nil, []byte(body))
		assert.NoError(t, perr)
	})
}
