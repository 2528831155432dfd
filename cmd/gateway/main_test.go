package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if run() leaves a goroutine behind after a
// graceful shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
