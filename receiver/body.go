package receiver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// bodyInitialCap is the largest buffer allocated for a body before any of
// it arrived: a declared Content-Length is trusted only up to this size.
const bodyInitialCap = 8 << 10

// byteBudget counts bytes reserved against a limit; it is safe for
// concurrent use.
type byteBudget struct{ used atomic.Int64 }

// reserve takes n bytes from the budget if they fit under limit.
func (b *byteBudget) reserve(n, limit int64) bool {
	for {
		u := b.used.Load()
		if u+n > limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *byteBudget) release(n int64) { b.used.Add(-n) }

// bodyBudget returns the receiver's effective budget of body bytes being
// read (see WithBodyBudget).
func (r *Receiver) bodyBudget() int64 {
	n := r.cfg.bodyBudget
	if n <= 0 {
		n = max(DefaultBodyBudget, 4*r.cfg.maxBody)
	}
	return max(n, r.cfg.maxBody)
}

// readBody reads the whole body through the size limit. A declared
// Content-Length above the limit is refused before anything is read.
// Otherwise the buffer starts small (Content-Length is trusted only up to
// bodyInitialCap) and at most doubles each time it fills, so what a request
// holds is bounded by twice the bytes it actually sent. Every allocation is
// reserved from the receiver's body budget; when the budget is spent the
// error matches ErrOverloaded (503). reserved is the reservation, which the
// receiver returns (r.bodies.release) once the request is answered; on an
// error nothing stays reserved.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) (body []byte, reserved int64, err error) {
	limit, budget := r.cfg.maxBody, r.bodyBudget()
	body, err = readBounded(w, req, limit, func(n int64) error {
		if !r.bodies.reserve(n, budget) {
			return fmt.Errorf("%w: body budget of %d bytes spent", ErrOverloaded, budget)
		}
		reserved += n
		return nil
	})
	if err != nil {
		r.bodies.release(reserved)
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) && !errors.Is(err, ErrOverloaded) {
			err = fmt.Errorf("%w: %w", ErrUnreadableBody, err)
		}
		return nil, 0, err
	}
	return body, reserved, nil
}

var errBodyTooLong = errors.New("receiver: body longer than Content-Length")

// readBounded reads req's body, at most limit bytes, calling grow(n) before
// each allocation of n more bytes of buffer.
func readBounded(w http.ResponseWriter, req *http.Request, limit int64, grow func(int64) error) ([]byte, error) {
	declared := req.ContentLength
	if declared > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	// The body is not closed here: closing a server request's body reads
	// what is left of it, up to 256 KiB, which a refused request must not
	// wait for. The server closes it after the answer.
	rd := http.MaxBytesReader(w, req.Body, limit)
	// ceiling is the most the buffer can ever need.
	ceiling := limit
	if declared >= 0 {
		ceiling = declared
	}
	var buf []byte
	if c := min(ceiling, bodyInitialCap); c > 0 {
		if err := grow(c); err != nil {
			return nil, err
		}
		buf = make([]byte, 0, c)
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= ceiling {
				// Full to the declared length (or the limit): one more byte
				// means a body longer than declared, or too large.
				var one [1]byte
				n, err := rd.Read(one[:])
				if n > 0 {
					if declared >= 0 {
						return nil, errBodyTooLong
					}
					return nil, &http.MaxBytesError{Limit: limit}
				}
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					return nil, err
				}
				continue
			}
			// Grow to at most twice what arrived, never past the ceiling.
			c := min(max(2*int64(cap(buf)), bodyInitialCap), ceiling)
			if err := grow(c - int64(cap(buf))); err != nil {
				return nil, err
			}
			nb := make([]byte, len(buf), c)
			copy(nb, buf)
			buf = nb
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if declared >= 0 && int64(len(buf)) < declared {
				return nil, io.ErrUnexpectedEOF
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
