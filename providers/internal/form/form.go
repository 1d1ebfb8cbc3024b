// Package form reads application/x-www-form-urlencoded deliveries for the
// providers that accept them.
package form

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
)

// IsForm reports whether the header's Content-Type is
// application/x-www-form-urlencoded.
func IsForm(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// Parse decodes a form body. It fails when any pair is malformed (where
// url.ParseQuery's values would silently omit it), so a verified body is read
// whole or not at all.
func Parse(body []byte) (url.Values, error) {
	return url.ParseQuery(string(body))
}

// ErrPayload reports a form body that is not a single payload field.
var ErrPayload = errors.New("form body is not a single payload field")

// Payload returns the signed JSON document of a delivery that may come
// form-encoded (Gitea, Gogs): the body itself, or, when h's Content-Type is
// a form, the value of its single "payload" field. A form body with a
// malformed pair, any other field, or no or a repeated payload field fails
// with ErrPayload.
func Payload(h http.Header, body []byte) ([]byte, error) {
	if !IsForm(h) {
		return body, nil
	}
	vals, err := Parse(body)
	if err != nil || len(vals) != 1 || len(vals["payload"]) != 1 {
		return nil, ErrPayload
	}
	return []byte(vals["payload"][0]), nil
}
