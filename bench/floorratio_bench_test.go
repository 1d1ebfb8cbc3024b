package bench

import (
	"slices"
	"testing"
	"time"
)

// floorRatioBlock is how many calls of one implementation are timed in a
// row by BenchmarkStripeFloorRatio: long enough (≥ 50 µs at 1 KiB) for the
// clock's resolution, short enough that load from other processes hits
// both implementations alike.
const floorRatioBlock = 64

// BenchmarkStripeFloorRatio measures issue 14's verification target in one
// run: Hookwise's Stripe Verify against the pooled floor
// (stripePooledFloor), on the same delivery, in alternating blocks of
// floorRatioBlock calls (hookwise then floor, then floor then hookwise), so
// that a burst of load from elsewhere on the machine falls on both. One op is
// one block of each. It reports the median time per call of each
// (hookwise-ns/call, floor-ns/call) and the ratio of the medians (x-floor,
// the target: ≤ 1.2 at 1 KiB). BenchmarkVerify has the same two as
// impl=hookwise and impl=pooled-floor, run one after the other.
func BenchmarkStripeFloorRatio(b *testing.B) {
	for _, sz := range verifySizes[:2] { // 1 KiB, 16 KiB
		b.Run("size="+sz.label, func(b *testing.B) {
			id := eventID("stripe", 1)
			d := newDelivery("stripe", id, time.Now(), jsonBody("stripe", id, sz.n))
			hw, fl := hookwiseImpl.new(d), pooledFloorImpl.new(d)
			for _, check := range []func() error{hw, fl} {
				if err := check(); err != nil {
					b.Fatal(err)
				}
			}
			block := func(check func() error) time.Duration {
				start := time.Now()
				for range floorRatioBlock {
					if err := check(); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			var hwT, flT []time.Duration
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 {
					hwT = append(hwT, block(hw))
					flT = append(flT, block(fl))
				} else {
					flT = append(flT, block(fl))
					hwT = append(hwT, block(hw))
				}
			}
			h, f := medianDuration(hwT), medianDuration(flT)
			b.ReportMetric(float64(h)/floorRatioBlock, "hookwise-ns/call")
			b.ReportMetric(float64(f)/floorRatioBlock, "floor-ns/call")
			b.ReportMetric(float64(h)/float64(f), "x-floor")
		})
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
