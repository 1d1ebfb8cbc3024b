// Package swpreset declares the Standard Webhooks presets: providers that
// sign per the Standard Webhooks specification (package standardwebhooks)
// under their own spelling of the three headers and read the event type from
// one top-level JSON field (Brex, Clerk, Resend). Each preset's package keeps
// its own exported names, options and documentation; only the declaration is
// shared here.
package swpreset

import (
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/verify"
)

// Preset names a Standard Webhooks sender's headers and type field.
type Preset struct {
	Name      string // the provider's name
	ID        string // the message ID header ("Webhook-Id", "svix-id")
	Timestamp string // the timestamp header
	Signature string // the signature list header
	Type      string // the body's top-level JSON field holding the event type
}

// Scheme declares the preset: Signature is a space-separated list of
// "v1,<base64>" HMAC-SHA256 entries over ID + "." + Timestamp + "." + body,
// under the base64-decoded secret (standardwebhooks.DecodeSecret; the
// "whsec_" prefix is optional); Timestamp is Unix seconds, within
// standardwebhooks.DefaultTolerance by default. The envelope's ID is the ID
// header and its Type the Type field, both required.
func (p Preset) Scheme() *kit.Scheme {
	return &kit.Scheme{
		Name:      p.Name,
		Algorithm: kit.HMACSHA256,
		Signature: kit.Signature{Header: p.Signature, Encoding: verify.Base64, Prefix: "v1,", Sep: " "},
		Timestamp: &kit.Timestamp{Header: p.Timestamp, Tolerance: standardwebhooks.DefaultTolerance},
		Message:   []kit.Piece{kit.HeaderPiece(p.ID), kit.Lit("."), kit.Time, kit.Lit("."), kit.Body},
		Key:       standardwebhooks.DecodeSecret,
		Envelope: kit.Envelope{
			ID:   kit.Field{Header: p.ID, Required: true},
			Type: kit.Field{JSON: []string{p.Type}, Required: true},
		},
	}
}
