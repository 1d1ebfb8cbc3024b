package receiver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// A payload failing receiver.On's decoding or struct tags is dead-lettered
// with a reason naming the field and the rule or type, never the value
// (an email address, a card number, a token).
func TestTypedReasonsQuoteNoValues(t *testing.T) {
	type user struct {
		Email string    `json:"email" validate:"required,email"`
		Card  int32     `json:"card"`
		At    time.Time `json:"at"`
	}
	const (
		mail  = "ada.lovelace@example.com"
		card  = "4111111111111111"
		token = "sk_live_51HxQzSECRETtoken"
	)
	tests := []struct{ name, body, secret, want string }{
		{"validate tag", `{"email":"` + token + `"}`, token, `validate: field "email" failed the "email" rule`},
		{"number overflow", `{"email":"a@example.com","card":` + card + `}`, card, `decode: field "card": expected int32, got number`},
		{"time field", `{"email":"a@example.com","at":"` + mail + `"}`, mail, "decode: a value does not decode into its field's type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := receiver.Typed(func(context.Context, *receiver.Event, user) error { called = true; return nil })
			err := h.HandleEvent(context.Background(), &receiver.Event{Provider: "p", ID: "e1", Type: "user.created", Body: []byte(tt.body)})
			require.Error(t, err)
			assert.False(t, called)
			assert.True(t, errors.Is(err, receiver.ErrInvalidPayload))
			assert.True(t, errors.Is(err, receiver.ErrPermanent))
			assert.NotContains(t, err.Error(), tt.secret)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
