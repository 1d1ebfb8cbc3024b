package redisq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// namedProc is a processor serving a named endpoint.
type namedProc struct {
	procFunc
	name string
}

func (p namedProc) Endpoint() string { return p.name }

func TestStreamServesOneEndpoint(t *testing.T) {
	_, rdb := startRedis(t)
	stream := Stream("hookwise:{shared}:stream")
	nop := procFunc(func(context.Context, *driver.Event) driver.Result { return driver.Result{} })

	a := New(rdb, fast(stream, Consumer("a"))...)
	require.NoError(t, a.Start(namedProc{nop, "github"}))
	defer shutdown(t, a)
	assert.ErrorIs(t, a.Start(namedProc{nop, "github"}), driver.ErrStarted, "second Start of one queue")

	// A replica of the same endpoint shares the stream.
	b := New(rdb, fast(stream, Consumer("b"))...)
	require.NoError(t, b.Start(namedProc{nop, "github"}))
	defer shutdown(t, b)

	// Another endpoint given the same stream by mistake is refused.
	c := New(rdb, fast(stream, Consumer("c"))...)
	err := c.Start(namedProc{nop, "stripe"})
	require.ErrorIs(t, err, ErrOtherEndpoint)
	assert.Contains(t, err.Error(), `"github"`)

	// Through receiver.New the mistake fails New.
	_, err = receiver.New(headerProvider{}, receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil }),
		receiver.WithQueue(New(rdb, fast(stream, Consumer("d"))...)))
	assert.ErrorIs(t, err, ErrOtherEndpoint)
}

func TestMetaRoundTripsThroughStreamAndDeadLetters(t *testing.T) {
	_, rdb := startRedis(t)
	got := make(chan *driver.Event, 1)
	q := New(rdb, fast(Stream("hookwise:{meta}:stream"), Consumer("a"))...)
	require.NoError(t, q.Start(procFunc(func(_ context.Context, e *driver.Event) driver.Result {
		got <- e
		return driver.Result{}
	})))
	defer shutdown(t, q)
	e := testEvent(1)
	e.Meta = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	require.NoError(t, q.Enqueue(context.Background(), e))
	select {
	case back := <-got:
		assert.Equal(t, e.Meta, back.Meta)
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered")
	}

	dl := NewDeadLetters(rdb, Stream("hookwise:{meta}:stream"))
	require.NoError(t, dl.Put(context.Background(), driver.DeadLetter{Event: e, Reason: "r", FailedAt: time.Now()}))
	list, err := dl.List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, e.Meta, list[0].Event.Meta)

	// A corrupt meta field of a format 1 entry is a malformed entry, not a
	// panic.
	fields, err := encodeV1(e)
	require.NoError(t, err)
	values := map[string]any{}
	for i := 0; i < len(fields); i += 2 {
		values[fields[i].(string)] = toString(fields[i+1])
	}
	values[fieldMeta] = "{not json"
	_, err = decode(values)
	assert.ErrorIs(t, err, ErrMalformedEntry)
}

func toString(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	}
	panic(errors.New("unexpected field type"))
}

func TestStatsCountsWaitingAndScheduled(t *testing.T) {
	_, rdb := startRedis(t)
	release := make(chan struct{})
	q := New(rdb, fast(Workers(1), Stream("hookwise:{stats}:stream"), Consumer("a"))...)
	st, err := q.Stats(context.Background())
	require.NoError(t, err, "stats of a stream not created yet")
	assert.Equal(t, driver.Stats{}, st)
	require.NoError(t, q.Start(procFunc(func(context.Context, *driver.Event) driver.Result {
		<-release
		return driver.Result{}
	})))
	defer shutdown(t, q)
	defer close(release)
	for i := range 3 {
		require.NoError(t, q.Enqueue(context.Background(), testEvent(i)))
	}
	time.Sleep(50 * time.Millisecond)
	st, err = q.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, st.Depth)
	assert.Positive(t, st.OldestAge, "waiting events have an age")
}
