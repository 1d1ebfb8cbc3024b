package main

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/fixtures"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/schema"
)

// Every name of the catalog, aliases included, is a provider the tool
// signs for and has fixtures of.
func TestEveryCatalogNameIsSupported(t *testing.T) {
	for _, n := range providers.Names() {
		c, err := canonicalName(n)
		require.NoError(t, err, n)
		assert.NotEmpty(t, fixtures.For(c), "fixtures of %s", n)
	}
	assert.Len(t, schemes, 42)
	_, err := canonicalName("nope")
	assert.ErrorIs(t, err, errUsage)
}

// Every fixture, built with a fresh ID and signed with the development
// secret, verifies with the provider the catalog builds from the receiving
// side's development secret, and the provider reads the fixture's ID and
// type from it; with -type, the type read is the one asked for.
func TestEveryFixtureSignsVerifiesAndParses(t *testing.T) {
	for _, name := range fixtures.Providers() {
		p := receivingProvider(t, name)
		for _, f := range fixtures.For(name) {
			t.Run(name+"/"+f.Type, func(t *testing.T) {
				e, _, _ := testEnv()
				req, body, _, err := buildDelivery(name, sendOptions{typ: f.Type}, e)
				require.NoError(t, err)
				require.NoError(t, p.Verify(req, body))
				env, err := p.Parse(req, body)
				require.NoError(t, err)
				if name != "sendgrid" { // SendGrid's type is "events" for a batch
					assert.Equal(t, f.Type, env.Type)
				}
				assert.NotEmpty(t, env.ID)

				// A chosen ID is the event's ID (or, for a provider that
				// hashes the body, makes the same event again).
				req1, body1, _, err := buildDelivery(name, sendOptions{typ: f.Type, id: f.NewID()}, e)
				require.NoError(t, err)
				env1, err := p.Parse(req1, body1)
				require.NoError(t, err)
				if !f.ID.IsZero() {
					id := env1.ID
					if name == "hubspot" { // portalId:subscriptionId:eventId
						id = id[len(id)-10:]
					}
					assert.Contains(t, []string{id, env1.ID}, idOf(t, f, req1, body1))
				}
			})
		}
	}
}

// idOf returns the ID Build put where the fixture keeps it.
func idOf(t *testing.T, f fixtures.Fixture, r *http.Request, body []byte) string {
	t.Helper()
	if f.ID.Header != "" {
		return r.Header.Get(f.ID.Header)
	}
	return lookupString(t, body, f.ID.Path)
}

// The bundled schemas accept every fixture of the providers they cover,
// each fixture covered by a schema (Strict), as built and signed by the
// tool, so the quickstart's validator never dead-letters a delivery sent
// with "hookwise send".
func TestFixturesPassBundledSchemas(t *testing.T) {
	reg := schema.Bundled(schema.Strict())
	covered := 0
	for _, name := range []string{"github", "stripe", "slack", "standard"} {
		p := receivingProvider(t, name)
		for _, f := range fixtures.For(name) {
			e, _, _ := testEnv()
			req, body, _, err := buildDelivery(name, sendOptions{typ: f.Type}, e)
			require.NoError(t, err)
			env, err := p.Parse(req, body)
			require.NoError(t, err)
			ev := &receiver.Event{Provider: p.Name(), ID: env.ID, Type: env.Type, Version: env.Version, Header: req.Header, Body: body}
			if assert.NoError(t, reg.Validate(context.Background(), ev), "%s %s", name, f.Type) {
				covered++
			}
		}
	}
	assert.GreaterOrEqual(t, covered, 12)
	// A payload that breaks the schema is caught: the check can fail.
	bad := &receiver.Event{Provider: "standard", Type: "user.created", Version: "v1",
		Body: []byte(`{"type":"user.created","timestamp":"2024-05-29T10:00:00Z","data":{"id":"u1","email":"nope"}}`)}
	assert.ErrorIs(t, reg.Validate(context.Background(), bad), receiver.ErrInvalidPayload)
	assert.True(t, slices.Contains(fixtures.Providers(), "standard"))
}
