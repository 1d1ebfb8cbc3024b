package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/schema"
)

func ExampleRegistry_Validate() {
	reg := schema.Bundled()
	e := &receiver.Event{
		Provider: "standard",
		Type:     "user.created",
		Version:  "v1",
		Body:     []byte(`{"type":"user.created","timestamp":"2024-06-20T10:00:00Z","data":{"id":"u_1","email":"x"}}`),
	}
	err := reg.Validate(context.Background(), e)
	fmt.Println(err)
	fmt.Println(errors.Is(err, receiver.ErrInvalidPayload))

	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Problems[0].Pointer, ve.Problems[0].Keyword)
	}

	e.Body = []byte(`{"type":"user.created","timestamp":"2024-06-20T10:00:00Z","data":{"id":"u_1","email":"ada@example.com"}}`)
	fmt.Println(reg.Validate(context.Background(), e))
	// Output:
	// schema: standard user.created v1: /data/email: format: not a valid email
	// true
	// /data/email format
	// <nil>
}

// UserV2 is the payload a handler written for version v2 receives.
type UserV2 struct {
	ID    string `json:"id" validate:"required"`
	Email string `json:"email" validate:"required,email"`
	Name  struct {
		Given  string `json:"given"`
		Family string `json:"family"`
	} `json:"name"`
}

func ExampleVersioned() {
	// v2 split v1's "name" string into given and family names.
	schemas := fstest.MapFS{
		"acme/user.created/v2.json": {Data: []byte(`{
			"type": "object",
			"required": ["id", "email", "name"],
			"properties": {"name": {"type": "object", "required": ["given"]}}
		}`)},
	}
	reg, err := schema.New(schemas,
		schema.WithProviderVersionResolver("acme", schema.FirstOf(schema.FromHeader("Acme-Version"), schema.Default("v1"))))
	if err != nil {
		panic(err)
	}
	reg.RegisterUpgrader("acme", "user.*", "v1", "v2", func(in json.RawMessage) (json.RawMessage, error) {
		var u map[string]any
		if err := json.Unmarshal(in, &u); err != nil {
			return nil, err
		}
		full, _ := u["name"].(string)
		given, family, _ := strings.Cut(full, " ")
		u["name"] = map[string]any{"given": given, "family": family}
		return json.Marshal(u)
	})

	h := schema.Versioned(reg, "acme", "v2", func(_ context.Context, e *receiver.Event, u UserV2) error {
		fmt.Printf("%s %s: %s %s <%s>\n", e.Type, e.Version, u.Name.Given, u.Name.Family, u.Email)
		return nil
	})

	// A v1 delivery (no Acme-Version header) reaches the v2 handler converted.
	err = h.HandleEvent(context.Background(), &receiver.Event{
		Provider: "acme", Type: "user.created",
		Body: []byte(`{"id":"u_1","email":"ada@example.com","name":"Ada Lovelace"}`),
	})
	fmt.Println(err)

	// An invalid one is a permanent failure.
	err = h.HandleEvent(context.Background(), &receiver.Event{
		Provider: "acme", Type: "user.created",
		Body: []byte(`{"id":"u_2","email":"not-an-email","name":"Grace Hopper"}`),
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, receiver.ErrInvalidPayload), errors.Is(err, receiver.ErrPermanent))
	// Output:
	// user.created v2: Ada Lovelace <ada@example.com>
	// <nil>
	// schema: acme user.created v2: /email: email: failed the "email" rule
	// true true
}
