package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func reader(s string, maxBytes, maxDepth int) (*respReader, *bytes.Reader) {
	src := bytes.NewReader([]byte(s))
	// A small buffer exercises lines longer than the buffer.
	return newRespReader(bufio.NewReaderSize(src, 16), maxBytes, maxDepth), src
}

// consumed is the number of input bytes the reader has taken.
func consumed(total int, rr *respReader, src *bytes.Reader) int {
	return total - src.Len() - rr.r.Buffered()
}

func TestReadValueTypes(t *testing.T) {
	cases := []struct {
		name, in string
		want     value
	}{
		{"simple", "+OK\r\n", value{Kind: '+', Str: "OK"}},
		{"error", "-ERR no\r\n", value{Kind: '-', Str: "ERR no"}},
		{"integer", ":-42\r\n", value{Kind: ':', Str: "-42"}},
		{"bulk", "$5\r\nhe\r\no\r\n", value{Kind: '$', Str: "he\r\no"}},
		{"empty bulk", "$0\r\n\r\n", value{Kind: '$', Str: ""}},
		{"null bulk", "$-1\r\n", value{Kind: '$', Null: true}},
		{"null array", "*-1\r\n", value{Kind: '*', Null: true}},
		{"null", "_\r\n", value{Kind: '_', Null: true}},
		{"double", ",3.14\r\n", value{Kind: ',', Str: "3.14"}},
		{"inf", ",-inf\r\n", value{Kind: ',', Str: "-inf"}},
		{"boolean", "#t\r\n", value{Kind: '#', Str: "t"}},
		{"big number", "(3492890328409238509324850943850943825024385\r\n", value{Kind: '(', Str: "3492890328409238509324850943850943825024385"}},
		{"bulk error", "!21\r\nSYNTAX invalid syntax\r\n", value{Kind: '!', Str: "SYNTAX invalid syntax"}},
		{"verbatim", "=15\r\ntxt:Some string\r\n", value{Kind: '=', Str: "txt:Some string"}},
		{"array", "*2\r\n:1\r\n$1\r\na\r\n", value{Kind: '*', Elems: []value{{Kind: ':', Str: "1"}, {Kind: '$', Str: "a"}}}},
		{"empty array", "*0\r\n", value{Kind: '*'}},
		{"map", "%1\r\n+k\r\n*1\r\n#f\r\n", value{Kind: '%', Elems: []value{{Kind: '+', Str: "k"}, {Kind: '*', Elems: []value{{Kind: '#', Str: "f"}}}}}},
		{"set", "~2\r\n+a\r\n+b\r\n", value{Kind: '~', Elems: []value{{Kind: '+', Str: "a"}, {Kind: '+', Str: "b"}}}},
		{"push", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", value{Kind: '>', Elems: []value{{Kind: '$', Str: "invalidate"}, {Kind: '*', Elems: []value{{Kind: '$', Str: "k"}}}}}},
		{"attribute", "|1\r\n+ttl\r\n:3\r\n:7\r\n", value{Kind: ':', Str: "7", Attrs: []value{{Kind: '+', Str: "ttl"}, {Kind: ':', Str: "3"}}}},
		{"nested attribute", "*1\r\n|1\r\n+a\r\n+b\r\n+c\r\n", value{Kind: '*', Elems: []value{{Kind: '+', Str: "c", Attrs: []value{{Kind: '+', Str: "a"}, {Kind: '+', Str: "b"}}}}}},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n", value{Kind: '$', Str: "Hello"}},
		{"streamed array", "*?\r\n:1\r\n:2\r\n.\r\n", value{Kind: '*', Elems: []value{{Kind: ':', Str: "1"}, {Kind: ':', Str: "2"}}}},
		{"streamed map", "%?\r\n+a\r\n:1\r\n.\r\n", value{Kind: '%', Elems: []value{{Kind: '+', Str: "a"}, {Kind: ':', Str: "1"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in + "+NEXT\r\n"
			rr, src := reader(in, 0, 0)
			v, raw, err := rr.readValue()
			require.NoError(t, err)
			assert.Equal(t, c.want, v)
			assert.Equal(t, c.in, string(raw), "raw bytes are the frame's exact bytes")
			assert.Equal(t, len(c.in), consumed(len(in), rr, src), "reads no further than the frame")
			f, err := rr.readReply()
			require.NoError(t, err)
			assert.Equal(t, "+NEXT\r\n", string(f.raw))
		})
	}
}

func TestReadReplyKind(t *testing.T) {
	rr, _ := reader("|1\r\n+a\r\n+b\r\n>1\r\n+x\r\n", 0, 0)
	f, err := rr.readReply()
	require.NoError(t, err)
	assert.Equal(t, byte('>'), f.kind, "the kind is the attributed value's, so a push stays a push")
}

func TestReadValueRejects(t *testing.T) {
	for _, in := range []string{
		"", "\r\n", "+OK\n", "?x\r\n", ":\r\n", ":1.5\r\n", "#x\r\n", "_x\r\n", ",\r\n",
		"$-2\r\n", "$01\r\na\r\n", "$1\r\nab\r\n", "$+1\r\na\r\n", "$1\r\na", "*-2\r\n", "%-1\r\n",
		"!-1\r\n", "=3\r\ntxt\r\n", "*1\r\n", "*2\r\n:1\r\n", ".\r\n", "*1\r\n.\r\n",
		"$?\r\n;x\r\n", "$?\r\n+a\r\n", "%?\r\n+a\r\n.\r\n", "|1\r\n+a\r\n+b\r\n", "|-1\r\n+a\r\n",
		"|1\r\n+a\r\n+b\r\n.\r\n", "*99999999999\r\n",
	} {
		rr, _ := reader(in, 0, 0)
		_, _, err := rr.readValue()
		assert.Error(t, err, "%q", in)
	}
}

func TestReadCommand(t *testing.T) {
	in := "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n" + // binary-safe
		"ping\r\n" + "  get   k \n" + "\r\n" + "*0\r\n" + "*-1\r\n" + "*1\r\n$4\r\nPING\r\n"
	rr, _ := reader(in, 0, 0)
	var got [][]string
	var raws string
	for {
		args, raw, err := rr.readCommand()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, args)
		raws += string(raw)
	}
	assert.Equal(t, [][]string{{"SET", "k", "v\r\n"}, {"PING"}, {"GET", "k"}, nil, nil, nil, {"PING"}}, got)
	assert.Equal(t, in, raws, "every byte is forwarded unchanged")

	for _, bad := range []string{"*1\r\n:1\r\n", "*1\r\n$-1\r\n", "*1\r\n$2\r\nab", "*x\r\n", "*1\r\n$1\r\nab\r\n"} {
		rr, _ := reader(bad, 0, 0)
		_, _, err := rr.readCommand()
		assert.Error(t, err, "%q", bad)
	}
}

func TestFrameBounds(t *testing.T) {
	t.Run("bulk longer than the bound", func(t *testing.T) {
		rr, _ := reader("$100\r\n"+strings.Repeat("x", 100)+"\r\n", 64, 0)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("bulk that fits", func(t *testing.T) {
		in := "$56\r\n" + strings.Repeat("x", 56) + "\r\n" // 63 bytes
		rr, _ := reader(in, 64, 0)
		_, raw, err := rr.readValue()
		require.NoError(t, err)
		assert.Len(t, raw, 63)
	})
	t.Run("many small elements", func(t *testing.T) {
		rr, _ := reader("*40\r\n"+strings.Repeat(":1\r\n", 40), 64, 0)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("declared count beyond the bound, before any element", func(t *testing.T) {
		rr, _ := reader("*2000000000\r\n", 0, 0)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("long simple string", func(t *testing.T) {
		rr, _ := reader("+"+strings.Repeat("x", 100)+"\r\n", 64, 0)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("command over the default bound, refused on its header", func(t *testing.T) {
		rr, _ := reader("*1\r\n$"+strconv.Itoa(DefaultMaxFrameBytes)+"\r\n", 0, 0)
		_, _, err := rr.readCommand()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("long inline command", func(t *testing.T) {
		rr, _ := reader(strings.Repeat("x", 100)+"\r\n", 64, 0)
		_, _, err := rr.readCommand()
		assert.ErrorIs(t, err, ErrFrameTooLarge)
	})
	nested := func(n int) string { return strings.Repeat("*1\r\n", n) + ":1\r\n" }
	t.Run("depth at the bound", func(t *testing.T) {
		rr, _ := reader(nested(DefaultMaxDepth), 0, 0)
		_, _, err := rr.readValue()
		assert.NoError(t, err)
	})
	t.Run("depth beyond the bound", func(t *testing.T) {
		rr, _ := reader(nested(DefaultMaxDepth+1), 0, 0)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrTooDeep)
	})
	t.Run("attributes count as nesting", func(t *testing.T) {
		rr, _ := reader(strings.Repeat("|1\r\n", 3)+"+k\r\n+v\r\n+k\r\n+v\r\n+k\r\n+v\r\n+x\r\n", 0, 2)
		_, _, err := rr.readValue()
		assert.ErrorIs(t, err, ErrTooDeep)
	})
}

// FuzzReadValue checks that the reply reader never panics, never reads
// past its frame, returns exactly the frame's bytes, and reads those bytes
// back to the same value.
func FuzzReadValue(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n", "_\r\n", ",1.5\r\n", "#t\r\n",
		"(123\r\n", "!3\r\nERR\r\n", "=7\r\ntxt:abc\r\n", "*2\r\n+a\r\n:2\r\n", "%1\r\n+a\r\n~1\r\n:1\r\n",
		">2\r\n+message\r\n$1\r\nx\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n", "$?\r\n;2\r\nab\r\n;0\r\n", "*?\r\n:1\r\n.\r\n",
		"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
		strings.Repeat("*1\r\n", 70) + ":1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rr, src := reader(string(in), 1<<16, 8)
		v, raw, err := rr.readValue()
		if err != nil {
			return
		}
		n := consumed(len(in), rr, src)
		if !bytes.Equal(raw, in[:n]) {
			t.Fatalf("raw %q is not the %d bytes consumed of %q", raw, n, in)
		}
		again, _ := reader(string(raw), 1<<16, 8)
		v2, raw2, err := again.readValue()
		if err != nil || !bytes.Equal(raw, raw2) {
			t.Fatalf("re-reading %q: %v", raw, err)
		}
		assert.Equal(t, v, v2)
	})
}

// FuzzReadCommand checks the command reader the same way.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", "set k v\n", "\r\n", "*0\r\n", "*-1\r\n",
		"*3\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n", "*1\r\n:1\r\n", "*2\r\n$1\r\na\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rr, src := reader(string(in), 1<<16, 8)
		args, raw, err := rr.readCommand()
		if err != nil {
			return
		}
		n := consumed(len(in), rr, src)
		if !bytes.Equal(raw, in[:n]) {
			t.Fatalf("raw %q is not the %d bytes consumed of %q", raw, n, in)
		}
		if len(args) > 0 && args[0] != strings.ToUpper(args[0]) {
			t.Fatalf("command name %q not upper-cased", args[0])
		}
	})
}
