package redisq

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/hookwise/hookwise/receiver"
)

// entry turns XADD arguments into the field map go-redis returns on read.
func entry(t testing.TB, args []any) map[string]any {
	t.Helper()
	m := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		var v string
		switch x := args[i+1].(type) {
		case string:
			v = x
		case []byte:
			v = string(x)
		default:
			t.Fatalf("field %v has type %T", args[i], x)
		}
		m[args[i].(string)] = v
	}
	return m
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *receiver.Event
		want *receiver.Event
	}{
		{"full", testEvent(1), testEvent(1)},
		{
			name: "zero values",
			in:   &receiver.Event{},
			want: &receiver.Event{Header: http.Header{}, Body: []byte{}, Attempt: 1},
		},
		{
			name: "binary body and later attempt",
			in:   &receiver.Event{Provider: "p", ID: "x", Body: []byte{0, 0xff, '\n'}, Attempt: 7, ReceivedAt: time.Unix(1, 5).In(time.FixedZone("x", 3600))},
			want: &receiver.Event{Provider: "p", ID: "x", Header: http.Header{}, Body: []byte{0, 0xff, '\n'}, Attempt: 7, ReceivedAt: time.Unix(1, 5).UTC()},
		},
	}
	for _, tt := range tests {
		for _, format := range []struct {
			name   string
			encode func(*receiver.Event) ([]any, error)
		}{{"format 2", encode}, {"format 1", encodeV1}} {
			t.Run(tt.name+"/"+format.name, func(t *testing.T) {
				args, err := format.encode(tt.in)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decode(entry(t, args))
				if err != nil {
					t.Fatalf("decode = %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decode(encode(e)) = %+v, want %+v", got, tt.want)
				}
			})
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := func() map[string]any {
		args, _ := encodeV1(testEvent(1))
		return entry(t, args)
	}
	tests := []struct {
		name   string
		modify func(m map[string]any)
	}{
		{"missing id", func(m map[string]any) { delete(m, fieldID) }},
		{"missing version", func(m map[string]any) { delete(m, fieldVersion) }},
		{"unknown version", func(m map[string]any) { m[fieldVersion] = "2" }},
		{"non-string", func(m map[string]any) { m[fieldBody] = 5 }},
		{"bad time", func(m map[string]any) { m[fieldReceivedAt] = "yesterday" }},
		{"bad header", func(m map[string]any) { m[fieldHeader] = "[1]" }},
		{"zero attempt", func(m map[string]any) { m[fieldAttempt] = "0" }},
		{"huge attempt", func(m map[string]any) { m[fieldAttempt] = "99999999999" }},
		{"text attempt", func(m map[string]any) { m[fieldAttempt] = "two" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.modify(m)
			if _, err := decode(m); !errors.Is(err, ErrMalformedEntry) {
				t.Errorf("decode = %v, want ErrMalformedEntry", err)
			}
			if e := partialEvent(m); e == nil || e.Attempt < 1 {
				t.Errorf("partialEvent = %+v", e)
			}
		})
	}
}

func TestRetryFieldsBumpsAttemptOnly(t *testing.T) {
	for _, enc := range []func(*receiver.Event) ([]any, error){encode, encodeV1} {
		args, _ := enc(testEvent(1))
		m := entry(t, args)
		m["extra"] = "kept"
		got := entry(t, retryFields(m, 2))
		e, err := decode(got)
		if err != nil {
			t.Fatal(err)
		}
		if e.Attempt != 2 || got["extra"] != "kept" || !bytes.Equal(e.Body, testEvent(1).Body) {
			t.Errorf("retryFields = %v, want attempt 2 and other fields kept", got)
		}
	}
}

// FuzzDecode feeds decode stream entries as another writer (or a corrupted
// store) could leave them: it must never panic, and what it accepts must
// survive a second round trip unchanged.
func FuzzDecode(f *testing.F) {
	args, _ := encodeV1(testEvent(3))
	m := entry(f, args)
	f.Add(m[fieldVersion].(string), m[fieldProvider].(string), m[fieldID].(string), m[fieldReceivedAt].(string), m[fieldHeader].(string), m[fieldBody].(string), m[fieldAttempt].(string))
	f.Add("1", "", "", "", "{}", "", "1")
	f.Add("1", "p", "i", "2026-01-02T03:04:05Z", `{"A":["b"]}`, "\x00\xff", "2147483647")
	f.Add("1", "p", "i", "bad", "null", "", "-1")
	f.Add("2", "p", "i", "", `{"A":null}`, "", "1")
	f.Fuzz(func(t *testing.T, version, provider, id, receivedAt, header, body, attempt string) {
		in := map[string]any{
			fieldVersion: version, fieldProvider: provider, fieldID: id, fieldType: "t", fieldPayloadVer: "",
			fieldReceivedAt: receivedAt, fieldHeader: header, fieldBody: body, fieldAttempt: attempt,
		}
		e, again := reencode(t, in)
		if e == nil {
			return
		}
		if !reflect.DeepEqual(normalize(again), normalize(e)) {
			t.Fatalf("second round trip = %+v, want %+v", again, e)
		}
	})
}

// reencode decodes the fields in (reading partialEvent of them first, as an
// abandoned entry would be), and returns nil when they are malformed
// (failing unless the error matches ErrMalformedEntry); otherwise it encodes
// the event again and returns it with what decoding that gives.
func reencode(t *testing.T, in map[string]any) (e, again *receiver.Event) {
	t.Helper()
	_ = partialEvent(in)
	e, err := decode(in)
	if err != nil {
		if !errors.Is(err, ErrMalformedEntry) {
			t.Fatalf("decode error %v does not match ErrMalformedEntry", err)
		}
		return nil, nil
	}
	args, err := encode(e)
	if err != nil {
		t.Fatalf("encode(decode(x)) = %v", err)
	}
	again, err = decode(entry(t, args))
	if err != nil {
		t.Fatalf("decode(encode(decode(x))) = %v", err)
	}
	return e, again
}

// normalize makes events comparable across a round trip: an empty header
// may come back as an empty map, and times compare by instant.
func normalize(e *receiver.Event) string {
	h := fmt.Sprint(len(e.Header))
	if len(e.Header) > 0 {
		h = fmt.Sprint(e.Header)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%d|%s|%q|%d", e.Provider, e.ID, e.Type, e.Version, e.ReceivedAt.UnixNano(), h, e.Body, e.Attempt)
}

func TestCompanionKeys(t *testing.T) {
	tests := []struct {
		stream, want string
	}{
		{DefaultStream, "hookwise:{events}:stream:delayed"},
		{"orders", "{orders}:delayed"},
		{"a{b}c", "a{b}c:delayed"},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			if got := companion(tt.stream, "delayed"); got != tt.want {
				t.Errorf("companion(%q) = %q, want %q", tt.stream, got, tt.want)
			}
			st, _ := hashTag(tt.stream)
			ct, _ := hashTag(companion(tt.stream, "delayed"))
			if st != ct {
				t.Errorf("hash tags differ: stream %q, companion %q", st, ct)
			}
		})
	}
}

func TestStreamPanicsOnBadName(t *testing.T) {
	for _, name := range []string{"", "a}b", "{}x", "x{}y{z}"} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Stream(%q) did not panic", name)
				}
			}()
			Stream(name)
		})
	}
}

// FuzzDecodeBytesFields reads the optional fields that carry headers and
// Meta whose values are not UTF-8: any input decodes or fails with
// ErrMalformedEntry, and what decodes round-trips byte for byte.
func FuzzDecodeBytesFields(f *testing.F) {
	e := testEvent(1)
	e.Header.Set("X-Latin1", "caf\xe9")
	e.Meta = map[string]string{"k\xff": "v\x00\xfe"}
	args, _ := encodeV1(e)
	m := entry(f, args)
	f.Add(m[fieldHeaderBytes].(string), m[fieldMetaBytes].(string), "")
	f.Add(`[[""]]`, `[]`, `{"a":"b"}`)
	f.Add(`[[]]`, `[["",""]]`, "")
	f.Add(`null`, `null`, "null")
	f.Add(`[["QQ==","/w=="]]`, `[["QQ==","/w==","x"]]`, `{"a":1}`)
	f.Fuzz(func(t *testing.T, headerBytes, metaBytes, meta string) {
		args, err := encodeV1(testEvent(2))
		if err != nil {
			t.Fatal(err)
		}
		in := entry(t, args)
		in[fieldHeaderBytes] = headerBytes
		in[fieldMetaBytes] = metaBytes
		if meta != "" {
			in[fieldMeta] = meta
		}
		got, err := decode(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedEntry) {
				t.Fatalf("decode error %v does not match ErrMalformedEntry", err)
			}
			return
		}
		again, err := decode(entry(t, mustEncode(t, got)))
		if err != nil {
			t.Fatalf("decode(encode(decode(x))) = %v", err)
		}
		if !sameValues(again.Header, got.Header) || fmt.Sprint(again.Meta) != fmt.Sprint(got.Meta) {
			t.Fatalf("round trip changed header or meta: %q %q, want %q %q", again.Header, again.Meta, got.Header, got.Meta)
		}
	})
}

func mustEncode(t testing.TB, e *receiver.Event) []any {
	t.Helper()
	args, err := encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return args
}

// sameValues compares headers, a key without values being no key.
func sameValues(a, b http.Header) bool {
	for _, pair := range [][2]http.Header{{a, b}, {b, a}} {
		for k, vs := range pair[0] {
			if len(vs) > 0 && !reflect.DeepEqual(vs, pair[1][k]) {
				return false
			}
		}
	}
	return true
}
