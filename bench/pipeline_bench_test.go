package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
)

// ringSize is how many distinct deliveries a pipeline benchmark cycles
// through, and ringStoreMax the bound of its dedupe store. The store holds
// far fewer keys than the ring, so by the time a delivery comes round again
// its key has been evicted (oldest done marker first) and the delivery is
// taken as new: every iteration runs the whole success path, including a
// dedupe insert (and, the store being full, an eviction, as in a long-running
// receiver), without signing a fresh delivery inside the timed loop.
//
// The queue holds ringQueue events, so that live claims (queued plus in
// the workers' hands) never fill the store. When the benchmark loop outruns
// the workers the receiver answers 503, as it would a real sender; the loop
// then yields and sends the delivery again, so ns/op is the sustained
// throughput of the whole pipeline, workers included, and 503s/op says
// how often it pushed back. A delivery acknowledged as a duplicate (its
// first copy's worker was descheduled for a whole turn of the ring) does not
// count as an iteration; dups/op says how often that happened.
const (
	ringSize     = 512
	ringStoreMax = 256
	ringQueue    = 64
)

// maxRingBytes bounds the memory of distinct bodies; above it the ring
// shares one body (only for providers whose event ID is not in the body).
const maxRingBytes = 64 << 20

// ring returns ringSize signed deliveries of size n with distinct event IDs.
// For Standard Webhooks, whose ID is a header, the deliveries share one body
// when distinct ones would exceed maxRingBytes.
func ring(tb testing.TB, provider string, n int) []delivery {
	tb.Helper()
	now := time.Now()
	shared := ringSize*n > maxRingBytes
	if shared && provider != "standard" {
		tb.Fatalf("%s carries its ID in the body; a ring of %d bodies of %d bytes is too big", provider, ringSize, n)
	}
	var body []byte
	out := make([]delivery, ringSize)
	for i := range out {
		id := eventID(provider, i)
		if body == nil || !shared {
			body = jsonBody(provider, id, n)
		}
		out[i] = newDelivery(provider, id, now, body)
	}
	return out
}

// pipeline is a target of BenchmarkPipeline: an http.Handler and, after
// the run, a check that every delivery was handled.
type pipeline struct {
	h    http.Handler
	dups *atomic.Int64                 // duplicates acknowledged, or nil
	done func(tb testing.TB, sent int) // stops the pipeline and checks it
}

// newReceiver returns the whole in-memory pipeline for provider: a
// Receiver with its default MemoryQueue and dead-letter store, a bounded
// dedupe.Memory (see ringSize) and a Mux with one no-op handler, which
// counts the events.
func newReceiver(tb testing.TB, provider string, muxPatterns int) pipeline {
	tb.Helper()
	var handled, dups atomic.Int64
	mux := receiver.NewMux()
	mux.HandleFunc(handledType[provider], func(context.Context, *receiver.Event) error {
		handled.Add(1)
		return nil
	})
	for i := 1; i < muxPatterns; i++ {
		mux.HandleFunc("unused"+strconv.Itoa(i)+".*", func(context.Context, *receiver.Event) error { return nil })
	}
	store := dedupe.NewMemory(dedupe.WithMemoryMaxEntries(ringStoreMax))
	observer := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		if o.Stage == receiver.StageDuplicate {
			dups.Add(1)
		}
	})
	rcv, err := receiver.New(newProvider(provider), mux,
		receiver.WithStore(store), receiver.QueueCapacity(ringQueue), receiver.WithObserver(observer))
	if err != nil {
		tb.Fatal(err)
	}
	return pipeline{h: rcv, dups: &dups, done: func(tb testing.TB, sent int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rcv.Shutdown(ctx); err != nil {
			tb.Fatalf("Shutdown: %v", err)
		}
		_ = store.Close()
		if got := handled.Load(); got != int64(sent) {
			tb.Fatalf("handled %d events, sent %d: some deliveries did not take the success path", got, sent)
		}
	}}
}

// newBare returns the floor of the pipeline: a handler that reads the body
// through the same 5 MiB limit and answers 200. sized reads into a buffer of
// Content-Length bytes, as the receiver does; otherwise it uses io.ReadAll,
// as most handlers are written.
func newBare(sized bool) pipeline {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd := http.MaxBytesReader(w, r.Body, receiver.DefaultMaxBodyBytes)
		var err error
		if sized && r.ContentLength >= 0 {
			_, err = io.ReadFull(rd, make([]byte, r.ContentLength))
		} else {
			_, err = io.ReadAll(rd)
		}
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return pipeline{h: h, done: func(testing.TB, int) {}}
}

// pipelineImpls are the implementations of the pipeline benchmarks:
// Hookwise's receiver and the two bare handlers.
var pipelineImpls = []struct {
	name string
	new  func(tb testing.TB, provider string) pipeline
}{
	{"hookwise", func(tb testing.TB, provider string) pipeline { return newReceiver(tb, provider, 1) }},
	{"bare", func(testing.TB, string) pipeline { return newBare(false) }},
	{"bare-sized", func(testing.TB, string) pipeline { return newBare(true) }},
}

// servePipeline runs the deliveries of ring through p, one per iteration,
// with a fresh httptest.ResponseRecorder each time, and checks every answer
// is 200.
func servePipeline(b *testing.B, p pipeline, deliveries []delivery) {
	r, rb := deliveries[0].request()
	b.SetBytes(int64(len(deliveries[0].body)))
	b.ReportAllocs()
	var sent, next, pushbacks, duplicates int
	var lastDups int64
	for b.Loop() {
		for {
			d := &deliveries[next%len(deliveries)]
			r.Header = d.header
			r.ContentLength = int64(len(d.body))
			rb.Reset(d.body)
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, r)
			if w.Code == http.StatusOK {
				next++
				if p.dups != nil {
					if n := p.dups.Load(); n != lastDups {
						// A worker was descheduled so long that this delivery's
						// first copy still held its claim: it was acknowledged as a
						// duplicate. Count it and send the next one.
						lastDups = n
						duplicates++
						continue
					}
				}
				break
			}
			if w.Code != http.StatusServiceUnavailable || pushbacks > 100*(sent+100) {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			pushbacks++
			runtime.Gosched() // let the workers drain the queue, then send it again
		}
		sent++
	}
	b.StopTimer()
	b.ReportMetric(float64(pushbacks)/float64(sent), "503s/op")
	b.ReportMetric(float64(duplicates)/float64(sent), "dups/op")
	p.done(b, sent)
}

// BenchmarkPipeline compares, per provider, the whole in-memory receiver
// (ServeHTTP: bounded read, verify, envelope, dedupe claim, enqueue, 200;
// the queue's workers run the no-op handler and mark the event done
// concurrently) with a bare handler that only reads the body. Names are
// provider=…/impl=…/size=…, so `benchstat -col /impl` gives the ratio.
func BenchmarkPipeline(b *testing.B) {
	for _, provider := range providerNames {
		b.Run("provider="+provider, func(b *testing.B) {
			for _, im := range pipelineImpls {
				b.Run("impl="+im.name, func(b *testing.B) {
					for _, sz := range pipelineSizes {
						b.Run("size="+sz.label, func(b *testing.B) {
							servePipeline(b, im.new(b, provider), ring(b, provider, sz.n))
						})
					}
				})
			}
		})
	}
}

// BenchmarkPipelineSize is the scaling of the pipeline with the body size,
// from 1 KiB to 1 MiB, on Standard Webhooks deliveries (whose event ID is a
// header, so the ring of distinct deliveries shares one body at large sizes;
// GitHub's is the hash of the body).
func BenchmarkPipelineSize(b *testing.B) {
	for _, im := range pipelineImpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			for _, sz := range scalingSizes {
				b.Run("size="+sz.label, func(b *testing.B) {
					servePipeline(b, im.new(b, "standard"), ring(b, "standard", sz.n))
				})
			}
		})
	}
}
