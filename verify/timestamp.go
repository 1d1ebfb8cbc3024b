package verify

import (
	"time"
)

// DefaultTolerance is the timestamp window used when a scheme does not set
// one: five minutes in either direction, as Stripe, Slack and Standard
// Webhooks document.
const DefaultTolerance = 5 * time.Minute

// ParseUnix parses a decimal Unix time in seconds as providers send it in
// headers ("1614265330"). It accepts only ASCII digits (no sign, no spaces,
// at most 12 digits) and returns ErrMissingTimestamp for an empty string and
// ErrMalformedTimestamp for anything else it cannot read.
func ParseUnix(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, ErrMissingTimestamp
	}
	if len(s) > 12 {
		return time.Time{}, ErrMalformedTimestamp
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, ErrMalformedTimestamp
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0), nil
}

// CheckTimestamp reports whether ts lies within tolerance of now, in both
// directions: a timestamp too far in the past is a replay or a stale
// delivery, one too far in the future is a forgery or a broken clock. The
// edges are inclusive. A tolerance of zero or less means DefaultTolerance.
// It returns a *TimestampError, which matches ErrTimestampOutsideWindow.
func CheckTimestamp(ts, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	d := now.Sub(ts)
	if d > tolerance || d < -tolerance {
		return &TimestampError{Timestamp: ts, Now: now, Tolerance: tolerance}
	}
	return nil
}

// CheckUnix parses raw as ParseUnix does and checks it as CheckTimestamp
// does: the usual last step of verifying a signed Unix-seconds timestamp.
func CheckUnix(raw string, now time.Time, tolerance time.Duration) error {
	t, err := ParseUnix(raw)
	if err != nil {
		return err
	}
	return CheckTimestamp(t, now, tolerance)
}
