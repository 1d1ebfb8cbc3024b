package form

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPayload(t *testing.T) {
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	doc, err := Payload(http.Header{"Content-Type": {"application/json"}}, []byte(`payload=x`))
	require.NoError(t, err)
	assert.Equal(t, `payload=x`, string(doc), "a JSON delivery is its body")

	doc, err = Payload(formHeader, []byte(`payload=%7B%22a%22%3A1%7D`))
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(doc))

	for _, body := range []string{``, `other=1`, `payload=1&other=2`, `payload=1&payload=2`, `payload=%zz`, `payload=1;x`} {
		_, err := Payload(formHeader, []byte(body))
		assert.ErrorIs(t, err, ErrPayload, body)
	}
}

func FuzzPayload(f *testing.F) {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, s := range []string{`payload=%7B%7D`, `payload=1&payload=2`, `a=b`, `%`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := Payload(h, []byte(body))
		if err != nil {
			assert.ErrorIs(t, err, ErrPayload)
			return
		}
		assert.LessOrEqual(t, len(doc), len(body))
	})
}
