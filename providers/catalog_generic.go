package providers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hookwise/hookwise/providers/generic"
	"github.com/hookwise/hookwise/providers/sendgrid"
)

// genericEntries are SendGrid's signed Event Webhook and the generic
// schemes of package generic, for senders the catalog does not name.
//
//   - sendgrid: Config.PublicKeys are the verification keys as SendGrid
//     shows them (base64 DER, or PEM); Config.Secrets are read when
//     PublicKeys is empty. Config.Tolerance > 0 checks the signed
//     timestamp, which SendGrid leaves unchecked by default.
//
// The generic entries take Config.Secrets (HMAC secrets, tokens, or
// "user:password" credentials) and their scheme from Config.Params; an
// unknown key is refused (a typo must not weaken a check), as is anything
// package generic refuses (generic.ErrConfig).
//
//   - hmac (generic.NewHMAC): "header" (required) the signature header;
//     "hash" sha256 (default), sha1 or sha512; "encoding" hex (default),
//     base64 or base64url; "prefix" the text before the signature
//     ("sha256="); "timestamp-header" a header carrying Unix seconds, which
//     makes the signed message timestamp + "separator" + body and checks
//     the timestamp against Config.Tolerance (default five minutes) and
//     Config.Now; "separator" ("" by default).
//   - token (generic.NewTokenConfig): "header" the token's header (default
//     Authorization); "prefix" the text before the token ("Bearer ").
//   - basic (generic.NewBasicConfig): Basic credentials from Authorization.
//
// All three also read "name", the provider's name (default the entry's:
// "hmac", "token", "basic"; it prefixes dedupe keys, so give each sender
// its own), and the envelope: "id-header" or "id-json" (a dotted path such
// as "data.id") for the event ID, the hex SHA-256 of the body when neither
// is set; "type-header" or "type-json" for the type, empty when neither is.
var genericEntries = []entry{
	{name: sendgrid.Name, build: func(c Config) (P, error) {
		keys := c.PublicKeys
		if len(keys) == 0 {
			keys = c.Secrets
		}
		if len(keys) == 0 {
			keys = []string{""}
		}
		opts := []sendgrid.Option{sendgrid.WithPublicKeys(keys[1:]...), sendgrid.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, sendgrid.WithClock(c.Now))
		}
		return sendgrid.New(keys[0], opts...)
	}},
	{name: "hmac", build: func(c Config) (P, error) {
		if err := onlyParams("hmac", c.Params, "header", "hash", "encoding", "prefix", "timestamp-header", "separator"); err != nil {
			return nil, err
		}
		h, err := generic.ParseHash(c.Params["hash"])
		if err != nil {
			return nil, err
		}
		enc, err := generic.ParseEncoding(c.Params["encoding"])
		if err != nil {
			return nil, err
		}
		return generic.NewHMAC(paramName(c, "hmac"), generic.HMACConfig{
			Secrets:         c.Secrets,
			Header:          c.Params["header"],
			Hash:            h,
			Encoding:        enc,
			Prefix:          c.Params["prefix"],
			TimestampHeader: c.Params["timestamp-header"],
			Separator:       c.Params["separator"],
			Tolerance:       c.Tolerance,
			Now:             c.Now,
			Envelope:        paramEnvelope(c),
		})
	}},
	{name: "token", build: func(c Config) (P, error) {
		if err := onlyParams("token", c.Params, "header", "prefix"); err != nil {
			return nil, err
		}
		header := c.Params["header"]
		if header == "" {
			header = "Authorization"
		}
		return generic.NewTokenConfig(paramName(c, "token"), generic.AuthConfig{
			Secrets: c.Secrets, Header: header, Prefix: c.Params["prefix"], Envelope: paramEnvelope(c),
		})
	}},
	{name: "basic", build: func(c Config) (P, error) {
		if err := onlyParams("basic", c.Params); err != nil {
			return nil, err
		}
		return generic.NewBasicConfig(paramName(c, "basic"), generic.AuthConfig{Secrets: c.Secrets, Envelope: paramEnvelope(c)})
	}},
}

// envelopeParams are the Params every generic entry reads.
var envelopeParams = []string{"name", "id-header", "id-json", "type-header", "type-json"}

// onlyParams refuses a Params key the entry does not read, naming it (a
// key, never a value).
func onlyParams(entry string, params map[string]string, keys ...string) error {
	var unknown []string
	for k := range params {
		if !slices.Contains(keys, k) && !slices.Contains(envelopeParams, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: %s: unknown Params %q", generic.ErrConfig, entry, unknown)
	}
	return nil
}

func paramName(c Config, def string) string {
	if n := c.Params["name"]; n != "" {
		return n
	}
	return def
}

func paramEnvelope(c Config) generic.Envelope {
	field := func(header, path string) generic.Field {
		f := generic.Field{Header: c.Params[header]}
		if p := c.Params[path]; p != "" {
			f.JSON = strings.Split(p, ".")
		}
		return f
	}
	return generic.Envelope{ID: field("id-header", "id-json"), Type: field("type-header", "type-json")}
}
