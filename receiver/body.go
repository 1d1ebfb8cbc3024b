package receiver

import (
	"errors"
	"io"
	"net/http"
)

// readBody reads the whole body through a limit. A declared Content-Length
// above the limit is refused before anything is read; otherwise the buffer is
// sized from Content-Length so the body is copied once.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) (body []byte, release func(), err error) {
	body, err = readBody(w, req, r.cfg.maxBody)
	return body, noop, err
}

func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, error) {
	if req.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := http.MaxBytesReader(w, req.Body, limit)
	defer rd.Close()
	if n := req.ContentLength; n >= 0 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		// A body longer than it declared: read one byte to find out.
		var one [1]byte
		if m, _ := rd.Read(one[:]); m > 0 {
			return nil, errors.New("receiver: body longer than Content-Length")
		}
		return buf, nil
	}
	return io.ReadAll(rd)
}

// rejectBody answers a body that could not be read: 413 over the limit, 503
// with Retry-After when the receiver is overloaded, 400 otherwise.
func (r *Receiver) rejectBody(req *http.Request, w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		r.reject(req, w, http.StatusRequestEntityTooLarge, err, nil)
	case errors.Is(err, ErrOverloaded):
		r.unavailable(req, w, nil, err)
	default:
		r.reject(req, w, http.StatusBadRequest, err, nil)
	}
}
