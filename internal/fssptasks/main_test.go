package fssptasks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: pollers,
// the pub/sub listener and waiters must all stop with their context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
