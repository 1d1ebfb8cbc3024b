package postgres_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// testProvider signs deliveries with HMAC-SHA256 of the body (X-Signature,
// hex) and carries the event's ID and type in headers.
type testProvider struct{}

const testSecret = "pgtest-secret"

var errSig = fmt.Errorf("%w: bad signature", verify.ErrVerification)

func (testProvider) Name() string { return "pgtest" }

func (testProvider) Verify(r *http.Request, body []byte) error {
	got, err := hex.DecodeString(r.Header.Get("X-Signature"))
	if err != nil || !hmac.Equal(got, sign(body)) {
		return errSig
	}
	return nil
}

func (testProvider) Parse(r *http.Request, _ []byte) (provider.Envelope, error) {
	return provider.Envelope{ID: r.Header.Get("X-Event-Id"), Type: r.Header.Get("X-Event-Type")}, nil
}

func sign(body []byte) []byte {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	return m.Sum(nil)
}

// deliver sends one signed delivery of event id to url and returns the
// status, or 0 when the request failed.
func deliver(client *http.Client, url, id string) int {
	body := []byte(`{"id":"` + id + `","amount":42}`)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event-Id", id)
	req.Header.Set("X-Event-Type", "payment.settled")
	req.Header.Set("X-Signature", hex.EncodeToString(sign(body)))
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// load is a sender of many events, each delivered until acknowledged, as
// a webhook sender retries, to whatever URL target returns at the time.
type load struct {
	target func() string
	client *http.Client

	sent, acked, refused atomic.Int64
	mu                   sync.Mutex
	ackedIDs             map[string]bool
	statuses             map[int]int
}

func newLoad(target func() string) *load {
	return &load{
		target:   target,
		client:   &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		ackedIDs: map[string]bool{},
		statuses: map[int]int{},
	}
}

// deliverUntilAcked delivers id until a 2xx answer, copies times in a row
// (copies > 1: redeliveries of an acknowledged event), or until ctx ends.
func (l *load) deliverUntilAcked(ctx context.Context, id string, copies int) error {
	for c := 0; c < copies; c++ {
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.sent.Add(1)
			status := deliver(l.client, l.target(), id)
			l.mu.Lock()
			l.statuses[status]++
			l.mu.Unlock()
			if status >= 200 && status < 300 {
				l.mu.Lock()
				if !l.ackedIDs[id] {
					l.ackedIDs[id] = true
					l.acked.Add(1)
				}
				l.mu.Unlock()
				break
			}
			if status != 0 && status != http.StatusServiceUnavailable {
				return errors.New("unexpected status " + strconv.Itoa(status))
			}
			l.refused.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// run delivers ids with workers concurrent senders, each id copies times.
func (l *load) run(ctx context.Context, ids []string, workers, copies int) error {
	ch := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for id := range ch {
				if err := l.deliverUntilAcked(ctx, id, copies); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for _, id := range ids {
		select {
		case ch <- id:
		case err := <-errs:
			close(ch)
			wg.Wait()
			return err
		}
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "_" + strconv.Itoa(i)
	}
	return out
}
