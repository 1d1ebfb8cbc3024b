// Package schema validates webhook payloads against versioned JSON Schemas
// and hands typed, upgraded payloads to handlers.
//
// A Registry holds schemas keyed by provider, event-type pattern and payload
// version, all compiled by New (drafts 2020-12 and 7; $ref across the files
// of the tree; "format" asserted), so a broken schema fails at start-up and
// never on a request. It implements receiver.Validator:
//
//	reg, err := schema.New(os.DirFS("schemas"), schema.WithFS(schema.BundledFS))
//	…
//	err = reg.Validate(ctx, e) // nil, or a *schema.ValidationError
//
// Event-type patterns work as in handler registration: "invoice.paid"
// exactly, "invoice.*" by prefix, a bare "issues" for "issues" and
// "issues.*", and "*" for every type; the most specific pattern wins (exact,
// then the longest prefix, then "*").
//
// The version of a delivery comes from a VersionResolver (Event.Version by
// default; or a header, a payload field, a fixed default). Versions compare
// as dates ("2024-06-20", "2025-03-31.basil") or as numbers ("v1" < "v2" <
// "v10"); see CompareVersions. A delivery uses the schema of its exact
// version, else of the newest version not newer than it, else the pattern's
// version-less schema (AnyVersion); an unknown version ("") uses the
// version-less schema, else the newest one. Deliveries no schema covers are
// valid unless the Registry is Strict.
//
// Versioned adapts a function taking a typed payload of one version into a
// receiver.Handler: older deliveries are converted by the upgraders
// registered with RegisterUpgrader, then validated against the target
// version's schema and the payload type's `validate` struct tags.
//
// Invalid payloads are reported as *ValidationError, which matches
// receiver.ErrInvalidPayload, lists each failure with its JSON pointer and
// keyword, and renders as an RFC 9457 problem body (ProblemJSON). Neither
// quotes the payload's values (email addresses, tokens), so both are safe to
// log and to keep as dead-letter reasons; WithValuesInErrors opts into the
// values, for development.
package schema
