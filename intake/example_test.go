package intake_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/hookwise/hookwise/intake"
)

// The receiver of the examples: in a program, a *receiver.Receiver.
var receiverHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "accepted")
})

// An allow-list behind a load balancer: the balancer (10.0.0.0/8) is a
// trusted proxy, so the client is read from X-Forwarded-For when, and only
// when, the request comes through it.
func ExampleAllowList() {
	resolver, err := intake.NewResolver(intake.ResolverConfig{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	list := intake.NewList(intake.NewPrefixSet(netip.MustParsePrefix("140.82.112.0/20")))
	var refused intake.Counter
	h, err := intake.AllowList(receiverHandler, intake.AllowListConfig{
		List: list, Resolver: resolver, OnRefuse: refused.Observe,
	})
	if err != nil {
		panic(err)
	}

	try := func(remote, forwardedFor string) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/github", nil)
		r.RemoteAddr = remote
		if forwardedFor != "" {
			r.Header.Set("X-Forwarded-For", forwardedFor)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(remote, forwardedFor, "->", w.Code)
	}
	try("10.0.0.5:443", "140.82.115.1")    // through the balancer, from GitHub
	try("10.0.0.5:443", "203.0.113.9")     // through the balancer, from elsewhere
	try("203.0.113.9:443", "140.82.115.1") // direct, with a forged header
	fmt.Println("refused:", refused.Count(intake.ReasonNotAllowed))
	// Output:
	// 10.0.0.5:443 140.82.115.1 -> 200
	// 10.0.0.5:443 203.0.113.9 -> 403
	// 203.0.113.9:443 140.82.115.1 -> 403
	// refused: 2
}

// A rate limit of 1 request a second with bursts of 2, answering 429 with
// Retry-After when the bucket is empty. The clock is fixed for the example.
func ExampleRateLimit() {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	h, err := intake.RateLimit(receiverHandler, intake.RateLimitConfig{
		Rate: 1, Burst: 2, Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil))
		fmt.Printf("%d Retry-After=%q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 200 Retry-After=""
	// 429 Retry-After="1"
}

// Resolver.ClientIP walks X-Forwarded-For from the right past trusted hops.
func ExampleResolver_ClientIP() {
	resolver, err := intake.NewResolver(intake.ResolverConfig{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "10.0.0.5:443"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 140.82.115.1, 10.0.0.9")
	ip, err := resolver.ClientIP(r)
	fmt.Println(ip, err)
	// Output: 140.82.115.1 <nil>
}

// A Refresher keeps an allow-list current from Stripe's published list; a
// failed load keeps the last good one. Here a local server stands in for
// stripe.com.
func ExampleRefresher() {
	stripe := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"WEBHOOKS":["3.18.12.63","3.130.192.231"]}`)
	}))
	defer stripe.Close()

	list := intake.NewList(nil)
	ref, err := intake.NewRefresher(intake.RefresherConfig{
		List: list,
		Load: func(ctx context.Context) ([]netip.Prefix, error) {
			// In production: intake.LoadStripeIPs(ctx, nil, intake.StripeWebhookIPsURL)
			return intake.LoadStripeIPs(ctx, stripe.Client(), stripe.URL+"/files/ips/ips_webhooks.json")
		},
		Interval: time.Hour,
	})
	if err != nil {
		panic(err)
	}
	// In production: go ref.Run(ctx)
	if err := ref.Refresh(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(list.Load().Len(), list.Load().Contains(netip.MustParseAddr("3.18.12.63")))
	// Output: 2 true
}
