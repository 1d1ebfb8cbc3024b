package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// OrderedPayload is the body of an OrderedLoad's delivery: its ordering
// key and its place in its key's sending order.
type OrderedPayload struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

// OrderedID is the event ID of seq of key.
func OrderedID(key string, seq int) string { return "fo_" + key + "_" + strconv.Itoa(seq) }

// OrderedLoad sends, for each of its keys, events one after the other (the
// next only once the previous is acknowledged, after a pause), the keys
// concurrently, to whatever URL target returns at the time, each delivery
// retried until acknowledged.
type OrderedLoad struct {
	target func() string
	header func(h http.Header, id string, body []byte)
	client *http.Client

	Sent, Acked, Refused atomic.Int64 // requests sent, events acknowledged, requests retried

	mu        sync.Mutex
	ackedSeqs map[string][]int // key → seqs in the order acknowledged
	statuses  map[int]int
}

// NewOrderedLoad returns a load sending to target; header sets the
// headers a delivery of event id with body needs besides Content-Type
// (the event's ID, and what the receiver's provider verifies).
func NewOrderedLoad(target func() string, header func(h http.Header, id string, body []byte)) *OrderedLoad {
	return &OrderedLoad{
		target:    target,
		header:    header,
		client:    &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		ackedSeqs: map[string][]int{},
		statuses:  map[int]int{},
	}
}

// Keys returns n ordering keys, k00, k01 and so on.
func Keys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	return keys
}

// Run sends perKey events for each of keys, pausing after each
// acknowledgement, and returns the first error: an answer neither 2xx nor
// 503, or ctx's end.
func (l *OrderedLoad) Run(ctx context.Context, keys []string, perKey int, pause time.Duration) error {
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			for seq := range perKey {
				if err := l.deliverUntilAcked(ctx, k, seq); err != nil {
					errs <- err
					return
				}
				time.Sleep(pause)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (l *OrderedLoad) deliverUntilAcked(ctx context.Context, key string, seq int) error {
	id := OrderedID(key, seq)
	body, _ := json.Marshal(OrderedPayload{Key: key, Seq: seq})
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.Sent.Add(1)
		status := l.deliver(id, body)
		l.mu.Lock()
		l.statuses[status]++
		l.mu.Unlock()
		if status >= 200 && status < 300 {
			l.mu.Lock()
			l.ackedSeqs[key] = append(l.ackedSeqs[key], seq)
			l.mu.Unlock()
			l.Acked.Add(1)
			return nil
		}
		if status != 0 && status != http.StatusServiceUnavailable {
			return errors.New("unexpected status " + strconv.Itoa(status))
		}
		l.Refused.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver sends one delivery and returns its status, or 0 when the request
// failed.
func (l *OrderedLoad) deliver(id string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, l.target(), bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	l.header(req.Header, id, body)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// AckedSeqs returns the seqs of key acknowledged so far, in the order
// acknowledged.
func (l *OrderedLoad) AckedSeqs(key string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ackedSeqs[key])
}

// Statuses returns how many answers of each status the load had so far (0:
// no answer).
func (l *OrderedLoad) Statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.statuses)
}
