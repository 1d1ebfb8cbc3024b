package jsonscan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encoding/json matches a struct field's name to an object key exactly or,
// failing that, case-insensitively with its own folding (ASCII case, plus
// the Unicode simple folds, so "K" (U+212A) folds to "k" and "ſ" (U+017F)
// to "s"), and the last matching key wins. A key the scanner looks up must
// therefore be unambiguous under that folding.
func TestGetCaseFoldedKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		path []string
		want error
	}{
		{"id and ID", `{"id":"evt_1","ID":"evt_2"}`, []string{"id"}, ErrDuplicateKey},
		{"ID and id", `{"ID":"evt_2","id":"evt_1"}`, []string{"id"}, ErrDuplicateKey},
		{"type twice", `{"type":"a","type":"b"}`, []string{"type"}, ErrDuplicateKey},
		{"type and Type", `{"type":"a","Type":"b"}`, []string{"type"}, ErrDuplicateKey},
		{"escaped upper", `{"id":"a","\u0049D":"b"}`, []string{"id"}, ErrDuplicateKey},
		{"kelvin sign", `{"kind":"a","Kind":"b"}`, []string{"kind"}, ErrDuplicateKey},
		{"kelvin sign escaped", `{"kind":"a","\u212aind":"b"}`, []string{"kind"}, ErrDuplicateKey},
		{"long s", `{"status":"a","ſtatus":"b"}`, []string{"status"}, ErrDuplicateKey},
		{"non-ASCII fold", `{"é":"a","É":"b"}`, []string{"é"}, ErrDuplicateKey},
		{"nested", `{"event":{"type":"a","TYPE":"b"}}`, []string{"event", "type"}, ErrDuplicateKey},
		{"intermediate", `{"event":{"type":"a"},"Event":{"user":"u"}}`, []string{"event", "type"}, ErrDuplicateKey},
		{"lone variant", `{"ID":"evt_2"}`, []string{"id"}, ErrKeyCase},
		{"lone kelvin variant", `{"Kind":"b"}`, []string{"kind"}, ErrKeyCase},
		{"lone escaped variant", `{"\u0049d":"b"}`, []string{"id"}, ErrKeyCase},
		{"lone intermediate variant", `{"EVENT":{"type":"a"}}`, []string{"event", "type"}, ErrKeyCase},
		{"longer key is no match", `{"idx":"a","Idx":"b","id":"c"}`, []string{"id"}, nil},
		{"ſ is not a match for t", `{"ſd":"a","id":"c"}`, []string{"id"}, nil},
		{"unrelated case variants", `{"x":1,"X":2,"id":"c"}`, []string{"id"}, nil},
		{"invalid UTF-8 key", "{\"\xffd\":1,\"id\":\"c\"}", []string{"id"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, json.Valid([]byte(tt.doc)), "test bug: invalid JSON")
			_, _, err := Get([]byte(tt.doc), tt.path...)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// The differences the ambiguity rules exist for: encoding/json decodes the
// other spelling into a struct field, and the last duplicate wins.
func TestEncodingJSONFoldsKeys(t *testing.T) {
	var v struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"id":"a","ID":"b","Kind":"k"}`), &v))
	assert.Equal(t, "b", v.ID)
	assert.Equal(t, "k", v.Kind)
}

// TestKeyMatchAgreesWithEncodingJSON checks keyMatch against encoding/json
// itself on keys that fold in every way the decoder knows.
func TestKeyMatchAgreesWithEncodingJSON(t *testing.T) {
	keys := []string{"id", "ID", "Id", "iD", "\\u0069d", "\\u0049\\u0044", "idx", "i", "",
		"kind", "Kind", "KIND", "\\u212aind", "status", "ſtatus", "STATUS", "\\u017ftatus",
		"é", "É", "\\u00c9", "ǅ", "ǆ", "Ǆ", "\xff", "a\\ud800", "\\ud83d\\ude00", "😀"}
	wants := []string{"id", "kind", "status", "é", "ǅ", "\ufffd", "a\ufffd", "😀"}
	for _, want := range wants {
		for _, key := range keys {
			doc := []byte(`{"` + key + `":"v"}`)
			require.True(t, json.Valid(doc), "key %q", key)
			match, exact := keyMatch([]byte(key), want)
			if !containsEscape(key) && isASCII([]byte(key)) && allASCII([]string{want}) {
				m2, e2 := asciiKeyMatch([]byte(key), want)
				assert.Equal(t, match, m2, "key %q want %q: the ASCII path disagrees", key, want)
				assert.Equal(t, exact, e2, "key %q want %q: the ASCII path disagrees on exactness", key, want)
			}
			if validTag(want) {
				// A tag encoding/json does not take (U+FFFD, an emoji) names
				// no field: only the map comparison below applies to it.
				got := decodeField(t, doc, want)
				assert.Equal(t, got, match, "key %q want %q: encoding/json decodes=%v, keyMatch=%v", key, want, got, match)
			}
			var m map[string]string
			require.NoError(t, json.Unmarshal(doc, &m))
			_, inMap := m[want]
			assert.Equal(t, inMap, match && exact, "key %q want %q: exact", key, want)
		}
	}
}

func containsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return true
		}
	}
	return false
}

// decodeField reports whether encoding/json decodes doc's key into a struct
// field whose tag is name.
func decodeField(t *testing.T, doc []byte, name string) bool {
	t.Helper()
	typ := reflect.StructOf([]reflect.StructField{{
		Name: "V", Type: reflect.TypeFor[*json.RawMessage](), Tag: reflect.StructTag(`json:"` + name + `"`),
	}})
	v := reflect.New(typ)
	require.NoError(t, json.Unmarshal(doc, v.Interface()), "decode %s", doc)
	return !v.Elem().Field(0).IsNil()
}

func TestErrKeyCaseIsDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrKeyCase, ErrDuplicateKey))
	assert.NotContains(t, ErrKeyCase.Error(), "ID")
}

// validTag is encoding/json's isValidTag: a tag name of letters, digits and
// some punctuation; any other names no field.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
