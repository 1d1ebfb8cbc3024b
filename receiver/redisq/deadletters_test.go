package redisq

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/receiver"
)

func deadLetter(i int, failedAt time.Time) receiver.DeadLetter {
	e := testEvent(i)
	e.Attempt = 5
	e.Payload = json.RawMessage(`not json`) // stored as bytes, need not be valid
	return receiver.DeadLetter{Event: e, Reason: "handler: boom", FailedAt: failedAt}
}

func testDeadLetters(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	s := NewDeadLetters(rdb)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Put out of order: List sorts by FailedAt.
	for _, i := range []int{2, 0, 1} {
		if err := s.Put(ctx, deadLetter(i, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatalf("Put(%d) = %v", i, err)
		}
	}
	listIDs := func(limit int) []string {
		t.Helper()
		got, err := s.List(ctx, limit)
		if err != nil {
			t.Fatalf("List = %v", err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.Event.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"all", 10, []string{"evt_000", "evt_001", "evt_002"}},
		{"limited", 2, []string{"evt_000", "evt_001"}},
		{"zero means all", 0, []string{"evt_000", "evt_001", "evt_002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listIDs(tt.limit); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List(%d) = %v, want %v", tt.limit, got, tt.want)
			}
		})
	}

	got, err := s.List(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := deadLetter(0, t0)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Event, want.Event) || got[0].Reason != want.Reason || !got[0].FailedAt.Equal(want.FailedAt) {
		t.Errorf("List(1) = %+v, want %+v", got, want)
	}

	// Putting an event again replaces it and moves it to the end.
	if err := s.Put(ctx, deadLetter(0, t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(10); !reflect.DeepEqual(got, []string{"evt_001", "evt_002", "evt_000"}) {
		t.Errorf("after re-Put, List = %v", got)
	}
	if err := s.Delete(ctx, "test", "evt_001"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "test", "missing"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if got := listIDs(10); !reflect.DeepEqual(got, []string{"evt_002", "evt_000"}) {
		t.Errorf("after Delete, List = %v", got)
	}
	if err := s.Put(ctx, receiver.DeadLetter{}); err == nil {
		t.Error("Put without event = nil, want an error")
	}
}

func TestDeadLetters(t *testing.T) {
	_, rdb := startRedis(t)
	testDeadLetters(t, rdb)
}

func TestDeadLettersRedisDown(t *testing.T) {
	srv, rdb := startRedis(t)
	s := NewDeadLetters(rdb, CallTimeout(200*time.Millisecond))
	srv.Stop()
	ctx := context.Background()
	if err := s.Put(ctx, deadLetter(0, time.Now())); err == nil {
		t.Error("Put with Redis down = nil, want an error")
	}
	if _, err := s.List(ctx, 10); err == nil {
		t.Error("List with Redis down = nil error, want an error")
	}
}
