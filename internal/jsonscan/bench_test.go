package jsonscan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"testing"
)

// The request path needs three top-level values of a ~4 KiB body.
func BenchmarkGetMany4K(b *testing.B) {
	doc := realisticBody(4096)
	paths := [][]string{{"id"}, {"type"}, {"api_version"}}
	vals := make([][]byte, 3)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := GetMany(doc, paths, vals); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalStruct4K(b *testing.B) {
	doc := realisticBody(4096)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			APIVersion string `json:"api_version"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalMap4K(b *testing.B) {
	doc := realisticBody(4096)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(doc, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHMACSHA256_4K(b *testing.B) {
	doc := realisticBody(4096)
	m := hmac.New(sha256.New, []byte("whsec_test_secret"))
	var sum [32]byte
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.Write(doc)
		m.Sum(sum[:0])
	}
}

// The load tool's body: a Stripe envelope padded to 1 KiB with one long
// string, so the scan is mostly string bytes.
func BenchmarkGetMany1KPadded(b *testing.B) {
	doc := []byte(`{"id":"evt_loadtest_123456","object":"event","type":"invoice.paid","api_version":"2024-06-20","data":{"object":{"pad":"`)
	for len(doc) < 1024-4 {
		doc = append(doc, 'x')
	}
	doc = append(doc, `"}}}`...)
	paths := [][]string{{"id"}, {"type"}, {"api_version"}}
	vals := make([][]byte, 3)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := GetMany(doc, paths, vals); err != nil {
			b.Fatal(err)
		}
	}
}
