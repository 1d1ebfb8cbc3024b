package schema

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/hookwise/hookwise/receiver"
)

// Sentinel errors of the package.
var (
	// ErrCompile matches every error New returns for a schema that cannot be
	// read or compiled.
	ErrCompile = errors.New("schema: cannot compile")
	// ErrUnknownType is the cause (errors.Is) of the ValidationError a strict
	// Registry returns for a delivery no schema covers.
	ErrUnknownType = errors.New("schema: no schema for event")
	// ErrMalformedJSON is the cause of the ValidationError for a payload that
	// is not a single JSON document.
	ErrMalformedJSON = errors.New("schema: malformed JSON")
	// ErrNoUpgradePath is returned (wrapped in receiver.Permanent) by a
	// Versioned handler when no chain of upgraders leads from a delivery's
	// version to the handler's.
	ErrNoUpgradePath = errors.New("schema: no upgrade path")
	// ErrUpgrade wraps an error an upgrader returned.
	ErrUpgrade = errors.New("schema: upgrade failed")
	// ErrVersionOutOfRange is returned by a Versioned handler given InRange
	// for a delivery outside the range; it also matches receiver.ErrNoHandler
	// so the event is acknowledged without being retried.
	ErrVersionOutOfRange = errors.New("schema: version out of range")
)

// maxProblems bounds the problems one ValidationError reports.
const maxProblems = 20

// Problem is one reason a payload is invalid.
type Problem struct {
	// Pointer is the JSON pointer (RFC 6901) of the failing value in the
	// payload; "" is the whole document.
	Pointer string `json:"pointer"`
	// Keyword is the failing JSON Schema keyword ("required", "type",
	// "format"), the failing validator tag for struct rules ("email",
	// "required"), "json" for malformed JSON, or "schema" when no schema
	// covers the event (strict mode).
	Keyword string `json:"keyword"`
	// Message describes the failure by what the schema or rule asked for
	// ("not a valid email", "missing properties: 'id'", "must be <= 100").
	// It never quotes a value of the payload unless the Registry was built
	// with WithValuesInErrors. At most 256 bytes.
	Message string `json:"message"`
}

// ValidationError reports an invalid payload. errors.Is(err,
// receiver.ErrInvalidPayload) holds for it. It marshals to JSON as
// {"provider","type","version","problems":[{"pointer","keyword","message"}]}.
type ValidationError struct {
	Provider string    `json:"provider"`
	Type     string    `json:"type"`
	Version  string    `json:"version,omitempty"`
	Problems []Problem `json:"problems"`

	cause error // ErrUnknownType, ErrMalformedJSON or nil
}

// Error returns "schema: <provider> <type> <version>: <pointer>: <keyword>:
// <message>", problems separated by "; ", e.g. "schema: standard
// user.created v1: /data/email: format: not a valid email". The whole
// document shows as "(root)". Like the Problems, it names pointers and
// keywords, never the payload's values (unless WithValuesInErrors), so it
// is safe to log and to keep as a dead-letter reason.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("schema: ")
	b.WriteString(e.Provider)
	b.WriteByte(' ')
	b.WriteString(e.Type)
	if e.Version != "" {
		b.WriteByte(' ')
		b.WriteString(e.Version)
	}
	b.WriteString(": ")
	if len(e.Problems) == 0 {
		b.WriteString("invalid payload")
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Pointer == "" {
			b.WriteString("(root)")
		} else {
			b.WriteString(p.Pointer)
		}
		b.WriteString(": ")
		b.WriteString(p.Keyword)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Is reports whether target is receiver.ErrInvalidPayload.
func (e *ValidationError) Is(target error) bool { return target == receiver.ErrInvalidPayload }

// Unwrap returns the cause: ErrUnknownType, ErrMalformedJSON or nil.
func (e *ValidationError) Unwrap() error { return e.cause }

// ProblemTypeURI is the "type" member of ProblemJSON bodies.
const ProblemTypeURI = "urn:hookwise:problem:invalid-payload"

// ProblemJSON returns an RFC 9457 problem details body (media type
// application/problem+json) for the error, with status 422 and the problems
// as the "errors" extension member:
//
//	{"type":"…","title":"Invalid payload","status":422,"detail":"…",
//	 "errors":[{"pointer":"/data/email","keyword":"format","message":"not a valid email"}]}
//
// Like Error, it quotes no payload value unless WithValuesInErrors.
func (e *ValidationError) ProblemJSON() []byte {
	problems := e.Problems
	if problems == nil {
		problems = []Problem{}
	}
	body, err := json.Marshal(struct {
		Type     string    `json:"type"`
		Title    string    `json:"title"`
		Status   int       `json:"status"`
		Detail   string    `json:"detail"`
		Provider string    `json:"provider,omitempty"`
		Event    string    `json:"event_type,omitempty"`
		Version  string    `json:"version,omitempty"`
		Errors   []Problem `json:"errors"`
	}{ProblemTypeURI, "Invalid payload", 422, e.Error(), e.Provider, e.Type, e.Version, problems})
	if err != nil { // cannot happen: only strings and ints
		return []byte(`{"title":"Invalid payload","status":422}`)
	}
	return body
}
