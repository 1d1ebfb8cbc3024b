package structcheck

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	secretToken = "sk_live_51HxQzSECRETtoken"
	secretCard  = "4111111111111111"
	secretMail  = "ada.lovelace@example.com"
)

type inner struct {
	Email string `json:"email" validate:"required,email"`
}

type payload struct {
	Data  inner     `json:"data"`
	Token string    `json:"token" validate:"omitempty,len=4"`
	Code  string    `json:"code" validate:"omitempty,oneof=a b"`
	Count int8      `json:"count"`
	At    time.Time `json:"at"`
}

// Struct-tag failures name the field and the rule, never the value: neither
// validator's own message nor Reason.
func TestCheckNamesFieldAndTagOnly(t *testing.T) {
	p := payload{Data: inner{Email: secretToken}, Token: secretCard, Code: secretMail}
	err := Check(p)
	require.Error(t, err)
	for _, s := range []string{secretToken, secretCard, secretMail} {
		assert.NotContains(t, err.Error(), s, "validator's message")
		assert.NotContains(t, Reason(err), s, "Reason")
	}
	assert.Equal(t, `field "data.email" failed the "email" rule; field "token" failed the "len" rule; field "code" failed the "oneof" rule`, Reason(err))
	require.NoError(t, Check(payload{Data: inner{Email: "a@example.com"}}))
	require.NoError(t, Check(42))
	require.NoError(t, Check((*payload)(nil)))
}

func TestDecodeReasonQuotesNoValue(t *testing.T) {
	tests := []struct{ name, body, secret, want string }{
		{"number overflow", `{"count":` + secretCard + `}`, secretCard, `field "count": expected int8, got number`},
		{"string into int", `{"count":"` + secretToken + `"}`, secretToken, `field "count": expected int8, got string`},
		{"time", `{"at":"` + secretMail + `"}`, secretMail, "a value does not decode into its field's type"},
		{"syntax", `{"count":` + secretToken + `}`, secretToken, "invalid JSON at byte 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p payload
			err := json.Unmarshal([]byte(tt.body), &p)
			require.Error(t, err)
			if tt.name == "number overflow" || tt.name == "time" { // encoding/json quotes these values itself
				require.Contains(t, err.Error(), tt.secret)
			}
			assert.NotContains(t, DecodeReason(err), tt.secret)
			assert.Equal(t, tt.want, DecodeReason(err))
		})
	}
}

func TestReasonIsBounded(t *testing.T) {
	type many struct {
		A []inner `json:"a" validate:"dive"`
	}
	m := many{A: make([]inner, 1000)}
	r := Reason(Check(m))
	assert.LessOrEqual(t, len(r), maxReason+len("…"))
	assert.True(t, strings.HasPrefix(r, `field "a[0].email" failed the "required" rule`), r)
}
