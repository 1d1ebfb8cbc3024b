package kit

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookwise/hookwise/provider"
)

// Options are the settings every provider shares. A provider package
// declares its own option type over them,
//
//	type Option func(*kit.Options)
//
// so that its options are documented in the package and an option of
// another provider does not compile, and writes each option in one line
// with the helpers below (WithSecrets, WithClock, …). A provider with
// settings of its own embeds Options in its own struct instead.
type Options struct {
	// Secrets are the secrets (tokens, "user:password" pairs, public keys:
	// whatever the scheme's Algorithm takes), the current one first, more
	// during a rotation. Each must be non-blank.
	Secrets []string
	// Source, when not nil, supplies the secrets at run time instead of
	// Secrets, which must then be empty.
	Source provider.SecretSource
	// Now is the clock timestamps are checked against; nil means time.Now.
	Now func() time.Time
	// Tolerance is the accepted distance of a signed timestamp from Now, in
	// both directions; zero or less means the scheme's default.
	Tolerance time.Duration
	// URL is the public URL the sender posts to, for schemes that sign it
	// (the URL piece); "" means the URL the request arrived at.
	URL string
}

// Apply returns the options of a provider built with secret and opts: the
// body of a provider's New.
func Apply[O ~func(*Options)](secret string, opts []O) Options {
	o := Options{Secrets: []string{secret}}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// ApplySource returns the options of a provider whose secrets come from src:
// the body of a provider's NewFromSource.
func ApplySource[O ~func(*Options)](src provider.SecretSource, opts []O) Options {
	o := Options{Source: src}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithSecrets adds secrets accepted besides the first, for a rotation.
func WithSecrets(more ...string) func(*Options) {
	return func(o *Options) { o.Secrets = append(o.Secrets, more...) }
}

// WithClock sets the clock; nil keeps time.Now.
func WithClock(now func() time.Time) func(*Options) {
	return func(o *Options) { o.Now = now }
}

// WithTolerance sets the timestamp window; zero or less keeps the default.
func WithTolerance(d time.Duration) func(*Options) {
	return func(o *Options) { o.Tolerance = d }
}

// WithURL sets the public URL the sender posts to.
func WithURL(url string) func(*Options) {
	return func(o *Options) { o.URL = url }
}

// errSecretsAndSource reports options that give both static secrets and a
// source.
var errSecretsAndSource = errors.New("secrets given with a secret source")

// check validates o for s, except the secrets (newKeyring checks them),
// and returns it with its defaults set. Its errors are prefixed with the
// provider's name.
func (o Options) check(s *Scheme) (Options, error) {
	if o.Source != nil && len(o.Secrets) > 0 {
		return o, fmt.Errorf("%s: %w", s.Name, errSecretsAndSource)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case s.Timestamp == nil, s.Timestamp.Unchecked && o.Tolerance <= 0:
		o.Tolerance = 0 // no window
	case o.Tolerance <= 0:
		o.Tolerance = s.Timestamp.Tolerance
	}
	return o, nil
}
