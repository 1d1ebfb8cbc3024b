package redisq

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// fullEvent sets every stored Event field, with bytes that are not UTF-8 in
// the header, Meta and body.
func fullEvent() *receiver.Event {
	e := testEvent(7)
	e.ClaimToken = "tok_123"
	e.Target = "billing.v2"
	e.Attempt = 4
	e.Header.Set("X-Latin1", "caf\xe9")
	e.Header["X-Empty"] = []string{}
	e.Meta = map[string]string{"traceparent": "00-abc-def-01", "k\xff": "v\x00\xfe"}
	return e
}

func TestFormat2CarriesEveryField(t *testing.T) {
	in := fullEvent()
	args, err := encode(in)
	require.NoError(t, err)
	require.Len(t, args, 4, "format 2 writes two fields")
	assert.Equal(t, fieldEvent, args[0])
	assert.Equal(t, fieldEventAttempt, args[2])
	got, err := decode(entry(t, args))
	require.NoError(t, err)
	assert.Equal(t, in, got, "decode(encode(e))")

	// Event fields the codec does not know would be lost: this fails when a
	// field is added to driver.Event, to be added to the format (and here).
	stored := map[string]bool{"Provider": true, "ID": true, "Type": true, "Version": true, "ReceivedAt": true,
		"Header": true, "Body": true, "Attempt": true, "ClaimToken": true, "Meta": true, "Target": true,
		"Payload": false} // derived again from Body
	typ := reflect.TypeFor[driver.Event]()
	for i := range typ.NumField() {
		_, known := stored[typ.Field(i).Name]
		assert.True(t, known, "Event.%s is not in the stream format", typ.Field(i).Name)
	}
}

func TestFormat2IsSmaller(t *testing.T) {
	size := func(args []any) int {
		n := 0
		for _, a := range args {
			switch v := a.(type) {
			case string:
				n += len(v)
			case []byte:
				n += len(v)
			}
		}
		return n
	}
	e := testEvent(1)
	e.ClaimToken = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	v1, err := encodeV1(e)
	require.NoError(t, err)
	v2, err := encode(e)
	require.NoError(t, err)
	overhead1, overhead2 := size(v1)-len(e.Body), size(v2)-len(e.Body)
	t.Logf("bytes beside the body: format 1 %d, format 2 %d", overhead1, overhead2)
	assert.Less(t, overhead2, overhead1*3/4, "format 2 is not compact")
}

func TestFormat2Rejects(t *testing.T) {
	good, err := encode(fullEvent())
	require.NoError(t, err)
	blob := string(good[1].([]byte))
	bad := map[string]map[string]any{
		"empty":            {fieldEvent: "", fieldEventAttempt: "1"},
		"unknown version":  {fieldEvent: "\x03" + blob[1:], fieldEventAttempt: "1"},
		"trailing bytes":   {fieldEvent: blob + "x", fieldEventAttempt: "1"},
		"not a string":     {fieldEvent: 5, fieldEventAttempt: "1"},
		"missing attempt":  {fieldEvent: blob},
		"zero attempt":     {fieldEvent: blob, fieldEventAttempt: "0"},
		"huge attempt":     {fieldEvent: blob, fieldEventAttempt: strconv.Itoa(maxAttempt + 1)},
		"huge count":       {fieldEvent: "\x02\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f", fieldEventAttempt: "1"},
		"overlong varint":  {fieldEvent: "\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", fieldEventAttempt: "1"},
		"bad time flag":    {fieldEvent: "\x02\x00\x00\x00\x00\x00\x00\x07", fieldEventAttempt: "1"},
		"bad nanoseconds":  {fieldEvent: "\x02\x00\x00\x00\x00\x00\x00\x01\x00\x80\x94\xeb\xdc\x03\x00\x00\x00", fieldEventAttempt: "1"},
		"bad target":       {fieldEvent: "\x02\x00\x00\x00\x00\x00\x02AB\x00\x00\x00\x00", fieldEventAttempt: "1"},
		"body length long": {fieldEvent: "\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05ab", fieldEventAttempt: "1"},
	}
	// Every truncation of a good value fails too.
	for i := range len(blob) {
		bad["cut at "+strconv.Itoa(i)] = map[string]any{fieldEvent: blob[:i], fieldEventAttempt: "1"}
	}
	for name, m := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := decode(m)
			assert.ErrorIs(t, err, ErrMalformedEntry)
			e := partialEvent(m)
			require.NotNil(t, e)
			assert.GreaterOrEqual(t, e.Attempt, 1)
			assert.NotNil(t, e.Header)
		})
	}
	// What can be read of a cut value is kept for the dead letter.
	e := partialEvent(map[string]any{fieldEvent: blob[:len(blob)-3], fieldEventAttempt: "4"})
	assert.Equal(t, "test", e.Provider)
	assert.Equal(t, "evt_007", e.ID)
	assert.Equal(t, "tok_123", e.ClaimToken)
	assert.Equal(t, 4, e.Attempt)
}

// FuzzDecodeFormat2 feeds decode any format 2 value and attempt: it never
// panics, rejects with ErrMalformedEntry, and what it accepts survives a
// second round trip unchanged.
func FuzzDecodeFormat2(f *testing.F) {
	for _, e := range []*receiver.Event{fullEvent(), testEvent(1), {}} {
		args, err := encode(e)
		require.NoError(f, err)
		f.Add(args[1].([]byte), args[3].(string))
	}
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x01\x7f\x00\x01\x01a\x01\x00\x00\x00"), "1")
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00\x02\x01a\x00\x01a\x01\x01b\x00\x00"), "2")
	f.Add([]byte{2}, "x")
	f.Fuzz(func(t *testing.T, blob []byte, attempt string) {
		e, again := reencode(t, map[string]any{fieldEvent: string(blob), fieldEventAttempt: attempt})
		if e == nil {
			return
		}
		if !sameValues(again.Header, e.Header) || !reflect.DeepEqual(again.Meta, e.Meta) ||
			normalize(again) != normalize(e) || again.ClaimToken != e.ClaimToken || again.Target != e.Target {
			t.Fatalf("second round trip = %+v, want %+v", again, e)
		}
	})
}

// TestFormat1EntriesStillRead adds entries in the format of earlier
// releases straight to the stream, as an older instance would have left
// them, and checks that a queue handles them with every field, and that a
// retry of one keeps its fields.
func TestFormat1EntriesStillRead(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	old := fullEvent()
	old.Attempt = 1
	args, err := encodeV1(old)
	require.NoError(t, err)
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: DefaultStream, Values: args}).Err())

	rec := newRecorder(func(_ context.Context, e *receiver.Event) driver.Result {
		if e.Attempt == 1 {
			return driver.Result{Retry: true, Delay: time.Millisecond}
		}
		return driver.Result{}
	})
	q := New(rdb, fast()...)
	require.NoError(t, q.Start(rec))
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	rec.waitFor(t, 10*time.Second, "the old entry's retry", allSeen([]string{old.ID}, 2))

	rec.mu.Lock()
	got := rec.events[old.ID]
	rec.mu.Unlock()
	want := fullEvent()
	want.Attempt = 2
	assert.Equal(t, want, got, "the format 1 entry's retry as handled")
	assert.Equal(t, map[string][]int{old.ID: {1, 2}}, rec.snapshot(), "attempts")
	require.Eventually(t, func() bool { return rdb.XLen(ctx, DefaultStream).Val() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the entry was not acknowledged")
}

// TestFormat2OnTheWire checks that Enqueue writes format 2, which the queue
// reads back whole.
func TestFormat2OnTheWire(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast()...)
	e := fullEvent()
	require.NoError(t, q.Enqueue(ctx, e))
	msgs, err := rdb.XRange(ctx, DefaultStream, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Len(t, msgs[0].Values, 2, "fields of the entry: %v", reflect.ValueOf(msgs[0].Values).MapKeys())
	assert.Contains(t, msgs[0].Values, fieldEvent)
	got, err := decode(msgs[0].Values)
	require.NoError(t, err)
	assert.Equal(t, e, got)
}

// TestEntryFormat1 checks that EntryFormat(1) writes entries an older
// release reads (the format 1 fields), which this release reads back whole.
func TestEntryFormat1(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast(EntryFormat(1))...)
	e := fullEvent()
	require.NoError(t, q.Enqueue(ctx, e))
	msgs, err := rdb.XRange(ctx, DefaultStream, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, formatVersion, msgs[0].Values[fieldVersion], "format 1 version field")
	assert.NotContains(t, msgs[0].Values, fieldEvent)
	got, err := decode(msgs[0].Values)
	require.NoError(t, err)
	assert.Equal(t, e, got)
	assert.Panics(t, func() { EntryFormat(3) })
	assert.Panics(t, func() { EntryFormat(0) })
}
