package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// errCapture matches a capture that cannot be read as an HTTP request. Its
// messages quote no part of the capture.
var errCapture = errors.New("capture")

// Bounds of the capture parsers.
const (
	maxCapture     = maxInputFile // a whole capture, or a headers file plus a body file
	maxHeaderLines = 1000
	maxHeaderLine  = 64 << 10
)

// capture is a delivery as it arrived: the request line's method and
// target, the Host, the headers and the raw body.
type capture struct {
	method, target, host string
	header               http.Header
	body                 []byte
	// notes are remarks on how the capture was read (bytes after the
	// declared body, a Content-Length that disagrees with the body file).
	notes []string
}

// parseRequest reads a raw HTTP/1.x request as saved by a proxy, nc or
// "hookwise sign -format http": a request line, headers, a blank line and
// the body (by Content-Length, chunked, or the rest of the file when
// neither is given). Lines may end in CRLF or LF.
func parseRequest(data []byte) (*capture, error) {
	if len(data) > maxCapture {
		return nil, fmt.Errorf("%w: %w: more than %d bytes", errCapture, errTooLarge, maxCapture)
	}
	data = bytes.TrimLeft(data, "\r\n")
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", errCapture)
	}
	if err := checkHeaderBlock(data); err != nil {
		return nil, err
	}
	br := bufio.NewReader(bytes.NewReader(data))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("%w: not an HTTP request (a request line, headers, a blank line, the body)", errCapture)
	}
	c := &capture{method: req.Method, target: req.RequestURI, host: req.Host, header: req.Header}
	declared := req.Header.Get("Content-Length")
	chunked := len(req.TransferEncoding) > 0
	switch {
	case chunked || declared != "":
		body, err := io.ReadAll(req.Body)
		if err != nil {
			if declared != "" {
				return nil, fmt.Errorf("%w: the body is shorter than its Content-Length (%s): the capture is truncated", errCapture, declared)
			}
			return nil, fmt.Errorf("%w: malformed chunked body", errCapture)
		}
		c.body = body
		rest, _ := io.ReadAll(br)
		if n := len(bytes.TrimRight(rest, "\r\n")); n > 0 {
			c.notes = append(c.notes, fmt.Sprintf("%d bytes after the body its Content-Length declares were ignored", len(rest)))
		} else if len(rest) > 0 {
			c.notes = append(c.notes, "a line ending after the declared body was ignored (added by the capture tool or an editor)")
		}
	default:
		rest, _ := io.ReadAll(br)
		c.body = rest
		if len(rest) > 0 {
			c.notes = append(c.notes, "no Content-Length: the body is the rest of the file, to its last byte")
		}
	}
	return c, nil
}

// checkHeaderBlock bounds the header block before net/http reads it: at
// most maxHeaderLines lines (the request line included) of at most
// maxHeaderLine bytes.
func checkHeaderBlock(data []byte) error {
	lines := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > maxHeaderLine {
			return fmt.Errorf("%w: a header line longer than %d bytes", errCapture, maxHeaderLine)
		}
		if len(bytes.TrimRight(line, "\r")) == 0 {
			return nil // end of the header block
		}
		if lines++; lines > maxHeaderLines {
			return fmt.Errorf("%w: more than %d header lines", errCapture, maxHeaderLines)
		}
	}
	return nil
}

// parseHeaders reads a headers file: "Name: value" lines, optionally
// preceded by a request line ("POST /hooks HTTP/1.1"), as copied from a
// proxy's log or a browser's developer tools (HTTP/2 pseudo-headers
// ":method", ":path" and ":authority" are understood), up to a blank line.
// body is the body file's bytes, taken as they are.
func parseHeaders(data, body []byte) (*capture, error) {
	if len(data)+len(body) > maxCapture {
		return nil, fmt.Errorf("%w: %w: more than %d bytes", errCapture, errTooLarge, maxCapture)
	}
	if err := checkHeaderBlock(bytes.TrimLeft(data, "\r\n")); err != nil {
		return nil, err
	}
	c := &capture{method: http.MethodPost, target: "/", header: http.Header{}, body: body}
	first := true
	for raw := range strings.SplitSeq(strings.TrimLeft(string(data), "\r\n"), "\n") {
		line := strings.TrimRight(raw, "\r")
		if line == "" {
			break
		}
		if first {
			first = false
			if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[2], "HTTP/") && !strings.Contains(f[0], ":") {
				c.method, c.target = f[0], f[1]
				continue
			}
		}
		if strings.HasPrefix(line, ":") { // HTTP/2 pseudo-header
			name, value, ok := strings.Cut(line[1:], ":")
			if !ok {
				return nil, fmt.Errorf("%w: malformed pseudo-header line", errCapture)
			}
			value = strings.TrimSpace(value)
			switch strings.ToLower(name) {
			case "method":
				c.method = value
			case "path":
				c.target = value
			case "authority":
				c.host = value
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%w: a header line is not \"Name: value\"", errCapture)
		}
		c.header.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	if h := c.header.Get("Host"); h != "" {
		if c.host == "" {
			c.host = h
		}
		c.header.Del("Host")
	}
	if cl := c.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n != len(body) {
			c.notes = append(c.notes, fmt.Sprintf("the body file has %d bytes, its Content-Length header says %d: the body file is not the body that was sent (an editor's trailing newline?)", len(body), n))
		}
	}
	return c, nil
}

// request returns the capture as a server would see it: the target as the
// request URI, Host as the host, no TLS (a proxy in front ended it).
func (c *capture) request() (*http.Request, error) {
	target := c.target
	if target == "" {
		target = "/"
	}
	r, err := http.NewRequest(c.method, "http://placeholder"+target, http.NoBody)
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		r, err = http.NewRequest(c.method, target, http.NoBody)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: malformed request target", errCapture)
	}
	r.RequestURI = target
	r.Host = c.host
	if !r.URL.IsAbs() || r.URL.Host == "placeholder" {
		r.URL.Scheme, r.URL.Host = "", ""
	}
	r.Header = c.header.Clone()
	r.ContentLength = int64(len(c.body))
	return r, nil
}
