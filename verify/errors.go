package verify

import (
	"errors"
	"fmt"
	"time"
)

// ErrVerification is the parent of every error that means "this request is
// not authentic": errors.Is(err, ErrVerification) holds for ErrMissingSignature,
// ErrMalformedSignature, ErrSignatureHeaderTooLarge, ErrSignatureMismatch,
// ErrMissingTimestamp, ErrMalformedTimestamp and ErrTimestampOutsideWindow.
// A receiver answers
// every such error with 401 and a generic body.
var ErrVerification = errors.New("verify: request not authentic")

// Sentinel errors returned by verifiers. None of them carries secret-derived
// bytes; callers match them with errors.Is.
var (
	ErrMissingSignature       = verificationError("verify: missing signature")
	ErrMalformedSignature     = verificationError("verify: malformed signature")
	ErrSignatureMismatch      = verificationError("verify: signature mismatch")
	ErrMissingTimestamp       = verificationError("verify: missing timestamp")
	ErrMalformedTimestamp     = verificationError("verify: malformed timestamp")
	ErrTimestampOutsideWindow = verificationError("verify: timestamp outside tolerance")
)

// ErrSignatureHeaderTooLarge reports a signature header longer than
// MaxSignatureHeaderBytes, with more than MaxSignatureEntries entries, or
// with more than MaxEd25519Signatures distinct Ed25519 signatures. It
// is returned before any MAC or signature is computed, and matches
// ErrVerification like the sentinels above.
var ErrSignatureHeaderTooLarge = verificationError("verify: signature header exceeds its bounds")

// ErrNoSecret is a configuration error: a verifier was built without a
// secret, or with an empty or blank one. Constructors return it; it never
// reaches the request path.
var ErrNoSecret = errors.New("verify: no usable secret configured")

type sentinel struct{ msg string }

func (e *sentinel) Error() string        { return e.msg }
func (e *sentinel) Is(target error) bool { return target == ErrVerification }

func verificationError(msg string) error { return &sentinel{msg: msg} }

// TimestampError reports a signed timestamp outside the accepted window.
// errors.Is(err, ErrTimestampOutsideWindow) and errors.Is(err, ErrVerification) hold.
type TimestampError struct {
	Timestamp time.Time     // the timestamp the request carried
	Now       time.Time     // the verifier's clock when it checked
	Tolerance time.Duration // the accepted distance in either direction
}

// Error gives the offset and the tolerance.
func (e *TimestampError) Error() string {
	return fmt.Sprintf("verify: timestamp outside tolerance: %s from now, tolerance %s",
		e.Timestamp.Sub(e.Now).Round(time.Second), e.Tolerance)
}

// Is reports whether target is ErrTimestampOutsideWindow or ErrVerification.
func (e *TimestampError) Is(target error) bool {
	return target == ErrTimestampOutsideWindow || target == ErrVerification
}
