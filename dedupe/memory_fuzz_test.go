package dedupe_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/dedupe/dedupetest"
)

// modelEntry is a key in the reference model of the Store contract.
type modelEntry struct {
	state string // "admitted", "confirmed" or "done"
	token string
	exp   time.Time
}

// model is the Store contract written as plainly as possible: a map, with
// lapsed entries treated as absent.
type model struct {
	now     func() time.Time
	entries map[string]modelEntry
}

// live returns key's entry if it has not lapsed.
func (m *model) live(key string) (modelEntry, bool) {
	e, ok := m.entries[key]
	return e, ok && m.now().Before(e.exp)
}

func (m *model) holds(key, token string) bool {
	e, ok := m.live(key)
	return ok && e.state != "done" && e.token == token
}

func (m *model) claim(key, token string, lease time.Duration) (dedupe.Outcome, error) {
	switch {
	case token == "":
		return 0, dedupe.ErrInvalidToken
	case lease <= 0:
		return 0, dedupe.ErrInvalidDuration
	}
	e, ok := m.live(key)
	switch {
	case !ok:
		m.entries[key] = modelEntry{state: "admitted", token: token, exp: m.now().Add(lease)}
		return dedupe.Claimed, nil
	case e.state != "done" && e.token == token:
		return dedupe.Claimed, nil
	case e.state == "admitted":
		return dedupe.Pending, nil
	}
	return dedupe.Duplicate, nil
}

func (m *model) confirm(key, token string, lease time.Duration) (bool, error) {
	switch {
	case token == "":
		return false, dedupe.ErrInvalidToken
	case lease <= 0:
		return false, dedupe.ErrInvalidDuration
	case !m.holds(key, token):
		return false, nil
	}
	m.entries[key] = modelEntry{state: "confirmed", token: token, exp: m.now().Add(lease)}
	return true, nil
}

func (m *model) complete(key, token string, retention time.Duration) error {
	if retention <= 0 {
		return dedupe.ErrInvalidDuration
	}
	if _, ok := m.live(key); token == "" || !ok || m.holds(key, token) {
		m.entries[key] = modelEntry{state: "done", exp: m.now().Add(retention)}
	}
	return nil
}

func (m *model) release(key, token string) {
	if _, ok := m.live(key); token == "" || !ok || m.holds(key, token) {
		delete(m.entries, key)
	}
}

func (m *model) releaseAdmitted(key, token string) error {
	if token == "" {
		return dedupe.ErrInvalidToken
	}
	if e, ok := m.live(key); ok && e.state == "admitted" && e.token == token {
		delete(m.entries, key)
	}
	return nil
}

// checkAgainstModel runs the operations ops encodes on a Memory store and on
// the model, and fails if they ever disagree. Every second byte picks an
// operation, a duration (0 at times, to check the argument errors) and, with
// the byte after it, a key among a few and a token among three and the empty
// one. Keys are the input bytes themselves (untrusted event IDs), so odd
// strings are covered too.
func checkAgainstModel(t *testing.T, ops []byte) {
	clock := dedupetest.NewClock()
	// Room for every key the operations use (16), in a few shards.
	m := dedupe.NewMemory(dedupe.WithMemoryClock(clock.Now), dedupe.WithMemoryMaxEntries(4096))
	defer m.Close()
	ref := &model{now: clock.Now, entries: map[string]modelEntry{}}
	ctx := context.Background()
	tokens := [4]string{dedupe.NewToken(), dedupe.NewToken(), dedupe.NewToken(), ""}
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		key := string([]byte{arg & 7, arg >> 3 & 1})
		token := tokens[arg>>4&3]
		d := time.Duration(op>>3&7) * time.Second // 0 to 7s
		switch op & 7 {
		case 0, 5:
			got, err := m.Claim(ctx, key, token, d)
			want, werr := ref.claim(key, token, d)
			require.ErrorIs(t, err, werr, "op %d: Claim(%q, %d, %v)", i/2, key, arg>>4&3, d)
			require.Equal(t, want, got, "op %d: Claim(%q, %d, %v)", i/2, key, arg>>4&3, d)
		case 1, 6:
			got, err := m.Confirm(ctx, key, token, d)
			want, werr := ref.confirm(key, token, d)
			require.ErrorIs(t, err, werr, "op %d: Confirm(%q, %d, %v)", i/2, key, arg>>4&3, d)
			require.Equal(t, want, got, "op %d: Confirm(%q, %d, %v)", i/2, key, arg>>4&3, d)
		case 2:
			err := m.Complete(ctx, key, token, d)
			require.ErrorIs(t, err, ref.complete(key, token, d), "op %d: Complete(%q, %d, %v)", i/2, key, arg>>4&3, d)
		case 3:
			require.NoError(t, m.Release(ctx, key, token))
			ref.release(key, token)
		case 7:
			err := m.ReleaseAdmitted(ctx, key, token)
			require.ErrorIs(t, err, ref.releaseAdmitted(key, token), "op %d: ReleaseAdmitted(%q, %d)", i/2, key, arg>>4&3)
		case 4:
			clock.Advance(time.Duration(arg) * 50 * time.Millisecond)
		}
		live := 0
		for k := range ref.entries {
			if _, ok := ref.live(k); ok {
				live++
			}
		}
		n := m.Len()
		require.GreaterOrEqual(t, n, live, "op %d: Len below the live entries", i/2)
		require.LessOrEqual(t, n, len(ref.entries), "op %d: Len above the held entries", i/2)
	}
}

// FuzzMemory checks that a Memory store and the reference model of the Store
// contract agree on every sequence of operations.
func FuzzMemory(f *testing.F) {
	f.Add([]byte("\x08a\x08a\x08\x1a\x09a\x08\x1a"))            // claim, re-claim, other token, confirm
	f.Add([]byte("\x08a\x04\x20\x08\x1a\x0aa\x08\x1a\x0b\x30")) // lapse, reclaim, late complete
	f.Add([]byte("\x0aa\x08a\x0b\x3a\x08\x2a\x0b\x2a\x08\x1a")) // complete, release by others
	f.Add([]byte{0x00, 0, 0x21, 1, 0x42, 2, 0x63, 3, 0xf0, 0, 0x00, 0})
	f.Add([]byte("\x08a\x07a\x08\x11\x09\x11\x07\x11\x08a")) // claim, release admitted, claim by another, confirm, release kept, duplicate
	f.Fuzz(checkAgainstModel)
}

// TestMemoryMatchesModel runs random sequences of operations on a Memory
// store and on the reference model, which must agree.
func TestMemoryMatchesModel(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 8))
		ops := make([]byte, 2*400)
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		// Mostly small clock steps, so entries lapse at varied times.
		for i := 0; i < len(ops); i += 2 {
			if ops[i]&7 == 4 {
				ops[i+1] &= 0x1f
			}
		}
		checkAgainstModel(t, ops)
	}
}
