package provider_test

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hookwise/hookwise/provider"
)

// MetaChallenge answers Meta's subscription check: a GET with
// hub.mode=subscribe, the verify token the app configured and a challenge
// to echo. It is the handshake half of a provider; embed it in one.
type MetaChallenge struct{ VerifyToken string }

var _ provider.Handshaker = MetaChallenge{}

// Handshake echoes hub.challenge when the verify token matches, answers 403
// when it does not, and returns nil for every other request.
func (m MetaChallenge) Handshake(r *http.Request, _ []byte) *provider.Reply {
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("hub.mode") != "subscribe" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(m.VerifyToken)) != 1 {
		return &provider.Reply{Status: http.StatusForbidden}
	}
	return &provider.Reply{ContentType: "text/plain", Body: []byte(q.Get("hub.challenge"))}
}

func ExampleHandshaker() {
	h := MetaChallenge{VerifyToken: "my-token"}
	for _, token := range []string{"my-token", "guess"} {
		r := httptest.NewRequest(http.MethodGet, "/hook?hub.mode=subscribe&hub.verify_token="+token+"&hub.challenge=1158201444", nil)
		w := httptest.NewRecorder()
		h.Handshake(r, nil).ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 1158201444
	// 403
}
