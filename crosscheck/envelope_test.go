package crosscheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gogithub "github.com/google/go-github/v75/github"
	hwgithub "github.com/hookwise/hookwise/providers/github"
	hwslack "github.com/hookwise/hookwise/providers/slack"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Hookwise's GitHub envelope and payload agree with what go-github reads
// from the same delivery: the delivery ID (with WithDeliveryIDDedupe; by
// default Hookwise's ID is the hash of the body, see
// TestGitHubEnvelopeKnownDifferences), the event name and action, and the
// JSON document of JSON and form-encoded deliveries.
func TestGitHubEnvelopeMatchesGoGitHub(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	tests := []struct {
		name, event, doc string
		form             bool
	}{
		{"issues opened", "issues", `{"action":"opened","issue":{"number":1,"title":"🚀 ünïcödé"}}`, false},
		{"push has no action", "push", `{"ref":"refs/heads/main","before":"a","after":"b","commits":[]}`, false},
		{"ping", "ping", `{"zen":"Keep it logically awesome.","hook_id":1}`, false},
		{"form-encoded pull request", "pull_request", `{"action":"closed","number":7,"pull_request":{"title":"a&b=c+d %"}}`, true},
		{"form-encoded push", "push", `{"ref":"refs/heads/ma in","before":"a","after":"b","commits":[]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.doc)
			if tt.form {
				body = []byte(url.Values{"payload": {tt.doc}}.Encode())
			}
			req := hwgithub.NewRequest("http://hookwise.test/github", secret, tt.event, "72d3162e-cc78-11e3-81ab-4c9367dc0958", body)
			if tt.form {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			sdkPayload, err := gogithub.ValidatePayload(cloneRequest(req), []byte(secret))
			if err != nil {
				t.Fatalf("go-github: %v", err)
			}
			p := newGitHub(t, secret)
			if err := p.Verify(req, body); err != nil {
				t.Fatalf("Hookwise Verify: %v", err)
			}
			env, err := p.Parse(req, body)
			if err != nil {
				t.Fatalf("Hookwise Parse: %v", err)
			}
			doc, err := p.Payload(req.Header, body)
			if err != nil {
				t.Fatalf("Hookwise Payload: %v", err)
			}
			if !bytes.Equal(doc, sdkPayload) || string(doc) != tt.doc {
				t.Errorf("Hookwise payload %q, go-github %q, want %q", doc, sdkPayload, tt.doc)
			}
			byDelivery, err := newGitHub(t, secret, hwgithub.WithDeliveryIDDedupe()).Parse(req, body)
			if err != nil {
				t.Fatalf("Hookwise Parse (WithDeliveryIDDedupe): %v", err)
			}
			if byDelivery.ID != gogithub.DeliveryID(req) {
				t.Errorf("ID %q, go-github %q", byDelivery.ID, gogithub.DeliveryID(req))
			}
			if env.ID != hwgithub.EventID(body) {
				t.Errorf("default ID %q, want the body's hash", env.ID)
			}
			ev, err := gogithub.ParseWebHook(gogithub.WebHookType(req), sdkPayload)
			if err != nil {
				t.Fatalf("go-github ParseWebHook: %v", err)
			}
			want := gogithub.WebHookType(req)
			if a, ok := ev.(interface{ GetAction() string }); ok && a.GetAction() != "" {
				want += "." + a.GetAction()
			}
			if env.Type != want {
				t.Errorf("Type %q, from go-github's event %q", env.Type, want)
			}
			if env.Optional != (tt.event == "ping") {
				t.Errorf("Optional %v for event %s", env.Optional, tt.event)
			}
		})
	}
}

// Hookwise's Stripe envelope agrees with stripe-go's ConstructEvent on the
// event's ID, type and API version.
func TestStripeEnvelopeMatchesStripeGo(t *testing.T) {
	r := newRand(t)
	for i := 0; i < iterations; i++ {
		secret := randomStripeSecret(r)
		evt := map[string]any{
			"id":     "evt_" + randomToken(r, 24),
			"object": "event",
			"type":   []string{"invoice.paid", "charge.succeeded", "customer.subscription.updated", "v2.core.event"}[r.IntN(4)],
			"data":   map[string]any{"object": map[string]any{"id": "in_" + randomToken(r, 8), "note": "🚀 \u00e9 \"q\""}},
		}
		if r.IntN(3) > 0 {
			evt["api_version"] = fmt.Sprintf("20%02d-%02d-%02d", 20+r.IntN(6), 1+r.IntN(12), 1+r.IntN(28))
		}
		body, err := json.Marshal(evt)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		header := hwstripe.Sign(secret, now, body)
		sdkEvent, err := webhook.ConstructEventWithOptions(body, header, secret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
		if err != nil {
			t.Fatalf("case %d: stripe-go: %v", i, err)
		}
		p := newStripe(t, secret, func() time.Time { return now })
		req := stripeRequest(header, body)
		if err := p.Verify(req, body); err != nil {
			t.Fatalf("case %d: Hookwise Verify: %v", i, err)
		}
		env, err := p.Parse(req, body)
		if err != nil {
			t.Fatalf("case %d: Hookwise Parse: %v", i, err)
		}
		if env.ID != sdkEvent.ID || env.Type != string(sdkEvent.Type) || env.Version != sdkEvent.APIVersion {
			t.Fatalf("case %d: Hookwise envelope %+v, stripe-go event id %q type %q api_version %q",
				i, env, sdkEvent.ID, sdkEvent.Type, sdkEvent.APIVersion)
		}
	}
}

// Hookwise's Slack envelope agrees with slack-go's parsers: slackevents for
// Events API bodies, SlashCommandParse for commands, InteractionCallback for
// interactive payloads.
func TestSlackEnvelopeMatchesSlackGo(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	const jsonCT, formCT = "application/json", "application/x-www-form-urlencoded"
	tests := []struct {
		name, ct, body string
		// sdk returns the ID and Type slack-go's parser reads, in Hookwise's
		// naming, and the challenge for a handshake.
		sdk func(t *testing.T, req *http.Request, body []byte) (id, typ, challenge string)
	}{
		{"event callback", jsonCT,
			`{"token":"x","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev0PV52K21","event_time":1,"event":{"type":"app_mention","text":"🚀 hi","user":"U1","ts":"1.2","channel":"C1"}}`,
			slackEventsAPI},
		{"url verification", jsonCT,
			`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			slackEventsAPI},
		{"slash command", formCT,
			"token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&command=%2Fweather&text=94070&trigger_id=13345224609.738474920.8088930838d88f008e0",
			func(t *testing.T, req *http.Request, _ []byte) (string, string, string) {
				cmd, err := slackgo.SlashCommandParse(req)
				if err != nil {
					t.Fatalf("slack-go SlashCommandParse: %v", err)
				}
				return cmd.TriggerID, "command." + strings.TrimPrefix(cmd.Command, "/"), ""
			}},
		{"block actions", formCT,
			url.Values{"payload": {`{"type":"block_actions","trigger_id":"123.456.abc","user":{"id":"U1"},"actions":[{"action_id":"a","value":"é&=+"}]}`}}.Encode(),
			func(t *testing.T, req *http.Request, _ []byte) (string, string, string) {
				if err := req.ParseForm(); err != nil {
					t.Fatal(err)
				}
				var cb slackgo.InteractionCallback
				if err := json.Unmarshal([]byte(req.PostForm.Get("payload")), &cb); err != nil {
					t.Fatalf("slack-go InteractionCallback: %v", err)
				}
				return cb.TriggerID, "interactive." + string(cb.Type), ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			body := []byte(tt.body)
			req := hwslack.NewRequest("http://hookwise.test/slack", secret, now, body, tt.ct)
			if err := slackGoVerify(req.Header, body, secret); err != nil {
				t.Fatalf("slack-go verify: %v", err)
			}
			p := newSlack(t, secret, func() time.Time { return now })
			if err := p.Verify(req, body); err != nil {
				t.Fatalf("Hookwise Verify: %v", err)
			}
			env, err := p.Parse(req, body)
			if err != nil {
				t.Fatalf("Hookwise Parse: %v", err)
			}
			id, typ, challenge := tt.sdk(t, cloneRequest(req), body)
			if env.ID != id || env.Type != typ {
				t.Errorf("Hookwise ID %q Type %q; slack-go ID %q Type %q", env.ID, env.Type, id, typ)
			}
			if challenge != "" && (env.Reply == nil || string(env.Reply.Body) != challenge || env.Reply.Status != http.StatusOK) {
				t.Errorf("Hookwise reply %+v, want 200 with challenge %q", env.Reply, challenge)
			}
			if challenge == "" && env.Reply != nil {
				t.Errorf("unexpected reply %+v", env.Reply)
			}
		})
	}
}

// slackEventsAPI reads an Events API body with slackevents.ParseEvent.
func slackEventsAPI(t *testing.T, _ *http.Request, body []byte) (id, typ, challenge string) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatalf("slackevents.ParseEvent: %v", err)
	}
	switch data := ev.Data.(type) {
	case *slackevents.EventsAPIURLVerificationEvent:
		return "", ev.Type, data.Challenge
	case *slackevents.EventsAPICallbackEvent:
		return data.EventID, ev.InnerEvent.Type, ""
	}
	t.Fatalf("unexpected slackevents data %T", ev.Data)
	return "", "", ""
}
