// Package redisscript runs Lua scripts on Redis by their SHA1 digest
// (EVALSHA), in a caller's shared pipelines when it has them, and falls back
// to sending the source (EVAL) when the server does not know the script.
//
// A server forgets its scripts when it restarts or on SCRIPT FLUSH, and a
// Redis Cluster node knows only the scripts that ran on it, so the first
// EVALSHA of a script on a node answers NOSCRIPT. Run then sends the source
// once with EVAL, which also loads the script, so that later calls go back to
// EVALSHA. A script's effects apply whole or not at all, so running it again
// after NOSCRIPT (which ran nothing) cannot apply it twice.
package redisscript

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"slices"

	"github.com/redis/go-redis/v9"
)

// Script is a Lua script and the SHA1 digest Redis knows it by. It is
// immutable and safe for concurrent use. Create it with New.
type Script struct {
	src  string
	hash string
	// perKey > 0: the script does the same for each key, KEYS[i] with the
	// perKey arguments ARGV[(i-1)*perKey+1 …], so that calls merge.
	perKey int
}

// New returns the script with Lua source src.
func New(src string) *Script {
	h := sha1.Sum([]byte(src))
	return &Script{src: src, hash: hex.EncodeToString(h[:])}
}

// NewPerKey returns the script with Lua source src, which does the same for
// each of its keys, KEYS[i] with the n arguments from ARGV[(i-1)*n+1], and
// nothing else: one call with the keys and arguments of several in order
// does what they do (see Merge). It panics if n < 1.
func NewPerKey(src string, n int) *Script {
	if n < 1 {
		panic("redisscript: NewPerKey expects n >= 1")
	}
	s := New(src)
	s.perKey = n
	return s
}

// Merge returns calls with each run of consecutive calls of one per-key
// script (NewPerKey) merged into calls of at most maxKeys keys each; other
// calls are kept as they are, in order. The keys of a merged call must be
// allowed in one call: on Redis Cluster, only when they share a slot.
func Merge(calls []Call, maxKeys int) []Call {
	maxKeys = max(maxKeys, 1)
	out := make([]Call, 0, len(calls))
	owned := false // whether the last call of out holds slices of its own
	for _, c := range calls {
		n := len(out)
		if n > 0 && c.Script.perKey > 0 && out[n-1].Script == c.Script && len(c.Args) == c.Script.perKey*len(c.Keys) &&
			len(out[n-1].Keys)+len(c.Keys) <= maxKeys && len(out[n-1].Args) == c.Script.perKey*len(out[n-1].Keys) {
			last := &out[n-1]
			if !owned {
				// The call's slices belong to the caller: clipped, the first
				// append copies them, and later ones grow the copies, so that
				// a run of n calls costs O(n), not O(n²).
				last.Keys, last.Args = slices.Clip(last.Keys), slices.Clip(last.Args)
				owned = true
			}
			last.Keys = append(last.Keys, c.Keys...)
			last.Args = append(last.Args, c.Args...)
			continue
		}
		out = append(out, c)
		owned = false
	}
	return out
}

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// Hash returns the lowercase hex SHA1 digest of the source, the name EVALSHA
// takes.
func (s *Script) Hash() string { return s.hash }

// Do runs commands, as redisbatch.Batcher.Do does: it returns the first of
// their errors, and once it returns an error because ctx ended, the commands
// must not be read again (they may still run).
type Do func(ctx context.Context, cmds ...redis.Cmder) error

// Process runs one command, as a go-redis client's Process method does.
type Process func(ctx context.Context, cmd redis.Cmder) error

// Run runs s with keys and args: EVALSHA through do (a shared pipeline), or
// through proc when do is nil; then, if the server answered NOSCRIPT and ctx
// is not done, EVAL of the source once through proc. Every key must hash to
// the same Cluster slot. It panics if proc is nil.
//
// The returned command holds the script's reply or the error, as with any
// go-redis command (a nil reply is redis.Nil). When the command sent through
// do failed, the returned command is a new one holding the error, since do
// may have given up on a command that still runs.
func (s *Script) Run(ctx context.Context, do Do, proc Process, keys []string, args ...any) *redis.Cmd {
	if proc == nil {
		panic("redisscript: Run expects a non-nil Process")
	}
	cmd := s.cmd(ctx, "evalsha", s.hash, keys, args)
	var err error
	if do != nil {
		err = do(ctx, cmd)
	} else {
		err = proc(ctx, cmd)
	}
	switch {
	case err == nil:
		return cmd
	case ctx.Err() == nil && redis.HasErrorPrefix(err, "NOSCRIPT"):
		cmd = s.cmd(ctx, "eval", s.src, keys, args)
		if err := proc(ctx, cmd); err != nil {
			cmd.SetErr(err)
		}
		return cmd
	}
	failed := redis.NewCmd(ctx)
	failed.SetErr(err)
	return failed
}

// cmd builds "name script numkeys key… arg…".
func (s *Script) cmd(ctx context.Context, name, script string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, script, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return redis.NewCmd(ctx, append(a, args...)...)
}

// Call is one run of a script: the script, its keys and its arguments.
type Call struct {
	Script *Script
	Keys   []string
	Args   []any
}

// RunAll runs calls in order, as EVALSHA commands in one call of do (one
// shared pipeline); then, while ctx is not done, EVAL of the source through
// proc, in order, for each that answered NOSCRIPT. It returns one command per
// call, holding its reply or error as Run's does: when do gave up on the
// commands (ctx ended), each returned command is a new one holding the error.
// It panics if do or proc is nil.
func RunAll(ctx context.Context, do Do, proc Process, calls []Call) []*redis.Cmd {
	if do == nil || proc == nil {
		panic("redisscript: RunAll expects a non-nil Do and Process")
	}
	cmds := make([]*redis.Cmd, len(calls))
	sent := make([]redis.Cmder, len(calls))
	for i, c := range calls {
		cmds[i] = c.Script.cmd(ctx, "evalsha", c.Script.hash, c.Keys, c.Args)
		sent[i] = cmds[i]
	}
	if len(calls) == 0 {
		return cmds
	}
	if err := do(ctx, sent...); err != nil && ctx.Err() != nil {
		// do may have given up on commands that still run.
		for i := range cmds {
			cmds[i] = redis.NewCmd(ctx)
			cmds[i].SetErr(err)
		}
		return cmds
	}
	for i, c := range calls {
		if ctx.Err() != nil || !redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			continue
		}
		cmds[i] = c.Script.cmd(ctx, "eval", c.Script.src, c.Keys, c.Args)
		if err := proc(ctx, cmds[i]); err != nil {
			cmds[i].SetErr(err)
		}
	}
	return cmds
}
