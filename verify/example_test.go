package verify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookwise/hookwise/verify"
)

// A provider of one's own: "Acme" signs "timestamp.body" with HMAC-SHA256,
// hex, in X-Acme-Signature: v1=…, with the Unix time in X-Acme-Timestamp.
func ExampleScheme() {
	now := time.Unix(1_700_000_000, 0)
	v, err := verify.NewScheme(verify.Scheme{
		Hash:            sha256.New,
		Secrets:         [][]byte{[]byte("acme-secret"), []byte("acme-old-secret")}, // rotation: both accepted
		Header:          "X-Acme-Signature",
		Prefix:          "v1=",
		TimestampHeader: "X-Acme-Timestamp",
		Content:         verify.TimestampBody("", "."),
		Now:             func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}

	body := []byte(`{"id":"ev_1","type":"order.paid"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte("acme-secret"))
	mac.Write([]byte(ts + "." + string(body)))

	r, _ := http.NewRequest(http.MethodPost, "https://example.com/webhooks/acme", strings.NewReader(string(body)))
	r.Header.Set("X-Acme-Timestamp", ts)
	r.Header.Set("X-Acme-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	fmt.Println("genuine:", v.Verify(r, body))

	err = v.Verify(r, []byte(`{"id":"ev_1","type":"order.refunded"}`))
	fmt.Println("tampered:", err, errors.Is(err, verify.ErrVerification))
	// Output:
	// genuine: <nil>
	// tampered: verify: signature mismatch true
}
