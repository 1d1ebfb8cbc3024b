package bench

import (
	"testing"
	"time"
)

// TestInputsValid checks that every implementation BenchmarkVerify runs
// accepts the delivery it is benchmarked on, and rejects it once the body is
// tampered with, so the benchmarks measure the success path of a real
// check.
func TestInputsValid(t *testing.T) {
	for _, provider := range providerNames {
		for _, im := range impls[provider] {
			for _, sz := range verifySizes {
				t.Run(provider+"/"+im.name+"/"+sz.label, func(t *testing.T) {
					id := eventID(provider, 7)
					body := jsonBody(provider, id, sz.n)
					if len(body) != sz.n {
						t.Fatalf("body is %d bytes, want %d", len(body), sz.n)
					}
					d := newDelivery(provider, id, time.Now(), body)
					if err := im.new(d)(); err != nil {
						t.Fatalf("%s rejects the benchmark delivery: %v", im.name, err)
					}
					bad := d
					bad.body = append([]byte(nil), body...)
					bad.body[len(bad.body)/2] ^= 1
					if err := im.new(bad)(); err == nil {
						t.Fatalf("%s accepts a tampered body", im.name)
					}
				})
			}
		}
	}
}
