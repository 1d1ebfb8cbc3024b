package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/require"
)

// benchPayloads returns a ~1 KiB Stripe payment_intent.succeeded event and
// a ~16 KiB GitHub push (the testdata push with its commit repeated).
func benchPayloads(b *testing.B) (small, large []byte) {
	b.Helper()
	compact := func(raw []byte) []byte {
		var buf bytes.Buffer
		require.NoError(b, json.Compact(&buf, raw))
		return buf.Bytes()
	}
	raw, err := os.ReadFile("testdata/valid/stripe/payment_intent.succeeded.json")
	require.NoError(b, err)
	small = compact(raw)

	raw, err = os.ReadFile("testdata/valid/github/push.json")
	require.NoError(b, err)
	var push map[string]any
	require.NoError(b, json.Unmarshal(raw, &push))
	commit := push["commits"].([]any)[0]
	for len(large) < 16<<10 {
		push["commits"] = append(push["commits"].([]any), commit)
		large, err = json.Marshal(push)
		require.NoError(b, err)
	}
	return small, large
}

type benchStripeEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object struct {
			ID       string            `json:"id"`
			Amount   int64             `json:"amount"`
			Currency string            `json:"currency"`
			Status   string            `json:"status"`
			Metadata map[string]string `json:"metadata"`
		} `json:"object"`
	} `json:"data"`
}

type benchPush struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Commits []struct {
		ID        string `json:"id"`
		Message   string `json:"message"`
		Timestamp string `json:"timestamp"`
		Author    struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"author"`
		Modified []string `json:"modified"`
	} `json:"commits"`
	Repository struct {
		ID       int64  `json:"id"`
		FullName string `json:"full_name"`
	} `json:"repository"`
}

func benchValidate(b *testing.B, e *receiver.Event) {
	reg := Bundled(Strict())
	ctx := context.Background()
	require.NoError(b, reg.Validate(ctx, e))
	b.SetBytes(int64(len(e.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := reg.Validate(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, body []byte, v func() any) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(body, v()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate1K(b *testing.B) {
	small, _ := benchPayloads(b)
	benchValidate(b, &receiver.Event{Provider: "stripe", Type: "payment_intent.succeeded", Version: "2024-06-20", Body: small})
}

func BenchmarkDecodeJSON1K(b *testing.B) {
	small, _ := benchPayloads(b)
	benchDecode(b, small, func() any { return new(map[string]any) })
}

func BenchmarkDecodeStruct1K(b *testing.B) {
	small, _ := benchPayloads(b)
	benchDecode(b, small, func() any { return new(benchStripeEvent) })
}

func BenchmarkValidate16K(b *testing.B) {
	_, large := benchPayloads(b)
	benchValidate(b, &receiver.Event{Provider: "github", Type: "push", Body: large})
}

func BenchmarkDecodeJSON16K(b *testing.B) {
	_, large := benchPayloads(b)
	benchDecode(b, large, func() any { return new(map[string]any) })
}

func BenchmarkDecodeStruct16K(b *testing.B) {
	_, large := benchPayloads(b)
	benchDecode(b, large, func() any { return new(benchPush) })
}
