package provider

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hookwise/hookwise/verify"
)

// SecretSource supplies a provider's secrets (or tokens, or public keys) at
// run time, so that the application can rotate them without a restart: a
// provider built on a source reads Secrets on every request and rebuilds
// its keyed state only when the list changed. Secrets returns the current
// secret first and, during a rotation, the others; the caller must not
// modify the slice. Implementations are safe for concurrent use and cheap
// (no I/O): a file or a secret manager is read elsewhere and its result
// stored, as Secrets does.
//
// A provider refuses a source whose list is empty or holds an empty or
// blank secret: at construction with an error matching verify.ErrNoSecret,
// and on a request (should the list become invalid later) by failing the
// verification, never by letting it pass.
type SecretSource interface {
	Secrets() []string
}

// Secrets is a SecretSource the application updates with Set. Its zero
// value holds no secret; use NewSecrets. It is safe for concurrent use.
type Secrets struct {
	list atomic.Pointer[[]string]
}

var _ SecretSource = (*Secrets)(nil)

// NewSecrets returns a source holding secrets, the current one first. It
// returns an error matching verify.ErrNoSecret when secrets is empty or one
// of them is empty or blank.
func NewSecrets(secrets ...string) (*Secrets, error) {
	s := &Secrets{}
	if err := s.Set(secrets...); err != nil {
		return nil, err
	}
	return s, nil
}

// Set replaces the secrets, the current one first (typically the new
// secret and, until the sender has switched, the old one). It returns an
// error matching verify.ErrNoSecret, and keeps the previous secrets, when
// secrets is empty or one of them is empty or blank.
func (s *Secrets) Set(secrets ...string) error {
	if err := CheckSecrets(secrets); err != nil {
		return err
	}
	list := slices.Clone(secrets)
	s.list.Store(&list)
	return nil
}

// Secrets returns the current secrets. The slice is shared: do not modify
// it.
func (s *Secrets) Secrets() []string {
	if p := s.list.Load(); p != nil {
		return *p
	}
	return nil
}

// CheckSecrets returns an error matching verify.ErrNoSecret when secrets is
// empty or one of them is empty or only white space. The error names the
// position of the bad secret, never its value.
func CheckSecrets(secrets []string) error {
	if len(secrets) == 0 {
		return verify.ErrNoSecret
	}
	for i, s := range secrets {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("secret %d of %d is empty: %w", i+1, len(secrets), verify.ErrNoSecret)
		}
	}
	return nil
}
