package declare

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

// The public types mirror the kit's, field for field: a field added to the
// kit must be added here (and to kit() and fromKit), or users cannot
// declare it.
func TestTypesMirrorTheKit(t *testing.T) {
	for _, pair := range [][2]any{
		{Scheme{}, kit.Scheme{}},
		{Signature{}, kit.Signature{}},
		{Timestamp{}, kit.Timestamp{}},
		{Field{}, kit.Field{}},
		{Envelope{}, kit.Envelope{}},
	} {
		ours, theirs := reflect.TypeOf(pair[0]), reflect.TypeOf(pair[1])
		assert.Equal(t, exported(theirs), exported(ours), "fields of %s", ours.Name())
	}
}

func exported(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return names
}

// Every field survives the conversion to the kit's declaration and back.
func TestConversionRoundTrip(t *testing.T) {
	s := &Scheme{
		Name:      "full",
		Algorithm: HMACSHA512,
		Signature: Signature{Header: "X-Sig", Encoding: verify.Base64URL, Prefix: "v1=", Aliases: []string{"X-Sig-2"}, Sep: ","},
		Timestamp: &Timestamp{Field: "t=", Format: UnixMilli, Tolerance: time.Minute, Unchecked: true},
		Message:   []Piece{Method, URL, Lit("."), HeaderPiece("X-Id"), Time, Body},
		Key:       Base64Key,
		Envelope: Envelope{
			ID:      Field{Header: "X-Id", Required: true},
			Type:    Field{JSON: []string{"a", "b"}, Number: true},
			Version: Field{BodyHash: true},
		},
		Families: []HeaderFamily{{"X-Sig": "X-Other-Sig"}},
	}
	k := s.kit()
	assert.Equal(t, kit.HMACSHA512, k.Algorithm)
	assert.Equal(t, kit.UnixMilli, k.Timestamp.Format)
	assert.Equal(t, []kit.Piece{kit.Method, kit.URL, kit.Lit("."), kit.HeaderPiece("X-Id"), kit.Time, kit.Body}, k.Message)
	back := fromKit(k)
	require.NotNil(t, back.Key)
	assert.Equal(t, reflect.ValueOf(s.Key).Pointer(), reflect.ValueOf(back.Key).Pointer())
	back.Key, k.Key = nil, nil
	want := *s
	want.Key = nil
	assert.Equal(t, &want, back)

	assert.Equal(t,
		[]kit.Algorithm{kit.HMACSHA256, kit.HMACSHA1, kit.HMACSHA512, kit.Ed25519, kit.Token, kit.Basic},
		[]kit.Algorithm{kit.Algorithm(HMACSHA256), kit.Algorithm(HMACSHA1), kit.Algorithm(HMACSHA512), kit.Algorithm(Ed25519), kit.Algorithm(Token), kit.Algorithm(Basic)})
	assert.Equal(t, [3]TimeFormat{TimeFormat(kit.Unix), TimeFormat(kit.UnixMilli), TimeFormat(kit.RFC3339)}, [3]TimeFormat{Unix, UnixMilli, RFC3339})
}
