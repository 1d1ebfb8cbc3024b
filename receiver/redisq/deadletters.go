package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/receiver/driver"
)

// DeadLetters is a driver.DeadLetterStore in Redis. Create it with
// NewDeadLetters.
//
// It keeps two keys beside the stream, in its hash slot: a hash
// (stream+":dead") from "provider:id" to the serialized dead letter, and a
// sorted set (stream+":dead:order") of the same members scored by the time
// they failed, which gives List its order. Put and Delete change both in one
// MULTI/EXEC transaction.
type DeadLetters struct {
	rdb     redis.UniversalClient
	timeout time.Duration
	hash    string
	order   string
	max     int64 // the bound on dead letters; 0: none
}

var _ driver.DeadLetterStore = (*DeadLetters)(nil)

// NewDeadLetters returns a dead-letter store on client, which the caller
// owns. Of the options, Stream (whose hash tag the keys share) and
// CallTimeout apply; the others are ignored.
func NewDeadLetters(client redis.UniversalClient, opts ...Option) *DeadLetters {
	if client == nil {
		panic("redisq: nil client")
	}
	cfg := newConfig(opts)
	return &DeadLetters{
		rdb:     client,
		timeout: cfg.callTimeout,
		hash:    companion(cfg.stream, "dead"),
		order:   companion(cfg.stream, "dead:order"),
		max:     cfg.maxDead,
	}
}

// storedDeadLetter is the JSON form of a dead letter. Body and Payload are
// bytes (base64 in JSON), so that neither needs to be valid UTF-8 or JSON.
type storedDeadLetter struct {
	Provider   string            `json:"provider"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Version    string            `json:"version,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	Header     http.Header       `json:"header,omitempty"`
	Body       []byte            `json:"body"`
	Payload    []byte            `json:"payload,omitempty"`
	Attempt    int               `json:"attempt"`
	Token      string            `json:"token,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"`
	Target     string            `json:"target,omitempty"`
	// HeaderBytes and MetaBytes replace Header and Meta when a value is not
	// valid UTF-8, which JSON strings would alter (see codec.go).
	HeaderBytes [][][]byte  `json:"header_b,omitempty"`
	MetaBytes   [][2][]byte `json:"meta_b,omitempty"`
	Reason      string      `json:"reason"`
	FailedAt    time.Time   `json:"failed_at"`
}

func deadLetterKey(provider, id string) string { return provider + ":" + id }

// Put stores d under its event's provider and ID, replacing (and moving to
// the end of the order) an earlier dead letter of the same event.
func (s *DeadLetters) Put(ctx context.Context, d driver.DeadLetter) error {
	if d.Event == nil {
		return errors.New("redisq: dead letter without event")
	}
	e := d.Event
	sd := storedDeadLetter{
		Provider: e.Provider, ID: e.ID, Type: e.Type, Version: e.Version,
		ReceivedAt: e.ReceivedAt, Header: e.Header, Body: e.Body, Payload: e.Payload,
		Attempt: e.Attempt, Token: e.ClaimToken, Meta: e.Meta, Target: e.Target, Reason: d.Reason, FailedAt: d.FailedAt,
	}
	if !headerUTF8(e.Header) {
		sd.Header, sd.HeaderBytes = nil, headerAsBytes(e.Header)
	}
	if !metaUTF8(e.Meta) {
		sd.Meta, sd.MetaBytes = nil, metaAsBytes(e.Meta)
	}
	data, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("redisq: encode dead letter: %w", err)
	}
	member := deadLetterKey(e.Provider, d.Key())
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := putDeadLetterScript.Run(ctx, nil, s.rdb.Process, []string{s.hash, s.order},
		member, data, d.FailedAt.UnixMilli(), s.max).Int()
	if err != nil {
		return fmt.Errorf("redisq: put dead letter: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("redisq: %d dead letters stored: %w", s.max, driver.ErrDeadLettersFull)
	}
	return nil
}

// putDeadLetterScript stores a dead letter unless the store is full.
//
//	KEYS[1]  the hash of dead letters
//	KEYS[2]  their order (a sorted set by time of failure)
//	ARGV[1]  the member (provider, ":", dead-letter key)
//	ARGV[2]  the encoded dead letter
//	ARGV[3]  its time of failure, in Unix milliseconds
//	ARGV[4]  the bound (0: none)
//
// It returns 1, or 0 when the store holds the bound and the member is new.
var putDeadLetterScript = redisscript.New(`
local bound = tonumber(ARGV[4])
if bound > 0 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= bound then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// List returns up to limit dead letters, oldest first (by FailedAt); all of
// them when limit <= 0.
func (s *DeadLetters) List(ctx context.Context, limit int) ([]driver.DeadLetter, error) {
	stop := int64(limit - 1)
	if limit <= 0 {
		stop = -1 // all of them
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	members, err := s.rdb.ZRange(ctx, s.order, 0, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: list dead letters: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.hash, members...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: list dead letters: %w", err)
	}
	out := make([]driver.DeadLetter, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok { // deleted between the two calls
			continue
		}
		var sd storedDeadLetter
		if err := json.Unmarshal([]byte(str), &sd); err != nil {
			return nil, fmt.Errorf("redisq: decode dead letter: %w", err)
		}
		if sd.HeaderBytes != nil {
			if sd.Header, err = headerFromBytes(sd.HeaderBytes); err != nil {
				return nil, fmt.Errorf("redisq: decode dead letter: %w", err)
			}
		}
		if sd.MetaBytes != nil {
			sd.Meta = metaFromBytes(sd.MetaBytes)
		}
		out = append(out, driver.DeadLetter{
			Event: &driver.Event{
				Provider: sd.Provider, ID: sd.ID, Type: sd.Type, Version: sd.Version,
				ReceivedAt: sd.ReceivedAt, Header: sd.Header, Body: sd.Body,
				Payload: sd.Payload, Attempt: sd.Attempt, ClaimToken: sd.Token, Meta: sd.Meta, Target: sd.Target,
			},
			Reason:   sd.Reason,
			FailedAt: sd.FailedAt,
		})
	}
	return out, nil
}

// Delete removes the dead letter stored under (provider, key), key being the
// dead letter's Key(); deleting a missing one is not an error.
func (s *DeadLetters) Delete(ctx context.Context, provider, key string) error {
	member := deadLetterKey(provider, key)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.hash, member)
		p.ZRem(ctx, s.order, member)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisq: delete dead letter: %w", err)
	}
	return nil
}
