package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// Payload values must not reach logs or dead-letter reasons: by default a
// ValidationError names pointers, keywords and what the schema asked for,
// and quotes no value, in Error(), ProblemJSON() and its problems.

const (
	secretEmail = "ada.lovelace@example.com"
	secretToken = "sk_live_51HxQzSECRETtoken"
	secretCard  = "4111111111111111"
)

// assertNoLeak checks every rendering of err for each of the values.
func assertNoLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	require.Error(t, err)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	asJSON, jerr := json.Marshal(ve)
	require.NoError(t, jerr)
	for _, v := range values {
		assert.NotContains(t, err.Error(), v, "Error()")
		assert.NotContains(t, string(ve.ProblemJSON()), v, "ProblemJSON()")
		assert.NotContains(t, string(asJSON), v, "JSON")
		for _, p := range ve.Problems {
			assert.NotContains(t, p.Message, v, "Problem.Message")
			assert.NotContains(t, p.Pointer, v, "Problem.Pointer")
			assert.NotContains(t, p.Keyword, v, "Problem.Keyword")
		}
	}
}

func TestValidationErrorsQuoteNoValues(t *testing.T) {
	tests := []struct {
		name, schema, body string
		secret             string
		keyword            string
		leaksWithOptIn     bool // the validator's own message quotes the value
	}{
		{"format email", `{"properties":{"email":{"format":"email"}}}`, `{"email":"` + secretToken + `"}`, secretToken, "format", true},
		{"format date-time", `{"properties":{"at":{"format":"date-time"}}}`, `{"at":"` + secretEmail + `"}`, secretEmail, "format", true},
		{"maximum", `{"properties":{"n":{"maximum":10}}}`, `{"n":` + secretCard + `}`, secretCard, "maximum", true},
		{"exclusiveMinimum", `{"properties":{"n":{"exclusiveMinimum":0}}}`, `{"n":-` + secretCard + `}`, secretCard, "exclusiveMinimum", true},
		{"multipleOf", `{"properties":{"n":{"multipleOf":2}}}`, `{"n":` + secretCard + `1}`, secretCard, "multipleOf", true},
		{"additionalProperties", `{"additionalProperties":false}`, `{"` + secretToken + `":1}`, secretToken, "additionalProperties", true},
		{"pattern", `{"properties":{"s":{"pattern":"^[0-9]+$"}}}`, `{"s":"` + secretToken + `"}`, secretToken, "pattern", false},
		{"enum", `{"properties":{"s":{"enum":["a","b"]}}}`, `{"s":"` + secretToken + `"}`, secretToken, "enum", false},
		{"const", `{"properties":{"s":{"const":"a"}}}`, `{"s":"` + secretToken + `"}`, secretToken, "const", false},
		{"type", `{"properties":{"n":{"type":"integer"}}}`, `{"n":"` + secretToken + `"}`, secretToken, "type", false},
		{"maxLength", `{"properties":{"s":{"maxLength":3}}}`, `{"s":"` + secretToken + `"}`, secretToken, "maxLength", false},
		{"uniqueItems", `{"properties":{"s":{"uniqueItems":true}}}`, `{"s":["` + secretToken + `","` + secretToken + `"]}`, secretToken, "uniqueItems", false},
		{"not", `{"properties":{"s":{"not":{"type":"string"}}}}`, `{"s":"` + secretToken + `"}`, secretToken, "not", false},
		{"required", `{"required":["id"]}`, `{"email":"` + secretEmail + `"}`, secretEmail, "required", false},
		{"malformed JSON", `{}`, `{"s":"` + secretToken + `",}`, secretToken, "json", false},
		{"malformed JSON, bad literal", `{}`, `{"s":` + secretToken + `}`, "'s'", "json", true},
		{"trailing data", `{}`, `{"s":1}` + secretToken, secretToken, "json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := mapFS(map[string]string{"p/t/_.json": tt.schema})
			quiet, err := New(fsys)
			require.NoError(t, err)
			verbose, err := New(fsys, WithValuesInErrors())
			require.NoError(t, err)
			e := &receiver.Event{Provider: "p", Type: "t", Body: []byte(tt.body)}

			err = quiet.Validate(context.Background(), e)
			assertNoLeak(t, err, tt.secret)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Problems)
			assert.Equal(t, tt.keyword, ve.Problems[0].Keyword)
			assert.NotEmpty(t, ve.Problems[0].Message)

			// The opt-in restores the validator's words, value included.
			verr := verbose.Validate(context.Background(), e)
			require.Error(t, verr)
			if tt.leaksWithOptIn {
				assert.Contains(t, verr.Error(), tt.secret, "WithValuesInErrors quotes the value")
				assert.Contains(t, string(asValidation(t, verr).ProblemJSON()), tt.secret)
			}
		})
	}
}

func TestSafeMessagesSayWhatTheSchemaWants(t *testing.T) {
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": `{"required":["id"],"properties":{
		"email":{"format":"email"},"n":{"maximum":10},"m":{"multipleOf":3},"s":{"type":"string"}}}`}))
	ve := asValidation(t, validate(r, "p", "t", "", `{"email":"x","n":11,"m":4,"s":1}`))
	got := map[string]string{}
	for _, p := range ve.Problems {
		got[p.Pointer+" "+p.Keyword] = p.Message
	}
	assert.Equal(t, map[string]string{
		" required":     "missing properties: 'id'",
		"/email format": "not a valid email",
		"/n maximum":    "must be <= 10",
		"/m multipleOf": "not multipleOf 3",
		"/s type":       "expected string, but got number",
	}, got)
}

func TestBundledQuickstartReasonHasNoEmail(t *testing.T) {
	reg := Bundled()
	e := &receiver.Event{Provider: "standard", Type: "user.created", Version: "v1",
		Body: []byte(`{"type":"user.created","timestamp":"2024-01-01T00:00:00Z","data":{"id":"u1","email":"` + secretToken + `"}}`)}
	err := reg.Validate(context.Background(), e)
	assertNoLeak(t, err, secretToken)
	assert.Equal(t, "schema: standard user.created v1: /data/email: format: not a valid email", err.Error())
}

func TestOverlongPointersAndVersionsAreBounded(t *testing.T) {
	key := strings.Repeat("k", 10000)
	r := mustNew(t, mapFS(map[string]string{"p/t/_.json": `{"additionalProperties":{"type":"string"}}`}),
		WithVersionResolver(FromField("version")))
	ve := asValidation(t, validate(r, "p", "t", "", `{"version":"`+strings.Repeat("v", 10000)+`","`+key+`":1}`))
	require.NotEmpty(t, ve.Problems)
	for _, p := range ve.Problems {
		assert.LessOrEqual(t, len(p.Pointer), maxMessage)
	}
	assert.LessOrEqual(t, len(ve.Version), maxMessage)
	assert.Less(t, len(ve.Error()), 4*maxMessage)
}

// Versioned: struct tags (validator) and decoding into the handler's type
// name the field and the rule, never the value.
func TestVersionedErrorsQuoteNoValues(t *testing.T) {
	type payload struct {
		Email string    `json:"email" validate:"required,email"`
		Token string    `json:"token" validate:"omitempty,len=4"`
		Count int8      `json:"count"`
		At    time.Time `json:"at"`
		Name  string    `json:"name"`
	}
	tests := []struct {
		name, body, secret, pointer, keyword string
	}{
		{"email tag", `{"email":"` + secretToken + `"}`, secretToken, "/email", "email"},
		{"len tag", `{"email":"a@example.com","token":"` + secretToken + `"}`, secretToken, "/token", "len"},
		{"number overflow", `{"email":"a@example.com","count":` + secretCard + `}`, secretCard, "/count", "type"},
		{"string into int", `{"email":"a@example.com","count":"` + secretToken + `"}`, secretToken, "/count", "type"},
		{"time parse", `{"email":"a@example.com","at":"` + secretEmail + `"}`, secretEmail, "", "type"},
	}
	for _, values := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/values=%v", tt.name, values), func(t *testing.T) {
				var opts []Option
				if values {
					opts = append(opts, WithValuesInErrors())
				}
				reg := mustNew(t, mapFS(map[string]string{"acme/user.created/v1.json": `{"type":"object"}`}), opts...)
				called := false
				h := Versioned(reg, "acme", "v1", func(context.Context, *receiver.Event, payload) error { called = true; return nil })
				err := h.HandleEvent(context.Background(), &receiver.Event{Provider: "acme", Type: "user.created", Version: "v1", Body: []byte(tt.body)})
				require.Error(t, err)
				assert.False(t, called)
				assert.True(t, errors.Is(err, receiver.ErrPermanent))
				var ve *ValidationError
				require.ErrorAs(t, err, &ve)
				require.Len(t, ve.Problems, 1)
				assert.Equal(t, tt.keyword, ve.Problems[0].Keyword)
				assert.Equal(t, tt.pointer, ve.Problems[0].Pointer)
				if !values || tt.keyword != "type" {
					assertNoLeak(t, err, tt.secret) // struct tags never quote, even with the opt-in
				}
			})
		}
	}
}
