package inspector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/inspector"
	"github.com/hookwise/hookwise/receiver"
)

// call serves one API request on ins with the token.
func call(t *testing.T, ins *inspector.Inspector, path string, v any) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/_hookwise/"+path, nil)
	req.Header.Set(inspector.TokenHeader, token)
	rec := httptest.NewRecorder()
	ins.ServeHTTP(rec, req)
	if v != nil {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), v), rec.Body.String())
	}
	return rec.Code
}

func accepted(id string, body []byte) receiver.Observation {
	return receiver.Observation{Stage: receiver.StageEnqueued, Provider: "acme", Status: 200, Event: &receiver.Event{
		Provider: "acme", ID: id, Type: "thing.done", Body: body, Attempt: 1, ClaimToken: "claim-" + id,
		Header: http.Header{"Content-Type": {"application/json"}},
	}}
}

func TestCapacityBound(t *testing.T) {
	ins, err := inspector.New(inspector.Options{Token: token, Capacity: 5})
	require.NoError(t, err)
	obs := ins.Observer()
	for i := range 8 {
		obs.Observe(context.Background(), accepted(fmt.Sprintf("evt_%d", i), []byte(`{"n":1}`)))
	}
	assert.Equal(t, 5, ins.Stats().Deliveries)
	var list deliveries
	require.Equal(t, http.StatusOK, call(t, ins, "api/deliveries", &list))
	require.Len(t, list.Deliveries, 5)
	assert.Equal(t, "evt_3", list.Deliveries[0].EventID, "the oldest went first")
	assert.Equal(t, "evt_7", list.Deliveries[4].EventID)
	assert.Equal(t, uint64(4), list.Oldest)
	assert.Equal(t, http.StatusNotFound, call(t, ins, "api/delivery?id=1", nil), "evicted")
	assert.Equal(t, http.StatusOK, call(t, ins, "api/delivery?id=4", nil))

	// Later stages of an evicted delivery start a new row, and evict again.
	ev := accepted("evt_0", nil).Event
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageHandled, Provider: "acme", Event: ev})
	assert.Equal(t, 5, ins.Stats().Deliveries)
}

func TestPayloadBytesBoundPerEntry(t *testing.T) {
	const limit = 1024
	ins, err := inspector.New(inspector.Options{Token: token, MaxEntryBytes: limit})
	require.NoError(t, err)
	// A long payload, with a multi-byte rune at every offset, and a secret
	// after the cut.
	big := `{"items":[` + strings.Repeat(`"héllo wörld",`, 5000) + `"end"],"secret":"AFTER_THE_CUT"}`
	ins.Observer().Observe(context.Background(), accepted("evt_big", []byte(big)))
	var d delivery
	require.Equal(t, http.StatusOK, call(t, ins, "api/delivery?id=1", &d))
	assert.True(t, d.PayloadTruncated)
	assert.LessOrEqual(t, len(d.Payload), limit+len("\n… (truncated)"))
	assert.True(t, utf8.ValidString(d.Payload))
	assert.NotContains(t, d.Payload, "AFTER_THE_CUT")
	assert.Less(t, ins.Stats().Bytes, int64(limit+4096), "the entry's size counts the cut text, not the body")

	// One huge string.
	ins.Observer().Observe(context.Background(), accepted("evt_str", []byte(`{"a":"`+strings.Repeat("x", 200000)+`"}`)))
	require.Equal(t, http.StatusOK, call(t, ins, "api/delivery?id=2", &d))
	assert.LessOrEqual(t, len(d.Payload), limit+len("\n… (truncated)"))
}

func TestTotalBytesBound(t *testing.T) {
	const total = 64 << 10
	ins, err := inspector.New(inspector.Options{Token: token, MaxEntryBytes: 8 << 10, MaxTotalBytes: total})
	require.NoError(t, err)
	body := []byte(`{"data":"` + strings.Repeat("z", 20000) + `"}`)
	for i := range 50 {
		ins.Observer().Observe(context.Background(), accepted(fmt.Sprintf("evt_%d", i), body))
		assert.LessOrEqual(t, ins.Stats().Bytes, int64(total))
	}
	st := ins.Stats()
	assert.Greater(t, st.Deliveries, 3)
	assert.Less(t, st.Deliveries, 10, "bounded by bytes, not by the capacity of 500")
	var list deliveries
	call(t, ins, "api/deliveries", &list)
	assert.Equal(t, "evt_49", list.Deliveries[len(list.Deliveries)-1].EventID)
}

func TestStepsAndHeadersBounds(t *testing.T) {
	ins, err := inspector.New(inspector.Options{Token: token})
	require.NoError(t, err)
	o := accepted("evt_steps", []byte(`{}`))
	for i := range 200 {
		o.Event.Header.Add(fmt.Sprintf("X-H-%03d", i), strings.Repeat("v", 2000))
	}
	obs := ins.Observer()
	obs.Observe(context.Background(), o)
	for i := range 40 {
		o.Event.Attempt = i + 2
		obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageRetried, Provider: "acme", Event: o.Event,
			Err: errors.New(strings.Repeat("e", 5000))})
	}
	var d delivery
	require.Equal(t, http.StatusOK, call(t, ins, "api/delivery?id=1", &d))
	assert.Len(t, d.Steps, 16)
	assert.Equal(t, "enqueued", d.Steps[0].Stage, "the first stage is kept")
	assert.Equal(t, "retried", d.Steps[15].Stage)
	assert.LessOrEqual(t, len(d.Error), 300)
	assert.Len(t, d.Headers, 64)
	assert.Equal(t, 201-64, d.HeadersOmitted)
	for _, h := range d.Headers {
		assert.LessOrEqual(t, len(h.Value), 512)
	}
	assert.Less(t, ins.Stats().Bytes, int64(64*1024))
}

func TestDeadLettersListBound(t *testing.T) {
	dl := receiver.NewMemoryDeadLetters(0)
	for i := range 10 {
		require.NoError(t, dl.Put(context.Background(), receiver.DeadLetter{Reason: "r", Event: &receiver.Event{
			Provider: "acme", ID: fmt.Sprintf("evt_%d", i), Body: []byte(`{}`)}}))
	}
	ins, err := inspector.New(inspector.Options{Token: token, MaxDeadLetters: 3,
		DeadLetters: []inspector.DeadLetterSource{{Store: dl}}})
	require.NoError(t, err)
	var res struct {
		Sources []struct {
			Name   string            `json:"name"`
			Replay bool              `json:"replay"`
			Items  []json.RawMessage `json:"items"`
		} `json:"sources"`
	}
	require.Equal(t, http.StatusOK, call(t, ins, "api/deadletters", &res))
	require.Len(t, res.Sources, 1)
	assert.Len(t, res.Sources[0].Items, 3)
	assert.False(t, res.Sources[0].Replay, "no Replay func, no button")
	// Beyond the listed ones, nothing can be opened or replayed.
	assert.Equal(t, http.StatusNotFound, call(t, ins, "api/deadletter?source=0&provider=acme&key=evt_9", nil))
	assert.Equal(t, http.StatusOK, call(t, ins, "api/deadletter?source=0&provider=acme&key=evt_0", nil))
}

func TestRejectedWithoutEvent(t *testing.T) {
	ins, err := inspector.New(inspector.Options{Token: token})
	require.NoError(t, err)
	ins.ObserverFor("billing").Observe(context.Background(), receiver.Observation{Stage: receiver.StageRejected,
		Provider: "acme", Status: 413, Reason: "too_large", Err: errors.New("body too large")})
	var list deliveries
	require.Equal(t, http.StatusOK, call(t, ins, "api/deliveries", &list))
	require.Len(t, list.Deliveries, 1)
	d := list.Deliveries[0]
	assert.Equal(t, "billing", d.Receiver)
	assert.Equal(t, "rejected", d.Stage)
	assert.Equal(t, 413, d.Status)
	assert.Equal(t, "too_large", d.Reason)
}

// A worker can report a stage before the request path reports the
// acknowledgement: the delivery still ends in the worker's stage.
func TestAcknowledgementObservedLate(t *testing.T) {
	ins, err := inspector.New(inspector.Options{Token: token})
	require.NoError(t, err)
	o := accepted("evt_fast", []byte(`{}`))
	ins.Observer().Observe(context.Background(), receiver.Observation{Stage: receiver.StageHandled, Provider: "acme", Event: o.Event})
	ins.Observer().Observe(context.Background(), o)
	var d delivery
	require.Equal(t, http.StatusOK, call(t, ins, "api/delivery?id=1", &d))
	assert.Equal(t, "handled", d.Stage)
	assert.Equal(t, 200, d.Status)
	require.Len(t, d.Steps, 2)
	assert.Equal(t, "enqueued", d.Steps[0].Stage)
	assert.Equal(t, "handled", d.Steps[1].Stage)
}
