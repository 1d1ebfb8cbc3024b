package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookwise/hookwise/internal/pattern"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/hookwise/hookwise/internal/structcheck"
	"github.com/hookwise/hookwise/receiver"
)

// Upgrader converts a payload from one version to the next.
type Upgrader func(json.RawMessage) (json.RawMessage, error)

type upgrader struct {
	pat      pattern.Pattern
	from, to string
	fn       Upgrader
}

// RegisterUpgrader adds a step converting the provider's events matching
// typePattern from version from to version to. Versioned handlers chain
// steps (v1→v2→v3) to reach their target version, taking the shortest chain
// and, among steps leaving the same version, the most specific pattern
// first. It panics on an empty provider or version, an invalid pattern, a
// nil fn, or a second step for the same (provider, typePattern, from, to).
// It is safe to call concurrently with Validate and handlers.
func (r *Registry) RegisterUpgrader(provider, typePattern, from, to string, fn Upgrader) {
	pat, ok := parsePattern(typePattern)
	switch {
	case provider == "" || from == "" || to == "" || from == to:
		panic("schema: RegisterUpgrader needs a provider and two different versions")
	case !ok:
		panic("schema: RegisterUpgrader: invalid event-type pattern " + strconv.Quote(typePattern))
	case fn == nil:
		panic("schema: RegisterUpgrader: nil upgrader")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.upgraders[provider] {
		if u.pat.Raw == pat.Raw && u.from == from && u.to == to {
			panic(fmt.Sprintf("schema: RegisterUpgrader: duplicate step %s %s %s→%s", provider, typePattern, from, to))
		}
	}
	if r.upgraders == nil {
		r.upgraders = make(map[string][]upgrader)
	}
	r.upgraders[provider] = append(r.upgraders[provider], upgrader{pat, from, to, fn})
}

// upgradePath returns the steps from → to for the provider's event type, or
// ok == false.
func (r *Registry) upgradePath(provider, typ, from, to string) (steps []upgrader, ok bool) {
	if from == to {
		return nil, true
	}
	r.mu.RLock()
	var edges []upgrader
	for _, u := range r.upgraders[provider] {
		if u.pat.Rank(typ) > 0 {
			edges = append(edges, u)
		}
	}
	r.mu.RUnlock()
	// Most specific first, so BFS prefers them among equal-length chains.
	for i := 1; i < len(edges); i++ {
		for j := i; j > 0 && edges[j].pat.Rank(typ) > edges[j-1].pat.Rank(typ); j-- {
			edges[j], edges[j-1] = edges[j-1], edges[j]
		}
	}
	prev := map[string]int{from: -1} // version → index of the edge reaching it
	queue := []string{from}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for i, e := range edges {
			if e.from != v {
				continue
			}
			if _, seen := prev[e.to]; seen {
				continue
			}
			prev[e.to] = i
			if e.to == to {
				for at := to; at != from; at = edges[prev[at]].from {
					steps = append(steps, edges[prev[at]])
				}
				for a, b := 0, len(steps)-1; a < b; a, b = a+1, b-1 {
					steps[a], steps[b] = steps[b], steps[a]
				}
				return steps, true
			}
			queue = append(queue, e.to)
		}
	}
	return nil, false
}

// VersionedOption configures Versioned.
type VersionedOption func(*versionedConfig)

type versionedConfig struct {
	min, max string
}

// InRange makes a Versioned handler take only deliveries whose version v
// satisfies min <= v <= max by CompareVersions (an empty bound is open). A
// delivery outside the range, or whose version does not compare with the
// bounds (a date against "v1", or no version at all), is refused with an
// error matching ErrVersionOutOfRange and receiver.ErrNoHandler, before any
// upgrade.
func InRange(min, max string) VersionedOption {
	return func(c *versionedConfig) { c.min, c.max = min, max }
}

func (c *versionedConfig) inRange(v string) bool {
	if c.min != "" {
		if cmp, ok := CompareVersions(v, c.min); !ok || cmp < 0 {
			return false
		}
	}
	if c.max != "" {
		if cmp, ok := CompareVersions(v, c.max); !ok || cmp > 0 {
			return false
		}
	}
	return true
}

// Versioned returns a handler for the provider's events written against
// payload version target. For each event it:
//
//  1. resolves the delivery's version with the Registry's VersionResolver
//     (no version means target);
//  2. applies the registered upgraders from that version to target; no
//     chain is a permanent failure matching ErrNoUpgradePath, and an
//     upgrader's error a permanent failure matching ErrUpgrade;
//  3. validates the result against the schema for target, as Validate does;
//  4. decodes it into T with encoding/json and checks T's `validate`
//     struct tags (go-playground/validator/v10), fields named by their JSON
//     names;
//  5. calls fn with a copy of e whose Payload is the upgraded document and
//     whose Version is target.
//
// Invalid payloads (steps 3 and 4) are *ValidationError wrapped in
// receiver.Permanent: they match receiver.ErrInvalidPayload and
// receiver.ErrPermanent. fn's error is returned as is.
func Versioned[T any](reg *Registry, provider, target string, fn func(ctx context.Context, e *receiver.Event, payload T) error, opts ...VersionedOption) receiver.Handler {
	if reg == nil || fn == nil || provider == "" || target == "" {
		panic("schema: Versioned needs a registry, a provider, a target version and a function")
	}
	var cfg versionedConfig
	for _, o := range opts {
		o(&cfg)
	}
	return receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		if e.Provider != "" && e.Provider != provider {
			return receiver.Permanent(fmt.Errorf("schema: handler for %s got a %s event", provider, e.Provider))
		}
		raw := e.Payload
		if raw == nil {
			raw = e.Body
		}
		res := reg.resolverFor(provider)
		// A validation of these very bytes by this Registry earlier in the
		// attempt (ValidateContext) spares decoding them again, and
		// validating them again against the same schema.
		done := reg.carried(ctx, raw)
		var doc any
		if done != nil {
			doc = done.doc
		} else {
			var err error
			if doc, err = decodeJSON(raw); err != nil {
				return receiver.Permanent(reg.malformed(provider, e.Type, res(e, nil), err))
			}
		}
		from := res(e, doc)
		if cfg.min != "" || cfg.max != "" {
			if !cfg.inRange(from) {
				return fmt.Errorf("%w: %s %s version %q not in [%s, %s]: %w",
					ErrVersionOutOfRange, provider, e.Type, truncate(from), cfg.min, cfg.max, receiver.ErrNoHandler)
			}
		}
		if from == "" {
			from = target
		}
		if from != target {
			steps, ok := reg.upgradePath(provider, e.Type, from, target)
			if !ok {
				return receiver.Permanent(fmt.Errorf("%w: %s %s from %s to %s", ErrNoUpgradePath, provider, e.Type, truncate(from), target))
			}
			for _, s := range steps {
				out, err := s.fn(raw)
				if err != nil {
					return receiver.Permanent(fmt.Errorf("%w: %s %s from %s to %s: %w", ErrUpgrade, provider, e.Type, s.from, s.to, err))
				}
				raw = out
			}
			done = nil // what was validated is not what is handled
			var err error
			if doc, err = decodeJSON(raw); err != nil {
				return receiver.Permanent(fmt.Errorf("%w: %s %s to %s: result is not JSON: %s", ErrUpgrade, provider, e.Type, target, reg.malformed(provider, e.Type, target, err).Problems[0].Message))
			}
		}
		if done == nil || !done.covers(provider, e.Type, target) {
			if _, err := reg.validateDoc(provider, e.Type, target, doc); err != nil {
				return receiver.Permanent(err)
			}
		}
		var payload T
		if err := json.Unmarshal(raw, &payload); err != nil {
			return receiver.Permanent(reg.decodeProblem(provider, e.Type, target, err))
		}
		if err := structcheck.Check(payload); err != nil {
			ve := &ValidationError{Provider: provider, Type: e.Type, Version: target}
			var verrs validator.ValidationErrors
			if errors.As(err, &verrs) {
				for _, fe := range verrs {
					if len(ve.Problems) == maxProblems {
						break
					}
					ve.Problems = append(ve.Problems, Problem{
						Pointer: namespacePointer(fe.Namespace()),
						Keyword: fe.Tag(),
						Message: fmt.Sprintf("failed the %q rule", fe.Tag()), // never fe.Value()
					})
				}
			} else {
				ve.Problems = []Problem{{Keyword: "validate", Message: truncate(err.Error())}} // a misuse of validator: type names only
			}
			return receiver.Permanent(ve)
		}
		ev := *e
		ev.Payload = raw
		ev.Version = target
		return fn(ctx, &ev, payload)
	})
}

// namespacePointer turns a validator namespace ("Payload.data.items[0].id")
// into a JSON pointer ("/data/items/0/id"), dropping the root type's name.
func namespacePointer(ns string) string {
	_, rest, ok := strings.Cut(ns, ".")
	if !ok {
		return ""
	}
	rest = strings.NewReplacer("[", ".", "]", "").Replace(rest)
	var b strings.Builder
	for _, seg := range strings.Split(rest, ".") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(seg))
	}
	return b.String()
}

// decodeProblem reports a document that does not decode into the handler's
// type. encoding/json quotes numbers ("number 4111111111111111") and the
// UnmarshalJSON methods of field types their input (time.Time: `parsing time
// "…"`): only the JSON kind and the Go type are named, unless the Registry
// has WithValuesInErrors.
func (r *Registry) decodeProblem(provider, typ, v string, err error) *ValidationError {
	p := Problem{Keyword: "type", Message: "does not decode into the handler's type"}
	if r.values {
		p.Message = truncate(err.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			p.Pointer = truncate("/" + strings.ReplaceAll(te.Field, ".", "/"))
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 42" → "number"
		if r.values {
			got = te.Value
		}
		p.Message = truncate(fmt.Sprintf("expected %s, but got %s", te.Type, got))
	}
	return &ValidationError{Provider: provider, Type: typ, Version: v, Problems: []Problem{p}}
}
