package kit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// keys is the keyed state built from one list of secrets: an HMAC (whose
// hash states are pooled per secret), Ed25519 public keys, or the SHA-256
// digests of the tokens. It is immutable.
type keys struct {
	secrets []string // the list it was built from (a copy)
	mac     *verify.HMAC
	ed      *verify.Ed25519
	ec      []*ecdsa.PublicKey
	digests [][sha256.Size]byte
}

// keys builds the keyed state for secrets, which provider.CheckSecrets
// accepts. Its errors match verify.ErrNoSecret and never quote a secret.
func (s *Scheme) keys(secrets []string) (*keys, error) {
	k := &keys{secrets: slices.Clone(secrets)}
	switch {
	case s.Algorithm.hash() != nil:
		raw := make([][]byte, len(secrets))
		for i, secret := range secrets {
			b, err := s.key(secret)
			if err != nil {
				return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
			}
			raw[i] = b
		}
		mac, err := verify.NewHMAC(s.Algorithm.hash(), raw...)
		if err != nil {
			return nil, err
		}
		k.mac = mac
	case s.Algorithm == Ed25519:
		pubs := make([]ed25519.PublicKey, len(secrets))
		for i, secret := range secrets {
			b, err := s.key(secret)
			if err != nil || len(b) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("public key %d of %d is not an Ed25519 public key: %w", i+1, len(secrets), verify.ErrNoSecret)
			}
			pubs[i] = b
		}
		ed, err := verify.NewEd25519(pubs...)
		if err != nil {
			return nil, err
		}
		k.ed = ed
	case s.Algorithm == ECDSAP256SHA256:
		for i, secret := range secrets {
			pub, err := s.ecdsaPublicKey(secret)
			if err != nil {
				return nil, fmt.Errorf("public key %d of %d is not an ECDSA P-256 public key: %w", i+1, len(secrets), verify.ErrNoSecret)
			}
			k.ec = append(k.ec, pub)
		}
	default: // Token, Basic
		for i, secret := range secrets {
			if s.Algorithm == Basic {
				if user, _, ok := strings.Cut(secret, ":"); !ok || user == "" {
					return nil, fmt.Errorf("secret %d of %d is not user:password: %w", i+1, len(secrets), verify.ErrNoSecret)
				}
			}
			k.digests = append(k.digests, sha256.Sum256([]byte(secret)))
		}
	}
	return k, nil
}

// key decodes a secret with s.Key, raw bytes when it is nil.
func (s *Scheme) key(secret string) ([]byte, error) {
	if s.Key == nil {
		return []byte(secret), nil
	}
	b, err := s.Key(secret)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("the secret does not decode: %w", verify.ErrNoSecret)
	}
	return b, nil
}

// keyring holds a provider's keyed state: built once from static secrets,
// or from a provider.SecretSource, rebuilt only when the source's list
// changes.
type keyring struct {
	s      *Scheme
	static *keys
	src    provider.SecretSource
	cur    atomic.Pointer[keys]
	mu     sync.Mutex    // serialises rebuilds
	builds atomic.Uint64 // keyed states built from the source, for tests
}

func newKeyring(s *Scheme, o Options) (*keyring, error) {
	kr := &keyring{s: s, src: o.Source}
	if o.Source != nil {
		if _, err := kr.get(); err != nil {
			return nil, fmt.Errorf("%s: secret source: %w", s.Name, err)
		}
		return kr, nil
	}
	if err := provider.CheckSecrets(o.Secrets); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	k, err := s.keys(o.Secrets)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	kr.static = k
	return kr, nil
}

// get returns the keyed state for the current secrets. With a source, it
// reads the source's list and compares it with the one the cached state was
// built from (the application's secrets, not the request's input, so the
// comparison need not be constant-time); it builds a new state only when
// they differ. An invalid list fails closed: get returns an error matching
// verify.ErrNoSecret, and the caller rejects the request.
func (kr *keyring) get() (*keys, error) {
	if kr.static != nil {
		return kr.static, nil
	}
	secrets := kr.src.Secrets()
	if k := kr.cur.Load(); k != nil && slices.Equal(k.secrets, secrets) {
		return k, nil
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if k := kr.cur.Load(); k != nil && slices.Equal(k.secrets, secrets) {
		return k, nil
	}
	if err := provider.CheckSecrets(secrets); err != nil {
		return nil, err
	}
	k, err := kr.s.keys(secrets)
	if err != nil {
		return nil, err
	}
	kr.builds.Add(1)
	kr.cur.Store(k)
	return k, nil
}
