package kit_test

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/providers/internal/kit"
)

// A provider declared, configured, and a delivery signed, verified and
// parsed.
func ExampleScheme() {
	scheme := &kit.Scheme{
		Name:      "acme",
		Algorithm: kit.HMACSHA256,
		Signature: kit.Signature{Header: "Acme-Signature", Prefix: "v1=", Sep: ","},
		Timestamp: &kit.Timestamp{Field: "t=", Tolerance: 5 * time.Minute},
		Message:   []kit.Piece{kit.Time, kit.Lit("."), kit.Body},
		Envelope: kit.Envelope{
			ID:   kit.Field{JSON: []string{"id"}, Required: true},
			Type: kit.Field{JSON: []string{"type"}, Required: true},
		},
	}
	signedAt := time.Unix(1735689600, 0)
	body := []byte(`{"id":"evt_1","type":"order.paid"}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks", bytes.NewReader(body))
	if err := scheme.Sign(r, body, "s3cret", signedAt); err != nil {
		panic(err)
	}
	fmt.Println(r.Header.Get("Acme-Signature"))

	p, err := scheme.New(kit.Apply("s3cret", []func(*kit.Options){
		kit.WithClock(func() time.Time { return signedAt.Add(time.Minute) }),
	}))
	if err != nil {
		panic(err)
	}
	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)
	fmt.Println("tampered:", p.Verify(r, append(body, ' ')))
	// Output:
	// t=1735689600,v1=d615c0fc727c6a079d6e897af7f489dc31658b09df8c1540b1f78da1f0b0583d
	// verify: <nil>
	// evt_1 order.paid <nil>
	// tampered: acme: verify: signature mismatch
}
