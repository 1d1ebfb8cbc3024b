package schema

import (
	"embed"
	"io/fs"
)

//go:embed all:schemas
var bundled embed.FS

// BundledFS holds the bundled schemas, laid out as New describes. They
// accept what the providers send today (optional and nullable fields,
// unknown fields allowed) and check the parts handlers rely on:
//
//	stripe   *                           event envelope (snapshot and thin events)
//	stripe   invoice.*, payment_intent.*,
//	         checkout.session.completed  envelope + data.object
//	github   push, pull_request, issues, ping
//	slack    * (Events API envelope), event_callback, url_verification
//	standard * (Standard Webhooks {type, timestamp, data}),
//	         user.created v1 (data.id, data.email with format email)
//
// All are version-less (AnyVersion) except user.created. Shared pieces
// (stripe/event.json, stripe/objects.json, github/common.json,
// slack/envelope.json, standard/envelope.json) are $ref targets your own
// schemas can use when combined with WithFS(BundledFS).
var BundledFS fs.FS = mustSub(bundled, "schemas")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Bundled returns a new Registry of the bundled schemas (BundledFS) with
// opts. Each call compiles a fresh Registry, so upgraders registered on one
// do not leak into another. It panics only if the embedded schemas do not
// compile, which the package's tests rule out.
func Bundled(opts ...Option) *Registry {
	r, err := New(BundledFS, opts...)
	if err != nil {
		panic(err)
	}
	return r
}
