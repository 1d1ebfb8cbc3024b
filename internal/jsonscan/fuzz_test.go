package jsonscan

import (
	"encoding/json"
	"errors"
	"testing"
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
		if valid := json.Valid(doc); valid != (err == nil) && !limited {
			t.Fatalf("json.Valid = %v, Get() err = %v", valid, err)
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
	if errors.Is(err, ErrDuplicateKey) || errors.Is(err, ErrDepth) {
		return
	}
	if err != nil || !found {
		t.Fatalf("Get(%q) = %v, %v; encoding/json found %v", path, found, err, want)
	}
	var std any
	if err := json.Unmarshal(raw, &std); err != nil {
		t.Fatalf("Get(%q) raw %q does not decode: %v", path, raw, err)
	}
	if s, ok := want.(string); ok {
		got, err := String(raw)
		if err != nil || got != s {
			t.Fatalf("String(Get(%q)) = %q, %v; encoding/json %q", path, got, err, s)
		}
	} else if _, err := String(raw); !errors.Is(err, ErrNotString) {
		t.Fatalf("String of non-string %q: err = %v", raw, err)
	}
}
