package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
)

const sendUsage = `usage: quickstart send [flags] github|stripe|slack|standard

Sends one delivery, signed as the provider signs it with the secret the
receiver uses (the same environment variables, or the development secrets),
and prints the answer's status.

flags:
`

// send signs and posts one test delivery to a running quickstart.
func send(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), sendUsage); fs.PrintDefaults() }
	base := fs.String("url", "", "receiver base URL (default http://127.0.0.1 on $ADDR's port, or :8080)")
	id := fs.String("id", "", "event ID (default: random); reuse one to send a duplicate")
	typ := fs.String("type", "", "event type (default: a typical one per provider)")
	body := fs.String("body", "", "raw body (default: a small realistic payload)")
	forge := fs.Bool("forge", false, "sign with a wrong secret, to see a 401")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("send: name one provider")
	}
	name := fs.Arg(0)
	var ep *endpoint
	for i := range endpoints {
		if endpoints[i].name == name {
			ep = &endpoints[i]
		}
	}
	if ep == nil {
		return fmt.Errorf("send: unknown provider %q", name)
	}
	if *base == "" {
		*base = defaultBase(os.Getenv("ADDR"))
	}
	secret := ep.secret(os.Getenv, nil)
	if *forge {
		secret = forged(name)
	}
	req, err := build(name, strings.TrimSuffix(*base, "/")+ep.path, secret, *id, *typ, *body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line := fmt.Sprintf("%s %s -> %s", name, req.URL.Path, resp.Status)
	// The body of a refusal is its status text: print it once.
	if text := strings.TrimSpace(string(answer)); text != "" && text != http.StatusText(resp.StatusCode) {
		line += " " + text
	}
	fmt.Fprintln(stdout, line)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s", errNotAccepted, resp.Status)
	}
	return nil
}

// errNotAccepted is send's error for an answer other than 2xx: the
// quickstart exits 1, so scripts can tell.
var errNotAccepted = errors.New("send: delivery not accepted")

func defaultBase(addr string) string {
	port := "8080"
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && i+1 < len(addr) {
		port = addr[i+1:]
	}
	return "http://127.0.0.1:" + port
}

func forged(provider string) string {
	if provider == "standard" {
		return "whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0"
	}
	return "forged-secret"
}

func randomID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// build returns a delivery signed exactly as the provider signs it.
func build(provider, target, secret, id, typ, body string) (*http.Request, error) {
	now := time.Now()
	switch provider {
	case "github":
		if id == "" {
			id = github.NewDeliveryID() // a GUID, as GitHub sends
		}
		if typ == "" {
			typ = "issues"
		}
		if body == "" {
			// GitHub events are deduplicated by a hash of their body: a
			// unique node_id makes each default delivery a new event.
			body = fmt.Sprintf(`{"action":"opened","issue":{"number":1,"node_id":%q,"title":"Found a bug"},"repository":{"full_name":"octo/hello"}}`, randomID("I_"))
		}
		return github.NewRequest(target, secret, typ, id, []byte(body)), nil
	case "stripe":
		if id == "" {
			id = randomID("evt_")
		}
		if typ == "" {
			typ = "invoice.paid"
		}
		if body == "" {
			body = fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2024-06-20","type":%q,"data":{"object":{"id":"in_123","object":"invoice","amount_paid":2000}}}`, id, typ)
		}
		return stripe.NewRequest(target, secret, now, []byte(body)), nil
	case "slack":
		if id == "" {
			id = randomID("Ev")
		}
		if typ == "" {
			typ = "app_mention"
		}
		if body == "" {
			body = fmt.Sprintf(`{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":%q,"event_time":%d,"event":{"type":%q,"user":"U1","text":"hello","ts":"1.2","channel":"C1"}}`, id, now.Unix(), typ)
		}
		return slack.NewRequest(target, secret, now, []byte(body), "application/json"), nil
	case "standard":
		if id == "" {
			id = randomID("msg_")
		}
		if typ == "" {
			typ = "user.created"
		}
		if body == "" {
			body = fmt.Sprintf(`{"type":%q,"timestamp":%q,"data":{"id":"user_1","email":"ada@example.com"}}`, typ, now.UTC().Format(time.RFC3339))
		}
		if _, err := standardwebhooks.New(secret); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		return standardwebhooks.NewRequest(target, secret, id, now, []byte(body)), nil
	}
	return nil, fmt.Errorf("send: unknown provider %q", provider)
}
