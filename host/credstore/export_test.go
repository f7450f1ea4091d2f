package credstore

import "time"

// SetTransferTimeout shortens the wait for a lease owner's answer.
func SetTransferTimeout(d time.Duration) (restore func()) {
	old := transferTimeout
	transferTimeout = d
	return func() { transferTimeout = old }
}
