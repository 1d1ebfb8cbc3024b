// Package bench holds Hookwise's benchmarks: signature verification against
// the plain crypto/hmac floor and the providers' own SDKs, the whole
// in-memory receiver against a bare net/http handler, and how the pipeline,
// the Mux, the schema registry and the in-memory dedupe store scale.
//
// It is a separate module so that the SDKs it compares against (stripe-go,
// go-github, slack-go, svix, standard-webhooks, go-playground/webhooks)
// never enter the library's go.mod. Everything is in _test.go files; the
// package exports nothing. Benchmark names are Family/provider=…/impl=…/size=…
// so that benchstat compares implementations side by side:
//
//	cd bench
//	go test -run='^$' -bench=. -benchmem -count=6 . | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt
//
// docs/benchmarks.md has the results, the exact commands that produced them
// (one binary, six interleaved runs) and how to read them; results/ keeps
// the raw output of that run.
//
// For Stripe, BenchmarkVerify also runs impl=pooled-floor, the cheapest
// correct Stripe check (a pooled keyed HMAC state, the header's t= and v1=,
// the timestamp window, no allocation), and BenchmarkStripeFloorRatio
// compares Hookwise's Verify with it in alternating blocks, reporting the
// ratio of the medians (issue 14's target: at most 1.2 at 1 KiB).
//
// TestInputsValid (part of the normal test run) checks that every
// implementation accepts the delivery it is benchmarked on, so every
// benchmark measures the success path.
package bench
