package schema

import (
	"context"
	"hash/maphash"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/hookwise/hookwise/receiver"
)

// validated is what ValidateContext leaves in the context: a payload that
// passed one of the Registry's schemas, and the document decoded from it.
type validated struct {
	reg     *Registry
	payload []byte // the bytes validated: compared by identity and hash, never read for content
	sum     uint64 // maphash of payload when validated
	doc     any
	schema  *jsonschema.Schema
}

type validatedKey struct{}

// payloadSeed keys the hashes that detect a payload modified in place
// between its validation and its handler.
var payloadSeed = maphash.MakeSeed()

// Counters of the expensive steps, for the tests that check what a handler
// is spared (one atomic add each against tens of microseconds of work).
var decodes, schemaRuns atomic.Int64

// ValidateContext validates e exactly as Validate does and, when a schema
// covered e and its payload passed it, returns ctx carrying the decoded
// document for the handler of the same attempt: Document returns it, and a
// Versioned handler of this Registry uses it instead of decoding the payload
// again, and skips validating it again when its target version uses the
// same schema. Otherwise (an error, no schema) it returns ctx unchanged.
//
// It makes Registry a receiver.ContextValidator: a receiver validating
// after the acknowledgement (receiver.AcknowledgeInvalid) calls it just
// before the handler and runs the handler with the context returned. What
// is carried only ever
// saves work: it applies to the same payload bytes (the same slice,
// unmodified since: its hash is checked), this Registry and the same
// schema, and anything else is decoded and validated as before.
func (r *Registry) ValidateContext(ctx context.Context, e *receiver.Event) (context.Context, error) {
	v, err := r.validate(e)
	if err != nil || v == nil {
		return ctx, err
	}
	v.sum = maphash.Bytes(payloadSeed, v.payload)
	return context.WithValue(ctx, validatedKey{}, v), nil
}

// Document returns the payload of e as the Registry's validation decoded it
// (objects as map[string]any, arrays as []any, numbers as json.Number),
// when ctx comes from ValidateContext for this very payload (e.Payload, or
// e.Body when Payload is nil); ok is false otherwise, and the caller decodes
// the payload itself. The document is shared with the rest of the attempt
// (a Versioned handler reads the payload's version from it): do not modify
// it.
func Document(ctx context.Context, e *receiver.Event) (doc any, ok bool) {
	raw := e.Payload
	if raw == nil {
		raw = e.Body
	}
	v := fromContext(ctx, raw)
	if v == nil {
		return nil, false
	}
	return v.doc, true
}

// carried returns what ValidateContext validated for raw with r, or nil.
func (r *Registry) carried(ctx context.Context, raw []byte) *validated {
	if v := fromContext(ctx, raw); v != nil && v.reg == r {
		return v
	}
	return nil
}

func fromContext(ctx context.Context, raw []byte) *validated {
	v, _ := ctx.Value(validatedKey{}).(*validated)
	if v == nil || len(raw) == 0 || len(raw) != len(v.payload) || &raw[0] != &v.payload[0] {
		return nil
	}
	if maphash.Bytes(payloadSeed, raw) != v.sum {
		return nil // modified in place since it was validated
	}
	return v
}

// covers reports whether the schema that validates the provider's typ at
// version is the one v's payload passed.
func (v *validated) covers(provider, typ, version string) bool {
	_, _, s, ok := v.reg.find(provider, typ, version)
	return ok && s == v.schema
}
