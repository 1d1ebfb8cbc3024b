package dedupe_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
)

// FuzzMemory runs random operations on a Memory store, and on a plain map as
// the model of the contract, and compares what they report. Keys are the
// input bytes themselves (untrusted event IDs), so odd strings are covered
// too. Every second byte picks an operation, a key among a few and a clock
// step.
func FuzzMemory(f *testing.F) {
	f.Add([]byte("\x00a\x01a\x02a\x00a"))
	f.Add([]byte("\x00a\x10b\x30\x00\x00a\xff\xff\x03c"))
	f.Add([]byte{0x00, 0, 0x21, 1, 0x42, 2, 0x63, 3, 0xf0, 0, 0x00, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		clock := dedupetest.NewClock()
		m := dedupe.NewMemory(dedupe.WithMemoryClock(clock.Now), dedupe.WithMemoryMaxEntries(1<<20))
		defer m.Close()
		ctx := context.Background()
		type entry struct {
			done bool
			exp  time.Time
		}
		model := map[string]entry{}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i], ops[i+1]
			key := string([]byte{arg & 7, arg >> 3 & 1})
			d := time.Duration(op>>2&7+1) * time.Second
			now := clock.Now()
			switch op & 3 {
			case 0:
				got, err := m.Claim(ctx, key, d)
				if err != nil {
					t.Fatal(err)
				}
				e, ok := model[key]
				want := !ok || !now.Before(e.exp)
				if got != want {
					t.Fatalf("op %d: Claim(%q) = %v, want %v", i/2, key, got, want)
				}
				if want {
					model[key] = entry{exp: now.Add(d)}
				}
			case 1:
				if err := m.Complete(ctx, key, d); err != nil {
					t.Fatal(err)
				}
				model[key] = entry{done: true, exp: now.Add(d)}
			case 2:
				if err := m.Release(ctx, key); err != nil {
					t.Fatal(err)
				}
				delete(model, key)
			case 3:
				clock.Advance(time.Duration(arg) * 100 * time.Millisecond)
			}
			live := 0
			for _, e := range model {
				if clock.Now().Before(e.exp) {
					live++
				}
			}
			if n := m.Len(); n < live || n > len(model) {
				t.Fatalf("op %d: Len = %d, want between %d live and %d held", i/2, n, live, len(model))
			}
		}
	})
}
