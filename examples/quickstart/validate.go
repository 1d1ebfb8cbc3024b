package main

import (
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/schema"
)

// userCreatedValidator validates /webhooks/standard events against the
// bundled schemas, among them the example user.created v1 schema (data.id a
// string, data.email a string in email format). An authentic event that
// fails is acknowledged, not handled, and dead-lettered with the reason.
func userCreatedValidator() (receiver.Validator, error) {
	// Standard Webhooks deliveries carry no version: they are v1 unless an
	// event says otherwise.
	return schema.New(schema.BundledFS,
		schema.WithProviderVersionResolver("standard", schema.FirstOf(schema.FromEvent(), schema.Default("v1"))))
}
