package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/schema"
)

// BenchmarkMux measures the dispatch of an event by a Mux holding
// handlers=N exact patterns (plus "*"): to an exact pattern, to a family
// pattern one action away ("ns7.created" takes "ns7.created.v2"), and to
// "*" when no pattern takes the type (two levels of fallback).
func BenchmarkMux(b *testing.B) {
	noop := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	for _, n := range []int{1, 100, 10_000} {
		mux := receiver.NewMux()
		for i := range n {
			mux.Handle("ns"+strconv.Itoa(i)+".created", noop)
		}
		mux.Handle("*", noop)
		mid := "ns" + strconv.Itoa(n/2) + ".created"
		for _, c := range []struct{ lookup, typ, want string }{
			{"exact", mid, mid},
			{"family", mid + ".v2", mid},
			{"wildcard", "other.thing.happened", "*"},
		} {
			b.Run(fmt.Sprintf("handlers=%d/lookup=%s", n, c.lookup), func(b *testing.B) {
				if _, p := mux.Handler(c.typ); p != c.want {
					b.Fatalf("Handler(%q) took pattern %q, want %q", c.typ, p, c.want)
				}
				e := &receiver.Event{Type: c.typ}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if err := mux.HandleEvent(ctx, e); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// stripeSchema is a schema of the Stripe bodies of jsonBody, of the
// strictness of a hand-written one: required fields with their types and a
// nested object.
const stripeSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "object", "type", "created", "data"],
  "properties": {
    "id": {"type": "string", "pattern": "^evt_"},
    "object": {"const": "event"},
    "type": {"type": "string"},
    "created": {"type": "integer"},
    "livemode": {"type": "boolean"},
    "data": {
      "type": "object",
      "required": ["object"],
      "properties": {"object": {"type": "object", "required": ["id", "object"],
        "properties": {"id": {"type": "string"}, "object": {"type": "string"}, "description": {"type": "string"}}}}
    }
  }
}`

// BenchmarkSchema measures schema validation of a 1 KiB Stripe event by a
// Registry holding schemas=N schemas, one per event-type pattern
// ("invoice.paid" and N-1 others). lookup=cached is Validate, whose pattern
// lookup is cached per (provider, type); lookup=uncached is SchemaFor after
// the lookup cache was filled with 4096 other types, so that every call
// matches the type against all N patterns (the worst case, reached only by
// senders of more than 4096 distinct types).
func BenchmarkSchema(b *testing.B) {
	id := eventID("stripe", 1)
	body := jsonBody("stripe", id, 1<<10)
	for _, n := range []int{1, 100, 1000} {
		opts := []schema.Option{schema.WithSchema("stripe", "invoice.paid", schema.AnyVersion, []byte(stripeSchema))}
		for i := 1; i < n; i++ {
			opts = append(opts, schema.WithSchema("stripe", "type"+strconv.Itoa(i)+".*", schema.AnyVersion, []byte(stripeSchema)))
		}
		reg, err := schema.New(nil, append(opts, schema.Strict())...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("schemas=%d/lookup=cached", n), func(b *testing.B) {
			e := &receiver.Event{Provider: "stripe", ID: id, Type: "invoice.paid", Body: body}
			ctx := context.Background()
			if err := reg.Validate(ctx, e); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := reg.Validate(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("schemas=%d/lookup=uncached", n), func(b *testing.B) {
			for i := range 4096 {
				reg.SchemaFor("stripe", "filler"+strconv.Itoa(i), "")
			}
			if p, _, ok := reg.SchemaFor("stripe", "invoice.paid.x", ""); ok {
				b.Fatalf("invoice.paid.x is covered by %q", p)
			}
			b.ReportAllocs()
			for b.Loop() {
				reg.SchemaFor("stripe", "invoice.paid.x", "")
			}
		})
	}
}

// keyBuf formats dedupe keys shaped like a receiver's (a provider name and a
// UUID, 43 bytes) into one buffer, without allocating.
type keyBuf [43]byte

func (k *keyBuf) key(i uint64) string {
	copy(k[:], "stripe:")
	var n [8]byte
	for j := range n {
		n[j] = byte(i >> (56 - 8*j))
	}
	hex.Encode(k[7:23], n[:]) // 16 hex digits
	copy(k[23:], "-4000-8000-")
	hex.Encode(k[34:], n[4:]) // 8 hex digits, up to 43 bytes
	k[42] = 'e'
	// Memory clones a key before keeping it, so a view of the buffer is safe
	// to pass and is never retained.
	return unsafe.String(&k[0], len(k))
}

// BenchmarkDedupeMemory measures a dedupe.Memory holding entries=N done
// keys (bounded at 2N, so nothing is evicted while it is measured): the heap
// it holds per entry (HeapAlloc after GC, less before, over N), the Claim of
// a held key (a redelivery, refused), then the Claim of a new key followed by
// its Complete (the store grows by one per iteration; past 2N entries each
// insert evicts the oldest done key, still O(1)). Set
// HOOKWISE_BENCH_1E7=1 to add 10^7 entries (about 1.3 GB, and slow to fill).
func BenchmarkDedupeMemory(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if os.Getenv("HOOKWISE_BENCH_1E7") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			var kb keyBuf
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m := dedupe.NewMemory(dedupe.WithMemoryMaxEntries(2 * n))
			for i := range n {
				if err := m.Complete(ctx, kb.key(uint64(i)), "", 72*time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			bytesPerEntry := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
			if m.Len() != n {
				b.Fatalf("Len = %d, want %d", m.Len(), n)
			}
			b.Run("op=claim-held", func(b *testing.B) {
				x := uint64(0x9e3779b97f4a7c15)
				b.ReportAllocs()
				for b.Loop() {
					x ^= x << 13 // xorshift: a held key at random
					x ^= x >> 7
					x ^= x << 17
					o, err := m.Claim(ctx, kb.key(x%uint64(n)), "tok", time.Hour)
					if err != nil || o != dedupe.Duplicate {
						b.Fatalf("Claim of a held key = %v, %v", o, err)
					}
				}
				b.ReportMetric(bytesPerEntry, "bytes/entry")
			})
			next := uint64(n) // shared by the -count runs: every key is new
			b.Run("op=claim-new", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					k := kb.key(next)
					next++
					o, err := m.Claim(ctx, k, "tok", time.Hour)
					if err != nil || o != dedupe.Claimed {
						b.Fatalf("Claim = %v, %v", o, err)
					}
					if err := m.Complete(ctx, k, "tok", 72*time.Hour); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(bytesPerEntry, "bytes/entry")
			})
			runtime.KeepAlive(m)
		})
	}
}
