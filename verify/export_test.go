package verify

// Cost is a snapshot of the work verification did while counting.
type Cost struct {
	MACs, MACBytes         int64 // MACs computed and the bytes they hashed
	Ed25519s, Ed25519Bytes int64 // Ed25519 verifications and their message bytes
	Messages               int64 // Ed25519 messages assembled
}

// CountCost starts counting the expensive operations of every verifier in
// this process and returns a function that stops counting and returns the
// totals. Counting is process-wide: tests using it must not run in parallel
// with other verifications.
func CountCost() (stop func() Cost) {
	c := &costCounter{}
	costHook.Store(c)
	return func() Cost {
		costHook.CompareAndSwap(c, nil)
		return Cost{
			MACs: c.macs.Load(), MACBytes: c.macBytes.Load(),
			Ed25519s: c.ed25519s.Load(), Ed25519Bytes: c.ed25519Bytes.Load(),
			Messages: c.messages.Load(),
		}
	}
}
