package stripe_test

import (
	"fmt"
	"io"
	"time"

	"github.com/hookwise/hookwise/providers/stripe"
)

func Example() {
	const secret = "whsec_test_secret"
	signedAt := time.Unix(1735689600, 0)
	body := []byte(`{"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"}`)

	r := stripe.NewRequest("https://example.com/webhooks/stripe", secret, signedAt, body)
	fmt.Println(r.Header.Get("Stripe-Signature"))

	// The clock is fixed for the example; leave WithClock out in production.
	p, err := stripe.New(secret, stripe.WithClock(func() time.Time { return signedAt.Add(10 * time.Second) }))
	if err != nil {
		panic(err)
	}
	raw, _ := io.ReadAll(r.Body)
	fmt.Println("verify:", p.Verify(r, raw))
	env, _ := p.Parse(r, raw)
	fmt.Println(env.ID, env.Type)

	// Ten minutes later the same delivery is a replay.
	late, _ := stripe.New(secret, stripe.WithClock(func() time.Time { return signedAt.Add(10 * time.Minute) }))
	fmt.Println("late:", late.Verify(r, raw))
	// Output:
	// t=1735689600,v1=6a6f919519e16f73844188f715bc89dbd75c0e67e53a5f47099bb480811a06e2
	// verify: <nil>
	// evt_test_webhook payment_intent.succeeded
	// late: stripe: verify: timestamp outside tolerance: -10m0s from now, tolerance 5m0s
}
