package bench

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hwstripe "github.com/hookwise/hookwise/providers/stripe"
)

// TestStripePooledFloorRejects checks that the pooled floor is a correct
// Stripe check, not merely a fast one: it accepts what Hookwise accepts on
// these cases and rejects what Hookwise rejects (a forged or extra-long
// signature, a second t, a timestamp out of the window, too many elements,
// an oversized header), so that the verification target compares Hookwise
// with a check doing the same work.
func TestStripePooledFloorRejects(t *testing.T) {
	now := time.Now()
	body := jsonBody("stripe", eventID("stripe", 3), 1<<10)
	ts := strconv.FormatInt(now.Unix(), 10)
	valid := hwstripe.Sign(stripeSecret, now, body)
	_, v1, ok := strings.Cut(valid, ",v1=")
	require.True(t, ok)
	forged := strings.Repeat("ab", 32)
	old := hwstripe.Sign(stripeSecret, now.Add(-hwstripe.DefaultTolerance-time.Minute), body)
	future := hwstripe.Sign(stripeSecret, now.Add(hwstripe.DefaultTolerance+time.Minute), body)

	f := newStripePooledFloor(stripeSecret)
	hw := newProvider("stripe")
	for _, c := range []struct {
		name   string
		header string
		accept bool
	}{
		{"valid", valid, true},
		{"valid after a forged v1", "t=" + ts + ",v1=" + forged + ",v1=" + v1, true},
		{"valid with a v0", valid + ",v0=" + forged, true},
		{"forged", "t=" + ts + ",v1=" + forged, false},
		{"no t", "v1=" + v1, false},
		{"no v1", "t=" + ts, false},
		{"two t", "t=" + ts + ",t=" + ts + ",v1=" + v1, false},
		{"t not digits", "t=+" + ts + ",v1=" + v1, false},
		{"too old", old, false},
		{"from the future", future, false},
		{"v1 too long", "t=" + ts + ",v1=" + v1 + "00", false},
		{"17 elements", valid + strings.Repeat(",v0=00", 15), false},
		{"16 elements", valid + strings.Repeat(",v0=00", 14), true},
		{"empty", "", false},
		{"oversized", valid + ",x=" + strings.Repeat("a", 4<<10), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "/", nil)
			require.NoError(t, err)
			r.Header.Set(hwstripe.HeaderSignature, c.header)
			floorErr := f.verify(r, body)
			hwErr := hw.Verify(r, body)
			if c.accept {
				assert.NoError(t, floorErr)
				assert.NoError(t, hwErr)
			} else {
				assert.Error(t, floorErr)
				assert.Error(t, hwErr)
			}
		})
	}
}

// TestStripePooledFloorAllocs pins the floor at zero allocations, as the
// target requires of Hookwise (asserted without -race, whose sync.Pool drops
// items at random).
func TestStripePooledFloorAllocs(t *testing.T) {
	d := newDelivery("stripe", eventID("stripe", 1), time.Now(), jsonBody("stripe", eventID("stripe", 1), 1<<10))
	check := pooledFloorImpl.new(d)
	require.NoError(t, check())
	allocs := testing.AllocsPerRun(100, func() { _ = check() })
	if raceEnabled {
		t.Logf("-race build: %v allocations per check; asserted without -race", allocs)
		return
	}
	assert.Zero(t, allocs)
}
