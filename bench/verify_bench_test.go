package bench

import (
	"testing"
	"time"
)

// BenchmarkVerify compares, per provider and body size, Hookwise's Verify
// with the crypto/hmac floor and the providers' SDKs. Names are
// provider=…/impl=…/size=…, so `benchstat -col /impl` puts the
// implementations side by side.
func BenchmarkVerify(b *testing.B) {
	for _, provider := range providerNames {
		b.Run("provider="+provider, func(b *testing.B) {
			for _, im := range impls[provider] {
				b.Run("impl="+im.name, func(b *testing.B) {
					for _, sz := range verifySizes {
						b.Run("size="+sz.label, func(b *testing.B) {
							id := eventID(provider, 1)
							d := newDelivery(provider, id, time.Now(), jsonBody(provider, id, sz.n))
							check := im.new(d)
							if err := check(); err != nil {
								b.Fatalf("%s rejects the delivery: %v", im.name, err)
							}
							b.SetBytes(int64(sz.n))
							b.ReportAllocs()
							for b.Loop() {
								if err := check(); err != nil {
									b.Fatal(err)
								}
							}
						})
					}
				})
			}
		})
	}
}
