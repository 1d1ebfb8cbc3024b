package jsonscan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzGet checks that the scanner never panics, accepts exactly what
// encoding/json accepts (save for the documented depth and duplicate-key
// limits), and agrees with encoding/json on the string values of top-level
// and nested keys.
func FuzzGet(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"a.b","event":{"type":"x","n":[1,2,{"a":null}]}}`,
		`{"id":"\u0069\ud83d\ude00","\u0069d2":"\ud800","x":"\xff"}`,
		`{"a":{"b":{"c":"d"}},"e":[true,false,null,-0.5e10]}`,
		`{"id":"a","id":"b"}`,
		`{"id":"a","ID":"b"}`,
		`{"ID":"b","event":{"type":"x","Type":"y"}}`,
		`{"\u212aind":"a","kind":"b","ſtatus":"c"}`,
		`[[[[[[]]]]]]`,
		`{"a" : "b" , "c" : { } }`,
		`{"a":"\"\\\/\b\f\n\r\t"}`,
		`{"a":1}x`,
		`{"a":01}`,
		`"just a string"`,
		``,
		string(realisticBody(1024)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _, err := Get(doc)
		limited := errors.Is(err, ErrDepth)
		if !limited {
			require.Equal(t, json.Valid(doc), err == nil, "json.Valid vs Get() err = %v", err)
		}
		var m map[string]any
		if json.Unmarshal(doc, &m) != nil || m == nil {
			return
		}
		for k, v := range m {
			checkKey(t, doc, v, k)
			if inner, ok := v.(map[string]any); ok {
				for k2, v2 := range inner {
					checkKey(t, doc, v2, k, k2)
				}
			}
		}
	})
}

func checkKey(t *testing.T, doc []byte, want any, path ...string) {
	t.Helper()
	raw, found, err := Get(doc, path...)
	if errors.Is(err, ErrDuplicateKey) || errors.Is(err, ErrKeyCase) || errors.Is(err, ErrDepth) {
		return
	}
	require.NoError(t, err, "Get(%q); encoding/json found %v", path, want)
	require.True(t, found, "Get(%q); encoding/json found %v", path, want)
	var std any
	require.NoError(t, json.Unmarshal(raw, &std), "Get(%q) raw %q does not decode", path, raw)
	if s, ok := want.(string); ok {
		got, err := String(raw)
		require.NoError(t, err, "String(Get(%q))", path)
		require.Equal(t, s, got, "String(Get(%q))", path)
	} else {
		_, err := String(raw)
		require.ErrorIs(t, err, ErrNotString, "String of non-string %q", raw)
	}
}

// FuzzGetMatchesDecoder is the differential check behind the ambiguity
// rules: whenever Get returns a value for a key (top-level or one level
// down) without error, encoding/json decoding the document into a struct
// with a field of that name, and into a map, reads the same value; and when
// Get finds nothing, neither decoder does.
func FuzzGetMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"a.b"}`,
		`{"id":"evt_1","ID":"evt_2","type":"a","type":"b"}`,
		`{"Id":"x"}`,
		`{"\u0069d":"x","\u0049d":"y"}`,
		`{"kind":"a","\u212aind":"b"}`,
		`{"\u212aind":"b"}`,
		`{"status":1,"ſtatus":2}`,
		`{"event":{"type":"x"},"Event":{"type":"y"}}`,
		`{"event":{"type":"x","TYPE":"y"},"event_id":"Ev1"}`,
		`{"event":null,"id":null}`,
		`{"event":"str","id":[1,{"id":2}]}`,
		`{"é":1,"É":2}`,
		"{\"\xffd\":1,\"id\":\"\xff\"}",
		`[{"id":1}]`,
		`"id"`,
		string(realisticBody(512)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		keys := []string{"id", "type", "event", "kind", "status", "é"}
		var top map[string]json.RawMessage
		if json.Unmarshal(doc, &top) == nil {
			for k := range top {
				keys = append(keys, k, strings.ToUpper(k), strings.ToLower(k))
			}
		}
		for _, k := range keys {
			if !validTag(k) {
				continue
			}
			compareDecoders(t, doc, k)
			for _, k2 := range []string{"type", "id", "Type"} {
				compareDecoders(t, doc, k, k2)
			}
		}
	})
}

// compareDecoders checks Get(doc, path...) against encoding/json.
func compareDecoders(t *testing.T, doc []byte, path ...string) {
	t.Helper()
	raw, found, err := Get(doc, path...)
	if err != nil {
		require.True(t, errors.Is(err, ErrDuplicateKey) || errors.Is(err, ErrKeyCase) || errors.Is(err, ErrDepth),
			"Get(%q) on valid JSON: %v", path, err)
		return
	}
	// The struct decoder: struct{ V json.RawMessage `json:"a"` }, or for a
	// path a.b, struct{ V struct{ V json.RawMessage `json:"b"` } `json:"a"` }.
	typ := reflect.TypeFor[json.RawMessage]()
	for i := len(path) - 1; i >= 0; i-- {
		typ = reflect.StructOf([]reflect.StructField{{
			Name: "V", Type: typ, Tag: reflect.StructTag(`json:"` + path[i] + `"`),
		}})
	}
	v := reflect.New(typ)
	if json.Unmarshal(doc, v.Interface()) != nil {
		return // not an object, or a type mismatch on the way: no field to compare
	}
	field := v.Elem()
	for range path {
		field = field.Field(0)
	}
	got := field.Interface().(json.RawMessage)
	// Compared as strings: bytes.Equal semantics (nil equals empty).
	require.Equal(t, got != nil, found, "Get(%q): found vs encoding/json struct field", path)
	require.Equal(t, string(got), string(raw), "Get(%q) vs encoding/json struct field", path)
	if len(path) == 1 {
		var m map[string]json.RawMessage
		if json.Unmarshal(doc, &m) == nil {
			mv, ok := m[path[0]]
			require.Equal(t, ok, found, "Get(%q): found vs encoding/json map entry", path)
			require.Equal(t, string(mv), string(raw), "Get(%q) vs encoding/json map entry", path)
		}
	}
	if found {
		if s, err := String(raw); err == nil {
			var std string
			require.NoError(t, json.Unmarshal(raw, &std), "String(%q)", raw)
			require.Equal(t, std, s, "String(%q) vs encoding/json", raw)
		}
	}
}
