package receiver

// BodyBytesInFlight returns the body bytes r has reserved for requests being
// read.
func BodyBytesInFlight(r *Receiver) int64 { return r.bodies.used.Load() }

// BodyInitialCap is the largest buffer allocated before a body's bytes
// arrive.
const BodyInitialCap = bodyInitialCap
