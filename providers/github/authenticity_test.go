package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const repoSender = `"repository":{"id":1,"full_name":"o/r"},"sender":{"login":"u"}`

// fixtures are payloads with the top-level keys GitHub sends for each event
// (values trimmed), keyed by the event they belong to.
var fixtures = []struct{ event, body string }{
	{"push", `{"ref":"refs/heads/main","before":"0a","after":"1b","base_ref":null,"created":false,"deleted":false,"forced":false,"compare":"u","commits":[{"id":"1b"}],"head_commit":{"id":"1b"},"pusher":{"name":"u"},` + repoSender + `}`},
	{"pull_request", `{"action":"opened","number":1,"pull_request":{"number":1},` + repoSender + `}`},
	{"pull_request_review", `{"action":"submitted","review":{"id":1},"pull_request":{"number":1},` + repoSender + `}`},
	{"pull_request_review_comment", `{"action":"deleted","comment":{"id":1},"pull_request":{"number":1},` + repoSender + `}`},
	{"issues", `{"action":"deleted","issue":{"number":1},` + repoSender + `}`},
	{"issue_comment", `{"action":"deleted","issue":{"number":1},"comment":{"id":1},` + repoSender + `}`},
	{"repository", `{"action":"deleted",` + repoSender + `}`},
	{"repository", `{"action":"deleted",` + repoSender + `,"installation":{"id":1,"node_id":"x"}}`},
	{"release", `{"action":"deleted","release":{"id":1},` + repoSender + `}`},
	{"workflow_run", `{"action":"completed","workflow":{"id":1},"workflow_run":{"id":1},` + repoSender + `}`},
	{"workflow_job", `{"action":"queued","workflow_job":{"id":1},` + repoSender + `}`},
	{"check_run", `{"action":"created","check_run":{"id":1},` + repoSender + `}`},
	{"check_suite", `{"action":"requested","check_suite":{"id":1},` + repoSender + `}`},
	{"create", `{"ref":"v1","ref_type":"tag","master_branch":"main","description":null,"pusher_type":"user",` + repoSender + `}`},
	{"delete", `{"ref":"v1","ref_type":"tag","pusher_type":"user",` + repoSender + `}`},
	{"star", `{"action":"deleted","starred_at":null,` + repoSender + `}`},
	{"watch", `{"action":"started",` + repoSender + `}`},
	{"fork", `{"forkee":{"id":2},` + repoSender + `}`},
	{"ping", `{"zen":"z","hook_id":1,"hook":{"id":1},` + repoSender + `}`},
	{"installation", `{"action":"deleted","installation":{"id":1,"app_id":2,"account":{"login":"o"}},"repositories":[],"sender":{"login":"u"}}`},
	{"installation_repositories", `{"action":"removed","installation":{"id":1,"app_id":2,"account":{}},"repository_selection":"selected","repositories_added":[],"repositories_removed":[],"requester":null,"sender":{}}`},
	{"member", `{"action":"removed","member":{"login":"m"},` + repoSender + `}`},
	{"label", `{"action":"deleted","label":{"id":1},` + repoSender + `}`},
	{"milestone", `{"action":"deleted","milestone":{"id":1},` + repoSender + `}`},
	{"discussion", `{"action":"deleted","discussion":{"id":1},` + repoSender + `}`},
	{"public", `{` + repoSender + `}`},
	{"organization", `{"action":"deleted","organization":{"login":"o"},"sender":{}}`},
}

// The attack of issue 8: a captured issues.deleted delivery is sent again
// under another event name. Its signature still verifies (only the body is
// signed); the event check refuses it.
func TestRelabelledDeliveryRefused(t *testing.T) {
	body := []byte(`{"action":"deleted","issue":{"number":1},` + repoSender + `}`)
	r := NewRequest("https://example.com/", secret, "repository", NewDeliveryID(), body)
	p, err := New(secret)
	require.NoError(t, err)
	require.NoError(t, p.Verify(r, body), "the relabelled delivery verifies: the event header is not signed")
	_, err = p.Parse(r, body)
	assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
	assert.Contains(t, err.Error(), `"issue"`)

	// Without the check it would be routed as repository.deleted.
	off, err := New(secret, WithEventCheck(false))
	require.NoError(t, err)
	env, err := off.Parse(r, body)
	require.NoError(t, err)
	assert.Equal(t, "repository.deleted", env.Type)
}

// Replaying a captured delivery under a fresh X-GitHub-Delivery gives the
// same event ID, so the receiver's dedupe answers it as a duplicate.
func TestReplayUnderFreshDeliveryIDIsDuplicate(t *testing.T) {
	body := []byte(`{"action":"deleted","issue":{"number":1},` + repoSender + `}`)
	p, err := New(secret)
	require.NoError(t, err)
	first, err := p.Parse(NewRequest("/", secret, "issues", NewDeliveryID(), body), body)
	require.NoError(t, err)
	replay, err := p.Parse(NewRequest("/", secret, "issues", NewDeliveryID(), body), body)
	require.NoError(t, err)
	assert.Equal(t, first.ID, replay.ID)
	sum := sha256.Sum256(body)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), first.ID)

	// A redelivery keeps both the body and the GUID: a duplicate either way.
	d := NewDeliveryID()
	byID, err := New(secret, WithDeliveryIDDedupe())
	require.NoError(t, err)
	a, err := byID.Parse(NewRequest("/", secret, "issues", d, body), body)
	require.NoError(t, err)
	b, err := byID.Parse(NewRequest("/", secret, "issues", d, body), body)
	require.NoError(t, err)
	assert.Equal(t, d, a.ID)
	assert.Equal(t, a.ID, b.ID)
	// The documented risk of the opt-in: a fresh GUID is a fresh event.
	c, err := byID.Parse(NewRequest("/", secret, "issues", NewDeliveryID(), body), body)
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, c.ID)
}

func TestEventID(t *testing.T) {
	for _, body := range [][]byte{nil, []byte("{}"), []byte(strings.Repeat("x", 1<<20))} {
		id := EventID(body)
		sum := sha256.Sum256(body)
		assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), id)
		assert.Len(t, id, 71)
		assert.LessOrEqual(t, len(id), receiver.MaxIDBytes)
	}
	// A form delivery's ID is the hash of the raw (signed) form body.
	form := []byte("payload=" + `%7B%22zen%22%3A%22z%22%2C%22hook_id%22%3A1%7D`)
	r := NewRequest("/", secret, "ping", NewDeliveryID(), form)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p, _ := New(secret)
	env, err := p.Parse(r, form)
	require.NoError(t, err)
	assert.Equal(t, EventID(form), env.ID)
}

func TestDeliveryIDFormat(t *testing.T) {
	body := []byte(`{"zen":"z","hook_id":1}`)
	p, err := New(secret)
	require.NoError(t, err)
	for _, id := range []string{
		"d-1",
		guid[:35],
		guid + "0",
		"72d3162e-cc78-11e3-81ab-4c9367dc095g",
		"72d3162e0cc78-11e3-81ab-4c9367dc0958",
		"72d3162e-cc7811e3-81ab-4c9367dc09580",
		"{72d3162e-cc78-11e3-81ab-4c9367dc095}",
		" 72d3162e-cc78-11e3-81ab-4c9367dc095",
		"72d3162e-cc78-11e3-81ab-4c9367dc095\n",
		"72d3162e-cc78-11e3-81ab-4c9367dc09é",
		strings.Repeat("a", 1<<16),
	} {
		assert.False(t, IsDeliveryID(id), "%q", id)
		_, err := p.Parse(NewRequest("/", secret, "ping", id, body), body)
		assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope, "%q", id)
		if err != nil {
			assert.NotContains(t, err.Error(), id, "the error quotes the header")
		}
	}
	seen := map[string]bool{}
	for range 100 {
		id := NewDeliveryID()
		require.True(t, IsDeliveryID(id), id)
		assert.Equal(t, byte('4'), id[14], "version 4")
		assert.False(t, seen[id])
		seen[id] = true
	}
	assert.True(t, IsDeliveryID(strings.ToUpper(guid)))
}

// Every fixture passes as its own event; relabelled as another checked
// event it is refused, except for the pairs below, whose payloads have the
// same keys (the check's documented limit).
func TestEventCheckRelabelMatrix(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	var events []string
	for _, f := range fixtures {
		if !slices.Contains(events, f.event) {
			events = append(events, f.event)
		}
	}
	var accepted []string
	for _, f := range fixtures {
		body := []byte(f.body)
		require.True(t, json.Valid(body), f.event)
		env, err := p.Parse(NewRequest("/", secret, f.event, guid, body), body)
		if assert.NoError(t, err, "%s fixture under its own event", f.event) {
			assert.True(t, env.Type == f.event || strings.HasPrefix(env.Type, f.event+"."), env.Type)
		}
		for _, other := range events {
			if other == f.event {
				continue
			}
			_, err := p.Parse(NewRequest("/", secret, other, guid, body), body)
			if err == nil {
				accepted = append(accepted, f.event+" as "+other)
			} else {
				assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
			}
		}
	}
	assert.ElementsMatch(t, []string{
		"repository as watch", "repository as watch", // both repository fixtures
		"watch as repository",
		"public as repository", "public as watch",
	}, accepted)
}

// Every event the check covers has a rule within jsonscan's path limit, and
// the events the README names are covered.
func TestCheckedEvents(t *testing.T) {
	names := CheckedEvents()
	assert.True(t, slices.IsSorted(names))
	for _, e := range []string{"push", "pull_request", "pull_request_review", "issues", "issue_comment", "repository",
		"release", "workflow_run", "workflow_job", "check_run", "check_suite", "create", "delete", "star", "fork",
		"ping", "installation", "installation_repositories", "member", "label", "public", "organization"} {
		assert.Contains(t, names, e)
	}
	for name, r := range eventRules {
		assert.LessOrEqual(t, len(r.paths), maxRulePaths, name)
		assert.Equal(t, []string{"action"}, r.paths[0], name)
	}
}

// Part 6 of issue 8 for GitHub: the keys Parse reads (action, and the
// event check's keys) must be read as encoding/json reads them, or refused.
// GitHub takes no ID or type from the body, so "id"/"ID" and "type" twice
// are not read and do not matter here.
func TestParseRefusesAmbiguousKeys(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	for _, body := range []string{
		`{"action":"opened","action":"deleted","issue":{}}`,
		`{"action":"opened","Action":"deleted","issue":{}}`,
		`{"action":"opened","\u0041ction":"deleted","issue":{}}`,
		`{"ACTION":"deleted","issue":{}}`,
		`{"action":"deleted","Issue":{}}`,
		`{"action":"deleted","issue":{},"ISSUE":{}}`,
		`{"action":"deleted","issue":{},"Comment":{}}`,
	} {
		b := []byte(body)
		_, err := p.Parse(NewRequest("/", secret, "issues", guid, b), b)
		assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope, body)
		assert.True(t, errors.Is(err, jsonscan.ErrDuplicateKey) || errors.Is(err, jsonscan.ErrKeyCase), body)
	}
}

func TestParseAllocs(t *testing.T) {
	p, err := New(secret)
	require.NoError(t, err)
	off, err := New(secret, WithEventCheck(false))
	require.NoError(t, err)
	for _, f := range []struct{ event, body string }{fixtures[0], fixtures[4]} {
		body := []byte(f.body)
		// A large body: the work is one pass, the allocations do not grow.
		big := []byte(strings.Replace(f.body, `"sender":{"login":"u"}`, `"sender":{"login":"u","pad":"`+strings.Repeat("x", 1<<16)+`"}`, 1))
		for _, b := range [][]byte{body, big} {
			r := NewRequest("/", secret, f.event, guid, b)
			allocs := func(p *Provider) float64 {
				return testing.AllocsPerRun(50, func() {
					if _, err := p.Parse(r, b); err != nil {
						t.Fatal(err)
					}
				})
			}
			n := allocs(p)
			// The ID, the type when it has an action, and the Content-Type
			// parse of providers/internal/form.
			assert.LessOrEqual(t, n, 3.0, "%s: %d-byte body", f.event, len(b))
			assert.Equal(t, allocs(off), n, "the event check allocates")
		}
	}
}

// FuzzParse checks that Parse never panics, refuses only with
// ErrMalformedEnvelope, and, when it accepts, reads the action exactly as
// encoding/json decodes it into a handler's struct, and gives the body's hash
// as the ID.
func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.event, fx.body)
	}
	f.Add("issues", `{"action":"opened","Action":"deleted","issue":{}}`)
	f.Add("repository", `{"action":"deleted","issue":{},"repository":{}}`)
	f.Add("installation", `{"action":"deleted","installation":{"app_id":1,"\u0061ccount":{}}}`)
	f.Add("push", `{"ref":"r","before":"a","after":"b","commits":[],"action":null}`)
	f.Add("unknown", `[1,2]`)
	p, err := New(secret)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, event, body string) {
		if event == "" {
			return
		}
		r, err := http.NewRequest(http.MethodPost, "/", nil)
		require.NoError(t, err)
		r.Header[HeaderEvent] = []string{event}
		r.Header[HeaderDelivery] = []string{guid}
		env, err := p.Parse(r, []byte(body))
		if err != nil {
			require.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
			return
		}
		require.Equal(t, EventID([]byte(body)), env.ID)
		var v struct {
			Action *string `json:"action"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return // an action of another type: Parse refused it, or it is null
		}
		want := event
		if v.Action != nil && *v.Action != "" {
			want = event + "." + *v.Action
		}
		require.Equal(t, want, env.Type)
	})
}

// BenchmarkParse measures Parse on a 4 KiB issues delivery with and without
// the event check (one pass over the body either way, plus the ID's hash).
func BenchmarkParse(b *testing.B) {
	body := []byte(strings.Replace(fixtures[4].body, `"sender":{"login":"u"}`, `"sender":{"login":"u","pad":"`+strings.Repeat("x", 4096)+`"}`, 1))
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"check", nil}, {"nocheck", []Option{WithEventCheck(false)}}, {"deliveryid", []Option{WithDeliveryIDDedupe()}}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(secret, tc.opts...)
			require.NoError(b, err)
			r := NewRequest("/", secret, "issues", guid, body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
