// Package microsoftgraph authenticates and reads Microsoft Graph change
// notifications delivered to a webhook (a subscription's notificationUrl or
// lifecycleNotificationUrl).
//
// Graph does not sign basic change notifications. A subscription is created
// with a clientState, a secret of up to 128 characters, and Graph copies it
// into every notification it sends:
//
//	{"value":[{"subscriptionId":"…","clientState":"<secret>","changeType":"created","resource":"…",…},…]}
//
// Verify reads the body's value array and accepts the delivery only when it
// holds at least one notification and the clientState of every notification
// equals a configured secret, each compared as SHA-256 digests in constant
// time (rejection stops at the first notification that fails). This
// authenticates the sender, not the rest of the body: anyone who learns the
// clientState can send any notification, and a captured delivery can be
// replayed at any time (Graph sends no signed timestamp; replays are
// deduplicated on the ID only while the dedupe store remembers it). Fetch
// the changed resource through the Graph API rather than trusting
// resourceData. Rich notifications (includeResourceData), authenticated by
// the JWTs in validationTokens, are not covered: their clientState is
// checked like any other, and nothing more.
//
// # Validation
//
// When a subscription is created or renewed, Graph POSTs to the URL with
// ?validationToken=<url-encoded token> and an empty body, and expects within
// ten seconds
//
//	200 text/plain <the URL-decoded token>
//
// Handshake answers it before verification (the token is Graph's, not a
// secret, and is echoed as text/plain with nosniff; a token longer than
// MaxValidationTokenBytes is not answered).
//
// # Envelope
//
// Graph sends no notification or delivery ID that is stable across
// retries, so the ID is the hex SHA-256 of the body. The Type is the
// changeType ("created", "updated", "deleted") shared by every notification
// of the delivery, or for lifecycle notifications their lifecycleEvent
// ("reauthorizationRequired", "subscriptionRemoved", "missed"); "" when the
// notifications of one delivery differ.
//
// Sources: https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
// (notification endpoint validation, clientState, 202 answer);
// https://learn.microsoft.com/graph/api/resources/changenotificationcollection;
// https://learn.microsoft.com/graph/change-notifications-lifecycle-events.
//
// Usage:
//
//	p, err := microsoftgraph.New(os.Getenv("GRAPH_CLIENT_STATE"))
//	if err != nil {
//		return err
//	}
//	rcv, err := receiver.New(p, mux) // answers the validation POST too
package microsoftgraph

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// Name is the provider's name.
const Name = "microsoft-graph"

// QueryValidationToken is the query parameter of the validation request.
const QueryValidationToken = "validationToken"

// MaxValidationTokenBytes bounds the validation token Handshake echoes;
// Graph's are about a hundred characters. A longer one is not answered.
const MaxValidationTokenBytes = 1024

// stateHeader is the header of the synthetic request each clientState is
// checked through: the kit's token comparison, with its secret rotation and
// sources, applied to a value read from the body.
const stateHeader = "Client-State"

// scheme declares the clientState comparison (a token) and the envelope's
// ID (the body's hash); Parse computes the type.
var scheme = &kit.Scheme{
	Name:      Name,
	Algorithm: kit.Token,
	Signature: kit.Signature{Header: stateHeader},
	Envelope:  kit.Envelope{ID: kit.Field{BodyHash: true}},
}

// Provider authenticates and parses Graph change notifications and answers
// their validation. It is safe for concurrent use.
type Provider struct{ p *kit.Provider }

var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.Handshaker = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*kit.Options)

// WithSecrets adds clientState values accepted besides the one given to
// New: during a rotation, subscriptions created with the old value still
// deliver until they are renewed with the new one.
func WithSecrets(more ...string) Option { return kit.WithSecrets(more...) }

// New returns a provider for the subscriptions' clientState. It returns an
// error matching verify.ErrNoSecret when a value is empty or blank.
func New(clientState string, opts ...Option) (*Provider, error) {
	return build(kit.Apply(clientState, opts))
}

// NewFromSource returns a provider whose clientState values come from src,
// which the application updates to rotate them without a restart (see
// provider.Secrets).
func NewFromSource(src provider.SecretSource, opts ...Option) (*Provider, error) {
	return build(kit.ApplySource(src, opts))
}

func build(o kit.Options) (*Provider, error) {
	p, err := scheme.New(o)
	if err != nil {
		return nil, err
	}
	return &Provider{p}, nil
}

// Name returns "microsoft-graph".
func (p *Provider) Name() string { return Name }

// Handshake answers Graph's validation request, a POST with a
// validationToken query parameter: 200 text/plain with the decoded token.
// Other requests get nil.
func (p *Provider) Handshake(r *http.Request, _ []byte) *provider.Reply {
	if r.Method != http.MethodPost || r.URL == nil || r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil
	}
	vs := q[QueryValidationToken]
	if len(vs) != 1 || vs[0] == "" || len(vs[0]) > MaxValidationTokenBytes {
		return nil
	}
	return &provider.Reply{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(vs[0])}
}

// errNoNotification reports a body without a notification to authenticate.
var errNoNotification = errors.New("no notification in value")

// Verify checks that the body's value array holds notifications and that
// each one's clientState is a configured secret.
func (p *Provider) Verify(r *http.Request, body []byte) error {
	items, err := notifications(body)
	if err != nil {
		return fmt.Errorf("%s: body: %w: %w", Name, err, verify.ErrMalformedSignature)
	}
	var verified []byte
	for i, item := range items {
		raw, _, err := jsonscan.Get(item, "clientState")
		if err != nil {
			return fmt.Errorf("%s: notification %d: clientState: %w: %w", Name, i, err, verify.ErrMalformedSignature)
		}
		if raw == nil || jsonscan.IsNull(raw) {
			return fmt.Errorf("%s: notification %d: no clientState: %w", Name, i, verify.ErrMissingSignature)
		}
		state, err := jsonscan.String(raw)
		if err != nil {
			return fmt.Errorf("%s: notification %d: clientState: %w: %w", Name, i, err, verify.ErrMalformedSignature)
		}
		// A value equal to one already verified in this body needs no second
		// digest; the comparison is constant-time all the same.
		if verified != nil && subtle.ConstantTimeCompare(verified, []byte(state)) == 1 {
			continue
		}
		check := &http.Request{Header: http.Header{stateHeader: {state}}}
		if err := p.p.Verify(check, nil); err != nil {
			return fmt.Errorf("notification %d: %w", i, err)
		}
		verified = []byte(state)
	}
	return nil
}

// notifications returns the elements of the body's value array; an absent
// or empty array is an error.
func notifications(body []byte) ([]json.RawMessage, error) {
	raw, _, err := jsonscan.Get(body, "value")
	if err != nil {
		return nil, err
	}
	if raw == nil || jsonscan.IsNull(raw) {
		return nil, errNoNotification
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("value is not an array")
	}
	if len(items) == 0 {
		return nil, errNoNotification
	}
	return items, nil
}

var kindPaths = [][]string{{"lifecycleEvent"}, {"changeType"}}

// Parse reads the ID (the hex SHA-256 of the body) and the type shared by
// the notifications; see the package documentation.
func (p *Provider) Parse(r *http.Request, body []byte) (provider.Envelope, error) {
	env, err := p.p.Parse(r, body)
	if err != nil {
		return provider.Envelope{}, err
	}
	items, err := notifications(body)
	if err != nil {
		return provider.Envelope{}, malformed("body: %w", err)
	}
	for i, item := range items {
		var vals [2][]byte
		if err := jsonscan.GetMany(item, kindPaths, vals[:]); err != nil {
			return provider.Envelope{}, malformed("notification %d: %w", i, err)
		}
		kind := ""
		for j, raw := range vals {
			if raw == nil || jsonscan.IsNull(raw) {
				continue
			}
			s, err := jsonscan.String(raw)
			if err != nil {
				return provider.Envelope{}, malformed("notification %d: %s: %w", i, kindPaths[j][0], err)
			}
			kind = s
			break
		}
		if i == 0 {
			env.Type = kind
		} else if kind != env.Type {
			env.Type = ""
			break
		}
	}
	return env, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: "+format+": %w", append([]any{Name}, append(args, provider.ErrMalformedEnvelope)...)...)
}

// SignBody returns body with the clientState of every notification of its
// value array set to clientState, as Graph sends it, for tests. The body is
// re-encoded (encoding/json, keys sorted).
func SignBody(body []byte, clientState string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%s: SignBody: %w", Name, err)
	}
	items, ok := doc["value"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: SignBody: %w", Name, errNoNotification)
	}
	for _, it := range items {
		n, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: SignBody: a notification is not an object", Name)
		}
		n["clientState"] = clientState
	}
	return json.Marshal(doc)
}

// SignRequest replaces r's body with body signed by SignBody under secret
// (the clientState), for tests that send r; now is unused. As the
// credential lives in the body, a caller verifying body itself signs it
// with SignBody first.
func SignRequest(r *http.Request, body []byte, secret string, _ time.Time) error {
	b, err := SignBody(body, secret)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}
